/*
 * socket-bad-type.c - socket(AF_UNIX, ...) with a type the kernel does not
 * know, then with a type it knows but AF_UNIX does not offer.
 *
 * The kernel checks the type in two places: first that the number is a
 * socket type at all, then that this domain offers it. The two mistakes
 * give two different errnos.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define NO_SUCH_TYPE 42

static void try_type(int type, const char *what)
{
    /* Step 1: socket - with a type the kernel or AF_UNIX refuses. */
    int fd = socket(AF_UNIX, type, 0);
    if (fd == -1)
        fprintf(stderr, "socket with %s: %s\n", what, strerror(errno));
    else
        close(fd);
}

int main(void)
{
    watchdog();
    try_type(NO_SUCH_TYPE, "type 42, no socket type at all");
    try_type(SOCK_RDM, "SOCK_RDM, a type AF_UNIX does not offer");
    return EXIT_SUCCESS;
}
