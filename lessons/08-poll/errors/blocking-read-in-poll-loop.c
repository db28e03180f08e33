/*
 * blocking-read-in-poll-loop.c - a poll loop that reads a client poll did
 * not say was ready, on a blocking socket.
 *
 * One process serves two clients: A says nothing, B sends "hello". poll
 * returns because B is readable, and the loop reads every client in turn,
 * A first: on a blocking socket that read waits for A, who may never
 * speak, and B's request waits with it, as would every other client's.
 * Here a signal ends the wait (read = -1 EINTR) so that the program can
 * go on. Two rules prevent it, and a real server keeps both: read only a
 * socket whose revents has POLLIN, and make every socket non-blocking, so
 * that a read with nothing to read fails with EAGAIN instead of waiting.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>

#include "../../variant.h"

static void on_signal(int sig)
{
    (void)sig;
}

int main(void)
{
    int a[2], b[2], ready[2];
    char buf[16];
    struct sigaction sa;

    watchdog();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the wait ends, EINTR */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die("sigaction");
    if (pipe(ready) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, a) == -1 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, b) == -1)
        die("socketpair");

    pid_t server = getpid();
    pid_t clients = fork_peer("clients");
    if (clients == 0) {
        /* A (a[1]) stays silent; B (b[1]) sends its request at once. */
        if (write(b[1], "hello", 5) != 5)
            die("B: write");
        await(ready[0]);
        signal_when_asleep(server, SIGUSR1);
        _exit(EXIT_SUCCESS);
    }

    struct pollfd fds[2] = {{a[0], POLLIN, 0}, {b[0], POLLIN, 0}};
    if (poll(fds, 2, -1) == -1)
        die("poll");
    printf("poll: A %s, B %s\n", fds[0].revents & POLLIN ? "readable"
           : "not ready", fds[1].revents & POLLIN ? "readable" : "not ready");

    /* The mistake: read every client, whatever poll said. */
    tell(ready[1]);
    for (int i = 0; i < 2; i++) {
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n == -1)
            perror(i == 0 ? "read A (blocking, not ready)" : "read B");
    }
    end_of_peer(clients);

    /* Non-blocking, A's read says "not now" at once. */
    int flags = fcntl(a[0], F_GETFL);
    if (flags == -1 || fcntl(a[0], F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");
    if (read(a[0], buf, sizeof buf) == -1)
        perror("read A, non-blocking");
    return EXIT_SUCCESS;
}
