/*
 * trace/include/stdio.h - the real <stdio.h>, then the trace's macro for
 * remove. See trace/include/sys/socket.h for how these wrapper headers
 * work.
 */
#pragma GCC system_header
#include_next <stdio.h>

#ifndef LAB_TRACE_STDIO_H
#define LAB_TRACE_STDIO_H

int lab_unlink(const char *path, const char *file, int line);

#ifndef LAB_TRACE_IMPLEMENTATION
/* remove(path) of a file that is not a directory is unlink(path)
 * (remove(3)), and is traced as it: the lab's programs remove no
 * directory. */
#define remove(p) lab_unlink((p), __FILE__, __LINE__)
#endif

#endif
