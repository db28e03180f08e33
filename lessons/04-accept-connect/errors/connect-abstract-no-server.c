/*
 * connect-abstract-no-server.c - connect() to an abstract name nobody
 * has bound.
 *
 * An abstract name (sun_path starting with '\0', Linux only, see unix(7))
 * is not a file, so there is no "no such file": a missing abstract server
 * is reported as a refused connection, the same errno as a server that
 * does not listen.
 *
 * Abstract names have no directory to live in: every process of the
 * machine (of its network namespace) shares one set of them. Under a fixed
 * name, another student's program could be holding it, so the name ends
 * with this process's pid: while this runs, nobody else's name has it.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr;
    char name[64];

    watchdog();
    snprintf(name, sizeof name, "lab-abstract-nobody-here-%ld",
             (long)getpid());
    /* The length counts the leading '\0' and the name, no final '\0'. */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(name));
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name, strlen(name));

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: connect - to an abstract name no socket holds. */
    if (connect(fd, (struct sockaddr *)&addr, len) == -1)
        perror("connect");

    close(fd);
    return EXIT_SUCCESS;
}
