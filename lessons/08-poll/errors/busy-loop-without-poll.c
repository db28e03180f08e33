/*
 * busy-loop-without-poll.c - waiting for data by trying read again and
 * again on a non-blocking socket, instead of poll.
 *
 * A non-blocking read with nothing to read fails with EAGAIN at once. A
 * loop that simply tries again burns a CPU for as long as it waits: here
 * thousands of reads in the 0.2 s before the peer sends, each a system
 * call, and the process's CPU time grows as fast as the clock. poll(2)
 * waits the same 0.2 s asleep: one call, and next to no CPU time. The trace
 * shows the few first reads, then counts the rest.
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <time.h>

#include "../../variant.h"

static double seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The peer sends a byte 0.2 s after it is told to go. */
static pid_t late_sender(int fd, int go)
{
    pid_t pid = fork_peer("peer");
    if (pid == 0) {
        struct timespec wait = {0, 200000000};
        for (int round = 0; round < 2; round++) {
            await(go);
            nanosleep(&wait, NULL);
            if (write(fd, "!", 1) != 1)
                die("peer: write");
        }
        _exit(EXIT_SUCCESS);
    }
    return pid;
}

int main(void)
{
    int pair[2], go[2];
    char c;

    watchdog();
    if (pipe(go) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        die("socketpair");
    int flags = fcntl(pair[0], F_GETFL);
    if (flags == -1 || fcntl(pair[0], F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");
    pid_t peer = late_sender(pair[1], go[0]);

    /* The mistake: read, EAGAIN, read again, as fast as the CPU goes. */
    long tries = 0;
    double wall = seconds(CLOCK_MONOTONIC);
    double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    tell(go[1]);
    while (read(pair[0], &c, 1) == -1 && errno == EAGAIN)
        tries++;
    printf("busy loop: %ld reads failed with EAGAIN in %.2f s, using %.2f s "
           "of CPU\n", tries, seconds(CLOCK_MONOTONIC) - wall,
           seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu);

    /* poll: asleep until the byte comes. */
    struct pollfd fds[1] = {{pair[0], POLLIN, 0}};
    wall = seconds(CLOCK_MONOTONIC);
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    tell(go[1]);
    if (poll(fds, 1, -1) == -1 || read(pair[0], &c, 1) != 1)
        die("poll, read");
    printf("poll: one call waited %.2f s, using %.3f s of CPU\n",
           seconds(CLOCK_MONOTONIC) - wall,
           seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu);
    end_of_peer(peer);
    return EXIT_SUCCESS;
}
