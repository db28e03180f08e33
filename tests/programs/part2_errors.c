/*
 * part2_errors.c - the failures of the calls of part 2, made on the real
 * kernel, one after the other: each is reported by the trace with its
 * explanation (trace/explanations.def).
 *
 * Usage: part2_errors
 *
 * accept4 with bad flags (EINVAL) and with none queued on a non-blocking
 * listener (EAGAIN); sendto to a path with no file (ENOENT), to a socket
 * file left by a closed socket (ECONNREFUSED), to a stream socket
 * (EPROTOTYPE), and with no address at all (ENOTCONN); sendmsg to a path
 * with no file (ENOENT); kill of a reaped child (ESRCH) and with no
 * signal (EINVAL); sigaction and signal for SIGKILL (EINVAL); poll of
 * more fds than a process may open (EINVAL); fcntl with an unknown
 * command (EINVAL); waitpid with no child left (ECHILD); and fork past
 * RLIMIT_NPROC (EAGAIN), in a child that runs as the user nobody (root's
 * forks are not limited). Exits with 0 when every call failed so.
 */
#define _GNU_SOURCE /* accept4 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"

static int failures;

static void expect(int failed, int err, int wanted, const char *what)
{
    if (!failed || err != wanted) {
        fprintf(stderr, "part2_errors: %s: not the failure expected\n",
                what);
        failures++;
    }
}

static void on_usr1(int sig)
{
    (void)sig;
}

int main(void)
{
    struct sockaddr_un stream = address_of("stream.sock");
    struct sockaddr_un gone = address_of("gone.sock");
    struct sockaddr_un nowhere = address_of("nowhere.sock");

    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1 ||
        bind(lfd, (struct sockaddr *)&stream, sizeof stream) == -1 ||
        listen(lfd, 1) == -1 ||
        fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK) == -1) {
        perror("part2_errors: listener");
        return 2;
    }
    int r = accept4(lfd, NULL, NULL, 12345);
    expect(r == -1, errno, EINVAL, "accept4 with bad flags");
    r = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    expect(r == -1, errno, EAGAIN, "accept4 with none queued");

    int dead = socket(AF_UNIX, SOCK_DGRAM, 0);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (dead == -1 || fd == -1 ||
        bind(dead, (struct sockaddr *)&gone, sizeof gone) == -1 ||
        close(dead) == -1) {
        perror("part2_errors: datagram sockets");
        return 2;
    }
    r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&nowhere,
                    sizeof nowhere);
    expect(r == -1, errno, ENOENT, "sendto to no file");
    r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&gone, sizeof gone);
    expect(r == -1, errno, ECONNREFUSED, "sendto to a closed socket's file");
    r = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&stream,
                    sizeof stream);
    expect(r == -1, errno, EPROTOTYPE, "sendto to a stream socket");
    r = (int)sendto(fd, "x", 1, 0, NULL, 0);
    expect(r == -1, errno, ENOTCONN, "sendto with no address");
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &nowhere;
    msg.msg_namelen = sizeof nowhere;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    r = (int)sendmsg(fd, &msg, 0);
    expect(r == -1, errno, ENOENT, "sendmsg to no file");

    pid_t child = fork();
    if (child == -1) {
        perror("part2_errors: fork");
        return 2;
    }
    if (child == 0)
        _exit(0);
    if (waitpid(child, NULL, 0) != child) {
        perror("part2_errors: waitpid");
        return 2;
    }
    r = kill(child, SIGTERM);
    expect(r == -1, errno, ESRCH, "kill of a reaped child");
    r = kill(getpid(), 12345);
    expect(r == -1, errno, EINVAL, "kill with no signal");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    r = sigaction(SIGKILL, &sa, NULL);
    expect(r == -1, errno, EINVAL, "sigaction for SIGKILL");
    expect(signal(SIGKILL, on_usr1) == SIG_ERR, errno, EINVAL,
           "signal for SIGKILL");

    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == -1) {
        perror("part2_errors: getrlimit");
        return 2;
    }
    /* A set one entry longer than the fds a process may open. */
    nfds_t many = (nfds_t)files.rlim_cur + 1;
    struct pollfd *set = calloc(many, sizeof *set);
    if (!set) {
        perror("part2_errors: calloc");
        return 2;
    }
    for (nfds_t i = 0; i < many; i++)
        set[i].fd = -1;
    r = poll(set, many, 0);
    expect(r == -1, errno, EINVAL, "poll of too many fds");
    free(set);
    r = fcntl(lfd, 9999);
    expect(r == -1, errno, EINVAL, "fcntl with an unknown command");
    r = waitpid(-1, NULL, WNOHANG);
    expect(r == -1, errno, ECHILD, "waitpid with no child");

    /* fork past RLIMIT_NPROC: as nobody, in a child, with the limit 0. */
    child = fork();
    if (child == -1) {
        perror("part2_errors: fork");
        return 2;
    }
    if (child == 0) {
        struct rlimit none = {0, 0};
        if ((getuid() == 0 && (setgid(65534) == -1 || setuid(65534) == -1)) ||
            setrlimit(RLIMIT_NPROC, &none) == -1)
            _exit(2);
        pid_t grandchild = fork();
        if (grandchild == 0)
            _exit(0);
        _exit(grandchild == -1 && errno == EAGAIN ? 0 : 1);
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "part2_errors: fork past RLIMIT_NPROC did not fail "
                        "with EAGAIN\n");
        failures++;
    }

    close(fd);
    close(lfd);
    unlink("stream.sock");
    unlink("gone.sock");
    return failures ? 1 : 0;
}
