"""Lesson 09: a full-duplex stream.  The client sends standard input of any
size while it prints the reply, with poll(2) on both, and shuts down its
writing side at the end of its input (shutdown(2), SHUT_WR), so that a
server that answers only after end of file still answers; the server
echoes any amount with a bounded buffer per client; with -m both speak in
messages, a 4-byte length then the bytes, whatever the reads cut them into.

The checks send 10 MiB of binary data through the lab's own client and
server, put the client in front of servers of the checks' own (one that
answers only after end of file, one that leaves early, one that speaks in
messages) and of socat, and force what scheduling would not show with
LAB_FAULTS: reads that return a few bytes at a time, so that a message
arrives in pieces; a stopped server (SIGSTOP), so that several messages
arrive in one read.
"""
import fcntl
import functools
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import termios
import threading
import time

import pytest

import labrun
import peers
import tracetext
from conftest import (Drain, as_run, closed_once, finding_of, frozen,
                      receive, receive_from, sent_to,
                      server_finishes_short_writes, sigaction_zeroed,
                      timing_out, tool, watched_for_input_after_end_of_file)
from tracetext import cut

LESSON = "09-full-duplex"
QUICK = labrun.WAIT / 2  # for a reply that a correct program gives at once
BIG = 10 * 1024 * 1024  # far more than both socket buffers hold
HEADER_SIZE, MAX_MESSAGE = 4, 4096  # -m, as the README says
SOCKET_CALLS = ("write", "send", "sendto", "sendmsg")
# The programs that a check runs built with sanitizers (tests/mistakes.py
# builds them beforehand).
SANITIZED = ("client", "server")


def serving(lab, *args, env=None):
    """The server, listening, in a process group of its own."""
    server = lab.start("server", *args, env=env, group=0)
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0)
    return server


@functools.lru_cache(maxsize=4)
def binary(size, seed=9):
    """size bytes of every value, NUL bytes among them, the same each run
    (made once per process: bytes are never changed in place)."""
    return random.Random(seed).randbytes(size // 64) * 64 + bytes(size % 64)


def frame(body):
    """A message as the lab's programs send it with -m."""
    return struct.pack("!I", len(body)) + body


def unframe(data):
    """(the messages in data, the bytes left after the last whole one)."""
    found = []
    while len(data) >= 4:
        (size,) = struct.unpack("!I", data[:4])
        if len(data) < 4 + size:
            break
        found.append(data[4:4 + size])
        data = data[4 + size:]
    return found, data


def first_difference(got, wanted):
    """The offset of the first byte that differs (or where one ends): the
    blocks are compared whole first, the bytes only in the first block
    that differs, so that mebibytes take no time."""
    size = min(len(got), len(wanted))
    start, block = 0, 1 << 16
    while start < size and got[start:start + block] == \
            wanted[start:start + block]:
        start += block
    for i in range(start, min(start + block, size)):
        if got[i] != wanted[i]:
            return i
    return size


def socket_fd(lab, client, wait=False):
    """The client's connected socket: the fd its connect used.  With wait,
    once its trace shows that connect: a server's accept may return before
    the client's connect does, and before the trace has said so."""
    if wait:
        done = lab.wait_for("connect", proc=client, ret=0)
        return done["args"]["fd"] if done else None
    done = lab.events("connect", proc=client, ret=0)
    return done[0]["args"]["fd"] if done else None


def sleeping_still(lab, client, calls, fd=None):
    """(the call, the bytes of reply printed) if the client sleeps in one
    of calls (on fd, if given) three looks in a row, 50 ms apart, while
    nothing moves (its output and the trace stay as they are), else None."""
    before = None
    for _ in range(3):
        now = peers.blocked_in(client.pid)
        if not now or now[0] not in calls or (fd is not None and
                                              now[1] != fd):
            return None
        seen = (len(client.stdout_bytes), len(lab.collector.events))
        if seen != before and before is not None:
            return None
        before = seen
        lab.wait_until(lambda: False, proc=client, timeout=0.05)
    return now[0], before[0]


def stuck_writing(lab, client):
    """A sentence if the client sleeps in a write to its socket and nothing
    moves (its output and the trace stay as they are), else None: a client
    that writes everything before it reads."""
    fd = socket_fd(lab, client)
    stuck = sleeping_still(lab, client, SOCKET_CALLS, fd)
    if stuck is None:
        return None
    call, printed = stuck
    return (f"the client sleeps in {call}({fd}) with {printed} bytes "
            "of the reply printed, and "
            "nothing moves: it writes before it reads. The server answers "
            "as it reads, and stops reading while its answer waits; once "
            "both directions' socket buffers are full, the client waits for "
            "the server to read and the server for the client to read: a "
            "deadlock. Watch standard input and the socket with poll, and "
            "read the reply whenever the socket is readable")


def stuck_reading(lab, client):
    """A sentence if the client has sent everything, never shut down its
    writing side, and sleeps waiting for more of the reply while nothing
    moves, else None."""
    if shut_down(lab, client):
        return None
    stuck = sleeping_still(lab, client, ("read", "recvfrom", "poll"))
    if stuck is None:
        return None
    call, printed = stuck
    return (f"the client sleeps in {call} with {printed} bytes of the "
            "reply printed, and nothing moves; it never called shutdown. "
            "The server answers what it has read and waits for more: it "
            "learns that nothing more comes only when its read returns 0. "
            "At the end of the input, shutdown(fd, SHUT_WR), then read the "
            "rest of the reply until the server's end of file")


def stuck_not_reading(lab, client):
    """A sentence if the client sleeps in a poll that does not ask for
    POLLIN on its socket, before the server's end of file, while nothing
    moves, else None: a client that reads the reply only after its
    input."""
    fd = socket_fd(lab, client)
    polls = lab.events("poll", proc=client, event="wait")
    ended = [e for e in lab.made(READS, proc=client)
             if e["args"].get("fd") == fd and e["ret"] <= 0]
    if fd is None or not polls or ended or \
            any(f.get("fd") == fd and "POLLIN" in str(f.get("events"))
                for f in polls[-1]["args"].get("fds") or []):
        return None
    stuck = sleeping_still(lab, client, ("poll",))
    if stuck is None:
        return None
    return (f"the client sleeps in poll with {stuck[1]} bytes of the reply "
            f"printed, and nothing moves: its poll does not ask for POLLIN "
            f"on its socket, fd {fd} ({polls[-1]['file']}:"
            f"{polls[-1]['line']}), so it reads no reply while it sends. The "
            "server answers as it reads, and stops reading while its answer "
            "waits; once the buffers are full, the client's sends find no "
            "room and each side waits for the other. Ask for POLLIN on the "
            "socket until the server's end of file, and read the reply "
            "whenever it is readable")


def stuck_not_sending(lab, client):
    """A sentence if the client's last send on its socket found no room
    (EAGAIN) or took part of what it was given, and it sleeps in a poll
    that does not ask for POLLOUT on that socket while nothing moves, else
    None: a client that leaves the rest of its queue unsent, waiting for a
    reply to bytes it has not sent."""
    fd = socket_fd(lab, client)
    polls = lab.events("poll", proc=client, event="wait")
    sends = [e for e in lab.events(SOCKET_CALLS, proc=client)
             if e["args"].get("fd") == fd]
    if fd is None or not polls or not sends or \
            any(f.get("fd") == fd and "POLLOUT" in str(f.get("events"))
                for f in polls[-1]["args"].get("fds") or []):
        return None
    last = sends[-1]
    asked = last["args"].get("count")
    if not (last.get("errno") in ("EAGAIN", "EWOULDBLOCK") or
            (isinstance(asked, int) and 0 <= last["ret"] < asked)):
        return None
    if sleeping_still(lab, client, ("poll",)) is None:
        return None
    return (f"the client sleeps in poll with bytes of its queue unsent, and "
            f"nothing moves: its last {tracetext.call_text(last)} "
            f"({last['file']}:{last['line']}) left some of the queue, and "
            f"its poll does not ask for POLLOUT on its socket, fd {fd} "
            f"({polls[-1]['file']}:{polls[-1]['line']}), so nothing wakes "
            "it to send the rest; the server waits for those bytes, and the "
            "client for their reply. Ask for POLLOUT while out_len > 0, and "
            "send when poll reports it")


def pollout_unanswered(lab, client):
    """A sentence if poll reported POLLOUT on the client's socket again and
    again since its last send, and it sent nothing, else None: a client
    that asks for POLLOUT and does not send when it comes, and goes round
    its loop without sleeping."""
    fd = socket_fd(lab, client)
    sends = [e for e in lab.events(SOCKET_CALLS, proc=client)
             if e["args"].get("fd") == fd]
    since = sends[-1]["ts"] if sends else 0
    ready = [e for e in lab.events("poll", proc=client, event=None)
             if e["ts"] > since and
             any(r.get("fd") == fd and "POLLOUT" in str(r.get("revents"))
                 for r in (e.get("args") or {}).get("ready") or [])]
    times = sum(tracetext.calls_of(e) for e in ready)
    if fd is None or times < 3:
        return None
    first = ready[0]
    return (f"the client to send its queue when poll reports POLLOUT: poll "
            f"({first['file']}:{first['line']}) reported POLLOUT on its "
            f"socket, fd {fd}, {times:,} times since its last send, and it "
            "sent nothing, going round its loop without sleeping. When "
            "fds[1].revents has POLLOUT, call send_queued in that turn, "
            "whether or not standard input was read")


def finished(lab, client, timeout):
    """Waits for the client to end; None when it did, else why not.  A
    client that still prints its reply when the time is up is slow (small
    reads and writes, each traced, on a busy machine), not stuck: it gets
    more time while its output grows, up to four times the timeout."""
    started = time.monotonic()
    deadline, printed = started + timeout, len(client.stdout_bytes)
    while True:
        now = time.monotonic()
        if now >= deadline:
            grown = len(client.stdout_bytes)
            if grown == printed or now >= started + 4 * timeout:
                break
            deadline, printed = now + timeout / 4, grown
        if client.wait(0.1) is not None:
            return None
        why = stuck_writing(lab, client) or stuck_not_reading(lab, client) \
            or stuck_not_sending(lab, client) or stuck_reading(lab, client)
        if why:
            return why
    if client.wait(0.1) is not None:
        return None
    unanswered = pollout_unanswered(lab, client)
    if unanswered:
        return unanswered
    return (f"the client to end; after {now - started:.0f} s it still runs"
            + (f", its reply stuck at {printed} bytes printed"
               if printed else ""))


def shut_down(lab, client):
    """The client's shutdown of its writing side, or None."""
    return [e for e in lab.events("shutdown", proc=client, ret=0)
            if str(e["args"].get("how")) in ("SHUT_WR", "SHUT_RDWR", "1",
                                             "2")]


def shutdown_mistake(lab, client, wire=None):
    """A sentence if the client's shutdown lost part of the exchange, else
    None: it shut down its reading side too (SHUT_RDWR, SHUT_RD), or it shut
    down writing with fewer than wire bytes sent on its socket."""
    done = lab.made("shutdown", proc=client, where=lambda e: e["ret"] == 0)
    for e in done:
        how = str(e["args"].get("how"))
        if how in ("SHUT_RDWR", "SHUT_RD", "0", "2"):
            return (f"the client called shutdown({e['args'].get('fd')}, "
                    f"{how}): that ends its reading side too, and the reply "
                    "the server sends after the client's end of file is "
                    "never read. At the end of the input shut down only "
                    "writing, shutdown(fd, SHUT_WR), and read on until the "
                    "server's end of file")
    fd = socket_fd(lab, client)
    if not done or wire is None or fd is None:
        return None
    before = [e for e in lab.made(SOCKET_CALLS, proc=client)
              if e["args"].get("fd") == fd and e["ret"] > 0 and
              e["ts"] <= done[0]["ts"]]
    sent = sum(e["ret"] for e in before)
    if sent >= wire:
        return None
    unread = input_unread(lab, client, done[0], sent, wire)
    if unread:
        return unread
    return (f"the client shut down its writing side with {sent} of the "
            f"{wire} bytes of its input sent on the socket: the rest, still "
            "in its queue when the input ended, was never sent. Go on "
            "sending while anything is queued, and shut down once the queue "
            "is empty")


def input_reads(lab, client, until=None):
    """The client's reads of its standard input (before until, an event),
    when the trace has them: only a socket's are traced (stdin_socket)."""
    return [e for e in lab.made("read", proc=client)
            if e["args"].get("fd") == 0 and
            (until is None or e["ts"] <= until["ts"])]


def nothing_asked(reads):
    """The reads of standard input that asked for 0 bytes, and got them."""
    return [e for e in reads if e["args"].get("count") == 0 and
            e["ret"] == 0]


def zero_count_read(taken, size):
    return (f"the client called read(0, buf, 0), a count of 0, with no room "
            "left in its queue: a read that asks for 0 bytes returns 0 at "
            "once, however much input is left, and that 0 is not end of "
            f"input; it read {taken} of the {size} bytes of its input. Leave "
            "standard input out of the poll set while the queue is full (fd "
            "-1), so that every read of it asks for at least one byte")


def input_unread(lab, client, shutdown, sent, wire):
    """A sentence if the client shut down its writing side before it had
    read its input to the end (when the trace shows its reads), else
    None."""
    reads = input_reads(lab, client, shutdown)
    if not reads:
        return None  # a file: its reads are not traced
    taken = sum(e["ret"] for e in reads if e["ret"] > 0)
    if any(e["ret"] == 0 and e["args"].get("count") for e in reads):
        return None  # it read the end of its input: the rest was queued
    if nothing_asked(reads):
        return (zero_count_read(taken, wire) + f"; it took it for the end, "
                f"and shut down its writing side with {sent} bytes sent")
    return (f"the client shut down its writing side with {sent} of the "
            f"{wire} bytes of its input sent, having read {taken} bytes of "
            "standard input and never its end of file (a read that returns "
            "0): the rest was never read. Read standard input until read "
            "returns 0, send all of it, then shut down")


def stdin_socket(lab, data):
    """(a socket for a client's standard input, the thread that writes data
    into it, then its end of file): a client's reads of a socket are traced
    with the count each asked for, read(0, buf, COUNT); those of a file are
    not.  The thread ends once all is written, or the client has gone."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    mine.settimeout(labrun.WAIT * 4)
    lab.peers.append(mine)

    def feed():
        try:
            mine.sendall(data)
            mine.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client has gone, or stopped reading

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    return theirs, feeder


READS = ("read", "recv", "recvfrom", "recvmsg")


def stopped_reading(lab, client):
    """A sentence if the client ended without reading the server's end of
    file (no read of its socket returned 0 or failed), else None."""
    fd = socket_fd(lab, client)
    if fd is None or not client.has_exited():
        return None
    reads = [e for e in lab.made(READS, proc=client)
             if e["args"].get("fd") == fd]
    if not reads or any(e["ret"] <= 0 for e in reads):
        return None
    last = reads[-1]
    asked = last["args"].get("count")
    short = isinstance(asked, int) and last["ret"] < asked
    return (f"the client stopped reading the reply before the server's end "
            f"of file: its last {last['call']}({fd}, buf, {asked}) returned "
            f"{last['ret']} bytes"
            + (", fewer than it asked for, and it read no more. A short "
               "read returns what has come so far, not the end" if short
               else ", and it read no more")
            + ": read until read returns 0, the server's end of file")


class Answering(threading.Thread):
    """A server of the checks' own, for one client: it reads until end of
    file (or reads `read_only` bytes and closes, once `unread` more bytes
    wait unread in its socket), then answers with answer(what it read),
    sent in pieces."""

    def __init__(self, lab, answer, read_only=None, pieces=1,
                 leave="close", unread=0):
        super().__init__(daemon=True)
        self.listener = lab.listen(timeout=QUICK)
        self.lab, self.answer, self.read_only = lab, answer, read_only
        self.pieces, self.leave, self.unread = pieces, leave, unread
        self.got, self.how, self.sent = b"", "no client", False
        self.start()

    def run(self):
        conn = self.lab.accept(self.listener)
        if conn is None:
            return
        if self.read_only is not None:
            self.got, self.how = receive(conn, self.read_only)
            if self.leave == "shutdown":  # no reset: the socket stays open
                conn.shutdown(socket.SHUT_RDWR)
            elif self.leave == "shut-rd":  # it reads no more, yet may write
                conn.shutdown(socket.SHUT_RD)
                # What was sent before is still queued, and holds the
                # sender's room: taken, to the end of file that the
                # shutdown makes, so that its next send is made, and fails.
                receive(conn)
            else:
                # With the rest of what the client sent unread: once all of
                # it is there, the client's next read fails with ECONNRESET.
                self.lab.wait_until(lambda: queued(conn) >= self.unread,
                                    timeout=QUICK, every=0.01)
                conn.close()
            return
        self.got, self.how = receive(conn)
        if self.how != "eof":
            return
        reply = self.answer(self.got)
        step = max(1, len(reply) // self.pieces)
        try:
            for i in range(0, len(reply), step):
                conn.sendall(reply[i:i + step])
            self.sent = True
        except OSError:
            pass
        conn.close()


    def end(self):
        """Closes the listener and removes its file, for the next one."""
        self.join(QUICK)
        self.lab.peers.remove(self.listener)
        self.listener.close()
        os.unlink(self.lab.dir / "lab.sock")


def queued(conn):
    """The bytes that wait unread in a Python peer's socket (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(conn, termios.FIONREAD,
                                          b"\0" * 4))[0]


