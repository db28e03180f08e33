/*
 * sendto-stream-server.c - a datagram logger sends to a stream server's
 * socket.
 *
 * Both ends must be of one type: a datagram cannot go to a stream socket,
 * which takes connections and bytes. EPROTOTYPE, as for a stream client's
 * connect to a datagram socket (connect-wrong-type), the other way round.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* The server of lessons 01-06: a stream socket, listening. */
    int server = socket(AF_UNIX, SOCK_STREAM, 0);
    if (server == -1)
        die("socket");
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(server, 5) == -1)
        die("listen");

    /* The logger. Step 1: socket - a datagram socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: sendto - a datagram, to a stream socket. */
    if (sendto(fd, "hello", 5, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");

    close(fd);
    close(server);
    unlink(PATH);
    return EXIT_SUCCESS;
}
