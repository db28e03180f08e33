/*
 * trace.c - the instrumented trace of the lab's lifecycle calls.
 *
 * Each lab_xxx function makes the real call, then reports it: a line for a
 * person on stderr (unless LAB_TRACE=0) and, when LAB_TRACE_FILE is set, one
 * JSON object per line appended to that file. trace/TRACE.md documents both.
 * errno is preserved, so the program sees exactly what the real call did.
 */
#define _GNU_SOURCE
#define LAB_TRACE_IMPLEMENTATION
#include "lab_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- the errno table ------------------------------------------------- */

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

static const struct explanation *explain(const char *call, int errnum)
{
    size_t n = sizeof explanations / sizeof explanations[0];
    for (size_t i = 0; i < n; i++)
        if (explanations[i].errnum == errnum &&
            strcmp(explanations[i].call, call) == 0)
            return &explanations[i];
    for (size_t i = 0; i < n; i++)
        if (explanations[i].errnum == errnum &&
            strcmp(explanations[i].call, "*") == 0)
            return &explanations[i];
    return NULL;
}

/* ---- a small string builder ----------------------------------------- */

#define LINE_MAX_BYTES 4000 /* a JSON line stays below PIPE_BUF (4096) */

struct buf {
    char s[8192];
    size_t len;
};

static void put(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->len >= sizeof b->s - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, sizeof b->s - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
    if (b->len > sizeof b->s - 1)
        b->len = sizeof b->s - 1;
}

/* Bytes as a C string literal for people, or a JSON string for tools. */
static void put_escaped(struct buf *b, const void *data, size_t n, int json)
{
    const unsigned char *p = data;
    put(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            put(b, "\\%c", c);
        else if (c == '\n')
            put(b, "\\n");
        else if (c == '\t')
            put(b, "\\t");
        else if (c == '\r')
            put(b, "\\r");
        else if (c < 0x20 || c >= 0x7f)
            put(b, json ? "\\u%04x" : "\\x%02x", c);
        else
            put(b, "%c", c);
    }
    put(b, "\"");
}

static void put_str(struct buf *b, const char *s, int json)
{
    put_escaped(b, s, strlen(s), json);
}

/* ---- configuration, read from the environment at each event ---------- */

static int human_enabled(void)
{
    const char *v = getenv("LAB_TRACE");
    return !(v && strcmp(v, "0") == 0);
}

static int use_colour(void)
{
    return isatty(STDERR_FILENO) && getenv("NO_COLOR") == NULL;
}

