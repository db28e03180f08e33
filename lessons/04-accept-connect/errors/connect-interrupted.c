/*
 * connect-interrupted.c - a blocking connect() to a server whose backlog
 * is full, interrupted by a signal.
 *
 * A non-blocking connect to a full backlog fails at once with EAGAIN (see
 * connect-backlog-full). A blocking one waits for room, as long as it
 * takes: a server that has stopped accepting holds its clients hanging in
 * connect. A signal whose handler has no SA_RESTART ends the wait with
 * EINTR. Nothing was queued: once the server has made room, the same
 * connect, on the same socket, succeeds. To bound the wait, a client sets
 * a send timeout, SO_SNDTIMEO (connect then fails with EAGAIN), and tries
 * again later. Not the TCP way, a non-blocking connect and poll(2): a Unix
 * domain connect is never in progress, and poll would only say "try
 * again".
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

static void on_signal(int sig)
{
    (void)sig;
}

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int ready[2];
    struct sigaction sa;

    watchdog();
    if (pipe(ready) == -1)
        die("pipe");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die("sigaction");

    /* The server's steps 1 to 3, with a backlog of 0, and no accept. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 0) == -1)
        die("listen");

    /* A first client fills the backlog (0 + 1 connections on Linux). */
    int first = socket(AF_UNIX, SOCK_STREAM, 0);
    if (first == -1)
        die("socket");
    if (connect(first, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");

    pid_t client = getpid();
    pid_t peer = fork_peer("peer");
    if (peer == 0) {
        await(ready[0]);
        signal_when_asleep(client, SIGUSR1);
        exit(EXIT_SUCCESS);
    }

    /* Step 4: connect - blocking, to the full backlog: it waits. */
    int second = socket(AF_UNIX, SOCK_STREAM, 0);
    if (second == -1)
        die("socket");
    tell(ready[1]);
    if (connect(second, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("second connect");

    /* The server accepts the first client: there is room now. */
    int accepted = accept(listener, NULL, NULL);
    if (accepted == -1)
        die("accept");

    /* Step 4 again: the same connect, retried. */
    if (connect(second, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect, retried");

    close(second);
    close(accepted);
    close(first);
    close(listener);
    unlink(PATH);
    end_of_peer(peer);
    return EXIT_SUCCESS;
}
