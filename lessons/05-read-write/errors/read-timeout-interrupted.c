/*
 * read-timeout-interrupted.c - a signal arrives while read() waits on a
 * socket that has a receive timeout, its handler installed with
 * SA_RESTART.
 *
 * SA_RESTART asks the kernel to restart a call that a handler interrupted
 * (see accept-interrupted), but not every call: a socket call with a
 * timeout set (SO_RCVTIMEO, SO_SNDTIMEO) fails with EINTR all the same
 * (signal(7) lists them). A program that counts on SA_RESTART and gives
 * its sockets timeouts must handle EINTR anyway.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/time.h>

#include "../../variant.h"

static volatile sig_atomic_t signals_caught;

static void on_signal(int sig)
{
    (void)sig;
    signals_caught++;
}

int main(void)
{
    int pair[2], ready[2];
    char buf[64];
    struct sigaction sa;
    struct timeval timeout = {.tv_sec = 3, .tv_usec = 0};

    watchdog();
    if (pipe(ready) == -1)
        die("pipe");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* restart interrupted calls, please */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die("sigaction");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    if (setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof timeout) == -1)
        die("setsockopt SO_RCVTIMEO");

    pid_t reader = getpid();
    pid_t peer = fork_peer("peer");
    if (peer == 0) {
        /* The peer: interrupts the read, and sends nothing. */
        await(ready[0]);
        signal_when_asleep(reader, SIGUSR1);
        exit(EXIT_SUCCESS);
    }

    /* Step 5: read - with a timeout of 3 s, and SA_RESTART. */
    tell(ready[1]);
    ssize_t n = read(pair[0], buf, sizeof buf);
    if (n == -1)
        perror("read with SA_RESTART and SO_RCVTIMEO");
    printf("%d signal caught, read returned %zd\n", (int)signals_caught, n);

    close(pair[1]);
    close(pair[0]);
    end_of_peer(peer);
    return EXIT_SUCCESS;
}
