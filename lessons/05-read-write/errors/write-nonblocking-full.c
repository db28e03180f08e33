/*
 * write-nonblocking-full.c - write() to a non-blocking socket whose peer
 * does not read.
 *
 * Written bytes wait in the kernel until the peer reads them, and the
 * room for them is limited (by the sender's SO_SNDBUF; each write's
 * bookkeeping counts too). A blocking write would wait for room; a
 * non-blocking one fails with EAGAIN. How many bytes fit is printed:
 * it depends on the system's settings (/proc/sys/net/core/wmem_default).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define CHUNK 4096

int main(void)
{
    int pair[2];
    static char chunk[CHUNK];
    size_t total = 0;
    int writes = 0;

    watchdog();
    memset(chunk, 'x', sizeof chunk);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == -1)
        die("socketpair");

    /* Step 5: write - again and again; the peer never reads. */
    for (;;) {
        ssize_t n = write(pair[0], chunk, sizeof chunk);
        if (n == -1) {
            perror("write");
            break;
        }
        total += (size_t)n;
        writes++;
    }
    printf("%zu bytes fit, in %d writes of up to %d, before write would "
           "block\n", total, writes, CHUNK);

    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
