/*
 * byte_pump.c - bytes through a socket pair, one at a time: a run of
 * calls that move data, still going when the program exits.
 *
 * Usage: byte_pump ROUNDS
 *
 * Makes a connected socket pair, then ROUNDS times writes one byte into
 * one end and reads it from the other; then exits without closing either
 * end (the kernel closes them). ROUNDS of 0 goes on until killed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int sv[2];
    char byte;

    if (argc != 2) {
        fprintf(stderr, "usage: byte_pump ROUNDS\n");
        return 2;
    }
    long rounds = atol(argv[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        perror("socketpair");
        return 1;
    }
    for (long i = 0; rounds == 0 || i < rounds; i++) {
        if (write(sv[0], "x", 1) != 1) {
            perror("write");
            return 1;
        }
        if (read(sv[1], &byte, 1) != 1) {
            perror("read");
            return 1;
        }
    }
    return 0;
}
