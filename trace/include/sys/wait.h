/*
 * trace/include/sys/wait.h - the real <sys/wait.h>, then the trace's macro
 * for waitpid. See trace/include/sys/socket.h for how these wrapper
 * headers work.
 */
#pragma GCC system_header
#include_next <sys/wait.h>

#ifndef LAB_TRACE_SYS_WAIT_H
#define LAB_TRACE_SYS_WAIT_H

pid_t lab_waitpid(pid_t pid, int *status, int options,
                  const char *file, int line);

#ifndef LAB_TRACE_IMPLEMENTATION
#define waitpid(p, s, o) lab_waitpid((p), (s), (o), __FILE__, __LINE__)
#endif

#endif
