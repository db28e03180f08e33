/*
 * short-write-nonblocking.c - a write of more than the socket takes, on a
 * non-blocking socket whose peer does not read.
 *
 * A blocking write waits until all its bytes have gone; a non-blocking
 * one sends what fits and returns that count, a short write, and the next
 * write, with no room left at all, fails with EAGAIN. A program that
 * takes the count for the whole buffer loses the rest; one that takes
 * EAGAIN for an error drops a client that is only slow. Both are
 * "later": keep the rest, and write it when poll says POLLOUT.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define SIZE (1024 * 1024)

static char data[SIZE];

int main(void)
{
    int pair[2];
    int size;
    socklen_t len = sizeof size;

    watchdog();
    memset(data, 'x', sizeof data);

    /* A connected pair; the peer, pair[1], never reads. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    if (getsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &size, &len) == -1)
        die("getsockopt");

    /* Non-blocking, as every socket of a poll loop. */
    int flags = fcntl(pair[0], F_GETFL);
    if (flags == -1 || fcntl(pair[0], F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");

    /* Step 5: write - 1 MiB at once. */
    ssize_t n = write(pair[0], data, sizeof data);
    if (n == -1)
        die("write");
    printf("wrote %zd of %d bytes: a short write (SO_SNDBUF is %d)\n", n,
           SIZE, size);

    /* Step 5 again: the rest, with no room left. */
    if (write(pair[0], data + n, sizeof data - (size_t)n) == -1)
        printf("then write: %s: no room now; the rest waits for POLLOUT\n",
               strerror(errno));

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
