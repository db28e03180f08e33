/*
 * connect-no-server.c - connect() to a path where no server has bound.
 *
 * The client was started first, or in another directory (a relative path
 * is looked up from the current directory), or the path is misspelt.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();
    must_be_absent("lab.sock");

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - nobody has bound lab.sock. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    return EXIT_SUCCESS;
}
