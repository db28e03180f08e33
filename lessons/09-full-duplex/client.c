/*
 * client.c - a Unix domain stream socket client, lesson 09: full duplex.
 *
 * Usage: client [SOCKET_PATH [MESSAGE]]
 *        client -m [SOCKET_PATH [MESSAGE...]]
 *
 * Connects to the server at SOCKET_PATH (default: lab.sock in the current
 * directory), and sends it everything on standard input, however much,
 * while it prints everything the server sends back: both directions at
 * once, with poll(2), so that neither side ever waits for the other to
 * read. At the end of the input it shuts down its writing side
 * (shutdown(2), SHUT_WR): the server reads end of file, and the client
 * reads the rest of the reply, until the server's own end of file. So it
 * works with any stream server, as nc and socat do.
 *
 * With MESSAGE, it sends MESSAGE instead of standard input, and prints the
 * reply of the lab's server, then a newline: as many bytes as it sent,
 * upper-cased, read until they have all come (the server need not close
 * first), and no more (what a server sends after them is not printed); a
 * reply cut short is an error.
 *
 * With -m it speaks in messages, as the lab's server does with -m: each
 * line of standard input (each MESSAGE, when given) goes as one message, a
 * 4-byte length in network byte order, then the bytes; each message the
 * server sends back is printed on a line of its own.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PATH "lab.sock"
/* -m: a message is HEADER_SIZE bytes of length, in network byte order
 * (big-endian), then that many bytes, MAX_MESSAGE at most. */
#define HEADER_SIZE 4
#define MAX_MESSAGE 4096
#define FRAME_SIZE (HEADER_SIZE + MAX_MESSAGE)
/* What waits to be sent, at most: standard input is read only while there
 * is room, so a server that reads slowly slows the client down, and no
 * more. */
#define OUT_SIZE 65536

static int message_mode; /* -m */

/* Bytes queued for the server, not sent yet: standard input as it is, or
 * (-m) its lines as messages. */
static char out[OUT_SIZE];
static size_t out_len;

/* -m: the start of a line of standard input whose end has not come. */
static char line[MAX_MESSAGE + 1];
static size_t line_len;

/* -m: the start of a message from the server whose end has not come. */
static char in[FRAME_SIZE];
static size_t in_len;

static size_t messages_sent, replies; /* -m */
static size_t received;               /* bytes of reply */
static int output_failed;             /* said once: no final newline */

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

/* Writes all len bytes to standard output: write(2) may write fewer. */
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

/* -m: queues body as one message: its length, then its bytes. The caller
 * has made sure that it fits. */
static void queue_message(const char *body, size_t len)
{
    uint32_t header = htonl((uint32_t)len);
    memcpy(out + out_len, &header, HEADER_SIZE);
    memcpy(out + out_len + HEADER_SIZE, body, len);
    out_len += HEADER_SIZE + len;
    messages_sent++;
}

/* -m: queues each whole line of line[] as a message, without its newline,
 * while the queue has room, and keeps the start of the next line at the
 * front. At the end of the input the last line counts even without its
 * newline. Returns -1 for a line longer than MAX_MESSAGE. */
static int queue_lines(int at_end)
{
    size_t used = 0;
    while (out_len + FRAME_SIZE <= OUT_SIZE) {
        char *start = line + used;
        char *newline = memchr(start, '\n', line_len - used);
        size_t len = newline ? (size_t)(newline - start) : line_len - used;
        if (len > MAX_MESSAGE) {
            fprintf(stderr, "client: a line of more than %d bytes: too long "
                    "for one message\n", MAX_MESSAGE);
            return -1;
        }
        if (newline == NULL && !(at_end && len > 0))
            break; /* its end has not come yet */
        queue_message(start, len);
        used += len + (newline != NULL);
    }
    line_len -= used;
    memmove(line, line + used, line_len);
    return 0;
}

/* Reads what standard input has now, and queues it for the server: the
 * bytes as they are, or (-m) each whole line as a message. Returns 0 at
 * end of input, -1 on an error, else 1. */
static int read_input(void)
{
    char *room = message_mode ? line + line_len : out + out_len;
    size_t size = message_mode ? sizeof line - line_len : OUT_SIZE - out_len;
    ssize_t n;

    do
        n = read(STDIN_FILENO, room, size);
    while (n == -1 && errno == EINTR);
    if (n == -1) {
        perror("client: reading standard input");
        return -1;
    }
    if (message_mode) {
        line_len += (size_t)n;
        if (queue_lines(n == 0) == -1)
            return -1;
    } else {
        out_len += (size_t)n;
    }
    return n == 0 ? 0 : 1;
}

/* Sends as much of the queue as the socket takes now, without waiting:
 * MSG_DONTWAIT makes this one call fail with EAGAIN where it would wait,
 * and a short count leaves the rest for when poll says POLLOUT. Returns
 * -1 when the server has gone. */
