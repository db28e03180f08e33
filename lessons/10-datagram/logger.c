/*
 * logger.c - a client of the log collector, lesson 10: datagrams.
 *
 * Usage: logger [-c] [-r | -b PATH] [SOCKET_PATH [MESSAGE...]]
 *
 * Sends each MESSAGE, or without one each line of standard input (without
 * its newline), as one datagram to the collector at SOCKET_PATH (default:
 * log.sock in the current directory). Not the system's logger(1): the
 * lab's, for the lab's collector.
 *
 *   -c  connect the socket to the collector first, then send each message
 *       without an address, as syslog(3) does with /dev/log;
 *   -r  bind an address of our own, logger.PID.sock in the current
 *       directory, so that the collector can reply; wait for the reply to
 *       each message (at most REPLY_TIMEOUT seconds) before the next, and
 *       print it. The file is removed on exit.
 *   -b  as -r, with PATH for our own address.
 *
 * The exit status is 0 when every message was sent (and, with -r, every
 * reply came), 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PATH "log.sock"
#define REPLY_TIMEOUT 5 /* seconds */

static volatile sig_atomic_t stop_requested;

/* Only sets a flag: the main flow stops and cleans up, outside it. */
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
                "logger: the socket path is empty: an empty sun_path is a "
                "Linux abstract name made of zero bytes, not a file (see "
                "unix(7)); give a path such as log.sock\n");
        return -1;
    }
    if (strlen(path) >= sizeof addr->sun_path) {
        fprintf(stderr,
                "logger: the socket path is %zu bytes long, but sun_path "
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

/* Says why a datagram could not reach the collector (sendto, or connect
 * with -c), in terms of the path; the trace has the errno. */
static void explain_send_failure(const char *path)
{
    struct stat st;
    int err = errno;

    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        fprintf(stderr, "logger: %s is not a socket: check the path\n",
                path);
    else if (err == ENOENT && directory_missing(path))
        fprintf(stderr, "logger: cannot reach %s: its directory does "
                "not exist: check the path\n", path);
    else if (err == ENOENT)
        fprintf(stderr, "logger: there is no socket file %s: start the "
                "collector first, in the same directory\n", path);
    else if (err == ECONNREFUSED)
        fprintf(stderr, "logger: no collector is receiving on %s: it "
                "exited and left its socket file behind\n", path);
    else if (err == EPROTOTYPE)
        fprintf(stderr, "logger: %s is a stream socket, not a datagram "
                "one: it is a server's, not a collector's\n", path);
    else if (err == EPERM)
        fprintf(stderr, "logger: the socket at %s is connected to another "
                "peer, and takes datagrams only from it\n", path);
    else
        fprintf(stderr, "logger: cannot send to %s: %s\n", path,
                strerror(err));
}

/* The next line of standard input, without its newline, in *line (which
 * getline(3) grows as needed). Returns its length, or -1 at the end of
 * the input or on a read error (then ferror(stdin) is set). */
static ssize_t read_line(char **line, size_t *size)
{
    ssize_t n = getline(line, size, stdin);
    if (n > 0 && (*line)[n - 1] == '\n')
        (*line)[--n] = '\0';
    return n;
}

/* Sends one message as one datagram, to the collector's address, or with
 * -c to the peer connect fixed (to == NULL). A datagram goes whole or not
 * at all: there is no short count to loop on, as a stream write has. */
static int send_message(int fd, const char *msg, size_t len,
                        const struct sockaddr_un *to)
{
    /* TODO(10-datagram): send msg (len bytes) as one datagram: with
     * sendto(2) to the address to (cast to const struct sockaddr *, of
     * length sizeof *to), or with send(2) when to is NULL (-c: connect
     * fixed the destination). Flags: MSG_NOSIGNAL. When the call fails
     * with EINTR and stop_requested is not set, make it again (a send
     * waits while the collector's queue is full, and a signal may cut
     * that wait short). Return -1 when it fails (errno says why), 0 when
     * it succeeds. */
    (void)fd;
    (void)msg;
    (void)len;
    (void)to;
    errno = ENOSYS; /* "Function not implemented" until the TODO is done */
    return -1;
}

/* Shows each control byte of s (len bytes) as '?'. */
static void hide_control_bytes(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = '?';
}

/* Waits for the collector's reply to one message and prints it with the
 * name of its sender: a bound socket takes datagrams from anyone who can
 * reach its file, unless it is connected (-c). */
static int receive_reply(int fd, const char *path)
{
    char text[64];
    struct sockaddr_un from;

    for (;;) {
        socklen_t from_len = sizeof from;
        /* TODO(10-datagram): receive the reply with recvfrom(2): into
         * text, at most sizeof text - 1 bytes (room for the final '\0'),
         * flags 0, and the sender's address into from (cast to struct
         * sockaddr *), with &from_len, which the kernel sets to the
         * address's length. n is what recvfrom returns. Delete the
         * (void) line. */
        (void)fd;
        ssize_t n = -1;
        errno = ENOSYS; /* "Function not implemented" until the TODO is done */
        if (n == -1 && errno == EINTR && !stop_requested)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            fprintf(stderr, "logger: no reply from %s within %d seconds\n",
                    path, REPLY_TIMEOUT);
            return -1;
        }
        if (n == -1) {
            if (errno != EINTR)
                perror("logger: recvfrom");
            return -1;
        }
        text[n] = '\0';
        size_t path_len = from_len > offsetof(struct sockaddr_un, sun_path)
                              ? from_len - offsetof(struct sockaddr_un,
                                                    sun_path)
                              : 0;
        /* The name's length: 0 for none, or an abstract one (a 0 first). */
        size_t name_len = strnlen(from.sun_path, path_len);
        /* Print no control bytes, of the reply or of its sender's name:
         * any process may send here, with a newline in its name. */
        hide_control_bytes(text, (size_t)n);
        hide_control_bytes(from.sun_path, name_len);
        if (name_len == 0)
            printf("logger: reply from a socket without a file name: %s\n",
                   text);
        else
            printf("logger: reply from %.*s: %s\n", (int)name_len,
                   from.sun_path, text);
        if (fflush(stdout) == EOF) {
            perror("logger: writing standard output");
            return -1;
        }
        return 0;
    }
}

/* Is the file at path still the socket file bind made? Someone may have
 * removed or replaced it meanwhile: we never delete another file. */
static int is_our_socket_file(const char *path, const struct stat *made)
{
    struct stat now;
    return lstat(path, &now) == 0 && S_ISSOCK(now.st_mode) &&
           now.st_dev == made->st_dev && now.st_ino == made->st_ino;
}

int main(int argc, char *argv[])
{
    const char *path = DEFAULT_PATH;
    struct sockaddr_un addr, own;
    struct sigaction sa;
    int connect_first = 0, want_replies = 0, bound = 0;
    const char *own_path = NULL;
    char own_name[sizeof own.sun_path];
    struct stat made; /* our own socket file, with -r: the one to remove */
    char *line = NULL;
    size_t line_size = 0;
    long sent = 0;
    int status = EXIT_SUCCESS;
    int opt;

    while ((opt = getopt(argc, argv, "crb:")) != -1) {
        if (opt == 'c') {
            connect_first = 1;
        } else if (opt == 'r') {
            want_replies = 1;
        } else if (opt == 'b') {
            want_replies = 1;
            own_path = optarg;
        } else {
            fprintf(stderr, "usage: logger [-c] [-r | -b PATH] "
                    "[SOCKET_PATH [MESSAGE...]]\n");
            return 2;
        }
    }
    if (optind < argc)
        path = argv[optind++];
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;
    if (want_replies && own_path == NULL) { /* a name of our own: our pid */
        snprintf(own_name, sizeof own_name, "logger.%ld.sock",
                 (long)getpid());
        own_path = own_name;
    }
    if (want_replies && make_address(&own, own_path) == -1)
        return EXIT_FAILURE;

    /* A reader of our replies that has gone (logger -r ... | head) must
     * not kill us before we remove our own file: printing gets EPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("logger: signal");
        return EXIT_FAILURE;
    }
    /* No SA_RESTART: a send blocked on a full queue, or a wait for a
     * reply, returns EINTR, and we stop and remove our file. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1) {
        perror("logger: sigaction");
        return EXIT_FAILURE;
    }

    /* Step 1: socket - a datagram socket, like the collector's. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1) {
        perror("logger: socket");
        return EXIT_FAILURE;
    }
    /* socket(2) returns the lowest free fd: when standard input or output is
     * closed, the socket takes its number, and reading or printing would
     * use the socket. */
    if ((fd == STDIN_FILENO && optind == argc) ||
        (fd == STDOUT_FILENO && want_replies)) {
        fprintf(stderr, "logger: standard %s is closed, and the socket "
                "took its fd, %d: run me with it open\n",
                fd == STDIN_FILENO ? "input" : "output", fd);
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 2 (-r): bind - an address of our own: a datagram from a socket
     * that never bound carries no sender, and cannot be answered. */
    if (want_replies) {
        struct timeval timeout = {.tv_sec = REPLY_TIMEOUT, .tv_usec = 0};
        if (bind(fd, (struct sockaddr *)&own, sizeof own) == -1) {
            if (errno == EADDRINUSE) /* bind never reuses a file */
                fprintf(stderr, "logger: %s already exists: the replies "
                        "need a path where no file is yet, for a socket "
                        "file of the logger's own\n", own_path);
            else
                fprintf(stderr, "logger: cannot bind %s for the replies: "
                        "%s\n", own_path, strerror(errno));
            close(fd);
            return EXIT_FAILURE;
        }
        bound = 1;
        if (lstat(own_path, &made) == -1) {
            perror("logger: lstat");
            memset(&made, 0, sizeof made); /* then it is never removed */
        }
        /* A reply that never comes (a collector that has gone) must not
         * make us wait for ever: recvfrom then fails with EAGAIN. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout,
                       sizeof timeout) == -1) {
            perror("logger: setsockopt");
            status = EXIT_FAILURE;
            goto cleanup;
        }
    }

    /* Step 3 (-c): connect - the collector becomes the socket's only
     * peer: send needs no address, and only its datagrams come in. */
    if (connect_first &&
        connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_send_failure(path);
        status = EXIT_FAILURE;
        goto cleanup;
    }

    for (int arg = optind;; arg++) {
        const char *msg;
        size_t len;

        if (stop_requested)
            break;
        if (optind < argc) { /* the messages are the arguments */
            if (arg >= argc)
                break;
            msg = argv[arg];
            len = strlen(msg);
        } else { /* one message per line of standard input */
            ssize_t n = read_line(&line, &line_size);
            if (n == -1) {
                if (ferror(stdin) && !stop_requested) {
                    perror("logger: reading standard input");
                    status = EXIT_FAILURE;
                }
                break;
            }
            msg = line;
            len = (size_t)n;
        }

        /* Step 4: sendto - one message, one datagram (send, with -c). */
        if (send_message(fd, msg, len, connect_first ? NULL : &addr) == -1) {
            if (errno == EMSGSIZE) {
                fprintf(stderr, "logger: a message of %zu bytes is too long "
                        "for one datagram; it was not sent\n", len);
                status = EXIT_FAILURE;
                continue;
            }
            if (errno != EINTR)
                explain_send_failure(path);
            status = EXIT_FAILURE;
            break;
        }
        sent++;

        /* Step 5 (-r): recvfrom - the collector's reply, and its sender. */
        if (want_replies && receive_reply(fd, path) == -1) {
            status = EXIT_FAILURE;
            break;
        }
    }
    if (stop_requested) {
        fprintf(stderr, "logger: stopped by a signal after %ld message%s\n",
                sent, sent == 1 ? "" : "s");
        status = EXIT_FAILURE;
    }

cleanup:
    /* Step 6: close - the socket, and with -r remove our own file. */
    free(line);
    if (close(fd) == -1) {
        perror("logger: close");
        status = EXIT_FAILURE;
    }
    if (bound && is_our_socket_file(own_path, &made) &&
        unlink(own_path) == -1) {
        perror("logger: unlink");
        status = EXIT_FAILURE;
    }
    return status;
}
