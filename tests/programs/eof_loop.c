/*
 * eof_loop.c - a read loop that does not stop at end of file, as a
 * learner's first server often does.
 *
 * Usage: eof_loop READS
 *
 * Makes a connected socket pair, sends "hi" through it and closes the
 * sending end; then reads READS times, though every read after the first
 * returns 0 (end of file). READS of 0 reads forever.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    int sv[2];
    char buf[64];

    if (argc != 2) {
        fprintf(stderr, "usage: eof_loop READS\n");
        return 2;
    }
    long reads = atol(argv[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
        perror("socketpair");
        return 1;
    }
    if (write(sv[0], "hi", 2) != 2 || close(sv[0]) == -1) {
        perror("write");
        return 1;
    }
    for (long i = 0; reads == 0 || i < reads; i++)
        if (read(sv[1], buf, sizeof buf) == -1) { /* the mistake: no test for 0 */
            perror("read");
            return 1;
        }
    return close(sv[1]) == -1;
}
