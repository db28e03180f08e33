/*
 * trace.c - the instrumented trace of the lab's lifecycle calls.
 *
 * Each lab_xxx function makes the real call, then reports it: a line for a
 * person on stderr (unless LAB_TRACE=0) and, when LAB_TRACE_FILE is set, one
 * JSON object per line appended to that file. trace/TRACE.md documents both.
 * errno is preserved, so the program sees exactly what the real call did.
 *
 * A traced call may be made in a signal handler (a SIGCHLD handler that
 * reaps with waitpid, a handler that writes to a self-pipe), so everything
 * from the wrapper's first line to its return is async-signal-safe
 * (signal-safety(7)): text is formatted by the small functions below into
 * buffers on the stack, never with stdio or malloc; the environment is read
 * once, before main, by a constructor; each line is one write(2). The
 * state the trace keeps between calls is changed only inside enter() and
 * leave(): a handler that interrupts the trace there reports its own call
 * plainly, without touching that state.
 */
#define _GNU_SOURCE /* program_invocation_short_name, environ */
/* The wrapper headers of trace/include declare the lab_ functions; this
 * file makes the real calls, so it takes no macros from them. */
#define LAB_TRACE_IMPLEMENTATION
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- text: a small formatter into a caller's buffer ------------------ */

/*
 * A text never overflows its buffer: what does not fit is dropped, and
 * the text stays a C string. Only memcpy and strlen from the C library,
 * both async-signal-safe since POSIX.1-2008 TC2.
 */
struct text {
    char *s;
    size_t cap, len; /* cap counts the final '\0' */
};

static void text_init(struct text *t, char *buf, size_t cap)
{
    t->s = buf;
    t->cap = cap;
    t->len = 0;
    buf[0] = '\0';
}

static void put_mem(struct text *t, const char *p, size_t n)
{
    if (t->len + 1 >= t->cap)
        return;
    if (n > t->cap - 1 - t->len)
        n = t->cap - 1 - t->len;
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void put(struct text *t, const char *s)
{
    put_mem(t, s, strlen(s));
}

static void put_char(struct text *t, char c)
{
    put_mem(t, &c, 1);
}

/* Digits of v, with a comma between each group of three when grouped. */
static void put_unsigned(struct text *t, unsigned long long v, int grouped)
{
    char digits[32];
    int n = 0, written = 0;
    do {
        if (grouped && written > 0 && written % 3 == 0)
            digits[n++] = ',';
        digits[n++] = (char)('0' + v % 10);
        written++;
        v /= 10;
    } while (v > 0);
    while (n > 0)
        put_char(t, digits[--n]);
}

static void put_int(struct text *t, long long v)
{
    if (v < 0) {
        put_char(t, '-');
        put_unsigned(t, 0ULL - (unsigned long long)v, 0);
    } else {
        put_unsigned(t, (unsigned long long)v, 0);
    }
}

static void put_pointer(struct text *t, const void *p)
{
    static const char hex[] = "0123456789abcdef";
    uintptr_t v = (uintptr_t)p;
    char digits[2 * sizeof v];
    int n = 0;
    do {
        digits[n++] = hex[v & 0xf];
        v >>= 4;
    } while (v > 0);
    put(t, "0x");
    while (n > 0)
        put_char(t, digits[--n]);
}

/* Bytes as a C string literal for people, or a JSON string for tools. */
static void put_escaped(struct text *t, const void *data, size_t n, int json)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    put_char(t, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            put_char(t, '\\');
            put_char(t, (char)c);
        } else if (c == '\n') {
            put(t, "\\n");
        } else if (c == '\t') {
            put(t, "\\t");
        } else if (c == '\r') {
            put(t, "\\r");
        } else if (c < 0x20 || c >= 0x7f) {
            put(t, json ? "\\u00" : "\\x");
            put_char(t, hex[c >> 4]);
            put_char(t, hex[c & 0xf]);
        } else {
            put_char(t, (char)c);
        }
    }
    put_char(t, '"');
}

static void put_quoted(struct text *t, const char *s, int json)
{
    put_escaped(t, s, strlen(s), json);
}

static int same(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* A source file's name, at most FILE_MAX bytes of it: a line of the JSON
 * trace must stay below PIPE_BUF. */
enum { FILE_MAX = 512 };

static void put_file(struct text *t, const char *file, int json)
{
    size_t n = strnlen(file, FILE_MAX);
    if (json)
        put_escaped(t, file, n, 1);
    else
        put_mem(t, file, n);
}

/* ---- errno and signal names, the same on every C library -------------- */

static const struct {
    int num;
    const char *name, *message;
} errnos[] = {
#define ERRNO(name, message) {name, #name, message},
#include "errnos.def"
#undef ERRNO
};

static int errno_index(int err)
{
    for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
        if (errnos[i].num == err)
            return (int)i;
    return -1;
}

/* "ENOENT", or "errno N" for a number the table does not know. */
static void put_errno_name(struct text *t, int err)
{
    int i = errno_index(err);
    if (i >= 0) {
        put(t, errnos[i].name);
    } else {
        put(t, "errno ");
        put_int(t, err);
    }
}

/* glibc's words for it: "No such file or directory", "Unknown error N". */
static void put_errno_message(struct text *t, int err)
{
    int i = errno_index(err);
    if (i >= 0) {
        put(t, errnos[i].message);
    } else {
        put(t, "Unknown error ");
        put_int(t, err);
    }
}

#define SIGNAL(name) {name, #name}
static const struct {
    int num;
    const char *name;
} signal_names[] = {
    SIGNAL(SIGHUP), SIGNAL(SIGINT), SIGNAL(SIGQUIT), SIGNAL(SIGILL),
    SIGNAL(SIGTRAP), SIGNAL(SIGABRT), SIGNAL(SIGBUS), SIGNAL(SIGFPE),
    SIGNAL(SIGKILL), SIGNAL(SIGUSR1), SIGNAL(SIGSEGV), SIGNAL(SIGUSR2),
    SIGNAL(SIGPIPE), SIGNAL(SIGALRM), SIGNAL(SIGTERM),
#ifdef SIGSTKFLT
    SIGNAL(SIGSTKFLT),
#endif
    SIGNAL(SIGCHLD), SIGNAL(SIGCONT), SIGNAL(SIGSTOP), SIGNAL(SIGTSTP),
    SIGNAL(SIGTTIN), SIGNAL(SIGTTOU), SIGNAL(SIGURG), SIGNAL(SIGXCPU),
    SIGNAL(SIGXFSZ), SIGNAL(SIGVTALRM), SIGNAL(SIGPROF), SIGNAL(SIGWINCH),
    SIGNAL(SIGIO),
#ifdef SIGPWR
    SIGNAL(SIGPWR),
#endif
    SIGNAL(SIGSYS),
};
#undef SIGNAL

static const char *signal_name(int sig)
{
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (signal_names[i].num == sig)
            return signal_names[i].name;
    return NULL;
}

/* "SIGTERM", or "signal N" for a signal with no name (a real-time one). */
static void put_signal_name(struct text *t, int sig)
{
    const char *name = signal_name(sig);
    if (name) {
        put(t, name);
    } else {
        put(t, "signal ");
        put_int(t, sig);
    }
}

/* ---- the names of the traced calls ---------------------------------- */

enum call {
    SOCKET, SOCKETPAIR, BIND, LISTEN, ACCEPT, CONNECT, READ, WRITE, RECV,
    SEND, SHUTDOWN, CLOSE, UNLINK, WAITPID, FORK, KILL, POLL, FCNTL, ACCEPT4,
    SENDTO, RECVFROM, SENDMSG, RECVMSG, SIGACTION, SIGNAL_CALL, PPOLL,
    N_CALLS
};

static const char *const call_names[N_CALLS] = {
    "socket", "socketpair", "bind", "listen", "accept", "connect", "read",
    "write", "recv", "send", "shutdown", "close", "unlink", "waitpid",
    "fork", "kill", "poll", "fcntl", "accept4", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "sigaction", "signal", "ppoll",
};

/* ---- what each man page lists ---------------------------------------- */

static const struct {
    const char *call, *page, *errnos;
} man_pages[] = {
#define LISTS(call, page, errnos) {call, page, errnos},
#include "manpages.def"
#undef LISTS
};

/* The man page of call, or NULL; *lists tells whether its ERRORS section
 * lists the errno named name. */
static const char *man_page(const char *call, const char *name, int *lists)
{
    size_t n = strlen(name);
    *lists = 0;
    for (size_t i = 0; i < sizeof man_pages / sizeof man_pages[0]; i++) {
        if (!same(man_pages[i].call, call))
            continue;
        for (const char *p = man_pages[i].errnos; *p;) {
            size_t len = 0;
            while (p[len] && p[len] != ' ')
                len++;
            if (len == n && strncmp(p, name, n) == 0)
                *lists = 1;
            p += len;
            while (*p == ' ')
                p++;
        }
        return man_pages[i].page;
    }
    return NULL;
}

/* Where to read about a failure that explanations.def does not explain. */
static void put_see_also(struct text *t, const char *call, int err)
{
    char buf[32];
    struct text name;
    int lists;
    text_init(&name, buf, sizeof buf);
    put_errno_name(&name, err);
    const char *page = man_page(call, name.s, &lists);
    if (page && lists) {
        put(t, "the ERRORS section of ");
        put(t, page);
    } else {
        put(t, "the man page ");
        if (page) {
            put(t, page);
        } else {
            put(t, call);
            put(t, "(2)");
        }
        put(t, " does not list ");
        put(t, name.s);
    }
}

/* ---- the explanation table -------------------------------------------- */

struct explanation {
    const char *call;
    int errnum;
    const char *why, *fix, *see;
};

static const struct explanation explanations[] = {
#define EXPLAIN(call, err, why, fix, see) {call, err, why, fix, see},
#include "explanations.def"
#undef EXPLAIN
};

/* A call whose rows are another's too: accept4 is accept, sendto and
 * sendmsg are send, recvfrom and recvmsg are recv, signal is sigaction. */
static const char *explained_as(const char *call)
{
    static const char *const alias[][2] = {
        {"accept4", "accept"}, {"sendto", "send"}, {"sendmsg", "send"},
        {"recvfrom", "recv"}, {"recvmsg", "recv"}, {"signal", "sigaction"},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (same(alias[i][0], call))
            return alias[i][1];
    return call;
}

static const struct explanation *explain(const char *call, int errnum)
{
    size_t n = sizeof explanations / sizeof explanations[0];
    for (size_t i = 0; i < n; i++)
        if (explanations[i].errnum == errnum && same(explanations[i].call, call))
            return &explanations[i];
    const char *other = explained_as(call);
    for (size_t i = 0; i < n; i++)
        if (explanations[i].errnum == errnum && same(explanations[i].call, other))
            return &explanations[i];
    for (size_t i = 0; i < n; i++)
        if (explanations[i].errnum == errnum && same(explanations[i].call, "*"))
            return &explanations[i];
    return NULL;
}

/* ---- fault injection: LAB_FAULTS ------------------------------------ */

static int write_all(int fd, const char *s, size_t n);
static void say(const char *s, size_t n);

/*
 * LAB_FAULTS='accept#2=EMFILE,read<=1' makes chosen traced calls fail, or
 * move fewer bytes, to show what scheduling never shows (trace/TRACE.md,
 * "Fault injection"). A rule is CALL, then optionally #N (only the Nth
 * call of that name in this process) or #N+ (the Nth and every later
 * one), then =ERRNO (fail with it, without making the call), =SIGNAL (the
 * signal comes just before the call, which is then made), =TIMEOUT (poll,
 * ppoll: return 0, nothing ready, without making the call), =CHILDFIRST
 * (fork: the parent goes on only once the child has ended) or <=BYTES (read,
 * write, recv, send: make the call with at most BYTES). The rules
 * are read once, at start; the first rule that matches a call applies.
 */
enum { MAX_RULES = 16, RULE_TEXT = 64 };

static struct rule {
    enum call id;
    unsigned long nth;    /* 0: every call of this name; else the Nth */
    int onward;           /* the Nth and every later one */
    int err;              /* fail with this errno, the call not made */
    int sig;              /* or raise this signal just before the call */
    int timeout;          /* or return 0 as a poll that timed out, not made */
    int childfirst;       /* or, fork: return in the parent once the child
                             has ended */
    unsigned long limit;  /* or make it with at most this many bytes */
    char text[RULE_TEXT]; /* as written, for the note */
} rules[MAX_RULES];
static int n_rules;
/* How many calls of each name this process made: see forget_parent_state. */
static unsigned long calls_made[N_CALLS];
/* The rule whose signal is being raised now (its index), else -1: the
 * report of its delivery says it came from LAB_FAULTS. */
static volatile sig_atomic_t raising = -1;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(const char **p, unsigned long *out)
{
    unsigned long v = 0;
    const char *s = *p;
    if (!is_digit(*s))
        return 0;
    while (is_digit(*s)) {
        if (v > 100000000UL)
            return 0;
        v = v * 10 + (unsigned long)(*s++ - '0');
    }
    *p = s;
    *out = v;
    return 1;
}

/* Parses one rule into r; on a mistake, says what it is in why. */
static int parse_rule(const char *s, struct rule *r, struct text *why)
{
    const char *p = s;
    size_t len = 0;
    while ((p[len] >= 'a' && p[len] <= 'z') || is_digit(p[len]))
        len++;
    int id = -1;
    for (int i = 0; i < N_CALLS; i++)
        if (strlen(call_names[i]) == len && strncmp(call_names[i], p, len) == 0)
            id = i;
    if (id < 0) {
        put(why, "\"");
        put_mem(why, p, len);
        put(why, "\" is not a call the trace traces (");
        for (int i = 0; i < N_CALLS; i++) {
            put(why, call_names[i]);
            put(why, i + 1 < N_CALLS ? ", " : ")");
        }
        return 0;
    }
    r->id = (enum call)id;
    p += len;
    if (*p == '#') {
        p++;
        if (!parse_number(&p, &r->nth) || r->nth == 0) {
            put(why, "#N counts the calls from 1: #1 is the first");
            return 0;
        }
        if (*p == '+') {
            r->onward = 1;
            p++;
        }
    }
    if (p[0] == '<' && p[1] == '=') {
        p += 2;
        if (r->id != READ && r->id != WRITE && r->id != RECV &&
            r->id != SEND) {
            put(why, "only read, write, recv and send can be made short");
            return 0;
        }
        if (!parse_number(&p, &r->limit) || r->limit == 0) {
            put(why, "<=BYTES needs a number of bytes from 1 up (a read of "
                     "0 bytes would look like end of file)");
            return 0;
        }
    } else if (p[0] == '=') {
        unsigned long number;
        const char *digits = ++p; /* moved on only if a number is taken */
        len = 0;
        while ((p[len] >= 'A' && p[len] <= 'Z') || is_digit(p[len]))
            len++;
        r->err = 0;
        if (len == 7 && strncmp(p, "TIMEOUT", 7) == 0) {
            if (r->id != POLL && r->id != PPOLL) {
                put(why, "only poll and ppoll can time out (=TIMEOUT)");
                return 0;
            }
            r->timeout = 1;
            p += len;
        } else if (len == 10 && strncmp(p, "CHILDFIRST", 10) == 0) {
            if (r->id != FORK) {
                put(why, "only fork has a child to run first (=CHILDFIRST)");
                return 0;
            }
            r->childfirst = 1;
            p += len;
        } else if (len > 3 && strncmp(p, "SIG", 3) == 0) {
            for (size_t i = 0;
                 i < sizeof signal_names / sizeof signal_names[0]; i++)
                if (strlen(signal_names[i].name) == len &&
                    strncmp(signal_names[i].name, p, len) == 0)
                    r->sig = signal_names[i].num;
            if (r->sig == 0) {
                put(why, "\"");
                put_mem(why, p, len);
                put(why, "\" is not the name of a signal (such as SIGTERM)");
                return 0;
            }
            p += len;
        } else if (is_digit(*p) && parse_number(&digits, &number) &&
                   number > 0 && number < 4096) {
            r->err = (int)number;
            p = digits;
        } else {
            for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
                if (strlen(errnos[i].name) == len &&
                    strncmp(errnos[i].name, p, len) == 0)
                    r->err = errnos[i].num;
            if (r->err == 0) {
                put(why, "\"");
                put(why, p);
                put(why, "\" is not an errno name (such as EINTR) or a "
                         "number from 1 to 4095");
                return 0;
            }
            p += len;
        }
    } else {
        put(why, "after the call come =ERRNO (fail), =SIGNAL (a signal "
                 "just before it), =TIMEOUT (poll, ppoll: nothing ready), "
                 "=CHILDFIRST (fork: the child ends first) or <=BYTES "
                 "(short), with #N or #N+ before them to choose which calls");
        return 0;
    }
    if (*p != '\0') {
        put(why, "\"");
        put(why, p);
        put(why, "\" is left over at the end");
        return 0;
    }
    return 1;
}

/* Reads LAB_FAULTS; says once, on stderr, which rules are not applied. */
static void read_faults(const char *spec)
{
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = 0;
        while (p[len] && p[len] != ',')
            len++;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == 0)
            break;
        char text[RULE_TEXT], buf[1024];
        struct rule r;
        struct text why;
        int ok = 0;
        memset(&r, 0, sizeof r);
        text_init(&why, buf, sizeof buf);
        if (len >= sizeof text) {
            put(&why, "it is too long to be a rule");
        } else {
            memcpy(text, p, len);
            text[len] = '\0';
            if (n_rules == MAX_RULES)
                put(&why, "there are more than 16 rules");
            else
                ok = parse_rule(text, &r, &why);
        }
        if (ok) {
            memcpy(r.text, text, len + 1);
            rules[n_rules++] = r;
        } else {
            char msg[1400];
            struct text m;
            text_init(&m, msg, sizeof msg);
            put(&m, "lab trace: LAB_FAULTS: the rule \"");
            put_mem(&m, p, len > 200 ? 200 : len);
            put(&m, "\" is not applied: ");
            put(&m, why.s);
            put(&m, " (trace/TRACE.md, \"Fault injection\")\n");
            say(m.s, m.len);
        }
        p += len;
        while (*p && *p != ',')
            p++;
    }
}

