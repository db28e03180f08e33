/*
 * connect-backlog-full.c - non-blocking clients connect to a server that
 * never accepts.
 *
 * Each connection waits in the listening socket's backlog until accept(2)
 * takes it. listen(fd, 2) asks for a backlog of 2; on Linux a Unix domain
 * listener admits backlog + 1 connections (it refuses only when the queue
 * is longer than the backlog), and then a non-blocking connect fails with
 * EAGAIN - not EINPROGRESS, the answer of TCP sockets and of many
 * tutorials. A blocking connect would wait for room instead.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"
#define BACKLOG 2
#define MAX_CLIENTS 16

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int clients[MAX_CLIENTS];
    int n = 0;

    watchdog();

    /* The server's steps 1 to 3, and then never an accept. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, BACKLOG) == -1)
        die("listen");

    /* Clients connect, one after another, until the backlog is full. */
    while (n < MAX_CLIENTS) {
        /* Step 1: socket - non-blocking, so a full backlog is an error
         * rather than a wait. */
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd == -1)
            die("socket");
        /* Step 4: connect. */
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
            fprintf(stderr, "connect number %d: %s\n", n + 1,
                    strerror(errno));
            close(fd);
            break;
        }
        clients[n++] = fd;
    }
    printf("listen(fd, %d) admitted %d connections\n", BACKLOG, n);

    while (n > 0)
        close(clients[--n]);
    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
