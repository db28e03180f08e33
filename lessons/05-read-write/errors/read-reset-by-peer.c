/*
 * read-reset-by-peer.c - read() after the peer closed with our data unread.
 *
 * We sent a request; the peer closed its socket without reading it. The
 * kernel then does not report a clean end of file, but a reset: the next
 * read fails with ECONNRESET (once; after it, read returns 0). A client
 * sees this when the server gives up on a request (a crash, a refusal)
 * without reading it.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];
    char buf[64];

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 5: write - a request the peer will never read. */
    if (write(pair[0], "request", 7) != 7)
        die("write");

    /* The peer closes with the request still in its queue. */
    close(pair[1]);

    /* Step 5: read - the answer that will never come. */
    for (int i = 0; i < 2; i++) {
        ssize_t n = read(pair[0], buf, sizeof buf);
        if (n == -1)
            perror("read");
        else
            printf("read returned %zd\n", n);
    }

    close(pair[0]);
    return EXIT_SUCCESS;
}
