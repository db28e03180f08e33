/*
 * trace/include/poll.h - the real <poll.h>, then the trace's macro for
 * poll. See trace/include/sys/socket.h for how these wrapper headers work.
 */
#pragma GCC system_header
#include_next <poll.h>

#ifndef LAB_TRACE_POLL_H
#define LAB_TRACE_POLL_H

int lab_poll(struct pollfd *fds, nfds_t nfds, int timeout, const char *file,
             int line);

#ifndef LAB_TRACE_IMPLEMENTATION
#define poll(f, n, t) lab_poll((f), (n), (t), __FILE__, __LINE__)
#endif

#endif
