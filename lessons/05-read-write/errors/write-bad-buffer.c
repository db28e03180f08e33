/*
 * write-bad-buffer.c - write() from a pointer that points nowhere.
 *
 * The kernel copies the bytes from the process's memory; a buffer pointer
 * outside it (an uninitialised pointer, a freed and unmapped buffer) is
 * refused with EFAULT instead of crashing the program.
 *
 * valgrind reports this call, as it should: it is the mistake.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "../../variant.h"

int main(void)
{
    int pair[2];
    const void *nowhere = (const void *)(uintptr_t)1;

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");

    /* Step 5: write - from an address the kernel cannot read. */
    if (write(pair[0], nowhere, 10) == -1)
        perror("write");

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
