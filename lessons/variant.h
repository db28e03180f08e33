/*
 * variant.h - the few helpers every deliberate-error variant shares.
 *
 * A variant (lessons/NN-name/errors/NAME.c) sets up a situation, makes one
 * mistake on purpose, and lets the lab's trace show what the kernel said.
 * These helpers do the setting up, so each variant shows only its mistake:
 *
 *   die(what)            setup failed: say why, exit with status 2 (and
 *                        end the other processes of the variant too)
 *   watchdog()           no variant may hang: SIGALRM ends it after 5 s
 *   must_be_absent(path) setup failed if path is there already
 *   unix_address(path)   a struct sockaddr_un for path (which must fit)
 *   fork_peer(role)      fork a peer process, named role in the trace
 *   tell(fd) / await(fd) one byte through a pipe: "I am ready" / wait for it
 *   end_of_peer(pid)     wait for the peer, which must exit with status 0
 *   signal_when_asleep(pid, sig)  send sig once pid waits in a blocking call
 *   process_state(pid)   'R', 'S', 'Z' (a zombie)... from /proc; 0: gone
 *   ordinary_user()      as root, become the unprivileged user "nobody"
 *   mount_read_only(dir) a read-only file system on dir, without root
 *   own_abstract_names() a network namespace of its own, for abstract names
 *
 * A variant exits with status 0 when it made its mistake and reported it:
 * the outcome itself is in the trace, which `make errors` checks against
 * lessons/errors.json. Status 2 means the situation could not be set up.
 *
 * A variant leaves alone what it did not make: each name it creates (or
 * expects to find missing) must not be there yet, or it gives up with
 * status 2, so it never removes, replaces or connects to a file of its
 * user's. It removes only what it made in this run. And a setup failure
 * ends every process of the variant at once, the one that failed with
 * status 2 and the others (its parent, its peers) with status 2 too: none
 * waits for its watchdog.
 */
#ifndef LAB_VARIANT_H
#define LAB_VARIANT_H

/* POSIX.1-2008 is all the helpers use. A variant defines the same at its
 * own top, before its first #include, so that it builds outside the lab
 * too (cc -std=c11 NAME.c). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Linux namespaces (namespaces(7)). The C libraries declare unshare(2) and
 * its flags only for _GNU_SOURCE, and the lab builds for plain POSIX.
 */
#ifndef CLONE_NEWNS
#define CLONE_NEWNS 0x00020000
#endif
#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif
int unshare(int flags);

#define WATCHDOG_SECONDS 5
#define NOBODY_UID 65534 /* the unprivileged user of Debian and Fedora */

/*
 * The processes of one variant: the peers this process forked
 * (fork_peer), and the process that forked this one. A process that gives
 * up sends the others GIVE_UP_SIGNAL, which ends them with status 2 at
 * once, wherever they wait. The calls here are written (kill)(...) and
 * (sigaction)(...): the parentheses keep the trace's macros out, so the
 * plumbing never shows in the trace.
 */
#define GIVE_UP_SIGNAL SIGUSR2
#define MAX_PEERS 16
static pid_t variant_peers[MAX_PEERS];
static int variant_peer_count;
static pid_t variant_parent; /* 0: this process was not forked by one */

/* Ends the others (all but except), once: a peer that is still running
 * (waitpid WNOHANG: not one that has ended), and the process that forked
 * this one while it is still this one's parent. Async-signal-safe. */
static inline void tell_the_others(pid_t except)
{
    int saved = errno;
    for (int i = 0; i < variant_peer_count; i++)
        if (variant_peers[i] != except &&
            (waitpid)(variant_peers[i], NULL, WNOHANG) == 0)
            (void)(kill)(variant_peers[i], GIVE_UP_SIGNAL);
    variant_peer_count = 0;
    if (variant_parent != 0 && variant_parent != except &&
        getppid() == variant_parent)
        (void)(kill)(variant_parent, GIVE_UP_SIGNAL);
    variant_parent = 0;
    errno = saved;
}

static inline void other_gave_up(int sig, siginfo_t *info, void *context)
{
    static const char message[] =
        "setup failed: another process of this variant gave up\n";
    (void)sig;
    (void)context;
    if ((write)(STDERR_FILENO, message, sizeof message - 1) < 0) {
        /* nothing more can be said */
    }
    tell_the_others(info->si_pid);
    _exit(2);
}

static inline void die(const char *what)
{
    fprintf(stderr, "setup failed: %s: %s\n", what, strerror(errno));
    tell_the_others(0);
    exit(2);
}

/* A name the variant is about to create, or expects to find missing, that
 * is there already is someone else's: it is left alone, and the variant
 * gives up. (lstat: a dangling symbolic link is there too.) */
static inline void must_be_absent(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        errno = EEXIST;
        die(path);
    }
    if (errno != ENOENT)
        die(path);
}

/* A blocked call that nothing wakes would wait forever: SIGALRM ends it. */
static inline void watchdog(void)
{
    alarm(WATCHDOG_SECONDS);
}

static inline struct sockaddr_un unix_address(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        die(path);
    }
    strcpy(addr.sun_path, path);
    return addr;
}

/* Returns 0 in the peer, its pid in the parent. A forked child's trace
 * reads LAB_ROLE again at its first call, so the peer's calls are shown
 * under its own name. */
