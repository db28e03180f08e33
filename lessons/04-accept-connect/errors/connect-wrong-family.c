/*
 * connect-wrong-family.c - connect() with sun_family set to AF_INET.
 *
 * The address structure of another family, or a copy-paste from a TCP
 * client: the kernel checks the family before it looks at the path.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();
    addr.sun_family = AF_INET; /* the mistake */

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - with an AF_INET address on an AF_UNIX socket. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    return EXIT_SUCCESS;
}
