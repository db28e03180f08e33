/*
 * accept-without-listen.c - accept() on a bound socket that never called
 * listen().
 *
 * bind gives the socket a name, but only listen makes it passive, with a
 * queue of connections to accept from.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* Step 3: listen - forgotten. */

    /* Step 4: accept - on a socket that is not listening. */
    int conn = accept(fd, NULL, NULL);
    if (conn == -1)
        perror("accept");
    else
        close(conn);

    close(fd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
