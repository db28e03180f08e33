/*
 * bind-truncated-path.c - a long path copied into sun_path with strncpy.
 *
 * The idiom of many tutorials, strncpy(sun_path, name, sizeof sun_path - 1),
 * never overflows sun_path and always leaves a final '\0' - by cutting the
 * name silently at 107 bytes. bind does not fail: the socket file is
 * created under the shortened name, where whoever looks for the full name
 * (a script's rm, the next run's cleanup) finds nothing. The trace's bind
 * event shows the name the kernel really bound. Check strlen(name) <
 * sizeof sun_path instead, and refuse a name that does not fit.
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

/* 120 bytes: longer than sun_path, so its last 13 bytes are lost. */
#define LONG_NAME "a-socket-name-that-is-far-too-long-for-sun-path-" \
                  "because-sun-path-holds-only-108-bytes-on-linux-" \
                  "so-the-end-of-this-is-cut"

int main(int argc, char *argv[])
{
    struct sockaddr_un addr, got;
    socklen_t got_len = sizeof got;
    /* The name comes from the command line, as a real server's would. */
    const char *name = argc > 1 ? argv[1] : LONG_NAME;

    watchdog();
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    /* The mistake: no check that the name fits; strncpy just stops.
     * gcc's -Wstringop-truncation warns about this very line; the warning
     * is turned off here so that the program shows what happens. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-truncation"
#endif
    strncpy(addr.sun_path, name, sizeof addr.sun_path - 1);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    /* Step 1: socket. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");

    /* Step 2: bind - succeeds, under the first 107 bytes of the name. */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    memset(&got, 0, sizeof got);
    if (getsockname(fd, (struct sockaddr *)&got, &got_len) == -1)
        die("getsockname");
    struct stat st;
    if (stat(name, &st) == -1)
        printf("no file under the full name: %s\n", strerror(errno));
    printf("asked for %zu bytes: %s\nbound to  %zu bytes: %.*s\n",
           strlen(name), name, strnlen(got.sun_path, sizeof got.sun_path),
           (int)sizeof got.sun_path, got.sun_path);

    close(fd);
    /* Remove the file under its real, truncated name. */
    char real[sizeof got.sun_path + 1];
    memcpy(real, got.sun_path, sizeof got.sun_path);
    real[sizeof got.sun_path] = '\0';
    unlink(real);
    return EXIT_SUCCESS;
}
