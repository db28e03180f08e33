"""Clients of the lab's own for part 2's checks, and what /proc says of a
server: many clients at once, a silent one, one that never reads.

A Peer is a Python client with every call bounded: its socket stays
blocking (so connect waits for room in a full backlog, as the lab's client
does) but has a send and a receive timeout (SO_SNDTIMEO, SO_RCVTIMEO), so
no connect, send or receive waits longer than asked.  exchanges() runs
many at once, in threads, and says what each one got.

Not a pytest module: its name has no test_ prefix.
"""
import fcntl
import os
import platform
import signal
import socket
import struct
import termios
import threading
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor

import labrun


def timeval(seconds):
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


class Peer:
    """A client of the socket file path; every call waits at most
    timeout seconds.  error is the OSError of connect, or None."""

    def __init__(self, path, timeout=labrun.WAIT):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                             timeval(timeout))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                             timeval(timeout))
        self.error = self.send_error = None
        try:
            self.sock.connect(str(path))
        except OSError as e:
            self.error = e

    def send(self, data):
        """Sends data whole; False when the timeout or an error stopped
        it (send_error says which)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError as e:
            self.send_error = e
            return False

    def receive(self, size=None):
        """(bytes, how it ended: "size", "eof", "reset" or "timeout"): size
        bytes, or everything until end of file."""
        got = b""
        while size is None or len(got) < size:
            try:
                chunk = self.sock.recv(65536 if size is None else
                                       min(65536, size - len(got)))
            except (BlockingIOError, socket.timeout):
                return got, "timeout"
            except OSError:
                return got, "reset"
            if not chunk:
                return got, "eof"
            got += chunk
        return got, "size"

    def close(self):
        self.sock.close()


class Exchange:
    """What one client of exchanges() got."""

    def __init__(self, message, reply=b"", how="no connection", error=None,
                 seconds=0.0):
        self.message, self.reply, self.how = message, reply, how
        self.error, self.seconds = error, seconds

    @property
    def whole(self):
        """The exact reply, then end of file."""
        return self.reply == self.message.upper() and self.how == "eof"


def exchange(path, message, timeout, watch=None):
    """A client: connect, send message, shut down writing, and read the
    reply until end of file; it reads while it sends (a thread sends), as
    a server that answers as it reads needs whatever the sizes of its
    writes and of the socket buffers.  watch (a Hopeless) may end its
    wait before the timeout: then it reports a timeout."""
    started = time.monotonic()
    peer = Peer(path, timeout)
    try:
        if peer.error:
            if watch:
                watch.add(peer, None)
            return Exchange(message, error=peer.error)

        def send():
            if peer.send(message):
                try:
                    peer.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # the server has gone: the reply says how

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        if watch:
            watch.add(peer, sender)
        reply, how = peer.receive()
        if watch and watch.gave_up.is_set():
            how = "timeout"
        sender.join(timeout + 1)
        if peer.send_error is not None or sender.is_alive():
            gone = isinstance(peer.send_error, (BrokenPipeError,
                                                ConnectionResetError))
            return Exchange(message, how="closed before the request" if gone
                            else "send timed out", error=peer.send_error)
        return Exchange(message, reply, how,
                        seconds=time.monotonic() - started)
    finally:
        peer.close()


class Hopeless:
    """Sees, while clients wait for their replies, that none can come:
    every client has sent all it sends, and every program of the lab still
    running is in a loop that moves nothing (Lab.spinning), with no child
    alive, and makes no other call while it runs on a CPU long enough to
    go round its loop thousands of times (the clients' bytes are there to
    be seen).  It then ends the clients' waits (give_up)."""

    LOOPS = 0.02  # seconds of CPU

    def __init__(self, lab, count):
        self.lab, self.count = lab, count
        self.clients, self.lock = [], threading.Lock()
        self.gave_up = threading.Event()

    def add(self, peer, sender):
        with self.lock:
            self.clients.append((peer, sender))

    def sent(self):
        with self.lock:
            return len(self.clients) == self.count and \
                not any(s and s.is_alive() for _, s in self.clients)

    def looping(self):
        alive = [p for p in self.lab.procs if not p.has_exited()]
        return alive if alive and all(
            self.lab.spinning(p) and
            all(labrun.process_state(c)[0] in ("Z", None)
                for c in labrun.descendants(p.pid)) for p in alive) else []

    def hopeless(self):
        if not self.sent():
            return False
        self.lab.collector.sync()
        alive = self.looping()
        if not alive:
            return False
        lines = self.lab.collector.read_lines
        cpu = [labrun.cpu_seconds(p.pid) for p in alive]
        deadline = time.monotonic() + labrun.WAIT / 4
        while time.monotonic() < deadline:
            now = [labrun.cpu_seconds(p.pid) for p in alive]
            if None in now + cpu:
                return False
            if all(b - a >= self.LOOPS for a, b in zip(cpu, now)):
                self.lab.collector.sync()
                return self.lab.collector.read_lines == lines and \
                    self.looping() == alive
            time.sleep(0.005)
        return False

    def give_up(self):
        self.gave_up.set()
        with self.lock:
            for peer, _ in self.clients:
                try:
                    peer.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def exchanges(lab, messages, timeout=labrun.WAIT):
    """Every message sent by a client of its own, all at once: [Exchange].
    What the programs traced meanwhile has been read when it returns.  The
    clients wait for their replies until timeout, or until no program of
    the lab can send one (Hopeless)."""
    path = lab.dir / "lab.sock"
    watch = Hopeless(lab, len(messages))
    with ThreadPoolExecutor(max_workers=len(messages)) as pool:
        waits = [pool.submit(exchange, path, m, timeout, watch)
                 for m in messages]
        while not futures.wait(waits, timeout=0.05)[1] == set():
            if watch.hopeless():
                watch.give_up()
                break
        done = [w.result() for w in waits]
    lab.collector.sync()
    return done


