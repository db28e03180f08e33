/*
 * read-nonblocking-empty.c - read() on a non-blocking socket with no data
 * waiting.
 *
 * A blocking read would wait for the peer; a non-blocking one fails with
 * EAGAIN (also spelled EWOULDBLOCK). It is not an error of the
 * connection, only "not now": wait with poll(2), then read again.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];
    char buf[64];

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == -1)
        die("socketpair");

    /* Step 5: read - the peer has sent nothing yet. */
    if (read(pair[0], buf, sizeof buf) == -1)
        perror("read");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
