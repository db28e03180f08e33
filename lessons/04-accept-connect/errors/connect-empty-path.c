/*
 * connect-empty-path.c - connect() with an empty path: "" copied into
 * sun_path.
 *
 * An empty path (a missing argument, an unset variable) leaves sun_path
 * all zero bytes: an abstract name (Linux only, see unix(7)) made of zero
 * bytes, not a file. So there is no file to be missing, and the answer is
 * not ENOENT: nobody holds the name, and the connection is refused. (With
 * the same mistake a server would have bound that name: see
 * bind-empty-path.) Refuse an empty path before connect.
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

    /* Step 4: connect - with the empty path. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("connect");

    close(fd);
    return EXIT_SUCCESS;
}
