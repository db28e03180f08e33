/*
 * trace/include/sys/socket.h - the real <sys/socket.h>, then the trace's
 * macros for the calls it declares.
 *
 * The Makefile puts trace/include before the system's own directories
 * (-I trace/include), so a lab program's #include <sys/socket.h> finds this
 * file. It includes the real header first (#include_next: the next
 * <sys/socket.h> on the search path), with whatever feature macros the
 * program defined, so the system's declarations are never touched; only
 * then does it define socket(...) as lab_socket(..., __FILE__, __LINE__),
 * and so on (trace/TRACE.md, "How it works").
 */
#pragma GCC system_header
#include_next <sys/socket.h>

#ifndef LAB_TRACE_SYS_SOCKET_H
#define LAB_TRACE_SYS_SOCKET_H

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
ssize_t lab_recv(int fd, void *buf, size_t count, int flags,
                 const char *file, int line);
ssize_t lab_send(int fd, const void *buf, size_t count, int flags,
                 const char *file, int line);
int lab_shutdown(int fd, int how, const char *file, int line);
ssize_t lab_sendto(int fd, const void *buf, size_t count, int flags,
                   const struct sockaddr *to, socklen_t tolen,
                   const char *file, int line);
ssize_t lab_recvfrom(int fd, void *buf, size_t count, int flags,
                     struct sockaddr *from, socklen_t *fromlen,
                     const char *file, int line);
ssize_t lab_sendmsg(int fd, const struct msghdr *msg, int flags,
                    const char *file, int line);
ssize_t lab_recvmsg(int fd, struct msghdr *msg, int flags, const char *file,
                    int line);
/* accept4 is a GNU extension: the macro exists only where the program asked
 * for it, so a program that forgets _GNU_SOURCE fails to compile in the lab
 * as outside it. */
#ifdef _GNU_SOURCE
int lab_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                const char *file, int line);
#endif

#ifndef LAB_TRACE_IMPLEMENTATION
#define socket(d, t, p) lab_socket((d), (t), (p), __FILE__, __LINE__)
#define socketpair(d, t, p, sv) \
    lab_socketpair((d), (t), (p), (sv), __FILE__, __LINE__)
#define bind(fd, a, l) lab_bind((fd), (a), (l), __FILE__, __LINE__)
#define listen(fd, b) lab_listen((fd), (b), __FILE__, __LINE__)
#define accept(fd, a, l) lab_accept((fd), (a), (l), __FILE__, __LINE__)
#define connect(fd, a, l) lab_connect((fd), (a), (l), __FILE__, __LINE__)
#define recv(fd, b, n, f) lab_recv((fd), (b), (n), (f), __FILE__, __LINE__)
#define send(fd, b, n, f) lab_send((fd), (b), (n), (f), __FILE__, __LINE__)
#define shutdown(fd, h) lab_shutdown((fd), (h), __FILE__, __LINE__)
#define sendto(fd, b, n, f, a, l) \
    lab_sendto((fd), (b), (n), (f), (a), (l), __FILE__, __LINE__)
#define recvfrom(fd, b, n, f, a, l) \
    lab_recvfrom((fd), (b), (n), (f), (a), (l), __FILE__, __LINE__)
#define sendmsg(fd, m, f) lab_sendmsg((fd), (m), (f), __FILE__, __LINE__)
#define recvmsg(fd, m, f) lab_recvmsg((fd), (m), (f), __FILE__, __LINE__)
#ifdef _GNU_SOURCE
#define accept4(fd, a, l, f) \
    lab_accept4((fd), (a), (l), (f), __FILE__, __LINE__)
#endif
#endif

#endif
