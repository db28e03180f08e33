/*
 * server.c - a Unix domain stream socket server, lesson 06: close.
 *
 * Usage: server [-n COUNT] [SOCKET_PATH]
 *
 * Binds a socket to SOCKET_PATH (default: lab.sock in the current
 * directory), listens, and serves clients one after another: everything a
 * client sends comes back upper-cased, until the client closes its end.
 * With -n COUNT the server exits after COUNT clients; otherwise it serves
 * until SIGINT (Ctrl-C) or SIGTERM. On exit it closes its sockets and
 * removes its socket file.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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

static volatile sig_atomic_t stop_requested;

/* Only sets a flag: the main loop does the cleanup, outside the handler. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

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
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n == -1 && errno == EINTR && !stop_requested)
            continue;
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Echoes everything the client sends, upper-cased, until end of file. */
static void serve_client(int cfd)
{
    char buf[4096];
    size_t total = 0;

    for (;;) {
        ssize_t n = read(cfd, buf, sizeof buf);
        if (n == -1 && errno == EINTR && !stop_requested)
            continue;
        if (n == -1 && errno == EINTR)
            return; /* asked to stop: leave this client */
        if (n == -1) {
            perror("server: read");
            return;
        }
        if (n == 0)
            break; /* end of file: the client closed its end */
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (write_all(cfd, buf, (size_t)n) == -1) {
            if (!stop_requested)
                perror("server: write"); /* EPIPE: the client has gone */
            return;
        }
        total += (size_t)n;
    }
    printf("server: client done, %zu bytes echoed\n", total);
}

/* Is the file at path still the socket file bind made? Someone may have
 * removed or replaced it meanwhile: the server never deletes another file. */
static int is_our_socket_file(const char *path, const struct stat *made)
{
    struct stat now;
    return lstat(path, &now) == 0 && S_ISSOCK(now.st_mode) &&
           now.st_dev == made->st_dev && now.st_ino == made->st_ino;
}

static int parse_count(const char *s, long *count)
{
    char *end;
    errno = 0;
    *count = strtol(s, &end, 10);
    return errno == 0 && *s != '\0' && *end == '\0' && *count > 0 ? 0 : -1;
}

int main(int argc, char *argv[])
{
    const char *path = DEFAULT_PATH;
    struct sockaddr_un addr;
    struct sigaction sa;
    long count = 0; /* 0: serve until a signal asks us to stop */
    struct stat made; /* the socket file bind creates: the one to remove */
    int status = EXIT_SUCCESS;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n' || parse_count(optarg, &count) == -1) {
            if (opt == 'n')
                fprintf(stderr, "server: -n %s: COUNT is a whole number of "
                        "clients, from 1 to %ld\n", optarg, LONG_MAX);
            fprintf(stderr, "usage: server [-n COUNT] [SOCKET_PATH]\n");
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "usage: server [-n COUNT] [SOCKET_PATH]\n");
        return 2;
    }
    if (optind < argc)
        path = argv[optind];
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;

    /* A client that leaves mid-reply must not kill us: write gets EPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("server: signal");
        return EXIT_FAILURE;
    }
    /* No SA_RESTART: a blocked accept or read returns EINTR, so we stop. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1) {
        perror("server: sigaction");
        return EXIT_FAILURE;
    }

    /* Step 1: socket - create an endpoint for communication. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("server: socket");
        return EXIT_FAILURE;
    }

    /* Step 2: bind - name the socket; this creates the socket file. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_bind_failure(path);
        close(fd);
        return EXIT_FAILURE;
    }
    if (lstat(path, &made) == -1) {
        perror("server: lstat");
        memset(&made, 0, sizeof made); /* then it is never removed */
    }

    /* Step 3: listen - make the socket passive, ready for connections. */
    if (listen(fd, BACKLOG) == -1) {
        perror("server: listen");
        status = EXIT_FAILURE;
        goto cleanup;
    }
    printf("server: listening on %s; stop me with Ctrl-C\n", path);
    fflush(stdout);

    for (long served = 0; count == 0 || served < count; served++) {
        /* A signal may have come while we were busy: then stop now. */
        if (stop_requested)
            break;

        /* Step 4: accept - take the next client; it gets a new socket. */
        int cfd = accept(fd, NULL, NULL);
        if (cfd == -1 && errno == EINTR) {
            served--; /* interrupted: the test above decides what next */
            continue;
        }
        if (cfd == -1) {
            perror("server: accept");
            status = EXIT_FAILURE;
            break;
        }
        printf("server: client connected on fd %d\n", cfd);
        fflush(stdout);

        /* Step 5: read/write - echo the client's bytes back. */
        serve_client(cfd);
        fflush(stdout);

        /* Step 6: close - this client's socket; the listener stays. */
        if (close(cfd) == -1)
            perror("server: close");
    }

cleanup:
    /* Step 6: close - the listening socket, then remove its file. */
    if (close(fd) == -1)
        perror("server: close");
    if (!is_our_socket_file(path, &made))
        fprintf(stderr, "server: %s is no longer the socket file this "
                "server made; leaving it alone\n", path);
    else if (unlink(path) == -1)
        perror("server: unlink");
    else
        printf("server: stopped, %s removed\n", path);
    return status;
}
