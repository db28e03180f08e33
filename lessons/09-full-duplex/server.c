/*
 * server.c - a Unix domain stream socket server, lesson 09: full duplex.
 *
 * Usage: server [-m] [-n COUNT] [SOCKET_PATH]
 *
 * Binds a socket to SOCKET_PATH (default: lab.sock in the current
 * directory), listens, and serves many clients at once in one process, as
 * lesson 08's server does: poll(2) says which socket is ready, and every
 * socket is non-blocking. Each client gets back everything it sends,
 * upper-cased, as it comes, however much it sends; the part of its reply
 * that its socket cannot take yet waits in a buffer of its own. A client
 * that shuts down its writing side (shutdown(2), SHUT_WR) gets the rest of
 * its reply, then end of file.
 *
 * With -m the server speaks in messages: each message is a 4-byte length,
 * in network byte order, then that many bytes (at most MAX_MESSAGE), and
 * each message a client sends is answered by one message, its bytes
 * upper-cased. A message is answered once all its bytes have come,
 * however many reads bring them; one read may bring several.
 *
 * With -n COUNT the server accepts COUNT clients, serves them to the end,
 * and exits; otherwise it serves until SIGINT (Ctrl-C) or SIGTERM. On exit
 * it closes every socket and removes its socket file.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "lab.sock"
/* Clients that connect in a burst wait in the backlog until the loop
 * takes them: the most the system allows (listen(2) caps it). */
#define BACKLOG SOMAXCONN
/* The clients served at once, at most; a client beyond is turned away. */
#define MAX_CLIENTS 64
/* -m: a message is HEADER_SIZE bytes of length, in network byte order
 * (big-endian), then that many bytes, MAX_MESSAGE at most. */
#define HEADER_SIZE 4
#define MAX_MESSAGE 4096
#define FRAME_SIZE (HEADER_SIZE + MAX_MESSAGE)
/* The most of a client's reply that waits unwritten (room for two whole
 * messages); while it is full the server reads nothing more from that
 * client. */
#define REPLY_SIZE (2 * FRAME_SIZE)
/* How long accept rests after EMFILE or ENFILE (PostgreSQL's postmaster
 * waits 0.1 s too; tmux 1 s). */
#define ACCEPT_PAUSE_MS 100

/* One client: its socket, the reply that its socket has not taken yet,
 * and (-m) the start of a message whose end has not come yet. An entry
 * whose fd is -1 is free. */
struct client {
    int fd;
    char reply[REPLY_SIZE];
    size_t pending; /* bytes of reply not written yet */
    int at_eof;     /* the client has shut down its writing side, or closed
                       its end: nothing more comes */
    size_t echoed;
    char in[FRAME_SIZE]; /* -m: bytes read, not answered yet */
    size_t in_len;
    size_t answered; /* -m: messages answered */
};

static struct client clients[MAX_CLIENTS];
static int message_mode; /* -m */

static volatile sig_atomic_t stop_requested;

/* The self-pipe: the stop signal's handler writes a byte to its write end,
 * and the loop polls its read end with the sockets, so a signal is one
 * more thing poll reports. A flag alone, tested before poll, would leave a
 * gap: a signal between the test and the call would wait in poll until
 * the next client came. wake_fd is its write end once it exists (-1
 * before): until then the flag alone says stop. */
static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t wake_fd = -1;

/* Sets the flag and makes stop_pipe readable: write(2) is
 * async-signal-safe, and a full pipe (EAGAIN) already holds a byte that
 * says stop. errno is saved, as the handler may run between a failed call
 * in main and main's look at errno. */
static void on_stop_signal(int sig)
{
    int saved_errno = errno;

    (void)sig;
    stop_requested = 1;
    if (wake_fd != -1) {
        ssize_t n = write(wake_fd, "x", 1);
        (void)n;
    }
    errno = saved_errno;
}

