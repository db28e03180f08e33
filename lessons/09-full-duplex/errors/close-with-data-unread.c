/*
 * close-with-data-unread.c - a server that closes the connection with
 * some of the client's request still unread.
 *
 * The server reads 5 of the 20 bytes the client sent, answers "BYE" and
 * closes. Linux then resets the connection: the client first reads what
 * the server had sent, then -1 ECONNRESET where it expected 0, end of
 * file; only the read after that returns 0. A server that means to end a
 * conversation early reads what is waiting first (or shuts down its
 * writing side and reads until end of file), and the client takes
 * ECONNRESET, like 0, for "the server has gone".
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static const char request[] = "twenty bytes, unread"; /* 20 bytes */

int main(void)
{
    int pair[2];
    char buf[64];

    watchdog();

    /* A connected pair: pair[0] the client, pair[1] the server. */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 5: write - the client's whole request. */
    if (write(pair[0], request, sizeof request - 1) !=
        (ssize_t)(sizeof request - 1))
        die("write");

    pid_t server = fork_peer("server");
    if (server == 0) {
        close(pair[0]);
        /* Step 5: read - only the first 5 bytes; then the answer, and
         * Step 6: close - with 15 bytes unread: the mistake. */
        if (read(pair[1], buf, 5) != 5)
            die("read");
        if (write(pair[1], "BYE", 3) != 3)
            die("write");
        close(pair[1]);
        exit(EXIT_SUCCESS);
    }
    close(pair[1]);
    end_of_peer(server);

    /* Step 5: read - until end of file, as the client does. */
    for (int i = 1; i <= 3; i++) {
        ssize_t n = read(pair[0], buf, sizeof buf);
        if (n >= 0)
            printf("read %d: %zd bytes\n", i, n);
        else
            printf("read %d: %s\n", i, strerror(errno));
    }
    close(pair[0]);
    return EXIT_SUCCESS;
}