def ended_by(client):
    """A sentence for a client killed by a signal, else None."""
    rc = client.returncode
    if rc == -signal.SIGPIPE:
        return ("the client was killed by SIGPIPE: it wrote to a socket "
                "whose reading end the server had closed. Ignore SIGPIPE "
                "(signal(SIGPIPE, SIG_IGN)) or send with MSG_NOSIGNAL, and "
                "take EPIPE as \"the server has gone\"")
    if rc is not None and rc < 0:
        return f"the client was killed by {labrun.signal_name(-rc)}"
    return None


# -- half-close on the server's side ------------------------------------------

def test_the_struct_sigaction_is_zeroed_before_use(lab):
    # First: stray bits in sa_flags can make any check that stops the
    # server fail for another reason.
    sigaction_zeroed(lab, "server", "Your task")


def dropped_at_eagain(lab, server):
    """A sentence if the server closed a client's socket right after a
    write to it failed with EAGAIN (no poll, and no other call on it,
    between), else None: "no room now" taken for a client that has
    gone."""
    lab.collector.sync()  # the failed write came before the client's end
    for e in lab.events(("write", "send"), proc=server):
        if e.get("errno") not in ("EAGAIN", "EWOULDBLOCK"):
            continue
        fd = e["args"].get("fd")
        # The client may see its end before the server's close is traced.
        # A poll or a read first, and the close has another cause (an end
        # of file taken for a client that has gone).
        after = lab.wait_for(
            ("write", "send", "close", "read", "recv", "poll"), proc=server,
            timeout=QUICK, where=lambda x: x["ts"] > e["ts"] and (
                x["call"] == "poll" or x["args"].get("fd") == fd))
        if after is not None and after["call"] == "close":
            return (f"the server to keep a client whose socket has no "
                    f"room now: {e['call']}({fd}) = -1 {e['errno']} "
                    f"({e['file']}:{e['line']}"
                    f"{', made by LAB_FAULTS' if e.get('injected') else ''}"
                    f") and the server closed fd {fd} ({after['file']}:"
                    f"{after['line']}), so the client lost the rest of its "
                    "reply. EAGAIN means \"not now\": keep what is "
                    "pending, ask poll for POLLOUT, and write it then")
    return None


def test_the_server_answers_a_half_closed_client_to_the_end(lab):
    server = serving(lab)
    results = peers.exchanges(lab, [binary(300_000, seed=4),
                                    b"short and half-closed"],
                              timeout=QUICK)
    bad = [r for r in results if not r.whole]
    dropped = bad and dropped_at_eagain(lab, server)
    lab.expect(not dropped, f"{dropped}", "Back-pressure")
    lab.expect(not bad,
               "each client that sends, then shuts down its writing side, "
               "to get its whole reply, then end of file: "
               + "; ".join(f"one sent {len(r.message)} bytes and got "
                           f"{len(r.reply)} ({r.how})" for r in bad)
               + ". Read 0 means no more requests, not that the client has "
               "gone: write what is pending, then close", "Half-close")
    closed_once(lab, "Half-close")


def test_a_reply_still_pending_at_end_of_file_is_written(lab):
    # The server's first two writes fail with EAGAIN (LAB_FAULTS), so that
    # its reply is still pending when it reads the client's end of file,
    # which waits behind the request (the server is stopped while both
    # come), and after it: it polls again, for POLLOUT alone.
    rules = "write#1=EAGAIN,write#2=EAGAIN,send#1=EAGAIN,send#2=EAGAIN"
    server = serving(lab, env={"LAB_FAULTS": rules})
    peer = peers.Peer(lab.dir / "lab.sock", QUICK)
    lab.expect(peer.error is None, f"a client to connect; "
               f"{server.describe()}", "Half-close")
    lab.peers.append(peer.sock)
    lab.require(labrun.ACCEPTS,
                "the server to accept the client", "Half-close",
                proc=server, where=lambda e: e["ret"] >= 0)
    peers.settled(lab, server)
    message = b"a request, then end of file at once"
    with frozen(server):
        peer.send(message)
        peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive()
    dropped = (reply != message.upper() or how != "eof") and \
        dropped_at_eagain(lab, server)
    lab.expect(not dropped, f"{dropped}", "Back-pressure")
    lab.expect(reply == message.upper() and how == "eof",
               "a client that sends a request and shuts down its writing "
               "side at once to get its whole reply, then end of file, when "
               "the reply is still pending as the server reads end of file "
               "(its first writes failed with EAGAIN, LAB_FAULTS): it got "
               f"{cut(reply, 40)} ({how}). Read 0 means no more requests, "
               "not that the client has gone: write what is pending, then "
               "close", "Half-close")
    labrun.settle(lab, server)
    lab.collector.sync()
    found = watched_for_input_after_end_of_file(lab, server)
    read, poll, times, _ = found or ({"args": {}}, {}, 0, 0)
    lab.expect(not found,
               "the server to stop asking poll for POLLIN on a client's "
               "socket once read returned 0 (end of file): after "
               f"read({read['args'].get('fd')}) = 0 ({read.get('file')}:"
               f"{read.get('line')}) it still asked for POLLIN on it in "
               f"{times} poll(s) ({poll.get('file')}:{poll.get('line')}), "
               "while the reply waited (its first two writes failed with "
               f"EAGAIN: `{as_run(lab, 'server', rules)}`). A socket at end "
               "of file is readable for ever: while a client that does not "
               "read yet holds its reply, every poll returns at once and "
               "the loop spins. Leave POLLIN out once at_eof is set",
               "Half-close")


# -- the client: any size, both directions at once, half-close ---------------

def expect_the_round_trip(lab, client, data, why, how=""):
    """The checks of data sent through the client to the lab's server, and
    its reply printed (how: the conditions, said after the input), each
    mistake named before the output it spoils is compared."""
    size = len(data)
    lab.expect(why is None, f"the client to send {size} bytes of standard "
               f"input{how} and print the whole reply: {why}",
               "Both directions at once")
    lab.expect(not (client.returncode and "longer than" in client.stderr),
               f"the client to take standard input of any size: it refused "
               f"{size} bytes ({cut(client.stderr_bytes, 80)}). Read standard "
               "input as it comes, send what the socket takes, and read "
               "what comes back meanwhile: no buffer needs to hold it all",
               "Both directions at once")
    lab.expect(ended_by(client) is None, f"{ended_by(client)}",
               "When the other side goes")
    # Its last send failed with EAGAIN, and it ended there.
    sends = lab.events(SOCKET_CALLS, proc=client)
    full = [e for e in sends[-1:] if e.get("errno") == "EAGAIN"]
    lab.expect(client.returncode == 0 or not full,
               f"the client to take {full[-1]['call'] if full else 'send'} "
               "= -1 EAGAIN for \"no room now\", not for an error: it "
               f"exited with status {client.returncode} after it. The "
               "server reads at its own pace; keep what was not sent at the "
               "front of the queue, and send it when poll reports POLLOUT",
               "Both directions at once")
    got, wanted = client.stdout_bytes, data.upper()
    lost = shutdown_mistake(lab, client, size)
    lab.expect(got == wanted and client.returncode == 0 or lost is None,
               f"{lost}; it printed {len(got)} of {size} bytes", "Half-close")
    early = stopped_reading(lab, client)
    lab.expect(got == wanted or early is None,
               f"{early}; it printed {len(got)} of {size} bytes",
               "Half-close")
    at = first_difference(got, wanted)
    at_nul = b"\0" in (got[at:at + 1], wanted[at:at + 1])
    lab.expect(got == wanted or wanted[at:at + 1] != b"\0",
               f"the client to print every byte of the reply, NUL bytes "
               f"too: its output differs first at byte {at}, where the "
               f"reply has a NUL (\\x00); it printed {len(got)} of "
               f"{len(wanted)} bytes. Count bytes with what read returns, "
               "never with strlen, and write exactly those (a NUL ends a C "
               "string, not a read)", "Both directions at once")
    lab.expect(got == wanted and client.returncode == 0,
               f"the client to print the reply to {size} bytes of binary "
               f"data{how} (NUL bytes among them) byte for byte, and exit "
               f"with 0: it printed {len(got)} bytes, the first difference "
               f"at byte {at} (got {cut(got[at:at + 8], 20)}, wanted "
               f"{cut(wanted[at:at + 8], 20)}); {client.describe()}"
               + (". A NUL is a byte like any other: count bytes with what "
                  "read returns, never with strlen, and write exactly those"
                  if at_nul else ""), "Both directions at once")