def messages(count, size=0):
    """count different messages, of size bytes more or less."""
    return [(f"client {n:03d} says hello. " * (1 + size // 25))[:max(size,
            25)].encode() for n in range(count)]


def silent(lab, server, timeout=labrun.WAIT):
    """A client that connects and says nothing; returns it once the server
    has accepted it, or None."""
    since = time.monotonic_ns()
    peer = Peer(lab.dir / "lab.sock", timeout)
    if peer.error:
        return None
    lab.peers.append(peer.sock)
    taken = lab.wait_for(labrun.ACCEPTS, proc=server, timeout=timeout,
                         where=lambda e: e["ret"] >= 0 and e["ts"] > since)
    return peer if taken else None


class Hog(threading.Thread):
    """A client that sends size bytes (data, if given) and reads nothing: a
    thread, since its send waits once the buffers are full.  sent says how
    far it got.  Its send may wait as long as a check takes to serve others
    before it reads (leave() wakes it at once)."""

    def __init__(self, lab, size, timeout=labrun.WAIT * 10, data=None):
        super().__init__(daemon=True)
        self.peer = Peer(lab.dir / "lab.sock", timeout)
        lab.peers.append(self.peer.sock)
        self.data = data if data is not None else \
            (b"abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
        self.sent = 0
        self.start()

    def leave(self):
        """Leaves at once: shutdown wakes the thread's send (a close alone
        would wait until that send returns), then close."""
        try:
            self.peer.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.join(labrun.WAIT)
        self.peer.sock.close()

    def waits(self):
        """Whether its send sleeps, as /proc shows the thread: the buffers
        between it and the server are full."""
        tid = self.native_id
        return tid is not None and self.is_alive() and \
            blocked_in(tid) == ("sendto", self.peer.sock.fileno())

    def run(self):
        if self.peer.error:
            return
        view = memoryview(self.data)
        while self.sent < len(self.data):
            try:  # in pieces, so that sent says how far it got
                self.sent += self.peer.sock.send(
                    view[self.sent:self.sent + 4096])
            except OSError:
                return


def unread(sock):
    """Whether bytes sent on sock wait in its peer's socket, unread
    (SIOCOUTQ: what the sends hold of the kernel's memory until the peer
    has read them); False once sock is closed."""
    try:
        held = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
    except (OSError, ValueError):
        return False
    return struct.unpack("i", held)[0] > 0


# -- what /proc says ----------------------------------------------------------

def open_fds(pid):
    """The descriptors pid has open, as numbers, or None once it has gone;
    the trace's own (200 and above) left out."""
    try:
        return sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd")
                      if int(n) < 200)
    except OSError:
        return None


