/*
 * server.c - a Unix domain stream socket server, lesson 01: socket.
 *
 * Usage: server (no arguments)
 *
 * Creates a Unix domain stream socket and says which file descriptor the
 * kernel gave it. The next lessons give the socket a name (bind), make it
 * listen, and serve clients with it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char *argv[])
{
    if (argc > 1) {
        fprintf(stderr, "usage: %s (it takes no arguments)\n", argv[0]);
        return 2;
    }

    /* Step 1: socket - create an endpoint for communication. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("server: socket");
        return EXIT_FAILURE;
    }
    printf("server: created socket fd %d\n", fd);

    /* Exiting closes fd; lesson 06 closes it explicitly. */
    return EXIT_SUCCESS;
}
