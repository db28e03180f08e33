/*
 * trace/include/unistd.h - the real <unistd.h>, then the trace's macros for
 * the calls it declares: read, write, close, unlink, unlinkat, fork. See
 * trace/include/sys/socket.h for how these wrapper headers work.
 */
#pragma GCC system_header
#include_next <unistd.h>

#ifndef LAB_TRACE_UNISTD_H
#define LAB_TRACE_UNISTD_H

ssize_t lab_read(int fd, void *buf, size_t count, const char *file, int line);
ssize_t lab_write(int fd, const void *buf, size_t count,
                  const char *file, int line);
int lab_close(int fd, const char *file, int line);
int lab_unlink(const char *path, const char *file, int line);
int lab_unlinkat(int dirfd, const char *path, int flags,
                 const char *file, int line);
pid_t lab_fork(const char *file, int line);

#ifndef LAB_TRACE_IMPLEMENTATION
#define read(fd, b, n) lab_read((fd), (b), (n), __FILE__, __LINE__)
#define write(fd, b, n) lab_write((fd), (b), (n), __FILE__, __LINE__)
#define close(fd) lab_close((fd), __FILE__, __LINE__)
#define unlink(p) lab_unlink((p), __FILE__, __LINE__)
/* unlinkat(AT_FDCWD, path, 0) is unlink(path) (unlinkat(2)), and is
 * traced as it. */
#define unlinkat(d, p, f) lab_unlinkat((d), (p), (f), __FILE__, __LINE__)
#define fork() lab_fork(__FILE__, __LINE__)
#endif

#endif
