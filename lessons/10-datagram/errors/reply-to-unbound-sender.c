/*
 * reply-to-unbound-sender.c - a collector replies to a logger that never
 * called bind.
 *
 * A socket that never bound has no address. recvfrom tells it with the
 * length it returns: 0 on Linux (unix(7) says sizeof(sa_family_t)), and
 * nothing to read in sun_path. A reply sent with that length finds no
 * address at all: the kernel takes it as a send on an unconnected
 * socket, and says ENOTCONN. Look at the length before replying.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH), from;
    socklen_t from_len = sizeof from;
    char buf[64];

    watchdog();

    /* The collector: a datagram socket, bound. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* A logger that never binds sends a record. */
    int logger = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (logger == -1)
        die("socket");
    if (sendto(logger, "hello", 5, 0, (struct sockaddr *)&addr,
               sizeof addr) != 5)
        die("sendto");

    /* Step 3: recvfrom - the record, and its sender's address. */
    memset(&from, 0, sizeof from);
    if (recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from,
                 &from_len) == -1)
        die("recvfrom");
    printf("recvfrom gave an address of %u bytes\n", (unsigned)from_len);
    fflush(stdout);

    /* Step 4: sendto - a reply, to the address it gave: none. */
    if (sendto(fd, "ok 5", 4, 0, (struct sockaddr *)&from, from_len) == -1)
        perror("sendto");

    close(logger);
    close(fd);
    unlink(PATH);
    return EXIT_SUCCESS;
}
