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

    int fd = -1;

    /* Step 1: socket - create an endpoint for communication. */
    /* TODO(01-socket): create a Unix domain stream socket: call socket(2)
     * with the domain AF_UNIX, the type SOCK_STREAM and the protocol 0, and
     * store the file descriptor it returns in fd. socket returns -1 when
     * it fails: then report why with perror("server: socket") and return
     * EXIT_FAILURE. */

    printf("server: created socket fd %d\n", fd);

    /* Exiting closes fd; lesson 06 closes it explicitly. */
    return EXIT_SUCCESS;
}