def zombies(pid):
    """The pids of pid's children that have ended and are not reaped."""
    return [child for child in labrun.descendants(pid)
            if labrun.process_state(child)[1] == pid and
            labrun.process_state(child)[0] == "Z"]


def children(pid):
    """pid's children, now (zombies included)."""
    return [child for child in labrun.descendants(pid)
            if labrun.process_state(child)[1] == pid]


def held(pid, sig):
    """How process pid keeps signal sig from its handler or its default
    action, as /proc/PID/status says: "blocks (SigBlk in
    /proc/PID/status)", "ignores (SigIgn ...)", or None."""
    for verb, field in (("blocks", "SigBlk"), ("ignores", "SigIgn")):
        if blocks(pid, sig, field):
            return f"{verb} {signal.Signals(sig).name} ({field} in " \
                f"/proc/{pid}/status)"
    return None


def blocks(pid, sig, field="SigBlk"):
    """Whether process pid's main thread blocks signal sig (SigBlk of
    /proc/PID/status; field="SigIgn": ignores it), or None when it cannot
    be read."""
    masks = labrun.signal_masks(pid)
    if masks is None or field not in masks:
        return None
    return bool(masks[field] & 1 << (sig - 1))


def nonblocking(pid, fd):
    """Whether fd of process pid has O_NONBLOCK (/proc/PID/fdinfo), or None
    when it cannot be read."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & os.O_NONBLOCK)
    except OSError:
        return None
    return None


def wait_state(pid, states, timeout=labrun.WAIT):
    """Waits until process pid is in one of states ("T", "Z"...); True if
    it is, False when timeout passed or it has gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = labrun.process_state(pid)[0]
        if state is None:
            return False
        if state in states:
            return True
        time.sleep(0.001)
    return False


def settled(lab, server, timeout=labrun.WAIT):
    """Waits until the server and its children sleep, with no zombie among
    them (labrun.settle), whatever it was doing: True once they do.  One
    in a loop that moves nothing (Lab.spinning) never will: False, as
    soon as every process awake is seen in such a loop, and nothing else
    is traced, for a few looks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.has_exited():
        pids = [server.pid, *labrun.descendants(server.pid)]
        awake = [pid for pid in pids
                 if labrun.process_state(pid)[0] not in ("S", None)]
        if not awake:
            lab.collector.sync()
            return True
        if all(map(lab.spinning, awake)) and \
                still(lab, lambda: all(map(lab.spinning, awake))):
            return False
        time.sleep(0.001)
    return False


def still(lab, holds, looks=3, gap=0.02):
    """Whether holds() is true at each of looks looks, gap seconds apart,
    with nothing traced between the first and the last (every line written
    before a look is read first)."""
    seen = None
    for n in range(looks):
        lab.collector.sync()
        now = len(lab.collector.events)
        if not holds() or seen not in (None, now):
            return False
        seen = now
        if n < looks - 1:
            time.sleep(gap)
    return True


# The numbers of the system calls a server may sleep in, by machine
# (asm/unistd.h): /proc/PID/syscall gives the number.
SYSCALLS = {
    "x86_64": {0: "read", 1: "write", 7: "poll", 23: "select", 43: "accept",
               44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg",
               61: "wait4", 232: "epoll_wait", 270: "pselect6",
               271: "ppoll", 288: "accept4", 247: "waitid", 34: "pause",
               130: "rt_sigsuspend"},
    "aarch64": {63: "read", 64: "write", 73: "ppoll", 72: "pselect6",
                202: "accept", 242: "accept4", 206: "sendto", 207: "recvfrom",
                211: "sendmsg", 212: "recvmsg", 260: "wait4", 95: "waitid",
                22: "epoll_pwait", 133: "rt_sigsuspend"},
}


def blocked_in(pid):
    """(the call process pid sleeps in, its first argument) as
    /proc/PID/syscall shows it ("write", 5), or None when it runs, has
    gone, or the call is not known here.  A write of the trace itself
    (labrun.writes_its_trace), which waits while the collector is behind
    on a loaded machine, is the program running, not a sleep of its own."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            fields = f.read().split()
        number, first = int(fields[0]), int(fields[1], 16)
    except (OSError, ValueError, IndexError):
        return None
    name = SYSCALLS.get(platform.machine(), {}).get(number)
    if name is None or labrun.writes_its_trace(pid):
        return None
    return name, first


