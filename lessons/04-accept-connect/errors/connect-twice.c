/*
 * connect-twice.c - connect() a socket that is already connected.
 *
 * A stream socket connects once, for its whole life; to reach another
 * server (or the same one again) a program needs a new socket.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* The server's steps 1 to 3: its backlog takes the connection, so no
     * accept (and no second process) is needed for connect to succeed. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* The client. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - once, which works, then again. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("second connect");

    close(fd);
    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
