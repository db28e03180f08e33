/*
 * trace/include/sys/poll.h - the real <sys/poll.h>, then the trace's macros
 * for poll and ppoll, as trace/include/poll.h defines them (either header
 * may include the other).
 */
#pragma GCC system_header
#include_next <sys/poll.h>

#ifndef LAB_TRACE_POLL_H
#define LAB_TRACE_POLL_H

int lab_poll(struct pollfd *fds, nfds_t nfds, int timeout, const char *file,
             int line);

/* ppoll(2) is declared with _GNU_SOURCE only, with the types the real
 * header declares for it: glibc's <poll.h> names the mask's type
 * __sigset_t (sigset_t is its other name, from <signal.h>), musl's
 * sigset_t. */
#ifdef _GNU_SOURCE
#ifdef __GLIBC__
#define LAB_TRACE_SIGSET_T __sigset_t
#else
#define LAB_TRACE_SIGSET_T sigset_t
#endif
int lab_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
              const LAB_TRACE_SIGSET_T *sigmask, const char *file, int line);
#endif

#ifndef LAB_TRACE_IMPLEMENTATION
#define poll(f, n, t) lab_poll((f), (n), (t), __FILE__, __LINE__)
#ifdef _GNU_SOURCE
#define ppoll(f, n, t, m) lab_ppoll((f), (n), (t), (m), __FILE__, __LINE__)
#endif
#endif

#endif
