/*
 * variant.h - the few helpers every deliberate-error variant shares.
 *
 * A variant (lessons/NN-name/errors/NAME.c) sets up a situation, makes one
 * mistake on purpose, and lets the lab's trace show what the kernel said.
 * These helpers do the setting up, so each variant shows only its mistake:
 *
 *   die(what)            setup failed: say why, exit with status 2
 *   watchdog()           no variant may hang: SIGALRM ends it after 5 s
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

static inline void die(const char *what)
{
    fprintf(stderr, "setup failed: %s: %s\n", what, strerror(errno));
    exit(2);
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
    fflush(NULL); /* or buffered output would be printed twice */
    pid_t pid = fork();
    if (pid == -1)
        die("fork");
    if (pid == 0) {
        if (setenv("LAB_ROLE", role, 1) == -1)
            die("setenv");
        watchdog(); /* alarms are not inherited across fork */
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
