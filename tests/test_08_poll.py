"""Lesson 08: one process, poll.  One process serves every client with
poll(2) and non-blocking sockets: a reply that a client's socket does not
take waits in that client's buffer, no call waits for one client while
others are ready, and EAGAIN and EMFILE from accept mean "later".

The checks judge what the server does with many real clients at once,
some of them silent, some that never read, some that leave in the middle
of their reply, and what /proc says of it (its children, its descriptors
and their flags); LAB_FAULTS makes accept fail on demand.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

import labrun
import peers
import tracetext
from conftest import (READS, WRITES, Drain, address_lengths_set, as_run,
                      calls_counted, finding_of,
                      closed_once,
                      errno_in_handlers, faults, first_fds, frozen,
                      handlers_call_only_safe_functions, line_on_stdout,
                      sigaction_zeroed, timing_out, tool,
                      turned_away, watched_for_input_after_end_of_file,
                      where)
from tracetext import call_text, cut

LESSON = "08-poll"
QUICK = labrun.WAIT / 2  # for a reply that a correct server gives at once
HOG = 512 * 1024  # more than the socket buffers of a client and the server


def serving(lab, *args, env=None):
    """The server, listening, in a process group of its own: a server that
    signals its whole group reaches only itself."""
    server = lab.start("server", *args, env=env, group=0)
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0)
    return server


def listening_fd(lab, server):
    return lab.events("listen", proc=server)[0]["args"]["fd"]


def waits_for_one(lab, server):
    """A sentence naming a call of the server that waits for one client
    (read, write, accept: not poll), else None."""
    now = peers.blocked_in(server.pid)
    waits = [e for e in lab.events(proc=server, event="wait")
             if e["call"] not in ("poll", "waitpid")]
    if now and now[1] > 2 and now[0] in (
            "read", "write", "accept", "accept4", "sendto", "recvfrom",
            "sendmsg", "recvmsg"):  # not the program's own output
        what = f"it sleeps in {now[0]}({now[1]}) now"
    elif waits:
        e = waits[-1]
        what = (f"it waited in {e['call']}({e['args'].get('fd', '')}) "
                f"({e['file']}:{e['line']})")
    else:
        return None
    return (f"{what}: one process serves every client, so a call that "
            "waits for one client stops them all. Call read, write and "
            "accept only on what poll reported ready, on non-blocking "
            "sockets (O_NONBLOCK), where a call that would wait fails with "
            "EAGAIN instead")


def ignored(lab, server, at_least=100):
    """(fd, revents, times) for a socket that poll reported ready at least
    at_least times in a row while the server made no call on it, the
    most such times first; None when there is none.  A correct loop
    handles what poll reports, so the next poll reports it no more."""
    streak, ready = {}, []
    for e in lab.events(proc=server, event=None):
        if e["event"] not in ("return", "repeat"):
            continue
        args = e.get("args") or {}
        if e["call"] != "poll":
            streak.pop(args.get("fd"), None)
            continue
        # A run's repeat event stands for polls like the last one shown.
        ready = args.get("ready", ready) or []
        for entry in ready:
            times = streak.get(entry["fd"], (0, ""))[0]
            streak[entry["fd"]] = (times + tracetext.calls_of(e),
                                   entry["revents"])
    fd, (times, revents) = max(streak.items(), key=lambda kv: kv[1][0],
                               default=(None, (0, "")))
    return (fd, revents, times) if times >= at_least else None


def never_handled(found):
    """What a check expected, for what ignored() found: a message that
    names the mistake first."""
    fd, revents, times = found
    said = (f"poll reported fd {fd} ready ({revents}) again and again, "
            f"{times:,} times in a row, and the server never handled it "
            f"(no call on fd {fd} meanwhile), spinning at full CPU")
    if "POLLHUP" in str(revents) or "POLLERR" in str(revents):
        return (
            "the server to test each event in revents with &, not ==: "
            f"{said}. {revents} is not POLLIN alone: a client that closes "
            "its socket outright gives POLLIN|POLLHUP, and POLLERR too if it "
            "left its reply unread (poll reports POLLHUP and POLLERR even "
            "unasked). Test (revents & (POLLIN | POLLHUP "
            "| POLLERR)), then read, which returns 0 (end of file) or "
            "fails, and drop the client")
    if "POLLIN" in str(revents) and "POLLOUT" in str(revents):
        # Handled when POLLIN is there (revents & POLLIN), it would not
        # come back: the dispatch compares revents with one event.
        return (
            "the server to test each event in revents with &, not ==: "
            f"{said}. {revents} holds two events at once: a client whose "
            "reply waits (POLLOUT asked for) and that sends more is "
            "readable and writable together, and revents then equals "
            "neither POLLIN nor POLLOUT. Handle each entry whose revents "
            "is not 0, and in it test each event with & (revents & "
            "POLLIN, revents & POLLOUT)")
    if "POLLOUT" in str(revents):
        return ("the server to write a client's pending reply when poll "
                f"reports POLLOUT on its socket: {said}. POLLOUT, asked for "
                "while some of the reply waits, says that the socket has "
                "room now: handle each entry whose revents is not 0 (not "
                "only those with POLLIN), and write what is pending "
                "(flush_reply)")
    return ("the server to handle every socket that poll reports ready: "
            f"{said}. Does the loop over the poll set reach every entry, "
            "the last one too (k < nfds), and handle each as the client "
            "whose fd it holds? The poll set leaves out the free entries of "
            "the table, so its entry k is not client k - 2: keep which "
            "client each entry is (owner[k]). Handle each entry whose "
            "revents is not 0")


def closed_but_polled(lab, server):
    """A sentence if poll reported POLLNVAL for a descriptor of the
    server's set (one that is not open: closed, and left in the table),
    else None."""
    for e in lab.events("poll", proc=server):
        stale = [f["fd"] for f in e["args"].get("ready") or []
                 if "POLLNVAL" in str(f.get("revents"))]
        if stale:
            return (f"the server to take a client's entry out of the poll "
                    f"set once it has closed its socket: poll reported fd "
                    f"{stale[0]} POLLNVAL ({e['file']}:{e['line']}), a "
                    "descriptor that is not open, so the server closed it "
                    "and left its number in the table. poll reports "
                    "POLLNVAL at once, every turn, and the number is given "
                    "to the next client, whose socket the old entry then "
                    "uses too. Drop a client with drop_client, which closes "
                    "its fd and sets it to -1 (a free entry)")
    return None


def read_of_nothing(lab, server):
    """A sentence if the server read a client's socket with a count of 0
    and took the 0 it returned for end of file, else None."""
    for e in lab.events(READS, proc=server, ret=0):
        if e["args"].get("count") == 0:
            fd = e["args"].get("fd")
            return (f"the server to read a client only while its reply "
                    f"buffer has room: {call_text(e)} "
                    f"({e['file']}:{e['line']}) asked for 0 bytes, with the "
                    "buffer full, and a read of 0 bytes returns 0 at once, "
                    f"which the server took for fd {fd}'s end of file. "
                    "Read only when revents has POLLIN (or POLLHUP, "
                    "POLLERR) and pending < REPLY_SIZE")
    return None


def free_entry_handled(lab, server):
    """A sentence if, in a turn of the loop, the server called read, write
    or close on fd -1, the fd of a free entry of its table, and left a
    socket that the turn's poll reported ready without a call, else
    None: the events of one client handled on another's entry."""
    def turns():
        poll, calls = None, []
        for e in lab.events(proc=server):
            if e["call"] == "poll":
                if poll is not None:
                    yield poll, calls
                poll, calls = e, []
            elif poll is not None:
                calls.append(e)
        if poll is not None:
            yield poll, calls

    for poll, calls in turns():
        minus_one = [e for e in calls if e["args"].get("fd") == -1 and
                     e["call"] in READS + WRITES + ("close",)]
        touched = {e["args"].get("fd") for e in calls}
        left = [f["fd"] for f in poll["args"].get("ready") or []
                if f["fd"] not in touched]
        if minus_one and left:
            e = minus_one[0]
            return (f"the server to handle each entry of the poll set as the "
                    f"client whose fd it holds: poll reported fd {left[0]} "
                    f"ready ({poll['file']}:{poll['line']}), and the server "
                    f"made no call on it, but called {call_text(e)} "
                    f"({e['file']}:{e['line']}), on the fd of a free entry "
                    "of its table. The poll set leaves out the free entries, "
                    "so its entry k is not clients[k - 2] once a client "
                    "before the last has gone: keep which client each entry "
                    "is (owner[k]), and handle that one")
    return None


