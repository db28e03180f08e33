"""Lesson 05: read() and write() move bytes over the connection; read()
returns 0 at end of file.

send and recv count wherever write and read do (READS, WRITES).  The
checks that test how a program meets bytes arriving in pieces play the
other side themselves, with Python sockets, and send each piece only once
the program's trace shows that it has read the one before: the split is
forced, never left to the kernel's timing.

A server that serves its clients in child processes (lesson 07) reads and
writes in those children: the checks follow "the server's side", the
server and every process it forked (lab.family).
"""
import os
import random
import re
import signal
import socket
import time
import types

import labrun
from conftest import (LONGEST_PATH, NO_ERROR_WORDS, READS, REPLY,
                      SERVING_WAITS, WRITES, Drain,
                      accept_failure_reported, as_run, c_code,
                      client_finishes_short_writes, client_ends,
                      ctype_given_unsigned_chars,
                      client_makes_interrupted_calls_again, client_of,
                      closed_once, connected_to_the_whole_path,
                      one_after_another, failed_socket, faults,
                      frozen, has_flag, line_on_stderr_instead,
                      listen_failure_reported, random_text, receive,
                      sanitized_exchange, sanitizer_finding, sent_to,
                      server_finishes_short_writes, source_line,
                      server_makes_interrupted_calls_again,
                      says_standard_output, signals_of, stopped_by_itself,
                      stream_socket)
from tracetext import call_text, cut, difference

LESSON = "05-read-write"
# The programs run with sanitizers by one of the checks: tests/mistakes.py
# builds them beforehand for every entry, all at once.
SANITIZED = ("server", "client")
SIGPIPE_BIT = 1 << (signal.SIGPIPE - 1)  # in the masks of /proc/PID/status


def sent_bytes(events):
    return sum(e["ret"] for e in events if e["ret"] > 0)


class Reading:
    """How many bytes proc (and what it forked) has read so far, and whether
    a process that read has closed a socket.  update() looks at each event
    of the trace once: a program that reads a byte at a time makes a long
    trace, and the waits below ask again after each new piece of it."""

    def __init__(self, lab, proc):
        self.lab, self.family = lab, lab.family(proc)
        self.seen, self.total, self.closed = 0, 0, False
        self.readers = set()

    def update(self):
        found = self.lab.collector.events  # waits ask under its lock
        for e in found[self.seen:]:
            if e["pid"] not in self.family.pids() or \
                    e["event"] != "return":
                continue
            if e["call"] in READS and e["ret"] > 0:
                self.total += e["ret"]
                self.readers.add(e["pid"])
            elif e["call"] == "close" and e["pid"] in self.readers:
                self.closed = True
        self.seen = len(found)
        return self


def on_its_connection(lab, server):
    """Fails the check when the server reads or writes on another fd than
    one that accept returned: the listening fd, say."""
    accepted = {e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0}
    wrong = [e for e in lab.events(READS + WRITES, proc=lab.family(server))
             if e["args"].get("fd") not in accepted]
    lab.expect(not wrong,
               "the server to read and write on the new fd that accept "
               f"returned ({', '.join(map(str, sorted(accepted)))}), never "
               "on the listening fd, which carries connections, not bytes; "
               f"it called {call_text(wrong[0]) if wrong else ''}",
               "What to look for in the trace")


def done_with_the_client(lab, server):
    """Waits until the server has finished with its client: a read that
    returned 0 or failed, or a close, after which every write of the reply
    is in the trace."""
    side = lab.family(server)
    # The sockets it read from: a close of another (a forked child closes
    # the listening socket before it serves) says nothing of this client.
    read_from = {(e["pid"], e["args"].get("fd"))
                 for e in lab.events(READS, proc=side)}
    # Longer than an event that comes at once: a child of a forking server
    # (lesson 07) may wait for a core on a busy machine, its reply already
    # written; a server that never finishes costs this wait.
    return lab.wait_until(lambda: [
        e for e in lab.events((*READS, "close"), proc=side)
        if e["call"] == "close" and (e["pid"], e["args"].get("fd")) in
        read_from or e["call"] != "close" and e["ret"] <= 0], proc=server,
        timeout=labrun.WAIT * 3)


def done_lines(lab, server):
    """The lines the server printed about a client it is done with
    (`server: client done, N bytes echoed`), once it has left that client
    and waits for the next one.  A line that stays in stdio's buffer (no
    fflush after serve_client) comes out with the next client's line: one
    that does fails the check, naming the missing fflush."""
    def said():
        return [line for line in server.stdout.splitlines()
                if re.search(r"\bdone\b|echoed", line)]
    labrun.settle(lab, server)
    line_on_stderr_instead(lab, server, "server: client done, N bytes echoed",
                           lambda line: re.search(r"\bdone\b|echoed", line),
                           "once the server is done with a client",
                           "Your task")
    if said() or server.has_exited():
        return said()
    # The next client's `connected` line is flushed: it pushes out what
    # waited in the buffer before it.
    accepted = len(lab.events(labrun.ACCEPTS, proc=server))
    peer, _ = lab.connect()
    if peer is not None:
        lab.wait_until(lambda: len(lab.events(labrun.ACCEPTS, proc=server)) >
                       accepted, proc=server)
        labrun.settle(lab, server)
    lab.expect(not said(),
               "the server to flush standard output once it is done with a "
               "client: call fflush(stdout) after serve_client, as after "
               "the `connected` line. Its line "
               f"{cut(said()[0].encode() if said() else b'', 60)} was "
               "printed but stayed in stdio's buffer while the server "
               "waited for the next client (standard output is a file "
               "here, not a terminal, so stdio writes it only when its "
               "buffer is full, or at fflush), and came out only with the "
               "next client's line", "Your task")
    return []


