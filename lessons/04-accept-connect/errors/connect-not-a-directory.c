/*
 * connect-not-a-directory.c - connect() to notes.txt/lab.sock, where
 * notes.txt is a regular file.
 *
 * Everything before the last / of a path must be a directory: ENOTDIR, as
 * for bind (see bind-not-a-directory). connect(2) does not list it;
 * path_resolution(7) does.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>

#include "../../variant.h"

#define FILE_NAME "notes.txt"

int main(void)
{
    struct sockaddr_un addr = unix_address(FILE_NAME "/lab.sock");

    watchdog();
    int file = open(FILE_NAME, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (file == -1)
        die("open " FILE_NAME);
    close(file);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - through a file used as a directory. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink(FILE_NAME);
    return EXIT_SUCCESS;
}
