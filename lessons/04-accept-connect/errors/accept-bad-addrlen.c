/*
 * accept-bad-addrlen.c - accept() with an address buffer whose length
 * argument holds a negative number.
 *
 * When accept gets a buffer for the client's address, *addrlen must hold
 * the size of that buffer (accept(2)). Here it holds -1, as a socklen_t
 * never set to sizeof addr might: EINVAL. Worse, the kernel had already
 * taken the connection from the backlog when it found the length wrong,
 * and that connection is lost: the client reads end of file. Pass NULL,
 * NULL when the address is not needed, or set the length first.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    struct sockaddr_un peer;
    char buf[16];

    watchdog();

    /* The server's steps 1 to 3. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* A client connects: its connection waits in the backlog. */
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client == -1)
        die("socket");
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");

    /* Step 4: accept - with *addrlen -1 instead of sizeof peer. */
    socklen_t len = (socklen_t)-1;
    if (accept(listener, (struct sockaddr *)&peer, &len) == -1)
        perror("accept");

    /* The client: its connection is gone. */
    ssize_t n = read(client, buf, sizeof buf);
    printf("the client's read returned %zd\n", n);

    close(client);
    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
