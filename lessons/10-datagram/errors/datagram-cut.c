/*
 * datagram-cut.c - recvmsg() of a 26-byte datagram into a 10-byte buffer.
 *
 * A datagram that does not fit is cut: recvmsg returns what fits, and the
 * rest of that datagram is thrown away, without an error. Only MSG_TRUNC
 * in msg_flags says so; recvfrom and read, which have no msg_flags, would
 * not. The next receive returns the next datagram, not the lost bytes.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    char buf[10];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg;

    watchdog();

    /* The collector: a datagram socket, bound. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* A logger sends 26 bytes, then 4. */
    int logger = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (logger == -1)
        die("socket");
    if (sendto(logger, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, 0,
               (struct sockaddr *)&addr, sizeof addr) != 26 ||
        sendto(logger, "next", 4, 0, (struct sockaddr *)&addr,
               sizeof addr) != 4)
        die("sendto");

    /* Step 3: recvmsg - twice, into 10 bytes. */
    for (int i = 0; i < 2; i++) {
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        ssize_t n = recvmsg(fd, &msg, 0);
        if (n == -1)
            die("recvmsg");
        printf("recvmsg returned %zd bytes, \"%.*s\"%s\n", n, (int)n, buf,
               msg.msg_flags & MSG_TRUNC ? ", with MSG_TRUNC: cut" : "");
    }

    close(logger);
    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