def whole_reply_then_waits(lab, client, size):
    """The client's read that waits after its reads returned size bytes,
    the whole reply, on a connection whose writing side it never shut
    down or closed; or None.  The lab's server ends a connection only
    after end of file from the client, so that read waits for ever."""
    got = 0
    for e in lab.events(proc=client, event=None):
        if e["call"] in ("shutdown", "close"):
            return None
        if e["call"] in READS and e["event"] == "return" and e["ret"] > 0:
            got += e["ret"]
        elif e["call"] in READS and e["event"] == "wait" and got >= size:
            return e
    return None


def no_read_coming(lab, server, client):
    """Whether the server will not read the client's bytes: the client
    ended without connecting, or a server of one process took the
    connection and waits in accept again (the checks after this one say
    why)."""
    if client.has_exited() and not lab.events("connect", proc=client,
                                              ret=0):
        return True
    if lab.events("fork"):
        return False  # the parent's accept says nothing of its child's read
    last = (lab.events(proc=server, event=None) or [None])[-1]
    return (last is not None and last["event"] == "wait" and
            last["call"] in labrun.ACCEPTS and
            lab.events(labrun.ACCEPTS, proc=server,
                       where=lambda e: e["ret"] >= 0))


def not_waiting(lab, proc, name):
    """The first call of proc (the program name, and what it forked) that
    asks its reads or writes not to wait, with the flag that asks it:
    (event, flag), or None.  recv or send with MSG_DONTWAIT, a socket made
    with SOCK_NONBLOCK (socket, accept4), or fcntl(F_SETFL) with
    O_NONBLOCK: the last three only in a program whose source does not
    poll, whose calls then fail with EAGAIN whenever the bytes, or room
    for them, are not there yet (a program of lessons 08 and 09 polls, and
    calls only what is ready, though a run may not need to poll)."""
    side = lab.family(proc)
    _, text = lab.source(name)
    polls = re.search(r"\b(?:p?poll|p?select|epoll_wait)\s*\(",
                      c_code(text)[0])
    for e in lab.events(READS + WRITES + ("socket", "accept4", "fcntl"),
                        proc=side, event=None):
        args = e.get("args") or {}
        words = {w for v in args.values() if isinstance(v, str)
                 for w in v.split("|")}
        if e["call"] in READS + WRITES and has_flag(e, "MSG_DONTWAIT") and \
                not (polls and e["call"] in WRITES):
            return e, "MSG_DONTWAIT"
        if polls:
            continue
        if e["call"] in ("socket", "accept4") and "SOCK_NONBLOCK" in words:
            return e, "SOCK_NONBLOCK"
        if e["call"] == "fcntl" and args.get("cmd") == "F_SETFL" and \
                "O_NONBLOCK" in words:
            return e, "O_NONBLOCK"
    return None


def calls_that_wait(lab, proc, name, waits_for, instead):
    """Fails the check, naming the flag, when proc (the server's side, or
    the client) asked its reads or writes not to wait (not_waiting).  Such
    a read fails with EAGAIN whenever the peer's bytes have not arrived
    yet (a write, whenever the peer's queue is full), and what happens
    then depends on timing: the flags in the trace say it every run.
    waits_for: what the reads wait for, in words; instead: the calls to
    make."""
    found = not_waiting(lab, proc, name)
    if found is None:
        return
    e, flag = found
    what = "writes" if e["call"] in WRITES else "reads"
    lab.expect(False,
               f"the {name}'s {what} to wait "
               + (f"for {waits_for}" if what == "reads" else
                  "for room in the connection")
               + f", as {'read(2)' if what == 'reads' else 'write(2)'} "
               f"does on a blocking socket: it called {call_text(e)} at "
               f"{e['file']}:{e['line']}, and {flag} makes "
               + ("that call" if flag == "MSG_DONTWAIT" else
                  "every read and write of that socket")
               + " return at once, -1 EAGAIN, when "
               + ("the bytes have not arrived yet" if what == "reads" else
                  "the peer's queue is full")
               + f": the {name} then gives up on a peer that has only been "
               f"slower; {instead}", "Your task")


def test_the_reply_is_the_message_upper_cased(lab):
    server = lab.serving()
    stream_socket(lab, lab.require("socket", "the server to create its "
                                   "socket", "Your task", proc=server),
                  "server", "Your task")
    client = lab.start("client", "lab.sock", "hello, socket")
    made = lab.require("socket", "the client to create its own socket",
                       "Your task", proc=client)
    stream_socket(lab, made, "client", "Your task")
    lab.wait_until(lambda: lab.events(READS, proc=lab.family(server),
                                      event=None) or
                   no_read_coming(lab, server, client))
    server_waits = ("server", "the client's bytes",
                    "use read(cfd, buf, sizeof buf), write(2) and accept(2) "
                    "on a socket left blocking")
    calls_that_wait(lab, server, *server_waits)
    stuck = lab.wait_until(lambda: whole_reply_then_waits(lab, client, 13),
                           proc=client)
    lab.expect(not stuck,
               "the client to stop reading once the whole reply has "
               "arrived: read_exactly reads len bytes, as many as the "
               "client sent (13), no more. Its reads returned 13 bytes, "
               f"the whole reply, then it called "
               f"{call_text(stuck) if stuck else 'read'} "
               "again: it waits for an end of file that the server does "
               "not send while the client keeps its side open, and the "
               "server waits for the client's; read while got < len",
               "Your task")
    if client.wait(0) is None:  # the wait above was its time to end
        lab.stop(client)
    calls_that_wait(lab, client, "client", "the reply",
                    "use read(fd, buf + got, len - got) and write(2) on a "
                    "socket left blocking")
    connected_to_the_whole_path(lab, client, "lab.sock")
    on_its_connection(lab, server)
    lab.expect(client.returncode == 0 and
               client.stdout_bytes == b"HELLO, SOCKET\n",
               "`client lab.sock \"hello, socket\"` prints HELLO, SOCKET and "
               f"exits with 0; it printed "
               f"{difference(client.stdout_bytes, REPLY)}; "
               f"{client.describe()}", "Your task")
    done_with_the_client(lab, server)
    labrun.settle(lab, server)
    calls_that_wait(lab, server, *server_waits)  # its writes too, by now
    closed_once(lab, "Your task")


