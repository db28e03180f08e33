/*
 * send-to-missing-collector.c - sendto() to a path where no file exists.
 *
 * No collector has run in this directory: the datagram has nowhere to go,
 * ENOENT. (The C library's syslog(3) meets this when nothing serves
 * /dev/log, and drops the message without a word.)
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "log.sock"

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);

    watchdog();
    must_be_absent(PATH);

    /* The logger. Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 4: sendto - to a path nobody bound. */
    if (sendto(fd, "hello", 5, 0, (struct sockaddr *)&addr,
               sizeof addr) == -1)
        perror("sendto");

    close(fd);
    return EXIT_SUCCESS;
}
