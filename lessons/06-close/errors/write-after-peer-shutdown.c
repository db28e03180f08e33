/*
 * write-after-peer-shutdown.c - write() to a peer that has shut down its
 * reading side, shutdown(fd, SHUT_RD).
 *
 * SHUT_RD says "I will read no more". Linux takes the peer at its word:
 * our next write fails with EPIPE (and SIGPIPE, ignored here), as if the
 * peer had closed, though its socket is still open. The bytes could
 * never be read, so the kernel does not queue them.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];

    watchdog();
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die("signal");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* The peer: no more reading. */
    if (shutdown(pair[1], SHUT_RD) == -1)
        die("shutdown");

    /* Step 5: write - to a peer that reads no more. */
    if (write(pair[0], "request", 7) == -1)
        perror("write");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
