/*
 * socket-bad-protocol.c - socket(AF_UNIX, SOCK_STREAM, IPPROTO_TCP).
 *
 * A Unix domain socket has one protocol, number 0: copying the third
 * argument from a TCP example is refused.
 */
#include "../../variant.h"

#define TCP_PROTOCOL_NUMBER 6 /* IPPROTO_TCP, from a TCP example */

int main(void)
{
    watchdog();

    /* Step 1: socket - with a protocol that belongs to another domain. */
    int fd = socket(AF_UNIX, SOCK_STREAM, TCP_PROTOCOL_NUMBER);
    if (fd == -1) {
        perror("socket");
        return EXIT_SUCCESS;
    }
    close(fd);
    return EXIT_SUCCESS;
}