static int send_queued(int fd)
{
    /* TODO(09-full-duplex): while out_len > 0: n = send(fd, out, out_len,
     * MSG_DONTWAIT). EINTR: again; EAGAIN (or EWOULDBLOCK): return 0, the
     * rest waits for POLLOUT; EPIPE or ECONNRESET: say "client: the server
     * closed the connection before it had read all we sent" and return -1;
     * another failure: perror("client: send"), return -1. Otherwise the
     * first n bytes went: out_len -= n, and memmove the rest to the front
     * of out (README, "Both directions at once"). */
    (void)fd;
    errno = ENOSYS; /* "Function not implemented" until the TODO is done */
    return -1;
}

/* The length a message's header announces: HEADER_SIZE bytes in network
 * byte order, copied out first (the header may sit at any address). */
static uint32_t announced(const char *header)
{
    uint32_t len;
    memcpy(&len, header, HEADER_SIZE);
    return ntohl(len);
}

/* Prints what the server sent: the bytes as they come, or (-m) each
 * whole message, on a line of its own, once all its bytes have come. A
 * read may bring part of a message, or several. Returns -1 for a length
 * above MAX_MESSAGE (checked before waiting for the bytes or making room
 * for them) or when standard output fails. */
static int print_reply(const char *buf, size_t n)
{
    received += n;
    if (!message_mode) {
        if (write_all(STDOUT_FILENO, buf, n) == -1) {
            perror("client: writing standard output");
            output_failed = 1;
            return -1;
        }
        return 0;
    }
    /* TODO(09-full-duplex): -m: the n bytes may hold part of a message,
     * or several (README, "Messages on a byte stream"). Append them to in
     * (in_len bytes so far; at most what it has room for, the rest on the
     * next turn), then, while in_len holds a whole header: len =
     * announced(header); more than MAX_MESSAGE: say so on stderr and
     * return -1; fewer than HEADER_SIZE + len bytes there: its end has not
     * come, stop; else write its len bytes and a '\n' to standard output
     * (write_all), count it (replies++) and go on after it. Keep what is
     * left, the start of the next message, at the front of in (memmove). */
    (void)announced;
    return 0;
}

/* Reads once from the server, no more than `most` bytes (nor more than a
 * buffer holds), and prints what came. Returns what read returned: 0 at the
 * server's end of file, -1 on an error (said). */
static ssize_t read_reply(int fd, size_t most)
{
    char buf[OUT_SIZE];
    ssize_t n;

    do
        n = read(fd, buf, most < sizeof buf ? most : sizeof buf);
    while (n == -1 && errno == EINTR);
    if (n == -1 && errno == ECONNRESET)
        fprintf(stderr, "client: the server reset the connection: it "
                "closed its socket with some of what we sent unread\n");
    else if (n == -1)
        perror("client: read");
    if (n > 0 && print_reply(buf, (size_t)n) == -1)
        return -1;
    return n;
}

/* How many bytes of reply the client still reads at most: with MESSAGE,
 * the rest of its answer (expected bytes in all), 0 once it has all come;
 * else whatever comes, until the server's end of file. */
static size_t reply_wanted(const char *message, size_t expected)
{
    if (message == NULL)
        return OUT_SIZE;
    return received < expected ? expected - received : 0;
}

/* After the server's end of file: says what is missing from its reply,
 * if anything, and returns -1 then. */
