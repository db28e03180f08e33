/*
 * connect-before-listen.c - a client connects after the server's bind but
 * before its listen.
 *
 * The socket file exists from bind on, so "the file is there" does not
 * mean "the server is ready": until listen, a connect is refused. (A
 * client that waits for the file to appear, instead of retrying on
 * ECONNREFUSED, has this race.) Linux refuses at once; it does not wait.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int bound[2], go_on[2];

    watchdog();
    if (pipe(bound) == -1 || pipe(go_on) == -1)
        die("pipe");

    pid_t server = fork_peer("server");
    if (server == 0) {
        /* The server: steps 1 and 2, then it waits before listening. */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd == -1)
            die("socket");
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
            die("bind");
        tell(bound[1]);
        await(go_on[0]);
        close(fd);
        unlink(PATH);
        exit(EXIT_SUCCESS);
    }

    /* The client. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");
    await(bound[0]); /* the socket file exists now */

    /* Step 4: connect - before the server's listen. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    tell(go_on[1]);
    end_of_peer(server);
    return EXIT_SUCCESS;
}