def test_the_server_finishes_a_short_write(lab):
    # Lesson 05's check, before the exchanges that cut every write short:
    # there a reply that lost its rest shows only as garbage further on.
    server_finishes_short_writes(lab, "Your task")


def sanitized_client_run(lab, run, args, stdin, rules, serve):
    """Runs the client built with sanitizers (run: lab.sanitized) with
    args, stdin and LAB_FAULTS rules, before a Python server that serve
    (the connection, the client) plays; returns the client once it has
    ended (or been stopped)."""
    slow = labrun.WAIT * 5  # a sanitized start is slow
    env = {**run["env"], "LAB_FAULTS": rules}
    (lab.dir / "lab.sock").unlink(missing_ok=True)
    listener = lab.listen(timeout=slow)
    client = lab.start("client", *args, stdin=stdin, env=env,
                       **{k: v for k, v in run.items() if k != "env"})
    conn = lab.accept(listener)
    if conn is not None:
        serve(conn, client)
        conn.close()
    if client.wait(slow) is None:
        lab.stop(client)
    return client


def test_the_client_reads_and_writes_only_inside_its_buffers(lab):
    """The client, built with -fsanitize=address,undefined (a build of its
    own), with its buffers filled to the last byte.  With -m: lines of
    3000, 4096 (MAX_MESSAGE) and 3000 bytes, so that a read of standard
    input finds the start of the long line already there; answers sent
    all at once while the client is stopped, its first read of them cut
    to 3 bytes (LAB_FAULTS), so that the next, of more than 10 KB, finds
    the start of a header in its message buffer.  Without -m: a server
    that reads nothing until the client waits in poll, its queue full,
    then all of it.  A count bounded by a buffer's size rather than by the
    room left, or by what was there before a send rather than after,
    reaches past the buffer's end, which no output shows."""
    run = lab.sanitized("client")
    if not run:
        return  # no sanitizers here: nothing shows the buffers' ends
    lines = [(b"%d is a long line. " % n * 300)[:size]
             for n, size in enumerate((3000, MAX_MESSAGE, 3000, 1, 0))]
    rules = "read#1<=3,recv#1<=3"

    def answer_at_once(conn, client):
        # Until its shutdown, or until it waits with all it sends sent.
        got, _ = receive_from(conn, client, labrun.WAIT * 5)
        with frozen(client):  # all of it there for its next read
            sent_to(conn, b"".join(frame(m.upper())
                                   for m in unframe(got)[0]))

    def read_once_it_waits(conn, client):
        # In poll, or in a send that waits for room, or round a loop that
        # moves nothing, its queue full (mistakes that the checks after
        # this one name).
        lab.wait_until(lambda: lab.events("poll", proc=client, event="wait")
                       or (peers.blocked_in(client.pid) or ("",))[0] in
                       SOCKET_CALLS or lab.spinning(client), proc=client,
                       timeout=labrun.WAIT * 5, every=0.01)
        # Until its shutdown, or until it waits with all it sends sent.
        receive_from(conn, client, labrun.WAIT * 5)

    data = binary(1 << 20, seed=4)
    for args, stdin, rules, serve, how in (
            (("-m", "lab.sock"), b"\n".join(lines) + b"\n", rules,
             answer_at_once,
             f"with -m, given lines of {[len(m) for m in lines]} bytes "
             "and their answers at once, its first read of them cut to 3 "
             f"bytes (LAB_FAULTS='{rules}')"),
            (("lab.sock",), data, "", read_once_it_waits,
             f"given {len(data)} bytes on standard input, and a server "
             "that read nothing until the client waited in poll, its queue "
             "full, then all of it")):
        client = sanitized_client_run(lab, run, args, stdin, rules, serve)
        found, at = finding_of(lab, client, "client")
        if not found:
            continue
        said = "; ".join(found["said"])
        if "misaligned" in said:
            rule = ("to copy each length out of its buffer with memcpy "
                    "before ntohl: a header sits wherever the message "
                    "before it ended, and a uint32_t * to it may be "
                    "misaligned")
        elif found["size"] is None:
            rule = "to make no access that the sanitizers report"
        elif found["what"].startswith("a write"):
            rule = ("to put into each of its buffers at most the room it "
                    "has left: a read of standard input asks for at most "
                    "OUT_SIZE - out_len bytes (with -m, sizeof line - "
                    "line_len), and what a read of the socket brings goes "
                    "into in at most sizeof in - in_len bytes at a time "
                    "(whole messages printed and the rest moved to the "
                    "front before the next part)")
        else:
            rule = ("to take from its buffers only the bytes they hold: "
                    "after a send, the rest of the queue is moved by what "
                    "is left (out_len -= n first), and a message is taken "
                    "once what is left after the messages before it, "
                    "in_len - used, holds it whole")
        expected = (f"the client {rule}. Built with -fsanitize=address,"
                    f"undefined, {how}, it made {found['what']}{at} "
                    f"({said})")
        if "-m" in args:
            lab.expect(False, expected, "Messages on a byte stream")
        lab.expect(False, expected, "Both directions at once")


def test_at_end_of_input_the_client_shuts_down_writing_and_reads_on(lab):
    peer = Answering(lab, lambda got: b"%d bytes, then end of file\n"
                     % len(got), pieces=3)
    data = binary(200_000, seed=1)
    # The client's reads return at most 5 bytes (LAB_FAULTS): the answer
    # comes in several, each one short.
    client = lab.start("client", "lab.sock", stdin=data,
                       env={"LAB_FAULTS": "read<=5,recv<=5"})
    peer.join(QUICK * 2)
    client.wait(QUICK)
    if peer.how == "timeout":
        lab.stop(client)
    lab.expect(peer.how == "eof",
               "a server that answers only after end of file (as `wc -c` "
               f"does) to read end of file once the client's standard input "
               f"ends: after {len(peer.got)} of {len(data)} bytes it got "
               f"{peer.how} instead. At the end of its input the client says "
               "so with shutdown(fd, SHUT_WR): the server reads 0, and the "
               "socket stays open for the reply", "Half-close")
    said = b"%d bytes, then end of file\n" % len(data)
    lost = shutdown_mistake(lab, client)
    lab.expect(client.stdout_bytes == said or lost is None,
               f"{lost}; it printed {cut(client.stdout_bytes, 60)}",
               "Half-close")
    early = stopped_reading(lab, client)
    lab.expect(client.stdout_bytes == said or early is None,
               f"{early}; it printed {cut(client.stdout_bytes, 60)}, of "
               f"{cut(said, 40)}, its reads returning at most 5 bytes "
               "(LAB_FAULTS='read<=5')", "Half-close")
    lab.expect(client.stdout_bytes == said and client.returncode == 0,
               f"the client to print that server's answer, "
               f"{cut(said, 40)}, which it sends after the end of file, "
               f"and exit with 0; it printed {cut(client.stdout_bytes, 60)}; "
               f"{client.describe()}"
               + ("" if shut_down(lab, client) else
                  ". The client never called shutdown: a close ends both "
                  "directions, and the answer has nowhere to go"),
               "Half-close")


def test_the_client_prints_an_answer_longer_than_its_input(lab):
    # Not every server echoes: this one answers 3 bytes with 26, after
    # their end of file, and the client's reads return at most 5 bytes
    # (LAB_FAULTS), so that a client that stops once it has read as many
    # bytes as it sent stops for certain.
    peer = Answering(lab, lambda got: b"%d bytes, then end of file\n"
                     % len(got), pieces=3)
    client = lab.start("client", "lab.sock", stdin=b"hi\n",
                       env={"LAB_FAULTS": "read<=5,recv<=5"})
    peer.join(QUICK)
    if client.wait(QUICK) is None:
        lab.stop(client)
    said = b"3 bytes, then end of file\n"
    early = stopped_reading(lab, client)
    lab.expect(client.stdout_bytes == said or early is None,
               f"{early}; it printed {cut(client.stdout_bytes, 40)} of "
               f"{cut(said, 40)}: a server may answer more bytes than it was "
               "sent, and only its end of file says that the answer is "
               "whole (its reads returning at most 5 bytes, "
               "LAB_FAULTS='read<=5')", "Half-close")
    lab.expect(client.stdout_bytes == said and client.returncode == 0,
               "the client given 3 bytes of input to print the whole answer "
               f"of a server that answers them with {len(said)}, "
               f"{cut(said, 40)}, after their end of file, and exit with 0: "
               f"it printed {cut(client.stdout_bytes, 40)}; "
               f"{client.describe()}", "Half-close")


def test_the_client_reads_its_input_only_while_its_queue_has_room(lab):
    # 100000 bytes of input wait in a socket before the client starts, and
    # its first sends find no room (LAB_FAULTS): its first read fills its
    # queue, and the next turns find it full.
    serving(lab)
    data = binary(100_000, seed=5)
    stdin, feeder = stdin_socket(lab, data)
    feeder.join(labrun.WAIT)
    # 8 of each, 16 rules: the most that LAB_FAULTS applies (trace/TRACE.md).
    faults = ",".join(f"{call}#{n}=EAGAIN" for call in ("send", "write")
                      for n in range(1, 9))
    client = lab.start("client", "lab.sock", stdin=stdin,
                       env={"LAB_FAULTS": faults})
    why = finished(lab, client, QUICK)
    if why is not None:
        lab.stop(client)
    reads = input_reads(lab, client)
    lab.expect(not nothing_asked(reads),
               zero_count_read(sum(e["ret"] for e in reads if e["ret"] > 0),
                               len(data))
               + " (its first sends found no room: LAB_FAULTS='send#1=EAGAIN"
               "' to #8, so its queue filled up)", "Both directions at once")
    expect_the_round_trip(lab, client, data, why, ", its first 8 sends "
                          "finding no room (LAB_FAULTS)")


def test_the_client_waits_in_poll_not_in_a_send_while_the_server_is_busy(
        lab):
    # While the server is stopped, nothing the client sends is read.  A
    # client that watches both directions then sleeps in poll; one whose
    # send waits for room sleeps in that send, where no reply can reach
    # it.  The 10 MiB round trip meets that deadlock or not, by timing:
    # stopped, the server makes it sure.
    server = serving(lab)
    stdin, _ = stdin_socket(lab, binary(1_000_000, seed=7))
    with frozen(server):
        client = lab.start("client", "lab.sock", stdin=stdin)
        # Until it announces a call that waits (trace/TRACE.md, "Waiting"):
        # a poll or a send finds no room only once the buffers are full,
        # however long a busy machine takes to fill them.
        lab.wait_for(None, proc=client, event="wait")
        deadline = time.monotonic() + QUICK
        while time.monotonic() < deadline and not client.has_exited() and \
                not (labrun.process_state(client.pid)[0] == "S" and
                     (peers.blocked_in(client.pid) or ("",))[0] in
                     (*SOCKET_CALLS, *peers.WAITING_CALLS)):
            time.sleep(0.005)  # /proc has no event to wait for
        stuck = stuck_writing(lab, client)
    lab.stop(client)
    lab.expect(stuck is None, "the client to wait in poll, where a reply "
               f"can reach it, not in a send: {stuck} (here the server was "
               "stopped a moment, SIGSTOP, with a megabyte of input to send)",
               "Both directions at once")


