/*
 * send-to-gone-collector.c - sendto() to a socket file whose collector has
 * closed its socket without removing the file.
 *
 * The file is there, but no socket is bound behind it: the datagram is
 * refused at once, ECONNREFUSED, as lesson 04's connect to a dead
 * server's file was. The logger learns it at every send.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* A collector that exited without unlink: its file stays. */
    int collector = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (collector == -1)
        die("socket");
    if (bind(collector, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    close(collector);

    /* The logger. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: sendto - to the file a gone collector left. */
    if (sendto(fd, "hello", 5, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");

    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
