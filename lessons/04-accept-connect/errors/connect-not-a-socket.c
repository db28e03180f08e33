/*
 * connect-not-a-socket.c - connect() to a path that is a regular file.
 *
 * The path exists but is not a socket (a log file, a configuration file,
 * a wrong path). Linux does not say ENOTSOCK, which is about the fd: it
 * refuses the connection, as unix(7) notes.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>

#include "../../variant.h"

#define PATH "notes.txt"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();
    int file = open(PATH, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (file == -1)
        die("open");
    close(file);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - to a regular file. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
