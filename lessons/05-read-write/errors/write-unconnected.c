/*
 * write-unconnected.c - write() on a stream socket that was never
 * connected.
 *
 * There is no peer to deliver the bytes to. Note that the errno differs
 * from read's on the same socket (see read-unconnected), and that no
 * SIGPIPE is sent: the connection did not break, it never existed.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    watchdog();

    /* Step 1: socket - and no connect. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 5: write - to nobody. */
    if (write(fd, "hello", 5) == -1)
        perror("write");

    close(fd);
    return EXIT_SUCCESS;
}
