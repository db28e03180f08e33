/*
 * parent-keeps-connection.c - a forking server whose parent does not close
 * the connected socket after fork.
 *
 * After fork, parent and child each hold the connected socket: two
 * descriptors for one end of the connection. The child serves the client
 * and closes its copy when done; the client sees end of file only once
 * every copy is closed, so while the parent keeps its own, the client's
 * last read waits (here 0.2 s, its receive timeout, then EAGAIN) for an
 * end that never comes. And each client costs the parent one descriptor
 * more, until accept fails with EMFILE (here with RLIMIT_NOFILE lowered to
 * leave room for two). The parent must close its copy right after fork.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/resource.h>
#include <sys/time.h>

#include "../../variant.h"

#define CLIENTS 3

int main(void)
{
    struct sockaddr_un addr = unix_address("lab.sock");
    int ready[2];
    char buf[16];

    watchdog();
    if (pipe(ready) == -1)
        die("pipe");
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1)
        die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, 5) == -1)
        die("bind, listen");

    pid_t client = fork_peer("client");
    if (client == 0) {
        /* The first client: a request, its reply, then end of file? */
        struct timeval wait = {0, 200000};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd == -1 || connect(fd, (struct sockaddr *)&addr,
                                sizeof addr) == -1)
            die("client: connect");
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait) == -1)
            die("client: setsockopt");
        if (write(fd, "hi", 2) != 2 || read(fd, buf, sizeof buf) != 2)
            die("client: the reply");
        ssize_t n = read(fd, buf, sizeof buf);
        printf("client: after the reply, read returned %zd (%s)\n", n,
               n == 0 ? "end of file" : strerror(errno));
        fflush(stdout); /* _exit below flushes nothing */
        close(fd);
        /* Then more clients, each kept connected. */
        await(ready[0]);
        for (int i = 0; i < CLIENTS; i++) {
            fd = socket(AF_UNIX, SOCK_STREAM, 0);
            if (fd == -1 || connect(fd, (struct sockaddr *)&addr,
                                    sizeof addr) == -1)
                die("client: connect");
        }
        _exit(EXIT_SUCCESS);
    }

    /* The server: a child per client, and the parent keeps cfd. */
    int cfd = accept(lfd, NULL, NULL);
    if (cfd == -1)
        die("accept");
    pid_t child = fork_peer("server-child");
    if (child == 0) {
        close(lfd);
        ssize_t n = read(cfd, buf, sizeof buf);
        if (n > 0 && write(cfd, buf, (size_t)n) != n)
            die("child: write");
        close(cfd);
        _exit(EXIT_SUCCESS);
    }
    /* The mistake: no close(cfd) here. */
    end_of_peer(child);

    /* Only two more descriptors allowed: each kept connection takes one. */
    int probe = dup(0);
    if (probe == -1)
        die("dup");
    close(probe);
    struct rlimit limit = {(rlim_t)probe + 2, (rlim_t)probe + 2};
    if (setrlimit(RLIMIT_NOFILE, &limit) == -1)
        die("setrlimit");
    tell(ready[1]);
    for (int i = 0; i < CLIENTS; i++)
        if (accept(lfd, NULL, NULL) == -1)
            perror("accept, a descriptor kept for each client");
    end_of_peer(client);
    unlink("lab.sock");
    return EXIT_SUCCESS;
}
