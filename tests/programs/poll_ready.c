/*
 * poll_ready.c - one poll of a socket that is ready at once.
 *
 * Makes a connected socket pair and polls one end for POLLIN and POLLOUT
 * with a timeout of 5 s: its send buffer has room, so poll returns 1 at
 * once with POLLOUT in revents. Prints poll's result and revents, as
 * "1 4"; under LAB_FAULTS='poll=TIMEOUT', "0 0".
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

int main(void)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        perror("socketpair");
        return 1;
    }
    struct pollfd ready = {.fd = sv[0], .events = POLLIN | POLLOUT};
    int n = poll(&ready, 1, 5000);
    if (n == -1) {
        perror("poll");
        return 1;
    }
    printf("%d %d\n", n, ready.revents);
    return 0;
}
