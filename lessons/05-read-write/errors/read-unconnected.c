/*
 * read-unconnected.c - read() on a stream socket that was never connected.
 *
 * A new socket has no peer, so there is nothing to read from. Linux
 * answers EINVAL for a Unix domain stream socket, which read(2) lists for
 * an fd "attached to an object which is unsuitable for reading". Only
 * recv(2) lists ENOTCONN, for a socket not connected; Linux answers recv
 * here with EINVAL too. (The usual cause in a server: reading from the
 * listening socket, see read-listening-socket.)
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    char buf[64];

    watchdog();

    /* Step 1: socket - and no connect. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 5: read - from nobody. */
    if (read(fd, buf, sizeof buf) == -1)
        perror("read");

    close(fd);
    return EXIT_SUCCESS;
}
