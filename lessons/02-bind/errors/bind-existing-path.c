/*
 * bind-existing-path.c - bind() to the path of a socket file that an
 * earlier run left behind.
 *
 * The classic: a server binds lab.sock, exits without unlink(2), and the
 * next run of the same server cannot bind. bind creates the socket file
 * and never reuses or replaces an existing file, even a dead socket's.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

/* The earlier run: binds PATH, then ends without removing the file. */
static void earlier_run(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die("bind");
    close(fd); /* the file stays: only unlink(2) removes it */
}

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();
    earlier_run(&addr);

    /* Step 1: socket - the next run's socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - to the path the earlier run left behind. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    unlink(PATH); /* what the earlier run should have done */
    return EXIT_SUCCESS;
}
