/*
 * bench_client.c - streams bytes through an echo server and reads them
 * back at the same time, for `make bench` (tools/bench.py).
 *
 * Usage: bench_client SOCKET_PATH MIB
 *
 * Connects to SOCKET_PATH, then forks: the child writes MIB mebibytes and
 * shuts down its writing side; the parent reads the echo until end of
 * file. Reading while writing keeps both socket buffers moving, so the
 * server never blocks on a full buffer. Exits with 0 when exactly as many
 * bytes came back as went out. Built without the trace: it is the load,
 * not what is measured.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536

static char buf[CHUNK];

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr;
    if (argc != 3 || strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "usage: bench_client SOCKET_PATH MIB\n");
        return 2;
    }
    unsigned long long total = strtoull(argv[2], NULL, 10) << 20;

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strcpy(addr.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        perror("bench_client: connect");
        return 1;
    }

    pid_t writer = fork();
    if (writer == -1) {
        perror("bench_client: fork");
        return 1;
    }
    if (writer == 0) {
        memset(buf, 'a', sizeof buf);
        for (unsigned long long sent = 0; sent < total; sent += CHUNK)
            if (write_all(fd, buf, CHUNK) == -1) {
                perror("bench_client: write");
                _exit(1);
            }
        if (shutdown(fd, SHUT_WR) == -1) {
            perror("bench_client: shutdown");
            _exit(1);
        }
        _exit(0);
    }

    unsigned long long got = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            perror("bench_client: read");
            return 1;
        }
        if (n == 0)
            break;
        got += (unsigned long long)n;
    }
    int status;
    if (waitpid(writer, &status, 0) == -1 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_client: the writer failed\n");
        return 1;
    }
    if (got != total) {
        fprintf(stderr, "bench_client: %llu bytes back of %llu\n", got, total);
        return 1;
    }
    close(fd);
    return 0;
}
