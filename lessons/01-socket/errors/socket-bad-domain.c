/*
 * socket-bad-domain.c - socket() with a communication domain the kernel
 * does not know.
 *
 * The first argument of socket(2) picks the family of addresses; a number
 * that names no family (a typo, or an uninitialised variable) is refused
 * before anything is created.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define NO_SUCH_DOMAIN 4242

int main(void)
{
    watchdog();

    /* Step 1: socket - with a domain number that names no family. */
    int fd = socket(NO_SUCH_DOMAIN, SOCK_STREAM, 0);
    if (fd == -1) {
        perror("socket");
        return EXIT_SUCCESS;
    }
    close(fd);
    return EXIT_SUCCESS;
}
