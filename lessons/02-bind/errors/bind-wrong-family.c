/*
 * bind-wrong-family.c - bind() with sun_family left at 0 (AF_UNSPEC), as
 * when the address is zeroed but its family never set.
 *
 * The kernel reads the family first: an AF_UNIX socket takes only
 * AF_UNIX addresses.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();
    addr.sun_family = AF_UNSPEC; /* the mistake: the family is not set */

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - with an address of no family. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    return EXIT_SUCCESS;
}
