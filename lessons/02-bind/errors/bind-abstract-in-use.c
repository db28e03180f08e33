/*
 * bind-abstract-in-use.c - two sockets bind() the same abstract name.
 *
 * A sun_path that starts with '\0' is an abstract name (Linux only, see
 * unix(7)): no file is created, and the name disappears when the last
 * socket bound to it is closed, so there is never a stale file to remove.
 * But while a socket holds the name, nobody else can take it.
 *
 * Abstract names have no directory to live in: every process of the
 * machine (of its network namespace) shares one set of them. A fixed name
 * would make this run fail, or succeed, by what another student's run
 * holds, so the name ends with this process's pid, unique while it runs.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>

#include "../../variant.h"

int main(void)
{
    struct sockaddr_un addr;
    char name[64];

    watchdog();
    snprintf(name, sizeof name, "lab-abstract-demo-%ld", (long)getpid());
    /* The length counts the leading '\0' and the name, no final '\0'. */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(name));
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, name, strlen(name));

    /* Step 1: socket - two of them. */
    int first = socket(AF_UNIX, SOCK_STREAM, 0);
    int second = socket(AF_UNIX, SOCK_STREAM, 0);
    if (first == -1 || second == -1)
        die("socket");

    /* Step 2: bind - the first takes the name, the second cannot. */
    if (bind(first, (struct sockaddr *)&addr, len) == -1)
        die("bind");
    if (bind(second, (struct sockaddr *)&addr, len) == -1)
        perror("second bind");

    close(second);
    close(first); /* the name is free again: nothing to unlink */
    return EXIT_SUCCESS;
}
