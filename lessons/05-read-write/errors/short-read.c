/*
 * short-read.c - a stream has no message boundaries.
 *
 * One write of 13 bytes, read with a 5-byte buffer: three reads, of 5, 5
 * and 3 bytes. Then two writes, "hello, " and "socket", read with a big
 * buffer: one read returns both. read returns what is there, up to the
 * size asked for, never "one message": a protocol on a stream must mark
 * its own boundaries (a length, or a newline) and loop until it has a
 * whole message.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define SMALL 5

int main(void)
{
    int pair[2];
    char buf[64];
    ssize_t n;

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* One write... */
    if (write(pair[1], "hello, socket", 13) != 13)
        die("write");
    /* ...several reads. */
    for (size_t got = 0; got < 13; got += (size_t)n)
        if ((n = read(pair[0], buf, SMALL)) <= 0)
            die("read");

    /* Two writes... */
    if (write(pair[1], "hello, ", 7) != 7 || write(pair[1], "socket", 6) != 6)
        die("write");
    /* ...one read. */
    if ((n = read(pair[0], buf, sizeof buf)) <= 0)
        die("read");
    printf("one read returned %zd bytes: %.*s\n", n, (int)n, buf);

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
