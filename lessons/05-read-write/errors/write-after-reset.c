/*
 * write-after-reset.c - write() after the peer closed with our data unread.
 *
 * We sent a request; the peer closed its socket without reading it. The
 * kernel marks the connection reset, yet the next write does not fail
 * with ECONNRESET, which send(2) lists: on Linux a Unix domain stream
 * socket answers every write to a closed peer with EPIPE (and SIGPIPE,
 * ignored here). Only read reports the reset (see read-reset-by-peer).
 * Treat EPIPE and ECONNRESET alike: the peer is gone.
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

    /* Step 5: write - a request the peer will never read. */
    if (write(pair[0], "request", 7) != 7)
        die("write");

    /* The peer closes with the request still in its queue. */
    close(pair[1]);

    /* Step 5: write again - to the peer that reset the connection. */
    if (write(pair[0], "more", 4) == -1)
        perror("write");
    /* And read: here is the reset. */
    if (read(pair[0], buf, sizeof buf) == -1)
        perror("read");

    close(pair[0]);
    return EXIT_SUCCESS;
}
