/*
 * ppoll_wait.c - ppoll(2) with the signals it lets in, as lesson 06's
 * README cures its gap: SIGUSR1 blocked everywhere but in ppoll's wait.
 *
 * On one end of a connected socket pair, four ppolls, each printed as
 * "RESULT REVENTS ERRNO-NAME HANDLED" on a line of its own:
 *   1. a timeout of 10 ms with nothing to read: it waits, and returns 0;
 *   2. a byte written first, no timeout: 1, POLLIN, at once;
 *   3. SIGUSR1 raised while blocked, then no timeout: the mask lets the
 *      pending signal in as ppoll begins: -1 EINTR at once, handler run;
 *   4. a mask of NULL with SIGUSR1 blocked and pending, a timeout of 0:
 *      SIGUSR1 stays blocked (0, handler not run again).
 * Under LAB_FAULTS='ppoll#2=TIMEOUT' the second prints "0 0 - 0".
 */
#define _GNU_SOURCE /* ppoll */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_signal(int sig)
{
    (void)sig;
    handled++;
}

static void said(int n, const struct pollfd *p)
{
    printf("%d %d %s %d\n", n, n == -1 ? 0 : p->revents,
           n == -1 && errno == EINTR ? "EINTR" : n == -1 ? "other" : "-",
           (int)handled);
    fflush(stdout);
}

int main(void)
{
    int sv[2];
    struct sigaction sa;
    sigset_t usr1, unblocked;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    if (sigaction(SIGUSR1, &sa, NULL) == -1 ||
        sigprocmask(SIG_BLOCK, &usr1, &unblocked) == -1 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        perror("ppoll_wait");
        return 1;
    }
    struct pollfd p = {.fd = sv[0], .events = POLLIN};
    struct timespec ten_ms = {0, 10000000}, zero = {0, 0};

    said(ppoll(&p, 1, &ten_ms, &unblocked), &p);
    if (write(sv[1], "x", 1) != 1) {
        perror("ppoll_wait: write");
        return 1;
    }
    said(ppoll(&p, 1, NULL, &unblocked), &p);
    char c;
    if (read(sv[0], &c, 1) != 1) {
        perror("ppoll_wait: read");
        return 1;
    }
    raise(SIGUSR1); /* blocked: it stays pending */
    said(ppoll(&p, 1, NULL, &unblocked), &p);
    raise(SIGUSR1);
    said(ppoll(&p, 1, &zero, NULL), &p);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
