/*
 * bind-long-symlink.c - bind() to a short path through a symbolic link
 * whose target names a file longer than a file system allows.
 *
 * "far/lab.sock" is 12 bytes, well within sun_path; but "far" is a
 * symbolic link to a name of 300 bytes, and no name in a path may be
 * longer than NAME_MAX (255 bytes, see path_resolution(7)). The kernel
 * finds that out while it follows the link: ENAMETOOLONG, about a path
 * the program never wrote. (An address too long for sun_path gives EINVAL
 * instead: see bind-path-too-long.)
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define TARGET_LENGTH 300

int main(void)
{
    struct sockaddr_un addr = unix_address("far/lab.sock");
    char target[TARGET_LENGTH + 1];

    watchdog();
    memset(target, 'x', TARGET_LENGTH);
    target[TARGET_LENGTH] = '\0';
    if (symlink(target, "far") == -1)
        die("symlink");

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - through the link to a name too long. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    unlink("far");
    return EXIT_SUCCESS;
}
