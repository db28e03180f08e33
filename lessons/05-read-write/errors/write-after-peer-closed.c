/*
 * write-after-peer-closed.c - write() to a connection whose peer has
 * closed its end.
 *
 * Nobody can ever read these bytes, so the kernel refuses them with EPIPE
 * and, unless told otherwise, also sends SIGPIPE, whose default action
 * kills the process: a server dies, silently, because one client went
 * away. Three tries, the first in a child so that its death can be shown:
 *   1. SIGPIPE at its default: the writer is killed by the signal;
 *   2. SIGPIPE ignored: write fails with EPIPE and the program goes on;
 *   3. send(2) with MSG_NOSIGNAL: the same, for this one call.
 * Unlike TCP, where the first write after the peer closed may still
 * succeed, a Unix domain socket fails the very first one.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static const char message[] = "hello?";

int main(void)
{
    int pair[2];

    watchdog();

    /* A connected pair (like connect + accept, without a socket file). */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* The peer closes its end. */
    close(pair[1]);

    /* 1. Step 5: write - in a child, with SIGPIPE at its default. */
    pid_t writer = fork_peer("writer");
    if (writer == 0) {
        if (write(pair[0], message, sizeof message - 1) == -1)
            perror("write"); /* never printed: SIGPIPE kills first */
        exit(EXIT_SUCCESS);
    }
    int status;
    if (waitpid(writer, &status, 0) == -1)
        die("waitpid");
    if (WIFSIGNALED(status))
        printf("1. the writer was killed by signal %d (SIGPIPE is %d)\n",
               WTERMSIG(status), SIGPIPE);

    /* 2. Step 5: write - with SIGPIPE ignored. */
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        die("signal");
    if (write(pair[0], message, sizeof message - 1) == -1)
        printf("2. SIGPIPE ignored: write: %s\n", strerror(errno));

    /* 3. Step 5: send with MSG_NOSIGNAL - with SIGPIPE at its default. */
    if (signal(SIGPIPE, SIG_DFL) == SIG_ERR)
        die("signal");
    if (send(pair[0], message, sizeof message - 1, MSG_NOSIGNAL) == -1)
        printf("3. MSG_NOSIGNAL: send: %s\n", strerror(errno));

    close(pair[0]);
    return EXIT_SUCCESS;
}
