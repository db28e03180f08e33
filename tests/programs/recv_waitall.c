/*
 * recv_waitall.c - recv(2) with MSG_WAITALL on a stream socket, which
 * waits for all it asked for even when some bytes are there already.
 *
 * On one end of a connected socket pair, three recvs of 6 bytes with
 * MSG_WAITALL, each printed as "RESULT ERRNO-NAME" on a line of its own:
 *   1. 6 bytes queued: 6, at once;
 *   2. 3 bytes queued, the peer still open: it waits, until a timer's
 *      SIGALRM (a handler without SA_RESTART) cuts it short: 3 (the
 *      timer repeats, in case its first signal comes before the recv);
 *   3. 3 bytes queued, then the peer's end of file: 3, at once.
 * The trace announces the wait of the second only.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
    (void)sig;
}

static void said(ssize_t n)
{
    printf("%zd %s\n", n, n == -1 && errno == EINTR ? "EINTR"
                          : n == -1                ? "other"
                                                   : "-");
    fflush(stdout);
}

int main(void)
{
    int sv[2];
    char buf[6];
    struct sigaction sa;
    struct itimerval soon = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) == -1 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
        return 1;
    if (write(sv[1], "abcdef", 6) != 6)
        return 1;
    said(recv(sv[0], buf, sizeof buf, MSG_WAITALL));
    if (write(sv[1], "abc", 3) != 3 || setitimer(ITIMER_REAL, &soon, NULL))
        return 1;
    said(recv(sv[0], buf, sizeof buf, MSG_WAITALL));
    if (setitimer(ITIMER_REAL, &off, NULL) == -1 ||
        write(sv[1], "abc", 3) != 3 || shutdown(sv[1], SHUT_WR) == -1)
        return 1;
    said(recv(sv[0], buf, sizeof buf, MSG_WAITALL));
    return 0;
}
