/*
 * queue-full.c - sendto() to a socket that never receives, until its
 * queue is full.
 *
 * Each datagram waits in the receiver's queue until it is received, and
 * the queue has a limit: net.unix.max_dgram_qlen datagrams, and one more.
 * A sendto with MSG_DONTWAIT then fails with EAGAIN; a blocking one waits
 * until the receiver takes a datagram.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"

static int max_dgram_qlen(void)
{
    char text[32] = "";
    int fd = open("/proc/sys/net/unix/max_dgram_qlen", O_RDONLY);
    if (fd == -1 || read(fd, text, sizeof text - 1) <= 0)
        die("reading /proc/sys/net/unix/max_dgram_qlen");
    close(fd);
    return atoi(text);
}

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int ready[2];
    int sent = 0;
    char c;

    watchdog();

    /* The collector: a datagram socket, bound; it does not receive yet. */
    int collector = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (collector == -1)
        die("socket");
    if (bind(collector, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");

    /* The logger. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: sendto - without waiting, until the kernel says no. */
    while (sendto(fd, "m", 1, MSG_DONTWAIT, (struct sockaddr *)&addr,
                  sizeof addr) == 1)
        sent++;
    perror("sendto");
    printf("%d datagrams queued; net.unix.max_dgram_qlen is %d\n", sent,
           max_dgram_qlen());
    fflush(stdout);

    /* The collector takes one datagram, once the logger waits. */
    if (pipe(ready) == -1)
        die("pipe");
    pid_t peer = fork_peer("collector");
    if (peer == 0) {
        await(ready[0]);
        while (!asleep(getppid())) /* in its sendto, which waits */
            continue;
        if (recv(collector, &c, 1, 0) != 1)
            die("recv");
        exit(EXIT_SUCCESS);
    }

    /* Step 4 again: a blocking sendto, which waits for room. */
    tell(ready[1]);
    if (sendto(fd, "m", 1, 0, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("sendto");
    else
        printf("the blocking sendto waited, then went\n");

    end_of_peer(peer);
    close(fd);
    close(collector);
    unlink(PATH);
    return EXIT_SUCCESS;
}
