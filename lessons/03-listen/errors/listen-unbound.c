/*
 * listen-unbound.c - listen() on a socket that was never bound.
 *
 * A listening socket is useless without a name clients can connect to.
 * For TCP, listen(2) on an unbound socket picks a free port by itself (see
 * listen(2) and ip(7)); a Unix domain socket gets no automatic name, and
 * Linux refuses the listen.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    watchdog();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - forgotten. */

    /* Step 3: listen - on a socket with no name. */
    if (listen(fd, 5) == -1)
        perror("listen");

    close(fd);
    return EXIT_SUCCESS;
}
