/*
 * listen-connected.c - listen() on a socket that is already connected.
 *
 * A socket is either a listening socket or one end of a connection, never
 * both: here the connected end that accept(2) returned is passed to
 * listen by mistake, instead of the listening one.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    int pair[2];

    watchdog();

    /* Steps 1 and 4 at once: socketpair(2) gives two connected sockets,
     * like a connect and its accept, without a socket file. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 3: listen - on a connected socket. */
    if (listen(pair[0], 5) == -1)
        perror("listen");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
