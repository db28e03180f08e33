/*
 * trace/include/sys/wait.h - the real <sys/wait.h>, then the trace's macros
 * for waitpid and wait. See trace/include/sys/socket.h for how these wrapper
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
/* wait(&status) is waitpid(-1, &status, 0) (wait(2)), and traced as it. */
#define wait(s) lab_waitpid(-1, (s), 0, __FILE__, __LINE__)
#endif

#endif
