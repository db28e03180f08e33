/*
 * poll_echo.c - one process, many clients: an echo server around poll(2),
 * its sockets non-blocking.
 *
 * Usage: poll_echo SOCKET_PATH CLIENTS
 *
 * Binds SOCKET_PATH and makes the listening socket non-blocking with
 * fcntl(2) (and close-on-exec); then polls it and every client. A ready
 * listener is accepted from until EAGAIN, with accept4(2), each new socket
 * non-blocking from the start; a ready client is read once, and what came
 * is sent back upper-cased. A client that ends (end of file) is closed and
 * its slot freed (fd -1: poll skips it). Once CLIENTS clients have come
 * and gone, the server removes its socket file and exits with 0.
 */
#define _GNU_SOURCE /* accept4 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CLIENTS 64

/* Sends all of buf on a non-blocking socket: a full buffer is waited out
 * with poll (the replies here are short; a real server would queue). */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n == -1 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
            if (poll(&p, 1, -1) == -1 && errno != EINTR)
                return -1;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr;
    struct pollfd set[1 + MAX_CLIENTS];
    if (argc != 3 || strlen(argv[1]) >= sizeof addr.sun_path ||
        atoi(argv[2]) < 1 || atoi(argv[2]) > MAX_CLIENTS) {
        fprintf(stderr, "usage: poll_echo SOCKET_PATH CLIENTS (1 to %d)\n",
                MAX_CLIENTS);
        return 2;
    }
    int clients = atoi(argv[2]), came = 0, open_clients = 0;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        perror("poll_echo: signal");
        return 1;
    }

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, argv[1]);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (lfd == -1 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(lfd, clients) == -1) {
        perror("poll_echo: socket");
        return 1;
    }
    int flags = fcntl(lfd, F_GETFL);
    if (flags == -1 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) == -1 ||
        fcntl(lfd, F_SETFD, FD_CLOEXEC) == -1 || fcntl(lfd, F_GETFD) == -1) {
        perror("poll_echo: fcntl");
        return 1;
    }
    printf("poll_echo: listening on %s\n", argv[1]);
    fflush(stdout);

    set[0].fd = lfd;
    set[0].events = POLLIN;
    set[0].revents = 0;
    for (int i = 1; i <= MAX_CLIENTS; i++) {
        set[i].fd = -1; /* a free slot: poll skips it */
        set[i].events = POLLIN;
        set[i].revents = 0;
    }
    nfds_t used = 1;

    while (came < clients || open_clients > 0) {
        int ready = poll(set, used, -1);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready == -1) {
            perror("poll_echo: poll");
            return 1;
        }
        if (set[0].revents & POLLIN) {
            for (;;) { /* every connection queued, until EAGAIN */
                int cfd = accept4(lfd, NULL, NULL,
                                  SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
                    break;
                if (cfd == -1 && errno == EINTR)
                    continue;
                if (cfd == -1) {
                    perror("poll_echo: accept4");
                    return 1;
                }
                nfds_t slot = 1;
                while (slot <= MAX_CLIENTS && set[slot].fd != -1)
                    slot++;
                set[slot].fd = cfd;
                set[slot].revents = 0; /* not polled yet */
                if (slot + 1 > used)
                    used = slot + 1;
                came++;
                open_clients++;
            }
        }
        for (nfds_t i = 1; i < used; i++) {
            if (set[i].fd == -1 || !(set[i].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[256];
            ssize_t n = recv(set[i].fd, buf, sizeof buf, 0);
            if (n == -1 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (n > 0) {
                for (ssize_t k = 0; k < n; k++)
                    buf[k] = (char)toupper((unsigned char)buf[k]);
                if (send_all(set[i].fd, buf, (size_t)n) == 0)
                    continue;
            }
            /* end of file, or an error: this client is done */
            close(set[i].fd);
            set[i].fd = -1;
            open_clients--;
        }
    }
    close(lfd);
    unlink(argv[1]);
    return 0;
}
