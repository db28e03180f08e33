/*
 * bind-autobind.c - bind() with an address length that covers only
 * sun_family.
 *
 * A length of sizeof(sa_family_t) (a wrong sizeof, say of a pointer's
 * target type) does not fail: Linux "autobinds" the socket to a fresh
 * abstract name of 5 hex digits (see unix(7)). No file appears, and the
 * path the program meant is ignored, so clients looking for it get
 * ENOENT. getsockname(2) shows the name the kernel chose.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock"), got;
    socklen_t got_len = sizeof got;

    watchdog();
    must_be_absent("lab.sock"); /* what stat shows below is ours */

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - the length stops before sun_path. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof(sa_family_t)) == -1)
        die("bind");
    if (getsockname(fd, (struct sockaddr *)&got, &got_len) == -1)
        die("getsockname");
    size_t name_len = got_len - offsetof(struct sockaddr_un, sun_path);
    if (name_len > 1 && got.sun_path[0] == '\0')
        printf("bound to the abstract name @%.*s, not to lab.sock\n",
               (int)(name_len - 1), got.sun_path + 1);

    struct stat st;
    if (stat("lab.sock", &st) == -1)
        printf("no file lab.sock: %s\n", strerror(errno));

    close(fd);
    return EXIT_SUCCESS;
}
