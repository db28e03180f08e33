/*
 * connect-stale-socket.c - connect() to the socket file of a server that
 * has exited.
 *
 * The server listened, then ended without unlink(2) (a crash, or a kill).
 * Its socket file is still there, so the client does not get ENOENT; but
 * nothing listens behind the file any more.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();

    pid_t server = fork_peer("server");
    if (server == 0) {
        /* The server: socket, bind, listen... and exit, file left. */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd == -1)
            die("socket");
        if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
            die("bind");
        if (listen(fd, 5) == -1)
            die("listen");
        exit(EXIT_SUCCESS);
    }
    end_of_peer(server);

    /* The client. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - to the file the dead server left. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