def test_ten_mib_of_binary_data_make_the_round_trip_byte_exact(lab):
    serving(lab)
    data = binary(BIG)
    stdin, _ = stdin_socket(lab, data)
    client = lab.start("client", "lab.sock", stdin=stdin)
    why = finished(lab, client, labrun.WAIT * 4)
    expect_the_round_trip(lab, client, data, why)


def socat_server(lab, socat, *address):
    """socat listening on lab.sock, in a session of its own (it forks);
    returned once it listens."""
    server = subprocess.Popen([socat, "-d", "-d", "UNIX-LISTEN:lab.sock,fork",
                               *address], cwd=lab.dir, start_new_session=True,
                              stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    said = b""
    deadline = time.monotonic() + labrun.WAIT
    while b"listening on" not in said and time.monotonic() < deadline:
        ready, _, _ = select.select([server.stderr], [], [],
                                    max(0, deadline - time.monotonic()))
        chunk = os.read(server.stderr.fileno(), 4096) if ready else b""
        if not chunk:
            break
        said += chunk
    return server, said


def end_socat(server):
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.wait(timeout=10)
    server.stderr.close()


def test_the_client_gets_the_count_of_a_socat_wc_server(lab):
    socat = tool("socat")
    server, said = socat_server(lab, socat, "SYSTEM:wc -c")
    try:
        lab.expect(b"listening on" in said, f"socat to listen on lab.sock; "
                   f"it said {cut(said, 100)}", "Half-close")
        size = 1_000_000
        client = lab.client("lab.sock", stdin=binary(size, seed=2),
                            timeout=QUICK * 2)
        lab.collector.sync()
        counted = client.stdout.strip() == str(size) and \
            client.returncode == 0
        lost = shutdown_mistake(lab, client, size)
        lab.expect(counted or lost is None,
                   f"{lost}; wc counted {cut(client.stdout_bytes, 40)} of "
                   f"{size} bytes", "Half-close")
        lab.expect(client.stdout.strip() == str(size) and
                   client.returncode == 0,
                   f"the client, given {size} bytes, to print what `socat "
                   f"UNIX-LISTEN:lab.sock,fork SYSTEM:'wc -c'` answers, "
                   f"{size}, and exit with 0: it printed "
                   f"{cut(client.stdout_bytes, 40)}; {client.describe()}"
                   + ("" if shut_down(lab, client) else
                      ". It never called shutdown(fd, SHUT_WR), so wc never "
                      "read end of file, and never counted"), "Half-close")
    finally:
        end_socat(server)


def test_the_client_stops_watching_its_input_at_its_end(lab):
    # Its first sends find no room (LAB_FAULTS), so that the input ends
    # while some of it still waits in the queue, and the client polls on.
    faults = "send#1=EAGAIN,send#2=EAGAIN,send#3=EAGAIN"
    serving(lab)
    client = lab.start("client", "lab.sock", stdin=b"hello\n",
                       env={"LAB_FAULTS": faults})
    why = finished(lab, client, QUICK)
    if why is not None:
        lab.stop(client)
    # Standard input is a file of 6 bytes: ready once with them, once
    # with its end of file; polled after that, it is ready every time.
    ready = [e for e in lab.made("poll", proc=client)
             if any(r.get("fd") == 0 for r in e["args"].get("ready") or [])]
    lab.expect(len(ready) <= 2,
               "the client to leave standard input out of its poll set once "
               "it has read its end of file: poll found fd 0 ready "
               f"{len(ready)} times for 6 bytes of input while the first "
               f"sends found no room (LAB_FAULTS='{faults}'). At end of file "
               "standard input stays readable (a pipe's poll says POLLHUP), "
               "so poll returns at once, every turn, and the client spins "
               "reading end of file again; give poll fd -1 for it from then "
               "on", "Both directions at once")
    lost = shutdown_mistake(lab, client, 6)
    lab.expect(lost is None, f"{lost}; it printed "
               f"{cut(client.stdout_bytes, 40)}", "Half-close")
    lab.expect(why is None and client.stdout_bytes == b"HELLO\n" and
               client.returncode == 0,
               "the client to send its input once its sends find room again "
               f"(LAB_FAULTS='{faults}'), and print the reply, HELLO: it "
               f"printed {cut(client.stdout_bytes, 40)}; "
               f"{why or client.describe()}", "Both directions at once")


def test_the_client_sleeps_while_nothing_can_happen(lab):
    # One line of input, then standard input stays open and silent: once
    # the reply is printed, nothing can happen until more input comes, and
    # the client must sleep in poll. For a quarter of a second it must
    # make next to no call.
    serving(lab)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    lab.peers.append(mine)
    mine.sendall(b"hello\n")
    client = lab.start("client", "lab.sock", stdin=theirs)
    theirs.close()
    try:
        lab.wait_until(lambda: client.stdout_bytes == b"HELLO\n",
                       proc=client, timeout=QUICK)
        lab.expect(client.stdout_bytes == b"HELLO\n",
                   "the client to print the reply to its first line, "
                   "HELLO, while its standard input stays open; it printed "
                   f"{cut(client.stdout_bytes, 40)}; {client.describe()}",
                   "Both directions at once")
        _, spins = peers.idle_for(lab, client, QUICK / 4)
        first = spins and timing_out(lab, client, QUICK * 250)
        lab.expect(not first,
                   "the client to sleep in poll while its input is silent "
                   "and the reply is printed: its poll's timeout is "
                   f"{first['args']['timeout'] if first else ''} ms "
                   f"({first['file'] if first else ''}:"
                   f"{first['line'] if first else ''}), and poll returned 0 "
                   "(timed out, nothing ready) again and again, a loop that "
                   "never waits. Pass poll a timeout of -1, to wait until "
                   "something is ready", "Both directions at once")
        fd = socket_fd(lab, client)
        # The trace folds a run of like polls into a count: the run's
        # first poll, maybe before the quarter, has the arguments.
        polls = lab.events("poll", proc=client)
        asked = [f for e in polls[-1:] for f in e["args"].get("fds") or []
                 if f.get("fd") == fd and "POLLOUT" in str(f.get("events"))]
        if spins and asked:
            lab.expect(False,
                       "the client to ask poll for POLLOUT only while some "
                       "of its queue waits to be sent: with nothing queued "
                       f"it still asked for it on its socket, fd {fd} "
                       f"({polls[-1]['file']}:{polls[-1]['line']}), and "
                       "kept calling while its input was silent. A "
                       "socket with room in its buffer is writable nearly "
                       "always: poll returns at once, every turn, and the "
                       "client spins. Ask for POLLOUT while out_len > 0, "
                       "and only then",
                       "Both directions at once")
        lab.expect(not spins,
                   "the client to sleep in poll while its input is silent "
                   "and the reply is printed: it went on calling, or was on "
                   "a CPU or waiting for one a quarter or more of the time, "
                   "a loop that never waits. Ask poll only for what can happen: "
                   "standard input while the queue has room, POLLIN on the "
                   "socket until the server's end of file, POLLOUT only "
                   "while some of the queue is left",
                   "Both directions at once")
    finally:
        mine.close()  # the end of the input: the client ends
        if client.wait(QUICK) is None:
            lab.stop(client)


def test_the_client_sends_each_line_as_soon_as_it_has_come(lab):
    # Two lines come at once, then standard input stays open and silent:
    # a client that reads it through stdio (fgets, getline) gets the first
    # line, and the second waits in stdio's own buffer, where poll, which
    # looks at fd 0, does not see it.  A server of the checks' own takes
    # what the client sends; what else could be wrong with the messages,
    # the checks after this one say.
    listener = lab.listen(timeout=QUICK)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    lab.peers.append(mine)
    mine.sendall(b"one\ntwo\n")
    client = lab.start("client", "-m", "lab.sock", stdin=theirs)
    theirs.close()
    conn = None
    try:
        conn = lab.accept(listener)
        lab.expect(conn is not None, "the client to connect to lab.sock, "
                   "where a server listens", "Your task")
        wanted = frame(b"one") + frame(b"two")
        got, _ = receive(conn, len(wanted))
        lab.expect(got != frame(b"one"),
                   "the client with -m to send each line as soon as it has "
                   "come: two lines, one\\ntwo\\n, came at once on its "
                   "standard input, which then stayed open, and it sent "
                   f"the first alone, {cut(got, 40)}. Read standard input "
                   "with read(2), all there is, and take every whole line "
                   "from what came: stdio (fgets, getline, scanf, fread) "
                   "reads ahead into a buffer of its own, where poll, which "
                   "looks at fd 0, does not see the lines that wait there; "
                   f"{client.describe()}", "Both directions at once")
    finally:
        mine.close()  # the end of the input, then the server's: it ends
        if conn is not None:
            conn.close()
        if client.wait(QUICK) is None:
            lab.stop(client)


def test_a_poll_interrupted_by_a_signal_is_made_again(lab):
    serving(lab)
    client = lab.start("client", "lab.sock", stdin=b"hello\n",
                       env={"LAB_FAULTS": "poll#1=EINTR"})
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    failed = lab.events("poll", proc=client, errno="EINTR")
    lab.expect(not failed or (status == 0 and
                              client.stdout_bytes == b"HELLO\n"),
               "the client to call poll again when it fails with EINTR "
               "(LAB_FAULTS='poll#1=EINTR'): a signal that came while it "
               "waited (SIGWINCH, SIGCHLD, a job stopped and continued) is "
               "no error, and the input is not all sent yet; it printed "
               f"{cut(client.stdout_bytes, 40)}; {client.describe()}",
               "Both directions at once")


def test_input_left_in_a_pipe_whose_writer_has_closed_is_sent(lab):
    # The pipe holds its bytes and its writer has closed before the client
    # starts: its first poll reports POLLIN and POLLHUP together, for
    # certain, not by the timing of a writer that is still writing.
    serving(lab)
    readable, writable = os.pipe()
    os.write(writable, b"hello\n")
    os.close(writable)
    with os.fdopen(readable, "rb") as stdin:
        client = lab.start("client", "lab.sock", stdin=stdin)
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    hung_up = [e for e in lab.events("poll", proc=client, event=None)
               if any(entry["fd"] == 0 and "POLLHUP" in str(entry["revents"])
                      for entry in (e.get("args") or {}).get("ready") or [])]
    lab.expect(client.stdout_bytes == b"HELLO\n" or not hung_up,
               "the client takes POLLHUP on its standard input for the end "
               "of its input: POLLHUP on a pipe says that its writer has "
               "closed, not that it is empty; read on until read returns "
               "0.\nIts standard input was a pipe holding hello\\n whose "
               "writer had closed; poll reported it "
               f"{hung_up[0]['args']['ready'][0]['revents'] if hung_up else ''}"
               f", and the client printed {cut(client.stdout_bytes, 40)} of "
               f"HELLO\\n; {client.describe()}", "Both directions at once")
    hup_alone = sum(tracetext.calls_of(e) for e in lab.events(
        "poll", proc=client, event=None)
        if any(entry["fd"] == 0 and "POLLHUP" in str(entry["revents"]) and
               "POLLIN" not in str(entry["revents"])
               for entry in (e.get("args") or {}).get("ready") or []))
    lab.expect(hup_alone < 3,
               "the client to read standard input when poll reports any "
               "event on it, POLLHUP too: poll reported fd 0 POLLHUP alone "
               f"{hup_alone:,} times, and the client never read it. A pipe "
               "whose writer has closed and that holds nothing more reports "
               "POLLHUP without POLLIN; a read then returns 0, the end of "
               "the input. Test fds[0].revents != 0 (or & (POLLIN | POLLHUP "
               "| POLLERR)), not & POLLIN alone; "
               f"{client.describe()}", "Both directions at once")
    lab.expect(client.stdout_bytes == b"HELLO\n" and status == 0,
               "the client to send what is left in a pipe whose writer has "
               "closed (hello\\n), print the reply and exit with 0: it "
               f"printed {cut(client.stdout_bytes, 40)}; {client.describe()}",
               "Both directions at once")


def test_a_reply_that_came_with_the_server_s_close_is_printed(lab):
    # The server answers and closes while the client waits in poll, its
    # input still open; stopped meanwhile (SIGSTOP), the client wakes to
    # find both at once: POLLIN with POLLHUP, the reply still unread.
    listener = lab.listen(timeout=QUICK)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    lab.peers.append(mine)
    client = lab.start("client", "lab.sock", stdin=theirs)
    theirs.close()
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect", "Your task")
    lab.wait_for("poll", proc=client, event="wait")
    with frozen(client):
        conn.sendall(b"HELLO\n")
        conn.close()
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    hung_up = [e for e in lab.events("poll", proc=client, event=None)
               if any(entry["fd"] != 0 and "POLLHUP" in str(entry["revents"])
                      and "POLLIN" in str(entry["revents"])
                      for entry in (e.get("args") or {}).get("ready") or [])]
    lab.expect(client.stdout_bytes == b"HELLO\n" or not hung_up,
               "the client takes POLLHUP on its socket for the end of the "
               "reply: POLLHUP says that the server has closed, not that "
               "all it sent has been read; read until read returns 0.\n"
               "The server sent HELLO\\n and closed while the client "
               "waited in poll; poll reported the socket POLLIN|POLLHUP, and "
               f"the client printed {cut(client.stdout_bytes, 40)}; "
               f"{client.describe()}", "When the other side goes")
    lab.expect(client.stdout_bytes == b"HELLO\n" and status not in (None, 0),
               "the client to print the reply that came before the server "
               "closed (HELLO\\n), then say that the server has gone "
               "before the end of the input and exit with a non-zero status:"
               f" it printed {cut(client.stdout_bytes, 40)}; "
               f"{client.describe()}", "When the other side goes")


def test_the_client_with_a_message_prints_its_answer_and_no_more(lab):
    """The client with MESSAGE before a server of the checks' own, which
    sends, once the client has shut down writing, the answer and 64 KiB
    more, while the client is stopped: its next read can take them all.
    The lab's server answers each byte with one: the client prints as many
    bytes as it sent, read until they have all come, and no more."""
    message = b"hello, full duplex"
    listener = lab.listen(timeout=QUICK)
    client = lab.start("client", "lab.sock", message.decode())
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock, where "
               "a server listens", "Your task")
    got, how = receive(conn)  # until its shutdown
    with frozen(client):
        sent = sent_to(conn, message.upper() + b"X" * 65537)
    status = client.wait(QUICK)
    conn.close()
    if status is None:
        status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    if got != message or how != "eof" or not sent:
        return  # the checks above say what went wrong with the message
    wanted = message.upper() + b"\n"
    fd = socket_fd(lab, client)
    done, over = 0, None
    for e in lab.made(READS, proc=client):
        if e["args"].get("fd") != fd:
            continue
        if over is None and done < len(message) and \
                e["args"].get("count", 0) > len(message) - done:
            over = (e, done)
        done += max(e["ret"], 0)
    printed = client.stdout_bytes
    lab.expect(printed == wanted or over is None or
               not printed.startswith(message.upper()),
               "the client with MESSAGE to ask each read for at most the "
               "bytes of the answer still missing (as many as it sent, "
               f"{len(message)}, less those that have come), so that it "
               "prints its answer and nothing after it: after "
               f"{over[1] if over else 0} of the {len(message)} bytes it "
               f"called {tracetext.call_text(over[0]) if over else ''} "
               f"({over[0]['file'] if over else ''}:"
               f"{over[0]['line'] if over else ''}), asking for "
               f"{over[0]['args'].get('count') if over else 0}, and printed "
               f"{len(printed)} bytes ({cut(printed, 40)}), the 65537 bytes "
               "that the server sent after the answer among them. A read "
               "returns what has come, up to its count: the answer, or "
               "part of it, or the answer and more", "Half-close")
    lab.expect(printed == wanted and status == 0,
               f"the client with MESSAGE ({message.decode()}) to print its "
               f"answer, {len(message)} bytes, then a newline, and exit with "
               "status 0, though the server sent 65537 bytes more after it "
               "(read until the whole answer has come, and no further): it "
               f"printed {len(printed)} bytes ({cut(printed, 40)}); "
               f"{client.describe()}", "Half-close")


