/*
 * datagram-too-big.c - sendto() of one datagram larger than the send
 * buffer allows.
 *
 * A datagram goes whole or not at all: unlike a stream write, sendto
 * cannot send part of it. The largest one is the socket's send buffer
 * (SO_SNDBUF, doubled by the kernel) less 32 bytes, unix(7): that one
 * goes; 300000 bytes fail with EMSGSIZE, and nothing is sent.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"
#define TOO_BIG 300000

static char message[TOO_BIG];

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int sndbuf;
    socklen_t len = sizeof sndbuf;

    watchdog();

    /* The collector: a datagram socket, bound; it never receives. */
    int collector = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (collector == -1)
        die("socket");
    if (bind(collector, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* The logger. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == -1)
        die("getsockopt");
    printf("SO_SNDBUF is %d bytes: the largest datagram is %d bytes\n",
           sndbuf, sndbuf - 32);
    fflush(stdout);

    /* Step 4: sendto - the largest datagram, which goes... */
    if (sendto(fd, message, (size_t)sndbuf - 32, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");
    /* ...and one of 300000 bytes, which cannot. */
    if (sendto(fd, message, sizeof message, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");

    close(fd);
    close(collector);
    unlink(PATH);
    return EXIT_SUCCESS;
}
