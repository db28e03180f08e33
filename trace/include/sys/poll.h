/*
 * trace/include/sys/poll.h - the real <sys/poll.h>, then the trace's macro
 * for poll, as trace/include/poll.h defines it (either header may include
 * the other).
 */
#pragma GCC system_header
#include_next <sys/poll.h>

#ifndef LAB_TRACE_POLL_H
#define LAB_TRACE_POLL_H

int lab_poll(struct pollfd *fds, nfds_t nfds, int timeout, const char *file,
             int line);

#ifndef LAB_TRACE_IMPLEMENTATION
#define poll(f, n, t) lab_poll((f), (n), (t), __FILE__, __LINE__)
#endif

#endif
