/*
 * bind-read-only-fs.c - bind() in a directory on a read-only file system.
 *
 * bind creates the socket file, and nothing can be created on a file
 * system mounted read-only (a CD, a system partition, a container's
 * image): EROFS, for root as for anyone. No root is needed to see it: in
 * a user namespace of its own an ordinary user may mount a tmpfs, here
 * read-only (mount_read_only() in lessons/variant.h; Linux only). Started
 * by root, the variant first becomes the user nobody, to show just that.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define RO_DIR "ro"

int main(void)
{
    struct sockaddr_un addr = unix_address(RO_DIR "/lab.sock");

    watchdog();
    const char *workdir = ordinary_user();
    mount_read_only(RO_DIR);

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - on the read-only file system. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        perror("bind");

    close(fd);
    unmount_read_only(RO_DIR);
    leave_ordinary_dir(workdir);
    return EXIT_SUCCESS;
}
