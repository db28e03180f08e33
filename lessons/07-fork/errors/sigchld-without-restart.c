/*
 * sigchld-without-restart.c - a SIGCHLD handler installed without
 * SA_RESTART, while the server waits in accept.
 *
 * A forking server waits in accept most of the time, and its children end
 * at any moment. Installed without SA_RESTART, the SIGCHLD handler makes
 * each child's end interrupt accept: -1 with EINTR, although no client
 * came and nothing went wrong. A loop that takes every -1 from accept for a
 * failure stops serving the moment its first child ends. With SA_RESTART
 * the kernel restarts accept once the handler has reaped the child, and
 * the server never sees it: here the second child's end goes unnoticed,
 * and accept returns only for the client that connects after it.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

static volatile sig_atomic_t reaped;

static void reap(int sig)
{
    int saved_errno = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        reaped++;
    errno = saved_errno;
}

static void install(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reap;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) == -1)
        die("sigaction");
}

/* A child that ends once the server sleeps in accept. */
static pid_t child_that_ends_during_accept(pid_t server)
{
    pid_t pid = fork_peer("child");
    if (pid == 0) {
        while (!asleep(server))
            continue;
        _exit(EXIT_SUCCESS);
    }
    return pid;
}

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");
    pid_t server = getpid();
    sigset_t chld, old;

    watchdog();
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1)
        die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, 5) == -1)
        die("bind, listen");

    /* Without SA_RESTART: the child's end interrupts accept. */
    install(0);
    child_that_ends_during_accept(server);
    int cfd = accept(lfd, NULL, NULL);
    if (cfd == -1)
        perror("accept, with a SIGCHLD handler without SA_RESTART");

    /* With SA_RESTART: the second child's end goes unnoticed; accept
     * returns for the client, who connects once that child is reaped. */
    install(SA_RESTART);
    pid_t second = child_that_ends_during_accept(server);
    pid_t client = fork_peer("client");
    if (client == 0) {
        while (process_state(second) != 0) /* until it is reaped */
            continue;
        while (!asleep(server)) /* in its accept again */
            continue;
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd == -1 || connect(fd, (struct sockaddr *)&addr,
                                sizeof addr) == -1)
            die("client: connect");
        /* The server past its accept, before this client's end: its
         * SIGCHLD must not come between accept's return and the trace. */
        while (!asleep(server))
            continue;
        close(fd);
        _exit(EXIT_SUCCESS);
    }
    cfd = accept(lfd, NULL, NULL);
    if (cfd == -1)
        die("accept, with SA_RESTART");
    printf("with SA_RESTART, accept returned fd %d for the client\n", cfd);

    /* Every child reaped, by the handler, before we leave. */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &old) == -1)
        die("sigprocmask");
    while (reaped < 3)
        sigsuspend(&old);
    close(cfd);
    close(lfd);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
