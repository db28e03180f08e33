/*
 * connect-listening-socket.c - connect() on the server's own listening
 * socket.
 *
 * A listening socket only receives connections; it never makes one. A
 * program that mixes up its fds and connects with the listening one gets
 * EINVAL: the address is fine, the socket is in the wrong state. A client
 * needs a socket of its own (step 1 again).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    /* The server's steps 1 to 3. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* Step 4: connect - with the listening socket, not a new one. */
    if (connect(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
