"""What the lab's documents say about Linux, observed on the running kernel.

The READMEs, the catalogue of errors (lessons/errors.json) and the trace's
explanations (trace/explanations.def) state how Linux behaves where man
pages are vague or wrong, or other systems differ: the backlog, listen on
an unbound socket, abstract names, short writes, SIGPIPE, ECONNRESET, the
errors of paths and timeouts.  Each test here makes that happen, so a
kernel that behaves otherwise fails the suite instead of the text going
stale.  Python's socket module makes the same system calls as the lab's C;
ctypes reaches the few it does not.  Where root and an ordinary user get
different answers, a test observes both: run as root, it asks the user
nobody (uid 65534) too, in a child process.
"""
import ctypes
import errno
import json
import os
import re
import resource
import select
import signal
import socket
import stat
import struct
import tempfile
import time
from pathlib import Path

import pytest


import labrun


@pytest.fixture
def tmp():
    """A fresh directory in /tmp (short paths), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="lab-facts-", dir="/tmp") as d:
        yield Path(d)


def unix_socket(kind=socket.SOCK_STREAM):
    return socket.socket(socket.AF_UNIX, kind)


def listening(path, backlog=5):
    server = unix_socket()
    server.bind(str(path))
    server.listen(backlog)
    return server


def error_of(call, *args):
    try:
        call(*args)
    except OSError as e:
        return errno.errorcode.get(e.errno, e.errno)
    return None


LIBC = ctypes.CDLL(None, use_errno=True)
NOBODY = 65534
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_REMOUNT, MS_REC, MS_PRIVATE = 1, 32, 1 << 14, 1 << 18
PR_SET_DUMPABLE = 4


def libc_error(result):
    """The errno name of a libc call made through ctypes, or None."""
    if result == -1:
        return errno.errorcode[ctypes.get_errno()]
    return None


def in_child(fn, user="self"):
    """Runs fn() in a forked child and returns what it returned (anything
    json can carry).  user="nobody" runs it as the user nobody, when this
    is root; the child is ended after 10 s, whatever it does."""
    if user == "nobody" and os.geteuid() != 0:
        user = "self"  # an ordinary user already
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r)
            signal.alarm(10)
            if user == "nobody":
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                # Dumpable again, or /proc/self stays root's (proc(5)).
                LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            result = {"result": fn()}
        except BaseException as e:  # noqa: B902 - reported to the parent
            result = {"failed": repr(e)}
        try:
            os.write(w, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert data, f"the child ended without an answer (status {status})"
    answer = json.loads(data)
    assert "failed" not in answer, answer["failed"]
    return answer["result"]


def users():
    """Who a test asks: as root, root and nobody; otherwise this user."""
    return ["root", "nobody"] if os.geteuid() == 0 else ["self"]


def as_user(user, fn):
    """fn() in a child process, as user (one of users())."""
    return in_child(fn, "nobody" if user == "nobody" else "self")


@pytest.fixture
def shared_tmp():
    """A fresh directory in /tmp that the user nobody may write too."""
    with tempfile.TemporaryDirectory(prefix="lab-facts-", dir="/tmp") as d:
        os.chmod(d, 0o777)
        yield Path(d)


def unshared(flags):
    """unshare(2) in this (child) process; raises on failure."""
    if LIBC.unshare(flags) == -1:
        raise OSError(ctypes.get_errno(), "unshare")


def mount(source, target, fstype, flags):
    if LIBC.mount(source, str(target).encode(), fstype, flags, None) == -1:
        raise OSError(ctypes.get_errno(), f"mount {target}")


def user_namespace_or_skip():
    refused = labrun.user_namespace_refused()
    if refused:
        pytest.skip(refused)


# -- lesson 01 --------------------------------------------------------------

def test_socket_returns_the_lowest_free_descriptor():
    """01-socket, What this stage does and Your task: the kernel hands out
    the lowest free number, so with fd 3 already open (inherited, as
    `server 3</dev/null` leaves it) a program's socket returns 4."""
    def numbers():
        first, second = unix_socket(), unix_socket()
        low, high = first.fileno(), second.fileno()
        first.close()  # the lowest free number again
        again = unix_socket()
        taken = os.open(os.devnull, os.O_RDONLY)  # held, as an inherited fd
        second.close()
        after = unix_socket()
        return [low, high, again.fileno(), taken, after.fileno()]
    low, high, again, taken, after = in_child(numbers)
    assert high > low and again == low, (low, high, again)
    assert after == high and taken > high, (high, taken, after)


def test_an_unknown_domain_is_refused():
    """01-socket, Exercise: a domain the kernel does not know."""
    assert error_of(socket.socket, 12345, socket.SOCK_STREAM, 0) == \
        "EAFNOSUPPORT"


def test_a_unix_socket_takes_protocol_0_or_pf_unix_only():
    """01-socket, What this stage does and socket-bad-protocol: 0 is the
    default protocol, Linux also accepts PF_UNIX (1), and refuses the
    rest (6 is IPPROTO_TCP)."""
    pf_unix = 1  # <sys/socket.h>: PF_UNIX, the same number as AF_UNIX
    for protocol in (0, pf_unix):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, protocol):
            pass
    for protocol in (2, 6):
        assert error_of(socket.socket, socket.AF_UNIX, socket.SOCK_STREAM,
                        protocol) == "EPROTONOSUPPORT"


# -- lesson 02 --------------------------------------------------------------

def test_the_socket_file_mode_follows_the_umask(tmp):
    """02-bind, What this stage does and Exercise: all bits minus umask."""
    old = os.umask(0o077)
    try:
        with unix_socket() as s:
            s.bind(str(tmp / "p.sock"))
    finally:
        os.umask(old)
    mode = os.lstat(tmp / "p.sock").st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o700


def test_bind_through_a_file_is_enotdir(tmp):
    """02-bind, Bad paths: a part of the path is not a directory."""
    (tmp / "notes.txt").write_text("x\n")
    with unix_socket() as s:
        assert error_of(s.bind, str(tmp / "notes.txt" / "lab.sock")) == \
            "ENOTDIR"


def test_bind_in_a_read_only_directory_is_eacces_except_for_root(tmp):
    """02-bind, Bad paths and Exercise: EACCES, but root is not refused."""
    locked = tmp / "locked"
    locked.mkdir(mode=0o555)
    try:
        with unix_socket() as s:
            got = error_of(s.bind, str(locked / "lab.sock"))
    finally:
        locked.chmod(0o755)
    assert got == (None if os.geteuid() == 0 else "EACCES")


def test_an_abstract_name_creates_no_file(tmp):
    """02-bind, What this stage does: Linux abstract names."""
    name = f"lab-facts-{os.getpid()}-{time.monotonic_ns()}"
    here = os.getcwd()
    os.chdir(tmp)  # where a file named after the socket would appear
    try:
        with unix_socket() as s:
            s.bind("\0" + name)
            s.listen(1)
            table = Path("/proc/net/unix").read_text().split()
            assert f"@{name}" in table and not os.listdir(tmp)
    finally:
        os.chdir(here)
    assert f"@{name}" not in Path("/proc/net/unix").read_text().split()


def test_the_address_length_is_110(tmp):
    """02-bind, What this stage does: 2 bytes of family, 108 of sun_path."""
    with labrun.Lab(labrun.BUILD / "solutions" / "02-bind") as lab:
        server = lab.run("server")
        bound = lab.wait_for("bind", proc=server, ret=0)
    assert bound is not None and bound["args"]["addrlen"] == 110


def test_a_length_of_sizeof_sun_path_cuts_the_longest_path(tmp):
    """04-accept-connect, What this stage does: connect given sizeof
    addr.sun_path (108) instead of sizeof addr (110) reads 106 bytes of
    the path: a path of 107 bytes, the longest, loses its last byte, and
    the cut name has no file (ENOENT); shorter paths keep their '\\0'."""
    path = str(tmp / "p").encode()
    path += b"p" * (107 - len(path))
    address = ctypes.create_string_buffer(
        struct.pack("H", socket.AF_UNIX) + path, 110)
    with listening(path.decode()):
        with unix_socket() as s:
            cut = libc_error(LIBC.connect(s.fileno(), address, 108))
        with unix_socket() as s:
            whole = libc_error(LIBC.connect(s.fileno(), address, 110))
    assert len(path) == 107 and (cut, whole) == ("ENOENT", None)


