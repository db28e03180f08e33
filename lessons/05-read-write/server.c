/*
 * server.c - a Unix domain stream socket server, lesson 05: read and write.
 *
 * Usage: server [SOCKET_PATH]
 *
 * Creates a Unix domain stream socket, binds it to SOCKET_PATH (default:
 * lab.sock in the current directory), makes it listen, and serves one
 * client after another until Ctrl-C: everything a client sends comes back
 * upper-cased, until the client closes its end.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <signal.h>
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

/* Sends all len bytes: write(2) may send fewer than asked. */
static int write_all(int fd, const char *buf, size_t len)
{
    /* TODO(05-read-write): call write(2) in a loop until all len bytes
     * are sent: each call returns how many bytes it sent, which may be
     * fewer than asked, so move buf on and len down by that much. When
     * write returns -1 with errno EINTR, try again; on any other -1,
     * return -1. Return 0 once everything is sent. */
    (void)fd;
    (void)buf;
    (void)len;
    errno = ENOSYS; /* "Function not implemented" until the TODO is done */
    return -1;
}

/* Echoes everything the client sends, upper-cased, until end of file. */
static void serve_client(int cfd)
{
    /* TODO(05-read-write): in a loop, read(2) up to 4096 bytes from cfd
     * into a buffer (char buf[4096]). read returns:
     *   - -1: with errno EINTR, try again; otherwise perror("server: read")
     *     and return.
     *   - 0: end of file, the client closed its end: leave the loop.
     *   - n > 0: n bytes arrived (maybe fewer than the client sent in one
     *     go). Upper-case them with toupper(3), each byte cast to
     *     unsigned char: toupper((unsigned char)buf[i]). Send them back
     *     with write_all; if that fails, perror("server: write") and return.
     * After the loop, print "server: client done, N bytes echoed", where
     * N counts all the bytes. */
    (void)cfd;
    (void)write_all; /* delete this line once you call it */
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

    /* TODO(05-read-write): writing to a client that has already closed
     * its end raises the signal SIGPIPE, whose default action kills the
     * server. Ignore it with signal(SIGPIPE, SIG_IGN), checking for SIG_ERR
     * as for any call that can fail: write then fails
     * with EPIPE instead, and the server goes on with the next client. */

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

    for (;;) {
        /* Step 4: accept - take the next client; it gets a new socket. */
        int cfd = accept(fd, NULL, NULL);
        if (cfd == -1) {
            perror("server: accept");
            return EXIT_FAILURE;
        }
        printf("server: client connected on fd %d\n", cfd);
        fflush(stdout);

        /* Step 5: read/write - echo the client's bytes back. */
        serve_client(cfd);
        fflush(stdout);

        /* Done with this client: its socket is closed, the listener stays. */
        if (close(cfd) == -1)
            perror("server: close");
    }
}