static inline pid_t fork_peer(const char *role)
{
    struct sigaction give_up;
    memset(&give_up, 0, sizeof give_up);
    give_up.sa_sigaction = other_gave_up;
    give_up.sa_flags = SA_SIGINFO;
    sigemptyset(&give_up.sa_mask);
    if ((sigaction)(GIVE_UP_SIGNAL, &give_up, NULL) == -1)
        die("sigaction");
    if (variant_peer_count == MAX_PEERS) {
        errno = EAGAIN;
        die("fork: too many peers");
    }
    fflush(NULL); /* or buffered output would be printed twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        /* The peer's others are the process that forked it. */
        variant_peer_count = 0;
        variant_parent = parent;
        if (setenv("LAB_ROLE", role, 1) == -1)
            die("setenv");
        watchdog(); /* alarms are not inherited across fork */
    } else {
        variant_peers[variant_peer_count++] = pid;
    }
    return pid;
}

static inline void tell(int fd)
{
    if (write(fd, "!", 1) != 1)
        die("write to the pipe");
}

static inline void await(int fd)
{
    char c;
    ssize_t n;
    while ((n = read(fd, &c, 1)) == -1 && errno == EINTR)
        continue;
    if (n != 1) {
        if (n == 0)
            errno = EPIPE;
        die("the other process ended before it was ready");
    }
}

static inline void end_of_peer(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) == -1)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = ECHILD;
        die("the peer process failed");
    }
}

/* Is process pid asleep ('S': waiting in the kernel)? Linux's /proc. */
static inline int asleep(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd == -1)
        die("open /proc/PID/stat");
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0)
        die("read /proc/PID/stat");
    stat[n] = '\0';
    const char *end_of_name = strrchr(stat, ')'); /* "pid (name) S ..." */
    return end_of_name != NULL && end_of_name[1] == ' ' &&
           end_of_name[2] == 'S';
}

/* The state of process pid, from /proc/PID/stat: 'R' (running), 'S'
 * (asleep), 'Z' (a zombie: it has ended, and its parent has not waited for
 * it yet)...; 0 once it has gone altogether (reaped). Linux's /proc. */
static inline char process_state(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY);
    if (fd == -1)
        return 0;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0)
        return 0;
    stat[n] = '\0';
    const char *end_of_name = strrchr(stat, ')'); /* "pid (name) S ..." */
    return end_of_name != NULL && end_of_name[1] == ' ' ? end_of_name[2]
                                                        : 0;
}

/*
 * Sends sig to pid once pid is asleep in the kernel. A process blocked in
 * a call cannot say so itself; the caller first waits for pid's word that
 * it is about to make the call (await), and then this sees it sleep.
 */
static inline void signal_when_asleep(pid_t pid, int sig)
{
    while (!asleep(pid))
        continue;
    if (kill(pid, sig) == -1)
        die("kill");
}

/*
 * Root may do what file permissions forbid, so a variant about permissions
 * runs as the unprivileged user "nobody" when it is started by root. The
 * lab's own directory (mode 0700) is out of nobody's reach, so the variant
 * then works in a fresh directory of /tmp that nobody owns; the returned
 * path is that directory (rmdir it at the end), or NULL when the variant
 * was not root and simply stays where it is.
 */
static char ordinary_dir[] = "/tmp/lab-nobody-XXXXXX";

static inline const char *ordinary_user(void)
{
    if (geteuid() != 0)
        return NULL;
    if (mkdtemp(ordinary_dir) == NULL)
        die("mkdtemp");
    if (chown(ordinary_dir, NOBODY_UID, NOBODY_UID) == -1)
        die("chown");
    /* The group first: once the uid is nobody, setgid is not allowed. */
    if (setgid(NOBODY_UID) == -1 || setuid(NOBODY_UID) == -1)
        die("dropping root privileges");
    if (chdir(ordinary_dir) == -1)
        die("chdir");
    printf("running as uid %d (nobody), an ordinary user, in %s\n",
           NOBODY_UID, ordinary_dir);
    return ordinary_dir;
}

/* Leaves the directory of ordinary_user(), and removes it (now empty). */
static inline void leave_ordinary_dir(const char *dir)
{
    if (dir == NULL)
        return;
    if (chdir("/") == -1 || rmdir(dir) == -1)
        die("removing the work directory");
}

/*
 * A read-only file system on the new directory dir, made without root: in
 * a user namespace of its own a process may mount a tmpfs
 * (user_namespaces(7)), which only it sees and which ends with it. Linux
 * only; a variant that uses this says "needs": "a user namespace" in
 * lessons/errors.json, and is not run where the kernel refuses one.
 */
static inline void mount_read_only(const char *dir)
{
    if (mkdir(dir, 0755) == -1)
        die("mkdir");
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == -1)
        die("unshare: a user namespace");
    if (mount("tmpfs", dir, "tmpfs", MS_RDONLY, NULL) == -1)
        die("mount");
}

static inline void unmount_read_only(const char *dir)
{
    if (umount(dir) == -1 || rmdir(dir) == -1)
        die("removing the read-only file system");
}

/*
 * Abstract names have no directory: every process of the machine (of its
 * network namespace, network_namespaces(7)) shares them, so a variant puts
 * its pid in its names. A name that cannot carry one is used in a network
 * namespace of the variant's own, where no other run can hold it: root may
 * make one, an ordinary user inside a user namespace. Where the kernel
 * refuses both, the variant says so and shares the machine's names.
 */
static inline void own_abstract_names(void)
{
    int flags = CLONE_NEWNET | (geteuid() == 0 ? 0 : CLONE_NEWUSER);
    if (unshare(flags) == -1)
        printf("no network namespace of our own (%s): the abstract names "
               "are the machine's\n", strerror(errno));
}

#endif
