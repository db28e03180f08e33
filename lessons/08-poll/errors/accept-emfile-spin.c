/*
 * accept-emfile-spin.c - accept fails with EMFILE in a poll loop, and the
 * loop spins.
 *
 * Out of descriptors, accept fails with EMFILE, but the client stays in the
 * backlog, so the listening socket stays readable: poll reports it again
 * at once, accept fails again, and the loop spins, a CPU at full speed,
 * until a descriptor is freed. Real servers stop asking for a while:
 * PostgreSQL's postmaster sleeps 0.1 s after a failed accept, tmux stops
 * watching its listening socket for a second (libuv keeps a spare
 * descriptor to close, accept and drop the client). Here the loop makes
 * 10000 turns, spinning, all for nothing; then the listening socket is left
 * out of the poll set for 0.1 s after EMFILE, and accept tried again.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <sys/resource.h>

#include "../../variant.h"

#define TURNS 10000

/* A poll loop over the listening socket, turn after turn: each turn
 * polls, and accepts when the listener is readable. The mistake spins:
 * poll reports the listener again at once. */
static void spin(int lfd, long turns)
{
    for (long turn = 0; turn < turns; turn++) {
        struct pollfd fds[1] = {{lfd, POLLIN, 0}};
        if (poll(fds, 1, -1) == -1)
            die("poll");
        if ((fds[0].revents & POLLIN) && accept(lfd, NULL, NULL) != -1)
            die("accept succeeded");
    }
}

/* The fix: after EMFILE, the listener leaves the poll set (fd -1) for
 * 0.1 s; poll waits that long, then accept is tried again. */
static void rest_then_retry(int lfd)
{
    if (accept(lfd, NULL, NULL) != -1)
        die("accept succeeded");
    struct pollfd fds[1] = {{-1, POLLIN, 0}};
    if (poll(fds, 1, 100) == -1)
        die("poll");
    if (accept(lfd, NULL, NULL) != -1)
        die("accept succeeded");
}

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");

    watchdog();
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1)
        die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, 5) == -1)
        die("bind, listen");
    int client = socket(AF_UNIX, SOCK_STREAM, 0);
    if (client == -1 || connect(client, (struct sockaddr *)&addr,
                                sizeof addr) == -1)
        die("client: connect");

    /* No descriptor left: the limit is the lowest free number. */
    int probe = dup(0);
    if (probe == -1)
        die("dup");
    close(probe);
    struct rlimit limit = {(rlim_t)probe, (rlim_t)probe};
    if (setrlimit(RLIMIT_NOFILE, &limit) == -1)
        die("setrlimit");

    spin(lfd, TURNS);
    printf("spinning: %d turns of poll and accept in a row, each accept "
           "failed with EMFILE, and poll reported the listener at once\n",
           TURNS);
    rest_then_retry(lfd);
    printf("resting 0.1 s after EMFILE: 2 accepts, and one poll that "
           "waited\n");
    close(client);
    close(lfd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
