/*
 * read-after-peer-closed.c - read() after the peer sent its last bytes and
 * closed.
 *
 * Not an error, and the most important return value of read: first the
 * bytes that were sent, then 0, "end of file", for ever. A loop that
 * reads until read returns -1 never ends; read until 0.
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

    /* The peer: its last words, then it closes. */
    if (write(pair[1], "bye", 3) != 3)
        die("write");
    close(pair[1]);

    /* Step 5: read - the bytes, then end of file, again and again. */
    for (int i = 0; i < 3; i++) {
        ssize_t n = read(pair[0], buf, sizeof buf);
        if (n == -1)
            die("read");
        printf("read returned %zd\n", n);
    }

    close(pair[0]);
    return EXIT_SUCCESS;
}