def test_the_client_sends_on_after_the_server_s_end_of_file(lab):
    """A server of the checks' own answers OK at once and shuts down its
    writing side, then reads everything the client sends: 2 MB, far more
    than the socket holds, so that the client reads that end of file with
    most of its input still to send.  Nothing is read from the client
    before its trace shows that read of 0."""
    data = binary(2_000_000, seed=5)
    listener = lab.listen(timeout=QUICK)
    client = lab.start("client", "lab.sock", stdin=data)
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock, where "
               "a server listens", "Your task")
    sent = sent_to(conn, b"OK\n")
    conn.shutdown(socket.SHUT_WR)
    fd = socket_fd(lab, client, wait=True)
    lab.wait_for(READS, proc=client, ret=0,
                 where=lambda e: e["args"].get("fd") == fd)
    got, how = Drain(conn).result()  # until its shutdown
    conn.close()
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    if not sent:
        return
    lab.expect(got == data and how == "eof" and status == 0 and
               client.stdout_bytes == b"OK\n",
               "the client to send all of its input to a server that has "
               "ended its own side (its read of the socket returned 0) but "
               "still reads, then exit with status 0: end of file says "
               "that the server sends nothing more, not that it has gone "
               "(server_done = 1, stop asking for POLLIN, send on). The "
               f"server got {len(got)} of the {len(data)} bytes, then "
               f"{how}; the client printed {cut(client.stdout_bytes, 20)}; "
               f"{client.describe()}", "Half-close")


def test_the_client_ends_when_the_server_leaves_early(lab):
    # Once with both directions shut down (the client's send fails with
    # EPIPE), once with a close that leaves bytes unread (its read fails
    # with ECONNRESET, or its send with EPIPE), once with only the
    # server's reading side shut down, what it had not read taken away:
    # the client's next send fails with EPIPE, and nothing else says so
    # (no end of file, no POLLHUP).  Last, an input that has all gone
    # before the server closes with most of it unread: nothing is left to
    # send, and only the read's ECONNRESET says that the server has gone.
    for how, size in (("shutdown", 2_000_000), ("close", 2_000_000),
                      ("shut-rd", 2_000_000), ("close", 2000)):
        peer = Answering(lab, None, read_only=1000, leave=how,
                         unread=size - 1000 if size < 1_000_000 else 0)
        client = lab.start("client", "lab.sock",
                           stdin=binary(size, seed=3))
        peer.join(QUICK)
        status = client.wait(QUICK)
        if status is None:
            lab.stop(client)
        # Killed by a signal of its own making, not by the check's stop.
        lab.expect(client.stopped_with is not None or
                   ended_by(client) is None, f"{ended_by(client)}",
                   "When the other side goes")
        ended = {"shutdown": "shutdown(SHUT_RDWR)", "close": "close",
                 "shut-rd": "shutdown(SHUT_RD), its socket left open"}[how]
        reset = [e for e in lab.made(READS, proc=client)
                 if e.get("errno") == "ECONNRESET"]
        lab.expect(status is not None and status != 0 or not reset or
                   size > 1_000_000,
                   "the client to take a read that fails with ECONNRESET "
                   "for a server that has gone, not for its end of file: "
                   f"the server read 1000 of the {size} bytes the client "
                   "had sent, and closed with the rest unread; the client's "
                   f"{tracetext.call_text(reset[0]) if reset else ''} "
                   f"({reset[0]['file'] if reset else ''}:"
                   f"{reset[0]['line'] if reset else ''}) said so, and it "
                   "ended as if the whole reply had come. Say that the "
                   "server reset the connection, and exit with a non-zero "
                   f"status; {client.describe()}", "When the other side goes")
        lab.expect(status is not None and status != 0,
                   "the client to end with a non-zero status, and a message, "
                   f"when the server ends the connection (with {ended}) "
                   f"after reading 1000 of the {size} bytes it sent: its "
                   "send then fails with EPIPE (or its read with "
                   "ECONNRESET): the server has gone, and nothing more will "
                   "be read; take EPIPE for that, never for a socket that "
                   f"is full for now (EAGAIN); {client.describe()}",
                   "When the other side goes")
        peer.end()


def test_a_closed_standard_input_is_said_not_read_from_the_socket(lab):
    # With fd 0 closed the socket takes number 0: the client would read
    # its "input" from the server, and wait for ever.
    listener = lab.listen()
    client = lab.start("client", "lab.sock",
                       under=("sh", "-c", 'exec "$0" "$@" <&-'))
    if lab.wait_until(lambda: lab.events("connect", proc=client),
                      proc=client):
        lab.accept(listener)
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    lab.expect(status is not None and status > 0 and
               "standard input" in client.stderr,
               "the client to refuse to run with standard input closed (<&-) "
               "and no MESSAGE: socket(2) returns the lowest free fd, so its "
               "socket took fd 0, and it read its input from its own socket; "
               "check for fd == STDIN_FILENO after socket, say that standard "
               "input is closed, and exit with a non-zero status; "
               f"{client.describe()}", "Your task")


def test_a_failed_standard_output_is_said_once(lab):
    serving(lab)
    client = lab.run("client", "lab.sock", "hello",
                     under=("sh", "-c", 'exec "$0" "$@" >/dev/full'))
    said = client.stderr.count("standard output")
    lab.expect(client.stopped_with is None and client.returncode == 1 and
               said == 1,
               "`client lab.sock hello >/dev/full` to say once that writing "
               "standard output failed (ENOSPC) and exit with status 1: once "
               "the reply could not be printed, the newline after it need "
               f"not be tried and reported again; it said it {said} times, "
               f"and {client.describe()}", "Your task")


# -- the server: bounded buffers -----------------------------------------------

def resident_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_the_server_stops_reading_a_client_that_does_not_read(lab):
    server = serving(lab)
    before = resident_kib(server.pid) or 0
    hog = peers.Hog(lab, 8 * 1024 * 1024)
    lab.wait_until(lambda: hog.sent > 0 and peers.settled(lab, server, 0.2)
                   and peers.blocked_in(server.pid) is not None,
                   proc=server, timeout=QUICK)
    grown = (resident_kib(server.pid) or 0) - before
    hog.leave()
    lab.expect(grown < 2048,
               f"the server's memory to stay bounded while a client sends "
               f"8 MiB and reads none of its reply: it grew by {grown} KiB "
               f"(VmRSS in /proc/{server.pid}/status), having read "
               f"{hog.sent} bytes. Keep a fixed buffer per client, and stop "
               "watching it for POLLIN while its reply cannot be written: "
               "the client's own writes then wait, in the client",
               "Back-pressure")


def test_the_server_with_m_sleeps_while_a_client_does_not_read(lab):
    # With -m a client sends messages and reads none of the answers: once
    # the buffers are full, a whole message waits in the message buffer for
    # room in the reply, and there is nothing to do until the client reads.
    # Each message is 4095 bytes, so that two answers leave the reply
    # buffer 2 bytes of room, not none: room in the reply is no room to
    # read into.
    server = serving(lab, "-m")
    hog = peers.Hog(lab, 0, data=frame(b"m" * (MAX_MESSAGE - 1)) * 512)
    # Until both have stopped for good: the client's send waits (the
    # buffers are full) while the server sleeps (its state, not the call
    # it is in: one taken off a CPU inside poll is in poll too), and
    # nothing is traced for a few looks; either may stop for a moment
    # before that, however long a loaded machine takes.  A server that
    # spins never sleeps: its run of calls that move nothing ends the
    # wait at once.
    def stopped():
        return (hog.waits() or not hog.is_alive()) and \
            labrun.process_state(server.pid)[0] == "S"

    def spinning():
        return lab.spinning(server)
    lab.wait_until(lambda: (stopped() and peers.still(lab, stopped)) or
                   (spinning() and peers.still(lab, spinning)),
                   proc=server, timeout=labrun.WAIT * 2, every=0.01)
    made, spins = peers.idle_for(lab, server, QUICK / 10)
    hog.leave()
    lab.expect(not spins,
               "the server with -m to sleep in poll while a client that "
               "reads none of its answers has filled the buffers: it "
               + ("went on making calls as soon as the check looked"
                  if made >= 10 else "was on a CPU, or waiting for one, a "
                  "quarter or more of the time the check looked")
               + ", a loop that never waits. Ask for POLLIN only while the "
               "message buffer (in) has room: a whole message that waits "
               "there for room in the reply leaves nothing to read into, "
               "and poll reports the socket readable at once, every turn",
               "Back-pressure")


