/*
 * lab_trace.h - makes every lifecycle call of a lab program visible.
 *
 * The Makefile compiles each lab program with "-include trace/lab_trace.h",
 * so the program itself stays plain POSIX: it calls bind(fd, ...), and this
 * header turns that call into lab_bind(fd, ..., __FILE__, __LINE__), which
 * makes the real call and reports it (see trace/TRACE.md).
 *
 * The system headers are included first, with their include guards, so the
 * declarations they contain are not touched by the macros below; a
 * program's own later #include of the same headers then does nothing.
 */
#ifndef LAB_TRACE_H
#define LAB_TRACE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int lab_socket(int domain, int type, int protocol, const char *file, int line);
int lab_socketpair(int domain, int type, int protocol, int sv[2],
                   const char *file, int line);
int lab_bind(int fd, const struct sockaddr *addr, socklen_t len,
             const char *file, int line);
int lab_listen(int fd, int backlog, const char *file, int line);
int lab_accept(int fd, struct sockaddr *addr, socklen_t *len,
               const char *file, int line);
int lab_connect(int fd, const struct sockaddr *addr, socklen_t len,
                const char *file, int line);
ssize_t lab_read(int fd, void *buf, size_t count, const char *file, int line);
ssize_t lab_write(int fd, const void *buf, size_t count,
                  const char *file, int line);
ssize_t lab_recv(int fd, void *buf, size_t count, int flags,
                 const char *file, int line);
ssize_t lab_send(int fd, const void *buf, size_t count, int flags,
                 const char *file, int line);
int lab_shutdown(int fd, int how, const char *file, int line);
int lab_close(int fd, const char *file, int line);
int lab_unlink(const char *path, const char *file, int line);
pid_t lab_waitpid(pid_t pid, int *status, int options,
                  const char *file, int line);

#ifndef LAB_TRACE_IMPLEMENTATION
#define socket(d, t, p) lab_socket((d), (t), (p), __FILE__, __LINE__)
#define socketpair(d, t, p, sv) \
    lab_socketpair((d), (t), (p), (sv), __FILE__, __LINE__)
#define bind(fd, a, l) lab_bind((fd), (a), (l), __FILE__, __LINE__)
#define listen(fd, b) lab_listen((fd), (b), __FILE__, __LINE__)
#define accept(fd, a, l) lab_accept((fd), (a), (l), __FILE__, __LINE__)
#define connect(fd, a, l) lab_connect((fd), (a), (l), __FILE__, __LINE__)
#define read(fd, b, n) lab_read((fd), (b), (n), __FILE__, __LINE__)
#define write(fd, b, n) lab_write((fd), (b), (n), __FILE__, __LINE__)
#define recv(fd, b, n, f) lab_recv((fd), (b), (n), (f), __FILE__, __LINE__)
#define send(fd, b, n, f) lab_send((fd), (b), (n), (f), __FILE__, __LINE__)
#define shutdown(fd, h) lab_shutdown((fd), (h), __FILE__, __LINE__)
#define close(fd) lab_close((fd), __FILE__, __LINE__)
#define unlink(p) lab_unlink((p), __FILE__, __LINE__)
#define waitpid(p, s, o) lab_waitpid((p), (s), (o), __FILE__, __LINE__)
#endif

#endif
