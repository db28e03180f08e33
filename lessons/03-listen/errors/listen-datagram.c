/*
 * listen-datagram.c - listen() on a datagram socket.
 *
 * SOCK_DGRAM has no connections, so it has nothing to listen for: the
 * server was created with the wrong type.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();

    /* Step 1: socket - SOCK_DGRAM where SOCK_STREAM was meant. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* Step 3: listen - on a datagram socket. */
    if (listen(fd, 5) == -1)
        perror("listen");

    close(fd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
