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
