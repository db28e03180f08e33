/*
 * connect-wrong-type.c - a stream client connects to a datagram socket.
 *
 * Both ends of a connection must be of the same type: the server was
 * created with SOCK_DGRAM, the client with SOCK_STREAM.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* The server: a datagram socket, bound. */
    int server = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (server == -1)
        die("socket");
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* The client. Step 1: socket - a stream socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - stream to datagram. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    close(server);
    unlink(PATH);
    return EXIT_SUCCESS;
}