def test_both_programs_reach_the_longest_path(lab):
    # 107 bytes, the most sun_path holds with its '\0': an address length
    # a little too small (sizeof(struct sockaddr), sizeof addr.sun_path)
    # cuts only so long a path, in bind or in connect.
    name, shown = LONGEST_PATH, f"{LONGEST_PATH[:8]}...{LONGEST_PATH[-8:]}"
    lab.serving(name)  # its bind named the whole path
    client = lab.client(name, "hello, socket")
    event = lab.require("connect", f"`client {shown} \"hello, socket\"` "
                        "to call connect(2)", "Your task", proc=client)
    connected_to_the_whole_path(lab, client, name)
    path = (event["args"].get("addr") or {}).get("path") or ""
    lab.expect(path == name and event["ret"] == 0,
               "the client to pass connect the length of the whole "
               "address, sizeof addr (110 bytes), and reach the whole path "
               f"of {len(name)} bytes (the longest that sun_path holds); it "
               f"called {call_text(event)}", "Your task")
    lab.expect(client.returncode == 0 and
               client.stdout_bytes == b"HELLO, SOCKET\n",
               f"`client {shown} \"hello, socket\"` to print HELLO, SOCKET "
               "from the server listening on that path, and exit with 0; it "
               f"printed {difference(client.stdout_bytes, REPLY)}; "
               f"{client.describe()}", "Your task")


def test_the_bytes_cross_exactly(lab):
    server = lab.serving()
    client = lab.client("lab.sock", "ping")
    lab.require(WRITES, "the client to write(2) its message", "Your task",
                proc=client)
    writes = lab.events(WRITES, proc=client)
    data = "".join(e.get("data", "") for e in writes)
    count = sent_bytes(writes)
    lab.expect(not (count == 5 and data == "ping\u0000"),
               "the client to write the 4 bytes of \"ping\" and no more: it "
               "also sent the '\\0' that terminates the C string (strlen + "
               "1 bytes); the protocol has no terminating NUL, so write "
               f"strlen(message) bytes; it called {call_text(writes[-1])}",
               "What this stage does")
    lab.expect(count == 4 and data == "ping",
               f"the client to write the 4 bytes of \"ping\"; it wrote "
               f"{count} bytes: {cut(data.encode('latin-1', 'replace'), 60)}",
               "Your task")
    side = lab.family(server)
    got = lab.require(READS, "the server to read(2) the client's bytes",
                      "Your task", proc=side, where=lambda e: e["ret"] > 0)
    fd = got["args"]["fd"]
    done_with_the_client(lab, server)
    reads = [e for e in lab.events(READS, proc=side)
             if e["args"].get("fd") == fd and e["ret"] > 0]
    lab.expect("".join(e.get("data", "") for e in reads) == "ping",
               "the 4 bytes the client wrote (\"ping\") are the bytes the "
               f"server read (in one read or several); it read "
               f"{', '.join(call_text(e) for e in reads[:4])}",
               "What to look for in the trace")
    replies = [e for e in lab.events(WRITES, proc=side)
               if e["args"].get("fd") == fd]
    back = sent_bytes(replies)
    reply = lab.events(READS, proc=client, where=lambda e: e["ret"] > 0)
    lab.expect(replies or not reply,
               "the server to send its reply with write(2) (write_all) or "
               "send(2): the client read the reply, "
               f"{call_text(reply[0]) if reply else ''}, but the server "
               "made no write or send on the connection (fd "
               f"{fd}): it wrote through stdio (dprintf, or fwrite or "
               "fprintf on fdopen(cfd)), whose own writes the trace does "
               "not see, so no check can test them (and a \"%s\" or "
               "\"%.*s\" format stops at the first NUL byte)", "Your task")
    lab.expect(back == 4 and "".join(e.get("data", "") for e in replies)
               == "PING",
               "the server to write back exactly the 4 bytes it read, upper-"
               "cased (\"PING\"): only the n bytes that read returned, not "
               f"the whole buffer, so no extra bytes; it wrote {back} bytes"
               + (f": {call_text(replies[0])}" if replies else ""),
               "What this stage does")


def test_read_returns_0_when_the_client_is_done(lab):
    server = lab.serving()
    lab.client("lab.sock", "bye")
    # The read that returns 0, or what the process that reads the
    # connection does instead: closes it, or goes on to the next accept.
    accepted = lab.require(labrun.ACCEPTS, "the server to accept the client",
                           "Your task", proc=server,
                           where=lambda e: e["ret"] >= 0)
    side, conn = lab.family(server), accepted["ret"]
    first = lab.wait_for(READS, proc=side, event=None,
                         where=lambda e: e["ts"] > accepted["ts"] and
                         e["args"].get("fd") == conn)
    reader = first["pid"] if first else server.pid
    lab.wait_for((*READS, "close", *labrun.ACCEPTS), proc=side, event=None,
                 where=lambda e: e["ts"] > accepted["ts"] and
                 e["pid"] == reader and e["event"] == "return" and (
                     e["call"] in labrun.ACCEPTS or
                     e["args"].get("fd") == conn and e["ret"] == 0))
    eof = lab.wait_for(READS, proc=side, ret=0, timeout=0)
    if eof is None:
        reads = [e["ret"] for e in lab.events(READS, proc=side)]
        closed = [e for e in lab.events("close", proc=side)
                  if e["args"].get("fd") == conn and e["pid"] == reader]
        lab.expect(False,
                   "the server to read until end of file (read(2) returns "
                   "0) once the client has gone: a stream has no message "
                   "boundaries, and only the end of file says the client is "
                   f"done; its reads returned {reads[:8]}"
                   + (", and then it closed the connection" if closed
                      else ""), "What to look for in the trace")
    fd = eof["args"]["fd"]
    after = lab.wait_for((*READS, "close", *labrun.ACCEPTS), proc=side,
                         event=None, where=lambda e: e["ts"] > eof["ts"] and
                         e["pid"] == eof["pid"] and
                         (e["call"] in labrun.ACCEPTS or
                          e["args"].get("fd") == fd))
    lab.expect(after is not None and after["call"] == "close",
               f"after read({fd}) returned 0, end of file, the server to "
               f"leave its loop and close fd {fd}: 0 means the client has "
               "closed its end and nothing more will come; "
               + (f"it called {call_text(after)} again"
                  if after and after["call"] in READS else
                  "it did not close it"),
               "What to look for in the trace")


