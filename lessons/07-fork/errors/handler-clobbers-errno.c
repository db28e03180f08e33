/*
 * handler-clobbers-errno.c - a SIGCHLD handler that does not save errno.
 *
 * A handler runs between two instructions of the program, anywhere: also
 * between a call that failed and the line that looks at errno. A reaper's
 * last waitpid fails (ECHILD: no child left) and sets errno; unless the
 * handler saves errno first and puts it back last, the program then reads
 * the handler's ECHILD instead of its own call's errno. Here accept on a
 * non-blocking listener fails with EAGAIN ("no client yet, poll again"),
 * and a child's end is delivered right then (it was held back by a blocked
 * SIGCHLD, as a busy server's would be by chance): the server reads
 * "No child processes", which it would take for a fatal error.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static void reap_clobbering(int sig)
{
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        continue;
}

static void reap_saving_errno(int sig)
{
    int saved_errno = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        continue;
    errno = saved_errno;
}

/* accept fails with EAGAIN, and a child's end is delivered just after. */
static void accept_then_sigchld(int lfd, void (*handler)(int))
{
    struct sigaction sa;
    sigset_t chld;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) == -1)
        die("sigaction");
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, NULL) == -1)
        die("sigprocmask");
    pid_t child = fork_peer("child");
    if (child == 0)
        _exit(EXIT_SUCCESS);
    while (process_state(child) != 'Z')
        continue;

    int cfd = accept(lfd, NULL, NULL);
    /* The pending SIGCHLD is delivered before sigprocmask returns. */
    sigprocmask(SIG_UNBLOCK, &chld, NULL);
    if (cfd == -1)
        printf("%s: accept failed, and errno now says %s (%s)\n",
               handler == reap_clobbering ? "handler without saving errno"
                                          : "handler saving errno",
               errno == EAGAIN ? "EAGAIN" : errno == ECHILD ? "ECHILD"
                                                            : "another errno",
               strerror(errno));
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
    int flags = fcntl(lfd, F_GETFL);
    if (flags == -1 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) == -1)
        die("fcntl");

    accept_then_sigchld(lfd, reap_clobbering);
    accept_then_sigchld(lfd, reap_saving_errno);
    close(lfd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