/* The role names the process in the trace: LAB_ROLE, or the program name. */
static const char *role(void)
{
    const char *r = getenv("LAB_ROLE");
    return (r && *r) ? r : program_invocation_short_name;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void write_all_raw(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/*
 * The JSON file is opened once, when the program starts (so a program that
 * later gives up its privileges, or changes directory, still reaches it). A
 * forked child writes through the descriptor it inherited: every line is
 * one write(2) in O_APPEND mode, so lines of parent and child never mix.
 */
static int json_fd = -1;

static int json_file(void)
{
    const char *path = getenv("LAB_TRACE_FILE");
    if (!path || !*path)
        return -1;
    if (json_fd >= 0 && fcntl(json_fd, F_GETFD) != -1)
        return json_fd;
    json_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (json_fd >= 0) {
        /* Move out of the way, so the program's fds are the ones it would
         * get untraced (the next socket is still fd 4, not 5). */
        int high = fcntl(json_fd, F_DUPFD_CLOEXEC, 200);
        if (high >= 0) {
            (void)close(json_fd);
            json_fd = high;
        }
    }
    if (json_fd < 0) {
        char msg[512];
        int n = snprintf(msg, sizeof msg,
                         "lab trace: cannot open LAB_TRACE_FILE %s: %s\n",
                         path, strerror(errno));
        write_all_raw(STDERR_FILENO, msg, (size_t)n);
        unsetenv("LAB_TRACE_FILE");
    }
    return json_fd;
}

static void open_json_file_at_start(void) __attribute__((constructor));
static void open_json_file_at_start(void)
{
    int saved = errno;
    (void)json_file();
    errno = saved;
}

/* ---- one event -------------------------------------------------------- */

struct event {
    const char *call;
    const char *file;
    int line;
    int waiting;          /* 1: the call is about to block; no result yet */
    long long start_ns;   /* when the call was entered, for blocked calls */
    long long ret;
    int err;              /* errno when ret == -1 */
    /* arguments, already rendered: for people and for JSON */
    struct buf human_args, json_args;
    const void *data;     /* bytes read or written, for the preview */
    size_t data_len;
    char note[512];       /* a few words on a key moment */
};

static void event_init(struct event *e, const char *call, const char *file,
                       int line)
{
    memset(e, 0, sizeof *e);
    e->call = call;
    e->file = file;
    e->line = line;
    e->start_ns = now_ns();
}

/* Adds an argument: its C rendering for people, and a JSON member. */
static void arg_int(struct event *e, const char *name, long long v)
{
    put(&e->human_args, "%s%lld", e->human_args.len ? ", " : "", v);
    put(&e->json_args, "%s\"%s\":%lld", e->json_args.len ? "," : "", name, v);
}

static void arg_sym(struct event *e, const char *name, const char *sym)
{
    put(&e->human_args, "%s%s", e->human_args.len ? ", " : "", sym);
    put(&e->json_args, "%s\"%s\":", e->json_args.len ? "," : "", name);
    put_str(&e->json_args, sym, 1);
}

static void arg_text(struct event *e, const char *name, const char *human,
                     const char *json_value)
{
    put(&e->human_args, "%s%s", e->human_args.len ? ", " : "", human);
    put(&e->json_args, "%s\"%s\":%s", e->json_args.len ? "," : "", name,
        json_value);
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
    char s[96];
    const char *base;
    switch (t & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
    case SOCK_STREAM: base = "SOCK_STREAM"; break;
    case SOCK_DGRAM: base = "SOCK_DGRAM"; break;
    case SOCK_SEQPACKET: base = "SOCK_SEQPACKET"; break;
    case SOCK_RAW: base = "SOCK_RAW"; break;
    default: base = NULL;
    }
    if (!base) {
        arg_int(e, "type", t);
        return;
    }
    snprintf(s, sizeof s, "%s%s%s", base,
             (t & SOCK_NONBLOCK) ? "|SOCK_NONBLOCK" : "",
             (t & SOCK_CLOEXEC) ? "|SOCK_CLOEXEC" : "");
    arg_sym(e, "type", s);
}

/*
 * A struct sockaddr_un, decoded as far as len says it is valid. The
 * pointer is read only when the call did not fail with EFAULT.
 */
static void arg_addr(struct event *e, const struct sockaddr *addr,
                     socklen_t len, int readable)
{
    struct buf h = {{0}, 0}, j = {{0}, 0};
    size_t path_off = offsetof(struct sockaddr_un, sun_path);
    if (!addr || !readable) {
        put(&h, addr ? "%p" : "NULL", (const void *)addr);
        put(&j, "null");
    } else if (len < sizeof(sa_family_t)) {
        put(&h, "{?}");
        put(&j, "{\"family\":null}");
    } else if (addr->sa_family != AF_UNIX) {
        const char *n = domain_name(addr->sa_family);
        if (n) {
            put(&h, "{%s, ...}", n);
            put(&j, "{\"family\":\"%s\"}", n);
        } else {
            put(&h, "{family=%d, ...}", addr->sa_family);
            put(&j, "{\"family\":%d}", addr->sa_family);
        }
    } else {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        size_t avail = len > path_off ? len - path_off : 0;
        if (avail > sizeof un->sun_path)
            avail = sizeof un->sun_path; /* never read past the struct */
        if (avail > 0 && un->sun_path[0] == '\0') {
            put(&h, "{AF_UNIX, @");
            put_escaped(&h, un->sun_path + 1, avail - 1, 0);
            put(&h, "}");
            put(&j, "{\"family\":\"AF_UNIX\",\"abstract\":");
            put_escaped(&j, un->sun_path + 1, avail - 1, 1);
            put(&j, "}");
        } else {
            size_t n = strnlen(un->sun_path, avail);
            put(&h, "{AF_UNIX, ");
            put_escaped(&h, un->sun_path, n, 0);
            put(&h, "}");
            put(&j, "{\"family\":\"AF_UNIX\",\"path\":");
            put_escaped(&j, un->sun_path, n, 1);
            put(&j, "}");
        }
    }
    arg_text(e, "addr", h.s, j.s);
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
    size_t used = strlen(e->note);
    snprintf(e->note + used, sizeof e->note - used,
             "%sthe length %u ends inside sun_path: the name is only its "
             "first %zu bytes (with sizeof(struct sockaddr) a longer path "
             "is cut; pass sizeof(struct sockaddr_un))",
             used ? "; " : "", (unsigned)len, avail);
}

/* ---- per-fd memory: which path each socket was bound to -------------- */

enum { MAX_BOUND = 64 };
static struct {
    int fd;
    pid_t pid;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
} bound[MAX_BOUND];

static void remember_bound(int fd, const char *path)
{
    for (int i = 0; i < MAX_BOUND; i++)
        if (bound[i].path[0] == '\0' || (bound[i].fd == fd &&
                                         bound[i].pid == getpid())) {
            bound[i].fd = fd;
            bound[i].pid = getpid();
            snprintf(bound[i].path, sizeof bound[i].path, "%s", path);
            return;
        }
}

static const char *bound_path(int fd, int forget)
{
    static char copy[sizeof bound[0].path];
    for (int i = 0; i < MAX_BOUND; i++)
        if (bound[i].path[0] && bound[i].fd == fd &&
            bound[i].pid == getpid()) {
            memcpy(copy, bound[i].path, sizeof copy);
            if (forget)
                bound[i].path[0] = '\0';
            return copy;
        }
    return NULL;
}

/* ---- rendering and emitting ----------------------------------------- */

static const char *colour(const char *code)
{
    return use_colour() ? code : "";
}

static const char *role_colour(void)
{
    const char *r = role();
    if (strcmp(r, "server") == 0)
        return colour("\033[36m");
    if (strcmp(r, "client") == 0)
        return colour("\033[35m");
    return colour("\033[33m");
}

static void emit(struct event *e)
{
    int saved = errno;
    long long ts = now_ns();
    const struct explanation *x =
        (!e->waiting && e->ret == -1) ? explain(e->call, e->err) : NULL;
    const char *ename = (!e->waiting && e->ret == -1)
                            ? strerrorname_np(e->err) : NULL;

    if (human_enabled()) {
        struct buf h = {{0}, 0};
        const char *reset = colour("\033[0m"), *dim = colour("\033[2m");
        char tag[96];
        snprintf(tag, sizeof tag, "%s[%s %d]%s ", role_colour(), role(),
                 (int)getpid(), reset);
        put(&h, "%s%s(%s", tag, e->call, e->human_args.s);
        if (e->waiting) {
            put(&h, ") ... %swaiting%s", colour("\033[1m"), reset);
        } else if (e->ret == -1) {
            put(&h, ") = -1 %s%s (%s)%s", colour("\033[1;31m"),
                ename ? ename : "?", strerror(e->err), reset);
        } else {
            put(&h, ") = %lld", e->ret);
            if (e->data && e->data_len > 0) {
                put(&h, "  ");
                put_escaped(&h, e->data, e->data_len > 40 ? 40 : e->data_len,
                            0);
                if (e->data_len > 40)
                    put(&h, "...");
            }
        }
        put(&h, "  %s%s:%d%s\n", dim, e->file, e->line, reset);
        if (e->note[0])
            put(&h, "%s    -> %s%s\n", colour("\033[32m"), e->note, reset);
        if (!e->waiting && e->ret == -1) {
            if (x) {
                put(&h, "    why: %s\n", x->why);
                put(&h, "    fix: %s\n", x->fix);
                put(&h, "    see: %s\n", x->see);
            } else {
                put(&h, "    see: the ERRORS section of %s(2)\n", e->call);
            }
        }
        write_all_raw(STDERR_FILENO, h.s, h.len);
    }

    int jfd = json_file();
    if (jfd >= 0) {
        struct buf j = {{0}, 0};
        put(&j, "{\"ts\":%lld,\"pid\":%d,\"role\":", ts, (int)getpid());
        put_str(&j, role(), 1);
        put(&j, ",\"event\":\"%s\",\"call\":\"%s\",\"args\":{%s}",
            e->waiting ? "wait" : "return", e->call, e->json_args.s);
        if (e->waiting)
            put(&j, ",\"ret\":null,\"errno\":null");
        else if (e->ret == -1)
            put(&j, ",\"ret\":-1,\"errno\":\"%s\",\"error\":\"%s\"",
                ename ? ename : "?", strerror(e->err));
        else
            put(&j, ",\"ret\":%lld,\"errno\":null", e->ret);
        if (!e->waiting)
            put(&j, ",\"start\":%lld", e->start_ns);
        if (e->data && e->data_len > 0) {
            put(&j, ",\"data\":");
            put_escaped(&j, e->data, e->data_len > 64 ? 64 : e->data_len, 1);
        }
        if (e->note[0]) {
            put(&j, ",\"note\":");
            put_str(&j, e->note, 1);
        }
        put(&j, ",\"file\":");
        put_str(&j, e->file, 1);
        put(&j, ",\"line\":%d", e->line);
        size_t before_explain = j.len;
        if (x) {
            put(&j, ",\"explain\":{\"why\":");
            put_str(&j, x->why, 1);
            put(&j, ",\"fix\":");
            put_str(&j, x->fix, 1);
            put(&j, ",\"see\":");
            put_str(&j, x->see, 1);
            put(&j, "}");
        }
        if (j.len + 2 > LINE_MAX_BYTES)
            j.len = before_explain; /* keep every line one atomic write */
        j.s[j.len] = '\0';
        put(&j, "}\n");
        write_all_raw(jfd, j.s, j.len);
    }
    errno = saved;
}

static void finish(struct event *e, long long ret, int err)
{
    e->waiting = 0;
    e->ret = ret;
    e->err = ret == -1 ? err : 0;
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
    if (fstat(fd, &st) == -1)
        return 1;
    return S_ISSOCK(st.st_mode);
}

/* Would a blocking call on fd have to wait for `events` right now? */
static int would_block(int fd, short events, int flags)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || (fl & O_NONBLOCK) || (flags & MSG_DONTWAIT))
        return 0;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    return poll(&p, 1, 0) == 0;
}

