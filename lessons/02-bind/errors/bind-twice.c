/*
 * bind-twice.c - bind() a socket that already has an address.
 *
 * A socket is named once: the second bind, to another path, is refused,
 * and the first name stays.
 */
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

    /* ...and a second time, on the same socket. */
    if (bind(fd, (struct sockaddr *)&second, sizeof second) == -1)
        perror("second bind");

    close(fd);
    unlink("first.sock");
    return EXIT_SUCCESS;
}
