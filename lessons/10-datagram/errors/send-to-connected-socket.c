/*
 * send-to-connected-socket.c - a datagram sent to a socket that is
 * connected to another peer.
 *
 * connect on a datagram socket fixes its peer: the address its sends go
 * to by default, and the only one it receives from (connect(2)). Linux
 * refuses a datagram from any other socket with EPERM, at sendto as at
 * connect; no man page lists EPERM for this.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("log.sock");
    struct sockaddr_un peer_addr = unix_address("peer.sock");

    watchdog();

    /* The collector, bound, and connected to another socket, its peer. */
    int collector = socket(AF_UNIX, SOCK_DGRAM, 0);
    int peer = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (collector == -1 || peer == -1)
        die("socket");
    if (bind(collector, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        bind(peer, (struct sockaddr *)&peer_addr, sizeof peer_addr) == -1)
        die("bind");
    if (connect(collector, (struct sockaddr *)&peer_addr,
                sizeof peer_addr) == -1)
        die("connect");

    /* The logger. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: sendto - to the collector, which has another peer. */
    if (sendto(fd, "hello", 5, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");
    /* Step 3 of logger -c: connect - refused the same way. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    close(peer);
    close(collector);
    unlink("log.sock");
    unlink("peer.sock");
    return EXIT_SUCCESS;
}
