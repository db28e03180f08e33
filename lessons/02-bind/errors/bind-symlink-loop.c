/*
 * bind-symlink-loop.c - bind() to a path through a symbolic link that
 * points to itself.
 *
 * Resolving "loop/lab.sock" follows the link "loop" to "loop", to "loop"...
 * until the kernel gives up.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("loop/lab.sock");

    watchdog();
    if (symlink("loop", "loop") == -1)
        die("symlink");

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - through the looping link. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    unlink("loop");
    return EXIT_SUCCESS;
}