def write_retried_at_eagain(lab, server, at_least=100):
    """A sentence if the server made a write (or send) on one client's
    socket fail with EAGAIN at least at_least times in a row, with no poll
    between, else None: EAGAIN taken for "again now", not for "wait until
    poll reports POLLOUT"."""
    streak, fd, longest = 0, None, (0, None)
    for e in lab.events(proc=server, event=None):
        if e["event"] not in ("return", "repeat"):
            continue
        args = e.get("args") or {}
        if e["call"] in WRITES and e.get("errno") in ("EAGAIN",
                                                      "EWOULDBLOCK"):
            if args.get("fd", fd) != fd:
                streak = 0
            fd = args.get("fd", fd)
            streak += tracetext.calls_of(e)
            if streak > longest[0]:
                longest = (streak, dict(e, args=dict(args, fd=fd)))
        elif e["call"] in peers.POLLING_CALLS or args.get("fd") == fd:
            streak = 0
    times, e = longest
    if times < at_least:
        return None
    return (f"the server to stop writing to a client at EAGAIN and go back "
            f"to poll: {e['call']}({e['args']['fd']}) failed with EAGAIN "
            f"{times:,} times in a row, with no poll between "
            f"({e['file']}:{e['line']}), spinning at full CPU while every "
            "other client waits. EAGAIN from write says the socket has no "
            "room now: keep the rest of the reply pending, return from "
            "flush_reply, and let poll report POLLOUT when there is room")


def loop_mistake(lab, server, what):
    """Fails the check if the server's trace shows a mistake of its loop,
    whatever the clients saw: a socket that poll reports again and again
    and that the server never handles, or a closed descriptor left in the
    poll set; what: what the check expected of the clients."""
    lab.collector.sync()
    retried = write_retried_at_eagain(lab, server)
    lab.expect(not retried, f"{retried}; and so not {what}",
               "Writing without waiting")
    spin = ignored(lab, server)
    found = free_entry_handled(lab, server) or \
        closed_but_polled(lab, server) or read_of_nothing(lab, server) or \
        (spin and never_handled(spin))
    lab.expect(not found, f"{found}; and so not {what}",
               "One loop, every client")


def not_upper_cased(message, reply):
    """A sentence if reply holds the bytes of message in order, some of
    them not upper-cased, else None."""
    wanted = message.upper()
    if wanted.startswith(reply) or reply.upper() != wanted[:len(reply)]:
        return None
    at = next(i for i, (a, b) in enumerate(zip(reply, wanted)) if a != b)
    return ("the server to upper-case each byte it reads: the reply held "
            "the bytes sent, in order, but from byte "
            f"{at} on some came back as they were sent "
            f"({cut(reply[at:at + 24], 30)}). Each read puts its n bytes "
            "at reply + pending: upper-case those, room[0] to room[n - 1], "
            "not the start of the buffer, whose bytes were upper-cased when "
            "they came")


def dropped_unclosed(lab, server, bad):
    """A sentence naming a client that got its whole reply but no end of
    file, and whose socket the server let go of without closing it (it no
    longer polls it), else None."""
    if not any(r.reply == r.message.upper() and r.how == "timeout"
               for r in bad):
        return None
    polls = [e for e in lab.events("poll", proc=server, event=None)
             if e["event"] in ("wait", "return")]
    if not polls:
        return None
    watched = {f["fd"] for f in polls[-1]["args"].get("fds") or []}
    closes = lab.events("close", proc=server)
    for e in lab.events(labrun.ACCEPTS, proc=server):
        fd = e["ret"]
        if fd < 0 or fd in watched or any(
                c["args"].get("fd") == fd and c["ts"] > e["ts"]
                for c in closes):
            continue
        return (f"{sum(r.how == 'timeout' for r in bad)} of the clients got "
                "their whole reply but never end of file: the server let "
                f"go of the client on fd {fd} ({call_text(e)}), no longer "
                "polling it, without ever closing it. A client reads end of "
                "file only once the server's descriptor of its socket is "
                "closed, and each client left open costs one: drop_client "
                "closes the fd, close(c->fd), and then frees the entry")
    return None


def served(lab, server, results, what):
    """Fails the check unless every client got its exact reply, then end of
    file; names the likely cause."""
    bad = [r for r in results if not r.whole]
    if not bad:
        return
    loop_mistake(lab, server, f"{what}: {len(results) - len(bad)} of "
                 f"{len(results)} got it")
    cased = next(filter(None, (not_upper_cased(r.message, r.reply)
                               for r in bad)), None)
    lab.expect(not cased, f"{cased}; and so not {what}", "Your task")
    cause = waits_for_one(lab, server)
    if cause:
        lab.expect(False, f"{what}: {cause}", "What this stage does")
    let_go = dropped_unclosed(lab, server, bad)
    if let_go:
        lab.expect(False, f"{what}: {let_go}", "One loop, every client")
    first = bad[0]
    lab.expect(False,
               f"{what}: {len(results) - len(bad)} of {len(results)} got "
               f"their exact reply, then end of file. One sent "
               f"{cut(first.message, 40)} and got {cut(first.reply, 40)} "
               f"({first.how}{', ' + str(first.error) if first.error else ''}"
               f"); {server.describe()}", "One loop, every client")


def stuck(lab, server, hog):
    """Waits until a client that never reads has filled the buffers: the
    server's writes to it have failed with EAGAIN and the server no longer
    asks poll for POLLIN on its socket (its reply buffer is full: a server
    that reads in small pieces gets there later), or the server sleeps in
    a write; the client's send waits."""
    def no_room(accepted):
        # The server's last poll (the one it sleeps in: a wait) asks no
        # POLLIN of the client's socket; an earlier one may have, while
        # its writes still went through.
        polls = [e for e in lab.events("poll", proc=server, event=None)
                 if e["event"] in ("wait", "return")]  # not a run's count
        if not polls or polls[-1]["ts"] < accepted["ts"]:
            return False
        return not any(f["fd"] == accepted["ret"] and
                       "POLLIN" in str(f["events"])
                       for f in polls[-1]["args"].get("fds") or [])

    def full():
        # Only the client's own socket counts: the server may also sleep
        # writing its output while whoever reads it is behind.
        taken = [e for e in lab.events(labrun.ACCEPTS, proc=server)
                 if e["ret"] >= 0]
        if hog.sent == 0 or not taken:
            return False
        fd = taken[-1]["ret"]
        # Or the server sleeps in poll through a time when the client's
        # bytes wait unread: it no longer asks POLLIN of that socket.  The
        # trace may not show that poll yet: a run of poll, read and write
        # does not show the calls it expects next until they return.
        if peers.sleeps_through(server.pid, peers.POLLING_CALLS,
                                lambda: peers.unread(hog.peer.sock)):
            return True
        # Or the server is in a loop that moves no byte (Lab.spinning: the
        # trace hides only such runs) while the client's send sleeps: it
        # will take none of the client's bytes again.
        if hog.waits() and lab.spinning(server) and hog.waits():
            return True
        return peers.blocked_in(server.pid) in (("write", fd),
                                                ("sendto", fd)) or \
            bool(lab.events(("write", "send"), proc=server, errno="EAGAIN",
                            where=lambda e: e["args"].get("fd") == fd)) \
            and no_room(taken[-1])

    # A server that still takes the client's bytes (in small pieces, on a
    # loaded machine) is not idle yet: it is given time while it does (the
    # client's own count: the server's reads that moved bytes may not be
    # kept, Lab.start(data=False)).
    deadline = time.monotonic() + 4 * labrun.WAIT
    while True:
        before = hog.sent
        if lab.wait_until(full, proc=server, timeout=QUICK, every=0.01) or \
                hog.sent == before or time.monotonic() > deadline:
            return


