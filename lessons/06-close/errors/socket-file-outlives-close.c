/*
 * socket-file-outlives-close.c - close() a bound socket, then bind the same
 * path again, as the next run of a server would.
 *
 * close ends the socket, but its file stays in the directory: only
 * unlink(2) removes it. So the next bind fails with EADDRINUSE, until the
 * file is removed; then the same bind works. A server should unlink its
 * socket file when it exits (and on SIGINT/SIGTERM too).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

/* A bind that must_work makes the file this run removes: when it fails,
 * the file there is not this run's, and the variant gives up. */
static int bind_new_socket(const struct sockaddr_un *addr, int must_work)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) == -1) {
        if (must_work)
            die("bind");
        perror("bind");
    }
    return fd;
}

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    struct stat st;

    watchdog();
    must_be_absent(PATH); /* someone else's file, or server: left alone */

    /* The first run: socket, bind, close. */
    close(bind_new_socket(&addr, 1));
    if (stat(PATH, &st) == 0 && S_ISSOCK(st.st_mode))
        printf("after close, %s is still there, a socket file\n", PATH);

    /* The next run: bind fails while the file is there... */
    close(bind_new_socket(&addr, 0));

    /* ...and works once it is removed. */
    unlink(PATH);
    close(bind_new_socket(&addr, 1));

    unlink(PATH);
    return EXIT_SUCCESS;
}
