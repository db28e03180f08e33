"""What the lesson READMEs say about Linux, observed on the running kernel.

The READMEs state how Linux behaves where man pages are vague or other
systems differ: the backlog, listen on an unbound socket, abstract names,
short writes, SIGPIPE, ECONNRESET.  Each test here makes that happen, so a
kernel that behaves otherwise fails the suite instead of the text going
stale.  Python's socket module makes the same system calls as the lab's C.
"""
import errno
import os
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


# -- lesson 01 --------------------------------------------------------------

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