def test_accept_s_address_length_has_a_value_before_each_call(lab):
    address_lengths_set(lab, "Non-blocking sockets")


def test_the_struct_sigaction_is_zeroed_before_use(lab):
    # First: stray bits in sa_flags can make any check that stops the
    # server fail for another reason.
    sigaction_zeroed(lab, "server", "Signals without a gap")


def test_one_process_serves_every_client(lab):
    server = serving(lab)
    results = peers.exchanges(lab, peers.messages(5))
    kids = lab.family(server).children() | set(peers.children(server.pid))
    lab.expect(not kids,
               f"one process to serve every client: the server forked "
               f"{len(kids)} processes for five clients. In this lesson the "
               "server's own loop serves them all, with poll(2): replace the "
               "fork of lesson 07 by the poll loop", "What this stage does")
    served(lab, server, results, "five clients, each to get its reply")
    labrun.settle(lab, server)
    loop_mistake(lab, server, "five clients served as poll reported them")
    closed_once(lab, "What this stage does")


def test_with_n_the_server_serves_its_clients_to_the_end_then_exits(lab):
    # -n 2: both clients are accepted before either says anything, so a
    # server that ends once it has accepted COUNT clients ends before it
    # has served them.  A third client, silent, connects once both are
    # in: it waits in the backlog until the server closes the listening
    # socket, and a server that accepts it never ends.
    server = serving(lab, "-n", "2")
    held = [peers.silent(lab, server) for _ in range(2)]
    lab.expect(all(held), f"two clients accepted; {server.describe()}",
               "Your task")
    beyond = peers.Peer(lab.dir / "lab.sock", QUICK)
    lab.peers.append(beyond.sock)
    got = []
    for n, peer in enumerate(held):
        message = b"client %d, served after both came" % n
        try:
            peer.sock.sendall(message)
            peer.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server has gone: the reply says so
        reply, how = peer.receive()
        got.append((message, reply, how))
    status = server.wait()
    lab.collector.sync()
    taken = [e for e in lab.events(labrun.ACCEPTS, proc=server)
             if e["ret"] >= 0]
    lab.expect(len(taken) <= 2,
               "with -n 2, the server to accept two clients and no more: "
               f"it accepted {len(taken)}, the third "
               f"({call_text(taken[-1])} at {taken[-1]['file']}:"
               f"{taken[-1]['line']}) a client that connected once both "
               "were in"
               + (", and it serves that client still" if status is None
                  else "")
               + ". Once COUNT clients are accepted, leave the listening "
               "socket out of the poll set (fd -1): a client beyond the "
               "count waits in the backlog until the server closes it; "
               + server.describe(), "Your task")
    bad = [(m, r, h) for m, r, h in got if r != m.upper() or h != "eof"]
    if bad:  # a mistake of the loop that the trace shows, named first
        loop_mistake(lab, server, "with -n 2, both clients served to their "
                     "end")
    lab.expect(not bad,
               "with -n 2, the server to serve both clients to their end "
               "before it exits: the count stops accept, not the loop, "
               "which goes on while a client is connected (end once COUNT "
               "clients were accepted and none is left); a client sent "
               f"{cut(bad[0][0] if bad else b'', 40)} once both were "
               f"accepted, and got {cut(bad[0][1] if bad else b'', 40)} "
               f"({bad[0][2] if bad else ''}); {server.describe()}",
               "Your task")
    lab.expect(status == 0 and not (lab.dir / "lab.sock").exists(),
               "with -n 2, the server to exit with status 0 and remove "
               f"lab.sock once both clients are served; {server.describe()}",
               "Your task")


def test_twenty_clients_at_once_each_get_their_exact_reply(lab):
    server = serving(lab)
    sizes = [20 + 600 * n for n in range(20)]  # up to some 11 KB
    results = peers.exchanges(lab, [peers.messages(1, s)[0] for s in sizes])
    served(lab, server, results, "20 clients connected at once, each to get "
           "its message back upper-cased, whole, then end of file")


def test_a_reply_written_in_pieces_arrives_whole(lab):
    server = serving(lab, env={"LAB_FAULTS": "write<=7,send<=7"})
    results = peers.exchanges(lab, peers.messages(5, 300), timeout=QUICK)
    bad = [r for r in results if not r.whole]
    # A short write's line comes just after the bytes it sent: a client
    # may have them first.
    short = bad and lab.wait_for(("write", "send"), proc=server,
                                 injected=True)
    lab.expect(not bad or not short,
               "each client's whole reply when the server's writes send at "
               "most 7 bytes at a time (LAB_FAULTS='write<=7'): "
               f"{len(results) - len(bad)} of {len(results)} got it. A "
               "write may send fewer bytes than asked: keep the rest in the "
               "client's buffer (pending -= n, and memmove it to the front), "
               "and write it when the socket takes more",
               "Writing without waiting")
    served(lab, server, results, "five clients, each to get its whole "
           "reply, written 7 bytes at a time")


def client_frozen_out(lab, server, message, half_close):
    """A client that connects and sends message (then shuts down writing,
    if half_close) while the server is stopped: when it goes on, all of it
    waits to be read at once, whatever the scheduler does.  Returns the
    client, once the server has accepted it, or None."""
    with frozen(server):
        peer = peers.Peer(lab.dir / "lab.sock", QUICK)
        lab.peers.append(peer.sock)
        sent = peer.error is None and peer.send(message)
        if sent and half_close:
            peer.sock.shutdown(socket.SHUT_WR)
    taken = sent and lab.wait_for(labrun.ACCEPTS, proc=server,
                                  where=lambda e: e["ret"] >= 0)
    return peer if taken else None


def pending_of(lab, server):
    """What the trace says of each client's reply buffer, call by call:
    yields (the event, fd, the bytes of its reply pending before the
    call), for the accepts and the calls on the sockets they returned; for
    a poll, (the poll, None, {fd: pending}).  The server echoes each byte
    it reads: pending is the bytes read on that socket less the bytes
    written there."""
    pending = {}
    for e in lab.events(proc=server):
        args = e.get("args") or {}
        if e["call"] in labrun.ACCEPTS and e["ret"] >= 0:
            pending[e["ret"]] = 0
            yield e, e["ret"], 0
            continue
        fd = args.get("fd")
        if e["call"] == "poll":
            yield e, None, dict(pending)
        if fd not in pending:
            continue
        yield e, fd, pending[fd]
        if e["call"] in READS and e["ret"] > 0:
            pending[fd] += e["ret"]
        elif e["call"] in WRITES and e["ret"] > 0:
            pending[fd] -= e["ret"]
        elif e["call"] == "close" and e["ret"] == 0:
            del pending[fd]


