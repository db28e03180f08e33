/*
 * bind-not-a-directory.c - bind() to a path that goes through a regular
 * file as if it were a directory.
 *
 * "notes.txt/lab.sock" asks for a file inside notes.txt, but notes.txt is
 * a regular file.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>

#include "../../variant.h"

#define FILE_IN_THE_WAY "notes.txt"

int main(void)
{
    struct sockaddr_un addr = unix_address(FILE_IN_THE_WAY "/lab.sock");

    watchdog();
    int file = open(FILE_IN_THE_WAY, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (file == -1)
        die("creating " FILE_IN_THE_WAY);
    close(file);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - under a regular file. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    unlink(FILE_IN_THE_WAY);
    return EXIT_SUCCESS;
}
