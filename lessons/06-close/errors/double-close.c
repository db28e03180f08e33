/*
 * double-close.c - close() the same fd twice.
 *
 * The second close fails with EBADF, which looks harmless; it is not. In a
 * program with threads, or one that opens a file between the two closes,
 * the number may already belong to something else, and the second close
 * silently closes that instead. Close each fd exactly once, and forget
 * the number (fd = -1) once it is closed.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    watchdog();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 6: close - twice. */
    if (close(fd) == -1)
        die("close");
    if (close(fd) == -1)
        perror("second close");
    return EXIT_SUCCESS;
}
