/*
 * accept-nonblocking-empty.c - accept() on a non-blocking listening socket
 * when no client has connected.
 *
 * A blocking accept would wait; a non-blocking one says "not now". A
 * program that makes its listener non-blocking must wait for it to become
 * readable (poll(2)) before accepting.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* Step 1: socket - non-blocking. */
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (listener == -1)
        die("socket");

    /* Steps 2 and 3: bind, listen. */
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* Step 4: accept - with no client in the backlog. */
    int conn = accept(listener, NULL, NULL);
    if (conn == -1)
        perror("accept");
    else
        close(conn);

    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
