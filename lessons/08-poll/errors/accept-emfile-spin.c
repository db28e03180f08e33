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
 * descriptor to close, accept and drop the client). Here the loop runs for
 * 0.1 s each way: first spinning, then with the listening socket left out
 * of the poll set for 0.1 s after EMFILE.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <sys/resource.h>
#include <time.h>

#include "../../variant.h"

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A poll loop over the listening socket for 100 ms; pause_ms after each
 * EMFILE (0: none). Returns how many times accept was called. */
static long serve(int lfd, long pause_ms)
{
    long calls = 0, end = now_ms() + 100, resume_at = 0;
    while (now_ms() < end) {
        long rest = resume_at - now_ms();
        struct pollfd fds[1] = {{rest > 0 ? -1 : lfd, POLLIN, 0}};
        long wait = rest > 0 ? rest : end - now_ms();
        if (poll(fds, 1, (int)(wait > 0 ? wait : 0)) == -1)
            die("poll");
        if (!(fds[0].revents & POLLIN))
            continue;
        calls++;
        int cfd = accept(lfd, NULL, NULL);
        if (cfd != -1)
            die("accept succeeded");
        if (errno == EMFILE && pause_ms > 0)
            resume_at = now_ms() + pause_ms;
    }
    return calls;
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

    printf("spinning: %ld accepts failed with EMFILE in 0.1 s\n",
           serve(lfd, 0));
    printf("pausing 0.1 s after EMFILE: %ld accept in 0.1 s\n",
           serve(lfd, 100));
    close(client);
    close(lfd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
