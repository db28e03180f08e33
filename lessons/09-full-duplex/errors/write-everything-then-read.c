/*
 * write-everything-then-read.c - a client that writes its whole request
 * before it reads any of the reply, to a server that answers as it reads.
 *
 * The server (a child here) echoes each piece as it reads it. Once its
 * answers fill the client's socket, which nobody reads, the server's write
 * waits; while it waits it reads nothing more, so the request fills the
 * server's socket, and the client's write waits too. Each waits for the
 * other to read: a deadlock. Only a timer ends it here (SIGALRM after 1 s,
 * a handler without SA_RESTART: the client's write returns what it had
 * sent). The variant prints this machine's socket buffer sizes and how
 * far each side got, about one buffer each way; then the client shuts
 * down its reading side, and the server's write fails with EPIPE.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define REQUEST (4 * 1024 * 1024)

static char request[REQUEST];
static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
    (void)sig;
    alarmed = 1;
}

static int buffer_size(int fd, int option)
{
    int size;
    socklen_t len = sizeof size;
    if (getsockopt(fd, SOL_SOCKET, option, &size, &len) == -1)
        die("getsockopt");
    return size;
}

/* The server: echoes each piece of 64 KiB as soon as it has read it,
 * with a write that waits for room, as a server of one client at a time
 * does. MSG_WAITALL makes each piece whole, so that every run reads and
 * writes the same pieces, whatever the timing. */
static void serve(int fd, int report)
{
    static char buf[65536];
    size_t echoed = 0;
    ssize_t n;

    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die("signal");
    while ((n = recv(fd, buf, sizeof buf, MSG_WAITALL)) > 0) {
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, (size_t)(n - done));
            if (w == -1) {
                /* EPIPE: the client has gone. */
                if (write(report, &echoed, sizeof echoed) == -1)
                    die("write to the pipe");
                exit(EXIT_SUCCESS);
            }
            done += w;
            echoed += (size_t)w;
        }
    }
    die("read: the client never left");
}

int main(void)
{
    int pair[2], report[2];
    struct sigaction sa;
    size_t echoed = 0, sent = 0;

    watchdog();
    memset(request, 'x', sizeof request);

    /* A connected pair (like connect + accept, without a socket file). */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1 || pipe(report) == -1)
        die("socketpair");
    printf("buffers: SO_SNDBUF %d and SO_RCVBUF %d bytes on each socket "
           "(net.core.wmem_default and rmem_default)\n",
           buffer_size(pair[0], SO_SNDBUF), buffer_size(pair[0], SO_RCVBUF));

    pid_t server = fork_peer("server");
    if (server == 0) {
        close(pair[0]);
        serve(pair[1], report[1]);
    }
    close(pair[1]);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) == -1)
        die("sigaction");
    alarm(1);

    /* Step 5: write - the whole request first, the mistake. */
    while (sent < REQUEST && !alarmed) {
        ssize_t n = write(pair[0], request + sent, REQUEST - sent);
        if (n == -1 && errno == EINTR)
            break;
        if (n == -1)
            die("write");
        sent += (size_t)n;
    }
    watchdog();
    printf("deadlock: after 1 s the client had written %zu of %d bytes and "
           "read none of the reply; the server was %s\n", sent, REQUEST,
           process_state(server) == 'S' ? "asleep in write" : "running");

    /* The client gives up reading: the server's write fails with EPIPE. */
    if (shutdown(pair[0], SHUT_RD) == -1)
        die("shutdown");
    if (read(report[0], &echoed, sizeof echoed) != (ssize_t)sizeof echoed)
        die("read from the pipe");
    end_of_peer(server);
    close(pair[0]);
    printf("the server had echoed %zu bytes, all waiting unread in the "
           "client's socket\n", echoed);
    return EXIT_SUCCESS;
}
