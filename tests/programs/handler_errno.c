/*
 * handler_errno.c - what a handler installed through the trace sees and
 * leaves: its arguments, errno, and the action sigaction gives back.
 *
 * Usage: handler_errno
 *
 * Installs a handler for SIGUSR1 with sigaction, one for SIGUSR2 with
 * SA_SIGINFO, and raises each (raise(3), which leaves errno alone when it
 * succeeds). Each handler records the errno it found and sets errno to
 * EDOM; the main flow had set ERANGE. Then it asks sigaction and signal
 * for the old actions, ignores SIGUSR1 and raises it again (nothing is
 * delivered), and prints one "name value" line per fact.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t found_errno, got_sig, got_pid, calls;

static void on_usr1(int sig)
{
    found_errno = errno;
    got_sig = sig;
    calls++;
    errno = EDOM; /* a careless handler: the interrupted code sees EDOM */
}

static void on_usr2(int sig, siginfo_t *info, void *context)
{
    (void)context;
    found_errno = errno;
    got_sig = sig;
    got_pid = info->si_pid;
    calls++;
    errno = EDOM;
}

int main(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_usr1;
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        return 2;
    sa.sa_sigaction = on_usr2;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGUSR2, &sa, NULL) == -1)
        return 2;

    errno = ERANGE;
    raise(SIGUSR1);
    printf("usr1_found_erange %d\n", found_errno == ERANGE);
    printf("usr1_left_edom %d\n", errno == EDOM);
    printf("usr1_sig %d\n", got_sig == SIGUSR1);

    errno = ERANGE;
    raise(SIGUSR2);
    printf("usr2_found_erange %d\n", found_errno == ERANGE);
    printf("usr2_left_edom %d\n", errno == EDOM);
    printf("usr2_info_pid %d\n", got_pid == getpid());

    /* The old actions are the program's own handlers. */
    if (sigaction(SIGUSR1, NULL, &old) == -1)
        return 2;
    printf("old_usr1 %d\n", !(old.sa_flags & SA_SIGINFO) &&
                                old.sa_handler == on_usr1);
    if (sigaction(SIGUSR2, NULL, &old) == -1)
        return 2;
    printf("old_usr2 %d\n", (old.sa_flags & SA_SIGINFO) &&
                                old.sa_sigaction == on_usr2);
    printf("signal_old_usr1 %d\n", signal(SIGUSR1, SIG_IGN) == on_usr1);

    /* Ignored: nothing is delivered, nothing is called. */
    raise(SIGUSR1);
    printf("calls %d\n", (int)calls);
    printf("signal_old_ign %d\n", signal(SIGUSR1, SIG_DFL) == SIG_IGN);
    return 0;
}