# -- messages on a byte stream ---------------------------------------------------

MESSAGES = [b"hello", b"a message of some length, " * 40, b"", b"\x00\x01 end"]


def message_exchange(lab, chunks, timeout=QUICK):
    """A client of the checks' own: sends chunks (each with one send),
    shuts down writing, and reads until end of file: (the reply, how)."""
    peer = peers.Peer(lab.dir / "lab.sock", timeout)
    try:
        if peer.error:
            return b"", "no connection"
        for chunk in chunks:
            if not peer.send(chunk):
                return b"", "send failed"
        peer.sock.shutdown(socket.SHUT_WR)
        return peer.receive()
    finally:
        peer.close()


def answered(lab, server, reply, how, sent, what):
    messages, rest = unframe(reply)
    wanted = [m.upper() for m in sent]
    if messages == wanted and not rest and how == "eof":
        return
    lab.expect(not server.has_exited() or server.returncode != 2,
               "the server to take -m, to speak in messages (a 4-byte "
               "length in network byte order, then the bytes); "
               f"{server.describe()}", "Messages on a byte stream")
    from_header = [(s, m) for m, s in zip(messages, sent)
                   if s and m != s.upper() and m == frame(s)[:len(s)].upper()]
    asked, got = from_header[0] if from_header else (b"", b"")
    lab.expect(not from_header,
               "the server to answer each message with its bytes, those "
               f"after its {HEADER_SIZE}-byte length, upper-cased: the "
               f"answer to {cut(asked, 24)} was {cut(got, 24)}, the "
               "message's own length and then its bytes, its last "
               f"{HEADER_SIZE} lost. The bytes of a message start at header "
               "+ HEADER_SIZE: answer[HEADER_SIZE + i] = "
               "toupper(header[HEADER_SIZE + i])",
               "Messages on a byte stream")
    lab.expect(False,
               f"{what}: {len(sent)} messages sent, {len(messages)} whole "
               f"ones answered ({[cut(m, 16) for m in messages]}, wanted "
               f"{[cut(m, 16) for m in wanted]}), {len(rest)} bytes after "
               f"them, then {how}; {server.describe()}",
               "Messages on a byte stream")


def test_an_empty_message_is_answered_with_an_empty_answer(lab):
    """A message of length 0, alone: a message like any other, answered
    by one of the same length (whose length reads the same in any byte
    order)."""
    server = serving(lab, "-m")
    reply, how = message_exchange(lab, [frame(b"")])
    messages, rest = unframe(reply)
    if messages[:1] == [b""]:
        return  # the empty one answered: the checks below judge the rest
    lab.expect(not server.has_exited() or server.returncode != 2,
               "the server to take -m, to speak in messages (a 4-byte "
               "length in network byte order, then the bytes); "
               f"{server.describe()}", "Messages on a byte stream")
    lab.expect(False,
               "the server with -m to answer an empty message (a length of "
               "0, and no bytes) with an empty answer, its length 0 alone: "
               "0 is a length like any other, and only a length above "
               "MAX_MESSAGE is refused. The client sent it alone, and got "
               f"{len(reply)} bytes "
               f"({cut(reply, 24)}), then {how}"
               + (" instead: the server dropped the client at the empty "
                  "message" if not reply and how in ("eof", "reset")
                  else "") + f"; {server.describe()}",
               "Messages on a byte stream")


def test_lengths_travel_in_network_byte_order(lab):
    """An empty message, whose length reads the same in any byte order,
    then one of 5 bytes: a server that answers the first and not the second
    reads or writes its lengths in its own byte order."""
    server = serving(lab, "-m")
    reply, how = message_exchange(lab, [frame(b"")])
    if reply != frame(b""):
        return  # not even the empty one: the checks below say why
    reply, how = message_exchange(lab, [frame(b"hello")])
    host = struct.pack("=I", 5)
    lab.expect(host == struct.pack("!I", 5) or not reply.startswith(host),
               "the server to write each answer's length in network byte "
               "order (htonl): the answer to \"hello\" began with "
               f"{cut(reply[:4], 20)}, 5 in this machine's byte order, "
               f"where {cut(struct.pack('!I', 5), 20)} was wanted; "
               f"{server.describe()}", "Messages on a byte stream")
    lab.expect(reply or how not in ("eof", "reset"),
               "the server to read each length in network byte order "
               "(ntohl, after memcpy): it answered an empty message, whose "
               "length reads the same either way, and closed the connection "
               "at \"hello\", whose length 5 read in this machine's byte "
               f"order is {struct.unpack('=I', struct.pack('!I', 5))[0]}; "
               f"{server.describe()}", "Messages on a byte stream")


def test_a_length_above_the_limit_is_refused_at_once(lab):
    server = serving(lab, "-m")
    size = 4097  # one more than MAX_MESSAGE; with its header, 4101
    peer = peers.Peer(lab.dir / "lab.sock", QUICK)
    try:
        lab.expect(peer.error is None, f"a client to connect; "
                   f"{server.describe()}", "Messages on a byte stream")
        peer.send(frame(b"x" * size))
        reply, how = peer.receive()
    finally:
        peer.close()
    lab.expect(how in ("eof", "reset") and not reply,
               f"the server to refuse a length of {size}, above the most a "
               "message may hold (MAX_MESSAGE, 4096), at once, and close "
               f"the connection: after the whole message it sent "
               f"{len(reply)} bytes, then {how}. Compare the length with "
               "MAX_MESSAGE, not with the buffer that also holds the "
               f"header; {server.describe()}", "Messages on a byte stream")


def read_past_the_message_buffer(lab, server, stream):
    """(the read, the bytes of a message in the buffer before it, the
    buffer's size) for a read of the server's on a client's socket that
    asked for more than the room left in its message buffer, else None.
    The buffer's size is what the first read asked for, with nothing in
    the buffer, and at least a whole message with its length (a server
    that reads in smaller pieces asks for no more than a piece); the bytes
    that the reads so far brought of a message whose end has not come are
    in the buffer, whatever the server answered (stream: what the client
    sent, one client)."""
    ends, at = set(), 0
    while at + HEADER_SIZE <= len(stream):
        (size,) = struct.unpack("!I", stream[at:at + HEADER_SIZE])
        at += HEADER_SIZE + size
        ends.add(at)
    taken = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
             if e["ret"] >= 0]
    reads = [e for e in lab.events(("read", "recv"), proc=server)
             if taken and e["args"].get("fd") == taken[0]]
    got, size = 0, None
    for e in reads:
        partial = got - max([0] + [end for end in ends if end <= got])
        asked = e["args"].get("count", 0)
        size = asked if size is None else size
        if partial > 0 and asked > size - partial and \
                asked + partial > HEADER_SIZE + MAX_MESSAGE:
            return e, partial, size
        got += max(e["ret"], 0)
    return None


def test_a_message_split_across_reads_is_answered_whole(lab):
    server = serving(lab, "-m", env={"LAB_FAULTS": "read<=3,recv<=3"})
    stream = b"".join(frame(m) for m in MESSAGES)
    reply, how = message_exchange(lab, [frame(m) for m in MESSAGES])
    short = lab.wait_for(("read", "recv"), proc=server, injected=True,
                         timeout=QUICK)
    lab.expect(short, "the server's reads to be cut to 3 bytes "
               "(LAB_FAULTS='read<=3,recv<=3'); no read of the server was",
               "Messages on a byte stream")
    labrun.settle(lab, server)
    lab.collector.sync()
    past = read_past_the_message_buffer(lab, server, stream)
    if past:
        read, partial, size = past
        lab.expect(False,
                   "the server with -m to read no more than the room left "
                   f"in the client's message buffer: {read['call']}("
                   f"{read['args']['fd']}, buf, {read['args']['count']}) "
                   f"({read['file']}:{read['line']}) asked for as much as "
                   f"its first read, {size} bytes, with {partial} bytes of "
                   "a message already in the buffer: a read past the end "
                   f"of the buffer, by up to {partial} bytes, over whatever "
                   "follows it (in_len, the count of messages answered). "
                   "Read at in + in_len at most sizeof in - in_len bytes "
                   "(here every read returned at most 3 bytes, "
                   "LAB_FAULTS='read<=3,recv<=3', so that each message "
                   "came in pieces)", "Messages on a byte stream")
    answered(lab, server, reply, how, MESSAGES,
             "each message answered whole when the server's reads return at "
             "most 3 bytes (LAB_FAULTS='read<=3,recv<=3'), so that each "
             "message comes in pieces. A read returns what has come, not "
             "a message: keep what a read brought until the length and all "
             "the bytes it announces are there")


def test_messages_that_come_in_one_read_are_each_answered(lab):
    server = serving(lab, "-m")
    joined = b"".join(frame(m) for m in MESSAGES)
    peer = connected_to(lab, server)
    with frozen(server):  # all of them wait in its socket, for one read
        peer.send(joined)
        peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive()
    lab.collector.sync()
    whole = [e for e in lab.events(("read", "recv"), proc=server)
             if e["ret"] >= len(joined)]
    answered(lab, server, reply, how, MESSAGES,
             f"each of {len(MESSAGES)} messages answered when they come "
             f"together, {len(joined)} bytes in "
             + ("one read" if whole else "few reads") + ". After one message, "
             "look for the next in what is left of the same read, before "
             "you read again")


def test_the_server_reads_and_writes_lengths_wherever_they_sit(lab):
    """The server with -m, built with -fsanitize=address,undefined (a build
    of its own), sent messages of 1, 2, 3, 5, 0 and 7 bytes in one read: a
    header sits wherever the message before it ended, in the message
    buffer and in the reply, at an address that is not a multiple of 4.
    A uint32_t * to it is a misaligned access, which x86 forgives and no
    output shows."""
    run = lab.sanitized("server")
    if not run:
        return  # no sanitizers here: nothing shows a misaligned access
    slow = labrun.WAIT * 5  # a sanitized start is slow
    server = lab.start("server", "-m", group=0, **run)
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0, timeout=slow)
    bodies = [b"a", b"bc", b"def", b"ghijk", b"", b"lmnopqr"]
    peer = peers.Peer(lab.dir / "lab.sock", slow)
    lab.peers.append(peer.sock)
    if peer.error is None:
        lab.require(labrun.ACCEPTS, "the server to accept a client",
                    "Your task", proc=server, timeout=slow,
                    where=lambda e: e["ret"] >= 0)
        peers.settled(lab, server)
        with frozen(server):  # all of them wait in its socket, for one read
            peer.send(b"".join(frame(m) for m in bodies))
            peer.sock.shutdown(socket.SHUT_WR)
        peer.receive()
    lab.stop(server)
    found, at = finding_of(lab, server, "server")
    lab.expect(not found,
               "the server to copy each length out of its buffer with "
               "memcpy before ntohl, and into the reply with memcpy after "
               "htonl: a header sits wherever the message before it ended, "
               "and a uint32_t * to it may be misaligned. Built with "
               "-fsanitize=address,undefined and sent messages of "
               f"{', '.join(str(len(m)) for m in bodies)} bytes in one "
               f"read, it made {found['what'] if found else ''}{at} "
               f"({'; '.join(found['said']) if found else ''})",
               "Messages on a byte stream")


def connected_to(lab, server):
    """A client of the checks' own, accepted, the server waiting again."""
    peer = peers.Peer(lab.dir / "lab.sock", QUICK)
    lab.expect(peer.error is None, f"a client to connect; "
               f"{server.describe()}", "Messages on a byte stream")
    lab.peers.append(peer.sock)
    lab.require(labrun.ACCEPTS, "the server to accept the client",
                "Messages on a byte stream", proc=server,
                where=lambda e: e["ret"] >= 0)
    peers.settled(lab, server)
    return peer


def read_by(lab, server):
    return sum(e["ret"] for e in lab.events(("read", "recv"), proc=server)
               if e["ret"] > 0)