def test_connect_needs_write_permission_on_the_socket_file(tmp):
    """02-bind, What this stage does: on Linux the file's permissions count
    (root is not refused)."""
    path = tmp / "lab.sock"
    with listening(path), unix_socket() as c:
        path.chmod(0o555)
        got = error_of(c.connect, str(path))
    assert got == (None if os.geteuid() == 0 else "EACCES")


# -- lesson 03 --------------------------------------------------------------

def test_listen_on_an_unbound_socket_is_einval():
    """03-listen, What this stage does."""
    with unix_socket() as s:
        assert error_of(s.listen, 5) == "EINVAL"


@pytest.mark.parametrize("backlog", [0, 5])
def test_the_backlog_holds_one_more_than_asked(tmp, backlog):
    """03-listen, What this stage does: backlog N queues N + 1, then
    a non-blocking connect fails with EAGAIN (not ECONNREFUSED)."""
    path = str(tmp / "lab.sock")
    clients = []
    with listening(path, backlog):
        try:
            for _ in range(backlog + 2):
                c = unix_socket()
                clients.append(c)
                c.setblocking(False)
                failed = error_of(c.connect, path)
                if failed:
                    break
            assert failed == "EAGAIN" and len(clients) - 1 == backlog + 1
        finally:
            for c in clients:
                c.close()


def test_a_blocking_connect_waits_when_the_backlog_is_full(tmp):
    """03-listen, What this stage does: the next client waits."""
    path = str(tmp / "lab.sock")
    with listening(path, 0), unix_socket() as first, unix_socket() as late:
        first.connect(path)
        # A send timeout bounds the wait: then connect gives up with EAGAIN.
        late.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", 0, 200_000))
        began = time.monotonic()
        assert error_of(late.connect, path) == "EAGAIN"
        assert time.monotonic() - began >= 0.15, "connect did not wait"


# -- lesson 04 and 06 ------------------------------------------------------

@pytest.mark.parametrize("leftover", ["socket file", "regular file"])
def test_connect_to_a_path_nobody_listens_on_is_refused(tmp, leftover):
    """04-accept-connect, What this stage does: ECONNREFUSED."""
    path = tmp / "lab.sock"
    if leftover == "socket file":
        with unix_socket() as s:
            s.bind(str(path))  # closing leaves the file, as a crash would
    else:
        path.write_text("not a socket\n")
    with unix_socket() as c:
        assert error_of(c.connect, str(path)) == "ECONNREFUSED"


def test_an_unlinked_name_stops_only_new_clients(tmp):
    """06-close, Why the socket file outlives close."""
    path = str(tmp / "lab.sock")
    with listening(path) as server, unix_socket() as old, \
            unix_socket() as new:
        old.connect(path)
        os.unlink(path)
        assert error_of(new.connect, path) == "ENOENT"
        conn, _ = server.accept()
        with conn:
            old.sendall(b"still here")
            assert conn.recv(100) == b"still here"


def test_accept_is_interrupted_by_a_handler_without_sa_restart():
    """06-close, Cleaning up on a signal: accept returns -1 EINTR."""
    with labrun.Lab(labrun.BUILD / "solutions" / "06-close") as lab:
        server = lab.start("server")
        assert lab.wait_for("accept", proc=server, event="wait")
        assert server.asleep()  # inside accept, not just about to call it
        server.signal(signal.SIGTERM)
        server.wait()
        interrupted = lab.events("accept", proc=server, ret=-1)
        assert server.returncode == 0
        assert interrupted and interrupted[0]["errno"] == "EINTR"


RESET_HANDLER = r"""
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static volatile sig_atomic_t handled;
static void on_signal(int sig) { (void)sig; handled++; }
int main(int argc, char *argv[])
{
    struct sigaction sa, now;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = argc > 1 ? SA_RESETHAND : 0;
    if (sigaction(SIGINT, &sa, NULL) == -1)
        return 1;
    for (int i = 1; i <= 2; i++) {
        raise(SIGINT);
        if (sigaction(SIGINT, NULL, &now) == -1)
            return 1;
        printf("%d %s\n", (int)handled,
               now.sa_handler == SIG_DFL ? "default" : "handler");
        fflush(stdout);
    }
    return 0;
}
"""


def test_sa_resethand_gives_the_default_action_back_after_one_signal():
    """06-close, Cleaning up on a signal: with SA_RESETHAND the handler
    runs once, and the second signal takes the default action (SIGINT:
    the end of the process); with sa_flags 0 it stays installed."""
    import shutil
    import subprocess
    where = labrun.scratch_dir("lab-resethand-")
    try:
        (where / "reset.c").write_text(RESET_HANDLER)
        subprocess.run(["cc", "-std=c11", str(where / "reset.c"), "-o",
                        str(where / "reset")], check=True, timeout=60)
        kept = subprocess.run([str(where / "reset")], capture_output=True,
                              text=True, timeout=10)
        reset = subprocess.run([str(where / "reset"), "SA_RESETHAND"],
                               capture_output=True, text=True, timeout=10)
    finally:
        shutil.rmtree(where, ignore_errors=True)
    assert (kept.returncode, kept.stdout) == (0, "1 handler\n2 handler\n")
    assert (reset.returncode, reset.stdout) == \
        (-signal.SIGINT, "1 default\n")


# -- lesson 05 --------------------------------------------------------------

def test_a_stream_keeps_no_message_boundaries():
    """05-read-write, What this stage does: two writes, one read."""
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"hello, ")
        a.sendall(b"socket")
        assert b.recv(4096) == b"hello, socket"


def test_reading_an_unconnected_socket():
    """05-read-write, Deliberate errors (read-unconnected) and the read
    rows of trace/explanations.def: a stream socket answers read and recv
    with EINVAL, where recv(2) lists ENOTCONN; a SOCK_SEQPACKET socket
    answers ENOTCONN."""
    with unix_socket() as stream, \
            unix_socket(socket.SOCK_SEQPACKET) as seqpacket:
        assert error_of(os.read, stream.fileno(), 10) == "EINVAL"
        assert error_of(stream.recv, 10) == "EINVAL"
        assert error_of(os.read, seqpacket.fileno(), 10) == "ENOTCONN"


def test_sendto_with_an_address_on_a_stream_socket():
    """lessons/errors.json, send EISCONN, EOPNOTSUPP: EISCONN when the
    socket is connected, EOPNOTSUPP when it is not."""
    a, b = socket.socketpair()
    with a, b, unix_socket() as lone:
        assert error_of(a.sendto, b"x", "/nowhere.sock") == "EISCONN"
        # EOPNOTSUPP and ENOTSUP are one number on Linux; Python names it
        # ENOTSUP.
        assert error_of(lone.sendto, b"x", "/nowhere.sock") == \
            errno.errorcode[errno.EOPNOTSUPP]


def test_a_blocking_write_interrupted_by_a_signal_is_short():
    """05-read-write, Short reads and writes."""
    a, b = socket.socketpair()
    old = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        sent = os.write(a.fileno(), bytes(1 << 20))  # nobody reads b
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        a.close()
        b.close()
    assert 0 < sent < 1 << 20


def test_a_non_blocking_write_is_short_then_eagain():
    """05-read-write, Short reads and writes."""
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        sent = os.write(a.fileno(), bytes(1 << 20))
        assert 0 < sent < 1 << 20
        assert error_of(os.write, a.fileno(), bytes(1 << 20)) == "EAGAIN"


def test_sigpipe_kills_a_writer_whose_peer_has_gone():
    """05-read-write, SIGPIPE: the default action ends the process."""
    a, b = socket.socketpair()
    b.close()
    pid = os.fork()
    if pid == 0:  # the child: SIGPIPE's default action, one write
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        try:
            os.write(a.fileno(), b"x")
        finally:
            os._exit(0)
    a.close()
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and \
        os.WTERMSIG(status) == signal.SIGPIPE


def test_closing_with_unread_data_resets_the_connection():
    """05-read-write, SIGPIPE: ECONNRESET instead of end of file."""
    a, b = socket.socketpair()
    with a:
        a.sendall(b"x")
        b.close()  # b never read the byte
        assert error_of(a.recv, 10) == "ECONNRESET"
        assert a.recv(10) == b""