/*
 * Set in a child by fork(2) (pthread_atfork): the child finds its pid
 * with getpid() at its first call, and starts its own state. Otherwise
 * the trace knows its pid without asking the kernel at each call.
 */
static volatile sig_atomic_t forked;

static void note_fork(void)
{
    forked = 1;
}

/* ---- configuration, read from the environment once, at start -------- */

/*
 * Everything the environment says is read once, before main, by
 * read_environment(): a program that changes its environment later does
 * not change its trace. The one exception is LAB_ROLE in a forked child,
 * read again at the child's first event (a child that names itself after
 * fork(2), as lessons/variant.h's fork_peer does, is shown under its name).
 */
static struct {
    int on;          /* anything to do at all: else every call goes straight */
    int emitting;    /* someone reads the events: stderr, or the JSON file */
    int human;       /* lines on stderr (LAB_TRACE is not "0") */
    int colour;      /* stderr is a terminal, NO_COLOR empty, TERM not dumb */
    int json_fd;     /* LAB_TRACE_FILE, opened; or -1 */
    pid_t pid;       /* the process the state below belongs to */
    char role[64];   /* LAB_ROLE, or the program's name; PARENT/child */
    char role_env[64]; /* LAB_ROLE as it was when role was set */
    int child;       /* a forked child: it may name itself (LAB_ROLE) */
} cfg = {0, 0, 0, 0, -1, 0, "", "", 0};

extern char **environ;

