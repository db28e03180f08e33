/*
 * bind-no-permission.c - bind() in a directory the process may not write.
 *
 * Creating the socket file is creating a file: it needs write (and
 * search) permission on the directory. Root is never refused, so when
 * started by root this variant first becomes the user nobody
 * (ordinary_user() in lessons/variant.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define LOCKED_DIR "locked"

int main(void)
{
    struct sockaddr_un addr = unix_address(LOCKED_DIR "/lab.sock");

    watchdog();
    const char *workdir = ordinary_user();
    /* A directory we may read and search, but not write. */
    if (mkdir(LOCKED_DIR, 0500) == -1)
        die("mkdir " LOCKED_DIR);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - in the read-only directory. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    if (rmdir(LOCKED_DIR) == -1)
        die("rmdir " LOCKED_DIR);
    leave_ordinary_dir(workdir);
    return EXIT_SUCCESS;
}