def test_poll_says_unwritable_long_before_a_write_would_block():
    """trace/TRACE.md, Waiting: why writes are not announced as waits."""
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        chunk = bytes(1024)
        ready = select.poll()
        ready.register(a, select.POLLOUT)
        sent = 0
        while ready.poll(0):
            sent += a.send(chunk)
        when_poll_said_full = sent
        while error_of(a.send, chunk) is None:  # until EAGAIN, really full
            sent += len(chunk)
        # Linux: writable while at most a quarter of the buffer is in use.
        assert sent >= 3 * when_poll_said_full


# -- socketpair, beside socket (errors.json, explanations.def) ----------------

def test_socketpair_answers_bad_arguments_as_socket_does():
    """socketpair's errors: those of socket for the same arguments, and
    EOPNOTSUPP for a domain that makes no pairs."""
    pair = socket.socketpair
    assert error_of(pair, 12345, socket.SOCK_STREAM) == "EAFNOSUPPORT"
    assert error_of(pair, socket.AF_UNIX, socket.SOCK_STREAM, 6) == \
        "EPROTONOSUPPORT"
    pf_unix = 1
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, pf_unix)
    a.close()
    b.close()
    assert error_of(pair, socket.AF_UNIX, 42) == "EINVAL"
    assert error_of(pair, socket.AF_UNIX, socket.SOCK_RDM) == \
        "ESOCKTNOSUPPORT"
    assert error_of(pair, socket.AF_INET, socket.SOCK_STREAM) == \
        errno.errorcode[errno.EOPNOTSUPP]
    assert libc_error(LIBC.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, 0,
                                      ctypes.c_void_p(1))) == "EFAULT"

    def at_the_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (4, 4))  # fds 0 to 3
        return error_of(socket.socketpair)
    assert in_child(at_the_limit) == "EMFILE"


# -- bind, and the second bind ------------------------------------------------

def test_a_second_bind_is_einval_to_a_new_path_eaddrinuse_to_an_old_one(
        tmp):
    """02-bind, bind-twice, and the bind EADDRINUSE and EINVAL rows."""
    (tmp / "notes.txt").write_text("x\n")
    with unix_socket() as s:
        s.bind(str(tmp / "first.sock"))
        assert error_of(s.bind, str(tmp / "second.sock")) == "EINVAL"
        assert error_of(s.bind, str(tmp / "first.sock")) == "EADDRINUSE"
        assert error_of(s.bind, str(tmp / "notes.txt")) == "EADDRINUSE"
    assert not (tmp / "second.sock").exists()


def test_bind_and_listen_on_a_closed_fd_or_a_file():
    """lessons/errors.json: bind EBADF, listen EBADF and ENOTSOCK."""
    s = unix_socket()
    closed = s.fileno()
    s.close()
    address = ctypes.create_string_buffer(b"\x01\x00lab.sock", 110)
    assert libc_error(LIBC.bind(closed, address, 110)) == "EBADF"
    assert libc_error(LIBC.listen(closed, 5)) == "EBADF"
    with open(__file__, "rb") as f:
        assert libc_error(LIBC.listen(f.fileno(), 5)) == "ENOTSOCK"


@pytest.mark.parametrize("call", ["bind", "connect"])
def test_an_address_length_outside_sockaddr_un_is_einval(tmp, call):
    """The bind and connect EINVAL rows: a length shorter than sun_family,
    or longer than struct sockaddr_un (110 bytes)."""
    path = str(tmp / "lab.sock").encode()
    address = ctypes.create_string_buffer(
        struct.pack("H", socket.AF_UNIX) + path, 200)
    with unix_socket() as s:
        for length in (1, 111, 150):
            got = libc_error(getattr(LIBC, call)(s.fileno(), address, length))
            assert got == "EINVAL", (length, got)
    assert not os.listdir(tmp)


def test_an_accept_length_negative_as_an_int_is_einval_and_loses_the_client(
        tmp):
    """04-accept-connect, A new socket for each client: accept reads its
    address length once it has taken the client, and one that is negative
    as an int (what an unset local may hold) fails it with EINVAL: the
    connection it took is closed, and the client reads end of file.  A
    length set right gets the next client, and the size of its address
    (2: sun_family alone, for a client that did not bind)."""
    path = str(tmp / "lab.sock")
    with unix_socket() as server, unix_socket() as lost, \
            unix_socket() as served:
        server.bind(path)
        server.listen(2)
        lost.connect(path)
        lost.settimeout(5)
        address = ctypes.create_string_buffer(110)
        length = ctypes.c_uint32(0xFFFFFFFF)
        assert libc_error(LIBC.accept(server.fileno(), address,
                                      ctypes.byref(length))) == "EINVAL"
        assert lost.recv(1) == b""
        served.connect(path)
        length = ctypes.c_uint32(110)
        taken = LIBC.accept(server.fileno(), address, ctypes.byref(length))
        assert taken >= 0
        os.close(taken)
        assert length.value == 2


@pytest.mark.parametrize("call", ["bind", "connect"])
def test_a_name_longer_than_name_max_met_through_a_link_is_enametoolong(
        tmp, call):
    """02-bind and 04-accept-connect, bind-long-symlink and
    connect-long-symlink: a short path, a link to a name of 256 bytes or
    more; 255 bytes (NAME_MAX) is still a name, if a missing one. bind
    goes through a link in a directory of the path; connect follows one at
    its end too."""
    def attempt(length):
        link = tmp / f"link-{length}"
        link.symlink_to("x" * length)
        path = link / "lab.sock" if call == "bind" else link
        with unix_socket() as s:
            return error_of(getattr(s, call), str(path))
    assert attempt(255) == "ENOENT"
    assert attempt(256) == "ENAMETOOLONG"


