/*
 * bind-path-too-long.c - bind() with an address longer than struct
 * sockaddr_un.
 *
 * sun_path holds 108 bytes. A program that builds its address in a bigger
 * buffer, to fit a longer path, and passes the buffer's size is refused
 * before any path is looked at: the length itself is wrong.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>

#include "../../variant.h"

#define LONG_PATH_BYTES 150

int main(void)
{
    /* A buffer with room for a 150-byte path after sun_family. */
    union {
        struct sockaddr_un un;
        char bytes[offsetof(struct sockaddr_un, sun_path) + LONG_PATH_BYTES];
    } addr;
    size_t path_len = LONG_PATH_BYTES - 1;

    watchdog();
    memset(&addr, 0, sizeof addr);
    addr.un.sun_family = AF_UNIX;
    memset(addr.bytes + offsetof(struct sockaddr_un, sun_path), 'x',
           path_len);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - with a length beyond struct sockaddr_un. */
    printf("address length %zu, struct sockaddr_un holds %zu\n",
           sizeof addr, sizeof(struct sockaddr_un));
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    return EXIT_SUCCESS;
}
