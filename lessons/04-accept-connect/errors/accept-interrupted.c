/*
 * accept-interrupted.c - a signal arrives while accept() waits.
 *
 * The signal's handler runs, and then the waiting call either fails with
 * EINTR (handler installed without SA_RESTART) or goes back to waiting
 * (with SA_RESTART), see signal(7). A server that treats every accept
 * failure as fatal dies of the first harmless signal (SIGCHLD from a child,
 * SIGWINCH from the terminal...) unless it retries on EINTR.
 *
 * A peer process sends SIGUSR1 once the server is asleep in accept: it
 * watches the server's state in /proc/PID/stat (Linux), since no message
 * can be sent from inside a blocked call (signal_when_asleep() in
 * lessons/variant.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "../../variant.h"

#define PATH "lab.sock"

static volatile sig_atomic_t signals_caught;
static volatile sig_atomic_t tell_fd = -1; /* where the handler says so */

static void on_signal(int sig)
{
    (void)sig;
    signals_caught++;
    if (tell_fd >= 0) /* write(2) is async-signal-safe; tell() exits */
        (void)!write(tell_fd, "!", 1);
}

static void install_handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die("sigaction");
}

/* The peer: interrupts the server's first accept, and its second; once
 * the handler says it ran, connects, so the restarted accept has a client. */
static void peer(pid_t server, int server_ready, const struct sockaddr_un *addr)
{
    for (int round = 0; round < 2; round++) {
        await(server_ready);
        signal_when_asleep(server, SIGUSR1);
    }
    await(server_ready); /* from the handler: accept is restarting */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket");
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die("connect");
    close(fd);
    exit(EXIT_SUCCESS);
}

int main(void)
{
    struct sockaddr_un addr = unix_address(PATH);
    int ready[2];

    watchdog();
    if (pipe(ready) == -1)
        die("pipe");

    /* The server's steps 1 to 3. */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listener == -1)
        die("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1)
        die("bind");
    if (listen(listener, 5) == -1)
        die("listen");

    pid_t server = getpid();
    pid_t client = fork_peer("client");
    if (client == 0)
        peer(server, ready[0], &addr);

    /* Step 4: accept, with a handler installed without SA_RESTART. */
    install_handler(0);
    tell(ready[1]);
    int conn = accept(listener, NULL, NULL);
    if (conn == -1)
        perror("accept without SA_RESTART");
    printf("without SA_RESTART: %d signal caught, accept returned %d\n",
           (int)signals_caught, conn);

    /* Step 4 again, now with SA_RESTART: the same signal does not end
     * the call, which waits on until the client connects. */
    signals_caught = 0;
    tell_fd = ready[1];
    install_handler(SA_RESTART);
    tell(ready[1]);
    conn = accept(listener, NULL, NULL);
    if (conn == -1)
        die("accept with SA_RESTART");
    close(conn);
    printf("with SA_RESTART: %d signal caught, accept returned %d\n",
           (int)signals_caught, conn);

    close(listener);
    unlink(PATH);
    end_of_peer(client);
    return EXIT_SUCCESS;
}
