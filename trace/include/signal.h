/*
 * trace/include/signal.h - the real <signal.h>, then the trace's macros for
 * the calls it declares: kill, sigaction, signal. See
 * trace/include/sys/socket.h for how these wrapper headers work.
 *
 * A handler installed through the trace is called through the trace's own
 * small function, which reports each delivery, then calls the handler
 * with the same arguments (trace/TRACE.md, "Signals").
 */
#pragma GCC system_header
#include_next <signal.h>

#ifndef LAB_TRACE_SIGNAL_H
#define LAB_TRACE_SIGNAL_H

int lab_kill(pid_t pid, int sig, const char *file, int line);
int lab_sigaction(int sig, const struct sigaction *act,
                  struct sigaction *oldact, const char *file, int line);
void (*lab_signal(int sig, void (*handler)(int), int sysv, const char *file,
                  int line))(int);

/* glibc's signal() has System V's meaning (the handler runs once, calls it
 * interrupts are not restarted) unless the program asked for glibc's
 * defaults (_DEFAULT_SOURCE, _GNU_SOURCE); musl's has BSD's. The trace
 * keeps the meaning the program asked for. */
#if defined(__GLIBC__) && !defined(__USE_MISC)
#define LAB_TRACE_SYSV_SIGNAL 1
#else
#define LAB_TRACE_SYSV_SIGNAL 0
#endif

#ifndef LAB_TRACE_IMPLEMENTATION
#undef signal
#define kill(p, s) lab_kill((p), (s), __FILE__, __LINE__)
#define sigaction(s, a, o) lab_sigaction((s), (a), (o), __FILE__, __LINE__)
#define signal(s, h) \
    lab_signal((s), (h), LAB_TRACE_SYSV_SIGNAL, __FILE__, __LINE__)
#endif

#endif