/* Sets O_NONBLOCK: a call that would wait fails with EAGAIN instead. */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags == -1)
        return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Milliseconds on a clock that no one can set back. */
static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static void drop_client(struct client *c)
{
    if (close(c->fd) == -1)
        perror("server: close");
    c->fd = -1;
}

/* What poll is to watch for: POLLIN while there is room for what comes
 * (in the reply, or -m in the message buffer), POLLOUT only while some of
 * the reply waits (a socket with room in its buffer is writable nearly
 * always: asking then would wake poll at once, again and again). */
static short events_of(const struct client *c)
{
    short events = 0;
    size_t room = message_mode ? sizeof c->in - c->in_len
                               : REPLY_SIZE - c->pending;
    if (!c->at_eof && room > 0)
        events |= POLLIN;
    if (c->pending > 0)
        events |= POLLOUT;
    return events;
}

/* Takes one client from the backlog. Returns -1 only on a failure that
 * ends the server; *resume_at is when to accept again after EMFILE. */
static int handle_new_connection(int lfd, long *accepted, long *resume_at)
{
    int cfd = accept(lfd, NULL, NULL);
    if (cfd == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
            errno == ECONNABORTED)
            return 0; /* no client after all: poll again */
        if (errno == EMFILE || errno == ENFILE) {
            /* The client stays in the backlog and the listener stays
             * readable: poll would report it at once, for ever. Rest. */
            perror("server: accept");
            *resume_at = now_ms() + ACCEPT_PAUSE_MS;
            return 0;
        }
        perror("server: accept");
        return -1;
    }

    struct client *c = NULL;
    for (int i = 0; i < MAX_CLIENTS && c == NULL; i++)
        if (clients[i].fd == -1)
            c = &clients[i];
    if (c == NULL) {
        fprintf(stderr, "server: %d clients are served already; turning "
                "this one away\n", MAX_CLIENTS);
        close(cfd);
        return 0;
    }
    /* On Linux the new socket does not inherit O_NONBLOCK (accept(2)). */
    if (set_nonblocking(cfd) == -1) {
        perror("server: fcntl");
        close(cfd);
        return 0;
    }
    c->fd = cfd;
    c->pending = 0;
    c->at_eof = 0;
    c->echoed = 0;
    c->in_len = 0;
    c->answered = 0;
    (*accepted)++;
    printf("server: client connected on fd %d\n", cfd);
    fflush(stdout);
    return 0;
}

/* Writes as much of the client's waiting reply as its socket takes now.
 * Returns 0, with the rest still pending after EAGAIN (POLLOUT says when
 * to go on), or -1 when the client has gone. */
