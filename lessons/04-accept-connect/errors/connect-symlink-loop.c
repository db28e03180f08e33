/*
 * connect-symlink-loop.c - connect() to a path through a symbolic link
 * that points to itself.
 *
 * Resolving "loop/lab.sock" follows the link "loop" to "loop", to
 * "loop"... until the kernel gives up: ELOOP, as for bind (see
 * bind-symlink-loop). connect(2) does not list it; path_resolution(7)
 * does.
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

    /* Step 4: connect - through the looping link. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink("loop");
    return EXIT_SUCCESS;
}
