/*
 * accept-nothing-waiting.c - poll said the listening socket was readable,
 * but by the time of accept the client has been taken.
 *
 * poll(2) reports what was true when it looked. Between its return and the
 * accept, another process that shares the listening socket (a second
 * server, or a child after fork) may take the client. On a non-blocking
 * listener the late accept then fails with EAGAIN: nothing to take, poll
 * again. On a blocking one it would wait, and the whole poll loop with it,
 * for the next client, however long. So a poll loop's listening socket is
 * non-blocking too, and EAGAIN from accept means "later", not a failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");
    int go[2], done[2];

    watchdog();
    if (pipe(go) == -1 || pipe(done) == -1)
        die("pipe");
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1)
        die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, 5) == -1)
        die("bind, listen");
    int flags = fcntl(lfd, F_GETFL);
    if (flags == -1 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");

    /* Another server process, sharing the listening socket. */
    pid_t other = fork_peer("other-server");
    if (other == 0) {
        await(go[0]);
        int cfd = accept(lfd, NULL, NULL);
        if (cfd == -1)
            die("other server: accept");
        close(cfd);
        tell(done[1]);
        _exit(EXIT_SUCCESS);
    }

    /* A client connects; poll says the listener is readable. */
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client == -1 || connect(client, (struct sockaddr *)&addr,
                                sizeof addr) == -1)
        die("client: connect");
    struct pollfd fds[1] = {{lfd, POLLIN, 0}};
    if (poll(fds, 1, -1) == -1)
        die("poll");
    printf("poll: the listening socket is %s\n",
           fds[0].revents & POLLIN ? "readable: a client waits" : "not ready");

    /* Meanwhile the other server takes the client; our accept is late. */
    tell(go[1]);
    await(done[0]);
    int cfd = accept(lfd, NULL, NULL);
    if (cfd == -1)
        perror("accept after poll, non-blocking");
    end_of_peer(other);
    close(client);
    close(lfd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