/* getenv(3), without its lock: for a child's first event. */
static const char *env_value(const char *name)
{
    size_t n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static void copy_text(char *to, size_t cap, const char *from)
{
    size_t n = strlen(from);
    if (n >= cap)
        n = cap - 1;
    memcpy(to, from, n);
    to[n] = '\0';
}

/* The role from LAB_ROLE (r), or the program's name. */
static void set_role(const char *r)
{
    copy_text(cfg.role_env, sizeof cfg.role_env, r ? r : "");
    copy_text(cfg.role, sizeof cfg.role,
              r && *r ? r : program_invocation_short_name);
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* 0 once all n bytes are written; -1 (errno set) when a write failed. */
static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/*
 * Standard error is the trace's only if the program had it open when it
 * started: a program started with fd 2 closed (2>&-) gets fd 2 for its
 * first socket or file, and a line written there would go into its data.
 * Decided once, before main (read_environment), and only when the trace
 * has something to say; 0 until then, and whenever fd 2 was closed.
 */
static int stderr_usable;

/* A message of the trace's own (not a call's lines) on stderr. */
static void say(const char *s, size_t n)
{
    if (stderr_usable)
        (void)write_all(STDERR_FILENO, s, n);
}

/*
 * The JSON file is opened once, when the program starts (so a program that
 * later gives up its privileges, or changes directory, still reaches it). A
 * forked child writes through the descriptor it inherited: every line is
 * one write(2) in O_APPEND mode, so lines of parent and child never mix.
 */
static int open_json_file(const char *path)
{
    /* O_NONBLOCK: a FIFO that no process reads fails at once (ENXIO)
     * instead of blocking the program before main; O_NOCTTY: a terminal
     * named here never becomes the program's controlling terminal. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
                            O_NONBLOCK | O_NOCTTY, 0644);
    int err = errno;
    if (fd >= 0) {
        /* Later writes wait, as on any descriptor opened without it. */
        int flags = fcntl(fd, F_GETFL);
        if (flags == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
            err = errno;
            (void)close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) {
        /* Move out of the way, so the program's fds are the ones it would
         * get untraced (the next socket is still fd 4, not 5); at least
         * off 0, 1 and 2, which the program may have been started without
         * and would take for its own. */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 200);
        if (high < 0 && fd <= STDERR_FILENO)
            high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        if (high >= 0) {
            (void)close(fd);
            fd = high;
        } else if (fd <= STDERR_FILENO) {
            err = errno;
            (void)close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        char buf[512];
        struct text t;
        struct stat st;
        text_init(&t, buf, sizeof buf);
        put(&t, "lab trace: cannot open LAB_TRACE_FILE ");
        put(&t, path);
        put(&t, ": ");
        put_errno_message(&t, err);
        if (err == ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
            put(&t, " (a FIFO that no process reads)");
        put(&t, "; no JSON trace\n");
        say(t.s, t.len);
    }
    return fd;
}

/* A write to the JSON file failed (a full disk, /dev/full, a FIFO whose
 * reader left): said once, and this process writes no more JSON lines. */
static void json_write_failed(int err)
{
    char buf[256];
    struct text t;
    int fd = cfg.json_fd;
    cfg.json_fd = -1;
    cfg.emitting = cfg.human;
    (void)close(fd);
    text_init(&t, buf, sizeof buf);
    put(&t, "lab trace: cannot write to LAB_TRACE_FILE: ");
    put_errno_message(&t, err);
    put(&t, "; no more JSON trace from this process\n");
    say(t.s, t.len);
}

static void write_json(const char *s, size_t n)
{
    if (write_all(cfg.json_fd, s, n) == -1)
        json_write_failed(errno);
}

/*
 * With LAB_TRACE=0 and no LAB_TRACE_FILE the trace is off: cfg.on stays 0,
 * and no traced call makes a system call of the trace's (not even this
 * function does).
 */
static void read_environment(void) __attribute__((constructor));
static void read_environment(void)
{
    int saved = errno;
    const char *v = getenv("LAB_TRACE");
    /* LAB_STDOUT=line: standard output line buffered, as at a terminal,
     * whatever it is: a check tells a line left in stdio's buffer (no
     * fflush) from one never printed.  Before main, before any output. */
    const char *out = getenv("LAB_STDOUT");
    if (out && same(out, "line"))
        (void)setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
    cfg.human = !(v && same(v, "0"));
    const char *path = getenv("LAB_TRACE_FILE");
    const char *faults = getenv("LAB_FAULTS");
    /* Before anything is opened: is fd 2 the program's standard error?
     * Asked only when the trace may write there. */
    if (cfg.human || (path && *path) || (faults && *faults))
        stderr_usable = fcntl(STDERR_FILENO, F_GETFD) != -1;
    cfg.human = cfg.human && stderr_usable;
    if (path && *path)
        cfg.json_fd = open_json_file(path);
    if (faults && *faults)
        read_faults(faults);
    cfg.on = cfg.human || cfg.json_fd >= 0 || n_rules > 0;
    if (!cfg.on) {
        errno = saved;
        return;
    }
    cfg.emitting = cfg.human || cfg.json_fd >= 0;
    const char *no_colour = getenv("NO_COLOR"), *term = getenv("TERM");
    cfg.colour = cfg.human && !(no_colour && *no_colour) &&
                 !(term && same(term, "dumb")) && isatty(STDERR_FILENO);
    set_role(getenv("LAB_ROLE"));
    cfg.pid = getpid();
    (void)pthread_atfork(NULL, NULL, note_fork);
    errno = saved;
}

/* ---- the state kept between calls, and its guard --------------------- */

/*
 * 1 while a call's report reads or changes the state the trace keeps (the
 * process's role and pid after a fork, the LAB_FAULTS counters, the bound
 * paths, the runs). A signal handler that makes a traced call meanwhile
 * finds it set: its event is "nested", and is reported plainly, without
 * that state (see enter()). The programs the lab traces have one thread.
 */
static volatile sig_atomic_t inside;

/* The state of another process, inherited through fork(2): start anew. */
static void forget_parent_state(pid_t now);
static void child_role(int at_fork);

/* Takes the guard unless a nested event finds it taken; 1 if taken here. */
static int enter(int nested)
{
    if (nested)
        return 0;
    inside = 1;
    return 1;
}

static void leave(int entered)
{
    if (entered)
        inside = 0;
}

/* ---- one event -------------------------------------------------------- */

#define LINE_MAX_BYTES 4000 /* a JSON line stays below PIPE_BUF (4096) */

enum kind { RETURN, WAIT, DELIVERY };
enum { KEY_NONE, KEY_FD, KEY_PID };

struct event {
    enum call id;
    const char *call;     /* its name */
    const char *file;
    int line;
    enum kind kind;
    int nested;           /* begun inside another event (a signal handler) */
    pid_t pid;
    int errno_in;         /* errno when the program made the call */
    long long start_ns;   /* when the call was entered */
    long long ret;
    int err;              /* errno when ret == -1, else 0 */
    int errno_out;        /* errno as the real call left it */
    int key_kind;         /* the argument that tells like calls apart: */
    long long key;        /* KEY_FD, KEY_PID, or KEY_NONE */
    const struct rule *fault; /* the LAB_FAULTS rule for this call, if any */
    int injected;         /* 1: the failure was injected; 2: the count */
    /* arguments, already rendered: for people and for JSON */
    char hargs_buf[1024], jargs_buf[3072], note_buf[512];
    struct text hargs, jargs, note;
    const void *data;     /* bytes read or written, for the preview */
    size_t data_len;
    char gathered[64];    /* the first bytes of an iovec, for the preview */
    /* what the line shows after the result: " ([{fd=4, revents=POLLIN}])" */
    char after_buf[512];
    struct text after;
    const char *ret_name; /* signal(): the old handler, shown as the result */
    /* the addresses in its JSON (sendto's, recvfrom's sender...), hashed:
     * a run of datagrams tells one peer from another */
    unsigned long long addr_hash;
};

static struct text *note(struct event *e);

/* The note of a call that a signal rule preceded, on its waiting line
 * too: a process stopped there (SIGSTOP) shows why. */
static void note_injected_signal(struct event *e)
{
    struct text *n = note(e);
    put(n, "LAB_FAULTS (");
    put(n, e->fault->text);
    put(n, ") raised ");
    put_signal_name(n, e->fault->sig);
    put(n, " just before this call");
}

/* A LAB_FAULTS rule CALL=SIGNAL: the signal comes now, just before the
 * call is made, as when it arrives between the program's last look at a
 * flag and the call. raise(3) returns once a handler has run; a blocked
 * signal stays pending; a default action that ends the process ends it
 * here. The trace's guard is not held: the handler's calls and the
 * delivery are reported as any others. */
static void injected_signal(struct event *e)
{
    raising = (sig_atomic_t)(e->fault - rules);
    raise(e->fault->sig);
    raising = -1;
    note_injected_signal(e);
}

static void begin(struct event *e, enum call id, const char *file, int line)
{
    e->errno_in = errno;
    e->id = id;
    e->call = call_names[id];
    e->file = file;
    e->line = line;
    e->kind = RETURN;
    e->ret = 0;
    e->err = 0;
    e->errno_out = e->errno_in;
    e->data = NULL;
    e->data_len = 0;
    e->addr_hash = 0;
    e->key_kind = KEY_NONE;
    e->key = 0;
    e->fault = NULL;
    e->injected = 0;
    text_init(&e->hargs, e->hargs_buf, sizeof e->hargs_buf);
    text_init(&e->jargs, e->jargs_buf, sizeof e->jargs_buf);
    text_init(&e->note, e->note_buf, sizeof e->note_buf);
    text_init(&e->after, e->after_buf, sizeof e->after_buf);
    e->ret_name = NULL;
    e->nested = inside;
    e->pid = forked ? getpid() : cfg.pid;
    int entered = enter(e->nested);
    if (entered && forked) {
        forked = 0;
        if (e->pid != cfg.pid)
            forget_parent_state(e->pid);
    } else if (entered && cfg.child) {
        child_role(0);
    }
    if (entered && n_rules > 0) {
        /* accept4 is accept with flags: a rule for accept applies to it
         * too, and counts the calls of both; one for accept4, to it only. */
        unsigned long nth = ++calls_made[id];
        unsigned long nth_accept = id == ACCEPT4 ? ++calls_made[ACCEPT] : nth;
        for (int i = 0; i < n_rules && !e->fault; i++) {
            unsigned long n = rules[i].id == ACCEPT ? nth_accept : nth;
            if ((rules[i].id == id ||
                 (rules[i].id == ACCEPT && id == ACCEPT4)) &&
                (rules[i].nth == 0 || n == rules[i].nth ||
                 (rules[i].onward && n > rules[i].nth)))
                e->fault = &rules[i];
        }
    }
    leave(entered);
    if (e->fault && e->fault->sig)
        injected_signal(e);
    e->start_ns = now_ns();
}

/* Adds a few words to the note (several notes are joined by "; "). */
static struct text *note(struct event *e)
{
    if (e->note.len > 0)
        put(&e->note, "; ");
    return &e->note;
}

/* A LAB_FAULTS rule says this call fails: it is not made. 1 if so. */
static int injected_failure(struct event *e)
{
    if (!e->fault || e->fault->err == 0)
        return 0;
    e->kind = RETURN;
    e->ret = -1;
    e->err = e->errno_out = e->fault->err;
    e->injected = 1;
    struct text *n = note(e);
    put(n, "injected by LAB_FAULTS (");
    put(n, e->fault->text);
    put(n, "): the real call was not made");
    return 1;
}

/* A LAB_FAULTS rule may make a read or write move fewer bytes: the count
 * to pass to the real call. */
static size_t injected_count(struct event *e, size_t count)
{
    if (!e->fault || e->fault->limit == 0 || count <= e->fault->limit)
        return count;
    e->injected = 2;
    struct text *n = note(e);
    put(n, "injected by LAB_FAULTS (");
    put(n, e->fault->text);
    put(n, "): the real call was asked for ");
    put_int(n, (long long)e->fault->limit);
    put(n, " of the ");
    put_int(n, (long long)count);
    put(n, " bytes");
    return (size_t)e->fault->limit;
}

/* A LAB_FAULTS rule poll=TIMEOUT (or ppoll=TIMEOUT): the call is not
 * made, and returns 0 with every revents cleared, as when its timeout runs
 * out with nothing ready. 1 if so. */
static int injected_timeout(struct event *e, struct pollfd *fds, nfds_t nfds)
{
    if (!e->fault || !e->fault->timeout)
        return 0;
    for (nfds_t i = 0; i < nfds; i++)
        fds[i].revents = 0;
    e->kind = RETURN;
    e->ret = 0;
    e->injected = 1;
    struct text *n = note(e);
    put(n, "injected by LAB_FAULTS (");
    put(n, e->fault->text);
    put(n, "): the real call was not made; 0: no fd ready, as when the "
           "timeout runs out");
    return 1;
}

/* The call will not be made: a LAB_FAULTS rule fails it, or times it out. */
static int will_fail(const struct event *e)
{
    return e->fault && (e->fault->err != 0 || e->fault->timeout);
}

/* Right before the real call: errno as the program left it. */
static void call_now(const struct event *e)
{
    errno = e->errno_in;
}

/* Right after it: its result, and errno as it left it. */
static void returned(struct event *e, long long ret)
{
    e->errno_out = errno;
    e->kind = RETURN;
    e->ret = ret;
    e->err = ret == -1 ? e->errno_out : 0;
}

/* Adds an argument: its C rendering for people, and a JSON member. */
static void arg_name(struct event *e, const char *name)
{
    if (e->hargs.len > 0)
        put(&e->hargs, ", ");
    if (e->jargs.len > 0)
        put(&e->jargs, ",");
    put_char(&e->jargs, '"');
    put(&e->jargs, name);
    put(&e->jargs, "\":");
}

static void arg_int(struct event *e, const char *name, long long v)
{
    arg_name(e, name);
    put_int(&e->hargs, v);
    put_int(&e->jargs, v);
}

static void arg_sym(struct event *e, const char *name, const char *sym)
{
    arg_name(e, name);
    put(&e->hargs, sym);
    put_quoted(&e->jargs, sym, 1);
}

/* A member of args after the call: the JSON only (bound, signal...). */
/* Folds what the JSON of e holds from `from` on (an address, as written)
 * into e->addr_hash (FNV-1a). */
static void hash_address(struct event *e, size_t from)
{
    unsigned long long h = e->addr_hash ? e->addr_hash
                                        : 14695981039346656037ULL;
    for (size_t i = from; i < e->jargs.len; i++) {
        h ^= (unsigned char)e->jargs.s[i];
        h *= 1099511628211ULL;
    }
    e->addr_hash = h ? h : 1;
}

static struct text *result_member(struct event *e, const char *name)
{
    if (e->jargs.len > 0)
        put(&e->jargs, ",");
    put_char(&e->jargs, '"');
    put(&e->jargs, name);
    put(&e->jargs, "\":");
    return &e->jargs;
}

static const char *domain_name(int d)
{
    switch (d) {
    case AF_UNIX: return "AF_UNIX";
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_UNSPEC: return "AF_UNSPEC";
    default: return NULL;
    }
}

static void arg_domain(struct event *e, int d)
{
    const char *n = domain_name(d);
    if (n)
        arg_sym(e, "domain", n);
    else
        arg_int(e, "domain", d);
}

static void arg_type(struct event *e, int t)
{
    char buf[96];
    struct text s;
    const char *base;
    /* Every type Linux has (include/linux/net.h), whatever the domain. */
    switch (t & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    case SOCK_STREAM: base = "SOCK_STREAM"; break;
    case SOCK_DGRAM: base = "SOCK_DGRAM"; break;
    case SOCK_RAW: base = "SOCK_RAW"; break;
    case SOCK_RDM: base = "SOCK_RDM"; break;
    case SOCK_SEQPACKET: base = "SOCK_SEQPACKET"; break;
#ifdef SOCK_DCCP
    case SOCK_DCCP: base = "SOCK_DCCP"; break;
#endif
#ifdef SOCK_PACKET
    case SOCK_PACKET: base = "SOCK_PACKET"; break;
#endif
    default: base = NULL;
    }
    if (!base) {
        arg_int(e, "type", t);
        return;
    }
    text_init(&s, buf, sizeof buf);
    put(&s, base);
    if (t & SOCK_NONBLOCK)
        put(&s, "|SOCK_NONBLOCK");
    if (t & SOCK_CLOEXEC)
        put(&s, "|SOCK_CLOEXEC");
    arg_sym(e, "type", s.s);
}

/*
 * A struct sockaddr_un, decoded as far as len says it is valid. The
 * pointer is read only when the call did not fail with EFAULT.
 */
/* A struct sockaddr that may be read, decoded as far as len says it is
 * valid: C-like for people into h, a JSON object into j. A Unix domain
 * address with no path at all (an unbound socket's, or a bind that asks
 * the kernel to choose a name) is "unnamed". */
static void put_addr(struct text *h, struct text *j,
                     const struct sockaddr *addr, socklen_t len)
{
    size_t path_off = offsetof(struct sockaddr_un, sun_path);
    if (len < sizeof(sa_family_t)) {
        put(h, "{?}");
        put(j, "{\"family\":null}");
    } else if (addr->sa_family != AF_UNIX) {
        const char *n = domain_name(addr->sa_family);
        put(h, "{");
        put(j, "{\"family\":");
        if (n) {
            put(h, n);
            put_quoted(j, n, 1);
        } else {
            put(h, "family=");
            put_int(h, addr->sa_family);
            put_int(j, addr->sa_family);
        }
        put(h, ", ...}");
        put(j, "}");
    } else {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        size_t avail = len > path_off ? len - path_off : 0;
        if (avail > sizeof un->sun_path)
            avail = sizeof un->sun_path; /* never read past the struct */
        if (avail == 0) {
            put(h, "{AF_UNIX}");
            put(j, "{\"family\":\"AF_UNIX\",\"unnamed\":true}");
        } else if (un->sun_path[0] == '\0') {
            put(h, "{AF_UNIX, @");
            put_escaped(h, un->sun_path + 1, avail - 1, 0);
            put(h, "}");
            put(j, "{\"family\":\"AF_UNIX\",\"abstract\":");
            put_escaped(j, un->sun_path + 1, avail - 1, 1);
            put(j, "}");
        } else {
            size_t n = strnlen(un->sun_path, avail);
            put(h, "{AF_UNIX, ");
            put_escaped(h, un->sun_path, n, 0);
            put(h, "}");
            put(j, "{\"family\":\"AF_UNIX\",\"path\":");
            put_escaped(j, un->sun_path, n, 1);
            put(j, "}");
        }
    }
}

/*
 * A struct sockaddr argument, as "addr". The pointer is read only when the
 * call did not fail with EFAULT.
 */
static void arg_addr(struct event *e, const struct sockaddr *addr,
                     socklen_t len, int readable)
{
    struct text *h = &e->hargs, *j = &e->jargs;
    arg_name(e, "addr");
    if (!addr || !readable) {
        put(j, "null");
        if (addr) {
            put_pointer(h, addr);
            put(j, ",\"pointer\":\"");
            put_pointer(j, addr);
            put(j, "\"");
        } else {
            put(h, "NULL");
        }
    } else {
        size_t at = j->len;
        put_addr(h, j, addr, len);
        hash_address(e, at);
    }
}

/*
 * A pathname address whose length stops inside sun_path, before any '\0':
 * the kernel takes exactly those bytes as the name. That is right when the
 * length was computed for the path, and the classic bug when it was
 * sizeof(struct sockaddr) (16), which keeps only 14 bytes of the path.
 */
static void note_cut_path(struct event *e, const struct sockaddr *addr,
                          socklen_t len)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
    size_t path_off = offsetof(struct sockaddr_un, sun_path);
    if (!addr || len <= path_off || len >= sizeof *un ||
        addr->sa_family != AF_UNIX || un->sun_path[0] == '\0')
        return;
    size_t avail = len - path_off;
    if (memchr(un->sun_path, '\0', avail) != NULL)
        return;
    struct text *n = note(e);
    put(n, "the length ");
    put_int(n, len);
    put(n, " ends inside sun_path: the name is only its first ");
    put_int(n, (long long)avail);
    put(n, " bytes (with sizeof(struct sockaddr) a longer path is cut; "
           "pass sizeof(struct sockaddr_un))");
}

/* ---- per-fd memory: which path each socket was bound to -------------- */

enum { MAX_BOUND = 64 };
static struct bound_socket {
    int fd;
    pid_t pid;
    dev_t dev;            /* the socket file bind made, to know it again */
    ino_t ino;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
} bound[MAX_BOUND];

static void copy_path(char *to, const char *from)
{
    size_t n = strnlen(from, sizeof bound[0].path - 1);
    memcpy(to, from, n);
    to[n] = '\0';
}

/* Called with the guard taken. */
static void remember_bound(int fd, pid_t pid, const char *path,
                           const struct stat *made)
{
    for (int i = 0; i < MAX_BOUND; i++)
        if (bound[i].path[0] == '\0' ||
            (bound[i].fd == fd && bound[i].pid == pid)) {
            bound[i].fd = fd;
            bound[i].pid = pid;
            bound[i].dev = made->st_dev;
            bound[i].ino = made->st_ino;
            copy_path(bound[i].path, path);
            return;
        }
}

/* What fd was bound to, copied into *out (path "" if nothing), and
 * forgotten: the guard is taken. */
static void forget_bound(int fd, pid_t pid, struct bound_socket *out)
{
    out->path[0] = '\0';
    for (int i = 0; i < MAX_BOUND; i++)
        if (bound[i].path[0] && bound[i].fd == fd && bound[i].pid == pid) {
            *out = bound[i];
            bound[i].path[0] = '\0';
            return;
        }
}

/*
 * A forked child is PARENT/child (server/child), until it names itself: a
 * LAB_ROLE other than the one its role was made with (set with setenv(3)
 * after fork, as lessons/variant.h's fork_peer does) is its role from its
 * next call on. Called with the guard taken.
 */
static void child_role(int at_fork)
{
    const char *r = env_value("LAB_ROLE");
    int renamed = r && *r && strncmp(r, cfg.role_env,
                                     sizeof cfg.role_env - 1) != 0;
    if (renamed) {
        set_role(r);
    } else if (at_fork) {
        char parent[sizeof cfg.role];
        memcpy(parent, cfg.role, sizeof parent);
        size_t n = strlen(parent);
        if (n > sizeof cfg.role - 7)
            n = sizeof cfg.role - 7;
        memcpy(cfg.role, parent, n);
        memcpy(cfg.role + n, "/child", 7);
    }
}


/* ---- rendering and emitting ----------------------------------------- */

static const char *colour(const char *code)
{
    return cfg.colour ? code : "";
}

static const char *role_colour(void)
{
    if (same(cfg.role, "server"))
        return colour("\033[36m");
    if (same(cfg.role, "client"))
        return colour("\033[35m");
    return colour("\033[33m");
}

static void render_human(struct text *h, const struct event *e,
                         const struct explanation *x)
{
    const char *reset = colour("\033[0m");
    put(h, role_colour());
    put(h, "[");
    put(h, cfg.role);
    put(h, " ");
    put_int(h, e->pid);
    put(h, "]");
    put(h, reset);
    put(h, " ");
    if (e->kind == DELIVERY) {
        put(h, "signal ");
        put(h, e->hargs.s);
        put(h, " delivered");
        if (e->injected)
            put(h, " [injected]");
    } else {
        put(h, e->call);
        put(h, "(");
        put(h, e->hargs.s);
    }
    if (e->kind == DELIVERY) {
        /* no result: the signal interrupted whatever the process did */
    } else if (e->kind == WAIT) {
        put(h, ") ... ");
        put(h, colour("\033[1m"));
        put(h, "waiting");
        put(h, reset);
    } else if (e->ret == -1) {
        put(h, e->id == SIGNAL_CALL ? ") = SIG_ERR " : ") = -1 ");
        put(h, colour("\033[1;31m"));
        put_errno_name(h, e->err);
        put(h, " (");
        put_errno_message(h, e->err);
        put(h, ")");
        put(h, reset);
        if (e->injected)
            put(h, " [injected]");
    } else {
        put(h, ") = ");
        if (e->ret_name)
            put(h, e->ret_name);
        else
            put_int(h, e->ret);
        put(h, e->after.s);
        if (e->injected)
            put(h, " [injected]");
        if (e->data && e->data_len > 0) {
            put(h, " ");
            put_escaped(h, e->data, e->data_len > 40 ? 40 : e->data_len, 0);
            if (e->data_len > 40)
                put(h, "...");
        }
    }
    put(h, "  ");
    put(h, colour("\033[2m"));
    put_file(h, e->file, 0);
    put(h, ":");
    put_int(h, e->line);
    put(h, reset);
    put(h, "\n");
    if (e->note.len > 0) {
        put(h, colour("\033[32m"));
        put(h, "    -> ");
        put(h, e->note.s);
        put(h, reset);
        put(h, "\n");
    }
    if (e->kind == RETURN && e->ret == -1) {
        if (x) {
            put(h, "    why: ");
            put(h, x->why);
            put(h, "\n    fix: ");
            put(h, x->fix);
            put(h, "\n    see: ");
            put(h, x->see);
            put(h, "\n");
        } else {
            put(h, "    see: ");
            put_see_also(h, e->call, e->err);
            put(h, "\n");
        }
    }
}

/* The event's JSON line; without its explanation, note and bytes when
 * whole is 0 (for a line that would not stay below LINE_MAX_BYTES). */
static void render_json(struct text *j, const struct event *e,
                        const struct explanation *x, long long ts, int whole)
{
    put(j, "{\"ts\":");
    put_int(j, ts);
    put(j, ",\"pid\":");
    put_int(j, e->pid);
    put(j, ",\"role\":");
    put_quoted(j, cfg.role, 1);
    put(j, ",\"event\":\"");
    put(j, e->kind == WAIT ? "wait" : e->kind == DELIVERY ? "signal"
                                                           : "return");
    put(j, "\",\"call\":\"");
    put(j, e->call);
    put(j, "\",\"args\":{");
    put(j, e->jargs.s);
    put(j, "}");
    if (e->kind == WAIT || e->kind == DELIVERY) {
        put(j, ",\"ret\":null,\"errno\":null");
    } else if (e->ret == -1) {
        put(j, ",\"ret\":-1,\"errno\":\"");
        put_errno_name(j, e->err);
        put(j, "\",\"error\":\"");
        put_errno_message(j, e->err);
        put(j, "\"");
    } else {
        put(j, ",\"ret\":");
        put_int(j, e->ret);
        put(j, ",\"errno\":null");
    }
    if (e->injected)
        put(j, ",\"injected\":true");
    if (e->nested)
        put(j, ",\"nested\":true");
    if (e->kind == RETURN) {
        put(j, ",\"start\":");
        put_int(j, e->start_ns);
    }
    if (whole && e->data && e->data_len > 0) {
        put(j, ",\"data\":");
        put_escaped(j, e->data, e->data_len > 64 ? 64 : e->data_len, 1);
    }
    if (whole && e->note.len > 0) {
        put(j, ",\"note\":");
        put_quoted(j, e->note.s, 1);
    }
    put(j, ",\"file\":");
    put_file(j, e->file, 1);
    put(j, ",\"line\":");
    put_int(j, e->line);
    if (whole && e->kind == RETURN && e->ret == -1 && !x) {
        char buf[160];
        struct text see;
        text_init(&see, buf, sizeof buf);
        put_see_also(&see, e->call, e->err);
        put(j, ",\"see\":");
        put_quoted(j, see.s, 1);
    }
    if (whole && x) {
        put(j, ",\"explain\":{\"why\":");
        put_quoted(j, x->why, 1);
        put(j, ",\"fix\":");
        put_quoted(j, x->fix, 1);
        put(j, ",\"see\":");
        put_quoted(j, x->see, 1);
        put(j, "}");
    }
    put(j, "}\n");
}

/* Writes the event: one write(2) of its lines on stderr (when human), one
 * of its JSON line (when json). errno is left as it was. */
static void emit(const struct event *e, int human, int json)
{
    int saved = errno;
    char buf[8192];
    struct text t;
    long long ts = now_ns();
    const struct explanation *x =
        (e->kind == RETURN && e->ret == -1) ? explain(e->call, e->err) : NULL;
    if (cfg.human && human) {
        text_init(&t, buf, sizeof buf);
        render_human(&t, e, x);
        (void)write_all(STDERR_FILENO, t.s, t.len);
    }
    if (cfg.json_fd >= 0 && json) {
        /* Every line is one atomic write, below PIPE_BUF: one too long
         * loses its explanation, note and bytes. */
        text_init(&t, buf, sizeof buf);
        render_json(&t, e, x, ts, 1);
        if (t.len > LINE_MAX_BYTES) {
            text_init(&t, buf, sizeof buf);
            render_json(&t, e, x, ts, 0);
        }
        write_json(t.s, t.len);
    }
    errno = saved;
}

/* ---- runs of like events: shown a few times, then counted ------------ */

/*
 * A program in a loop makes the same calls again and again: an EOF busy
 * loop reads 0 a hundred thousand times, an echo server reads and writes
 * 4 KiB at a time. Like events are those of one process with the same
 * call, place (file:line) and fd, and the same result: the same ret and
 * errno, or, for a read or write that moved bytes, any count. A run is a
 * cycle of up to MAX_PERIOD like events that repeats (read, write, read,
 * write...: a period of 2). Its first cycle and SHOWN_REPEATS repeats are
 * shown; the rest are counted, and reported by a "repeat" line per call of
 * the cycle when the run ends, when the process exits, and when the count
 * of hidden calls reaches 10, 100, 1000... (so that a process killed in a
 * loop still shows it). trace/TRACE.md, "Runs", defines the lines.
 *
 * The JSON trace hides only runs in which no call moved bytes (an EOF
 * busy loop, an EINTR loop): those grow with time, without bound. A run
 * with a call that moved bytes grows only with the data sent, and the
 * tools that judge the bytes need each call: every call of it is a JSON
 * line, and its repeat lines are for people only (tools/tracetext.py
 * replays this rule to write them from the JSON), except the last ones of
 * a run still going at exit, which the JSON needs to tell an exit from a
 * kill.
 */
enum { MAX_PERIOD = 4, HISTORY = 2 * MAX_PERIOD, SHOWN_REPEATS = 2 };

struct signature {
    enum call id;
    const char *file;
    int line;
    int key_kind;
    long long key;
    int data;             /* a read or write that moved bytes: any count */
    long long ret;
    int err;
    int injected;
    unsigned long long addr; /* of a call that moved bytes: its peer */
};

struct member {           /* one call of the cycle, and what was hidden */
    struct signature sig;
    unsigned long long total, fresh; /* in all; since its last line */
    unsigned long long total_bytes, fresh_bytes;
    long long first_start; /* when the first fresh call was entered */
};

/* Changed only with the guard taken (enter()). */
static struct {
    struct signature seen[HISTORY]; /* the last events, a ring */
    unsigned long long count;       /* events seen */
    int period;                     /* of the run going on, or 0 */
    unsigned long long len;         /* events that repeated the one before */
    unsigned long long hidden;      /* of those, not shown */
    unsigned long long next_report; /* 10, 100, 1000... */
    int data;                       /* a call of its cycle moves bytes */
    struct member m[MAX_PERIOD];
} runs;

static int moves_data(enum call id)
{
    return id == READ || id == WRITE || id == RECV || id == SEND ||
           id == SENDTO || id == RECVFROM || id == SENDMSG || id == RECVMSG;
}

static struct signature signature_of(const struct event *e)
{
    struct signature s;
    memset(&s, 0, sizeof s);
    s.id = e->id;
    s.file = e->file;
    s.line = e->line;
    s.key_kind = e->key_kind;
    s.key = e->key;
    s.data = moves_data(e->id) && e->ret > 0;
    s.ret = s.data ? 0 : e->ret;
    s.err = e->err;
    s.injected = e->injected;
    s.addr = s.data ? e->addr_hash : 0;
    return s;
}

static int same_place(const struct signature *a, const struct signature *b)
{
    return a->id == b->id && a->line == b->line &&
           a->key_kind == b->key_kind && a->key == b->key &&
           (a->file == b->file || same(a->file, b->file));
}

static int alike(const struct signature *a, const struct signature *b)
{
    return same_place(a, b) && a->data == b->data && a->ret == b->ret &&
           a->err == b->err && a->injected == b->injected &&
           a->addr == b->addr;
}

/* The event k places before the next one. */
static const struct signature *back(unsigned long long k)
{
    return &runs.seen[(runs.count - k) % HISTORY];
}

/* Whether a call has arguments after the one that tells it apart: the
 * repeat line shows them as "...". */
static int more_args(enum call id)
{
    return id != ACCEPT && id != CLOSE && id != FORK;
}

static void render_repeat_human(struct text *h, const struct member *m,
                                int final)
{
    const struct signature *s = &m->sig;
    const char *reset = colour("\033[0m");
    put(h, role_colour());
    put(h, "[");
    put(h, cfg.role);
    put(h, " ");
    put_int(h, cfg.pid);
    put(h, "]");
    put(h, reset);
    put(h, " ");
    put(h, call_names[s->id]);
    put(h, "(");
    if (s->key_kind != KEY_NONE) {
        put_int(h, s->key);
        if (more_args(s->id))
            put(h, ", ...");
    } else if (more_args(s->id)) {
        put(h, "...");
    }
    put(h, ")");
    if (!s->data && s->ret == -1) {
        put(h, " = -1 ");
        put(h, colour("\033[1;31m"));
        put_errno_name(h, s->err);
        put(h, reset);
    } else if (!s->data) {
        put(h, " = ");
        put_int(h, s->ret);
    }
    if (s->injected)
        put(h, " [injected]");
    put(h, " ... the same ");
    put_unsigned(h, m->total, 1);
    put(h, m->total == 1 ? " more time" : " more times");
    if (s->data) {
        put(h, ", ");
        put_unsigned(h, m->total_bytes, 1);
        put(h, " bytes");
    }
    if (!final)
        put(h, " so far");
    put(h, "  ");
    put(h, colour("\033[2m"));
    put_file(h, s->file, 0);
    put(h, ":");
    put_int(h, s->line);
    put(h, reset);
    put(h, "\n");
}

/* A repeat event; in_json: the last report, at exit, of a run whose calls
 * are all in the JSON already (it stands for none of them). */
static void render_repeat_json(struct text *j, const struct member *m,
                               int member, int final, int in_json,
                               long long ts)
{
    const struct signature *s = &m->sig;
    put(j, "{\"ts\":");
    put_int(j, ts);
    put(j, ",\"pid\":");
    put_int(j, cfg.pid);
    put(j, ",\"role\":");
    put_quoted(j, cfg.role, 1);
    put(j, ",\"event\":\"repeat\",\"call\":\"");
    put(j, call_names[s->id]);
    put(j, "\",\"args\":{");
    if (s->key_kind != KEY_NONE) {
        put(j, s->key_kind == KEY_PID ? "\"pid\":" : "\"fd\":");
        put_int(j, s->key);
    }
    put(j, "}");
    if (s->data) {
        put(j, ",\"ret\":null,\"errno\":null");
    } else if (s->ret == -1) {
        put(j, ",\"ret\":-1,\"errno\":\"");
        put_errno_name(j, s->err);
        put(j, "\"");
    } else {
        put(j, ",\"ret\":");
        put_int(j, s->ret);
        put(j, ",\"errno\":null");
    }
    if (s->injected)
        put(j, ",\"injected\":true");
    put(j, ",\"repeat\":");
    put_unsigned(j, in_json ? 0 : m->fresh, 0);
    put(j, ",\"total\":");
    put_unsigned(j, m->total, 0);
    if (s->data) {
        put(j, ",\"bytes\":");
        put_unsigned(j, in_json ? 0 : m->fresh_bytes, 0);
        put(j, ",\"total_bytes\":");
        put_unsigned(j, m->total_bytes, 0);
    }
    put(j, final ? ",\"final\":true" : ",\"final\":false");
    if (in_json)
        put(j, ",\"in_json\":true");
    put(j, ",\"period\":");
    put_int(j, runs.period);
    put(j, ",\"member\":");
    put_int(j, member);
    put(j, ",\"start\":");
    put_int(j, m->fresh && !in_json ? m->first_start : ts);
    put(j, ",\"file\":");
    put_file(j, s->file, 1);
    put(j, ",\"line\":");
    put_int(j, s->line);
    put(j, "}\n");
}

/* The repeat line of a member of the run: on stderr, and in the JSON
 * unless the run's calls are all there (but for the last lines at exit). */
static void emit_repeat(int member, int final, int at_exit)
{
    struct member *m = &runs.m[member];
    int saved = errno;
    char buf[4096];
    struct text t;
    long long ts = now_ns();
    if (cfg.human) {
        text_init(&t, buf, sizeof buf);
        render_repeat_human(&t, m, final);
        (void)write_all(STDERR_FILENO, t.s, t.len);
    }
    if (cfg.json_fd >= 0 && (!runs.data || at_exit)) {
        text_init(&t, buf, sizeof buf);
        render_repeat_json(&t, m, member, final, runs.data && at_exit, ts);
        write_json(t.s, t.len);
    }
    m->fresh = m->fresh_bytes = 0;
    errno = saved;
}

/* The repeat lines of the run: at its end (final), or on the way. */
static void report_run(int final, int at_exit)
{
    for (int i = 0; i < runs.period; i++)
        if (final ? runs.m[i].total > 0 : runs.m[i].fresh > 0)
            emit_repeat(i, final, at_exit);
}

static void end_run(int at_exit)
{
    if (runs.period && runs.hidden > 0)
        report_run(1, at_exit);
    runs.period = 0;
}

static void remember(const struct signature *s)
{
    runs.seen[runs.count % HISTORY] = *s;
    runs.count++;
}

enum shown { HIDDEN, JSON_ONLY, SHOWN };

/* A call has returned: SHOWN, or hidden by a run (from the JSON too when
 * no call of the run moves bytes). */
static enum shown show_return(const struct event *e)
{
    struct signature s = signature_of(e);
    if (runs.period) {
        if (alike(&s, back((unsigned long long)runs.period))) {
            runs.len++;
            if (runs.len > (unsigned long long)(SHOWN_REPEATS * runs.period)) {
                struct member *m = &runs.m[(runs.len - 1) % runs.period];
                m->sig = s;
                if (m->fresh == 0)
                    m->first_start = e->start_ns;
                m->total++;
                m->fresh++;
                if (s.data) {
                    m->total_bytes += (unsigned long long)e->ret;
                    m->fresh_bytes += (unsigned long long)e->ret;
                }
                runs.hidden++;
                remember(&s);
                /* On a whole cycle, so each report starts with member 0. */
                if (runs.hidden >= runs.next_report &&
                    runs.hidden % (unsigned long long)runs.period == 0) {
                    report_run(0, 0);
                    while (runs.next_report <= runs.hidden)
                        runs.next_report *= 10;
                }
                return runs.data ? JSON_ONLY : HIDDEN;
            }
            remember(&s);
            return SHOWN;
        }
        end_run(0);
    }
    for (int p = 1; p <= MAX_PERIOD; p++)
        if (runs.count >= (unsigned long long)p &&
            alike(&s, back((unsigned long long)p))) {
            runs.period = p;
            runs.len = 1;
            runs.hidden = 0;
            runs.next_report = 10;
            runs.data = 0;
            for (int k = 1; k <= p; k++)
                runs.data |= back((unsigned long long)k)->data;
            memset(runs.m, 0, sizeof runs.m);
            break;
        }
    remember(&s);
    return SHOWN;
}

/* Would a wait of this call be shown? Not when the run going on hides
 * the call it expects next: then nobody asks whether it would block. */
static int wait_shown(const struct event *e)
{
    int entered = enter(e->nested);
    int shown = 1;
    if (entered && runs.period &&
        runs.len >= (unsigned long long)(SHOWN_REPEATS * runs.period)) {
        struct signature s = signature_of(e);
        shown = !same_place(&s, back((unsigned long long)runs.period));
    }
    leave(entered);
    return shown;
}

/* Reports an event, or counts it in a run. A nested event is written as
 * it is, without touching the runs. */
static void report(const struct event *e)
{
    if (!cfg.emitting)
        return;
    int entered = enter(e->nested);
    if (!entered) {
        emit(e, 1, 1);
        return;
    }
    enum shown show = SHOWN;
    if (e->kind == WAIT) {
        struct signature s = signature_of(e);
        if (runs.period && !same_place(&s, back((unsigned long long)runs.period)))
            end_run(0); /* something else comes: the run is over */
    } else {
        show = show_return(e);
    }
    if (show != HIDDEN)
        emit(e, show == SHOWN, 1);
    leave(entered);
}

/* At exit, a run still going on is reported (not by a forked child, whose
 * runs are its parent's until its own first call). */
static void end_of_process(void) __attribute__((destructor));
static void end_of_process(void)
{
    if (!cfg.emitting || inside)
        return;
    int saved = errno;
    if (!forked || getpid() == cfg.pid) {
        inside = 1;
        end_run(1);
        inside = 0;
    }
    errno = saved;
}

static void forget_parent_state(pid_t now)
{
    cfg.pid = now;
    cfg.child = 1;
    memset(&runs, 0, sizeof runs); /* the parent's, not this child's */
    child_role(1);
    for (int i = 0; i < N_CALLS; i++)
        calls_made[i] = 0; /* counting is per process */
}

/* Reports the call and returns its result, with errno as it left it. */
static long long finish(struct event *e)
{
    report(e);
    errno = e->errno_out;
    return e->ret;
}

/* ---- which calls are traced, and when they would block --------------- */

static int is_socket(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Traced: sockets, and fds that are not open at all (a use after close). */
static int traced_fd(int fd)
{
    struct stat st;
    int saved = errno;
    int traced = fstat(fd, &st) == -1 || S_ISSOCK(st.st_mode);
    errno = saved;
    return traced;
}

/* Would a blocking call on fd have to wait for `events` right now? */
static int would_block(int fd, short events, int flags)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || (fl & O_NONBLOCK) || (flags & MSG_DONTWAIT))
        return 0;
    /* ppoll(2), not poll(2): strace tells the trace's question from the
     * program's own poll. */
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    struct timespec zero = {0, 0};
    return ppoll(&p, 1, &zero, NULL) == 0;
}

/* Reports, before a call that will block, that it waits (and why). */
static void announce_wait(struct event *e, const char *what)
{
    char saved_note[sizeof e->note_buf];
    size_t saved_len = e->note.len;
    memcpy(saved_note, e->note.s, saved_len + 1);
    e->kind = WAIT;
    e->note.len = 0;
    e->note.s[0] = '\0';
    put(&e->note, what);
    if (e->fault && e->fault->sig)
        note_injected_signal(e);
    report(e);
    memcpy(e->note.s, saved_note, saved_len + 1);
    e->note.len = saved_len;
    e->kind = RETURN;
}

/* The socket's type (SOCK_STREAM, SOCK_DGRAM), 0 if unknown. */
static int socket_type(int fd)
{
    int type = 0, saved = errno;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
        type = 0;
    errno = saved;
    return type;
}

/* Would recv with MSG_WAITALL on a stream socket wait, though bytes are
 * there? It returns only once count bytes have come, or the peer's end
 * of file, an error or a signal: poll's POLLIN cannot say so. */
static int waits_for_all(int fd, size_t count, int flags)
{
    int queued = 0, fl;
    if (!(flags & MSG_WAITALL) || (flags & MSG_DONTWAIT) ||
        socket_type(fd) != SOCK_STREAM)
        return 0;
    fl = fcntl(fd, F_GETFL);
    if (fl == -1 || (fl & O_NONBLOCK) ||
        ioctl(fd, FIONREAD, &queued) == -1 || (size_t)queued >= count)
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
    struct timespec zero = {0, 0};
    return ppoll(&p, 1, &zero, NULL) == 0 ||
           !(p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static int is_listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* ---- the traced calls ------------------------------------------------- */

int lab_socket(int domain, int type, int protocol, const char *file,
               int line)
{
    if (!cfg.on)
        return socket(domain, type, protocol);
    struct event e;
    begin(&e, SOCKET, file, line);
    arg_domain(&e, domain);
    arg_type(&e, type);
    arg_int(&e, "protocol", protocol);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, socket(domain, type, protocol));
    }
    if (e.ret >= 0) {
        struct text *n = note(&e);
        put(n, "new socket, fd ");
        put_int(n, e.ret);
        put(n, ": an endpoint with no address yet");
    }
    return (int)finish(&e);
}

int lab_socketpair(int domain, int type, int protocol, int sv[2],
                   const char *file, int line)
{
    if (!cfg.on)
        return socketpair(domain, type, protocol, sv);
    struct event e;
    begin(&e, SOCKETPAIR, file, line);
    arg_domain(&e, domain);
    arg_type(&e, type);
    arg_int(&e, "protocol", protocol);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, socketpair(domain, type, protocol, sv));
    }
    put(&e.hargs, ", ");
    if (e.ret == 0) {
        /* The two fds, as strace shows them: [3, 4]. */
        put(&e.hargs, "[");
        put_int(&e.hargs, sv[0]);
        put(&e.hargs, ", ");
        put_int(&e.hargs, sv[1]);
        put(&e.hargs, "]");
        struct text *j = result_member(&e, "sv");
        put(j, "[");
        put_int(j, sv[0]);
        put(j, ",");
        put_int(j, sv[1]);
        put(j, "]");
        struct text *n = note(&e);
        put(n, "a connected pair: fd ");
        put_int(n, sv[0]);
        put(n, " <-> fd ");
        put_int(n, sv[1]);
    } else {
        put(&e.hargs, "sv");
    }
    return (int)finish(&e);
}

