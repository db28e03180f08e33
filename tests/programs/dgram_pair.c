/*
 * dgram_pair.c - datagrams between two processes: addresses, a sender with
 * none, a message in pieces with an fd passed, and truncation.
 *
 * Usage: dgram_pair
 *
 * The parent binds a SOCK_DGRAM socket to log.sock and forks a sender,
 * which sends four datagrams to it: "hello" with sendto from a socket
 * bound to client.sock; "anonymous" from a socket never bound (it has no
 * address, so no reply could reach it); "two pieces" with sendmsg from
 * two iovecs, passing an fd (SCM_RIGHTS); and 100 bytes, more than the
 * parent's buffer. The parent receives them with recvfrom, recvmsg (the
 * fd comes as a new descriptor) and a 16-byte recvmsg (MSG_TRUNC: the end
 * is lost). Then it tells the sender to go with a signal (kill), waits for
 * it, and removes both socket files.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static volatile sig_atomic_t told;

static void on_usr1(int sig)
{
    (void)sig;
    told = 1;
}

/* The sender: four datagrams, then it waits for the parent's word. */
static void sender(int ready)
{
    struct sockaddr_un log = address_of("log.sock");
    struct sockaddr_un me = address_of("client.sock");
    int named = socket(AF_UNIX, SOCK_DGRAM, 0);
    int anonymous = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (named == -1 || anonymous == -1 ||
        bind(named, (struct sockaddr *)&me, sizeof me) == -1)
        fail("sender: socket");
    if (sendto(named, "hello", 5, 0, (struct sockaddr *)&log,
               sizeof log) != 5 ||
        sendto(anonymous, "anonymous", 9, 0, (struct sockaddr *)&log,
               sizeof log) != 9)
        fail("sender: sendto");

    /* A message in two pieces, with an fd: the named socket's. */
    struct iovec iov[2] = {{.iov_base = "two ", .iov_len = 4},
                           {.iov_base = "pieces", .iov_len = 6}};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &log;
    msg.msg_namelen = sizeof log;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &named, sizeof named);
    if (sendmsg(anonymous, &msg, 0) != 10)
        fail("sender: sendmsg");

    char big[100];
    memset(big, 'x', sizeof big);
    if (sendto(named, big, sizeof big, 0, (struct sockaddr *)&log,
               sizeof log) != (ssize_t)sizeof big)
        fail("sender: sendto");
    close(anonymous);
    close(named);
    /* SIGUSR1 blocked from before the word until the wait for it. */
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old);
    if (write(ready, "!", 1) != 1) /* a pipe: not traced */
        fail("sender: write");
    while (!told)
        sigsuspend(&old);
    exit(0);
}

int main(void)
{
    struct sockaddr_un log = address_of("log.sock");
    int ready[2];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    if (pipe(ready) == -1 || sigaction(SIGUSR1, &sa, NULL) == -1)
        fail("setup");
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1 || bind(fd, (struct sockaddr *)&log, sizeof log) == -1)
        fail("socket");

    pid_t child = fork();
    if (child == -1)
        fail("fork");
    if (child == 0)
        sender(ready[1]);

    char buf[64];
    struct sockaddr_un from;
    socklen_t len = sizeof from;
    for (int i = 0; i < 2; i++) {
        len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0,
                             (struct sockaddr *)&from, &len);
        if (n == -1)
            fail("recvfrom");
        printf("%.*s from %s\n", (int)n, buf,
               len > sizeof(sa_family_t) ? from.sun_path : "(unbound)");
    }

    /* The message in pieces, and the fd that came with it. */
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n == -1)
        fail("recvmsg");
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        int passed;
        memcpy(&passed, CMSG_DATA(c), sizeof passed);
        close(passed);
    }
    printf("%.*s, with an fd\n", (int)n, buf);

    /* 100 bytes into 16: the rest of the datagram is lost. */
    char small[16];
    struct iovec part = {.iov_base = small, .iov_len = sizeof small};
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &part;
    msg.msg_iovlen = 1;
    n = recvmsg(fd, &msg, 0);
    if (n == -1)
        fail("recvmsg");
    printf("%zd bytes%s\n", n,
           (msg.msg_flags & MSG_TRUNC) ? ", truncated" : "");

    char c1;
    if (read(ready[0], &c1, 1) != 1)
        fail("read");
    if (kill(child, SIGUSR1) == -1)
        fail("kill");
    int status;
    if (waitpid(child, &status, 0) == -1)
        fail("waitpid");
    close(fd);
    unlink("log.sock");
    unlink("client.sock");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
