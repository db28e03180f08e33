/*
 * bind-missing-directory.c - bind() to a path in a directory that does not
 * exist.
 *
 * bind creates the socket file, but it does not create directories: the
 * kernel has nowhere to put the file.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("no-such-dir/lab.sock");

    watchdog();
    must_be_absent("no-such-dir");

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - in a directory nobody created. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    return EXIT_SUCCESS;
}
