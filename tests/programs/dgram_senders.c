/*
 * dgram_senders.c - datagrams from two senders, received in one loop.
 *
 * Usage: dgram_senders
 *
 * Binds a SOCK_DGRAM socket to in.sock and two senders to a.sock and
 * b.sock. a sends six datagrams, b one, a three more; then one recvfrom,
 * in a loop, takes all ten. The loop is a run of like calls, but for the
 * one from b: the trace must show it, not count it with a's.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "address.h"

static int bound(const char *path)
{
    struct sockaddr_un a = address_of(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof a) == -1) {
        perror(path);
        exit(1);
    }
    return fd;
}

int main(void)
{
    const char *paths[] = {"in.sock", "a.sock", "b.sock"};
    int in = bound(paths[0]), a = bound(paths[1]), b = bound(paths[2]);
    struct sockaddr_un to = address_of(paths[0]);

    /* Send: a six times, b once, a three times. */
    for (int i = 0; i < 10; i++)
        if (sendto(i == 6 ? b : a, "x", 1, 0, (struct sockaddr *)&to,
                   sizeof to) != 1) {
            perror("sendto");
            return 1;
        }
    /* Receive all ten at one line. */
    for (int i = 0; i < 10; i++) {
        char buf[16];
        struct sockaddr_un from;
        socklen_t len = sizeof from;
        if (recvfrom(in, buf, sizeof buf, 0, (struct sockaddr *)&from,
                     &len) != 1) {
            perror("recvfrom");
            return 1;
        }
    }
    for (int i = 0; i < 3; i++)
        unlink(paths[i]);
    return 0;
}