def test_the_start_of_the_next_message_is_kept_whole(lab):
    # One read brings a message of 1 byte and 150 bytes of the next (the
    # server stopped meanwhile): what is left after the first, 150 bytes,
    # is longer than what the first used, 5. The rest comes once the
    # server has read them.
    server = serving(lab, "-m")
    first = b"a"
    second = bytes(random.Random(5).choices(b"abcdefghijklmnopqrstuvwxyz",
                                            k=300))
    joined = frame(first) + frame(second)
    cut_at = len(frame(first)) + 150
    peer = connected_to(lab, server)
    with frozen(server):
        peer.send(joined[:cut_at])
    lab.wait_until(lambda: read_by(lab, server) >= cut_at, proc=server,
                   timeout=QUICK)
    peer.send(joined[cut_at:])
    peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive(len(joined) + 1)
    messages, rest = unframe(reply)
    wanted = [first.upper(), second.upper()]
    if messages == wanted and not rest and how == "eof":
        return
    if messages[:1] == wanted[:1] and len(messages) > 1 and \
            len(messages[1]) == len(second):
        at = first_difference(messages[1], wanted[1])
        lab.expect(False,
                   "the server to keep all of what is left after the whole "
                   "messages of a read, the start of the next one, moved "
                   "whole to the front of its buffer: one read brought a "
                   f"message of {len(first)} byte ({len(frame(first))} with "
                   f"its length) and the first {cut_at - len(frame(first))} "
                   f"bytes of a message of {len(second)}, and the answer to "
                   f"that one came back with the right length but wrong "
                   f"bytes from byte {at} on. What is left, in_len - used "
                   "bytes, may be longer than what was used: move all of it, "
                   "memmove(in, in + used, in_len - used), not used bytes; "
                   f"{server.describe()}", "Messages on a byte stream")
    answered(lab, server, reply, how, [first, second],
             f"a message of {len(first)} byte and one of {len(second)}, "
             "the start of the second in the same read as the first, each "
             "answered whole")


def written_by(lab, server):
    return sum(e["ret"] for e in lab.events(SOCKET_CALLS, proc=server)
               if e["ret"] > 0)


def test_a_message_whose_end_has_not_come_is_not_answered(lab):
    # One read brings a message of 300 bytes and the first 8 bytes of one
    # of 10 (the server stopped meanwhile): more than the 14 bytes of the
    # second with its length are in the buffer, but most of them are the
    # first's. The second's end comes once the server has answered what
    # it could.
    server = serving(lab, "-m")
    first = bytes(random.Random(6).choices(b"abcdefghijklmnopqrstuvwxyz",
                                           k=300))
    second = b"0123456789"
    joined = frame(first) + frame(second)
    cut_at = len(frame(first)) + 8
    peer = connected_to(lab, server)
    with frozen(server):
        peer.send(joined[:cut_at])
    lab.wait_until(lambda: read_by(lab, server) >= cut_at,
                   proc=server, timeout=QUICK)
    peers.settled(lab, server)  # it has done what it does with them
    early = written_by(lab, server)
    closed = lab.events("close", proc=server, ret=0)
    peer.send(joined[cut_at:])
    peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive(len(joined) + 1)
    did = (f"closed the connection ({closed[0]['file']}:"
           f"{closed[0]['line']})" if closed else
           f"wrote {early} bytes of answers")
    lab.expect(early <= len(frame(first)) and not closed,
               "the server with -m to answer a message only once all of it "
               "has come: one read brought a message of "
               f"{len(first)} bytes and the first {cut_at - len(frame(first))}"
               f" bytes of one of {len(second)} ({len(frame(second))} with "
               "its length), more bytes in all than the second needs, and "
               f"before the rest came the server {did}, where it should "
               f"have answered the first ({len(frame(first))} bytes) and "
               "waited: it took the second for whole, with what lay behind "
               "it in the buffer. The end of a message has come when what "
               "is left after the messages before it, in_len - used, holds "
               "HEADER_SIZE + len bytes, not when in_len does; "
               f"{server.describe()}", "Messages on a byte stream")
    answered(lab, server, reply, how, [first, second],
             f"a message of {len(first)} bytes and one of {len(second)}, "
             "the start of the second in the same read as the first, each "
             "answered once all of it had come")


def test_the_client_reads_lengths_in_network_byte_order(lab):
    """A reply of one empty message, whose length reads the same in any
    byte order, then, to another client, one of 5 bytes in one send."""
    printed = []
    for body in (b"", b"HELLO"):
        peer = Answering(lab, lambda got, body=body: frame(body))
        client = lab.start("client", "-m", "lab.sock",
                           stdin=body.lower() + b"\n")
        peer.join(QUICK)
        status = client.wait(QUICK)
        if status is None:
            lab.stop(client)
        printed.append((client.stdout_bytes, status))
        peer.end()
        fd = socket_fd(lab, client)
        reads = [e["ret"] for e in lab.made(READS, proc=client)
                 if e["args"].get("fd") == fd]
        lab.expect(body or client.stdout_bytes or not peer.sent or
                   sum(n for n in reads if n > 0) != HEADER_SIZE or
                   0 not in reads,
                   "the client with -m to print an empty answer, a length "
                   "of 0 alone at the end of the reply, as an empty line: it "
                   f"read those {HEADER_SIZE} bytes, then the server's end "
                   "of file, and printed nothing. An answer is whole once "
                   f"its {HEADER_SIZE}-byte length is there (in_len - used "
                   ">= HEADER_SIZE, not >) and its len bytes after it, none "
                   f"for a length of 0; {client.describe()}",
                   "Messages on a byte stream")
        if printed[0] != (b"\n", 0):
            return  # not even the empty one: the checks below say why
    lab.expect(printed[1][0] or printed[1][1] == 0,
               "the client with -m to read each length of the reply in "
               "network byte order (ntohl, after memcpy): it printed an "
               "empty message, whose length reads the same either way, and "
               "nothing of HELLO, whose length 5 read in this machine's "
               f"byte order is {struct.unpack('=I', struct.pack('!I', 5))[0]}"
               f"; {client.describe()}", "Messages on a byte stream")


def test_the_client_reads_messages_split_and_joined(lab):
    """The client with -m before a server of the checks' own, which
    answers every message in one send; the client's reads return at most 3
    bytes (LAB_FAULTS), so each message comes in pieces too.  A longer
    message among short ones leaves its bytes in the client's buffer
    behind the shorter ones that follow: a length taken from a header of
    which only 1 or 2 bytes have come reads them, and is far above the
    limit.  Empty lines are among the lines, and the second time the last
    line ends without a newline."""
    lines = [b"one", b"two and more", b"", b"three",
             b"and a longer line, whose bytes stay behind", b"four", b"",
             b"a NUL\0inside", b"five"]
    for faults in ("", "read<=3,recv<=3"):
        peer = Answering(lab, lambda got: b"".join(
            frame(m.upper()) for m in unframe(got)[0]))
        end = b"" if faults else b"\n"
        client = lab.start("client", "-m", "lab.sock",
                           stdin=b"\n".join(lines) + end,
                           env={"LAB_FAULTS": faults} if faults else None)
        peer.join(QUICK)
        status = client.wait(QUICK)
        if status is None:
            lab.stop(client)
        sent, rest = unframe(peer.got)
        said = ("the client with -m to send each line of standard input as "
                "one message, a 4-byte length in network byte order (htonl) "
                "then the line without its newline")
        got = (f"the server got {[cut(m, 16) for m in sent]} and "
               f"{len(rest)} bytes more ({peer.how})")
        lab.expect(not (sent == [m for m in lines if m] and not rest),
                   f"{said}, an empty line too, as a message of length 0 "
                   f"(the input had {lines.count(b'')} empty lines): {got}",
                   "Messages on a byte stream")
        lab.expect(not (sent == lines[:-1] and not rest and not end),
                   f"{said}, the last line too, though it ends without a "
                   f"newline: at the end of the input, what is left is the "
                   f"last line ({lines[-1].decode()}): {got}",
                   "Messages on a byte stream")
        lab.expect(sent == lines and not rest,
                   f"{said}: {got}", "Messages on a byte stream")
        printed = client.stdout_bytes
        wanted = b"".join(m.upper() + b"\n" for m in lines)
        believed = [int(n) for n in re.findall(rb"\d+", client.stderr_bytes)
                    if int(n) > MAX_MESSAGE]
        lab.expect(not (faults and status != 0 and believed and
                        wanted.startswith(printed)),
                   "the client with -m takes a message's length from a header "
                   "of which only part has come: it must wait for all "
                   f"{HEADER_SIZE} bytes of the length (while fewer than "
                   f"{HEADER_SIZE} are there) before it reads one.\n"
                   "With its reads returning at most 3 bytes (LAB_FAULTS="
                   f"'read<=3,recv<=3'), it printed {cut(printed, 60)} and "
                   f"said {cut(client.stderr_bytes.strip(), 120)}: a length "
                   f"of {believed[0] if believed else 0}, which no message of "
                   f"the reply has (the longest is {max(map(len, lines))} "
                   "bytes): the bytes behind the part that had come, left "
                   "there by an earlier, longer message, were read as the "
                   "rest of the length", "Messages on a byte stream")
        at = first_difference(printed, wanted)
        lab.expect(printed == wanted or wanted[at:at + 1] != b"\0",
                   "the client with -m to print every byte of each message, "
                   f"NUL bytes too: its output differs first at byte {at}, "
                   "where the message a NUL\x00inside has its NUL; it "
                   f"printed {cut(printed, 60)}. Write a message with "
                   "write_all(fd, its bytes, its length), never with printf "
                   "or a C string, which end at a NUL",
                   "Messages on a byte stream")
        lab.expect(printed == wanted and status == 0,
                   "the client with -m to print each message of the reply on "
                   "a line of its own"
                   + (" when its reads return at most 3 bytes "
                      "(LAB_FAULTS='read<=3,recv<=3')" if faults else
                      ", all of them sent together")
                   + f": it printed {cut(printed, 60)}, wanted "
                   f"{cut(wanted, 60)}; {client.describe()}",
                   "Messages on a byte stream")
        peer.end()


def test_the_client_keeps_the_start_of_the_next_message_whole(lab):
    """One read of the client's brings an answer of 1 byte and the first
    150 bytes of the next answer, of 300 (its reads return at most 155
    bytes, LAB_FAULTS): what is left after the first, 150 bytes, is longer
    than what the first used, 5."""
    second = bytes(random.Random(5).choices(b"abcdefghijklmnopqrstuvwxyz",
                                            k=300))
    peer = Answering(lab, lambda got: b"".join(
        frame(m.upper()) for m in unframe(got)[0]))
    rules = "read<=155,recv<=155"
    client = lab.start("client", "-m", "lab.sock", stdin=b"a\n" + second +
                       b"\n", env={"LAB_FAULTS": rules})
    peer.join(QUICK)
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    peer.end()
    printed = client.stdout_bytes.split(b"\n")
    wanted = b"A\n" + second.upper() + b"\n"
    if client.stdout_bytes != wanted and printed[:1] == [b"A"] and \
            len(printed) > 1 and len(printed[1]) == len(second):
        at = first_difference(printed[1], second.upper())
        lab.expect(False,
                   "the client with -m to keep all of what is left after "
                   "the whole messages of a read, the start of the next "
                   "one, moved whole to the front of its buffer: one read "
                   "brought an answer of 1 byte (5 with its length) and the "
                   "first 150 bytes of an answer of 300, and the client "
                   "printed that one with the right length but wrong bytes "
                   f"from byte {at} on. What is left, in_len - used bytes, "
                   "may be longer than what was used: move all of it, "
                   "memmove(in, in + used, in_len - used), not used bytes "
                   f"(here its reads returned at most 155 bytes: "
                   f"LAB_FAULTS='{rules}'); {client.describe()}",
                   "Messages on a byte stream")
    lab.expect(client.stdout_bytes == wanted and status == 0,
               "the client with -m to print an answer of 1 byte and one of "
               "300, each on a line of its own, when one read brings the "
               "first and the start of the second (its reads returning at "
               f"most 155 bytes: LAB_FAULTS='{rules}'): it printed "
               f"{cut(client.stdout_bytes, 60)}; {client.describe()}",
               "Messages on a byte stream")