# The calls in which a process waits for one of several descriptors.
POLLING_CALLS = {"poll", "ppoll", "select", "pselect6", "epoll_wait",
                 "epoll_pwait"}

# The calls a process sleeps in while it waits for something to happen
# (not a write, which waits only for room): the wait a check can take
# for the process's own.
WAITING_CALLS = {"read", "poll", "select", "accept", "accept4", "recvfrom",
                 "recvmsg", "epoll_wait", "pselect6", "ppoll", "wait4",
                 "waitid", "epoll_pwait"}
# Of those, the ones that wait for a peer or a signal, not for children.
EVENT_WAITS = WAITING_CALLS - {"wait4", "waitid"}


def waits_with(pid, sig):
    """Whether process pid sleeps in a call that waits for an event (not
    for its children) with signal sig kept from it: ignored, or blocked
    and pending, before and after the sleep is seen (a ppoll or a
    sigsuspend that unblocks it while it sleeps would have taken it).
    Sent to it, sig has changed nothing, and will not."""
    def kept():
        masks = labrun.signal_masks(pid) or {}
        bit = 1 << (sig - 1)
        pending = masks.get("SigPnd", 0) | masks.get("ShdPnd", 0)
        return bool(masks.get("SigIgn", 0) & bit or
                    pending & masks.get("SigBlk", 0) & bit)
    return kept() and (blocked_in(pid) or ("",))[0] in EVENT_WAITS and \
        kept()


def paused(pid):
    """Whether process pid sleeps in pause(2) or sigsuspend(2), with no
    signal pending: only a signal, which nobody has sent, ends that
    sleep."""
    if labrun.process_state(pid)[0] != "S" or \
            (blocked_in(pid) or ("",))[0] not in ("pause", "rt_sigsuspend"):
        return False
    return labrun.pending_signals(pid) == 0


def waits(pid):
    """Whether process pid sleeps in a call that waits for an event (for
    a client, a child...), as /proc/PID/syscall shows it."""
    return labrun.process_state(pid)[0] == "S" and \
        (blocked_in(pid) or ("",))[0] in WAITING_CALLS


def idle_for(lab, proc, seconds):
    """Watches proc for seconds (less, once it has made 10 calls) while
    nothing should happen: (the calls it made, whether it spins).  A
    process that sleeps makes no call and is never runnable; a loop is
    always on a CPU or waiting for one (runnable_seconds), however little
    CPU a loaded machine gives it, and the trace, which counts a loop's
    calls only at 10, 100, 1000..., may show none of a loop long under
    way."""
    since, start = time.monotonic_ns(), time.monotonic()
    before = runnable_seconds(proc.pid) or 0

    def calls():
        return lab.calls(proc=proc, where=lambda e: e["ts"] >= since)
    lab.wait_until(lambda: calls() >= 10, proc=proc, timeout=seconds)
    made = calls()
    runnable = (runnable_seconds(proc.pid) or before) - before
    return made, made >= 10 or runnable >= (time.monotonic() - start) / 4


def times_run(pid):
    """How many times process pid has been put on a CPU (the third field
    of /proc/PID/schedstat), or None once it has gone: unchanged, the
    process has not woken meanwhile."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return None


def sleeps_through(pid, calls, holds):
    """Whether process pid sleeps in one of calls, without waking, from
    before holds() is asked until after it answers, and holds() is true:
    a call that slept through what holds() saw does not wait for it (a
    poll that sleeps while a client's bytes wait unread does not ask
    POLLIN of its socket)."""
    runs, call = times_run(pid), blocked_in(pid)
    if runs is None or not call or call[0] not in calls or not holds():
        return False
    return blocked_in(pid) == call and times_run(pid) == runs


def runnable_seconds(pid):
    """The time process pid has spent on a CPU or waiting in a run queue
    for one (/proc/PID/schedstat, in ns), or None once it has gone: a
    process that never sleeps adds up all the time that passes, however
    loaded the machine."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            on_cpu, waiting = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    return (int(on_cpu) + int(waiting)) / 1e9
