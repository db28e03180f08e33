/*
 * fork_echo.c - a forking echo server: a child per client, reaped in a
 * SIGCHLD handler.
 *
 * Usage: fork_echo SOCKET_PATH CLIENTS
 *
 * Binds SOCKET_PATH, accepts CLIENTS clients, and forks a child for each,
 * which sends back, upper-cased, every byte it reads until end of file.
 * The parent closes its copy of each connection at once; its SIGCHLD
 * handler reaps the children with waitpid(-1, ..., WNOHANG), as TLPI's
 * and UNP's servers do. Once every child has been reaped the server
 * removes its socket file and exits with 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t reaped;

/* Reaps every child that has ended; errno is the interrupted code's. */
static void on_child(int sig)
{
    int saved = errno;
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        reaped++;
    errno = saved;
}

/* The child's work: echo upper-cased until end of file. */
static int serve(int fd)
{
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        for (ssize_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(fd, buf + done, (size_t)(n - done));
            if (w == -1 && errno == EINTR)
                continue;
            if (w == -1)
                return -1;
            done += w;
        }
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr;
    if (argc != 3 || strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "usage: fork_echo SOCKET_PATH CLIENTS\n");
        return 2;
    }
    int clients = atoi(argv[2]);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_child;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("fork_echo: sigaction");
        return 1;
    }

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, argv[1]);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, clients) == -1) {
        perror("fork_echo: socket");
        return 1;
    }
    printf("fork_echo: listening on %s\n", argv[1]);
    fflush(stdout);

    for (int served = 0; served < clients;) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd == -1 && errno == EINTR)
            continue;
        if (cfd == -1) {
            perror("fork_echo: accept");
            return 1;
        }
        switch (fork()) {
        case -1: /* this client only is dropped */
            perror("fork_echo: fork");
            close(cfd);
            continue;
        case 0: /* the child: serves this client, needs no listener */
            close(lfd);
            _exit(serve(cfd) == 0 && close(cfd) == 0 ? 0 : 1);
        default: /* the parent: the child has its own copy of cfd */
            close(cfd);
            served++;
        }
    }

    /* Every child reaped: SIGCHLD is blocked between the test and the
     * wait, so that none comes unseen. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (reaped < clients)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);

    close(lfd);
    unlink(argv[1]);
    return 0;
}