def read_past_the_end(lab, server):
    """(the read, the bytes pending then, the buffer's size) for a read on
    a client's socket that asked for more than the room left in the
    client's buffer, else None.  The buffer's size is what the server
    itself takes for full: the bytes pending when it stopped asking poll
    for POLLIN on that socket (POLLOUT alone) before end of file."""
    full, ended = {}, set()
    for e, fd, pending in pending_of(lab, server):
        if e["call"] == "poll":
            for entry in e["args"].get("fds") or []:
                asked = str(entry.get("events"))
                f = entry.get("fd")
                if pending.get(f, 0) > 0 and f not in ended and \
                        "POLLOUT" in asked and "POLLIN" not in asked:
                    full[f] = max(full.get(f, 0), pending[f])
            continue
        if e["call"] in labrun.ACCEPTS:
            full.pop(fd, None)
            ended.discard(fd)
        if e["call"] not in READS:
            continue
        if fd in full and pending > 0 and \
                e["args"].get("count", 0) > full[fd] - pending:
            return e, pending, full[fd]
        if e["ret"] == 0:
            ended.add(fd)
    return None


def test_a_read_asks_for_no_more_than_the_room_left(lab):
    # The client's reply buffer fills (the first write fails with EAGAIN),
    # then part of it goes (a short write, then EAGAIN again): the next
    # read has room for what went only. LAB_FAULTS forces each step.
    rules = ("write#1=EAGAIN,write#3=EAGAIN,write<=997,"
             "send#1=EAGAIN,send#3=EAGAIN,send<=997")
    server = serving(lab, env=faults(rules))
    message = peers.messages(1, 16 * 1024)[0]
    peer = client_frozen_out(lab, server, message, half_close=False)
    lab.expect(peer is not None, f"a client that sends {len(message)} "
               f"bytes to be accepted; {server.describe()}",
               "Writing without waiting")

    def judged():
        """A read after the second failed write, or every byte read."""
        failed = lab.events(WRITES, proc=server, errno="EAGAIN",
                            injected=True)
        reads = [e for e in lab.events(READS, proc=server) if e["ret"] > 0]
        return sum(e["ret"] for e in reads) >= len(message) or \
            len(failed) > 1 and any(e["ts"] > failed[1]["ts"] for e in reads)
    lab.wait_until(judged, proc=server, timeout=QUICK)
    past = read_past_the_end(lab, server)
    if past:
        read, pending, size = past
        lab.expect(False,
                   "the server to read no more than the room left in the "
                   "client's buffer: "
                   f"{call_text(read).split(' = ')[0]} asked for "
                   f"{read['args']['count']} bytes while {pending} bytes of "
                   f"the reply were pending, in a buffer that the server "
                   f"itself takes for full at {size} (it stops asking for "
                   f"POLLIN then): a read past the end of the buffer, by up "
                   f"to {read['args']['count'] + pending - size} bytes, over "
                   "whatever follows it (the next client's entry). Read at "
                   "reply + pending at most the room left, REPLY_SIZE - "
                   "pending (here a first write failed with EAGAIN, a second "
                   f"was short: `{as_run(lab, 'server', rules)}`)",
                   "Writing without waiting")
    if peer.send_error is None:
        peer.sock.shutdown(socket.SHUT_WR)
    reply, how = peer.receive()
    if reply != message.upper():
        wanted = (f"the client that sent {len(message)} bytes to get them "
                  "all back when its reply fills the buffer and the writes "
                  "are short (LAB_FAULTS)")
        loop_mistake(lab, server, wanted)
        cased = not_upper_cased(message, reply)
        lab.expect(not cased, f"{cased}; and so not {wanted}", "Your task")
    order = "in order" if message.upper().startswith(reply) else \
        "not in order"
    lab.expect(reply == message.upper() and how == "eof",
               f"the client that sent {len(message)} bytes to get them all "
               "back, upper-cased and in order, when its reply fills the "
               "buffer and the writes are short (LAB_FAULTS): it got "
               f"{len(reply)} bytes ({how}), {order}; {server.describe()}",
               "Writing without waiting")


def half_closed_with_its_reply_held(lab, rules):
    """The server, run with rules, and a client that has sent a message
    and shut down writing before the server looked: (server, message,
    the client)."""
    server = serving(lab, env=faults(rules))
    message = peers.messages(1, 3000)[0]
    peer = client_frozen_out(lab, server, message, half_close=True)
    lab.expect(peer is not None, f"a client that sends {len(message)} bytes "
               "and shuts down writing to be accepted; "
               f"{server.describe()}", "Writing without waiting")
    return server, message, peer


def test_a_client_at_end_of_file_gets_its_whole_reply(lab):
    # The client sends, then shuts down writing, before the server looks:
    # it reads the message, its first two writes fail with EAGAIN
    # (LAB_FAULTS, as when the client's socket has no room), and it reads
    # end of file with the whole reply pending, before or after a write.
    rules = "write#1=EAGAIN,write#2=EAGAIN,send#1=EAGAIN,send#2=EAGAIN"
    server, message, peer = half_closed_with_its_reply_held(lab, rules)
    reply, how = peer.receive()
    if reply == message.upper() and how == "eof":
        return
    # The client sees the end as the server closes, before the server's
    # trace says so: once the server waits again, its close is traced.
    labrun.settle(lab, server)
    lab.collector.sync()
    dropped, ended = None, set()
    for e, fd, pending in pending_of(lab, server):
        if e["call"] in labrun.ACCEPTS:
            ended.discard(fd)
        if e["call"] in READS and e["ret"] == 0:
            ended.add(fd)
        if e["call"] == "close" and fd in ended and pending > 0:
            dropped = (e, pending)
            break
    if dropped:
        e, pending = dropped
        lab.expect(False,
                   "the server to write a client's whole reply before it "
                   "drops the client at end of file: it read end of file "
                   f"(read = 0) with {pending} bytes of the reply still "
                   f"pending, and closed fd {e['args']['fd']} "
                   f"({e['file']}:{e['line']}): the client got {len(reply)} "
                   f"of {len(message)} bytes. End of file says only that "
                   "nothing more comes: note it (at_eof), stop asking for "
                   "POLLIN, and drop the client once pending is 0 (here its "
                   "first two writes failed with EAGAIN: "
                   f"`{as_run(lab, 'server', rules)}`)",
                   "Writing without waiting")
    lab.expect(False,
               f"the client that sent {len(message)} bytes and shut down "
               "writing to get them all back, then end of file, when the "
               "server's first two writes to it fail with EAGAIN "
               "(LAB_FAULTS): "
               f"it got {len(reply)} bytes ({how}); {server.describe()}",
               "Writing without waiting")


def test_a_client_at_end_of_file_is_no_longer_watched_for_input(lab):
    # As above: the client sends, shuts down writing and reads its reply,
    # the server's first two writes fail with EAGAIN (LAB_FAULTS), so it
    # reads end of file with the reply still pending and polls again. A
    # client that does not read its reply holds it there for as long as it
    # likes: a poll that still asks for POLLIN then returns at once, again
    # and again (end of file is always readable), and the loop spins.
    rules = "write#1=EAGAIN,write#2=EAGAIN,send#1=EAGAIN,send#2=EAGAIN"
    server, message, peer = half_closed_with_its_reply_held(lab, rules)
    peer.receive()
    labrun.settle(lab, server)
    lab.collector.sync()
    found = watched_for_input_after_end_of_file(lab, server)
    if found:
        read, poll, times, at_once = found
        fd = read["args"]["fd"]
        lab.expect(False,
                   "the server to stop asking poll for POLLIN on a client's "
                   "socket once read returned 0 (end of file): after "
                   f"read({fd}) = 0 ({read['file']}:{read['line']}) it "
                   f"still asked for POLLIN on fd {fd} in {times} poll(s) "
                   f"({poll['file']}:{poll['line']}), {at_once} of which "
                   "reported it ready at once. A socket at end of file is "
                   "readable for ever: while the reply of a client that "
                   "has shut down writing waits for room (here its first "
                   "two writes failed with EAGAIN: "
                   f"`{as_run(lab, 'server', rules)}`; a client that reads "
                   "slowly does the same), every poll returns at once and "
                   "the loop spins at full CPU. Note the end of file "
                   "(at_eof) and leave POLLIN out of that client's events "
                   "from then on: POLLOUT alone, until its reply is written",
                   "Writing without waiting")


