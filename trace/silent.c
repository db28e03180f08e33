/*
 * silent.c - a client of the lab's own that connects and says nothing.
 *
 * Usage: silent [SOCKET_PATH]
 *
 * Connects to SOCKET_PATH (default: lab.sock in the current directory),
 * then sends nothing and waits in read until the server ends the
 * connection, or a signal ends it. The steps of lessons 07 and 08 (the
 * step "connect" of lessons/lessons.json) run it beside the lab's client:
 * a server that serves one client at a time waits for it, and the other
 * clients with it; a server that serves many at once does not. It is
 * traced like the lessons' programs, so that the trace and the pictures
 * show it.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    const char *path = argc > 1 ? argv[1] : "lab.sock";
    struct sockaddr_un addr;
    char byte;
    ssize_t n;

    if (argc > 2 || strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "usage: silent [SOCKET_PATH]\n");
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, path);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("silent: socket");
        return EXIT_FAILURE;
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        perror("silent: connect");
        close(fd);
        return EXIT_FAILURE;
    }
    /* Say nothing; whatever comes (nothing, from the lab's servers) is
     * read until end of file: the server has closed the connection. */
    while ((n = read(fd, &byte, 1)) > 0 || (n == -1 && errno == EINTR))
        continue;
    if (n == -1)
        perror("silent: read");
    if (close(fd) == -1) {
        perror("silent: close");
        return EXIT_FAILURE;
    }
    return n == -1 ? EXIT_FAILURE : EXIT_SUCCESS;
}
