/*
 * bind-twice.c - bind() a socket that already has an address.
 *
 * A socket is named once: the second bind, to another path, is refused
 * with EINVAL, and the first name stays. Bound again to its own path, the
 * same socket gets EADDRINUSE instead: Linux first tries to create the
 * socket file, and a file is there already (its own).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un first = unix_address("first.sock");
    struct sockaddr_un second = unix_address("second.sock");

    watchdog();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - once, which works... */
    if (bind(fd, (struct sockaddr *)&first, sizeof first) == -1)
        die("bind");

    /* ...a second time, on the same socket, to another path... */
    if (bind(fd, (struct sockaddr *)&second, sizeof second) == -1)
        perror("second bind");

    /* ...and a third time, to the path it already has. */
    if (bind(fd, (struct sockaddr *)&first, sizeof first) == -1)
        perror("third bind");

    close(fd);
    unlink("first.sock");
    return EXIT_SUCCESS;
}