static void announce_wait(struct event *e, int fd, short events, int flags,
                          const char *what)
{
    if (!would_block(fd, events, flags))
        return;
    e->waiting = 1;
    snprintf(e->note, sizeof e->note, "%s", what);
    emit(e);
    e->note[0] = '\0';
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
    struct event e;
    event_init(&e, "socket", file, line);
    arg_domain(&e, domain);
    arg_type(&e, type);
    arg_int(&e, "protocol", protocol);
    int r = socket(domain, type, protocol);
    finish(&e, r, errno);
    if (r >= 0)
        snprintf(e.note, sizeof e.note,
                 "new socket, fd %d: an endpoint with no address yet", r);
    emit(&e);
    return r;
}

int lab_socketpair(int domain, int type, int protocol, int sv[2],
                   const char *file, int line)
{
    struct event e;
    event_init(&e, "socketpair", file, line);
    arg_domain(&e, domain);
    arg_type(&e, type);
    arg_int(&e, "protocol", protocol);
    int r = socketpair(domain, type, protocol, sv);
    finish(&e, r, errno);
    if (r == 0)
        snprintf(e.note, sizeof e.note,
                 "a connected pair: fd %d <-> fd %d", sv[0], sv[1]);
    emit(&e);
    return r;
}

int lab_bind(int fd, const struct sockaddr *addr, socklen_t len,
             const char *file, int line)
{
    struct event e;
    event_init(&e, "bind", file, line);
    int r = bind(fd, addr, len);
    int err = errno;
    arg_int(&e, "fd", fd);
    arg_addr(&e, addr, len, !(r == -1 && err == EFAULT));
    arg_int(&e, "addrlen", (long long)len);
    finish(&e, r, err);
    if (r == 0) {
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
            remember_bound(fd, path);
            int is_sock = stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
            snprintf(e.note, sizeof e.note,
                     "socket file \"%s\" created%s", path,
                     is_sock ? " (ls -l shows type s)" : "");
            put(&e.json_args, ",\"bound\":");
            put_str(&e.json_args, path, 1);
        } else if (gl > offsetof(struct sockaddr_un, sun_path)) {
            snprintf(e.note, sizeof e.note,
                     "abstract address: no file is created");
        }
    }
    if (!(r == -1 && err == EFAULT))
        note_cut_path(&e, addr, len);
    emit(&e);
    errno = err;
    return r;
}

