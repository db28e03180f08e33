/*
 * one-wait-per-signal.c - a SIGCHLD handler that reaps one child per call,
 * while five children end together.
 *
 * Signals do not queue: while a SIGCHLD is pending, the next ones merge
 * into it. Five children that end while the server is busy (here, while
 * SIGCHLD is blocked, which makes it certain) make the handler run once,
 * not five times. A handler that calls waitpid once (UNP's first version,
 * with wait(2)) reaps one child, and four zombies stay until other
 * children end, or for ever. The reaper must loop: waitpid(-1, &status,
 * WNOHANG) until it returns 0 (the children left still run) or -1 with
 * ECHILD (none left).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define CHILDREN 5

static volatile sig_atomic_t handler_runs, reaped_in_handler;

/* The mistake: one waitpid per signal. */
static void reap_one(int sig)
{
    int saved_errno = errno;
    (void)sig;
    handler_runs++;
    if (waitpid(-1, NULL, WNOHANG) > 0)
        reaped_in_handler++;
    errno = saved_errno;
}

int main(void)
{
    pid_t child[CHILDREN];
    struct sigaction sa;
    sigset_t chld;

    watchdog();
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap_one;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) == -1)
        die("sigaction");

    /* Five children end while SIGCHLD is blocked: their signals merge. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) == -1)
        die("sigprocmask");
    for (int i = 0; i < CHILDREN; i++) {
        child[i] = fork_peer("child");
        if (child[i] == 0) {
            /* One after the other: the first SIGCHLD is the first child's
             * (signal(7): later ones do not overwrite its information). */
            while (i > 0 && process_state(child[i - 1]) != 'Z')
                continue;
            _exit(EXIT_SUCCESS);
        }
    }
    for (int i = 0; i < CHILDREN; i++)
        while (process_state(child[i]) != 'Z')
            continue;
    if (sigprocmask(SIG_UNBLOCK, &chld, NULL) == -1)
        die("sigprocmask");

    int zombies = 0;
    for (int i = 0; i < CHILDREN; i++)
        zombies += process_state(child[i]) == 'Z';
    printf("%d children ended; the handler ran %d time(s) and reaped %d; "
           "%d zombies remain\n", CHILDREN, (int)handler_runs,
           (int)reaped_in_handler, zombies);

    /* The reaper as it should be: loop until there is nothing to reap. */
    int reaped = 0;
    pid_t pid;
    while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
        reaped++;
    printf("a loop of waitpid(-1, NULL, WNOHANG) reaped the %d others, then "
           "returned %d (%s)\n", reaped, (int)pid,
           pid == -1 ? strerror(errno) : "children still running");
    return EXIT_SUCCESS;
}