def test_a_silent_client_holds_up_nobody(lab):
    server = serving(lab)
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client to connect and be accepted; "
               f"{server.describe()}", "What this stage does")
    results = peers.exchanges(lab, peers.messages(20), timeout=QUICK)
    served(lab, server, results, "20 clients served within "
           f"{QUICK:g} s while a silent client stays connected")


def test_a_client_that_never_reads_stops_nobody(lab):
    server = serving(lab)
    hog = peers.Hog(lab, HOG)
    lab.expect(hog.peer.error is None, f"a client to connect; "
               f"{server.describe()}", "Writing without waiting")
    stuck(lab, server, hog)
    results = peers.exchanges(lab, peers.messages(20), timeout=QUICK)
    served(lab, server, results, "20 clients served while another client "
           "sends much and never reads its replies")
    # Then it reads: its whole reply, in order.
    drain = Drain(hog.peer.sock)
    sent = -1
    while hog.is_alive() and hog.sent != sent:  # as long as it sends
        sent = hog.sent
        hog.join(labrun.WAIT)
    hog.peer.sock.shutdown(socket.SHUT_WR)
    reply, how = drain.result()
    if reply != hog.data.upper():
        wanted = (f"the client that sent {len(hog.data)} bytes before "
                  "reading to get them all back once it reads")
        loop_mistake(lab, server, wanted)
        cased = not_upper_cased(hog.data, reply)
        lab.expect(not cased, f"{cased}; and so not {wanted}", "Your task")
    lab.expect(reply == hog.data.upper() and how == "eof",
               f"the client that sent {len(hog.data)} bytes before reading "
               f"to get them all back, upper-cased and in order, once it "
               f"reads: it got {len(reply)} bytes ({how}), "
               f"{'in order' if hog.data.upper().startswith(reply) else 'not in order'}. "
               "A reply that its socket does not take waits in the client's "
               "buffer (pending), written when poll reports POLLOUT; while "
               "the buffer is full, read nothing more from that client",
               "Writing without waiting")


def test_a_client_that_leaves_mid_reply_is_dropped(lab):
    server = serving(lab)
    hog = peers.Hog(lab, HOG)
    stuck(lab, server, hog)
    accepted = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0]
    hog.leave()
    results = peers.exchanges(lab, peers.messages(5), timeout=QUICK)
    lab.expect(not server.has_exited(),
               "the server to go on when a client leaves in the middle of "
               "its reply: a write fails with EPIPE (SIGPIPE ignored), or a "
               "read with ECONNRESET: drop that client and serve the others; "
               f"{server.describe()}", "Writing without waiting")
    served(lab, server, results, "five clients served after one left in "
           "the middle of its reply")
    peers.settled(lab, server)
    fd = accepted[0] if accepted else None
    closed = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"]["fd"] == fd]
    lab.expect(closed,
               f"the server to close fd {fd}, the socket of the client that "
               "left in the middle of its reply: a client that has gone is "
               "dropped, its descriptor closed, or each such client costs "
               "one", "Writing without waiting")


def test_a_client_that_closes_its_socket_outright_is_dropped(lab):
    # The other checks' clients shut down writing, then read: the server
    # reads end of file with POLLIN alone. A client that closes its socket
    # outright, its reply read or not, gives POLLIN|POLLHUP.
    server = serving(lab)
    path = lab.dir / "lab.sock"
    message = peers.messages(1, 300)[0]
    polite = peers.Peer(path, QUICK)
    lab.peers.append(polite.sock)
    sent = polite.error is None and polite.send(message)
    reply, how = polite.receive(len(message)) if sent else (b"", "")
    lab.expect(reply == message.upper(),
               f"a client to get its reply before it closes its socket: it "
               f"sent {cut(message, 40)} and got {cut(reply, 40)} ({how}); "
               f"{server.describe()}", "One loop, every client")
    polite.close()
    rude = peers.Peer(path, QUICK)  # it sends, and closes at once
    lab.peers.append(rude.sock)
    lab.expect(rude.error is None and rude.send(message),
               f"a second client to connect and send; {server.describe()}",
               "One loop, every client")
    rude.close()

    def accepted():
        return [e for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0][:2]

    def dropped():
        closes = lab.events("close", proc=server, ret=0)
        return len(accepted()) == 2 and all(
            any(e["args"]["fd"] == a["ret"] and e["ts"] > a["ts"]
                for e in closes) for a in accepted())
    lab.wait_until(dropped, proc=server, timeout=QUICK)
    lab.collector.sync()
    spin = ignored(lab, server)
    lab.expect(not spin, never_handled(spin) if spin else "",
               "One loop, every client")
    lab.expect(dropped(),
               "the server to drop each client that closes its socket "
               "outright (close, with no shutdown first), one after reading "
               "its reply, one at once: poll reports POLLIN|POLLHUP, read "
               "returns 0 (or fails with ECONNRESET), and the server closes "
               "the client's socket, fds "
               f"{[a['ret'] for a in accepted()]}; "
               f"{server.describe()}", "One loop, every client")


def test_the_server_sleeps_while_nobody_is_ready(lab):
    server = serving(lab)
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client accepted; {server.describe()}",
               "One loop, every client")
    hog = peers.Hog(lab, HOG)
    stuck(lab, server, hog)
    # A silent client, and one whose replies wait for room: nothing to do.
    # For a quarter of a second, the server must make no call and be
    # runnable next to never.
    made, spins = peers.idle_for(lab, server, QUICK / 4)
    first = spins and timing_out(lab, server, QUICK * 250)
    if first:
        lab.expect(False,
                   "the server to sleep in poll while no client is ready "
                   "(one is silent, another does not read its replies): "
                   f"its poll's timeout is {first['args']['timeout']} ms "
                   f"({first['file']}:{first['line']}), and poll returned 0 "
                   "(timed out, nothing ready) again and again, a loop "
                   "that never waits. Pass poll a timeout of -1, to wait "
                   "until something is ready; only while accept rests "
                   "after EMFILE, the milliseconds left of the rest",
                   "One loop, every client")
    busy = ("it went on making calls, and using CPU, as soon as the check "
            "looked" if made >= 10 else "it was on a CPU, or waiting for "
            "one, a quarter or more of the time the check looked, before "
            "the trace could show a call")
    lab.expect(not spins,
               f"the server to sleep in poll while no client is ready (one "
               f"is silent, another does not read its replies): {busy}, "
               "a loop that never waits. Ask poll only for what can happen: "
               "POLLOUT only while "
               "a reply is pending, POLLIN only while the reply buffer has "
               "room; poll reports an event asked for at once, again and "
               "again, as long as it holds", "Writing without waiting")


LATER = {"EAGAIN": "nobody waiting after all: another process took the "
                   "client",
         "EINTR": "a signal came first",
         "ECONNABORTED": "the client that was waiting left before accept "
                         "took it"}


@pytest.mark.parametrize("err", list(LATER))
def test_an_accept_with_nobody_waiting_means_later(lab, err):
    server = serving(lab, env=faults(f"accept#1={err}"))
    results = peers.exchanges(lab, peers.messages(1), timeout=QUICK)
    lab.expect(not server.has_exited(),
               f"accept = -1 {err} ({LATER[err]}) to mean \"later\": poll "
               "again, as EAGAIN, EINTR and ECONNABORTED all do; it ended "
               f"the server: {server.describe()}", "Non-blocking sockets")
    served(lab, server, results, "the client to be served once an accept "
           f"has failed with {err} (LAB_FAULTS)")