int lab_bind(int fd, const struct sockaddr *addr, socklen_t len,
             const char *file, int line)
{
    if (!cfg.on)
        return bind(fd, addr, len);
    struct event e;
    begin(&e, BIND, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, bind(fd, addr, len));
    }
    int readable = !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_int(&e, "fd", fd);
    arg_addr(&e, addr, len, readable);
    arg_int(&e, "addrlen", (long long)len);
    if (e.ret == 0) {
        /* Ask the kernel which name it really bound: it may differ. */
        struct sockaddr_un got;
        socklen_t gl = sizeof got;
        memset(&got, 0, sizeof got);
        if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0 &&
            gl > offsetof(struct sockaddr_un, sun_path) &&
            got.sun_path[0] != '\0') {
            struct stat st;
            char path[sizeof got.sun_path + 1];
            memcpy(path, got.sun_path, sizeof got.sun_path);
            path[sizeof got.sun_path] = '\0';
            int is_sock = lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
            int entered = enter(e.nested);
            if (entered && is_sock)
                remember_bound(fd, e.pid, path, &st);
            leave(entered);
            struct text *n = note(&e);
            put(n, "socket file \"");
            put(n, path);
            put(n, "\" created");
            if (is_sock)
                put(n, " (ls -l shows type s)");
            put_quoted(result_member(&e, "bound"), path, 1);
        } else if (gl > offsetof(struct sockaddr_un, sun_path)) {
            put(note(&e), "abstract address: no file is created");
        }
    }
    if (readable)
        note_cut_path(&e, addr, len);
    return (int)finish(&e);
}

