/*
 * accept-too-many-fds.c - accept() when the process has no fd left.
 *
 * Each accepted connection is a new fd. A server that never closes the
 * fds accept returns runs out of them, after as many clients as its
 * RLIMIT_NOFILE allows: here the limit is lowered to 5, so the listener
 * (fd 3) and a client (fd 4) use the last two, and the connection waits
 * in the backlog, not accepted.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/resource.h>

#include "../../variant.h"

#define PATH "lab.sock"
#define FD_LIMIT 5

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    struct rlimit lim;

    watchdog();
    /* The soft limit, the one the kernel enforces (ulimit -n does the
     * same); the hard limit stays, so it could be raised again. */
    if (getrlimit(RLIMIT_NOFILE, &lim) == -1)
        die("getrlimit");
    lim.rlim_cur = FD_LIMIT;
    if (setrlimit(RLIMIT_NOFILE, &lim) == -1)
        die("setrlimit");

    /* The server's steps 1 to 3. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    /* A client connects: it uses the last free fd. */
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client == -1)
        die("socket");
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("connect");

    /* Step 4: accept - needs one more fd. */
    int conn = accept(listener, NULL, NULL);
    if (conn == -1)
        perror("accept");
    else
        close(conn);

    close(client);
    close(listener);
    unlink(PATH);
    return EXIT_SUCCESS;
}
