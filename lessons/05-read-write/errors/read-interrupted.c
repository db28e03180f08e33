/*
 * read-interrupted.c - a signal arrives while read() waits for data.
 *
 * As with accept (see accept-interrupted in lesson 04), a handler
 * installed without SA_RESTART makes the waiting read fail with EINTR:
 * nothing was read, nothing is lost, and the right answer is to read
 * again. A loop that treats every -1 as the end of the connection drops
 * a healthy client here. The second read retries on EINTR and gets the
 * data when it comes; a handler installed with SA_RESTART would have the
 * kernel retry by itself (see accept-interrupted).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static volatile sig_atomic_t signals_caught;

static void on_signal(int sig)
{
    (void)sig;
    signals_caught++;
}

static void install_handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die("sigaction");
}

int main(void)
{
    int pair[2], ready[2];
    char buf[64];

    watchdog();
    if (pipe(ready) == -1)
        die("pipe");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    pid_t reader = getpid();
    pid_t peer = fork_peer("peer");
    if (peer == 0) {
        /* The peer: interrupts the first read, then sends data. */
        close(pair[0]);
        await(ready[0]);
        signal_when_asleep(reader, SIGUSR1);
        await(ready[0]);
        if (write(pair[1], "late data", 9) != 9)
            die("write");
        close(pair[1]);
        exit(EXIT_SUCCESS);
    }
    close(pair[1]);

    /* Step 5: read, with a handler installed without SA_RESTART. */
    install_handler(0);
    tell(ready[1]);
    ssize_t n = read(pair[0], buf, sizeof buf);
    if (n == -1)
        perror("read without SA_RESTART");
    printf("without SA_RESTART: %d signal caught, read returned %zd\n",
           (int)signals_caught, n);

    /* Step 5 again, as it should be: EINTR means "try again". */
    tell(ready[1]);
    while ((n = read(pair[0], buf, sizeof buf)) == -1 && errno == EINTR)
        continue;
    if (n == -1)
        die("read");
    printf("read again: %zd bytes\n", n);

    close(pair[0]);
    end_of_peer(peer);
    return EXIT_SUCCESS;
}
