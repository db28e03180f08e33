/*
 * trace/include/fcntl.h - the real <fcntl.h>, then the trace's macro for
 * fcntl. See trace/include/sys/socket.h for how these wrapper headers
 * work.
 *
 * fcntl takes a third argument or not, by command: lab_fcntl reads it for
 * the commands that take one, as the C library's own fcntl does.
 */
#pragma GCC system_header
#include_next <fcntl.h>

#ifndef LAB_TRACE_FCNTL_H
#define LAB_TRACE_FCNTL_H

int lab_fcntl(const char *file, int line, int fd, int cmd, ...);

/* A C library that names fcntl by another name (glibc on 32-bit systems,
 * with 64-bit file offsets, may) keeps it untraced. */
#if !defined(LAB_TRACE_IMPLEMENTATION) && !defined(fcntl)
#define fcntl(...) lab_fcntl(__FILE__, __LINE__, __VA_ARGS__)
#endif

#endif