int lab_listen(int fd, int backlog, const char *file, int line)
{
    struct event e;
    event_init(&e, "listen", file, line);
    arg_int(&e, "fd", fd);
    arg_int(&e, "backlog", backlog);
    int r = listen(fd, backlog);
    finish(&e, r, errno);
    if (r == 0)
        snprintf(e.note, sizeof e.note,
                 "fd %d is now passive (listening): connections queue in "
                 "its backlog until accepted (Linux admits %d + 1)", fd,
                 backlog);
    emit(&e);
    return r;
}

int lab_accept(int fd, struct sockaddr *addr, socklen_t *len,
               const char *file, int line)
{
    struct event e;
    event_init(&e, "accept", file, line);
    arg_int(&e, "fd", fd);
    if (is_listening(fd))
        announce_wait(&e, fd, POLLIN, 0, "waiting for a client to connect");
    int r = accept(fd, addr, len);
    finish(&e, r, errno);
    if (r >= 0)
        snprintf(e.note, sizeof e.note,
                 "new connected socket fd %d for this client; "
                 "listening fd %d stays open for the next one", r, fd);
    emit(&e);
    return r;
}

int lab_connect(int fd, const struct sockaddr *addr, socklen_t len,
                const char *file, int line)
{
    struct event e;
    event_init(&e, "connect", file, line);
    int r = connect(fd, addr, len);
    int err = errno;
    arg_int(&e, "fd", fd);
    arg_addr(&e, addr, len, !(r == -1 && err == EFAULT));
    arg_int(&e, "addrlen", (long long)len);
    finish(&e, r, err);
    if (r == 0)
        snprintf(e.note, sizeof e.note,
                 "connected: the server's accept can now take this connection");
    if (!(r == -1 && err == EFAULT))
        note_cut_path(&e, addr, len);
    emit(&e);
    errno = err;
    return r;
}

