/*
 * read-timeout.c - a blocking read() on a socket with a receive timeout,
 * and no data.
 *
 * SO_RCVTIMEO (socket(7)) bounds how long a blocking read waits. When the
 * time runs out with nothing read, read fails with EAGAIN, the errno of a
 * non-blocking socket, though this socket is blocking (recv(2) says so;
 * read(2) does not). A loop that retries only on EINTR, or that takes
 * EAGAIN for "impossible here", mistakes the timeout for a failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/time.h>

#include "../../variant.h"

int main(void)
{
    int pair[2];
    char buf[64];
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 200000}; /* 0.2 s */

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    if (setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof timeout) == -1)
        die("setsockopt SO_RCVTIMEO");

    /* Step 5: read - blocking, but only for 0.2 s; the peer sends nothing. */
    if (read(pair[0], buf, sizeof buf) == -1)
        perror("read");

    close(pair[1]);
    close(pair[0]);
    return EXIT_SUCCESS;
}
