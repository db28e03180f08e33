/*
 * accept-datagram.c - accept() on a datagram socket.
 *
 * A datagram socket has no connections to accept: each recvfrom(2) takes
 * one message from whoever sent it.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* Steps 1 and 2: a datagram socket, bound. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* Step 4: accept - on a socket type without connections. */
    int conn = accept(fd, NULL, NULL);
    if (conn == -1)
        perror("accept");
    else
        close(conn);

    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
