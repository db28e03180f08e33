/*
 * handler_calls.c - traced calls in signal handlers, while the main flow
 * makes traced calls in a tight loop.
 *
 * Usage: handler_calls ROUNDS SIGNALS
 *
 * The main flow writes a byte into a socket pair and reads it back, ROUNDS
 * times at least, and starts a short-lived child now and then. Meanwhile
 * another child sends it SIGNALS signals as fast as it can: SIGRTMIN, a
 * real-time signal, so that none is lost by merging with another still
 * pending, and the main flow goes on until all have come. Its handler
 * writes a byte to a non-blocking socket (a self-pipe, which the main flow
 * drains), and creates and closes a socket; the SIGCHLD handler reaps
 * children with waitpid(-1, ..., WNOHANG), as TLPI's and UNP's servers do.
 *
 * Every traced call is counted where it is made; at the end the program
 * prints the counts, one "CALL N" per line, so that a test can check that
 * the trace reported each call exactly once.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WRITE, READ, SOCKET, CLOSE, WAITPID, SOCKETPAIR, CALLS };
static const char *names[CALLS] = {"write", "read", "socket", "close",
                                   "waitpid", "socketpair"};

/* Each counter is changed by one context only: the main flow, or the
 * handlers (which block each other, so they never nest). */
static volatile sig_atomic_t in_main[CALLS], in_handlers[CALLS];
static int self_pipe[2];

static void on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    (void)write(self_pipe[1], "!", 1);
    in_handlers[WRITE]++;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    in_handlers[SOCKET]++;
    if (fd != -1) {
        (void)close(fd);
        in_handlers[CLOSE]++;
    }
    errno = saved;
}

static void on_chld(int sig)
{
    int saved = errno;
    (void)sig;
    for (;;) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        in_handlers[WAITPID]++;
        if (pid <= 0)
            break;
    }
    errno = saved;
}

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

int main(int argc, char *argv[])
{
    if (argc != 3) {
        fprintf(stderr, "usage: handler_calls ROUNDS SIGNALS\n");
        return 2;
    }
    long rounds = atol(argv[1]), signals = atol(argv[2]);
    int pair[2];
    struct sigaction sa;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == -1)
        fail("socketpair");
    in_main[SOCKETPAIR]++;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, self_pipe) == -1)
        fail("socketpair");
    in_main[SOCKETPAIR]++;
    for (int i = 0; i < 2; i++) {
        int flags = fcntl(self_pipe[i], F_GETFL);
        if (flags == -1 ||
            fcntl(self_pipe[i], F_SETFL, flags | O_NONBLOCK) == -1)
            fail("fcntl");
    }

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGRTMIN);
    sigaddset(&sa.sa_mask, SIGCHLD);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_signal;
    if (sigaction(SIGRTMIN, &sa, NULL) == -1)
        fail("sigaction");
    sa.sa_handler = on_chld;
    if (sigaction(SIGCHLD, &sa, NULL) == -1)
        fail("sigaction");

    pid_t parent = getpid();
    pid_t signaller = fork();
    if (signaller == -1)
        fail("fork");
    if (signaller == 0) {
        for (long i = 0; i < signals; i++)
            while (kill(parent, SIGRTMIN) == -1)
                if (errno != EAGAIN) /* EAGAIN: the queue is full for now */
                    _exit(1);
        _exit(0);
    }

    char c, drained[64];
    for (long i = 0; i < rounds || in_handlers[SOCKET] < signals; i++) {
        if (write(pair[0], "m", 1) != 1)
            fail("write");
        in_main[WRITE]++;
        if (read(pair[1], &c, 1) != 1)
            fail("read");
        in_main[READ]++;
        (void)read(self_pipe[0], drained, sizeof drained);
        in_main[READ]++;
        if (i % 500 == 0) {
            pid_t child = fork();
            if (child == -1)
                fail("fork");
            if (child == 0)
                _exit(0);
        }
    }

    /* The rest of the children are reaped here, with the handlers off. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGRTMIN);
    sigaddset(&both, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &both, NULL) == -1)
        fail("sigprocmask");
    for (;;) {
        pid_t pid = waitpid(-1, NULL, 0);
        in_main[WAITPID]++;
        if (pid == -1)
            break;
    }
    for (int i = 0; i < CALLS; i++)
        printf("%s %ld %ld\n", names[i], (long)in_main[i],
               (long)in_handlers[i]);
    return 0;
}
