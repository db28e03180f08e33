/*
 * bind-empty-path.c - bind() with an empty path: "" copied into sun_path.
 *
 * An empty path (a missing argument, an unset variable) leaves sun_path
 * all zero bytes. A sun_path that starts with '\0' is an abstract name
 * (Linux only, see unix(7)), and the length, sizeof addr, takes in the 107
 * zero bytes after it: bind succeeds, under an abstract name made of zero
 * bytes, and no file appears. Every process of the machine shares
 * abstract names, so every program given an empty path would meet on this
 * one. Refuse an empty path before bind.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("");

    watchdog();
    own_abstract_names();

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - with the empty path. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd); /* the name is free again: nothing to unlink */
    return EXIT_SUCCESS;
}