def test_end_of_file_ends_the_client_without_an_error(lab):
    server = lab.serving()
    lab.client("lab.sock", "bye")
    lab.require(READS, "the server's read(2) to return 0 (end of "
                "file) once the client has gone",
                "What to look for in the trace", proc=lab.family(server),
                ret=0)
    # Back waiting for the next client: what it said is out by now.
    said = done_lines(lab, server)
    counted(lab, server, said, 3, "the client sent \"bye\"")
    done = [line for line in said
            if re.search(r"\b3\b", line) and "bytes" in line]
    lab.expect(done,
               "at end of file (read() = 0) the server to leave its loop "
               "and print `server: client done, 3 bytes echoed`, with no "
               "error message: 0 is how the client says it is done, not an "
               "error; it printed "
               f"{cut(server.stdout_bytes, 100)} and on stderr "
               f"{cut(server.stderr_bytes, 100)}", "Your task")


def counts_in(lines):
    return [int(n) for line in lines for n in re.findall(r"\b(\d+) bytes",
                                                         line)]


def counted(lab, server, said, size, how):
    """Fails the check, naming the count, when the lines the server printed
    about a client done (said) give a count other than size, the bytes
    that client sent (how: in words)."""
    counts = counts_in(said)
    lab.expect(not counts or counts[-1] == size,
               f"the line `server: client done, {size} bytes echoed`, with "
               f"the count of the bytes echoed to this client: {how}, "
               f"{size} bytes; add the n bytes of each read once it is "
               "written back (total += n), starting from 0 for each client "
               "(size_t total = 0 in serve_client, not static nor global); "
               f"it printed {cut(said[-1].encode() if said else b'', 80)}",
               "Your task")


def test_each_client_gets_its_own_count(lab):
    server = lab.serving()
    side, ends = lab.family(server), 0
    for message in ("bye", "a second client"):
        lab.client("lab.sock", message)
        ends += 1
        lab.wait_until(lambda: len(lab.events(READS, proc=side, ret=0)) >=
                       ends, proc=server)
        said = done_lines(lab, server)
    counted(lab, server, said, len("a second client"),
            "the second client sent \"a second client\", after a first "
            "client that sent \"bye\"")


def test_the_server_uses_only_the_n_bytes_read(lab):
    server = lab.serving()
    first, second = b"abcdefghijklmnopqrstuvwxyz0123456789", b"hi"
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    # Two reads on one connection: the second, shorter, returns into the
    # buffer that still holds the end of the first.
    sent = 0
    for n, piece in enumerate((first, second), 1):
        sent_to(peer, piece)
        sent += len(piece)
        lab.expect(lab.wait_until(lambda: sent_bytes(lab.events(
                       READS, proc=lab.family(server))) >= sent,
                       proc=server),
                   f"the server to read(2) piece {n} of the client's bytes",
                   "What to look for in the trace")
    sent_to(peer, b"", end=True)
    reply, _ = receive(peer)
    done_with_the_client(lab, server)
    labrun.settle(lab, server)
    said = (server.stdout_bytes + server.stderr_bytes).upper()
    stale = second.upper() + first.upper()[2:12]
    at = said.find(stale)
    lab.expect(at < 0,
               "the server to use only the n bytes that read returned: "
               "read() adds no terminating NUL, so printf(\"%s\", buf) runs "
               "on into bytes that the read before left in the buffer; after "
               "reading \"hi\" it printed "
               f"{cut(said[at:at + 40], 40)}, the bytes of the first read "
               "after HI: print n bytes with printf(\"%.*s\", (int)n, buf) "
               "or fwrite", "What this stage does")
    lab.expect(reply == (first + second).upper(),
               "the server to send back the upper-cased bytes of each read; "
               f"it sent back {difference(reply, (first + second).upper())}",
               "Your task")


def test_the_server_echoes_nul_bytes(lab):
    lab.serving()
    message = b"nul\0bytes\0are bytes too"
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    sent_to(peer, message, end=True)
    reply, _ = receive(peer)
    lab.expect(reply == message.upper(),
               "the server to send back every byte it read, NUL bytes "
               "too: the message is bytes, not a C string, and a length "
               "found by strlen(buf) (or a \"%s\" format) stops at the "
               "first NUL byte; write back the n bytes that read returned. "
               f"The client sent {cut(message, 40)}, and the server sent "
               f"back {difference(reply, message.upper())}",
               "What this stage does")


# Where the checks cut 50000 bytes into three pieces, each sent once the
# program has read the one before.
PIECE_ENDS = (20_000, 35_000)


def with_lines_cut_at_pieces(data):
    """data with a newline as the last byte of each piece but the last: a
    read then ends with a newline every run, and a program that takes a
    newline for the end of the message stops there every run, not only
    when chance puts one there."""
    data = bytearray(data)
    for end in PIECE_ENDS:
        data[end - 1] = ord("\n")
    return bytes(data)


