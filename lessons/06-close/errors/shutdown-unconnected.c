/*
 * shutdown-unconnected.c - shutdown() on a socket that is not connected.
 *
 * shutdown ends one direction of a connection, and shutdown(2) lists
 * ENOTCONN for a socket that is not connected. Linux does not check, for a
 * Unix domain socket: the call succeeds, and does nothing useful. So a
 * shutdown that returns 0 does not prove there was a connection. (To
 * release a socket, connected or not, close it.)
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    watchdog();

    /* Step 1: socket - never connected. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 6: shutdown - of no connection. */
    if (shutdown(fd, SHUT_WR) == -1)
        perror("shutdown");
    else
        printf("shutdown of an unconnected socket returned 0\n");

    close(fd);
    return EXIT_SUCCESS;
}
