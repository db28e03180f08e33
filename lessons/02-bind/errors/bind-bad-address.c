/*
 * bind-bad-address.c - bind() with a pointer that points nowhere.
 *
 * The kernel copies the address from the process's memory; a pointer
 * outside it (here the address 1, as from a forgotten &, or an
 * uninitialised pointer) cannot be read.
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

    /* Step 2: bind - with an address the kernel cannot read. */
    if (bind(fd, nowhere, sizeof(struct sockaddr_un)) == -1)
        perror("bind");

    close(fd);
    return EXIT_SUCCESS;
}