def test_a_large_message_arrives_whole(lab):
    server = lab.serving()
    message = with_lines_cut_at_pieces(random.randbytes(50_000))
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    # In three pieces, each sent once the server has read the one before
    # (or has stopped reading): a server that reads once gets only the
    # first piece, whatever the scheduling.
    pieces = [message[:PIECE_ENDS[0]], message[PIECE_ENDS[0]:PIECE_ENDS[1]],
              message[PIECE_ENDS[1]:]]
    sent, reading, replies = 0, Reading(lab, server), Drain(peer)
    for piece in pieces:
        try:
            peer.sendall(piece)
        except OSError:
            break  # the server has closed the connection
        sent += len(piece)
        lab.wait_until(lambda: reading.update().total >= sent or
                       reading.closed, proc=server)
    try:
        peer.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    reply, how = replies.result()
    read = reading.update().total
    lab.expect(reply == message.upper(),
               f"all {len(message)} bytes, sent in {len(pieces)} pieces, to "
               "come back upper-cased: the server reads until end of file "
               "(read() = 0), however the bytes arrive, and answers each "
               f"read; it read {read} bytes and sent back "
               f"{difference(reply, message.upper())}"
               + (" (the connection was still open)" if how == "timeout"
                  else ""),
               "Short reads and writes")
    done_with_the_client(lab, server)
    said = done_lines(lab, server)
    counts = [int(n) for line in said
              for n in re.findall(r"\b(\d+) bytes", line)]
    lab.expect(not counts or len(message) in counts,
               f"the line `server: client done, {len(message)} bytes "
               "echoed`: the count adds the bytes of every read (total += "
               f"n), and the {len(message)} bytes came in several reads "
               f"({len(lab.events(READS, proc=lab.family(server)))}); it "
               f"printed {cut(said[-1].encode() if said else b'', 80)}",
               "Your task")


def test_toupper_is_given_unsigned_chars(lab):
    # The 50000 random bytes above hold bytes of 0x80 and more, which a
    # char holds as negative numbers: glibc's toupper answers them as if
    # they had been cast, so only the source shows the mistake.
    ctype_given_unsigned_chars(lab, "server", "Your task")


def message_of(lab, client, conn, message):
    got, _ = receive(conn, len(message))
    lab.expect(got == message,
               f"the client to send all {len(message)} bytes of its message; "
               f"the server received {difference(got, message)}",
               "Short reads and writes")


def test_the_client_assembles_a_reply_that_comes_in_pieces(lab):
    message = with_lines_cut_at_pieces(random_text(50_000))
    client, conn = client_of(lab, stdin=message)
    message_of(lab, client, conn, message)
    reply = message.upper()
    pieces = [reply[:PIECE_ENDS[0]], reply[PIECE_ENDS[0]:PIECE_ENDS[1]],
              reply[PIECE_ENDS[1]:]]
    sent, reading = 0, Reading(lab, client)

    def has_read_it_all():
        return reading.update().total >= sent or any(
            has_flag(e, "MSG_WAITALL")
            for e in lab.events("recv", proc=client, event=None))

    # The first piece once the client waits for it: its read (or recv,
    # whose flags then show in the trace) has nothing to read before.
    lab.wait_for(READS, proc=client, event="wait")
    for piece in pieces:
        try:
            conn.sendall(piece)
        except OSError:
            break  # the client has closed the connection
        sent += len(piece)
        # The next piece only once the client has read this one: a client
        # that reads once gets only the first piece.
        lab.wait_until(has_read_it_all, proc=client)
    client_ends(client, conn)
    reads = [e["ret"] for e in lab.events(READS, proc=client)]
    lab.expect(client.stdout_bytes == reply,
               f"the client to read until the whole reply has arrived "
               f"(read_exactly), then print it: the server sent its "
               f"{len(reply)} bytes in {len(pieces)} pieces, and a read "
               "returns what has arrived so far, a short read, to go at "
               f"buf + got; its reads returned {reads[:8]}, and it printed "
               f"{difference(client.stdout_bytes, reply)}",
               "Short reads and writes")


def test_the_client_prints_the_reply_byte_for_byte(lab):
    message = b"nul\0bytes\0are bytes too"
    client, conn = client_of(lab, stdin=message)
    message_of(lab, client, conn, message)
    sent_to(conn, message.upper())
    client_ends(client, conn)
    lab.expect(client.stdout_bytes == message.upper(),
               "the client to print the reply byte for byte, NUL bytes "
               "too: the reply is bytes, not a C string with a terminating "
               "NUL, and printf(\"%s\") stops at the first NUL byte; print "
               "len bytes with fwrite(reply, 1, len, stdout); it printed "
               f"{difference(client.stdout_bytes, message.upper())}",
               "What this stage does")


def test_the_client_reports_a_server_that_closes_early(lab):
    client, conn = client_of(lab, "lab.sock", "hello, socket")
    message_of(lab, client, conn, b"hello, socket")
    sent_to(conn, b"HELLO")
    conn.close()
    # It ends, or it reads end of file again and again.
    lab.wait_until(lambda: len(lab.events(READS, proc=client, ret=0)) > 1,
                   proc=client)
    status = client.wait(0) if client.has_exited() else None
    lab.expect(not any(words in client.stderr for words in NO_ERROR_WORDS),
               "the client to say that the server closed the connection "
               "(after 5 of the 13 bytes) when read returns 0: end of file "
               "is no error, errno says nothing of it, and perror prints "
               f"`{NO_ERROR_WORDS[0]}`; it said "
               f"{cut(client.stderr_bytes, 120)}: handle 0 apart from -1",
               "Your task")
    lab.expect(client.stderr.strip() or not client.stdout.strip() or
               status is None or status <= 0,
               "the client to say on standard error, with fprintf(stderr, "
               "...), that the server closed the connection after 5 of the "
               "13 bytes: it said it on standard output, where only the "
               "reply goes, and a script that keeps the reply would keep "
               f"the message as if it were one; it printed "
               f"{cut(client.stdout_bytes, 120)}; {client.describe()}",
               "Your task")
    lab.expect(status is not None and status > 0 and
               client.stderr.strip(),
               "the client to stop at read() = 0, end of file: the server "
               "closed the connection after 5 of the 13 bytes, and nothing "
               "more will come; say so (\"client: the server closed the "
               "connection after 5 of 13 bytes\") and exit with a non-zero "
               f"status; {client.describe()}", "Your task")


