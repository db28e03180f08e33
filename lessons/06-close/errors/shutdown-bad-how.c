/*
 * shutdown-bad-how.c - shutdown() with a "how" that is not SHUT_RD,
 * SHUT_WR or SHUT_RDWR.
 *
 * The values are 0, 1 and 2; anything else (here 3, as if SHUT_RD and
 * SHUT_WR could be OR-ed together: they cannot, SHUT_RDWR is 2) is
 * refused.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 6: shutdown - with an invalid direction. */
    if (shutdown(pair[0], SHUT_RD | SHUT_WR | SHUT_RDWR) == -1)
        perror("shutdown");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