def test_a_read_that_fails_with_eagain_or_eintr_means_later(lab):
    # A client's socket that poll reported readable may have nothing after
    # all (EAGAIN), and a read may be cut short by a signal (EINTR): the
    # first read on a client's socket fails with EAGAIN, the second with
    # EINTR (LAB_FAULTS), and the client is still served.
    rules = ("read#1=EAGAIN,read#2=EINTR,recv#1=EAGAIN,recv#2=EINTR")
    server = serving(lab, env=faults(rules))
    results = peers.exchanges(lab, peers.messages(1, 300), timeout=QUICK)
    if all(r.whole for r in results):
        return
    labrun.settle(lab, server)
    lab.collector.sync()
    failed = lab.events(READS, proc=server, injected=True)
    for e in failed:
        fd = e["args"].get("fd")
        after = [c for c in lab.events(READS + ("close",), proc=server)
                 if c["ts"] > e["ts"] and c["args"].get("fd") == fd]
        if after and after[0]["call"] == "close":
            lab.expect(False,
                       f"a read that fails with {e['errno']} to mean "
                       "\"nothing after all\": poll again, and keep the "
                       f"client; {call_text(e).split(' [')[0]} "
                       f"({e['file']}:{e['line']}) made the server drop "
                       f"the client (close({fd}), "
                       f"{after[0]['file']}:{after[0]['line']}), which then "
                       "got no reply. Drop a client only when read fails "
                       "with another errno: EAGAIN (or EWOULDBLOCK) says "
                       "that nothing waits to be read after all, EINTR "
                       "that a signal came first (here LAB_FAULTS made "
                       f"them: `{as_run(lab, 'server', rules)}`)",
                       "Non-blocking sockets")
    lab.expect(not server.has_exited(),
               "a read that fails with EAGAIN or EINTR to mean \"nothing "
               "after all\": poll again; it ended the server "
               f"(`{as_run(lab, 'server', rules)}`): {server.describe()}",
               "Non-blocking sockets")
    served(lab, server, results, "the client to be served once a read on "
           "its socket has failed with EAGAIN, and another with EINTR "
           f"(`{as_run(lab, 'server', rules)}`)")


def rested(lab, server, failed, again):
    """Whether the server rested between two accepts that failed: a poll
    between them that did not ask for the listening socket (fd -1, left
    out, or without POLLIN), which the scheduler cannot fake.  With no
    poll between them (accept retried in a loop), only the time can tell
    a pause (a sleep) from a spin: 20 ms at least."""
    listener = listening_fd(lab, server)
    polls = [e for e in lab.events("poll", proc=server)
             if failed["ts"] < e["ts"] <= again["start"]]
    if not polls:
        return (again["ts"] - failed["ts"]) / 1e6 >= 20
    return any(not any(f["fd"] == listener and
                       "POLLIN" in str(f["events"])
                       for f in e["args"]["fds"]) for e in polls)


def rests_for_ever(lab, server):
    """Fails the check if the server, accepting, sleeps in a poll that
    leaves the listening socket out with no timeout: accept's pause after
    EMFILE never ends."""
    listener = listening_fd(lab, server)
    waits = lab.events("poll", proc=server, event="wait")
    if not waits or not peers.blocked_in(server.pid):
        return
    e = waits[-1]
    out = not any(f["fd"] == listener and "POLLIN" in str(f["events"])
                  for f in e["args"].get("fds") or [])
    lab.expect(not (out and e["args"].get("timeout", -1) < 0),
               "accept's pause after EMFILE to end: the server sleeps in "
               f"{call_text(e).replace(' ... waiting', '')} "
               f"({e['file']}:{e['line']}), the listening socket, fd "
               f"{listener}, left out of the set, and no timeout, so the "
               "client waiting in the backlog is accepted only if another "
               "client happens to wake poll. While accept rests, give poll "
               "a timeout of what is left of the pause (resume_at - now), "
               "and put the listening socket back in the set once the pause "
               "is over", "Out of descriptors")


def polls_timed_out_while_resting(lab, server, failed):
    """(the first poll, how many) when the server's polls after the
    accept that failed returned 0 twenty times or more before its next
    accept: a pause slept in pieces cut short, a spin; else None.  A
    server that sleeps out its pause times out once or twice."""
    after = [e for e in lab.events(None, proc=server, event=None)
             if e["ts"] > failed["ts"] and e["event"] in ("return",
                                                        "repeat")]
    until = next((i for i, e in enumerate(after)
                  if e["call"] in labrun.ACCEPTS), len(after))
    zeros = [e for e in after[:until]
             if e["call"] == "poll" and e["ret"] == 0]
    count = calls_counted(zeros, "poll")
    return (zeros[0], count) if count >= 20 else None


def test_out_of_descriptors_the_server_rests_without_spinning(lab):
    # EMFILE, then ENFILE (the system's table full): the same shortage.
    server = serving(lab, env=faults("accept#1=EMFILE,accept#2=ENFILE"))
    results = peers.exchanges(lab, peers.messages(1))
    # What the server does after the first EMFILE: its next call, or its
    # end (then the wait is cut short).
    first = lab.wait_for(labrun.ACCEPTS, proc=server, errno="EMFILE")
    if first:
        after = lab.wait_for(None, proc=server, event=None,
                             where=lambda e: e["ts"] > first["ts"])
        if after and after["call"] in ("close", "unlink"):
            server.wait()  # its cleanup: it is on its way out, let it end
    failed = lab.events(labrun.ACCEPTS, proc=server,
                        where=lambda e: e.get("errno") in ("EMFILE", "ENFILE"))
    err = failed[-1]["errno"] if failed else "EMFILE"
    said = server.has_exited() and \
        "Too many open files" in server.stderr
    lab.expect(not server.has_exited(),
               f"accept = -1 {err} ("
               + ("no descriptor left" if err == "EMFILE" else
                  "the system's table of open files is full: no descriptor "
                  "for now, as with EMFILE")
               + ") not to end the server: the clients already connected "
               f"are still served, and a descriptor comes free; "
               f"{server.describe()}" +
               (f"; it printed the error, then ended: either it takes "
                f"{err} for the end, as lesson 04's server did, or it "
                "tests errno after perror(3), which may change errno (as "
                "any library call may): save it first, int err = errno;, "
                "and test err" if said else ""),
               "Out of descriptors")
    gap = (failed[1]["ts"] - failed[0]["ts"]) / 1e6 if len(failed) > 1 \
        else 0
    lab.expect(len(failed) < 2 or rested(lab, server, *failed[:2]),
               "after accept failed with EMFILE, the server to rest before "
               f"it tries again, not spin: it called accept again {gap:.3f} "
               "ms later, "
               "and no poll between them left the listening socket out. "
               "The client stays in the backlog and the listening socket "
               "readable, so poll reports it again at once; leave the "
               "listening socket out of the poll set (fd -1) for a while "
               "(ACCEPT_PAUSE_MS), as tmux and PostgreSQL do",
               "Out of descriptors")
    short = polls_timed_out_while_resting(lab, server, failed[0]) \
        if failed else None
    lab.expect(not short,
               "after accept failed with EMFILE, the server to sleep in "
               "poll for the rest of the pause, not spin: poll returned 0 "
               f"(timed out) {short[1] if short else 0} times in a row "
               f"before the pause was over, the first "
               f"{call_text(short[0]) if short else ''} "
               f"({where(short[0]) if short else ''}). poll's timeout is "
               "in milliseconds, what is left of the pause, "
               "resume_at - now_ms(): a timeout cut short (in seconds, "
               "rounded down to 0) wakes it at once, again and again",
               "Out of descriptors")
    if not all(r.whole for r in results):
        rests_for_ever(lab, server)
    served(lab, server, results, "the client to be served once accept has "
           "failed with EMFILE, then ENFILE (LAB_FAULTS)")


