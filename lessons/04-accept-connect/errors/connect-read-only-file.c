/*
 * connect-read-only-file.c - connect() to a regular file the process may
 * not write.
 *
 * The kernel checks write permission on the file at the path before it
 * looks whether the file is a socket at all. A caller who may write the
 * file learns that it is not a socket (ECONNREFUSED, see
 * connect-not-a-socket); a caller who may not, gets EACCES, and chmod
 * would not help: the path is wrong. Root may write any file, so when
 * started by root this variant first becomes the user nobody
 * (ordinary_user() in lessons/variant.h); root would get ECONNREFUSED.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>

#include "../../variant.h"

#define PATH "notes.txt"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();
    const char *workdir = ordinary_user();
    /* A file anyone may read and nobody may write. */
    int file = open(PATH, O_WRONLY | O_CREAT | O_EXCL, 0444);
    if (file == -1)
        die("open");
    close(file);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - to a regular file we may not write. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink(PATH);
    leave_ordinary_dir(workdir);
    return EXIT_SUCCESS;
}