def read_only_tmpfs(where, make_file=False):
    """In this (child) process: a tmpfs on where, read-only; with
    make_file, a regular file notes.txt made in it before it turns
    read-only.  Mount namespaces keep it out of every other process."""
    if os.geteuid() == 0 and os.environ.get("LAB_FACTS_AS") != "userns":
        unshared(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates out
    else:
        uid, gid = os.getuid(), os.getgid()
        unshared(CLONE_NEWUSER | CLONE_NEWNS)
        # The same ids inside, so that a file can be made in the tmpfs.
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    if make_file:
        mount(b"tmpfs", where, b"tmpfs", 0)
        (where / "notes.txt").write_text("x\n")
        mount(None, where, None, MS_REMOUNT | MS_RDONLY)
    else:
        mount(b"tmpfs", where, b"tmpfs", MS_RDONLY)


@pytest.mark.parametrize("user", users())
def test_a_read_only_file_system_is_erofs_to_bind_and_to_connect(
        shared_tmp, user):
    """02-bind, bind-read-only-fs: bind in a read-only directory is EROFS,
    for root as for an ordinary user (who mounts it in a user namespace);
    04-accept-connect and the connect EROFS row: connect to a file there
    that is not a socket is EROFS too, for both."""
    if user != "root":
        user_namespace_or_skip()
    where = shared_tmp / f"ro-{user}"
    where.mkdir()
    where.chmod(0o777)

    def bind_there():
        read_only_tmpfs(where)
        with unix_socket() as s:
            return error_of(s.bind, str(where / "lab.sock"))

    def connect_there():
        read_only_tmpfs(where, make_file=True)
        with unix_socket() as s:
            return error_of(s.connect, str(where / "notes.txt"))
    who = "nobody" if user == "nobody" else "self"
    assert in_child(bind_there, who) == "EROFS"
    assert in_child(connect_there, who) == "EROFS"


def sysfs_is_read_only():
    for line in Path("/proc/mounts").read_text().splitlines():
        device, where, kind, options = line.split()[:4]
        if where == "/sys" and kind == "sysfs":
            return "ro" in options.split(",")
    pytest.skip("no sysfs mounted on /sys")


@pytest.mark.parametrize("user", users())
def test_bind_in_sysfs(user):
    """lessons/errors.json and the bind EPERM row: in /sys, root gets
    EPERM, which bind(2) does not list, an ordinary user EACCES, and anyone
    EROFS where /sys is mounted read-only."""
    def bind_in_sys():
        with unix_socket() as s:
            return error_of(s.bind, "/sys/lab.sock")
    expected = "EROFS" if sysfs_is_read_only() else \
        "EPERM" if user == "root" else "EACCES"
    assert as_user(user, bind_in_sys) == expected


@pytest.mark.parametrize("user", users())
def test_bind_in_proc_says_enoent_though_proc_exists(user):
    """06-close, "Bad paths", and the bind ENOENT row: /proc makes no new
    file, and bind there fails with ENOENT, as for a missing directory."""
    def bind_in_proc():
        with unix_socket() as s:
            return error_of(s.bind, "/proc/lab.sock")
    assert Path("/proc").is_dir()
    assert as_user(user, bind_in_proc) == "ENOENT"


def test_an_empty_path_is_an_abstract_name_made_of_zero_bytes(tmp):
    """02-bind, 04-accept-connect and 06-close: "" in sun_path, with the
    length sizeof(struct sockaddr_un), binds an abstract name of zero
    bytes and creates no file; a client given "" connects to its holder,
    or is refused when there is none.  In a network namespace of its own,
    where no other run holds that name."""
    if os.geteuid() != 0:
        user_namespace_or_skip()
    empty = b"\0" * 108  # sun_path of "", length 2 + 108 = 110

    def in_own_network():
        unshared(CLONE_NEWNET | (0 if os.geteuid() == 0 else CLONE_NEWUSER))
        os.chdir(tmp)
        seen = {}
        with unix_socket() as server, unix_socket() as client, \
                unix_socket() as other:
            server.bind(empty)
            seen["name"] = server.getsockname().hex()
            seen["files"] = os.listdir(tmp)
            server.listen(1)
            seen["connect"] = error_of(client.connect, empty)
            seen["second bind"] = error_of(other.bind, empty)
        with unix_socket() as late:
            seen["connect to nobody"] = error_of(late.connect, empty)
        return seen
    seen = in_child(in_own_network, "self")
    assert seen == {"name": empty.hex(), "files": [], "connect": None,
                    "second bind": "EADDRINUSE",
                    "connect to nobody": "ECONNREFUSED"}


# -- connect to what is not a socket ------------------------------------------

@pytest.mark.parametrize("user", users())
def test_a_file_that_is_not_a_socket_refuses_those_who_may_write_it(
        shared_tmp, user):
    """04-accept-connect, connect-not-a-socket and connect-read-only-file,
    and the connect ECONNREFUSED and EACCES rows: write permission on the
    file is checked before its type.  Root may write any file."""
    mine = shared_tmp / f"mine-{user}.txt"
    theirs = shared_tmp / f"read-only-{user}.txt"

    def attempt():
        mine.write_text("x\n")
        theirs.write_text("x\n")
        theirs.chmod(0o444)
        with unix_socket() as a, unix_socket() as b:
            return [error_of(a.connect, str(mine)),
                    error_of(b.connect, str(theirs))]
    expected = ["ECONNREFUSED",
                "ECONNREFUSED" if user == "root" else "EACCES"]
    assert as_user(user, attempt) == expected


@pytest.mark.parametrize("user", users())
def test_unlink_in_a_read_only_directory_is_eacces_except_for_root(
        shared_tmp, user):
    """The unlink EACCES row."""
    locked = shared_tmp / f"locked-{user}"

    def attempt():
        locked.mkdir()
        (locked / "lab.sock").write_text("")
        locked.chmod(0o555)
        try:
            return error_of(os.unlink, locked / "lab.sock")
        finally:
            locked.chmod(0o755)
    assert as_user(user, attempt) == (None if user == "root" else "EACCES")


# -- connect to a full backlog: never in progress -----------------------------

def test_a_non_blocking_connect_to_a_full_backlog_is_never_in_progress(tmp):
    """The connect EAGAIN and EINTR rows: unlike TCP, nothing is in
    progress after EAGAIN: poll reports the socket at once, SO_ERROR is 0,
    connect fails again, and only a connect made once there is room
    succeeds."""
    path = str(tmp / "lab.sock")
    with listening(path, 0) as server, unix_socket() as first, \
            unix_socket() as late:
        first.connect(path)
        late.setblocking(False)
        assert error_of(late.connect, path) == "EAGAIN"
        ready = select.poll()
        ready.register(late, select.POLLIN | select.POLLOUT)
        assert ready.poll(0), "poll did not report the socket at once"
        assert late.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        assert error_of(late.connect, path) == "EAGAIN"
        conn, _ = server.accept()
        conn.close()
        assert error_of(late.connect, path) is None


def test_a_connect_that_timed_out_can_be_made_again(tmp):
    """The connect EAGAIN and EINTR rows: with SO_SNDTIMEO a blocking
    connect to a full backlog gives up with EAGAIN (socket(7) announces
    EINPROGRESS); the same socket connects once there is room."""
    path = str(tmp / "lab.sock")
    with listening(path, 0) as server, unix_socket() as first, \
            unix_socket() as late:
        first.connect(path)
        late.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                        struct.pack("ll", 0, 100_000))
        assert error_of(late.connect, path) == "EAGAIN"
        conn, _ = server.accept()
        conn.close()
        assert error_of(late.connect, path) is None


# -- accept -------------------------------------------------------------------

def test_accept_with_a_receive_timeout_says_eagain(tmp):
    """The accept EAGAIN row: a blocking accept with SO_RCVTIMEO."""
    with listening(tmp / "lab.sock") as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                          struct.pack("ll", 0, 100_000))
        assert error_of(server.accept) == "EAGAIN"


@pytest.mark.parametrize("mistake", ["addrlen -1", "addr outside memory"])
def test_an_accept_that_fails_on_its_address_loses_the_connection(
        tmp, mistake):
    """04-accept-connect, accept-bad-addrlen, and the accept EINVAL and
    EFAULT rows: the connection taken from the backlog is lost, and its
    client reads end of file."""
    with listening(tmp / "lab.sock") as server, unix_socket() as client:
        client.connect(str(tmp / "lab.sock"))
        client.settimeout(labrun.WAIT)
        address = ctypes.create_string_buffer(110)
        length = ctypes.c_int(-1 if mistake == "addrlen -1" else 110)
        where = address if mistake == "addrlen -1" else ctypes.c_void_p(1)
        got = libc_error(LIBC.accept(server.fileno(), where,
                                     ctypes.byref(length)))
        assert got == ("EINVAL" if mistake == "addrlen -1" else "EFAULT")
        assert client.recv(10) == b""
        server.setblocking(False)
        assert error_of(server.accept) == "EAGAIN"  # nothing left queued


# -- timeouts on reads and writes ---------------------------------------------

def test_a_blocking_write_with_a_send_timeout_is_short_then_eagain():
    """The write EAGAIN row: SO_SNDTIMEO on a full buffer."""
    a, b = socket.socketpair()
    with a, b:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                     struct.pack("ll", 0, 100_000))
        sent = os.write(a.fileno(), bytes(1 << 22))  # nobody reads b
        assert 0 < sent < 1 << 22
        assert error_of(os.write, a.fileno(), bytes(1 << 22)) == "EAGAIN"


# -- writing to a peer that has gone ------------------------------------------

def test_a_write_or_send_after_a_reset_says_epipe_and_read_says_econnreset():
    """05-read-write, write-after-reset, and send ECONNRESET in
    lessons/errors.json: Linux answers write and send with EPIPE."""
    a, b = socket.socketpair()
    with a:
        a.sendall(b"request")
        b.close()  # b never read it: a reset
        old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            assert error_of(os.write, a.fileno(), b"more") == "EPIPE"
        finally:
            signal.signal(signal.SIGPIPE, old)
        assert error_of(a.send, b"more", socket.MSG_NOSIGNAL) == "EPIPE"
        assert error_of(a.recv, 10) == "ECONNRESET"


def test_an_unconnected_datagram_socket_says_enotconn_not_edestaddrreq():
    """lessons/errors.json, write and send EDESTADDRREQ."""
    with unix_socket(socket.SOCK_DGRAM) as lone:
        assert error_of(os.write, lone.fileno(), b"x") == "ENOTCONN"
        assert error_of(lone.send, b"x") == "ENOTCONN"