int lab_listen(int fd, int backlog, const char *file, int line)
{
    if (!cfg.on)
        return listen(fd, backlog);
    struct event e;
    begin(&e, LISTEN, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    arg_int(&e, "backlog", backlog);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, listen(fd, backlog));
    }
    if (e.ret == 0) {
        struct text *n = note(&e);
        put(n, "fd ");
        put_int(n, fd);
        put(n, " is now passive (listening): connections queue in its "
               "backlog until accepted (Linux admits ");
        put_int(n, backlog);
        put(n, " + 1)");
    }
    return (int)finish(&e);
}

static void arg_sock_flags(struct event *e, int flags)
{
    char buf[64];
    struct text t;
    if (flags == 0 || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) != 0) {
        arg_int(e, "flags", flags);
        return;
    }
    text_init(&t, buf, sizeof buf);
    if (flags & SOCK_NONBLOCK)
        put(&t, "|SOCK_NONBLOCK");
    if (flags & SOCK_CLOEXEC)
        put(&t, "|SOCK_CLOEXEC");
    arg_sym(e, "flags", t.s + 1);
}

static int traced_accept(enum call id, int fd, struct sockaddr *addr,
                         socklen_t *len, int flags, const char *file,
                         int line)
{
    struct event e;
    begin(&e, id, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    if (id == ACCEPT4)
        arg_sock_flags(&e, flags);
    if (cfg.emitting && !will_fail(&e) && wait_shown(&e) &&
        is_listening(fd) && would_block(fd, POLLIN, 0))
        announce_wait(&e, "waiting for a client to connect");
    if (!injected_failure(&e)) {
        call_now(&e);
#ifdef SOCK_NONBLOCK
        returned(&e, id == ACCEPT4 ? accept4(fd, addr, len, flags)
                                   : accept(fd, addr, len));
#else
        returned(&e, accept(fd, addr, len));
#endif
    }
    if (e.ret >= 0) {
        struct text *n = note(&e);
        put(n, "new connected socket fd ");
        put_int(n, e.ret);
        put(n, " for this client; listening fd ");
        put_int(n, fd);
        put(n, " stays open for the next one");
        if (id == ACCEPT4 && (flags & SOCK_NONBLOCK))
            put(n, "; the new fd is non-blocking");
    }
    return (int)finish(&e);
}

int lab_accept(int fd, struct sockaddr *addr, socklen_t *len,
               const char *file, int line)
{
    if (!cfg.on)
        return accept(fd, addr, len);
    return traced_accept(ACCEPT, fd, addr, len, 0, file, line);
}

int lab_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags,
                const char *file, int line)
{
    if (!cfg.on)
        return accept4(fd, addr, len, flags);
    return traced_accept(ACCEPT4, fd, addr, len, flags, file, line);
}

int lab_connect(int fd, const struct sockaddr *addr, socklen_t len,
                const char *file, int line)
{
    if (!cfg.on)
        return connect(fd, addr, len);
    struct event e;
    begin(&e, CONNECT, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, connect(fd, addr, len));
    }
    int readable = !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_int(&e, "fd", fd);
    arg_addr(&e, addr, len, readable);
    arg_int(&e, "addrlen", (long long)len);
    if (e.ret == 0 && socket_type(fd) == SOCK_DGRAM)
        put(note(&e), "connected: this socket's datagrams go to that "
                      "address by default, and only its datagrams are "
                      "received here");
    else if (e.ret == 0)
        put(note(&e),
            "connected: the server's accept can now take this connection");
    if (readable)
        note_cut_path(&e, addr, len);
    return (int)finish(&e);
}

static const struct {
    int flag;
    const char *name;
} msg_flags[] = {
    {MSG_NOSIGNAL, "MSG_NOSIGNAL"}, {MSG_DONTWAIT, "MSG_DONTWAIT"},
    {MSG_PEEK, "MSG_PEEK"}, {MSG_WAITALL, "MSG_WAITALL"},
    {MSG_TRUNC, "MSG_TRUNC"}, {MSG_CTRUNC, "MSG_CTRUNC"},
    {MSG_EOR, "MSG_EOR"}, {MSG_OOB, "MSG_OOB"},
#ifdef MSG_CMSG_CLOEXEC
    {MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
#endif
};

/* Flags by name, "MSG_NOSIGNAL|MSG_DONTWAIT"; 0 when some bit has none
 * (or there is none at all): then the number says it. */
static int msg_flag_names(struct text *t, char *buf, size_t cap, int flags)
{
    int left = flags;
    text_init(t, buf, cap);
    for (size_t i = 0; i < sizeof msg_flags / sizeof msg_flags[0]; i++)
        if (flags & msg_flags[i].flag) {
            if (t->len > 0)
                put(t, "|");
            put(t, msg_flags[i].name);
            left &= ~msg_flags[i].flag;
        }
    return flags != 0 && left == 0;
}

static void arg_msg_flags(struct event *e, int flags)
{
    char buf[96];
    struct text s;
    if (!msg_flag_names(&s, buf, sizeof buf, flags)) {
        arg_int(e, "flags", flags);
        return;
    }
    arg_sym(e, "flags", s.s);
}

static ssize_t traced_io(enum call call, int fd, void *buf, size_t count,
                         int flags, int has_flags, int reading,
                         const char *file, int line)
{
    struct event e;
    begin(&e, call, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    put(&e.hargs, ", buf"); /* the bytes themselves follow the result */
    arg_int(&e, "count", (long long)count);
    if (has_flags)
        arg_msg_flags(&e, flags);
    /* Only reads are announced: poll(2) calls an AF_UNIX stream socket
     * writable only while under a quarter of its send buffer is in use, so
     * it cannot tell whether a write would block, and often says it would
     * when it would not. */
    if (cfg.emitting && reading && !will_fail(&e) && wait_shown(&e) &&
        (would_block(fd, POLLIN, flags) ||
         waits_for_all(fd, e.fault && e.fault->limit && count > e.fault->limit
                               ? (size_t)e.fault->limit : count, flags)))
        announce_wait(&e, "waiting for data");
    ssize_t r = -1;
    if (!injected_failure(&e)) {
        size_t asked = injected_count(&e, count);
        call_now(&e);
        if (reading)
            r = has_flags ? recv(fd, buf, asked, flags)
                          : read(fd, buf, asked);
        else
            r = has_flags ? send(fd, buf, asked, flags)
                          : write(fd, buf, asked);
        returned(&e, r);
    }
    if (r > 0) {
        e.data = buf;
        e.data_len = (size_t)r;
        if (!reading && (size_t)r < count) { /* a short read is normal */
            struct text *n = note(&e);
            put(n, "short write: only ");
            put_int(n, r);
            put(n, " of ");
            put_int(n, (long long)count);
            put(n, " bytes sent");
        }
    } else if (r == 0 && reading && count > 0) {
        put(note(&e),
            "end of file: the peer closed its end (or shut down writing)");
    }
    return (ssize_t)finish(&e);
}

ssize_t lab_read(int fd, void *buf, size_t count, const char *file, int line)
{
    if (!cfg.on || !traced_fd(fd))
        return read(fd, buf, count);
    return traced_io(READ, fd, buf, count, 0, 0, 1, file, line);
}

ssize_t lab_write(int fd, const void *buf, size_t count, const char *file,
                  int line)
{
    if (!cfg.on || !traced_fd(fd))
        return write(fd, buf, count);
    return traced_io(WRITE, fd, (void *)buf, count, 0, 0, 0, file, line);
}

ssize_t lab_recv(int fd, void *buf, size_t count, int flags,
                 const char *file, int line)
{
    if (!cfg.on)
        return recv(fd, buf, count, flags);
    return traced_io(RECV, fd, buf, count, flags, 1, 1, file, line);
}

ssize_t lab_send(int fd, const void *buf, size_t count, int flags,
                 const char *file, int line)
{
    if (!cfg.on)
        return send(fd, buf, count, flags);
    return traced_io(SEND, fd, (void *)buf, count, flags, 1, 0, file,
                     line);
}

int lab_shutdown(int fd, int how, const char *file, int line)
{
    if (!cfg.on)
        return shutdown(fd, how);
    struct event e;
    begin(&e, SHUTDOWN, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    switch (how) {
    case SHUT_RD: arg_sym(&e, "how", "SHUT_RD"); break;
    case SHUT_WR: arg_sym(&e, "how", "SHUT_WR"); break;
    case SHUT_RDWR: arg_sym(&e, "how", "SHUT_RDWR"); break;
    default: arg_int(&e, "how", how);
    }
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, shutdown(fd, how));
    }
    if (e.ret == 0 && how != SHUT_RD) {
        struct text *n = note(&e);
        put(n, "no more writing on fd ");
        put_int(n, fd);
        put(n, ": the peer's read will return 0 once it has read what was "
               "sent");
    }
    return (int)finish(&e);
}

int lab_close(int fd, const char *file, int line)
{
    if (!cfg.on || !traced_fd(fd))
        return close(fd);
    struct event e;
    struct bound_socket was;
    begin(&e, CLOSE, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    int listening = is_socket(fd) && is_listening(fd);
    int entered = enter(e.nested);
    was.path[0] = '\0';
    if (entered && !will_fail(&e))
        forget_bound(fd, e.pid, &was);
    leave(entered);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, close(fd));
    }
    if (e.ret == 0 && was.path[0]) {
        /* Is the file bind made still there? Look, do not assume. */
        struct stat now;
        int there = lstat(was.path, &now) == 0;
        struct text *n = note(&e);
        put(n, listening ? "listening" : "bound");
        put(n, " socket closed; its file \"");
        put(n, was.path);
        if (there && now.st_dev == was.dev && now.st_ino == was.ino)
            put(n, "\" stays until unlink(2)");
        else if (there)
            put(n, "\" is another file now: it was removed, and the path "
                   "reused");
        else
            put(n, "\" was already removed");
    } else if (e.ret == 0 && listening) {
        put(note(&e), "listening socket closed");
    }
    return (int)finish(&e);
}

int lab_unlink(const char *path, const char *file, int line)
{
    if (!cfg.on)
        return unlink(path);
    struct event e;
    struct stat st;
    begin(&e, UNLINK, file, line);
    int was_socket = path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, unlink(path));
    }
    arg_name(&e, "path");
    if (path && !(e.ret == -1 && e.err == EFAULT && !e.injected)) {
        put_quoted(&e.hargs, path, 0);
        put_quoted(&e.jargs, path, 1);
    } else {
        put(&e.jargs, "null");
        if (path) {
            put_pointer(&e.hargs, path);
            put(&e.jargs, ",\"pointer\":\"");
            put_pointer(&e.jargs, path);
            put(&e.jargs, "\"");
        } else {
            put(&e.hargs, "NULL");
        }
    }
    if (e.ret == 0 && was_socket)
        put(note(&e), "socket file removed");
    return (int)finish(&e);
}

/* unlinkat(AT_FDCWD, path, 0) is unlink(path): traced as it.  With
 * another directory fd or flags it is made untraced: the lab's programs
 * remove only their socket file, by its path. */
int lab_unlinkat(int dirfd, const char *path, int flags,
                 const char *file, int line)
{
    if (dirfd == AT_FDCWD && flags == 0)
        return lab_unlink(path, file, line);
    return unlinkat(dirfd, path, flags);
}

/* Would waitpid(pid, ...) wait? waitid(2) with WNOWAIT looks without
 * reaping; it is a plain system call, like waitpid itself. */
static int child_running(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int saved = errno;
    int running = waitid(pid == -1 ? P_ALL : P_PID, (id_t)(pid == -1 ? 0 : pid),
                         &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                  info.si_pid == 0;
    errno = saved;
    return running;
}

pid_t lab_waitpid(pid_t pid, int *status, int options, const char *file,
                  int line)
{
    if (!cfg.on)
        return waitpid(pid, status, options);
    struct event e;
    int mine = 0;
    int *where = status ? status : &mine; /* the status, for the note */
    begin(&e, WAITPID, file, line);
    e.key_kind = KEY_PID;
    e.key = pid;
    arg_int(&e, "pid", pid);
    if ((options & ~(WNOHANG | WUNTRACED | WCONTINUED)) == 0 && options) {
        char buf[64];
        struct text o;
        text_init(&o, buf, sizeof buf);
        if (options & WNOHANG)
            put(&o, "|WNOHANG");
        if (options & WUNTRACED)
            put(&o, "|WUNTRACED");
        if (options & WCONTINUED)
            put(&o, "|WCONTINUED");
        arg_sym(&e, "options", o.s + 1);
    } else {
        arg_int(&e, "options", options);
    }
    if (cfg.emitting && !will_fail(&e) && !(options & WNOHANG) &&
        (pid > 0 || pid == -1) && wait_shown(&e) && child_running(pid)) {
        char buf[64];
        struct text what;
        text_init(&what, buf, sizeof buf);
        if (pid == -1) {
            put(&what, "waiting for a child to end");
        } else {
            put(&what, "waiting for child ");
            put_int(&what, pid);
            put(&what, " to end");
        }
        announce_wait(&e, what.s);
    }
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, waitpid(pid, where, options));
    }
    if (e.ret == 0 && (options & WNOHANG)) {
        put(note(&e), "no child has ended yet: with WNOHANG waitpid does "
                      "not wait");
    } else if (e.ret > 0) {
        int st = *where;
        struct text *n = note(&e);
        put(n, "child ");
        put_int(n, e.ret);
        if (WIFEXITED(st)) {
            put(n, " exited with status ");
            put_int(n, WEXITSTATUS(st));
            put_int(result_member(&e, "exit_status"), WEXITSTATUS(st));
        } else if (WIFSIGNALED(st)) {
            const char *name = signal_name(WTERMSIG(st));
            struct text *j = result_member(&e, "signal");
            put(n, " killed by signal ");
            if (name)
                put(n, name);
            else
                put_int(n, WTERMSIG(st));
            put_char(j, '"');
            put_signal_name(j, WTERMSIG(st));
            put_char(j, '"');
        } else {
            put(n, " stopped or continued");
        }
    }
    return (pid_t)finish(&e);
}

