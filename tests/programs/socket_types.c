/*
 * socket_types.c - socket(AF_UNIX, TYPE, 0) for the TYPE on the command
 * line: the trace names each type Linux has, though AF_UNIX accepts only
 * SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET.
 *
 * Usage: socket_types TYPE [nonblock]
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc < 2)
        return 2;
    int type = atoi(argv[1]) | (argc > 2 ? SOCK_NONBLOCK : 0);
    int fd = socket(AF_UNIX, type, 0);
    return fd != -1 && close(fd) == -1;
}
