/*
 * server.c - a Unix domain stream socket server, lesson 08: poll.
 *
 * Usage: server [-n COUNT] [SOCKET_PATH]
 *
 * Binds a socket to SOCKET_PATH (default: lab.sock in the current
 * directory), listens, and serves many clients at once, as lesson 07's
 * server does, but in one process, with no child: poll(2) waits until one
 * of its sockets is ready, and every socket is non-blocking, so no call
 * ever waits for one client while another is ready. Each client gets back
 * everything it sends, upper-cased; the part of its reply that its socket
 * cannot take yet waits in a buffer of its own. With -n COUNT the server
 * accepts COUNT clients, serves them to the end, and exits; otherwise it
 * serves until SIGINT (Ctrl-C) or SIGTERM. On exit it closes every socket
 * and removes its socket file.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "lab.sock"
/* Clients that connect in a burst wait in the backlog while the server
 * forks: the most the system allows (listen(2) caps it at somaxconn). */
#define BACKLOG SOMAXCONN
/* The children serving at once, at most; a client beyond is turned away. */
#define MAX_CHILDREN 64
/* The clients served at once, at most; a client beyond is turned away. */
#define MAX_CLIENTS 64
/* The most of a client's reply that waits unwritten; while it is full the
 * server reads nothing more from that client. */
#define REPLY_SIZE 4096
/* How long accept rests after EMFILE or ENFILE (PostgreSQL's postmaster
 * waits 0.1 s too; tmux 1 s). */
#define ACCEPT_PAUSE_MS 100

static volatile sig_atomic_t stop_requested;

/* The pid of each child serving a client now, 0 for a free entry: what a
 * stop signal ends, and nothing else. The SIGCHLD handler removes a child
 * it has reaped; main adds one, and reads the table, only while SIGCHLD is
 * blocked, so the handler never runs in the middle. */
static pid_t children[MAX_CHILDREN];
static sigset_t child_signal; /* { SIGCHLD } */

/* One client of the poll loop: its socket, and the reply that its socket
 * has not taken yet. An entry whose fd is -1 is free. */
struct client {
    int fd;
    char reply[REPLY_SIZE];
    size_t pending; /* bytes of reply not written yet */
    int at_eof;     /* the client has closed its end: nothing more comes */
    size_t echoed;
};

static struct client clients[MAX_CLIENTS];

/* The self-pipe: the stop signal's handler writes a byte to its write end,
 * and the loop polls its read end with the sockets, so a signal is one
 * more thing poll reports. A flag alone, tested before poll, would leave a
 * gap: a signal between the test and the call would wait in poll until
 * the next client came. wake_fd is its write end once it exists (-1
 * before): until then the flag alone says stop. */
static int stop_pipe[2] = {-1, -1};
static volatile sig_atomic_t wake_fd = -1;

/* Only sets a flag: the main loop does the cleanup, outside the handler. */
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    /* TODO(08-poll): once wake_fd is not -1, also write one byte to it
     * (write(2) is async-signal-safe): poll then returns with stop_pipe[0]
     * readable. Ignore the result (a full pipe, EAGAIN, already holds a
     * byte), and save and restore errno around the write. */
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

static void forget_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

/* Reaps every child that has ended. Signals do not queue: one SIGCHLD may
 * stand for several children, so it loops until none is left (WNOHANG: it
 * never waits for one still serving). waitpid may change errno, and the
 * handler can run between a failed call in main and main's look at errno:
 * errno is saved and restored. */
static void on_child_exit(int sig)
{
    int saved_errno = errno;
    pid_t pid;

    (void)sig;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        forget_child(pid);
    errno = saved_errno;
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

/* In a new child: the default actions of SIGINT, SIGTERM and SIGCHLD, and
 * the parent's signal mask before it blocked SIGCHLD. A child has nothing
 * to clean up that the kernel does not do when it ends, so a stop signal
 * ends it at once, wherever it waits. One that came before this point set
 * only the flag: it is looked at last. */
static void restore_signals_in_child(const sigset_t *mask)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) == -1 ||
        sigaction(SIGTERM, &sa, NULL) == -1 ||
        sigaction(SIGCHLD, &sa, NULL) == -1 ||
        sigprocmask(SIG_SETMASK, mask, NULL) == -1) {
        perror("server: restoring the child's signals");
        _exit(EXIT_FAILURE);
    }
    if (stop_requested)
        _exit(EXIT_SUCCESS);
}