def dontwait_on_every_call(lab, server):
    """Whether the server reads and writes a client only with recv and
    send given MSG_DONTWAIT, which makes each call non-blocking on a
    blocking socket (one client is served, to see its calls)."""
    served(lab, server, peers.exchanges(lab, peers.messages(1)),
           "a client to get its reply")
    peers.settled(lab, server)
    calls = lab.events((*READS, *WRITES, "recvfrom", "recvmsg", "sendto",
                        "sendmsg"), proc=server, event=None,
                       where=lambda e: e["event"] in ("return", "wait"))
    return bool(calls) and all(
        "MSG_DONTWAIT" in str((e.get("args") or {}).get("flags"))
        for e in calls)


def test_every_socket_of_the_loop_is_non_blocking(lab):
    server = serving(lab)
    fd = listening_fd(lab, server)
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client accepted; {server.describe()}",
               "Non-blocking sockets")
    peers.settled(lab, server)
    client_fd = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                 if e["ret"] >= 0][-1]
    flags = {n: peers.nonblocking(server.pid, n) for n in (fd, client_fd)}
    if flags[client_fd] is False and dontwait_on_every_call(lab, server):
        flags[client_fd] = None  # each call is non-blocking by itself
    lab.expect(flags[fd] is not False,
               f"the listening socket, fd {fd}, to be non-blocking "
               f"(/proc/{server.pid}/fdinfo/{fd} shows no O_NONBLOCK): poll "
               "may report it readable and another process take the client "
               "first; then a blocking accept would wait, and every client "
               "with it. set_nonblocking(fd) once it listens",
               "Non-blocking sockets")
    lab.expect(flags[client_fd] is not False,
               f"the client's socket, fd {client_fd}, to be non-blocking "
               f"(/proc/{server.pid}/fdinfo/{client_fd} shows no "
               "O_NONBLOCK): on Linux a socket from accept does not inherit "
               "O_NONBLOCK; set it with set_nonblocking(cfd) after accept",
               "Non-blocking sockets")


MAX_CLIENTS = 64  # the table's entries, as the README says


def test_a_client_beyond_the_table_is_turned_away(lab):
    server = serving(lab)
    held = [peers.silent(lab, server) for _ in range(MAX_CLIENTS)]
    lab.expect(all(held), f"{MAX_CLIENTS} silent clients accepted; "
               f"{server.describe()}", "One loop, every client")
    peers.settled(lab, server)
    turned_away(lab, server, f"the {MAX_CLIENTS} that the table holds",
                "When no entry of the table is free, close cfd (a client "
                "left open waits for ever, and costs a descriptor each)",
                "One loop, every client", QUICK)
    # And the server goes on: the entry of a client that leaves is free
    # for the next one.  The one that leaves is seen dropped (its end of
    # file) before the next connects.
    first = held[0]
    first.sock.shutdown(socket.SHUT_WR)
    _, gone = first.receive()
    results = peers.exchanges(lab, peers.messages(1)) if gone == "eof" \
        else []
    lab.collector.sync()
    lab.expect(gone == "eof" and all(r.whole for r in results)
               and results,
               f"the server to go on serving once it has turned away a "
               f"client beyond the {MAX_CLIENTS} that its table holds: "
               + (f"{server.describe()} after that. " if
                  server.has_exited() else
                  "a client of the table that then left saw "
                  + (f"no end of file ({gone})" if gone != "eof" else
                     "its end, but the next client did not get its reply")
                  + f"; {server.describe()}. ")
               + f"The search for a free entry stops at the table's end "
               f"(i < MAX_CLIENTS): clients[{MAX_CLIENTS}] is past it, and "
               "an entry written there lands on whatever the program keeps "
               "after the table. When no entry is free, close cfd and go "
               "on", "One loop, every client")


def test_a_full_table_fits_in_the_poll_set(lab):
    # With every entry of the table taken, the poll set holds 2 + 64
    # entries. No run shows an array written past its end by itself: the
    # server is built with sanitizers (as lesson 05's checks build it).
    slow = labrun.WAIT * 5  # a sanitized program starts slowly
    server = lab.server(group=0, **lab.sanitized("server"))
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0, timeout=slow)
    held = [peers.silent(lab, server, slow) for _ in range(MAX_CLIENTS)]
    peers.settled(lab, server)
    if not server.has_exited():
        lab.stop(server)
    found, at = finding_of(lab, server)
    lab.expect(not found,
               f"the poll set to hold every socket of the loop: the server, "
               "built with -fsanitize=address,undefined (a build of its "
               f"own, beside make's), with {MAX_CLIENTS} clients connected "
               f"made {found['what'] if found else ''}{at} "
               f"({'; '.join(found['said']) if found else ''}): an array "
               "of the poll set written past its end. With every entry of "
               "the table taken, poll watches the stop pipe, the listening "
               f"socket and {MAX_CLIENTS} clients: size fds (and owner) "
               "2 + MAX_CLIENTS", "One loop, every client")
    lab.expect(all(held), f"{MAX_CLIENTS} silent clients accepted; "
               f"{server.describe()}", "One loop, every client")


def test_the_open_descriptors_stay_the_same_after_200_clients(lab):
    server = serving(lab)
    served(lab, server, peers.exchanges(lab, peers.messages(1)),
           "a first client to get its reply")
    peers.settled(lab, server)
    before = peers.open_fds(server.pid)
    results = []
    for _ in range(10):
        results += peers.exchanges(lab, peers.messages(20))
    served(lab, server, results, "200 clients, 20 at a time, each to get "
           "its reply")
    peers.settled(lab, server)
    after = peers.open_fds(server.pid)
    lab.expect(after == before,
               f"the server's open descriptors (/proc/{server.pid}/fd) after "
               f"200 clients to be those after the first, {before}; there "
               f"are {len(after or [])}: {cut(str(after), 80)}. Drop each "
               "client once it is done: close its socket, and free its entry",
               "One loop, every client")


def test_sigterm_leaves_no_process_and_no_socket_file(lab):
    server = serving(lab)
    connected = [peers.silent(lab, server) for _ in range(3)]
    lab.expect(all(connected), "three silent clients accepted; "
               f"{server.describe()}", "What this stage does")
    peers.settled(lab, server)
    server.signal(signal.SIGTERM)
    status = server.wait()
    lab.expect(status is not None,
               "SIGTERM to stop the server within "
               f"{labrun.WAIT:g} s, with three silent clients connected: it "
               "is still running. The handler writes a byte to the "
               "self-pipe, whose read end is in every poll set: poll "
               "returns, and the loop stops", "Signals without a gap")
    lab.collector.sync()
    interrupted = lab.events("poll", proc=server, errno="EINTR")
    after = interrupted and lab.events(
        "poll", proc=server, where=lambda e: e["ts"] > interrupted[-1]["ts"])
    lab.expect(status in (None, 0) or not interrupted or after,
               "the server to take poll = -1 EINTR for \"a signal came\", "
               "not for an error: SIGTERM interrupted poll "
               f"({interrupted[-1]['file']}:{interrupted[-1]['line']}) "
               "once its handler had run, and the server ended at once "
               f"with status {status}, as after a failure. poll is "
               "interrupted by every handled signal (signal(7)): on EINTR "
               "go round the loop, and let the self-pipe (or the flag) say "
               "whether to stop" if interrupted else "",
               "Signals without a gap")
    left = labrun.processes_holding(lab.collector.fifo)
    lab.expect(status == 0 and not (lab.dir / "lab.sock").exists() and
               not left,
               "after SIGTERM the server to close every socket, remove "
               "lab.sock and exit with 0, leaving no process behind; "
               f"{server.describe()}"
               + (f"; processes left: {left}" if left else ""),
               "Signals without a gap")
    accepted = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0]
    closed = {e["args"].get("fd") for e in lab.events("close", proc=server,
                                                      ret=0)}
    left_open = [fd for fd in accepted if fd not in closed]
    lab.expect(not left_open,
               "after SIGTERM the server to close each client still "
               f"connected before it exits: fds {left_open}, which accept "
               "returned, were never closed; exit closed them. Every fd "
               "that is opened is closed, exactly once, on every path "
               "(lesson 06): after the loop, drop each client whose entry "
               "is not free", "What to look for in the trace")
    ends = [peer.receive() for peer in connected]
    lab.expect(all(how in ("eof", "reset") for _, how in ends),
               "each silent client to see its connection end when the "
               f"server stops; they saw {[how for _, how in ends]}",
               "Signals without a gap")


