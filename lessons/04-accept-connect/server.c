/*
 * server.c - a Unix domain stream socket server, lesson 04: accept.
 *
 * Usage: server [SOCKET_PATH]
 *
 * Creates a Unix domain stream socket, binds it to SOCKET_PATH (default:
 * lab.sock in the current directory), makes it listen, and accepts one
 * client after another until Ctrl-C: each gets a new connected socket,
 * which the server closes at once (lesson 05 talks to the client first).
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PATH "lab.sock"
#define BACKLOG 5

/* Fills addr with path, refusing a path that names no file: an empty
 * one, or one that sun_path cannot hold. */
static int make_address(struct sockaddr_un *addr, const char *path)
{
    if (path[0] == '\0') {
        fprintf(stderr,
                "server: the socket path is empty: an empty sun_path is a "
                "Linux abstract name made of zero bytes, not a file (see "
                "unix(7)); give a path such as lab.sock\n");
        return -1;
    }
    if (strlen(path) >= sizeof addr->sun_path) {
        fprintf(stderr,
                "server: the socket path is %zu bytes long, but sun_path "
                "holds at most %zu bytes plus the final '\\0' (see unix(7)); "
                "choose a shorter path\n",
                strlen(path), sizeof addr->sun_path - 1);
        return -1;
    }
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    strcpy(addr->sun_path, path);
    return 0;
}

/* Whether the directory that path would be in (what comes before its
 * last '/') is missing: the kernel says ENOENT for a missing directory as
 * for a missing file, and the two mean different mistakes. */
static int directory_missing(const char *path)
{
    char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
    const char *slash = strrchr(path, '/');
    size_t len;
    struct stat st;

    if (slash == NULL)
        return 0; /* the current directory */
    len = slash == path ? 1 : (size_t)(slash - path);
    if (len >= sizeof dir)
        return 0;
    memcpy(dir, path, len);
    dir[len] = '\0';
    return stat(dir, &st) == -1;
}

/* Says why bind failed, in terms of the path; the trace shows the errno. */
static void explain_bind_failure(const char *path)
{
    struct stat st;
    int err = errno;

    if (err == EADDRINUSE && !(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)))
        fprintf(stderr, "server: %s exists and is not a socket; the server "
                "will not touch it: choose another path\n", path);
    else if (err == EADDRINUSE)
        fprintf(stderr, "server: the socket file %s already exists: another "
                "server is using it, or an earlier run did not remove it; "
                "if no server is running, remove it (rm %s)\n", path, path);
    else if (err == ENOENT && directory_missing(path))
        fprintf(stderr, "server: cannot create %s: its directory does "
                "not exist\n", path);
    else if (err == ENOENT)
        fprintf(stderr, "server: cannot create %s: no file can be "
                "made in that directory (as in /proc)\n", path);
    else if (err == ENOTDIR)
        fprintf(stderr, "server: cannot create %s: a part of the path is "
                "not a directory\n", path);
    else
        fprintf(stderr, "server: cannot bind to %s: %s\n", path,
                strerror(err));
}

int main(int argc, char *argv[])
{
    const char *path = argc > 1 ? argv[1] : DEFAULT_PATH;
    struct sockaddr_un addr;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: server [SOCKET_PATH]\n");
        return 2;
    }
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;

    /* Step 1: socket - create an endpoint for communication. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("server: socket");
        return EXIT_FAILURE;
    }

    /* Step 2: bind - name the socket; this creates the socket file. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_bind_failure(path);
        return EXIT_FAILURE;
    }

    /* Step 3: listen - make the socket passive, ready for connections. */
    if (listen(fd, BACKLOG) == -1) {
        perror("server: listen");
        return EXIT_FAILURE;
    }
    printf("server: listening on %s; stop me with Ctrl-C\n", path);
    fflush(stdout);

    /* Step 4: accept - take the next client; it gets a new socket. */
    /* TODO(04-accept-connect): replace the pause() below by a loop that
     * runs for ever. In it, call accept(2) on fd, with NULL, NULL for the
     * client's address (we do not need it): it waits for a client and
     * returns a NEW socket, cfd, connected to that client.
     *   - When accept returns -1: perror("server: accept"), then return
     *     EXIT_FAILURE.
     *   - Otherwise print "server: client connected on fd CFD", fflush,
     *     and close(cfd): this client is done, while the listening fd
     *     stays open for the next one. */
    pause();
    return EXIT_SUCCESS;
}
