/*
 * child_killed.c - a child ended by the signal named on the command line.
 *
 * Usage: child_killed SIGNUM
 *
 * The parent kills its child with SIGNUM and waits for it: the trace of
 * waitpid names the signal (SIGTERM), or gives its number when it has no
 * name (a real-time signal: "signal 40").
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
    if (argc != 2) {
        fprintf(stderr, "usage: child_killed SIGNUM\n");
        return 2;
    }
    int sig = atoi(argv[1]);
    pid_t pid = fork();
    if (pid == -1) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        for (;;)
            pause(); /* until the parent's signal ends it */
    }
    if (kill(pid, sig) == -1) {
        perror("kill");
        return 1;
    }
    int status;
    if (waitpid(pid, &status, 0) == -1) {
        perror("waitpid");
        return 1;
    }
    return WIFSIGNALED(status) && WTERMSIG(status) == sig ? 0 : 1;
}