@pytest.mark.parametrize("kind", ["SOCK_SEQPACKET", "SOCK_DGRAM"])
def test_a_message_socket_refuses_a_message_too_big(kind):
    """lessons/errors.json, send EMSGSIZE, and the EMSGSIZE row (a stream
    socket sends in pieces instead: see the short-write tests above)."""
    a, b = socket.socketpair(socket.AF_UNIX, getattr(socket, kind))
    with a, b:
        assert error_of(a.send, bytes(1 << 24)) == "EMSGSIZE"
        assert error_of(os.write, a.fileno(), bytes(1 << 24)) == "EMSGSIZE"


# -- passing descriptors and credentials (unix(7), lessons/errors.json) -------

def rights(sock, fds):
    return sock.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                  struct.pack(f"{len(fds)}i", *fds))])


def credentials(sock, pid, uid, gid):
    return sock.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS,
                                  struct.pack("iII", pid, uid, gid))])


def no_such_pid():
    limit = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(pid for pid in range(limit - 1, 1, -1)
                if not Path(f"/proc/{pid}").exists())


@pytest.mark.parametrize("user", users())
def test_passing_fds_and_credentials_on_a_stream_socketpair(user):
    """EBADF and ETOOMANYREFS (SCM_RIGHTS), EPERM and ESRCH
    (SCM_CREDENTIALS), as lessons/errors.json says, for root and for an
    ordinary user."""
    ghost = no_such_pid()

    def attempt():
        a, b = socket.socketpair()
        seen = {"not an fd": error_of(rights, a, [999]),
                "own credentials": error_of(credentials, a, os.getpid(),
                                            os.getuid(), os.getgid()),
                "pid 1": error_of(credentials, a, 1, os.getuid(),
                                  os.getgid()),
                "no such pid": error_of(credentials, a, ghost, os.getuid(),
                                        os.getgid())}
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
        for sent in range(64):  # nobody receives: the fds stay in flight
            failed = error_of(rights, a, [a.fileno()])
            if failed:
                break
        seen["fds in flight"] = failed
        return seen
    ordinary = user != "root"
    assert as_user(user, attempt) == {
        "not an fd": "EBADF", "own credentials": None,
        "pid 1": "EPERM" if ordinary else None,
        "no such pid": "EPERM" if ordinary else "ESRCH",
        "fds in flight": "ETOOMANYREFS" if ordinary else None}


# -- part 2: many clients at once ----------------------------------------------

def test_a_socket_from_accept_does_not_inherit_o_nonblock(tmp):
    # Lesson 08: accept(2), NOTES; the lab's server sets it on each.
    server = listening(tmp / "s")
    server.setblocking(False)
    client = unix_socket()
    client.connect(str(tmp / "s"))
    conn, _ = server.accept()
    import fcntl
    assert fcntl.fcntl(server.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
    assert not fcntl.fcntl(conn.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
    for s in (conn, client, server):
        s.close()


def test_an_ended_child_is_a_zombie_until_it_is_reaped():
    # Lesson 07: state Z in /proc/PID/stat until waitpid; then gone.
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    deadline = time.monotonic() + 5
    while labrun.process_state(pid)[0] != "Z" and \
            time.monotonic() < deadline:
        time.sleep(0.001)
    assert labrun.process_state(pid)[0] == "Z"
    assert os.waitpid(pid, os.WNOHANG) == (pid, 0)
    assert labrun.process_state(pid)[0] is None


def test_sigchld_set_to_sig_ign_reaps_children_and_the_default_does_not():
    # Lesson 07 and the waitpid ECHILD explanation: only an explicit SIG_IGN
    # makes Linux reap a child by itself; the default action leaves a zombie.
    def child_state(disposition):
        previous = signal.signal(signal.SIGCHLD, disposition)
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            deadline = time.monotonic() + 5
            state = labrun.process_state(pid)[0]
            while state not in ("Z", None) and time.monotonic() < deadline:
                time.sleep(0.001)
                state = labrun.process_state(pid)[0]
            try:
                os.waitpid(pid, 0)
                reaped = "by waitpid"
            except ChildProcessError:
                reaped = "ECHILD"
            return state, reaped
        finally:
            signal.signal(signal.SIGCHLD, previous)
    assert child_state(signal.SIG_DFL) == ("Z", "by waitpid")
    assert child_state(signal.SIG_IGN) == (None, "ECHILD")


MERGED_WHILE_BLOCKED = """
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import labrun
caught = []
signal.signal(signal.SIGCHLD, lambda *_: caught.append(1))
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
pids = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    pids.append(pid)
deadline = time.monotonic() + 5
while any(labrun.process_state(p)[0] != "Z" for p in pids) and \\
        time.monotonic() < deadline:
    time.sleep(0.001)
pending = signal.SIGCHLD in signal.sigpending()
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
for pid in pids:
    os.waitpid(pid, 0)
print(pending, len(caught))
"""


def test_standard_signals_merge_while_blocked():
    # Lesson 07: five SIGCHLDs while blocked are delivered once.  In a
    # process of its own: a signal sent to a process goes to any thread
    # that does not block it, and a test process may have other threads
    # (pytest-xdist's own).
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", MERGED_WHILE_BLOCKED,
                           str(labrun.ROOT / "tools")], capture_output=True,
                          text=True, timeout=30 * labrun.SCALE)
    assert done.returncode == 0, done.stderr
    pending, caught = done.stdout.split()
    assert pending == "True" and caught == "1", done.stdout


def test_poll_is_interrupted_by_a_handler_even_with_sa_restart():
    # Lesson 08: signal(7) lists poll among the calls never restarted.
    r, w = os.pipe()
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.siginterrupt(signal.SIGUSR1, False)  # SA_RESTART
    try:
        pid = os.fork()
        if pid == 0:
            parent = os.getppid()
            while labrun.process_state(parent)[0] != "S":
                pass
            os.kill(parent, signal.SIGUSR1)
            os._exit(0)
        class PollFd(ctypes.Structure):
            _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short),
                        ("revents", ctypes.c_short)]
        fds = (PollFd * 1)(PollFd(r, select.POLLIN, 0))
        ret = LIBC.poll(fds, 1, 5000)
        err = ctypes.get_errno()
        os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        os.close(r)
        os.close(w)
    assert ret == -1 and errno.errorcode[err] == "EINTR"


PPOLL_LETS_IN = r"""
import ctypes, os, select, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short),
                ("revents", ctypes.c_short)]
class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
caught = []
signal.signal(signal.SIGUSR1, lambda *_: caught.append(1))
signal.siginterrupt(signal.SIGUSR1, False)  # SA_RESTART
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
r, w = os.pipe()
os.kill(os.getpid(), signal.SIGUSR1)  # blocked: it stays pending
fds = (PollFd * 1)(PollFd(r, select.POLLIN, 0))
empty = (ctypes.c_ulong * 16)()  # a sigset_t with no signal: all let in
began = time.monotonic()
ret = libc.ppoll(fds, 1, ctypes.byref(Timespec(5, 0)), ctypes.byref(empty))
err = ctypes.get_errno()
took = time.monotonic() - began
still = signal.SIGUSR1 in signal.sigpending()
print(ret, os.strerror(err) if ret == -1 else "-", took < 2.5, still,
      len(caught))
# Then one that comes while it waits, sent by a child once this process
# sleeps (in ppoll: nothing else here sleeps).
sys.path.insert(0, sys.argv[1])
import labrun
pid = os.fork()
if pid == 0:
    parent = os.getppid()
    while labrun.process_state(parent)[0] != "S":
        pass
    os.kill(parent, signal.SIGUSR1)
    os._exit(0)
ret = libc.ppoll(fds, 1, ctypes.byref(Timespec(5, 0)), ctypes.byref(empty))
err = ctypes.get_errno()
os.waitpid(pid, 0)
print(ret, os.strerror(err) if ret == -1 else "-", len(caught))
"""