static int check_reply(const char *message, size_t expected)
{
    if (message_mode && in_len > 0) {
        if (in_len < HEADER_SIZE)
            fprintf(stderr, "client: the server ended inside a message's "
                    "length, after %zu of %d bytes\n", in_len, HEADER_SIZE);
        else
            fprintf(stderr, "client: the server ended inside a message, "
                    "after %zu of %lu bytes\n", in_len - HEADER_SIZE,
                    (unsigned long)announced(in));
        return -1;
    }
    if (message_mode && replies < messages_sent) {
        fprintf(stderr, "client: the server answered %zu of %zu messages\n",
                replies, messages_sent);
        return -1;
    }
    if (!message_mode && message != NULL && received < expected) {
        fprintf(stderr, "client: the server closed the connection after "
                "%zu of %zu bytes\n", received, expected);
        return -1;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    const char *path = DEFAULT_PATH;
    const char *message = NULL; /* MESSAGE, without -m */
    size_t expected = 0;        /* its length: the answer's */
    struct sockaddr_un addr;
    int input_ended = 0; /* standard input said end of file */
    int server_done = 0; /* the server's end of file has come */
    int status = EXIT_SUCCESS;
    int opt;

    while ((opt = getopt(argc, argv, "m")) != -1) {
        if (opt != 'm') {
            fprintf(stderr, "usage: client [SOCKET_PATH [MESSAGE]]\n"
                    "       client -m [SOCKET_PATH [MESSAGE...]]\n");
            return 2;
        }
        message_mode = 1;
    }
    if (!message_mode && argc - optind > 2) {
        fprintf(stderr, "usage: client [SOCKET_PATH [MESSAGE]]\n"
                "       client -m [SOCKET_PATH [MESSAGE...]]\n");
        return 2;
    }
    if (optind < argc)
        path = argv[optind++];
    if (make_address(&addr, path) == -1)
        return EXIT_FAILURE;
    /* The messages of the command line, queued at once: the input. */
    if (optind < argc) {
        input_ended = 1;
        if (!message_mode) {
            message = argv[optind];
            if (strlen(message) > OUT_SIZE) {
                fprintf(stderr, "client: the message is longer than %d "
                        "bytes: send it on standard input\n", OUT_SIZE);
                return EXIT_FAILURE;
            }
            out_len = expected = strlen(message);
            memcpy(out, message, out_len);
        }
        for (int i = optind; i < argc && message_mode; i++) {
            size_t len = strlen(argv[i]);
            if (len > MAX_MESSAGE || out_len + HEADER_SIZE + len > OUT_SIZE) {
                fprintf(stderr, "client: the messages are too long: at most "
                        "%d bytes each, %d in all\n", MAX_MESSAGE, OUT_SIZE);
                return EXIT_FAILURE;
            }
            queue_message(argv[i], len);
        }
    }

    /* A server that leaves mid-message must not kill us, nor a closed
     * standard output: write and send get EPIPE. */
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
    /* socket(2) returns the lowest free fd: when standard input or output is
     * closed, the socket takes its number, and reading or printing would
     * use the socket. */
    if (fd == STDOUT_FILENO || (fd == STDIN_FILENO && !input_ended)) {
        fprintf(stderr, "client: standard %s is closed, and the socket "
                "took its fd, %d: run me with it open\n",
                fd == STDIN_FILENO ? "input" : "output", fd);
        close(fd);
        return EXIT_FAILURE;
    }

    /* Step 2: connect - reach the listening socket through its file. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        explain_connect_failure(path);
        close(fd);
        return EXIT_FAILURE;
    }

    /* TODO(09-full-duplex): replace Step 3, lesson 08's "everything
     * first, then the reply", by both directions at once (README, "Both
     * directions at once"), so that input of any size goes through and a
     * server that answers only after end of file still answers:
     *  - Step 3: send_queued(fd) once, then while the input has not ended
     *    or some of it waits (line_len, out_len): poll(2) on two entries,
     *    {STDIN_FILENO, POLLIN} while the input has not ended and the
     *    queue has room (else fd -1, left out), and {fd, POLLIN while
     *    reading: until the server's end of file, and with MESSAGE only
     *    while reply_wanted(message, expected) > 0, | POLLOUT only while
     *    out_len > 0}; -1 with EINTR: again. Then: while reading, the
     *    socket with POLLIN, POLLHUP or POLLERR: read_reply(fd,
     *    reply_wanted(message, expected)) (0: server_done = 1); else
     *    POLLHUP or POLLERR: the server has closed, say so and stop;
     *    standard input ready: read_input (0: input_ended = 1); out_len >
     *    0: send_queued; -m: queue_lines(input_ended) for the lines that
     *    waited for room. Any -1: status = EXIT_FAILURE, and stop;
     *  - Step 4: shutdown(fd, SHUT_WR) (perror("client: shutdown")): the
     *    server reads end of file, and our reading side stays open;
     *  - Step 5: read_reply(fd, reply_wanted(message, expected)) until
     *    the server's end of file, and with MESSAGE only while
     *    reply_wanted(...) > 0: until its whole answer has come (the lab's
     *    server answers each byte with one), and no byte after it; each
     *    read may return fewer bytes than it asked for. Then
     *    check_reply(message, expected).
     * Then delete the lines of lesson 08 below, down to Step 6. */
    (void)send_queued, (void)check_reply, (void)server_done;
    (void)reply_wanted;

    /* Step 3 (lesson 08): all of standard input first, at most OUT_SIZE
     * bytes; then send it all, then read as many bytes back. */
    while (!input_ended) {
        if (!message_mode && out_len == OUT_SIZE) {
            fprintf(stderr, "client: the message is longer than %d bytes, "
                    "the most this client sends\n", OUT_SIZE);
            close(fd);
            return EXIT_FAILURE;
        }
        int more = read_input();
        if (more == -1) {
            close(fd);
            return EXIT_FAILURE;
        }
        input_ended = more == 0;
    }
    if (write_all(fd, out, out_len) == -1) {
        perror("client: write");
        close(fd);
        return EXIT_FAILURE;
    }
    expected = out_len;
    while (received < expected) {
        ssize_t n = read_reply(fd, expected - received);
        if (n == -1) {
            close(fd);
            return EXIT_FAILURE;
        }
        if (n == 0) {
            fprintf(stderr, "client: the server closed the connection "
                    "after %zu of %zu bytes\n", received, expected);
            close(fd);
            return EXIT_FAILURE;
        }
    }
    if (message != NULL && !output_failed &&
        write_all(STDOUT_FILENO, "\n", 1) == -1) {
        perror("client: writing standard output");
        status = EXIT_FAILURE;
    }

    /* Step 6: close - the connection is over in both directions. */
    if (close(fd) == -1) {
        perror("client: close");
        status = EXIT_FAILURE;
    }
    return status;
}