static int flush_reply(struct client *c)
{
    while (c->pending > 0) {
        ssize_t n = write(c->fd, c->reply, c->pending);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == -1)
            return -1;
        c->pending -= (size_t)n;
        memmove(c->reply, c->reply + n, c->pending);
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

/* -m: answers each whole message at the start of the client's message
 * buffer while its reply has room, and keeps what is left, the start of
 * the next message, at the front. A message counts only once all its
 * bytes are there, however many reads brought them, and one read may have
 * brought several. Returns -1 when a header announces more than
 * MAX_MESSAGE bytes: that client does not speak this protocol, and the
 * server will not wait for such a message, nor make room for it. */
static int answer_messages(struct client *c)
{
    /* TODO(09-full-duplex): used = 0; while at least HEADER_SIZE bytes
     * are left after used in c->in (c->in_len bytes):
     *  - len = announced(c->in + used); above MAX_MESSAGE: say so on
     *    stderr ("server: a client announced a message of LEN bytes, more
     *    than 4096: dropping it") and return -1;
     *  - fewer than HEADER_SIZE + len bytes left: its end has not come,
     *    stop (the next read brings more);
     *  - no room for the answer in the reply (REPLY_SIZE - c->pending <
     *    HEADER_SIZE + len): stop, it is answered once the reply drains;
     *  - else append the answer to c->reply at c->pending: the same
     *    header, then the len bytes upper-cased; pending and used grow by
     *    HEADER_SIZE + len, and c->answered by one.
     * Then keep what is left, the start of the next message, at the front
     * of c->in: in_len -= used, memmove. (README, "Messages on a byte
     * stream") */
    (void)c;
    (void)announced;
    return 0;
}

/* -m, at end of file: says where the client stopped when it stopped
 * inside a message, in its length or in its bytes (they tell a client that
 * died mid-header from one that died mid-message), and forgets the part. */
static void report_cut_message(struct client *c)
{
    if (c->in_len == 0)
        return;
    if (c->in_len < HEADER_SIZE)
        fprintf(stderr, "server: the client ended inside a message's "
                "length, after %zu of %d bytes\n", c->in_len, HEADER_SIZE);
    else
        fprintf(stderr, "server: the client ended inside a message, after "
                "%zu of %lu bytes\n", c->in_len - HEADER_SIZE,
                (unsigned long)announced(c->in));
    c->in_len = 0;
}

/* Does what poll said the client's socket is ready for: read what came
 * (when there is room for it), answer it, and write what can be written of
 * the reply, each call without waiting. Drops the client once it has
 * ended its side and has its whole reply, or once it has gone. */
static void handle_client(struct client *c, short revents)
{
    char *room = message_mode ? c->in + c->in_len : c->reply + c->pending;
    size_t size = message_mode ? sizeof c->in - c->in_len
                               : REPLY_SIZE - c->pending;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && !c->at_eof &&
        size > 0) {
        ssize_t n = read(c->fd, room, size);
        if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
            errno != EINTR) {
            perror("server: read");
            drop_client(c);
            return;
        }
        if (n == 0)
            c->at_eof = 1; /* end of file: the client ended its side */
        if (n > 0 && message_mode)
            c->in_len += (size_t)n;
        for (ssize_t i = 0; i < n && !message_mode; i++)
            room[i] = (char)toupper((unsigned char)room[i]);
        if (n > 0 && !message_mode) {
            c->pending += (size_t)n;
            c->echoed += (size_t)n;
        }
    }
    /* Answer, then write what the socket takes; a reply written whole
     * makes room for the answers still waiting (-m): go on while both. */
    for (;;) {
        size_t answered = c->answered, waiting = c->pending;
        if (message_mode && answer_messages(c) == -1) {
            drop_client(c);
            return;
        }
        if (flush_reply(c) == -1) {
            perror("server: write"); /* EPIPE: the client has gone */
            drop_client(c);
            return;
        }
        /* Done when the socket takes no more, or when nothing was
         * answered and nothing was waiting to be written. */
        if (c->pending > 0 || (c->answered == answered && waiting == 0))
            break;
    }
    /* Answered what it could: what is left can only be a cut message. */
    if (message_mode && c->at_eof && c->pending == 0)
        report_cut_message(c);
    if (c->at_eof && c->pending == 0) {
        if (message_mode)
            printf("server: client done, %zu message%s answered\n",
                   c->answered, c->answered == 1 ? "" : "s");
        else
            printf("server: client done, %zu bytes echoed\n", c->echoed);
        fflush(stdout);
        drop_client(c);
    }
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

    while ((opt = getopt(argc, argv, "mn:")) != -1) {
        if (opt == 'm') {
            message_mode = 1;
            continue;
        }
        if (opt != 'n' || parse_count(optarg, &count) == -1) {
            if (opt == 'n')
                fprintf(stderr, "server: -n %s: COUNT is a whole number of "
                        "clients, from 1 to %ld\n", optarg, LONG_MAX);
            fprintf(stderr, "usage: server [-m] [-n COUNT] [SOCKET_PATH]\n");
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "usage: server [-m] [-n COUNT] [SOCKET_PATH]\n");
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
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1) {
        perror("server: sigaction");
        return EXIT_FAILURE;
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        clients[i].fd = -1;

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

    /* Step 3: listen - make the socket passive, ready for connections;
     * non-blocking, so that an accept with nobody left waiting fails
     * with EAGAIN instead of holding up every client. */
    if (listen(fd, BACKLOG) == -1) {
        perror("server: listen");
        status = EXIT_FAILURE;
        goto cleanup;
    }
    if (set_nonblocking(fd) == -1) {
        perror("server: fcntl");
        status = EXIT_FAILURE;
        goto cleanup;
    }
    /* The self-pipe, both ends non-blocking: the handler must never wait,
     * and the loop only looks whether a byte is there. */
    if (pipe(stop_pipe) == -1 || set_nonblocking(stop_pipe[0]) == -1 ||
        set_nonblocking(stop_pipe[1]) == -1) {
        perror("server: pipe");
        status = EXIT_FAILURE;
        goto cleanup;
    }
    wake_fd = stop_pipe[1];
    printf("server: listening on %s; stop me with Ctrl-C\n", path);
    fflush(stdout);

    long accepted = 0;
    long resume_at = 0; /* accept rests until then (EMFILE) */
    for (;;) {
        int accepting = count == 0 || accepted < count;
        int served = 0;
        for (int i = 0; i < MAX_CLIENTS; i++)
            served += clients[i].fd != -1;
        if (!accepting && served == 0)
            break; /* -n COUNT: every client has been served */
        if (stop_requested)
            break; /* a signal came before the self-pipe existed */

        /* Step 4: poll - wait until the stop pipe, the listening socket
         * or a client is ready. An fd of -1 is left out (poll(2)): the
         * listener, while accept rests or is done. */
        struct pollfd fds[2 + MAX_CLIENTS];
        struct client *owner[2 + MAX_CLIENTS];
        nfds_t nfds = 0;
        int timeout = -1;
        long rest = resume_at - now_ms();
        fds[nfds++] = (struct pollfd){stop_pipe[0], POLLIN, 0};
        fds[nfds++] = (struct pollfd){accepting && rest <= 0 ? fd : -1,
                                      POLLIN, 0};
        if (accepting && rest > 0)
            timeout = (int)rest;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (clients[i].fd == -1)
                continue;
            owner[nfds] = &clients[i];
            fds[nfds++] = (struct pollfd){clients[i].fd,
                                          events_of(&clients[i]), 0};
        }
        int ready = poll(fds, nfds, timeout);
        if (ready == -1 && errno == EINTR)
            continue; /* a signal: the stop pipe says which */
        if (ready == -1) {
            perror("server: poll");
            status = EXIT_FAILURE;
            break;
        }
        if (fds[0].revents & POLLIN)
            break; /* SIGINT or SIGTERM came */

        /* Step 5: accept - a client is waiting: take it. */
        if ((fds[1].revents & POLLIN) &&
            handle_new_connection(fd, &accepted, &resume_at) == -1) {
            status = EXIT_FAILURE;
            break;
        }

        /* Step 6: read/write - each client that is ready, without
         * waiting for any. */
        for (nfds_t k = 2; k < nfds; k++)
            if (fds[k].revents != 0 && owner[k]->fd == fds[k].fd)
                handle_client(owner[k], fds[k].revents);
    }

    /* Step 7: close - every client still connected. */
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd != -1)
            drop_client(&clients[i]);

cleanup:
    /* Step 7: close - the listening socket, then remove its file. */
    if (close(fd) == -1)
        perror("server: close");
    if (!is_our_socket_file(path, &made))
        fprintf(stderr, "server: %s is no longer the socket file this "
                "server made; leaving it alone\n", path);
    else if (unlink(path) == -1)
        perror("server: unlink");
    else
        printf("server: stopped, %s removed\n", path);
    if (stop_pipe[0] != -1) {
        wake_fd = -1;
        close(stop_pipe[0]);
        close(stop_pipe[1]);
    }
    return status;
}
