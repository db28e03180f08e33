/*
 * connect-long-symlink.c - connect() to a short path that is a symbolic
 * link to a name longer than a file system allows.
 *
 * connect follows a symbolic link at the end of the path too (bind never
 * does: it creates its file there). "lab.sock" is a link to a name of 300
 * bytes, and no name in a path may be longer than NAME_MAX (255 bytes,
 * see path_resolution(7)): ENAMETOOLONG, about a name the program never
 * wrote. connect(2) does not list it; path_resolution(7) does.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"
#define TARGET_LENGTH 300

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    char target[TARGET_LENGTH + 1];

    watchdog();
    memset(target, 'x', TARGET_LENGTH);
    target[TARGET_LENGTH] = '\0';
    if (symlink(target, PATH) == -1)
        die("symlink");

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - through the link to a name too long. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