static ssize_t traced_io(const char *call, int fd, void *buf, size_t count,
                         int flags, int has_flags, int reading,
                         const char *file, int line)
{
    struct event e;
    event_init(&e, call, file, line);
    arg_int(&e, "fd", fd);
    put(&e.human_args, ", buf"); /* the bytes themselves follow the result */
    arg_int(&e, "count", (long long)count);
    if (has_flags) {
        if (flags == 0)
            arg_int(&e, "flags", 0);
        else {
            char s[96];
            snprintf(s, sizeof s, "%s%s%s",
                     (flags & MSG_NOSIGNAL) ? "MSG_NOSIGNAL|" : "",
                     (flags & MSG_DONTWAIT) ? "MSG_DONTWAIT|" : "",
                     (flags & MSG_PEEK) ? "MSG_PEEK|" : "");
            size_t n = strlen(s);
            if (n > 0 && (flags & ~(MSG_NOSIGNAL | MSG_DONTWAIT |
                                    MSG_PEEK)) == 0) {
                s[n - 1] = '\0';
                arg_sym(&e, "flags", s);
            } else {
                arg_int(&e, "flags", flags);
            }
        }
    }
    /* Only reads are announced: poll(2) calls an AF_UNIX stream socket
     * writable only while under a quarter of its send buffer is in use, so
     * it cannot tell whether a write would block, and often says it would
     * when it would not. */
    if (reading)
        announce_wait(&e, fd, POLLIN, flags, "waiting for data");
    ssize_t r;
    if (reading)
        r = has_flags ? recv(fd, buf, count, flags) : read(fd, buf, count);
    else
        r = has_flags ? send(fd, buf, count, flags) : write(fd, buf, count);
    finish(&e, r, errno);
    if (r > 0) {
        e.data = buf;
        e.data_len = (size_t)r;
        if (!reading && (size_t)r < count) /* a short read is normal */
            snprintf(e.note, sizeof e.note,
                     "short write: only %zd of %zu bytes sent", r, count);
    } else if (r == 0 && reading && count > 0) {
        snprintf(e.note, sizeof e.note,
                 "end of file: the peer closed its end (or shut down writing)");
    }
    emit(&e);
    return r;
}

ssize_t lab_read(int fd, void *buf, size_t count, const char *file, int line)
{
    if (!traced_fd(fd))
        return read(fd, buf, count);
    return traced_io("read", fd, buf, count, 0, 0, 1, file, line);
}