/* ---- part 2: processes, signals, poll, fcntl, datagrams --------------- */

/* A signal argument: its name ("SIGTERM"), or its number. */
static void arg_signal(struct event *e, const char *name, int sig)
{
    const char *n = signal_name(sig);
    if (n)
        arg_sym(e, name, n);
    else
        arg_int(e, name, sig);
}

/* A LAB_FAULTS rule fork=CHILDFIRST: in the parent, fork returns only
 * once the child it made has ended (at most 5 s later), the child left
 * for the program to reap: what happens when the child runs to its end
 * before the parent goes on. Its SIGCHLD comes meanwhile: delivered at
 * once if not blocked, and its handler may reap the child then. */
static void child_first(struct event *e, pid_t child)
{
    int saved = errno;
    struct timespec step = {0, 1000000}; /* 1 ms */
    for (int i = 0; i < 5000; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)child, &si, WEXITED | WNOHANG | WNOWAIT)
            == -1) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: a handler has reaped it already */
        }
        if (si.si_pid == child)
            break; /* ended, not yet reaped */
        nanosleep(&step, NULL);
    }
    errno = saved;
    e->injected = 2;
    struct text *n = note(e);
    put(n, "injected by LAB_FAULTS (");
    put(n, e->fault->text);
    put(n, "): fork returned here only once the child had ended");
}

pid_t lab_fork(const char *file, int line)
{
    if (!cfg.on)
        return fork();
    struct event e;
    begin(&e, FORK, file, line);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, fork());
    }
    if (e.ret == 0) {
        /* The child: its own pid, its own runs and counts, its role. */
        e.pid = getpid();
        int entered = enter(e.nested);
        if (entered) {
            forked = 0;
            forget_parent_state(e.pid);
        }
        leave(entered);
        put(note(&e), "this is the child: fork returned 0 here. It runs "
                      "the same program on from the fork, with a copy of "
                      "each of the parent's fds (the same sockets)");
    } else if (e.ret > 0) {
        struct text *n = note(&e);
        put(n, "child process ");
        put_int(n, e.ret);
        put(n, " made: it runs on from this fork, with a copy of each fd "
               "(the same sockets, open in both until each closes its own)");
        if (e.fault && e.fault->childfirst)
            child_first(&e, (pid_t)e.ret);
    }
    return (pid_t)finish(&e);
}

int lab_kill(pid_t pid, int sig, const char *file, int line)
{
    if (!cfg.on)
        return kill(pid, sig);
    struct event e;
    begin(&e, KILL, file, line);
    e.key_kind = KEY_PID;
    e.key = pid;
    arg_int(&e, "pid", pid);
    arg_signal(&e, "sig", sig);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, kill(pid, sig));
    }
    if (e.ret == 0) {
        struct text *n = note(&e);
        if (sig == 0) {
            put(n, "process ");
            put_int(n, pid);
            put(n, " exists (signal 0 is only checked, not sent)");
        } else {
            put_signal_name(n, sig);
            if (pid > 0) {
                put(n, " sent to process ");
                put_int(n, pid);
            } else if (pid == 0) {
                put(n, " sent to every process of this process group");
            } else if (pid == -1) {
                put(n, " sent to every process this one may signal");
            } else {
                put(n, " sent to process group ");
                put_int(n, -(long long)pid);
            }
        }
    }
    return (int)finish(&e);
}

/* ---- poll(2) ------------------------------------------------------------ */

static const struct {
    short bit;
    const char *name;
} poll_bits[] = {
    {POLLIN, "POLLIN"}, {POLLPRI, "POLLPRI"}, {POLLOUT, "POLLOUT"},
#ifdef POLLRDHUP
    {POLLRDHUP, "POLLRDHUP"},
#endif
    {POLLERR, "POLLERR"}, {POLLHUP, "POLLHUP"}, {POLLNVAL, "POLLNVAL"},
    {POLLRDNORM, "POLLRDNORM"}, {POLLRDBAND, "POLLRDBAND"},
    {POLLWRNORM, "POLLWRNORM"}, {POLLWRBAND, "POLLWRBAND"},
};

/* POLLIN|POLLHUP, or a number for bits without a name (0 for none). */
static void put_poll_bits(struct text *t, short bits, int json)
{
    char buf[160];
    struct text n;
    short left = bits;
    text_init(&n, buf, sizeof buf);
    for (size_t i = 0; i < sizeof poll_bits / sizeof poll_bits[0]; i++)
        if (bits & poll_bits[i].bit) {
            if (n.len > 0)
                put(&n, "|");
            put(&n, poll_bits[i].name);
            left = (short)(left & ~poll_bits[i].bit);
        }
    if (bits == 0 || left != 0) {
        put_int(t, (unsigned short)bits);
    } else if (json) {
        put_quoted(t, n.s, 1);
    } else {
        put(t, n.s);
    }
}

/* The set poll watches: the first POLL_SHOWN entries for people, the first
 * POLL_LISTED in the JSON (trace/TRACE.md says so). */
enum { POLL_SHOWN = 8, POLL_LISTED = 32 };

static void arg_pollfds(struct event *e, const struct pollfd *fds,
                        nfds_t nfds, int readable)
{
    struct text *h = &e->hargs, *j = &e->jargs;
    arg_name(e, "fds");
    if (!readable || !fds) {
        put(j, "null");
        if (fds) {
            put_pointer(h, fds);
            put(j, ",\"pointer\":\"");
            put_pointer(j, fds);
            put(j, "\"");
        } else {
            put(h, "NULL");
        }
        return;
    }
    put(h, "[");
    put(j, "[");
    for (nfds_t i = 0; i < nfds && i < POLL_LISTED; i++) {
        if (i < POLL_SHOWN) {
            put(h, i ? ", {fd=" : "{fd=");
            put_int(h, fds[i].fd);
            put(h, ", events=");
            put_poll_bits(h, fds[i].events, 0);
            put(h, "}");
        }
        put(j, i ? ",{\"fd\":" : "{\"fd\":");
        put_int(j, fds[i].fd);
        put(j, ",\"events\":");
        put_poll_bits(j, fds[i].events, 1);
        put(j, "}");
    }
    if (nfds > POLL_SHOWN) {
        put(h, ", ...");
        put_unsigned(h, (unsigned long long)(nfds - POLL_SHOWN), 0);
        put(h, " more");
    }
    put(h, "]");
    put(j, "]");
}

/* The fds poll found ready, after the result: " ([{fd=4, revents=POLLIN}])"
 * for people, "ready" in the JSON (at most POLL_LISTED of them). */
/* The note of a poll or ppoll whose set holds an fd that is not open:
 * the first such fd, reported POLLNVAL. */
static void note_not_open(struct event *e, const struct pollfd *fds,
                          nfds_t nfds)
{
    for (nfds_t i = 0; i < nfds; i++)
        if (fds[i].revents & POLLNVAL) {
            struct text *n = note(e);
            put(n, "fd ");
            put_int(n, fds[i].fd);
            put(n, " is not open (POLLNVAL)");
            return;
        }
}

static void poll_ready(struct event *e, const struct pollfd *fds, nfds_t nfds)
{
    struct text *a = &e->after, *j = result_member(e, "ready");
    long long shown = 0, listed = 0;
    put(a, " ([");
    put(j, "[");
    for (nfds_t i = 0; i < nfds && listed < POLL_LISTED; i++) {
        if (fds[i].revents == 0)
            continue;
        if (shown < POLL_SHOWN) {
            put(a, shown ? ", {fd=" : "{fd=");
            put_int(a, fds[i].fd);
            put(a, ", revents=");
            put_poll_bits(a, fds[i].revents, 0);
            put(a, "}");
            shown++;
        }
        put(j, listed ? ",{\"fd\":" : "{\"fd\":");
        put_int(j, fds[i].fd);
        put(j, ",\"revents\":");
        put_poll_bits(j, fds[i].revents, 1);
        put(j, "}");
        listed++;
    }
    if (e->ret > shown) {
        put(a, ", ...");
        put_int(a, e->ret - shown);
        put(a, " more");
    }
    put(a, "])");
    put(j, "]");
}

/* Would poll wait? Asked with a zero timeout (ppoll(2), so that strace
 * tells the trace's question from the program's poll); -1 when the set
 * cannot be read (the real call will say EFAULT), else 1 or 0. The revents
 * it writes are written again by the real call. */
static int poll_would_wait(struct pollfd *fds, nfds_t nfds)
{
    struct timespec zero = {0, 0};
    int saved = errno;
    int n = ppoll(fds, nfds, &zero, NULL);
    int failed = n == -1 && errno == EFAULT;
    errno = saved;
    return failed ? -1 : n == 0;
}

int lab_poll(struct pollfd *fds, nfds_t nfds, int timeout, const char *file,
             int line)
{
    if (!cfg.on)
        return poll(fds, nfds, timeout);
    struct event e;
    begin(&e, POLL, file, line);
    int args_done = 0;
    if (cfg.emitting && !will_fail(&e) && timeout != 0 && wait_shown(&e)) {
        int waits = poll_would_wait(fds, nfds);
        if (waits >= 0) {
            arg_pollfds(&e, fds, nfds, 1);
            arg_int(&e, "nfds", (long long)nfds);
            arg_int(&e, "timeout", timeout);
            args_done = 1;
        }
        if (waits == 1) {
            char buf[96];
            struct text what;
            text_init(&what, buf, sizeof buf);
            put(&what, nfds == 1 ? "waiting for the fd to be ready"
                                 : "waiting for one of the fds to be ready");
            if (timeout > 0) {
                put(&what, ", for at most ");
                put_int(&what, timeout);
                put(&what, " ms");
            }
            announce_wait(&e, what.s);
        }
    }
    if (!injected_failure(&e) && !injected_timeout(&e, fds, nfds)) {
        call_now(&e);
        returned(&e, poll(fds, nfds, timeout));
    }
    if (!args_done) {
        int readable = !(e.ret == -1 && !e.injected &&
                         (e.err == EFAULT || e.err == EINVAL));
        arg_pollfds(&e, fds, nfds, readable);
        arg_int(&e, "nfds", (long long)nfds);
        arg_int(&e, "timeout", timeout);
    }
    if (e.ret >= 0 && !e.injected) {
        poll_ready(&e, fds, nfds);
        if (e.ret == 0) {
            struct text *n = note(&e);
            put(n, "timed out: no fd was ready within ");
            put_int(n, timeout);
            put(n, " ms");
        }
        note_not_open(&e, fds, nfds);
    }
    return (int)finish(&e);
}

/* ---- ppoll(2) ----------------------------------------------------------- */

/* Signals 1 to 64: the standard ones, then the real-time ones (Linux). */
enum { LAST_SIGNAL = 64 };

static int in_set(const sigset_t *set, int sig)
{
    int saved = errno, in = sigismember(set, sig) == 1;
    errno = saved;
    return in;
}

/* The members of a signal set: "SIGINT SIGTERM" for people, "\"SIGINT\",
 * \"SIGTERM\"" in the JSON; a signal without a name as its number.
 * Returns how many. */
static int put_signals(struct text *t, const sigset_t *set, int json)
{
    int n = 0;
    for (int sig = 1; sig <= LAST_SIGNAL; sig++) {
        if (!in_set(set, sig))
            continue;
        if (n++ > 0)
            put(t, json ? "," : " ");
        const char *name = signal_name(sig);
        if (name && json)
            put_quoted(t, name, 1);
        else if (name)
            put(t, name);
        else
            put_int(t, sig);
    }
    return n;
}

/* ppoll's mask: the signals blocked while it waits, [SIGCHLD], [] for
 * none, NULL for no mask (the process's mask stays as it is). */
static void arg_sigmask(struct event *e, const sigset_t *mask)
{
    arg_name(e, "sigmask");
    if (!mask) {
        put(&e->hargs, "NULL");
        put(&e->jargs, "null");
        return;
    }
    put(&e->hargs, "[");
    put(&e->jargs, "[");
    put_signals(&e->hargs, mask, 0);
    put_signals(&e->jargs, mask, 1);
    put(&e->hargs, "]");
    put(&e->jargs, "]");
}

/* ppoll's timeout: {tv_sec=1, tv_nsec=500000000}, or NULL (no timeout). */
static void arg_timespec(struct event *e, const struct timespec *ts)
{
    arg_name(e, "timeout");
    if (!ts) {
        put(&e->hargs, "NULL");
        put(&e->jargs, "null");
        return;
    }
    put(&e->hargs, "{tv_sec=");
    put_int(&e->hargs, (long long)ts->tv_sec);
    put(&e->hargs, ", tv_nsec=");
    put_int(&e->hargs, (long long)ts->tv_nsec);
    put(&e->hargs, "}");
    put(&e->jargs, "{\"tv_sec\":");
    put_int(&e->jargs, (long long)ts->tv_sec);
    put(&e->jargs, ",\"tv_nsec\":");
    put_int(&e->jargs, (long long)ts->tv_nsec);
    put(&e->jargs, "}");
}

static void ppoll_args(struct event *e, const struct pollfd *fds,
                       nfds_t nfds, int readable,
                       const struct timespec *timeout, const sigset_t *mask)
{
    arg_pollfds(e, fds, nfds, readable);
    arg_int(e, "nfds", (long long)nfds);
    arg_timespec(e, timeout);
    arg_sigmask(e, mask);
}

/* What the mask changes while ppoll waits, against the process's mask
 * now (blocked): the signals it lets in, those it blocks besides, or,
 * with no mask, the signals that stay blocked. Said in the note. */
static void note_sigmask(struct event *e, const sigset_t *mask,
                         const sigset_t *blocked)
{
    sigset_t in, out;
    sigemptyset(&in);
    sigemptyset(&out);
    for (int sig = 1; sig <= LAST_SIGNAL; sig++) {
        if (in_set(blocked, sig) && !(mask && in_set(mask, sig)))
            sigaddset(&in, sig);
        if (mask && in_set(mask, sig) && !in_set(blocked, sig))
            sigaddset(&out, sig);
    }
    char buf[400];
    struct text t;
    text_init(&t, buf, sizeof buf);
    if (!mask && put_signals(&t, &in, 0) > 0) {
        struct text *n = note(e);
        put(n, "no mask (NULL): the signals blocked now stay blocked while "
               "it waits: ");
        put(n, t.s);
        return;
    }
    if (mask && put_signals(&t, &in, 0) > 0) {
        struct text *n = note(e);
        put(n, "while it waits the mask lets in ");
        put(n, t.s);
        put(n, ", blocked before and after the call");
    }
    text_init(&t, buf, sizeof buf);
    if (mask && put_signals(&t, &out, 0) > 0) {
        struct text *n = note(e);
        put(n, "while it waits the mask blocks ");
        put(n, t.s);
        put(n, " too");
    }
}

/* Would ppoll wait? Not when an fd is ready (poll_would_wait), nor when a
 * signal is pending that its mask lets in: that one is delivered as the
 * call begins, and it fails with EINTR at once. -1, 1 or 0 as
 * poll_would_wait. */
static int ppoll_would_wait(struct pollfd *fds, nfds_t nfds,
                            const sigset_t *mask)
{
    int waits = poll_would_wait(fds, nfds);
    sigset_t pending;
    int saved = errno;
    if (waits == 1 && mask && sigpending(&pending) == 0)
        for (int sig = 1; sig <= LAST_SIGNAL; sig++)
            if (in_set(&pending, sig) && !in_set(mask, sig))
                waits = 0;
    errno = saved;
    return waits;
}

