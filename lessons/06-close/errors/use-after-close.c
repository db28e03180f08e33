/*
 * use-after-close.c - write() to an fd that has been closed.
 *
 * After close, the number means nothing (until the next open, socket or
 * accept reuses it: then the write would go to the wrong place, without
 * any error).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 6: close - and then the fd is used again. */
    close(pair[0]);

    /* Step 5: write - on the closed fd. */
    if (write(pair[0], "hello", 5) == -1)
        perror("write");

    close(pair[1]);
    return EXIT_SUCCESS;
}