def test_a_message_of_max_message_bytes_goes_both_ways(lab):
    """A message of exactly MAX_MESSAGE bytes, the most one may hold: the
    server answers it, and the client with -m sends it (a line of its
    input, or an argument) and prints the answer."""
    big = (b"the longest message. " * 200)[:4096]
    server = serving(lab, "-m")
    reply, how = message_exchange(lab, [frame(big)])
    answered(lab, server, reply, how, [big],
             f"a message of exactly {len(big)} bytes, MAX_MESSAGE, answered "
             "whole: the limit is the most a message may hold, and such a "
             "message is allowed (refuse len > MAX_MESSAGE, not >=), its "
             "answer too")
    lab.stop(server)
    (lab.dir / "lab.sock").unlink(missing_ok=True)  # for the checks' own
    for given in ("input", "argument"):
        peer = Answering(lab, lambda got: b"".join(
            frame(m.upper()) for m in unframe(got)[0]))
        args, stdin = (("-m", "lab.sock"), big + b"\n") if given == "input" \
            else (("-m", "lab.sock", big.decode()), b"")
        client = lab.start("client", *args, stdin=stdin)
        peer.join(QUICK)
        status = client.wait(QUICK)
        if status is None:
            lab.stop(client)
        sent, rest = unframe(peer.got)
        peer.end()
        where = ("a line of its standard input" if given == "input" else
                 "its argument")
        lab.expect(sent == [big] and not rest,
                   "the client with -m to send a message of exactly "
                   f"{len(big)} bytes, MAX_MESSAGE, the most a message may "
                   f"hold, from {where}: the server got "
                   f"{[cut(m, 16) for m in sent]} and {len(rest)} bytes more "
                   f"({peer.how}). Refuse only len > MAX_MESSAGE; "
                   f"{client.describe()}", "Messages on a byte stream")
        lab.expect(client.stdout_bytes == big.upper() + b"\n" and
                   status == 0,
                   "the client with -m to take an answer of exactly "
                   f"{len(big)} bytes, MAX_MESSAGE, the most a message may "
                   "hold, and print it: refuse only a length above "
                   "MAX_MESSAGE (len > MAX_MESSAGE, not >=). It printed "
                   f"{len(client.stdout_bytes)} bytes "
                   f"({cut(client.stdout_bytes, 24)}); {client.describe()}",
                   "Messages on a byte stream")


def test_the_client_says_when_the_reply_ends_early(lab):
    """Servers of the checks' own that answer less than they were sent,
    then close: with -m, the start of the second answer only, or the
    first answer alone; with MESSAGE, 3 of its 5 bytes.  The client reads
    their end of file: it must say what is missing and exit with a
    non-zero status, not 0 as if all had come."""
    cases = (
        ("-m", b"ONE\n", frame(b"ONE") + frame(b"TWO")[:5],
         "the first answer and 1 byte of the second, inside its bytes"),
        ("-m", b"ONE\n", frame(b"ONE"),
         "the first answer only, of the two messages it was sent"),
        ("hello", None, b"HEL", "3 of the 5 bytes of its answer"))
    for mode, printed, answer, what in cases:
        peer = Answering(lab, lambda got, answer=answer: answer)
        args = ("-m", "lab.sock") if mode == "-m" else ("lab.sock", mode)
        client = lab.start("client", *args,
                           stdin=b"one\ntwo\n" if mode == "-m" else b"")
        peer.join(QUICK)
        status = client.wait(QUICK)
        if status is None:
            lab.stop(client)
        peer.end()
        if not peer.sent or (printed is not None and
                             client.stdout_bytes != printed):
            continue  # the checks before say what it printed wrong
        expected = (f"the client{' with -m' if mode == '-m' else ''} to say "
                    "on stderr what is missing when the server's end of "
                    "file comes before the whole reply, and exit with a "
                    "non-zero status (check_reply, after the loop): the "
                    f"server sent {what}, then closed; "
                    f"{client.describe()}, and said "
                    f"{cut(client.stderr_bytes.strip(), 120)}")
        ok = status not in (0, None) and client.stderr.strip()
        if mode == "-m":
            lab.expect(ok, expected, "Messages on a byte stream")
        lab.expect(ok, expected, "Half-close")


def test_the_client_refuses_a_length_above_the_limit_at_once(lab):
    """A server of the checks' own answers the client's message with a
    length of MAX_MESSAGE + 1 and as many bytes, and keeps the connection
    open: more than the client's message buffer can ever hold, with its
    header.  The client must refuse the length as soon as it has read it,
    not wait for the rest, nor the server's end of file."""
    too_long = MAX_MESSAGE + 1
    listener = lab.listen(timeout=QUICK)
    client = lab.start("client", "-m", "lab.sock", stdin=b"hello\n")
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock, where "
               "a server listens", "Your task")
    got, how = receive(conn)  # until its shutdown
    if unframe(got) != ([b"hello"], b"") or how != "eof":
        return  # the checks above say what went wrong with the message
    sent_to(conn, struct.pack("!I", too_long) + b"x" * too_long)
    status = client.wait(QUICK)
    running = status is None
    if running:
        lab.stop(client)
    conn.close()
    lab.expect(not running and status not in (0, None) and
               client.stderr.strip() and not client.stdout_bytes,
               "the client with -m to refuse a length above MAX_MESSAGE "
               f"({MAX_MESSAGE}) as soon as it has read it: say so on "
               "stderr and exit with a non-zero status. The server "
               f"announced {too_long} bytes and sent them, and kept the "
               "connection open: "
               + ("the client was still running, waiting for an end that "
                  "can never fit in its buffer, or going round with a full "
                  "one; " if running else "")
               + f"it printed {cut(client.stdout_bytes, 40)}; "
               f"{client.describe()}", "Messages on a byte stream")


def test_the_client_takes_a_read_longer_than_its_buffer(lab):
    """Three answers of 3000 bytes, sent at once: one read of the client's
    brings the three, more than twice what its message buffer holds (a
    whole message of MAX_MESSAGE bytes with its length)."""
    lines = [(b"%d is a long line. " % n * 200)[:3000] for n in range(3)]
    peer = Answering(lab, lambda got: b"".join(
        frame(m.upper()) for m in unframe(got)[0]))
    client = lab.start("client", "-m", "lab.sock",
                       stdin=b"\n".join(lines) + b"\n")
    peer.join(QUICK)
    status = client.wait(QUICK)
    if status is None:
        lab.stop(client)
    peer.end()
    wanted = b"".join(m.upper() + b"\n" for m in lines)
    fd = socket_fd(lab, client)
    longest = max([e["ret"] for e in lab.made(READS, proc=client)
                   if e["args"].get("fd") == fd] + [0])
    lab.expect(client.stdout_bytes == wanted and status == 0,
               "the client with -m to print three answers of "
               f"{len(lines[0])} bytes that the server sent at once, each on "
               "a line of its own: its longest read brought "
               f"{longest} bytes, more than its message buffer holds "
               f"({HEADER_SIZE + MAX_MESSAGE}), and it printed "
               f"{len(client.stdout_bytes)} bytes "
               f"({cut(client.stdout_bytes, 24)}), not {len(wanted)}. Append "
               "to in at most the room it has left (sizeof in - in_len), "
               "print the messages that are whole and move what is left to "
               "the front, then append the rest of what the read brought; "
               f"{client.describe()}", "Messages on a byte stream")


def test_answers_that_fill_the_reply_buffer_to_the_last_byte(lab):
    # Messages of 4096, 8, 4088 and 1 bytes, all there before the server
    # reads (it is stopped meanwhile), while its first writes fail with
    # EAGAIN (LAB_FAULTS): the answers wait in the reply buffer. The first
    # two leave room for 4088 bytes in the lab's, two frames of 4100: the
    # third, 4092 bytes with its length, waits for room, or ends 4 bytes
    # past the buffer if the room is checked for the bytes alone, and the
    # fourth is then written further on. The client has shut down writing
    # by then: a message still waiting for room when the reply drains is
    # answered all the same.
    rules = ",".join(f"{call}#{n}=EAGAIN" for call in ("write", "send")
                     for n in range(1, 9))
    server = serving(lab, "-m", env={"LAB_FAULTS": rules})
    sent = [(b"first of the long ones. " * 200)[:4096], b"and then",
            (b"second of the long ones. " * 200)[:4088], b"x"]
    joined = b"".join(frame(m) for m in sent)
    peer = connected_to(lab, server)
    with frozen(server):
        peer.send(joined)
        peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive(len(joined) + 1)
    messages, rest = unframe(reply)
    if messages == [m.upper() for m in sent] and not rest and how == "eof":
        return
    lab.collector.sync()
    too_many = [e for e in lab.events(SOCKET_CALLS, proc=server, event=None)
                if (e.get("args") or {}).get("count", 0) > len(joined)]
    if too_many:
        e = too_many[0]
        lab.expect(False,
                   "each answer, its 4-byte length and its bytes, to go in "
                   "the reply buffer only if there is room for all of it, "
                   "HEADER_SIZE + len (REPLY_SIZE - pending < HEADER_SIZE + "
                   "len: wait until the reply drains): the server answered "
                   f"messages of {[len(m) for m in sent]} bytes, "
                   f"{len(joined)} bytes of answers in all, and then asked "
                   f"{e['call']} to send {e['args']['count']:,} bytes "
                   f"({e['file']}:{e['line']}): an answer was written past "
                   "the end of the reply buffer, over the count of pending "
                   "bytes that follows it. Here the first 8 writes failed "
                   "with EAGAIN (LAB_FAULTS='write#1=EAGAIN,...,"
                   "write#8=EAGAIN'), so that the answers filled the "
                   f"buffer; the client got {len(reply)} bytes "
                   f"({cut(reply[-16:], 24)} at the end), then {how}",
                   "Messages on a byte stream")
    answered(lab, server, reply, how, sent,
             f"messages of {[len(m) for m in sent]} bytes, whose answers "
             "fill the reply buffer while the server's first writes fail "
             "with EAGAIN (LAB_FAULTS), each answered whole")


def test_the_client_and_server_exchange_messages_in_pieces(lab):
    faults = {"LAB_FAULTS": "read<=5,recv<=5,write<=7,send<=7"}
    serving(lab, "-m", env=faults)
    lines = [b"line %d of many" % n for n in range(200)]
    client = lab.start("client", "-m", "lab.sock",
                       stdin=b"\n".join(lines) + b"\n", env=faults)
    why = finished(lab, client, QUICK * 2)
    wanted = b"".join(m.upper() + b"\n" for m in lines)
    lost = shutdown_mistake(lab, client, sum(4 + len(m) for m in lines))
    lab.expect(client.stdout_bytes == wanted or lost is None,
               f"{lost}; it printed "
               f"{len(client.stdout_bytes.splitlines())} of {len(lines)} "
               "lines", "Half-close")
    lab.expect(why is None and client.stdout_bytes == wanted and
               client.returncode == 0,
               "the client and the server with -m, both reading at most 5 "
               "bytes and writing at most 7 at a time (LAB_FAULTS), to "
               "exchange 200 messages, each answered once: the client "
               f"printed {len(client.stdout_bytes.splitlines())} lines "
               f"({cut(client.stdout_bytes, 40)}); {why or client.describe()}",
               "Messages on a byte stream")


# -- standard tools as peers ---------------------------------------------------

def test_nc_and_socat_exchange_a_mebibyte_with_the_server(lab):
    nc, socat = tool("nc"), tool("socat")
    if b"-U" not in subprocess.run([nc, "-h"], capture_output=True,
                                   timeout=labrun.WAIT).stderr:
        pytest.skip("this nc has no -U (Unix domain) option")
    serving(lab)
    data = b"".join(b"full duplex %07d\n" % n for n in range(50_000))
    for argv in ([nc, "-N", "-U", "lab.sock"],
                 [socat, "-", "UNIX-CONNECT:lab.sock"]):
        try:
            done = subprocess.run(argv, cwd=lab.dir, input=data,
                                  capture_output=True, timeout=QUICK * 2)
            got = done.stdout
        except subprocess.TimeoutExpired as e:
            got = e.stdout or b""
        lab.expect(got == data.upper(),
                   f"`{' '.join(os.path.basename(a) for a in argv)}` to send "
                   f"{len(data)} bytes and get them back upper-cased, whole: "
                   f"it got {len(got)} bytes", "Your task")
