/*
 * client.c - a Unix domain stream socket client, lesson 08: poll.
 *
 * Usage: client [SOCKET_PATH [MESSAGE]]
 *
 * Connects to the server at SOCKET_PATH (default: lab.sock in the current
 * directory), sends MESSAGE (or, without one, everything on standard
 * input, up to 64 KiB), and prints the server's reply: as many bytes as it
 * sent, since the server answers each byte with one byte.
 */
#define _POSIX_C_SOURCE 200809L

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
#define MAX_MESSAGE 65536

static char message[MAX_MESSAGE + 1];
static char reply[MAX_MESSAGE];

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

    /* Not a socket: ECONNREFUSED if we may write the file, EACCES if
     * not, EROFS on a read-only file system. The path is wrong. */
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        fprintf(stderr, "client: %s is not a socket: check the path\n",
                path);
    else if (err == ENOENT && directory_missing(path))
        fprintf(stderr, "client: cannot reach %s: its directory does "
                "not exist: check the path\n", path);
    else if (err == ENOENT)
        fprintf(stderr, "client: there is no socket file %s: start the "
                "server first, in the same directory\n", path);
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

/* Reads standard input into message; returns its length, or -1. */
static ssize_t read_message_from_stdin(void)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, message + len, sizeof message - len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            perror("client: reading standard input");
            return -1;
        }
        if (n == 0)
            return (ssize_t)len;
        len += (size_t)n;
        if (len > MAX_MESSAGE) {
            fprintf(stderr, "client: the message is longer than %d bytes, "
                    "the most this client sends\n", MAX_MESSAGE);
            return -1;
        }
    }
}

/* Sends all len bytes: write(2) may send fewer than asked. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes: a stream has no message boundaries. */
static int read_exactly(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            perror("client: read");
            return -1;
        }
        if (n == 0) {
            fprintf(stderr, "client: the server closed the connection after "
                    "%zu of %zu bytes\n", got, len);
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    const char *path = argc > 1 ? argv[1] : DEFAULT_PATH;
    struct sockaddr_un addr;
    size_t len;

    if (argc > 3) {
        fprintf(stderr, "usage: client [SOCKET_PATH [MESSAGE]]\n");
        return 2;
    }
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;
    if (argc == 3) {
        len = strlen(argv[2]);
        if (len > MAX_MESSAGE) {
            fprintf(stderr, "client: the message is longer than %d bytes, "
                    "the most this client sends\n", MAX_MESSAGE);
            return EXIT_FAILURE;
        }
        memcpy(message, argv[2], len);
    } else {
        ssize_t n = read_message_from_stdin();
        if (n == -1)
            return EXIT_FAILURE;
        len = (size_t)n;
    }

    /* A server that leaves mid-message must not kill us: write gets EPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("client: signal");
        return EXIT_FAILURE;
    }

    /* Step 1: socket - the client's own endpoint. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("client: socket");
        return EXIT_FAILURE;
    }
    /* socket(2) returns the lowest free fd: when standard output is
     * closed, the socket takes its number, and printing would use it. */
    if (fd == STDOUT_FILENO) {
        fprintf(stderr, "client: standard output is closed, and the socket "
                "took its fd, 1: run me with it open\n");
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 2: connect - reach the listening socket through its file. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_connect_failure(path);
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 3: write, then read - send the message, receive the reply. */
    if (write_all(fd, message, len) == -1) {
        perror("client: write");
        close(fd);
        return EXIT_FAILURE;
    }
    if (read_exactly(fd, reply, len) == -1) {
        close(fd);
        return EXIT_FAILURE;
    }
    /* fflush, so a full disk or a closed pipe is seen here, not lost. */
    if (fwrite(reply, 1, len, stdout) != len ||
        (argc == 3 && putchar('\n') == EOF) || fflush(stdout) == EOF) {
        perror("client: writing standard output");
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 4: close - the server's read returns 0: end of file. */
    if (close(fd) == -1) {
        perror("client: close");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
