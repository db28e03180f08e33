/*
 * socket-too-many-fds.c - socket() when the process has used up its file
 * descriptors.
 *
 * A socket is a file descriptor, and a process may have at most
 * RLIMIT_NOFILE of them open. The limit is lowered to 5 here, so with
 * stdin, stdout and stderr open only fds 3 and 4 are free: a server that
 * forgets to close the fds accept(2) returns meets the same error, later.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/resource.h>

#include "../../variant.h"

#define FD_LIMIT 5

int main(void)
{
    struct rlimit lim;
    int fds[FD_LIMIT];
    int n = 0;

    watchdog();
    /* The soft limit, the one the kernel enforces (ulimit -n does the
     * same); the hard limit stays, so it could be raised again. */
    if (getrlimit(RLIMIT_NOFILE, &lim) == -1)
        die("getrlimit");
    lim.rlim_cur = FD_LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &lim) == -1)
        die("setrlimit");

    /* Step 1: socket - again and again, never closing. */
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd == -1) {
            fprintf(stderr, "call %d of socket(): %s\n", n + 1,
                    strerror(errno));
            break;
        }
        if (n == FD_LIMIT) {
            fprintf(stderr, "the limit was not enforced\n");
            close(fd);
            break;
        }
        fds[n++] = fd;
    }
    printf("%d sockets were created before the limit of %d fds\n", n,
           FD_LIMIT);

    /* Step 6: close - every socket that was created. */
    while (n > 0)
        close(fds[--n]);
    return EXIT_SUCCESS;
}
