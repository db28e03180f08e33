/*
 * no-reaper.c - children that end, and a parent that never waits for them.
 *
 * A process that ends does not vanish at once: the kernel keeps its pid and
 * its exit status until its parent asks for them with waitpid(2). Until
 * then it is a zombie, state Z in /proc/PID/stat (ps shows <defunct>). A
 * forking server with no SIGCHLD handler keeps one zombie per client it
 * has served, for as long as it runs; each holds a pid, and a user has only
 * so many (fork then fails with EAGAIN). Here three children end at once,
 * /proc shows each of them as a zombie, and a waitpid(pid, ..., WNOHANG)
 * long afterwards still finds each one's status, at once.
 *
 * Then the one shortcut: with SIGCHLD set to SIG_IGN explicitly (not the
 * default action, which also ignores it), Linux reaps every child as it
 * ends, and keeps no status: no zombie, and waitpid has nothing to wait for
 * (ECHILD). A server that never needs the status may do that instead.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define CHILDREN 3

int main(void)
{
    pid_t child[CHILDREN];
    int status;

    watchdog();

    /* fork - three children, each of which ends at once. */
    for (int i = 0; i < CHILDREN; i++) {
        child[i] = fork_peer("child");
        if (child[i] == 0) {
            while (i > 0 && process_state(child[i - 1]) != 'Z')
                continue; /* one after the other */
            _exit(EXIT_SUCCESS);
        }
    }

    /* Nobody waits for them: each stays, a zombie. */
    for (int i = 0; i < CHILDREN; i++) {
        while (process_state(child[i]) != 'Z')
            continue;
        printf("child %d has ended: /proc/%d/stat says state Z, a zombie\n",
               (int)child[i], (int)child[i]);
    }

    /* waitpid - much later, each status is still there: no waiting. */
    for (int i = 0; i < CHILDREN; i++) {
        if (waitpid(child[i], &status, WNOHANG) != child[i])
            die("waitpid");
        printf("child %d reaped: now it is gone from /proc (%s)\n",
               (int)child[i], process_state(child[i]) ? "still there"
                                                      : "no entry");
    }

    /* SIGCHLD set to SIG_IGN: the kernel reaps each child by itself. */
    if (signal(SIGCHLD, SIG_IGN) == SIG_ERR)
        die("signal");
    pid_t last = fork_peer("child");
    if (last == 0)
        _exit(EXIT_SUCCESS);
    if (waitpid(last, &status, 0) == -1)
        perror("with SIGCHLD ignored, waitpid for the child");
    return EXIT_SUCCESS;
}