def test_ppoll_lets_a_pending_signal_in_as_it_begins_and_fails_eintr():
    """06-close, Cleaning up on a signal: a signal blocked with
    sigprocmask and pending when ppoll begins is delivered then, as ppoll's
    mask unblocks it, and ppoll fails with EINTR at once (it does not wait
    for its timeout of 5 s); even with SA_RESTART, as trace/explanations.def
    says; and one that comes while ppoll waits ends it so too (07-fork,
    Stopping: a SIGCHLD ends the ppoll of the parent).  In a process of
    its own, for its signal mask."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", PPOLL_LETS_IN,
                           str(labrun.ROOT / "tools")], capture_output=True,
                          text=True, timeout=30 * labrun.SCALE)
    assert done.returncode == 0, done.stderr
    pending, arrived = done.stdout.splitlines()
    assert pending == "-1 Interrupted system call True False 1", done.stdout
    assert arrived == "-1 Interrupted system call 2", done.stdout


# -- datagrams (lesson 10) ----------------------------------------------------

def dgram_pair():
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)


def drain(sock):
    """Every datagram waiting on sock, without waiting."""
    got = []
    while True:
        try:
            got.append(sock.recv(1 << 20, socket.MSG_DONTWAIT))
        except BlockingIOError:
            return got


def test_a_datagram_socket_keeps_each_message_apart():
    """lessons/10-datagram/README.md, "Datagrams keep their boundaries":
    three datagrams queued before the first receive come out one by one,
    and one receive never returns two, even with room for them."""
    a, b = dgram_pair()
    with a, b:
        for message in (b"first", b"second", b"third"):
            assert a.send(message) == len(message)
        assert [b.recv(4096) for _ in range(3)] == \
            [b"first", b"second", b"third"]


def test_an_empty_datagram_is_received_as_0_and_read_takes_it_too():
    """An empty datagram: recv returns 0 and the socket goes on; read(2)
    takes it too, on this kernel, where recv(2) says it is left pending."""
    a, b = dgram_pair()
    with a, b:
        a.send(b"")
        a.send(b"next")
        assert b.recv(10) == b""
        assert b.recv(10) == b"next"
        a.send(b"")
        a.send(b"next")
        assert os.read(b.fileno(), 10) == b""
        assert os.read(b.fileno(), 10) == b"next"  # the empty one was taken


def test_a_datagram_longer_than_the_buffer_is_cut_with_msg_trunc():
    """recvmsg returns what fits, MSG_TRUNC in msg_flags, and the rest is
    lost; a datagram exactly as long as the buffer comes whole, without
    MSG_TRUNC; with MSG_TRUNC in the flags Linux returns the real length."""
    a, b = dgram_pair()
    with a, b:
        a.send(bytes(range(65, 91)))  # 26 bytes
        a.send(b"next")
        data, _, flags, _ = b.recvmsg(10)
        assert data == b"ABCDEFGHIJ" and flags & socket.MSG_TRUNC
        data, _, flags, _ = b.recvmsg(10)
        assert data == b"next" and not flags & socket.MSG_TRUNC
        a.send(bytes(10))  # exactly the buffer's size: whole, not cut
        data, _, flags, _ = b.recvmsg(10)
        assert data == bytes(10) and not flags & socket.MSG_TRUNC
        a.send(bytes(11))
        data, _, flags, _ = b.recvmsg(10)
        assert data == bytes(10) and flags & socket.MSG_TRUNC
        a.send(bytes(26))
        assert len(b.recv(10, socket.MSG_TRUNC)) == 26


class SockaddrUn(ctypes.Structure):
    _fields_ = [("sun_family", ctypes.c_ushort),
                ("sun_path", ctypes.c_char * 108)]


def recvfrom_length(sock):
    """recvfrom(2) through ctypes: (the bytes, the address length the kernel
    returned), for a buffer of sizeof(struct sockaddr_un)."""
    buf, addr = ctypes.create_string_buffer(4096), SockaddrUn()
    length = ctypes.c_uint(ctypes.sizeof(addr))
    n = LIBC.recvfrom(sock.fileno(), buf, 4096, 0, ctypes.byref(addr),
                      ctypes.byref(length))
    assert n >= 0, errno.errorcode[ctypes.get_errno()]
    return buf.raw[:n], length.value, addr


def sendto_length(sock, data, addr, length):
    return libc_error(LIBC.sendto(sock.fileno(), data, len(data), 0,
                                  ctypes.byref(addr), length))


def test_a_sender_that_never_bound_has_no_address(tmp):
    """lessons/10-datagram/README.md, "Who sent it": recvfrom and recvmsg
    return a length of 0 (unix(7) says sizeof(sa_family_t) for unnamed
    addresses, which getsockname does return); a reply with that length is
    ENOTCONN, with the family alone EINVAL."""
    with unix_socket(socket.SOCK_DGRAM) as collector, \
            unix_socket(socket.SOCK_DGRAM) as logger:
        collector.bind(str(tmp / "log.sock"))
        logger.sendto(b"hello", str(tmp / "log.sock"))
        data, length, addr = recvfrom_length(collector)
        assert data == b"hello" and length == 0
        logger.sendto(b"again", str(tmp / "log.sock"))
        _, _, _, sender = collector.recvmsg(4096)
        assert sender is None  # msg_namelen 0: Python gives no address
        own = SockaddrUn()
        own_length = ctypes.c_uint(ctypes.sizeof(own))
        assert LIBC.getsockname(logger.fileno(), ctypes.byref(own),
                                ctypes.byref(own_length)) == 0
        assert own_length.value == 2  # sizeof(sa_family_t)
        assert sendto_length(collector, b"reply", addr, 0) == "ENOTCONN"
        addr.sun_family = socket.AF_UNIX
        assert sendto_length(collector, b"reply", addr, 2) == "EINVAL"


def test_so_passcred_gives_an_unbound_sender_an_abstract_name(tmp):
    """unix(7), "Autobind feature": a socket with SO_PASSCRED that never
    bound gets a name of 5 hex digits when it sends, and can be answered."""
    with unix_socket(socket.SOCK_DGRAM) as collector, \
            unix_socket(socket.SOCK_DGRAM) as logger:
        collector.bind(str(tmp / "log.sock"))
        logger.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        logger.sendto(b"hello", str(tmp / "log.sock"))
        _, sender = collector.recvfrom(4096)
        assert isinstance(sender, bytes) and sender[:1] == b"\0" and \
            len(sender) == 6 and all(c in b"0123456789abcdef"
                                     for c in sender[1:])
        collector.sendto(b"ok 5", sender)
        assert logger.recv(10) == b"ok 5"


def test_an_abstract_name_answered_with_sizeof_the_address_is_refused(tmp):
    """trace/explanations.def, sendto ECONNREFUSED: an abstract name is as
    long as the length it was bound with; the same bytes padded with zeros
    to sizeof(struct sockaddr_un) (110) name another socket, which nobody
    holds: ECONNREFUSED. With the length recvfrom gave, the reply goes."""
    with unix_socket(socket.SOCK_DGRAM) as collector, \
            unix_socket(socket.SOCK_DGRAM) as logger:
        collector.bind(str(tmp / "log.sock"))
        logger.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        logger.sendto(b"hello", str(tmp / "log.sock"))
        _, sender = collector.recvfrom(4096)
        padded = sender + bytes(108 - len(sender))  # 2 + 108 = 110 bytes
        assert error_of(collector.sendto, b"ok 5", padded) == "ECONNREFUSED"
        collector.sendto(b"ok 5", sender)
        assert logger.recv(10) == b"ok 5"


@pytest.mark.parametrize("asked", [4096, 65536, None])
def test_the_largest_datagram_is_the_doubled_sndbuf_less_32(asked):
    """unix(7), SO_SNDBUF: the limit of a datagram is the (doubled) send
    buffer less 32 bytes; one byte more is EMSGSIZE. None: the default
    (212992 bytes on the lab's machine, so 212960)."""
    a, b = dgram_pair()
    with a, b:
        if asked:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, asked)
        size = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        if asked:
            assert size == 2 * asked
        assert error_of(a.send, bytes(size - 32)) is None
        assert error_of(a.send, bytes(size - 31)) == "EMSGSIZE"


def max_dgram_qlen():
    return int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())