int lab_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
              const sigset_t *sigmask, const char *file, int line)
{
    if (!cfg.on)
        return ppoll(fds, nfds, timeout, sigmask);
    struct event e;
    begin(&e, PPOLL, file, line);
    if (cfg.emitting) {
        /* The mask now, for the note: asked only when someone reads it. */
        sigset_t blocked;
        int saved = errno;
        int known = sigprocmask(SIG_BLOCK, NULL, &blocked) == 0;
        errno = saved;
        if (known)
            note_sigmask(&e, sigmask, &blocked);
    }
    int args_done = 0;
    int zero = timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
    if (cfg.emitting && !will_fail(&e) && !zero && wait_shown(&e)) {
        int waits = ppoll_would_wait(fds, nfds, sigmask);
        if (waits >= 0) {
            ppoll_args(&e, fds, nfds, 1, timeout, sigmask);
            args_done = 1;
        }
        if (waits == 1)
            announce_wait(&e, nfds == 1 ? "waiting for the fd to be ready"
                                        : "waiting for one of the fds to "
                                          "be ready");
    }
    if (!injected_failure(&e) && !injected_timeout(&e, fds, nfds)) {
        call_now(&e);
        returned(&e, ppoll(fds, nfds, timeout, sigmask));
    }
    if (!args_done) {
        int readable = !(e.ret == -1 && !e.injected &&
                         (e.err == EFAULT || e.err == EINVAL));
        ppoll_args(&e, fds, nfds, readable, timeout, sigmask);
    }
    if (e.ret >= 0 && !e.injected) {
        poll_ready(&e, fds, nfds);
        if (e.ret == 0)
            put(note(&e), "timed out: no fd was ready within the timeout");
        note_not_open(&e, fds, nfds);
    }
    return (int)finish(&e);
}

/* ---- fcntl(2) ----------------------------------------------------------- */

/* O_RDWR|O_NONBLOCK: the access mode, then the flags; bits without a name
 * as a hexadecimal number. */
static void put_open_flags(struct text *t, long flags)
{
    static const struct {
        long bit;
        const char *name;
    } bits[] = {
        {O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"},
#ifdef O_ASYNC
        {O_ASYNC, "O_ASYNC"},
#endif
#ifdef O_DIRECT
        {O_DIRECT, "O_DIRECT"},
#endif
#ifdef O_NOATIME
        {O_NOATIME, "O_NOATIME"},
#endif
        {O_SYNC, "O_SYNC"},
    };
    static const char hex[] = "0123456789abcdef";
    long left = flags & ~(long)O_ACCMODE;
    switch (flags & O_ACCMODE) {
    case O_RDONLY: put(t, "O_RDONLY"); break;
    case O_WRONLY: put(t, "O_WRONLY"); break;
    case O_RDWR: put(t, "O_RDWR"); break;
    default: put(t, "O_ACCMODE");
    }
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++)
        if ((left & bits[i].bit) == bits[i].bit) {
            put(t, "|");
            put(t, bits[i].name);
            left &= ~bits[i].bit;
        }
    if (left) {
        char digits[2 * sizeof left];
        int n = 0;
        unsigned long v = (unsigned long)left;
        do {
            digits[n++] = hex[v & 0xf];
            v >>= 4;
        } while (v);
        put(t, "|0x");
        while (n > 0)
            put_char(t, digits[--n]);
    }
}

static void arg_open_flags(struct event *e, const char *name, long flags)
{
    char buf[160];
    struct text t;
    text_init(&t, buf, sizeof buf);
    put_open_flags(&t, flags);
    arg_sym(e, name, t.s);
}

/* What a command takes as its third argument. */
enum { ARG_NONE, ARG_INT, ARG_POINTER };

static int fcntl_argument(int cmd)
{
    switch (cmd) {
    case F_GETFD: case F_GETFL: case F_GETOWN:
#ifdef F_GETSIG
    case F_GETSIG:
#endif
#ifdef F_GETLEASE
    case F_GETLEASE:
#endif
#ifdef F_GETPIPE_SZ
    case F_GETPIPE_SZ:
#endif
#ifdef F_GET_SEALS
    case F_GET_SEALS:
#endif
        return ARG_NONE;
    case F_DUPFD: case F_DUPFD_CLOEXEC: case F_SETFD: case F_SETFL:
    case F_SETOWN:
#ifdef F_SETSIG
    case F_SETSIG:
#endif
#ifdef F_SETLEASE
    case F_SETLEASE:
#endif
#ifdef F_NOTIFY
    case F_NOTIFY:
#endif
#ifdef F_SETPIPE_SZ
    case F_SETPIPE_SZ:
#endif
#ifdef F_ADD_SEALS
    case F_ADD_SEALS:
#endif
        return ARG_INT;
    default: /* locks, owners, hints, and commands the trace does not
              * know: a pointer, as the C library's own fcntl reads it */
        return ARG_POINTER;
    }
}

static const char *fcntl_name(int cmd)
{
    switch (cmd) {
    case F_DUPFD: return "F_DUPFD";
    case F_DUPFD_CLOEXEC: return "F_DUPFD_CLOEXEC";
    case F_GETFD: return "F_GETFD";
    case F_SETFD: return "F_SETFD";
    case F_GETFL: return "F_GETFL";
    case F_SETFL: return "F_SETFL";
    case F_GETLK: return "F_GETLK";
    case F_SETLK: return "F_SETLK";
    case F_SETLKW: return "F_SETLKW";
    case F_GETOWN: return "F_GETOWN";
    case F_SETOWN: return "F_SETOWN";
    default: return NULL;
    }
}

int lab_fcntl(const char *file, int line, int fd, int cmd, ...)
{
    int kind = fcntl_argument(cmd);
    long number = 0;
    void *pointer = NULL;
    va_list ap;
    va_start(ap, cmd);
    if (kind == ARG_INT)
        number = va_arg(ap, int);
    else if (kind == ARG_POINTER)
        pointer = va_arg(ap, void *);
    va_end(ap);
    if (!cfg.on) {
        if (kind == ARG_NONE)
            return fcntl(fd, cmd);
        return kind == ARG_INT ? fcntl(fd, cmd, (int)number)
                               : fcntl(fd, cmd, pointer);
    }
    struct event e;
    begin(&e, FCNTL, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    const char *name = fcntl_name(cmd);
    if (name)
        arg_sym(&e, "cmd", name);
    else
        arg_int(&e, "cmd", cmd);
    if (cmd == F_SETFL)
        arg_open_flags(&e, "arg", number);
    else if (cmd == F_SETFD && number == FD_CLOEXEC)
        arg_sym(&e, "arg", "FD_CLOEXEC");
    else if (kind == ARG_INT)
        arg_int(&e, "arg", number);
    else if (kind == ARG_POINTER) {
        arg_name(&e, "arg");
        put_pointer(&e.hargs, pointer);
        put(&e.jargs, "\"");
        put_pointer(&e.jargs, pointer);
        put(&e.jargs, "\"");
    }
    if (!injected_failure(&e)) {
        call_now(&e);
        if (kind == ARG_NONE)
            returned(&e, fcntl(fd, cmd));
        else if (kind == ARG_INT)
            returned(&e, fcntl(fd, cmd, (int)number));
        else
            returned(&e, fcntl(fd, cmd, pointer));
    }
    if (e.ret >= 0 && cmd == F_GETFL) {
        char buf[160];
        struct text t;
        text_init(&t, buf, sizeof buf);
        put_open_flags(&t, e.ret);
        put(&e.after, " (");
        put(&e.after, t.s);
        put(&e.after, ")");
        put_quoted(result_member(&e, "flags"), t.s, 1);
    } else if (e.ret >= 0 && cmd == F_GETFD) {
        if (e.ret & FD_CLOEXEC) {
            put(&e.after, " (FD_CLOEXEC)");
            put_quoted(result_member(&e, "flags"), "FD_CLOEXEC", 1);
        } else {
            put_int(result_member(&e, "flags"), 0);
        }
    } else if (e.ret == 0 && cmd == F_SETFL) {
        struct text *n = note(&e);
        put(n, "fd ");
        put_int(n, fd);
        put(n, (number & O_NONBLOCK)
                   ? " is non-blocking now: a read, write, accept or connect "
                     "that would wait fails with EAGAIN instead"
                   : " blocks: a call that must wait waits (O_NONBLOCK off)");
    } else if (e.ret == 0 && cmd == F_SETFD) {
        struct text *n = note(&e);
        put(n, "fd ");
        put_int(n, fd);
        put(n, (number & FD_CLOEXEC) ? " will be closed by exec"
                                     : " stays open across exec");
    } else if (e.ret >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) {
        struct text *n = note(&e);
        put(n, "new fd ");
        put_int(n, e.ret);
        put(n, ": another descriptor of the same open socket or file");
    }
    return (int)finish(&e);
}

/* ---- datagrams and messages: sendto, recvfrom, sendmsg, recvmsg ------- */

/* The notes of a call that moved bytes: a short write on a stream, end of
 * file or an empty datagram. */
static void note_moved(struct event *e, int fd, int sending, size_t count)
{
    if (e->ret > 0 && sending && (size_t)e->ret < count) {
        struct text *n = note(e);
        put(n, "short write: only ");
        put_int(n, e->ret);
        put(n, " of ");
        put_int(n, (long long)count);
        put(n, " bytes sent");
    } else if (e->ret == 0 && !sending && count > 0) {
        put(note(e), socket_type(fd) == SOCK_STREAM
                         ? "end of file: the peer closed its end (or shut "
                           "down writing)"
                         : "an empty datagram: a message of 0 bytes");
    }
}

ssize_t lab_sendto(int fd, const void *buf, size_t count, int flags,
                   const struct sockaddr *to, socklen_t tolen,
                   const char *file, int line)
{
    if (!cfg.on)
        return sendto(fd, buf, count, flags, to, tolen);
    struct event e;
    begin(&e, SENDTO, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    if (!injected_failure(&e)) {
        size_t asked = injected_count(&e, count);
        call_now(&e);
        returned(&e, sendto(fd, buf, asked, flags, to, tolen));
    }
    int readable = !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_int(&e, "fd", fd);
    put(&e.hargs, ", buf");
    arg_int(&e, "count", (long long)count);
    arg_msg_flags(&e, flags);
    arg_addr(&e, to, tolen, readable);
    arg_int(&e, "addrlen", (long long)tolen);
    if (e.ret > 0) {
        e.data = buf;
        e.data_len = (size_t)e.ret;
    }
    note_moved(&e, fd, 1, count);
    if (e.ret == -1 && e.err == ENOENT && to && readable &&
        to->sa_family == AF_UNIX)
        put(note(&e), "no socket file at that path: the receiver is not "
                      "bound there (yet, or any more)");
    return (ssize_t)finish(&e);
}

/* The sender's address that recvfrom or recvmsg returned, as "from": {}
 * when the kernel gave none (a sender whose socket is not bound has none;
 * a connected stream gives none). */
static void result_from(struct event *e, int fd, const struct sockaddr *from,
                        socklen_t len)
{
    struct text *j = result_member(e, "from");
    size_t at = j->len;
    if (len == 0) {
        put(&e->hargs, "{}");
        put(j, "{}");
    } else {
        if (len > sizeof(struct sockaddr_un))
            len = sizeof(struct sockaddr_un);
        put_addr(&e->hargs, j, from, len);
    }
    hash_address(e, at);
    if ((len == 0 || (from->sa_family == AF_UNIX &&
                      len <= offsetof(struct sockaddr_un, sun_path))) &&
        socket_type(fd) != SOCK_STREAM)
        put(note(e), "the sender's socket has no address (it is not "
                     "bound): no reply can be sent to it");
}

ssize_t lab_recvfrom(int fd, void *buf, size_t count, int flags,
                     struct sockaddr *from, socklen_t *fromlen,
                     const char *file, int line)
{
    if (!cfg.on)
        return recvfrom(fd, buf, count, flags, from, fromlen);
    struct event e;
    begin(&e, RECVFROM, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    arg_int(&e, "fd", fd);
    put(&e.hargs, ", buf");
    arg_int(&e, "count", (long long)count);
    arg_msg_flags(&e, flags);
    if (cfg.emitting && !will_fail(&e) && wait_shown(&e) &&
        (would_block(fd, POLLIN, flags) || waits_for_all(fd, count, flags))) {
        size_t hlen = e.hargs.len, jlen = e.jargs.len;
        put(&e.hargs, from && fromlen ? ", addr" : ", NULL");
        if (!from || !fromlen)
            put(result_member(&e, "from"), "null");
        announce_wait(&e, "waiting for data");
        e.hargs.len = hlen;
        e.hargs.s[hlen] = '\0';
        e.jargs.len = jlen;
        e.jargs.s[jlen] = '\0';
    }
    if (!injected_failure(&e)) {
        size_t asked = injected_count(&e, count);
        call_now(&e);
        returned(&e, recvfrom(fd, buf, asked, flags, from, fromlen));
    }
    put(&e.hargs, ", ");
    if (!from || !fromlen) {
        put(&e.hargs, "NULL");
        put(result_member(&e, "from"), "null");
    } else if (e.ret >= 0 && !e.injected) {
        result_from(&e, fd, from, *fromlen);
    } else {
        put(&e.hargs, "addr");
    }
    if (e.ret > 0) {
        e.data = buf;
        e.data_len = (size_t)e.ret < count ? (size_t)e.ret : count;
    }
    note_moved(&e, fd, 0, count);
    if (e.ret > 0 && (size_t)e.ret > count) {
        struct text *n = note(&e);
        put(n, "the datagram had ");
        put_int(n, e.ret);
        put(n, " bytes: only the first ");
        put_int(n, (long long)count);
        put(n, " fitted in the buffer, the rest is lost (MSG_TRUNC)");
    }
    return (ssize_t)finish(&e);
}

/* The iovecs' total size. */
static size_t iov_total(const struct iovec *iov, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* The first bytes of what the iovecs hold, up to len, for the preview. */
static void gather(struct event *e, const struct iovec *iov, size_t n,
                   size_t len)
{
    size_t got = 0;
    for (size_t i = 0; i < n && got < sizeof e->gathered && got < len; i++) {
        size_t take = iov[i].iov_len;
        if (take > len - got)
            take = len - got;
        if (take > sizeof e->gathered - got)
            take = sizeof e->gathered - got;
        memcpy(e->gathered + got, iov[i].iov_base, take);
        got += take;
    }
    e->data = e->gathered;
    e->data_len = len;
}

/* The fds a message carries (SCM_RIGHTS), as "[5, 6]" and a JSON array;
 * how many. */
static int put_passed_fds(struct text *h, struct text *j,
                          const struct msghdr *msg)
{
    int count = 0;
    put(h, "[");
    put(j, "[");
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)msg); c;
         c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *p = CMSG_DATA(c);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, p + i * sizeof fd, sizeof fd);
            put(h, count ? ", " : "");
            put(j, count ? "," : "");
            put_int(h, fd);
            put_int(j, fd);
            count++;
        }
    }
    put(h, "]");
    put(j, "]");
    return count;
}

/* "iov=2, 13 bytes": how many iovecs and what they hold, or can hold. */
static void msg_iov(struct event *e, const struct msghdr *msg)
{
    size_t total = iov_total(msg->msg_iov, msg->msg_iovlen);
    put(&e->hargs, "iov=");
    put_unsigned(&e->hargs, (unsigned long long)msg->msg_iovlen, 0);
    put(&e->hargs, ", ");
    put_unsigned(&e->hargs, (unsigned long long)total, 0);
    put(&e->hargs, total == 1 ? " byte" : " bytes");
    put_int(result_member(e, "iovlen"), (long long)msg->msg_iovlen);
    put_int(result_member(e, "count"), (long long)total);
}