def test_a_closed_standard_output_is_said_not_lost(lab):
    # With fd 1 closed the socket takes number 1: the reply "printed"
    # would go back to the server, and the client would exit 0.
    listener = lab.listen()
    client = lab.start("client", "lab.sock", "hello, socket",
                       under=("sh", "-c", 'exec "$0" "$@" >&-'))
    if lab.wait_until(lambda: lab.events("connect", proc=client),
                      proc=client):
        conn = lab.accept(listener)
        if conn is not None:
            receive(conn, len(b"hello, socket"))
            sent_to(conn, b"HELLO, SOCKET")
    status = client.wait()
    if status is None:
        lab.stop(client)
    lab.expect(status is not None and status > 0 and
               says_standard_output(client.stderr),
               "the client to refuse to run with standard output closed "
               "(>&-): socket(2) returns the lowest free fd, so its socket "
               "took fd 1, and the reply it printed went into the socket, "
               "not to any output; check for fd == STDOUT_FILENO after "
               "socket, say that standard output is closed, and exit with a "
               f"non-zero status; {client.describe()}", "Your task")


def test_a_server_that_leaves_cannot_kill_the_client(lab):
    client, conn = client_of(lab, "lab.sock", "hello, socket")
    message_of(lab, client, conn, b"hello, socket")
    lab.require(READS, "the client to wait in read(2) for the reply",
                "Your task", proc=client, event="wait")
    client.asleep()
    masks = signals_of(client) or {}
    protected = any(masks.get(k, 0) & SIGPIPE_BIT
                    for k in ("SigIgn", "SigBlk", "SigCgt"))
    writes = lab.events(WRITES, proc=client)
    nosignal = writes and all(e["call"] == "send" and
                              has_flag(e, "MSG_NOSIGNAL") for e in writes)
    conn.close()
    lab.expect(protected or nosignal,
               "the client to ignore SIGPIPE (signal(SIGPIPE, SIG_IGN) in "
               "main), or to send with MSG_NOSIGNAL: a write to a server "
               "that has gone then fails with EPIPE, instead of SIGPIPE "
               "killing the client without a word; while it waited for "
               f"the reply, /proc/{client.pid}/status showed SIGPIPE "
               "neither ignored nor caught" + ("" if masks else
                                             f" ({client.describe()})"),
               "SIGPIPE")


def stopped_by_a_rule(proc):
    """Waits until proc is stopped (state T: a LAB_FAULTS rule raised
    SIGSTOP) or has ended: whether it is stopped."""
    deadline = time.monotonic() + labrun.WAIT
    while time.monotonic() < deadline:
        state = labrun.process_state(proc.pid)[0]
        if state in ("T", "Z", None):
            return state == "T"
        time.sleep(0.0005)
    return False


def test_sigpipe_is_ignored_before_the_first_write(lab):
    # The client stops (SIGSTOP, raised by LAB_FAULTS) just before its
    # first write: what /proc shows then is what that write would meet.
    rules = "write#1=SIGSTOP,send#1=SIGSTOP"
    client, conn = client_of(lab, "lab.sock", "hello, socket",
                             env=faults(rules))
    stopped = stopped_by_a_rule(client)
    masks = signals_of(client) or {} if stopped else {}
    protected = any(masks.get(k, 0) & SIGPIPE_BIT
                    for k in ("SigIgn", "SigBlk", "SigCgt"))
    client.signal(signal.SIGCONT)
    message_of(lab, client, conn, b"hello, socket")
    lab.wait_for(WRITES, proc=client)  # its flags, once it has returned
    writes = lab.events(WRITES, proc=client)
    nosignal = writes and all(e["call"] == "send" and
                              has_flag(e, "MSG_NOSIGNAL") for e in writes)
    lab.expect(not stopped or protected or nosignal,
               "the client to ignore SIGPIPE before its first write: call "
               "signal(SIGPIPE, SIG_IGN) early in main, before write_all "
               "(or send with MSG_NOSIGNAL). The first write is the one "
               "that meets a server that has gone; when it was about to "
               f"be made (`{as_run(lab, 'client', rules, 'lab.sock', 'hi')}` "
               f"stops it there), /proc/{client.pid}/status showed SIGPIPE "
               "neither ignored nor caught: a write then would kill the "
               "client without a word", "SIGPIPE")


def test_the_server_ignores_sigpipe_before_its_first_client(lab):
    # The server (or the child that serves the client) stops (SIGSTOP,
    # raised by LAB_FAULTS) just before its first write: what /proc shows
    # then is what that write would meet, were the client gone.
    rules = "write#1=SIGSTOP,send#1=SIGSTOP"
    server = lab.serving(env=faults(rules))
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    sent_to(peer, b"hello", end=True)
    family = [server.pid, *labrun.descendants(server.pid)]
    stopped, deadline = None, time.monotonic() + labrun.WAIT
    while stopped is None and time.monotonic() < deadline:
        family = [server.pid, *labrun.descendants(server.pid)]
        stopped = next((pid for pid in family
                        if labrun.process_state(pid)[0] == "T"), None)
        if stopped is None:
            time.sleep(0.0005)
    masks = {}
    if stopped is not None:
        masks = signals_of(types.SimpleNamespace(pid=stopped)) or {}
    protected = any(masks.get(k, 0) & SIGPIPE_BIT
                    for k in ("SigIgn", "SigBlk", "SigCgt"))
    for pid in family:
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
    receive(peer, 5)
    lab.wait_for(WRITES, proc=lab.family(server))  # its flags, once made
    writes = lab.events(WRITES, proc=lab.family(server))
    nosignal = writes and all(e["call"] == "send" and
                              has_flag(e, "MSG_NOSIGNAL") for e in writes)
    lab.expect(stopped is None or protected or nosignal,
               "the server to ignore SIGPIPE before it serves its first "
               "client: call signal(SIGPIPE, SIG_IGN) early in main, before "
               "the accept loop (or send with MSG_NOSIGNAL). The first "
               "client may leave before its reply; when the server was "
               "about to write that reply "
               f"(`{as_run(lab, 'server', rules)}` stops it there), "
               f"/proc/{stopped}/status showed SIGPIPE neither ignored nor "
               "caught: that write would kill the server without a word",
               "SIGPIPE")


