/*
 * write-after-shutdown.c - write() after shutdown(fd, SHUT_WR).
 *
 * shutdown(SHUT_WR) says "I have finished sending" (the peer's read
 * returns 0) while the socket stays open for reading the answer. Writing
 * after it is writing to a closed pipe: EPIPE, and SIGPIPE, ignored here
 * so that the program survives to report it (see write-after-peer-closed).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];
    char buf[64];

    watchdog();
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die("signal");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* The request, then "no more from me". */
    if (write(pair[0], "request", 7) != 7)
        die("write");
    if (shutdown(pair[0], SHUT_WR) == -1)
        die("shutdown");

    /* The peer reads the request, then end of file. */
    if (read(pair[1], buf, sizeof buf) != 7 || read(pair[1], buf, sizeof buf) != 0)
        die("read");

    /* Step 5: write - after our own shutdown. */
    if (write(pair[0], "more", 4) == -1)
        perror("write");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