def test_a_receiver_queue_takes_max_dgram_qlen_plus_one_datagrams(tmp):
    """lessons/10-datagram/README.md, "When the collector's queue is full":
    max_dgram_qlen + 1 small datagrams wait, the next non-blocking send is
    EAGAIN, a blocking one waits until the receiver takes one; large
    datagrams fill the sender's send buffer first."""
    queue = max_dgram_qlen()
    with unix_socket(socket.SOCK_DGRAM) as collector, \
            unix_socket(socket.SOCK_DGRAM) as logger:
        collector.bind(str(tmp / "log.sock"))
        to = str(tmp / "log.sock")
        sent = 0
        while error_of(logger.sendto, b"m", socket.MSG_DONTWAIT, to) is None:
            sent += 1
            assert sent < 100000
        assert sent == queue + 1
        assert error_of(logger.sendto, b"m", socket.MSG_DONTWAIT, to) == \
            "EAGAIN"
        # A blocking send waits: a child sends, and sleeps in the kernel
        # until a datagram is taken.
        pid = os.fork()
        if pid == 0:
            try:
                signal.alarm(10)
                logger.sendto(b"last", to)
            finally:
                os._exit(0)
        try:
            assert wait_asleep(pid), "the blocking send did not wait"
            assert collector.recv(10) == b"m"
            _, status = os.waitpid(pid, 0)
            assert os.WIFEXITED(status)
        finally:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        assert drain(collector)[-1] == b"last"
        # Datagrams of 60000 bytes: the sender's buffer is full first.
        big = 0
        while error_of(logger.sendto, bytes(60000), socket.MSG_DONTWAIT,
                       to) is None:
            big += 1
        sndbuf = logger.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert big < queue + 1 and big <= sndbuf // 60000 + 1


def wait_asleep(pid, timeout=10.0):
    """Whether process pid comes to sleep in the kernel (state S)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rindex(b")") + 2:][:1] == b"S":
            return True
        os.sched_yield()
    return False


@pytest.mark.parametrize("user", users())
def test_what_a_datagram_meets_at_a_path(shared_tmp, user):
    """lessons/10-datagram/README.md, "Errors a datagram meets": a path
    whose socket has gone, none at all, a stream socket, a file that is not
    a socket (ECONNREFUSED, or EACCES for one who may not write it), at
    sendto as at connect."""
    def attempt():
        (shared_tmp / user).mkdir()
        here = shared_tmp / user
        gone = unix_socket(socket.SOCK_DGRAM)
        gone.bind(str(here / "gone.sock"))
        gone.close()
        stream = listening(here / "server.sock")
        (here / "notes.txt").write_text("notes\n")
        os.chmod(here / "notes.txt", 0o644)
        seen = {}
        for name in ("gone.sock", "never.sock", "server.sock", "notes.txt"):
            with unix_socket(socket.SOCK_DGRAM) as logger:
                seen[name] = [error_of(logger.sendto, b"x", str(here / name)),
                              error_of(logger.connect, str(here / name))]
        stream.close()
        with unix_socket() as client:  # a stream client, a datagram socket
            collector = unix_socket(socket.SOCK_DGRAM)
            collector.bind(str(here / "log.sock"))
            seen["stream to datagram"] = error_of(client.connect,
                                                  str(here / "log.sock"))
            seen["listen"] = error_of(collector.listen, 5)
            collector.close()
        return seen
    assert as_user(user, attempt) == {
        "gone.sock": ["ECONNREFUSED", "ECONNREFUSED"],
        "never.sock": ["ENOENT", "ENOENT"],
        "server.sock": ["EPROTOTYPE", "EPROTOTYPE"],
        "notes.txt": ["ECONNREFUSED", "ECONNREFUSED"],  # its own file
        "stream to datagram": "EPROTOTYPE",
        # EOPNOTSUPP: Python names Linux's number 95 ENOTSUP, its alias.
        "listen": errno.errorcode[errno.EOPNOTSUPP]}


def test_a_file_of_another_user_is_eacces_to_an_ordinary_sender(shared_tmp):
    """unix(7): sending a datagram needs write permission on the socket
    file; an ordinary user meets EACCES where root meets ECONNREFUSED."""
    if os.geteuid() != 0:
        pytest.skip("needs root, to make a file nobody may not write")
    notes = shared_tmp / "notes.txt"
    notes.write_text("root's notes\n")
    os.chmod(notes, 0o644)

    def attempt():
        with unix_socket(socket.SOCK_DGRAM) as logger:
            return error_of(logger.sendto, b"x", str(notes))
    assert as_user("root", attempt) == "ECONNREFUSED"
    assert as_user("nobody", attempt) == "EACCES"


def test_a_datagram_socket_connected_to_another_refuses_others(tmp):
    """A datagram socket connected to one peer takes datagrams only from
    it: any other sender's sendto, or connect, is EPERM, which no man page
    lists for this. The connected socket may still sendto elsewhere."""
    with unix_socket(socket.SOCK_DGRAM) as a, \
            unix_socket(socket.SOCK_DGRAM) as b, \
            unix_socket(socket.SOCK_DGRAM) as other, \
            unix_socket(socket.SOCK_DGRAM) as third:
        a.bind(str(tmp / "a.sock"))
        b.bind(str(tmp / "b.sock"))
        third.bind(str(tmp / "third.sock"))
        a.connect(str(tmp / "b.sock"))
        assert error_of(other.sendto, b"x", str(tmp / "a.sock")) == "EPERM"
        assert error_of(other.connect, str(tmp / "a.sock")) == "EPERM"
        b.sendto(b"from its peer", str(tmp / "a.sock"))
        assert a.recv(100) == b"from its peer"
        assert error_of(a.sendto, b"elsewhere", str(tmp / "third.sock")) \
            is None
        assert third.recv(100) == b"elsewhere"


def test_a_connected_datagram_socket_outlives_its_peer_disconnected(tmp):
    """lessons/10-datagram/README.md, "Errors a datagram meets": a
    connected logger whose collector closed gets ECONNREFUSED once, then
    ENOTCONN, even after a new collector binds the same path; a new
    connect reaches it."""
    path = str(tmp / "log.sock")
    with unix_socket(socket.SOCK_DGRAM) as logger:
        collector = unix_socket(socket.SOCK_DGRAM)
        collector.bind(path)
        logger.connect(path)
        assert logger.send(b"hello") == 5
        collector.close()
        os.unlink(path)
        assert error_of(logger.send, b"x") == "ECONNREFUSED"
        assert error_of(logger.send, b"x") == "ENOTCONN"
        with unix_socket(socket.SOCK_DGRAM) as again:
            again.bind(path)
            assert error_of(logger.send, b"x") == "ENOTCONN"
            logger.connect(path)
            logger.send(b"back")
            assert again.recv(10) == b"back"


def test_a_relative_sender_address_is_looked_up_where_the_receiver_is(tmp):
    """lessons/10-datagram/README.md, "Who sent it": the address a receiver
    gets is the path the sender bound, as written; a relative one names a
    file in the receiver's directory."""
    (tmp / "collector").mkdir()
    (tmp / "logger").mkdir()
    with unix_socket(socket.SOCK_DGRAM) as collector:
        collector.bind(str(tmp / "collector" / "log.sock"))

        def send_from_own_directory():
            os.chdir(tmp / "logger")
            logger = unix_socket(socket.SOCK_DGRAM)
            logger.bind("me.sock")
            logger.sendto(b"hello", str(tmp / "collector" / "log.sock"))
            return os.listdir(".")
        assert in_child(send_from_own_directory) == ["me.sock"]
        data, sender = collector.recvfrom(100)
        assert sender == "me.sock"

        def reply_from_collector_directory():
            os.chdir(tmp / "collector")
            return error_of(collector.sendto, b"ok 5", sender)
        assert in_child(reply_from_collector_directory) == "ENOENT"


def test_syslog_sends_each_message_on_a_datagram_socket_to_dev_log(tmp):
    """lessons/10-datagram/README.md, "What this stage does": the C
    library's syslog(3) creates a datagram socket and connects it to
    /dev/log; seen with strace (skipped without it)."""
    import shutil
    import subprocess
    import strace_compare
    why_not = strace_compare.usable()
    if why_not:
        pytest.skip(why_not)
    out = tmp / "strace.txt"
    subprocess.run([shutil.which("strace"), "-f", "-o", str(out), "-e",
                    "trace=socket,connect", "/usr/bin/python3", "-c",
                    "import syslog; syslog.syslog('from the lab')"],
                   check=True, capture_output=True, timeout=30)
    text = out.read_text()
    made = re.search(r"socket\(AF_UNIX, SOCK_DGRAM(\|SOCK_CLOEXEC)?, 0\) "
                     r"= (\d+)", text)
    assert made, text
    assert re.search(r'connect\(%s, \{sa_family=AF_UNIX, sun_path="/dev/log"'
                     r'\}' % made.group(2), text), text


class Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p),
                ("msg_namelen", ctypes.c_uint),
                ("msg_iov", ctypes.POINTER(Iovec)),
                ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p),
                ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


def test_recvmsg_writes_at_most_msg_namelen_bytes_of_the_address(tmp):
    """tests/test_10_datagram.py: with msg_namelen 0, recvmsg writes no
    address into msg_name, and returns the address's real length in
    msg_namelen all the same."""
    with unix_socket(socket.SOCK_DGRAM) as collector, \
            unix_socket(socket.SOCK_DGRAM) as logger:
        collector.bind(str(tmp / "log.sock"))
        logger.bind(str(tmp / "peer.sock"))
        logger.sendto(b"hello", str(tmp / "log.sock"))
        buf, addr = ctypes.create_string_buffer(64), SockaddrUn()
        iov = Iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
        msg = Msghdr(ctypes.cast(ctypes.byref(addr), ctypes.c_void_p), 0,
                     ctypes.pointer(iov), 1, None, 0, 0)
        assert LIBC.recvmsg(collector.fileno(), ctypes.byref(msg), 0) == 5
        assert msg.msg_namelen == 2 + len(str(tmp / "peer.sock")) + 1
        assert addr.sun_family == 0 and addr.sun_path == b""


# -- lesson 09: a full-duplex stream ---------------------------------------------

def test_a_stream_socket_buffers_about_sndbuf_each_way():
    """lessons/09-full-duplex/README.md, "What this stage does", and the
    variant write-everything-then-read: a stream socket's SO_SNDBUF and
    SO_RCVBUF are net.core.wmem_default and rmem_default, and a peer that
    does not read holds up a writer after about SO_SNDBUF bytes."""
    wmem = int(Path("/proc/sys/net/core/wmem_default").read_text())
    rmem = int(Path("/proc/sys/net/core/rmem_default").read_text())
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        sndbuf = a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert sndbuf == wmem
        assert a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == rmem
        a.setblocking(False)
        sent = 0
        while True:
            try:
                sent += a.send(bytes(65536))
            except BlockingIOError:
                break
        assert sndbuf // 2 <= sent <= 2 * sndbuf


def test_shut_wr_is_end_of_file_for_the_peer_and_the_answer_still_comes():
    """lessons/09-full-duplex/README.md, "Half-close": after shutdown(fd,
    SHUT_WR) the peer reads what was sent, then 0; its answer still comes
    back, and our own writes fail with EPIPE."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        a.settimeout(5)
        b.settimeout(5)
        a.sendall(b"count these")
        a.shutdown(socket.SHUT_WR)
        assert b.recv(100) == b"count these"
        assert b.recv(100) == b""
        b.sendall(b"11\n")
        assert a.recv(100) == b"11\n"
        assert error_of(a.send, b"more", socket.MSG_NOSIGNAL) == "EPIPE"
        b.close()
        assert a.recv(100) == b""


def test_a_read_of_0_bytes_returns_0_with_input_waiting():
    """lessons/09-full-duplex/README.md, "Both directions at once": read
    with a count of 0 returns 0 at once, on a pipe and on a stream socket
    with bytes waiting: not end of file; those bytes are read next."""
    r, w = os.pipe()
    try:
        os.write(w, b"waiting")
        assert os.read(r, 0) == b""
        assert os.read(r, 100) == b"waiting"
    finally:
        os.close(r)
        os.close(w)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        a.sendall(b"waiting")
        assert os.read(b.fileno(), 0) == b""
        assert os.read(b.fileno(), 100) == b"waiting"


def test_a_close_with_data_unread_is_read_as_econnreset_after_the_data():
    """lessons/09-full-duplex/README.md, "When the other side goes", and
    the variant close-with-data-unread: a peer that closes with some of
    what we sent unread makes our read return its last bytes, then fail
    with ECONNRESET once, then return 0; a peer that read everything
    before its close gives 0 at once."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a:
        a.settimeout(5)
        a.sendall(b"twenty bytes, unread")
        assert b.recv(5) == b"twent"
        b.sendall(b"BYE")
        b.close()
        assert a.recv(64) == b"BYE"
        assert error_of(a.recv, 64) == "ECONNRESET"
        assert a.recv(64) == b""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a:
        a.settimeout(5)
        a.sendall(b"all read")
        assert b.recv(64) == b"all read"
        b.close()
        assert a.recv(64) == b""


def test_poll_reports_pollhup_once_the_peer_has_ended_both_directions():
    """lessons/09-full-duplex/README.md, "When the other side goes", and
    lessons/08-poll/README.md, "Writing without waiting": after the peer's
    shutdown of its writing side alone, poll reports the socket readable
    (end of file) without POLLHUP, at once, every time it is asked, a read
    of 0 or not; once both directions are shut down (close, or
    SHUT_RDWR), POLLHUP, asked for or not."""
    for end in ("close", "shutdown"):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with a, b:
            p = select.poll()
            p.register(a, 0)
            b.shutdown(socket.SHUT_WR)
            assert p.poll(0) == []
            p.modify(a, select.POLLIN)
            assert p.poll(0) == [(a.fileno(), select.POLLIN)]
            assert a.recv(64) == b""
            for _ in range(3):
                assert p.poll(0) == [(a.fileno(), select.POLLIN)]
            p.modify(a, 0)
            if end == "close":
                b.close()
            else:
                b.shutdown(socket.SHUT_RDWR)
            assert p.poll(0) == [(a.fileno(), select.POLLHUP)]


def test_poll_reports_pollin_with_pollhup_when_the_peer_closes_outright():
    """lessons/08-poll/README.md, "What to look for in the trace" and "One
    loop, every client", and the check of a client that closes its socket
    outright: asked for POLLIN, the server's socket reports POLLIN|POLLHUP,
    not POLLIN alone, and POLLERR too when the peer left its reply unread;
    the read then returns 0, or fails with ECONNRESET."""
    for unread in (False, True):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with a, b:
            b.sendall(b"hello")
            assert a.recv(64) == b"hello"
            a.sendall(b"HELLO")
            if not unread:
                assert b.recv(64) == b"HELLO"
            b.close()
            p = select.poll()
            p.register(a, select.POLLIN)
            assert p.poll(0) == [(a.fileno(), select.POLLIN | select.POLLHUP
                                  | (select.POLLERR if unread else 0))]
            assert error_of(a.recv, 64) == ("ECONNRESET" if unread else None)


def test_a_length_of_four_bytes_in_network_order_is_big_endian():
    """lessons/09-full-duplex/README.md, "Messages on a byte stream", and
    the variant message-in-one-read: htonl puts the most significant byte
    first, and the 4 bytes ", fu" read as a length make 740320885."""
    assert struct.pack("=I", socket.htonl(20)) == b"\0\0\0\x14"
    assert struct.unpack("!I", b", fu")[0] == 740320885


def test_poll_on_a_datagram_sender_does_not_see_the_receiver_s_queue(tmp):
    """trace/TRACE.md, Waiting: why a sendto is not announced as a wait.
    Once the receiver's queue is full, a sendto to it would wait (a
    non-blocking one fails with EAGAIN), yet poll calls the unconnected
    sender writable."""
    with unix_socket(socket.SOCK_DGRAM) as receiver, \
            unix_socket(socket.SOCK_DGRAM) as sender:
        receiver.bind(str(tmp / "in.sock"))
        sender.setblocking(False)
        sent = 0
        while error_of(sender.sendto, b"x", str(tmp / "in.sock")) is None:
            sent += 1
            assert sent < 100_000, "the receiver's queue never filled"
        assert error_of(sender.sendto, b"x", str(tmp / "in.sock")) == \
            "EAGAIN"
        ready = select.poll()
        ready.register(sender, select.POLLOUT)
        assert ready.poll(0) == [(sender.fileno(), select.POLLOUT)]