/* The entry for a new child, or -1 when MAX_CHILDREN serve already. */
static int free_entry(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0)
            return i;
    return -1;
}

/* Waits until every child has ended. After a stop signal the children
 * still serving are ended with SIGTERM first; otherwise (after -n COUNT)
 * each finishes its client. SIGCHLD stays blocked: this loop, not the
 * handler, reaps now. */
static void end_children(void)
{
    int ended = 0;

    if (sigprocmask(SIG_BLOCK, &child_signal, NULL) == -1)
        perror("server: sigprocmask");
    for (;;) {
        if (stop_requested && !ended) {
            for (int i = 0; i < MAX_CHILDREN; i++)
                if (children[i] != 0 && kill(children[i], SIGTERM) == -1)
                    perror("server: kill");
            ended = 1;
        }
        pid_t pid = waitpid(-1, NULL, 0);
        if (pid > 0)
            forget_child(pid);
        else if (errno == ECHILD)
            break; /* no child left */
        else if (errno != EINTR) {
            perror("server: waitpid");
            break;
        }
    }
}

static void drop_client(struct client *c)
{
    if (close(c->fd) == -1)
        perror("server: close");
    c->fd = -1;
}

/* A free entry of clients, or NULL when MAX_CLIENTS are served already. */
static struct client *free_client(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].fd == -1)
            return &clients[i];
    return NULL;
}

/* What poll is to watch for on this client's socket. */
static short events_of(const struct client *c)
{
    /* TODO(08-poll): POLLIN while the client has not closed its end
     * (at_eof) and its reply has room (pending < REPLY_SIZE); POLLOUT only
     * while some of its reply waits (pending > 0): a socket with room in
     * its buffer is writable nearly always, and asking then would wake
     * poll at once, again and again (README, "Writing without waiting"). */
    (void)c;
    return 0;
}

/* Takes one client from the backlog. Returns -1 only on a failure that
 * ends the server; *resume_at is when to accept again after EMFILE. */
static int handle_new_connection(int lfd, long *accepted, long *resume_at)
{
    /* TODO(08-poll): cfd = accept(lfd, NULL, NULL) on the non-blocking
     * listener. If it fails:
     *  - EAGAIN (or EWOULDBLOCK), EINTR, ECONNABORTED: no client after
     *    all; return 0, and poll again;
     *  - EMFILE or ENFILE: perror("server: accept"), and set *resume_at
     *    to now_ms() + ACCEPT_PAUSE_MS: the client stays in the backlog and
     *    the listener readable, so poll would report it again at once, for
     *    ever (README, "Out of descriptors"); return 0;
     *  - anything else: perror("server: accept"), return -1.
     * Then take c = free_client() (NULL: say so on stderr, close(cfd),
     * return 0), make cfd non-blocking with set_nonblocking (on failure
     * perror("server: fcntl"), close(cfd), return 0), fill in c (fd,
     * pending, at_eof and echoed 0), count it (*accepted += 1), print
     * "server: client connected on fd CFD" and fflush(stdout). */
    (void)lfd;
    (void)accepted;
    (void)resume_at;
    return -1;
}

/* Writes as much of the client's waiting reply as its socket takes now.
 * Returns 0, with the rest still pending after EAGAIN (POLLOUT says when
 * to go on), or -1 when the client has gone. */
static int flush_reply(struct client *c)
{
    /* TODO(08-poll): while c->pending > 0: n = write(c->fd, c->reply,
     * c->pending); EINTR: again; EAGAIN (or EWOULDBLOCK): return 0, the
     * rest waits for POLLOUT; another failure: return -1 (EPIPE: the
     * client has gone). Otherwise the first n bytes went: take them off,
     * pending -= n, and memmove the rest to the front of reply. */
    (void)c;
    return -1;
}

/* Does what poll said the client's socket is ready for, each call without
 * waiting, and drops the client once it is done or gone. */