def done_after(lab, server, failed):
    """Waits until the server has left the client whose call failed
    (failed: its event): closed that connection, and waits for the next
    client; returns the lines it printed about a client done since."""
    fd = failed["args"]["fd"]
    after = lab.wait_for(("close", *READS, *WRITES), proc=lab.family(server),
                         event=None,
                         where=lambda e: e["ts"] > failed["ts"] and
                         e["pid"] == failed["pid"] and
                         e["args"].get("fd") == fd)
    what = "read" if failed["call"] in READS else "write"
    gone = labrun.process_state(failed["pid"])[0] in (None, "Z")
    lab.expect(after is None and gone or
               after is not None and after["call"] == "close",
               f"a failed {what} to end that client: when {what} fails "
               f"(not EINTR), here {call_text(failed)}, say why with "
               f"perror(\"server: {what}\") and return from serve_client, "
               f"then close fd {fd}: the connection is broken, and nothing "
               "more comes from it; "
               + (f"it called {call_text(after)} on it again"
                  if after is not None else f"it did not close fd {fd}"),
               "Your task")
    return done_lines(lab, server)


def failed_and_not_done(lab, rules, call):
    """Runs the server with rules (LAB_FAULTS) failing its read or write
    of a client's "hello"; fails the check, naming the mistake, unless it
    reports the failure, with no line that says the client is done."""
    server = lab.serving(env=faults(rules))
    peer, error = lab.connect()
    lab.expect(peer is not None,
               f"a client to connect; it failed: {error}", "Your task")
    sent_to(peer, b"hello", end=call == WRITES)
    if call == READS:
        # Its answer, then more bytes: a server that reads only once poll
        # says bytes are there (lesson 08) reads a second time too.
        receive(peer, 5)
        sent_to(peer, b"again")
    failed = lab.require(call, "the server to read the client's bytes and "
                         "answer them", "Your task", proc=lab.family(server),
                         ret=-1)
    said = done_after(lab, server, failed)
    how = f"{call_text(failed)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules)}` does it again)"
    what = "read" if call == READS else "write"
    lab.expect(not said and server.stderr.strip(),
               f"the server to report a failed {what} as an error, not as a "
               f"client done: when it fails, here {how}, say why with "
               f"perror(\"server: {what}\") and return from serve_client, "
               "past the line `client done, N bytes echoed`, which says that "
               "the client ended with end of file and every byte was echoed"
               + ("; write_all returns -1 for EPIPE as for any error"
                  if what == "write" else "")
               + "; it printed "
               + (cut(said[0].encode(), 60) if said else "nothing")
               + f" and on stderr {cut(server.stderr_bytes, 80)}",
               "Your task")
    if call != READS:
        closed_once(lab, "Your task")
        return  # every write fails: test_the_server_survives_... serves on
    # One client's broken connection ends that client, not the server,
    # which serves the next once the check's own clients have gone.
    for peer in list(lab.peers):
        peer.close()
    client = lab.client("lab.sock", "still there?")
    lab.expect(client.stdout == "STILL THERE?\n",
               "a failed read to end only that client: the server goes on "
               f"to serve the next one. After {how} the next client "
               f"printed {cut(client.stdout_bytes, 60)}; "
               f"{server.describe()}: after perror(\"server: read\"), "
               "return from serve_client, close that client's fd, and "
               "accept the next client, as after end of file; one client's "
               "broken connection is no reason to stop serving the others",
               "Your task")
    closed_once(lab, "Your task")


def test_a_failed_read_is_not_a_client_done(lab):
    # The second read fails with ECONNRESET, as when a client leaves with
    # bytes unread (LAB_FAULTS): an error, not the end of file that
    # `client done` announces.
    failed_and_not_done(lab, "read#2=ECONNRESET,recv#2=ECONNRESET", READS)


def test_a_failed_write_is_reported(lab):
    # Every write fails with EPIPE, as when the client has gone.
    failed_and_not_done(lab, "write=EPIPE,send=EPIPE", WRITES)


def test_the_client_reports_a_failed_read_or_write(lab):
    for rules, what in (("write=EPIPE,send=EPIPE", "write"),
                        ("read=ECONNRESET,recv=ECONNRESET", "read")):
        client, conn = client_of(lab, "lab.sock", "hello, socket",
                                 env=faults(rules))
        if what == "read":
            message_of(lab, client, conn, b"hello, socket")
        failed = lab.require(READS if what == "read" else WRITES,
                             f"the client to {what} on its socket",
                             "Your task", proc=client, ret=-1)
        exited = stopped_by_itself(lab, client, after=failed)
        how = f"{call_text(failed)}, failed by LAB_FAULTS " \
            f"(`{as_run(lab, 'client', rules, 'lab.sock', 'hello')}` does " \
            "it again)"
        lab.expect(exited and client.returncode > 0 and
                   client.stderr.strip(),
                   f"the client to report a failed {what} and exit with a "
                   f"non-zero status: here {how}; say why with "
                   f"perror(\"client: {what}\") and stop"
                   + ("; write_all returns -1 for EPIPE as for any error: "
                      "the message never reached the server, and no reply "
                      "will come" if what == "write" else "")
                   + f"; {client.describe()}", "SIGPIPE")
        for peer in list(lab.peers):
            peer.close()
        (lab.dir / "lab.sock").unlink(missing_ok=True)


