/*
 * collector.c - a local log collector on a Unix domain datagram socket,
 * lesson 10: datagrams.
 *
 * Usage: collector [-n COUNT] [SOCKET_PATH]
 *
 * Binds a datagram socket to SOCKET_PATH (default: log.sock in the current
 * directory), as syslog's /dev/log is bound, and receives the datagrams of
 * any number of loggers on that one socket. Each datagram is one record,
 * printed on one line of standard output after the name of its sender. A
 * sender that bound an address of its own gets a reply: "ok N" (the N
 * bytes were logged), or "cut N" (the record was longer than the
 * collector's buffer, and only its first N bytes were kept). With
 * -n COUNT the collector exits after COUNT records; otherwise it runs
 * until SIGINT (Ctrl-C) or SIGTERM. On exit it closes its socket and
 * removes its socket file.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PATH "log.sock"
/* RFC 5424 asks a syslog receiver to take records of at least 2048 bytes;
 * a longer datagram is cut to this size, and the collector says so. */
#define MAX_RECORD 2048

static volatile sig_atomic_t stop_requested;
static char record[MAX_RECORD];

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
                "collector: the socket path is empty: an empty sun_path is "
                "a Linux abstract name made of zero bytes, not a file (see "
                "unix(7)); give a path such as log.sock\n");
        return -1;
    }
    if (strlen(path) >= sizeof addr->sun_path) {
        fprintf(stderr,
                "collector: the socket path is %zu bytes long, but sun_path "
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
        fprintf(stderr, "collector: %s exists and is not a socket; the "
                "collector will not touch it: choose another path\n", path);
    else if (err == EADDRINUSE)
        fprintf(stderr, "collector: the socket file %s already exists: "
                "another collector is using it, or an earlier run did not "
                "remove it; if none is running, remove it (rm %s)\n",
                path, path);
    else if (err == ENOENT && directory_missing(path))
        fprintf(stderr, "collector: cannot create %s: its directory does "
                "not exist\n", path);
    else if (err == ENOENT)
        fprintf(stderr, "collector: cannot create %s: no file can be "
                "made in that directory (as in /proc)\n", path);
    else if (err == ENOTDIR)
        fprintf(stderr, "collector: cannot create %s: a part of the path is "
                "not a directory\n", path);
    else
        fprintf(stderr, "collector: cannot bind to %s: %s\n", path,
                strerror(err));
}

/* Names the sender of a datagram from the address recvmsg returned. A
 * socket that never bound has no address: Linux then returns a length of
 * 0, and sun_path holds nothing to read. */
static void name_sender(char *name, size_t size,
                        const struct sockaddr_un *from, socklen_t len)
{
    size_t path_len = 0;

    if (len > offsetof(struct sockaddr_un, sun_path))
        path_len = len - offsetof(struct sockaddr_un, sun_path);
    if (path_len > sizeof from->sun_path)
        path_len = sizeof from->sun_path;
    if (path_len == 0)
        snprintf(name, size, "(unbound)");
    else if (from->sun_path[0] == '\0') /* a Linux abstract name */
        snprintf(name, size, "@%.*s", (int)(path_len - 1),
                 from->sun_path + 1);
    else
        snprintf(name, size, "%.*s",
                 (int)strnlen(from->sun_path, path_len), from->sun_path);
}

/* Prints len bytes with a newline or another control byte shown as \xNN:
 * a record cannot end its line early, or pass for two records. */
static void print_escaped(FILE *out, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\\')
            fputs("\\\\", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            putc(c, out);
    }
}

/* Prints one record on one line. The sender's name is escaped too: any
 * process may bind a name with a newline in it, and its record would
 * then pass for one of another sender. */
static int print_record(const char *sender, const char *buf, size_t len,
                        int cut)
{
    print_escaped(stdout, sender, strlen(sender));
    fputs(": ", stdout);
    print_escaped(stdout, buf, len);
    if (cut)
        printf(" [cut: the datagram was longer than %d bytes]", MAX_RECORD);
    putchar('\n');
    /* fflush, so a full disk or a closed pipe is seen here, not lost. */
    return fflush(stdout) == EOF || ferror(stdout) ? -1 : 0;
}

/* Replies to a sender that has an address. Never waits: a logger that does
 * not read its replies fills its own queue, and must not stop the
 * collector, so a reply that does not fit at once is dropped. */
static void reply(int fd, const char *sender, const struct sockaddr_un *to,
                  socklen_t to_len, size_t kept, int cut)
{
    char text[32];
    int len = snprintf(text, sizeof text, "%s %zu", cut ? "cut" : "ok",
                       kept);

    /* TODO(10-datagram): send text (len bytes) to the sender with
     * sendto(2): to its address, to (cast to const struct sockaddr *), of
     * the length to_len that recvmsg returned. Flags MSG_DONTWAIT |
     * MSG_NOSIGNAL: the reply never waits for room in the sender's queue,
     * and a failure raises no signal. If sendto succeeds, return; if it
     * fails, the lines below say why. */
    (void)fd;
    (void)to;
    (void)to_len;
    (void)len;
    errno = ENOSYS; /* "Function not implemented" until the TODO is done */
    int full = errno == EAGAIN || errno == EWOULDBLOCK;
    const char *why = strerror(errno);

    /* The sender's name is escaped here too: it is the sender's choice. */
    fputs(full ? "collector: reply to " : "collector: no reply to ", stderr);
    print_escaped(stderr, sender, strlen(sender));
    if (full)
        fputs(" dropped: its queue is full (it does not read its replies)\n",
              stderr);
    else
        fprintf(stderr, ": %s\n", why);
}

/* Is the file at path still the socket file bind made? Someone may have
 * removed or replaced it meanwhile: the collector never deletes another
 * file. */
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
    long count = 0; /* 0: collect until a signal asks us to stop */
    long received = 0;
    struct stat made; /* the socket file bind creates: the one to remove */
    int status = EXIT_SUCCESS;
    int opt;

    while ((opt = getopt(argc, argv, "n:")) != -1) {
        if (opt != 'n' || parse_count(optarg, &count) == -1) {
            if (opt == 'n')
                fprintf(stderr, "collector: -n %s: COUNT is a whole number of "
                        "records, from 1 to %ld\n", optarg, LONG_MAX);
            fprintf(stderr, "usage: collector [-n COUNT] [SOCKET_PATH]\n");
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "usage: collector [-n COUNT] [SOCKET_PATH]\n");
        return 2;
    }
    if (optind < argc)
        path = argv[optind];
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;

    /* A reader of our records that has gone (collector | head) must not
     * kill us before we remove our socket file: printing gets EPIPE. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("collector: signal");
        return EXIT_FAILURE;
    }
    /* No SA_RESTART: a blocked recvmsg returns EINTR, so we stop. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1) {
        perror("collector: sigaction");
        return EXIT_FAILURE;
    }

    /* Step 1: socket - a datagram socket: each send is one message. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1) {
        perror("collector: socket");
        return EXIT_FAILURE;
    }
    /* socket(2) returns the lowest free fd: when standard output is
     * closed, the socket takes its number, and the records would go to
     * the socket. */
    if (fd == STDOUT_FILENO) {
        fprintf(stderr, "collector: standard output is closed, and the "
                "socket took its fd, 1: run me with it open\n");
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 2: bind - the name loggers send to; this creates the file. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_bind_failure(path);
        close(fd);
        return EXIT_FAILURE;
    }
    if (lstat(path, &made) == -1) {
        perror("collector: lstat");
        memset(&made, 0, sizeof made); /* then it is never removed */
    }
    /* No listen, no accept: a datagram socket has no connections. The
     * datagrams of every logger arrive on this one socket. */
    printf("collector: receiving on %s; stop me with Ctrl-C\n", path);
    fflush(stdout);

    while (count == 0 || received < count) {
        struct sockaddr_un from;
        struct iovec iov = {.iov_base = record, .iov_len = sizeof record};
        struct msghdr msg;
        char sender[sizeof from.sun_path + 2];

        /* A signal may have come while we were busy: then stop now. */
        if (stop_requested)
            break;

        /* Step 3: recvmsg - the next datagram, whole, and its sender's
         * address; MSG_TRUNC in msg_flags says it did not fit. */
        memset(&msg, 0, sizeof msg);
        /* TODO(10-datagram): receive the next datagram with recvmsg(2).
         * Fill msg first: msg_name = &from and msg_namelen = sizeof from,
         * where the kernel writes the sender's address and its length;
         * msg_iov = &iov and msg_iovlen = 1, the one buffer (record).
         * Then n = recvmsg(fd, &msg, 0), and cut = 1 when msg.msg_flags
         * has MSG_TRUNC: the datagram was longer than record, and the
         * rest of it is lost. Delete the (void) lines. */
        (void)from;
        (void)iov;
        ssize_t n = -1;
        int cut = 0;
        errno = ENOSYS; /* "Function not implemented" until the TODO is done */
        if (n == -1 && errno == EINTR)
            continue; /* the test above decides what next */
        if (n == -1) {
            perror("collector: recvmsg");
            status = EXIT_FAILURE;
            break;
        }
        /* n == 0 is an empty datagram, a record like any other: a
         * datagram socket has no end of file. */
        received++;
        name_sender(sender, sizeof sender, &from, msg.msg_namelen);
        if (print_record(sender, record, (size_t)n, cut) == -1) {
            perror("collector: writing standard output");
            status = EXIT_FAILURE;
            break;
        }

        /* A path that fills sun_path has no '\0' in it: recvmsg then
         * counts one byte more than from holds, and sendto would refuse
         * that length (EINVAL). The bytes that came are the whole path. */
        if (msg.msg_namelen > sizeof from)
            msg.msg_namelen = (socklen_t)sizeof from;

        /* Step 4: sendto - a reply, to a sender that has an address. */
        if (msg.msg_namelen > offsetof(struct sockaddr_un, sun_path))
            reply(fd, sender, &from, msg.msg_namelen, (size_t)n, cut);
    }

    /* Step 5: close - the socket, then remove its file. */
    if (close(fd) == -1)
        perror("collector: close");
    if (!is_our_socket_file(path, &made))
        fprintf(stderr, "collector: %s is no longer the socket file this "
                "collector made; leaving it alone\n", path);
    else if (unlink(path) == -1)
        perror("collector: unlink");
    else
        printf("collector: stopped, %s removed\n", path);
    return status;
}
