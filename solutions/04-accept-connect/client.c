/*
 * client.c - a Unix domain stream socket client, lesson 04: connect.
 *
 * Usage: client [SOCKET_PATH]
 *
 * Connects to the server at SOCKET_PATH (default: lab.sock in the current
 * directory) and says so. Lesson 05 sends a message over the connection.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#define DEFAULT_PATH "lab.sock"

/* Fills addr with path, refusing a path that names no file: an empty
 * one, or one that sun_path cannot hold. */
static int make_address(struct sockaddr_un *addr, const char *path)
{
    if (path[0] == '\0') {
        fprintf(stderr,
                "client: the socket path is empty: an empty sun_path is a "
                "Linux abstract name made of zero bytes, not a file (see "
                "unix(7)); give a path such as lab.sock\n");
        return -1;
    }
    if (strlen(path) >= sizeof addr->sun_path) {
        fprintf(stderr,
                "client: the socket path is %zu bytes long, but sun_path "
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

/* Says why connect failed, in terms of the path; the trace has the errno. */
static void explain_connect_failure(const char *path)
{
    struct stat st;
    int err = errno;

    if (err == ENOENT && directory_missing(path))
        fprintf(stderr, "client: cannot reach %s: its directory does "
                "not exist: check the path\n", path);
    else if (err == ENOENT)
        fprintf(stderr, "client: there is no socket file %s: start the "
                "server first, in the same directory\n", path);
    else if (err == ECONNREFUSED && lstat(path, &st) == 0 &&
             !S_ISSOCK(st.st_mode))
        fprintf(stderr, "client: %s is not a socket: check the path\n",
                path);
    else if (err == ECONNREFUSED)
        fprintf(stderr, "client: no server is listening on %s: the server "
                "has not called listen yet, or it exited and left its "
                "socket file behind\n", path);
    else if (err == EPROTOTYPE)
        fprintf(stderr, "client: %s is a socket of another type (a "
                "datagram socket?): a stream client reaches only a stream "
                "server\n", path);
    else
        fprintf(stderr, "client: cannot connect to %s: %s\n", path,
                strerror(err));
}

int main(int argc, char *argv[])
{
    const char *path = argc > 1 ? argv[1] : DEFAULT_PATH;
    struct sockaddr_un addr;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: client [SOCKET_PATH]\n");
        return 2;
    }
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;

    /* Step 1: socket - the client's own endpoint. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("client: socket");
        return EXIT_FAILURE;
    }

    /* Step 2: connect - reach the listening socket through its file. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_connect_failure(path);
        return EXIT_FAILURE;
    }

    printf("client: connected to %s\n", path);

    /* Exiting closes fd: lesson 06 closes it explicitly. */
    return EXIT_SUCCESS;
}
