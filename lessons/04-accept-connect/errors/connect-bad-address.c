/*
 * connect-bad-address.c - connect() with an address pointer that points
 * nowhere.
 *
 * As with bind, the kernel copies the address from the process's memory;
 * a pointer outside it (a forgotten &, an uninitialised pointer) cannot be
 * read, and the call fails instead of the program crashing.
 *
 * valgrind reports this call, as it should: it is the mistake.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>

#include "../../variant.h"

int main(void)
{
    const struct sockaddr *nowhere = (const struct sockaddr *)(uintptr_t)1;

    watchdog();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - with an address the kernel cannot read. */
    if (connect(fd, nowhere, sizeof(struct sockaddr_un)) == -1)
        perror("connect");

    close(fd);
    return EXIT_SUCCESS;
}