def polled(lab, server, timeout=labrun.WAIT):
    """Waits until the server has called poll(2), or has exited, or waits
    in another call (ppoll, or epoll_wait, which the trace does not show):
    whether it called poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.has_exited():
        if lab.events("poll", proc=server, event=None):
            return True
        if peers.waits(server.pid):
            lab.collector.sync()  # a poll before that wait is traced now
            return bool(lab.events("poll", proc=server, event=None))
        time.sleep(0.001)
    return bool(lab.events("poll", proc=server, event=None))


def test_a_stop_signal_just_before_poll_stops_the_server(lab):
    # The gap that no run lands in by itself: SIGTERM after the loop's
    # last look at the flag, before poll. LAB_FAULTS raises it there
    # (trace/TRACE.md, "Fault injection"). The self-pipe, a ppoll that
    # unblocks the signal only while it waits, a signalfd in the poll set:
    # poll returns at once, and the server stops.
    rules = "poll#1=SIGTERM"
    server = serving(lab, env={"LAB_FAULTS": rules})
    if not polled(lab, server):
        return  # no poll(2) for LAB_FAULTS to precede: nothing forced
    # It stops, or waits in poll again.
    waiting = lab.wait_until(lambda: lab.events("poll", proc=server,
                                                event="wait"), proc=server)
    if not waiting or server.has_exited():
        return
    delivered = [e for e in lab.events(proc=server, event="signal")
                 if e.get("injected")]
    limit = waiting[0]["args"].get("timeout", -1)
    # A poll with a timeout returns by itself, and the loop then sees
    # the flag: a stop within it is a stop.
    if limit >= 0 and server.wait(limit / 1000 + labrun.WAIT) is not None:
        return
    again = f"`LAB_FAULTS='{rules}' build/lessons/{lab.lesson}/server` " \
        "does it again"
    how = ("the handler ran (`signal SIGTERM delivered [injected]`) and "
           "returned, having only set the flag" if delivered else
           "it was not delivered (is SIGTERM blocked, with nothing in the "
           "poll set that says it came?)")
    lab.expect(False,
               "SIGTERM to stop the server also when it comes just before "
               "poll; with a flag alone, the server waits in poll instead: "
               "SIGTERM came after the loop had looked at its flag and "
               f"before poll (LAB_FAULTS raised it there: {again}); {how}, "
               f"and the server went on into "
               f"{call_text(waiting[0]).replace(' ... waiting', '')}, "
               "which waits "
               + ("for ever" if limit < 0 else f"{limit} ms") +
               ", or until the next client, with the flag set. Make the "
               "signal one more thing that poll reports: the self-pipe, "
               "whose read end is in every poll set and to which the handler "
               "writes a byte (or block the stop signals and let ppoll "
               "unblock them while it waits; or read them from a signalfd "
               "in the poll set)", "Signals without a gap")


def test_each_signal_handler_calls_only_async_signal_safe_functions(lab):
    handlers_call_only_safe_functions(
        lab, "server", "Signals without a gap",
        "Let the handler set the flag and write its byte to the pipe (both "
        "async-signal-safe), leave it quietly if that write fails, and "
        "print in main")


def test_each_signal_handler_leaves_errno_as_it_found_it(lab):
    # The stop handler's write to the self-pipe sets errno (EAGAIN when
    # the pipe is full), and no run lands it between a failed call and
    # the look at its errno: the source shows whether errno is saved.
    errno_in_handlers(lab, "Signals without a gap")


# -- standard tools as clients, beside a silent one ---------------------------


def test_nc_and_socat_are_served_beside_a_silent_client(lab):
    nc, socat = tool("nc"), tool("socat")
    if b"-U" not in subprocess.run([nc, "-h"], capture_output=True,
                                   timeout=labrun.WAIT).stderr:
        pytest.skip("this nc has no -U (Unix domain) option")
    server = serving(lab)
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client accepted; {server.describe()}",
               "What this stage does")
    for argv, said in (([nc, "-N", "-U", "lab.sock"], b"hello from nc\n"),
                       ([socat, "-", "UNIX-CONNECT:lab.sock"],
                        b"hello from socat\n")):
        try:
            done = subprocess.run(argv, cwd=lab.dir, input=said,
                                  capture_output=True, timeout=QUICK)
            got = done.stdout
        except subprocess.TimeoutExpired as e:
            got = e.stdout or b""
        lab.expect(got == said.upper(),
                   f"`{' '.join(os.path.basename(a) for a in argv)}` to get "
                   f"{said.upper().decode().strip()} back while a silent "
                   f"client stays connected; it got {cut(got, 60)}",
                   "Your task")


def test_the_server_says_when_each_client_comes_and_goes(lab):
    # The server's first read brings 2 bytes (LAB_FAULTS), the next the
    # other 3: the count of the done line is every byte echoed.
    server = serving(lab, env=faults("read#1<=2,recv#1<=2"))
    served(lab, server, peers.exchanges(lab, [b"hello"]),
           "a client to get its reply")
    # Back in poll: what it printed for this client is out by now, unless
    # it is still in stdio's buffer.
    peers.settled(lab, server)
    got = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
           if e["ret"] >= 0]
    fd = got[0] if got else "CFD"
    line_on_stdout(lab, server, f"server: client connected on fd {fd}",
                   lambda line: "connected" in line,
                   "while the server polls for the next client", "Your task",
                   stop=True)
    said = [line for line in server.stdout.splitlines()
            if "connected" in line]
    lab.expect(first_fds(server, said) == got[:1],
               f"the line `server: client connected on fd {fd}`, with the "
               f"fd that accept returned ({fd}: print cfd); it printed "
               f"{cut(said[0] if said else '', 80)}", "Your task")
    done = re.search(r"done, (\d+) bytes echoed", server.stdout)
    lab.expect(not done or done.group(1) == "5",
               "the done line to count every byte echoed to the client, 5 "
               f"(hello): it says {done.group(1) if done else ''}. The first "
               "read brought 2 bytes (made short by LAB_FAULTS), the next 3: "
               "add each read's n to echoed (echoed += n)", "Your task")
    line_on_stdout(lab, server, "server: client done, 5 bytes echoed",
                   lambda line: re.search(r"\bdone\b|echoed", line),
                   "once the client has its reply and the server polls "
                   "again", "Your task", stop=True)
    if server.has_exited():
        return
    # A second client, in the entry the first has left: its done line
    # counts its own bytes only.
    served(lab, server, peers.exchanges(lab, [b"hi"]),
           "a second client to get its reply")
    peers.settled(lab, server)
    counts = re.findall(r"done, (\d+) bytes echoed", server.stdout)
    lab.expect(len(counts) < 2 or counts[1] == "2",
               "the done line of each client to count that client's bytes: "
               "a second client, in the entry of the table the first had "
               "left, sent 2 bytes (hi), and its done line says "
               f"{counts[1] if len(counts) > 1 else ''}: the bytes of the "
               "client before it are counted too. A new client's entry "
               "starts afresh: pending, at_eof and echoed set back to 0 "
               "when accept gives it its fd", "Your task")
