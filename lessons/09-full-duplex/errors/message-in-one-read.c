/*
 * message-in-one-read.c - a reader that takes what one read returns for a
 * whole message.
 *
 * A stream keeps the order of the bytes, not the boundaries of the writes:
 * a read returns what has come so far, part of a message or several. The
 * sender writes one message, a 4-byte length (20) then 20 bytes, in two
 * writes, the second after the reader's first read. That read returns 9
 * bytes, the length and 5 bytes, which the reader takes for the message;
 * its next read returns the other 15, whose first 4 it takes for the length
 * of a next message. The lesson's checks cause the same split with
 * LAB_FAULTS='read<=3', whatever the sender does.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <stdint.h>

#include "../../variant.h"

static const char body[] = "hello, full duplex!!"; /* 20 bytes */

static uint32_t length_at(const char *p)
{
    uint32_t len;
    memcpy(&len, p, sizeof len);
    return ntohl(len);
}

int main(void)
{
    int pair[2], ready[2], go[2];
    char buf[256], frame[4 + sizeof body - 1];
    uint32_t header = htonl(sizeof body - 1);

    watchdog();
    memcpy(frame, &header, 4);
    memcpy(frame + 4, body, sizeof body - 1);

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1 || pipe(ready) == -1
        || pipe(go) == -1)
        die("socketpair");

    pid_t sender = fork_peer("sender");
    if (sender == 0) {
        close(pair[0]);
        /* Step 5: write - the length and 5 bytes, then the rest. */
        if (write(pair[1], frame, 9) != 9)
            die("write");
        tell(ready[1]);
        await(go[0]);
        if (write(pair[1], frame + 9, sizeof frame - 9) !=
            (ssize_t)(sizeof frame - 9))
            die("write");
        exit(EXIT_SUCCESS);
    }
    close(pair[1]);
    await(ready[0]);

    /* Step 5: read - once, taken for a whole message: the mistake. */
    ssize_t n = read(pair[0], buf, sizeof buf);
    if (n < 4)
        die("read");
    printf("first read: %zd bytes; the length says %lu, and the reader "
           "took the %zd bytes after it, \"%.*s\", for the whole message\n",
           n, (unsigned long)length_at(buf), n - 4, (int)(n - 4), buf + 4);
    tell(go[1]);

    n = read(pair[0], buf, sizeof buf);
    if (n < 4)
        die("read");
    printf("second read: %zd bytes, \"%.*s\", whose first 4 it took for "
           "the next message's length: a length of %lu bytes\n", n, (int)n,
           buf, (unsigned long)length_at(buf));

    end_of_peer(sender);
    close(pair[0]);
    return EXIT_SUCCESS;
}