def reply_and_more(lab, message, rules, run=None):
    """The lab's client sends message to a Python server, with rules
    (LAB_FAULTS) making its first read short; the reply then comes whole,
    while the client is stopped, with 4 KiB more after it.  run: what
    start() needs to run another build (lab.sanitized).  Returns the
    client once it has ended (or the exchange was ended for it)."""
    run = dict(run or {})
    slow = labrun.WAIT * (5 if run else 1)  # a sanitized start is slow
    env = {**run.pop("env", {}), **faults(rules)}
    (lab.dir / "lab.sock").unlink(missing_ok=True)
    listener = lab.listen(timeout=slow)
    client = lab.start("client", stdin=message, env=env, **run)
    conn = lab.accept(listener)
    lab.expect(conn is not None,
               "the client to connect to lab.sock, where a server listens",
               "Your task")
    message_of(lab, client, conn, message)
    lab.wait_for(READS, proc=client, event="wait", timeout=slow)
    with frozen(client):  # all of it there before the second read
        sent_to(conn, message.upper() + b"X" * 4096)
    client_ends(client, conn, timeout=slow)
    return client


def test_the_client_reads_no_more_than_its_reply(lab):
    # The first read returns at most 100 bytes (LAB_FAULTS), and 4 KiB
    # come after the reply: a read asked for more than the len - got bytes
    # still missing, at buf + got, takes them past the end of the buffer.
    # Nearly the 64 KiB the lab's clients send at most, so that a read
    # asked for len bytes at buf + 100 runs past a buffer of that size.
    message = random_text(65535)
    rules = "read#1<=100,recv#1<=100"
    client = reply_and_more(lab, message, rules)
    got, over = 0, None
    for e in lab.events(READS, proc=client):
        if got < len(message) and e["args"]["count"] > len(message) - got:
            over = over or (e, got)
        got += max(e["ret"], 0)
    if over is None:
        return
    # A read asked for more than the reply's rest: past the end of its
    # buffer, or into a buffer of its own (one chunk at a time)?  The
    # client built with sanitizers says.
    run = lab.sanitized("client")
    if not run:
        return  # no sanitizers here: nothing shows the buffer's end
    checked = reply_and_more(lab, message, rules, run)
    source, text = lab.source("client")
    found = sanitizer_finding(checked.stderr_bytes,
                              [source.rsplit("/", 1)[-1]])
    place = found and found["place"]
    lab.expect(not found,
               "the client to ask each read for at most the bytes of the "
               "reply still missing: read(fd, buf + got, len - got). After "
               f"{over[1]} of the {len(message)} bytes (the first read made "
               f"short by LAB_FAULTS, {rules}) it called "
               f"{call_text(over[0])}, asking for "
               f"{over[0]['args']['count']}, more than the "
               f"{len(message) - over[1]} left, and the 4096 bytes that came "
               "after the reply landed past the end of its buffer: built "
               "with -fsanitize=address,undefined, it made "
               f"{found['what'] if found else ''}"
               + (f" at {source}:{place[1]}: `{source_line(text, place[1])}`"
                  if place else "")
               + f" ({'; '.join(found['said']) if found else ''})",
               "Short reads and writes")


def test_the_server_survives_a_client_that_left(lab):
    server = lab.serving()
    # Keep the server busy with a first client; the second one sends and
    # leaves while the server (and what it forked) is stopped, so before
    # any reply, whether the server serves clients in turn or at once.
    first, error = lab.connect()
    lab.expect(first is not None, f"a client to connect; it failed: {error}",
               "Your task")
    lab.require(SERVING_WAITS, "the server to wait in read(2) for its "
                "client", "Your task", proc=lab.family(server), event="wait")
    labrun.settle(lab, server)
    with frozen(server):
        leaver, error = lab.connect()
        lab.expect(leaver is not None, "a second client to connect while "
                   f"the server serves the first; it failed: {error}",
                   "Your task")
        sent_to(leaver, b"nobody will read this reply")
        leaver.close()
    first.close()
    failed = lab.wait_for(WRITES, proc=lab.family(server), ret=-1)
    killed = server.has_exited() and server.wait() is not None and \
        server.returncode == -signal.SIGPIPE
    lab.expect(not killed,
               "the server to survive a client that left before its reply: "
               "ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)), so that the "
               "write fails with EPIPE instead of SIGPIPE killing the "
               "server", "SIGPIPE")
    lab.expect(failed is not None and failed["errno"] == "EPIPE",
               "the reply to the client that left to fail with EPIPE",
               "SIGPIPE")
    client = lab.client("lab.sock", "still there?")
    lab.expect(client.stdout == "STILL THERE?\n",
               "after the failed write, the server to leave that client "
               "and serve the next one; the next client printed "
               f"{cut(client.stdout_bytes, 60)}", "SIGPIPE")
    closed_once(lab, "Your task")



def test_the_server_finishes_a_short_write(lab):
    # Every write sends at most 5 bytes: LAB_FAULTS makes it (trace/TRACE.md).
    server_finishes_short_writes(lab, "Short reads and writes")


def test_the_client_finishes_a_short_write(lab):
    client_finishes_short_writes(lab, "Short reads and writes")


def test_the_server_makes_an_interrupted_call_again(lab):
    # The first two reads and writes fail with EINTR, as when signals come.
    server_makes_interrupted_calls_again(lab, "What this stage does")


def test_the_client_makes_an_interrupted_call_again(lab):
    client_makes_interrupted_calls_again(lab, "What this stage does")


def test_a_failed_call_of_an_earlier_stage_is_reported(lab):
    # What lessons 01 to 04 asked still holds: LAB_FAULTS makes socket,
    # listen and accept fail.
    one_after_another(
        lab, (failed_socket, "server", "Your task", ", as lesson 01 asks"),
        (failed_socket, "client", "Your task", ", as lesson 04 asks"),
        (listen_failure_reported, "Your task", ", as lesson 03 asks"),
        (accept_failure_reported, ("Your task", "Your task"),
         ", as lesson 04 asks"))


def test_no_byte_is_read_or_written_outside_a_buffer(lab):
    sanitized_exchange(lab, "What this stage does")
