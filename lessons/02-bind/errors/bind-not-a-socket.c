/*
 * bind-not-a-socket.c - bind() on a file descriptor that is not a socket.
 *
 * Every open file has a descriptor, and they all look alike: here the
 * descriptor of a regular file (say, the fd of a log file passed by
 * mistake instead of the socket's).
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();
    int file = open("notes.txt", O_RDWR | O_CREAT | O_EXCL, 0600);
    if (file == -1)
        die("open");

    /* Step 2: bind - the fd of a regular file. */
    if (bind(file, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(file);
    unlink("notes.txt");
    return EXIT_SUCCESS;
}
