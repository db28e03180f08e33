/*
 * busy-loop-without-poll.c - waiting for data by trying read again and
 * again on a non-blocking socket, instead of poll.
 *
 * A non-blocking read with nothing to read fails with EAGAIN at once. A
 * loop that simply tries again burns a CPU for as long as it waits: here
 * 5000 reads, each a system call, all of them for nothing, and the
 * process's CPU time grows as fast as the clock. poll(2) waits asleep:
 * here 0.1 s, in one call, and next to no CPU time. The trace shows the
 * few first reads, then counts the rest.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <time.h>

#include "../../variant.h"

#define TRIES 5000

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    int pair[2];
    char c;

    watchdog();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    int flags = fcntl(pair[0], F_GETFL);
    if (flags == -1 || fcntl(pair[0], F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");

    /* The mistake: read, EAGAIN, read again, as fast as the CPU goes. */
    long failed = 0;
    double wall = seconds(CLOCK_MONOTONIC);
    double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < TRIES; i++)
        if (read(pair[0], &c, 1) == -1 && errno == EAGAIN)
            failed++;
    double spun = seconds(CLOCK_MONOTONIC) - wall;
    printf("busy loop: %ld reads failed with EAGAIN in %.3f s, using %.3f "
           "s of CPU\n", failed, spun,
           seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu);

    /* poll: asleep for as long, or 0.1 s, with nothing to read. */
    struct pollfd fds[1] = {{pair[0], POLLIN, 0}};
    wall = seconds(CLOCK_MONOTONIC);
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    if (poll(fds, 1, 100) == -1)
        die("poll");
    printf("poll: one call waited %.3f s, using %.3f s of CPU\n",
           seconds(CLOCK_MONOTONIC) - wall,
           seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu);
    close(pair[0]);
    close(pair[1]);
    return EXIT_SUCCESS;
}
