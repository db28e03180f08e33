/*
 * connect-no-permission.c - connect() to a socket file the process may not
 * write.
 *
 * Connecting to a Unix domain socket needs write permission on its file
 * (see unix(7)): a server can limit who connects with chmod. Here the
 * file's mode is r--------. Root is never refused, so when started by root
 * this variant first becomes the user nobody (ordinary_user() in
 * lessons/variant.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();
    const char *workdir = ordinary_user();

    /* The server's steps 1 to 3, then its file is made read-only. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");
    if (chmod(PATH, 0400) == -1)
        die("chmod");

    /* The client. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - without write permission on the socket file. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    close(listener);
    unlink(PATH);
    leave_ordinary_dir(workdir);
    return EXIT_SUCCESS;
}