ssize_t lab_write(int fd, const void *buf, size_t count, const char *file,
                  int line)
{
    if (!traced_fd(fd))
        return write(fd, buf, count);
    return traced_io("write", fd, (void *)buf, count, 0, 0, 0, file, line);
}

ssize_t lab_recv(int fd, void *buf, size_t count, int flags,
                 const char *file, int line)
{
    return traced_io("recv", fd, buf, count, flags, 1, 1, file, line);
}

ssize_t lab_send(int fd, const void *buf, size_t count, int flags,
                 const char *file, int line)
{
    return traced_io("send", fd, (void *)buf, count, flags, 1, 0, file,
                     line);
}

int lab_shutdown(int fd, int how, const char *file, int line)
{
    struct event e;
    event_init(&e, "shutdown", file, line);
    arg_int(&e, "fd", fd);
    switch (how) {
    case SHUT_RD: arg_sym(&e, "how", "SHUT_RD"); break;
    case SHUT_WR: arg_sym(&e, "how", "SHUT_WR"); break;
    case SHUT_RDWR: arg_sym(&e, "how", "SHUT_RDWR"); break;
    default: arg_int(&e, "how", how);
    }
    int r = shutdown(fd, how);
    finish(&e, r, errno);
    if (r == 0 && how != SHUT_RD)
        snprintf(e.note, sizeof e.note,
                 "no more writing on fd %d: the peer's read will return 0 "
                 "once it has read what was sent", fd);
    emit(&e);
    return r;
}

int lab_close(int fd, const char *file, int line)
{
    if (!traced_fd(fd))
        return close(fd);
    struct event e;
    event_init(&e, "close", file, line);
    arg_int(&e, "fd", fd);
    int listening = is_socket(fd) && is_listening(fd);
    const char *path = bound_path(fd, 1);
    int r = close(fd);
    finish(&e, r, errno);
    if (r == 0 && path)
        snprintf(e.note, sizeof e.note,
                 "%s socket closed; its file \"%s\" stays until unlink(2)",
                 listening ? "listening" : "bound", path);
    else if (r == 0 && listening)
        snprintf(e.note, sizeof e.note, "listening socket closed");
    emit(&e);
    return r;
}

int lab_unlink(const char *path, const char *file, int line)
{
    struct event e;
    struct stat st;
    event_init(&e, "unlink", file, line);
    int was_socket = path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
    int r = unlink(path);
    int err = errno;
    struct buf h = {{0}, 0}, j = {{0}, 0};
    if (path && !(r == -1 && err == EFAULT)) {
        put_str(&h, path, 0);
        put_str(&j, path, 1);
    } else {
        put(&h, "%p", (const void *)path);
        put(&j, "null");
    }
    arg_text(&e, "path", h.s, j.s);
    finish(&e, r, err);
    if (r == 0 && was_socket)
        snprintf(e.note, sizeof e.note, "socket file removed");
    emit(&e);
    errno = err;
    return r;
}

static void describe_status(char *out, size_t n, int status)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "killed by signal SIG%s",
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status))
                                                : "?");
    else
        snprintf(out, n, "stopped or continued (status 0x%x)", status);
}

pid_t lab_waitpid(pid_t pid, int *status, int options, const char *file,
                  int line)
{
    struct event e;
    int st = 0;
    event_init(&e, "waitpid", file, line);
    arg_int(&e, "pid", pid);
    if (!(options & WNOHANG) && pid > 0) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0
            && info.si_pid == 0) {
            e.waiting = 1;
            snprintf(e.note, sizeof e.note, "waiting for child %d to end",
                     (int)pid);
            emit(&e);
            e.note[0] = '\0';
        }
    }
    pid_t r = waitpid(pid, &st, options);
    finish(&e, r, errno);
    if (r > 0) {
        char what[96];
        describe_status(what, sizeof what, st);
        snprintf(e.note, sizeof e.note, "child %d %s", (int)r, what);
        if (WIFSIGNALED(st))
            put(&e.json_args, ",\"signal\":\"SIG%s\"",
                sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
        else if (WIFEXITED(st))
            put(&e.json_args, ",\"exit_status\":%d", WEXITSTATUS(st));
    }
    emit(&e);
    if (status)
        *status = st;
    return r;
}