static void handle_client(struct client *c, short revents)
{
    /* TODO(08-poll):
     *  - if revents has POLLIN, POLLHUP or POLLERR, and the client is not
     *    at_eof, and its reply has room: read(2) at most REPLY_SIZE -
     *    pending bytes into c->reply + c->pending. -1 with EAGAIN or
     *    EINTR: nothing after all; -1 otherwise: perror("server: read"),
     *    drop_client(c), return. 0: at_eof = 1. n > 0: upper-case the n
     *    bytes, pending += n, echoed += n;
     *  - then flush_reply(c); -1: perror("server: write"), drop_client,
     *    return;
     *  - once at_eof and nothing is pending: print "server: client done,
     *    ECHOED bytes echoed", fflush(stdout), drop_client(c). */
    (void)c;
    (void)revents;
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
    /* SA_RESTART: a child that ends is no reason for accept to fail; the
     * kernel restarts it once the handler has reaped the child. */
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    sa.sa_handler = on_child_exit;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGCHLD, &sa, NULL) == -1) {
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

    /* TODO(08-poll): one process serves every client: replace the loop
     * below, its fork and end_children() by a poll(2) loop (README,
     * "One loop, every client"):
     *  - before the loop: make the listening socket non-blocking
     *    (set_nonblocking; perror("server: fcntl")); create the
     *    self-pipe, pipe(stop_pipe), both ends non-blocking
     *    (perror("server: pipe")), then wake_fd = stop_pipe[1]; every
     *    clients[i].fd = -1;
     *  - each turn: stop (break) once -n COUNT clients were accepted and
     *    none is left, or when stop_requested is set; build the poll set:
     *    fds[0] = stop_pipe[0] (POLLIN); fds[1] = the listener (POLLIN),
     *    or -1, which poll leaves out, while accept rests (now_ms() <
     *    resume_at: then poll's timeout is what is left of the rest) or
     *    -n COUNT clients were accepted; then one entry per client with
     *    events_of(client), remembering which client each entry is;
     *  - poll; -1 with EINTR: continue; another -1: perror("server:
     *    poll"), status = EXIT_FAILURE, break; stop_pipe[0] readable:
     *    break; the listener readable: handle_new_connection (-1: status
     *    = EXIT_FAILURE, break); each client entry with revents:
     *    handle_client;
     *  - after the loop: drop_client for every client still there; at
     *    cleanup, close both ends of the self-pipe (when it was made).
     * Then delete what served a client per process: serve_client and
     * write_all (handle_client and flush_reply serve now), on_child_exit,
     * forget_child, children, child_signal, restore_signals_in_child,
     * free_entry, end_children, MAX_CHILDREN, the SIGCHLD sigaction and
     * <sys/wait.h>; and the (void) lines just below, which only keep
     * the compiler quiet about the pieces not used yet. A static function
     * left unused stops the build (-Wunused-function, with -Werror). */
    (void)stop_pipe, (void)wake_fd, (void)set_nonblocking, (void)now_ms;
    (void)drop_client, (void)free_client, (void)events_of;
    (void)handle_new_connection, (void)flush_reply, (void)handle_client;

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

        /* Step 5: fork - a child of its own serves this client, and the
         * parent goes back to accept at once. SIGCHLD is blocked until
         * the parent has noted the child: one that ends at once must not
         * be reaped before it is in the table. */
        sigset_t mask;
        if (sigprocmask(SIG_BLOCK, &child_signal, &mask) == -1) {
            perror("server: sigprocmask");
            status = EXIT_FAILURE;
            close(cfd);
            break;
        }
        int entry = free_entry();
        if (entry == -1) {
            fprintf(stderr, "server: %d clients are served already; "
                    "turning this one away\n", MAX_CHILDREN);
        } else {
            pid_t pid = fork();
            switch (pid) {
            case -1: /* no child: only this client goes without */
                perror("server: fork");
                break;
            case 0: /* the child: this one client, then _exit */
                restore_signals_in_child(&mask);
                /* Only the parent accepts: the child's copy of the
                 * listening socket is closed. */
                if (close(fd) == -1)
                    perror("server: close");
                serve_client(cfd);
                fflush(stdout);
                if (close(cfd) == -1)
                    perror("server: close");
                /* _exit, not exit or return: the parent's cleanup below
                 * (close, unlink) is the parent's alone. */
                _exit(EXIT_SUCCESS);
            default: /* the parent: note the child, and let it serve */
                children[entry] = pid;
                printf("server: client connected on fd %d, served by "
                       "child %ld\n", cfd, (long)pid);
                fflush(stdout);
                break;
            }
        }
        if (sigprocmask(SIG_SETMASK, &mask, NULL) == -1)
            perror("server: sigprocmask");

        /* Step 6: close - the parent's copy of the client's socket: the
         * child has its own, and the client reads end of file only once
         * both are closed. */
        if (close(cfd) == -1)
            perror("server: close");
    }
    end_children();

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