ssize_t lab_sendmsg(int fd, const struct msghdr *msg, int flags,
                    const char *file, int line)
{
    if (!cfg.on)
        return sendmsg(fd, msg, flags);
    struct event e;
    begin(&e, SENDMSG, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, sendmsg(fd, msg, flags));
    }
    int readable = msg && !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_int(&e, "fd", fd);
    put(&e.hargs, ", ");
    if (!readable) {
        struct text *j = result_member(&e, "msg");
        put(j, "null");
        if (msg) {
            put_pointer(&e.hargs, msg);
            put(j, ",\"pointer\":\"");
            put_pointer(j, msg);
            put(j, "\"");
        } else {
            put(&e.hargs, "NULL");
        }
    } else {
        put(&e.hargs, "{");
        if (msg->msg_name) {
            struct text *j = result_member(&e, "addr");
            size_t at = j->len;
            put(&e.hargs, "to ");
            put_addr(&e.hargs, j, msg->msg_name, msg->msg_namelen);
            hash_address(&e, at);
            put(&e.hargs, ", ");
        }
        msg_iov(&e, msg);
        if (msg->msg_control && msg->msg_controllen > 0) {
            char hb[256], jb[256];
            struct text h, j;
            text_init(&h, hb, sizeof hb);
            text_init(&j, jb, sizeof jb);
            if (put_passed_fds(&h, &j, msg) > 0) {
                put(&e.hargs, ", fds=");
                put(&e.hargs, h.s);
                put(result_member(&e, "fds"), j.s);
                if (e.ret >= 0) {
                    struct text *n = note(&e);
                    put(n, "fds ");
                    put(n, h.s);
                    put(n, " passed: the receiver gets new fds for the "
                           "same open sockets or files");
                }
            }
        }
        put(&e.hargs, "}");
        if (e.ret > 0)
            gather(&e, msg->msg_iov, msg->msg_iovlen, (size_t)e.ret);
        note_moved(&e, fd, 1, iov_total(msg->msg_iov, msg->msg_iovlen));
    }
    arg_msg_flags(&e, flags);
    return (ssize_t)finish(&e);
}

ssize_t lab_recvmsg(int fd, struct msghdr *msg, int flags, const char *file,
                    int line)
{
    if (!cfg.on)
        return recvmsg(fd, msg, flags);
    struct event e;
    begin(&e, RECVMSG, file, line);
    e.key_kind = KEY_FD;
    e.key = fd;
    if (cfg.emitting && !will_fail(&e) && wait_shown(&e) &&
        would_block(fd, POLLIN, flags)) {
        /* The message is not read before the call: the kernel checks it. */
        arg_int(&e, "fd", fd);
        put(&e.hargs, ", msg");
        arg_msg_flags(&e, flags);
        announce_wait(&e, "waiting for data");
        text_init(&e.hargs, e.hargs_buf, sizeof e.hargs_buf);
        text_init(&e.jargs, e.jargs_buf, sizeof e.jargs_buf);
    }
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, recvmsg(fd, msg, flags));
    }
    int readable = msg && !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_int(&e, "fd", fd);
    put(&e.hargs, ", ");
    if (!readable) {
        struct text *j = result_member(&e, "msg");
        put(j, "null");
        if (msg) {
            put_pointer(&e.hargs, msg);
            put(j, ",\"pointer\":\"");
            put_pointer(j, msg);
            put(j, "\"");
        } else {
            put(&e.hargs, "NULL");
        }
    } else {
        put(&e.hargs, "{");
        int done = e.ret >= 0 && !e.injected;
        if (done && msg->msg_name) {
            put(&e.hargs, "from ");
            result_from(&e, fd, msg->msg_name, msg->msg_namelen);
            put(&e.hargs, ", ");
        }
        msg_iov(&e, msg);
        if (done && msg->msg_control && msg->msg_controllen > 0) {
            char hb[256], jb[256];
            struct text h, j;
            text_init(&h, hb, sizeof hb);
            text_init(&j, jb, sizeof jb);
            if (put_passed_fds(&h, &j, msg) > 0) {
                put(&e.hargs, ", fds=");
                put(&e.hargs, h.s);
                put(result_member(&e, "fds"), j.s);
                struct text *n = note(&e);
                put(n, "received fds ");
                put(n, h.s);
                put(n, ": new descriptors, in this process, of the sender's "
                       "open sockets or files");
            }
        }
        if (done && msg->msg_flags) {
            char fb[96];
            struct text f;
            put(&e.hargs, ", msg_flags=");
            struct text *j = result_member(&e, "msg_flags");
            if (msg_flag_names(&f, fb, sizeof fb, msg->msg_flags)) {
                put(&e.hargs, f.s);
                put_quoted(j, f.s, 1);
            } else {
                put_int(&e.hargs, msg->msg_flags);
                put_int(j, msg->msg_flags);
            }
            if (msg->msg_flags & MSG_TRUNC)
                put(note(&e), "the datagram was longer than the buffers: "
                              "its end is lost (MSG_TRUNC)");
            if (msg->msg_flags & MSG_CTRUNC)
                put(note(&e), "the control data did not fit: fds passed "
                              "with it may be lost (MSG_CTRUNC)");
        }
        put(&e.hargs, "}");
        size_t total = iov_total(msg->msg_iov, msg->msg_iovlen);
        if (e.ret > 0)
            gather(&e, msg->msg_iov, msg->msg_iovlen,
                   (size_t)e.ret < total ? (size_t)e.ret : total);
        note_moved(&e, fd, 0, total);
    }
    arg_msg_flags(&e, flags);
    return (ssize_t)finish(&e);
}

/* ---- signals: sigaction, signal, and each delivery -------------------- */

/*
 * A handler the program installs through the trace is installed as the
 * trace's trampoline, which reports each delivery ("signal SIGCHLD
 * delivered"), then calls the program's handler with the same arguments,
 * with errno as the signal found it; errno is left as the handler leaves
 * it. The program's own action is kept here, twice per signal: the
 * trampoline reads the current copy while the other is written, so a
 * signal that comes while the program changes its action never finds a
 * half-written one. sigaction's oldact gets the program's action back,
 * never the trampoline. SIG_IGN and SIG_DFL are installed as they are.
 */
enum { MAX_SIGNAL = 65 };

struct handler {
    struct sigaction act; /* the program's own action */
    const char *file;     /* where it installed it */
    int line;
};

static struct {
    struct handler copy[2];
    volatile sig_atomic_t current;
} handlers[MAX_SIGNAL];

static void trampoline(int sig, siginfo_t *info, void *context);

static int is_trampoline(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == trampoline;
}

static int has_handler(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) ||
           (a->sa_handler != SIG_IGN && a->sa_handler != SIG_DFL);
}

/* The real sigaction, with the trampoline for a handler when someone reads
 * the trace; old gets the program's own old action. */
static int install(int sig, const struct sigaction *act,
                   struct sigaction *old, const char *file, int line)
{
    struct sigaction mine, was;
    int slot = -1;
    int known = sig > 0 && sig < MAX_SIGNAL;
    if (act && known && cfg.emitting && has_handler(act)) {
        slot = 1 - handlers[sig].current;
        handlers[sig].copy[slot].act = *act;
        handlers[sig].copy[slot].file = file;
        handlers[sig].copy[slot].line = line;
        mine = *act;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = trampoline;
        act = &mine;
    }
    int previous = known ? handlers[sig].current : 0;
    int r = sigaction(sig, act, old ? &was : NULL);
    if (r == 0 && slot >= 0)
        handlers[sig].current = slot;
    if (r == 0 && old) {
        *old = was;
        if (known && is_trampoline(&was))
            *old = handlers[sig].copy[previous].act;
    }
    return r;
}

static const struct {
    int flag;
    const char *name;
} sa_flags[] = {
    {SA_NOCLDSTOP, "SA_NOCLDSTOP"}, {SA_NOCLDWAIT, "SA_NOCLDWAIT"},
    {SA_SIGINFO, "SA_SIGINFO"}, {SA_ONSTACK, "SA_ONSTACK"},
    {SA_RESTART, "SA_RESTART"}, {SA_NODEFER, "SA_NODEFER"},
    {SA_RESETHAND, "SA_RESETHAND"},
};

/* What a disposition is, in a word: SIG_IGN, SIG_DFL, or handler. */
static const char *disposition(const struct sigaction *a)
{
    if (!(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_IGN)
        return "SIG_IGN";
    if (!(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL)
        return "SIG_DFL";
    return "handler";
}

/* {handler, SA_RESTART} for people; "handler" and "flags" in the JSON. */
static void arg_action(struct event *e, const struct sigaction *a)
{
    const char *what = disposition(a);
    char buf[160];
    struct text f;
    int left = a->sa_flags;
    text_init(&f, buf, sizeof buf);
    for (size_t i = 0; i < sizeof sa_flags / sizeof sa_flags[0]; i++)
        if (left & sa_flags[i].flag) {
            put(&f, f.len ? "|" : "");
            put(&f, sa_flags[i].name);
            left &= ~sa_flags[i].flag;
        }
    arg_name(e, "handler");
    put(&e->hargs, "{");
    put(&e->hargs, what);
    put_quoted(&e->jargs, what, 1);
    put(&e->jargs, ",\"flags\":");
    if (a->sa_flags == 0) {
        put_int(&e->jargs, 0);
    } else {
        put(&e->hargs, ", ");
        if (left == 0) {
            put(&e->hargs, f.s);
            put_quoted(&e->jargs, f.s, 1);
        } else {
            put_int(&e->hargs, a->sa_flags);
            put_int(&e->jargs, a->sa_flags);
        }
    }
    put(&e->hargs, "}");
}

/* What the program's signal disposition is now, in a note. */
static void note_disposition(struct event *e, int sig,
                             const struct sigaction *a)
{
    struct text *n = note(e);
    put_signal_name(n, sig);
    if (!has_handler(a)) {
        put(n, a->sa_handler == SIG_IGN ? " is ignored from now on"
                                        : " has its default action again");
        return;
    }
    put(n, (a->sa_flags & SA_RESETHAND) ? " calls the handler once (then "
                                          "its default action is back)"
                                        : " calls the handler");
    put(n, (a->sa_flags & SA_RESTART)
               ? "; a call it interrupts is restarted (SA_RESTART)"
               : "; a call it interrupts fails with EINTR (no SA_RESTART)");
}

int lab_sigaction(int sig, const struct sigaction *act,
                  struct sigaction *oldact, const char *file, int line)
{
    if (!cfg.on)
        return sigaction(sig, act, oldact);
    struct event e;
    struct sigaction old;
    begin(&e, SIGACTION, file, line);
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, install(sig, act, oldact ? &old : NULL, file, line));
    }
    int readable = !(e.ret == -1 && e.err == EFAULT && !e.injected);
    arg_signal(&e, "sig", sig);
    if (!act) {
        arg_name(&e, "handler");
        put(&e.hargs, "NULL");
        put(&e.jargs, "null");
    } else if (!readable) {
        arg_name(&e, "handler");
        put_pointer(&e.hargs, act);
        put(&e.jargs, "null,\"pointer\":\"");
        put_pointer(&e.jargs, act);
        put(&e.jargs, "\"");
    } else {
        arg_action(&e, act);
    }
    put(&e.hargs, ", ");
    if (!oldact) {
        put(&e.hargs, "NULL");
        put(result_member(&e, "old"), "null");
    } else if (e.ret == 0 && !e.injected) {
        *oldact = old;
        put(&e.hargs, "{");
        put(&e.hargs, disposition(&old));
        put(&e.hargs, "}");
        put_quoted(result_member(&e, "old"), disposition(&old), 1);
    } else {
        put(&e.hargs, "oldact");
    }
    if (e.ret == 0 && act && readable)
        note_disposition(&e, sig, act);
    return (int)finish(&e);
}

void (*lab_signal(int sig, void (*handler)(int), int sysv, const char *file,
                  int line))(int)
{
    if (!cfg.on) {
#ifdef __GLIBC__
        if (sysv)
            return sysv_signal(sig, handler);
#endif
        return signal(sig, handler);
    }
    /* signal(2) as the C library makes it, with sigaction(2): BSD's
     * (glibc's default, musl's) restarts, System V's runs once. */
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (sysv) {
        act.sa_flags = SA_RESETHAND | SA_NODEFER;
    } else {
        act.sa_flags = SA_RESTART;
#ifdef __GLIBC__
        if (sig > 0 && sig < MAX_SIGNAL)
            sigaddset(&act.sa_mask, sig);
#endif
    }
    struct event e;
    begin(&e, SIGNAL_CALL, file, line);
    arg_signal(&e, "sig", sig);
    arg_sym(&e, "handler", disposition(&act));
    if (!injected_failure(&e)) {
        call_now(&e);
        returned(&e, install(sig, &act, &old, file, line));
    }
    void (*was)(int) = SIG_ERR;
    if (e.ret == 0) {
        was = (old.sa_flags & SA_SIGINFO)
                  ? (void (*)(int))(void (*)(void))old.sa_sigaction
                  : old.sa_handler;
        e.ret_name = disposition(&old);
        put_quoted(result_member(&e, "old"), e.ret_name, 1);
        note_disposition(&e, sig, &act);
    }
    finish(&e);
    return was;
}

/* A delivery, reported from the trampoline: "signal SIGCHLD delivered",
 * with who sent it, at the place the handler was installed. It takes no
 * part in runs. */
static void report_delivery(int sig, const siginfo_t *info,
                            const struct handler *h)
{
    struct event e;
    e.errno_in = errno;
    e.id = SIGNAL_CALL;
    e.call = "signal";
    e.file = h->file ? h->file : "?";
    e.line = h->line;
    e.kind = DELIVERY;
    e.ret = 0;
    e.err = 0;
    e.errno_out = e.errno_in;
    e.data = NULL;
    e.data_len = 0;
    e.key_kind = KEY_NONE;
    e.key = 0;
    e.fault = NULL;
    e.injected = 0;
    text_init(&e.hargs, e.hargs_buf, sizeof e.hargs_buf);
    text_init(&e.jargs, e.jargs_buf, sizeof e.jargs_buf);
    text_init(&e.note, e.note_buf, sizeof e.note_buf);
    text_init(&e.after, e.after_buf, sizeof e.after_buf);
    e.ret_name = NULL;
    e.nested = inside;
    e.pid = forked ? getpid() : cfg.pid;
    e.start_ns = now_ns();
    arg_signal(&e, "sig", sig);
    struct text *n = note(&e);
    int from_rule = raising;
    if (from_rule >= 0 && rules[from_rule].sig == sig) {
        e.injected = 1;
        put(n, "raised by LAB_FAULTS (");
        put(n, rules[from_rule].text);
        put(n, ") just before ");
        put(n, call_names[rules[from_rule].id]);
        put(n, "; ");
    } else if (info && sig == SIGCHLD && info->si_pid > 0) {
        put_int(result_member(&e, "pid"), info->si_pid);
        put(n, "child ");
        put_int(n, info->si_pid);
        if (info->si_code == CLD_EXITED) {
            put(n, " exited with status ");
            put_int(n, info->si_status);
        } else if (info->si_code == CLD_KILLED ||
                   info->si_code == CLD_DUMPED) {
            put(n, " was killed by ");
            put_signal_name(n, info->si_status);
        } else {
            put(n, " stopped or continued");
        }
        put(n, "; ");
    } else if (info && (info->si_code == SI_USER ||
                        info->si_code == SI_QUEUE) && info->si_pid > 0) {
        put_int(result_member(&e, "pid"), info->si_pid);
        put(n, "sent by process ");
        put_int(n, info->si_pid);
        put(n, "; ");
    }
    put(n, "the handler installed here runs now");
    emit(&e, 1, 1);
}

static void trampoline(int sig, siginfo_t *info, void *context)
{
    int saved = errno;
    struct handler h = {.file = NULL, .line = 0};
    memset(&h.act, 0, sizeof h.act);
    if (sig > 0 && sig < MAX_SIGNAL)
        h = handlers[sig].copy[handlers[sig].current];
    if (cfg.emitting)
        report_delivery(sig, info, &h);
    errno = saved;
    if (h.act.sa_flags & SA_SIGINFO)
        h.act.sa_sigaction(sig, info, context);
    else if (h.act.sa_handler != SIG_IGN && h.act.sa_handler != SIG_DFL)
        h.act.sa_handler(sig);
}
