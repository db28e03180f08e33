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
    while (out_len > 0) {
        ssize_t n = send(fd, out, out_len, MSG_DONTWAIT);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == -1) {
            if (errno == EPIPE || errno == ECONNRESET)
                fprintf(stderr, "client: the server closed the connection "
                        "before it had read all we sent\n");
            else
                perror("client: send");
            return -1;
        }
        out_len -= (size_t)n;
        memmove(out, out + n, out_len);
    }
    return 0;
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
    while (n > 0) {
        size_t take = sizeof in - in_len < n ? sizeof in - in_len : n;
        memcpy(in + in_len, buf, take);
        in_len += take;
        buf += take;
        n -= take;

        size_t used = 0;
        while (in_len - used >= HEADER_SIZE) {
            uint32_t len = announced(in + used);
            if (len > MAX_MESSAGE) {
                fprintf(stderr, "client: the server announced a message of "
                        "%lu bytes, more than %d\n", (unsigned long)len,
                        MAX_MESSAGE);
                return -1;
            }
            if (in_len - used < HEADER_SIZE + len)
                break; /* its end has not come yet */
            if (write_all(STDOUT_FILENO, in + used + HEADER_SIZE, len) == -1
                || write_all(STDOUT_FILENO, "\n", 1) == -1) {
                perror("client: writing standard output");
                return -1;
            }
            used += HEADER_SIZE + len;
            replies++;
        }
        in_len -= used;
        memmove(in, in + used, in_len);
    }
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

    /* Step 3: poll, send and read - both directions at once, until all
     * the input is sent. Sending first, eagerly: POLLOUT is asked for
     * only while some of the queue is left. */
    if (send_queued(fd) == -1)
        status = EXIT_FAILURE;
    while (status == EXIT_SUCCESS &&
           (!input_ended || line_len > 0 || out_len > 0)) {
        int room = message_mode ? line_len < sizeof line
                                  && out_len + FRAME_SIZE <= OUT_SIZE
                                : out_len < OUT_SIZE;
        /* With MESSAGE, no more is read once its whole answer has come. */
        int reading = !server_done && reply_wanted(message, expected) > 0;
        struct pollfd fds[2] = {
            {input_ended || !room ? -1 : STDIN_FILENO, POLLIN, 0},
            {fd, (short)((reading ? POLLIN : 0) |
                         (out_len > 0 ? POLLOUT : 0)), 0},
        };
        if (poll(fds, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            perror("client: poll");
            status = EXIT_FAILURE;
            break;
        }
        /* The reply first: reading it is what lets the server go on
         * reading us. A server may end its side before ours (read returns
         * 0): it sends nothing more, but it may still read. */
        if (reading && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read_reply(fd, reply_wanted(message, expected));
            if (n == -1)
                status = EXIT_FAILURE;
            else if (n == 0)
                server_done = 1;
        } else if (!reading && (fds[1].revents & (POLLHUP | POLLERR))) {
            /* Both directions ended: the server has closed its socket,
             * and what is left of the input has nowhere to go. */
            fprintf(stderr, "client: the server closed the connection "
                    "before the end of the input\n");
            status = EXIT_FAILURE;
        }
        if (status == EXIT_SUCCESS && fds[0].revents != 0) {
            int more = read_input();
            if (more == -1)
                status = EXIT_FAILURE;
            else if (more == 0)
                input_ended = 1;
        }
        if (status == EXIT_SUCCESS && out_len > 0 && send_queued(fd) == -1)
            status = EXIT_FAILURE;
        /* -m: the lines that waited for room in the queue. */
        if (status == EXIT_SUCCESS && line_len > 0 &&
            queue_lines(input_ended) == -1)
            status = EXIT_FAILURE;
    }

    /* Step 4: shutdown - no more input: the server reads end of file,
     * and our reading side stays open for the rest of its reply. */
    if (status == EXIT_SUCCESS && shutdown(fd, SHUT_WR) == -1) {
        perror("client: shutdown");
        status = EXIT_FAILURE;
    }

    /* Step 5: read - the rest of the reply, until the server's end of
     * file; with MESSAGE, until its whole answer has come, and no more: the
     * lab's server answers each byte with one, and the client need not
     * wait for more. Each read asks for at most what is missing, so that
     * what comes after the answer is never read (a read may return fewer
     * bytes than it asked for: the loop asks again for the rest). */
    while (status == EXIT_SUCCESS && !server_done &&
           reply_wanted(message, expected) > 0) {
        ssize_t n = read_reply(fd, reply_wanted(message, expected));
        if (n == -1)
            status = EXIT_FAILURE;
        else if (n == 0)
            server_done = 1;
    }
    if (status == EXIT_SUCCESS && check_reply(message, expected) == -1)
        status = EXIT_FAILURE;
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
