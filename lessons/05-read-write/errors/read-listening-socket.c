/*
 * read-listening-socket.c - read() from the listening socket instead of
 * the connected one accept() returned.
 *
 * The listening socket carries connections, not bytes: every client's data
 * arrives on the new fd that accept returns for it.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    char buf[64];

    watchdog();

    /* The server's steps 1 to 3. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* A client connects and sends a message. */
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client == -1)
        die("socket");
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");
    if (write(client, "hello", 5) != 5)
        die("write");

    /* Step 5: read - from the listening fd; accept was skipped. */
    if (read(listener, buf, sizeof buf) == -1)
        perror("read");

    close(client);
    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
