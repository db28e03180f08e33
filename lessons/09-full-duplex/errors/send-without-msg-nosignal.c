/*
 * send-without-msg-nosignal.c - a client that goes on sending its input
 * after the server has closed the connection.
 *
 * A full-duplex client sends while it reads, so it may well be in the
 * middle of sending when the server ends. The kernel refuses the bytes
 * with EPIPE and, unless told otherwise, sends SIGPIPE, whose default
 * action kills the process before it can print a word:
 *   1. send(2) with flags 0, SIGPIPE at its default: the client is killed;
 *   2. send(2) with MSG_NOSIGNAL: -1 EPIPE, and the client can say that
 *      the server has gone.
 * signal(SIGPIPE, SIG_IGN) does what MSG_NOSIGNAL does, for every call of
 * the process, write(2) and a write to a closed pipe included.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static const char input[] = "more input";

int main(void)
{
    int pair[2];
    int status;

    watchdog();

    /* A connected pair: pair[1] is the server, which closes its end. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    close(pair[1]);

    /* 1. Step 5: send - in a child, flags 0, SIGPIPE at its default. */
    pid_t client = fork_peer("client");
    if (client == 0) {
        if (send(pair[0], input, sizeof input - 1, 0) == -1)
            perror("send"); /* never printed: SIGPIPE kills first */
        exit(EXIT_SUCCESS);
    }
    if (waitpid(client, &status, 0) == -1)
        die("waitpid");
    if (WIFSIGNALED(status))
        printf("1. flags 0: the client was killed by signal %d (SIGPIPE is "
               "%d), and said nothing\n", WTERMSIG(status), SIGPIPE);

    /* 2. Step 5: send with MSG_NOSIGNAL. */
    if (send(pair[0], input, sizeof input - 1, MSG_NOSIGNAL) == -1)
        printf("2. MSG_NOSIGNAL: send: %s: the server has gone\n",
               strerror(errno));

    close(pair[0]);
    return EXIT_SUCCESS;
}
