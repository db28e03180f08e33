/*
 * socket-bad-protocol.c - socket(AF_UNIX, SOCK_STREAM, IPPROTO_TCP).
 *
 * The third argument of socket(AF_UNIX, ...) should be 0, the default
 * protocol. Linux also accepts PF_UNIX (1), the number unix(7) means by
 * "passed protocol is not AF_UNIX"; any other number, such as one copied
 * from a TCP example, is refused.
 */
#define _POSIX_C_SOURCE 200809L

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
