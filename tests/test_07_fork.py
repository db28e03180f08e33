"""Lesson 07: a process per client.  The server forks a child for each
client and goes back to accept; children are reaped; each process closes
the descriptors it does not use; SIGTERM ends the children too.

The checks judge what the server does for its clients, with many real
clients at once, and what /proc says of it: a server that serves every
client at once in another way (lesson 08's poll loop) passes them too.
The server runs in a process group of the checks' own making, with one
process of the checks' in it: a server that signals its whole group
(kill(0, ...)) is seen, and cannot reach the checks themselves.
"""
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

import labrun
import peers
from conftest import (POLLS, c_code, c_functions, calls_counted,
                      closed_once,
                      errno_in_handlers,
                      handlers_call_only_safe_functions, line_on_stdout,
                      ppoll_keeps_it_out,
                      sigaction_zeroed, tool, turned_away, where)
from tracetext import call_text, cut

LESSON = "07-fork"
QUICK = labrun.WAIT / 2  # for a reply that a correct server gives at once
SERVING = ("read", "recv", "recvfrom", "recvmsg", "write", "send", "sendto",
           "sendmsg")


class Sentinel:
    """A process that leads the process group the server is started in,
    and does nothing: if it dies of a signal, the server signalled its
    whole group.  Closed (killed) with the lab."""

    def __init__(self, lab):
        self.popen = subprocess.Popen(["sleep", "600"],
                                      stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL,
                                      **labrun.in_process_group(0))
        self.pid = self.popen.pid
        lab.peers.append(self)

    def signalled(self):
        """The signal that ended it, or None while it lives.  A signal sent
        to it is pending from the moment kill(2) returns, though it may
        end a little later (a loaded machine): if one is, its end is
        waited for."""
        if self.popen.poll() is None and self.pending():
            try:
                self.popen.wait(labrun.WAIT)
            except subprocess.TimeoutExpired:
                pass
        code = self.popen.poll()
        return -code if code is not None and code < 0 else None

    def pending(self):
        """Whether a signal is pending for it (or it has ended): sleep(1)
        leaves every signal that ends a process at its default action, so
        one pending ends it (Linux puts a fatal one as SIGKILL)."""
        state, _ = labrun.process_state(self.pid)
        pending = labrun.pending_signals(self.pid)
        # gone, or ended and not yet waited for: waited for at once
        return state in (None, "Z", "X") or pending is None or pending != 0

    def close(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


def serving(lab, *args, env=None):
    """The server, listening, in a process group led by a Sentinel:
    (server, sentinel)."""
    sentinel = Sentinel(lab)
    server = lab.start("server", *args, env=env, group=sentinel.pid)
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0)
    return server, sentinel


def answered_and_kept(lab, server, count, words):
    """count clients (words: the count in words), each answered X for x
    and left connected: [(peer, what it got)]; fails the check unless
    each was answered."""
    clients = []
    for _ in range(count):
        peer = peers.Peer(lab.dir / "lab.sock")
        lab.peers.append(peer.sock)
        peer.send(b"x")
        clients.append((peer, peer.receive(1)))
    lab.expect(all(got == (b"X", "size") for _, got in clients),
               f"{words} clients, each connected and answered (X for x); "
               f"they got {[got for _, got in clients]}; "
               f"{server.describe()}", "One process per client")
    return clients


def listening_fd(lab, server):
    return lab.events("listen", proc=server)[0]["args"]["fd"]


def child_calls(lab, server, calls):
    """The events of the server's children (not its own) of these calls."""
    family = lab.family(server)
    return [e for e in lab.events(calls, proc=family, event=None)
            if e["pid"] != server.pid and e["event"] in ("return", "wait")]


def kept_copies(lab, server, results):
    """A sentence naming the parent's copy of the connection when clients
    got their whole reply but no end of file, else None."""
    stuck = [r for r in results
             if r.reply == r.message.upper() and r.how == "timeout"]
    if not stuck:
        return None
    return (f"{len(stuck)} of {len(results)} clients got their whole reply "
            "but never end of file: a copy of their connected socket stayed "
            "open after the child that served them closed its own. The "
            "parent must close its copy, close(cfd), right after fork; the "
            "client reads end of file only once every copy is closed")


def children_in_the_loop(lab, server):
    """A sentence naming a child that ran on into the parent's loop or
    cleanup, else None."""
    strays = child_calls(lab, server,
                         (*labrun.ACCEPTS, "unlink", "bind", "listen"))
    if not strays:
        return None
    e = strays[0]
    if in_the_child_s_branch(lab, e):
        harm = {"unlink": "removes the socket file while the parent still "
                "listens: the clients after it find no lab.sock (ENOENT)"
                }.get(e["call"], "does the parent's work")
        return (f"a child of the server (pid {e['pid']}) called {e['call']} "
                f"({e['file']}:{e['line']}) in its own branch, between fork "
                f"and its _exit: the child {harm}. Only the parent accepts, "
                "and removes the socket file, once, when it stops: take that "
                f"{e['call']} out of the child's code")
    return (f"a child of the server (pid {e['pid']}) called {e['call']} "
            f"({e['file']}:{e['line']}): after serving its client it ran on "
            "into the parent's loop or cleanup. End the child with "
            "_exit(EXIT_SUCCESS) after its close(cfd): never return or break "
            "out of the child's case")


def shared_socket_shut_down(lab, server):
    """A sentence naming a shutdown that one process of the server made of a
    socket another still uses, else None: of the listening socket, by any of
    them, or of a connection, by the parent that handed it to a child."""
    listening = listening_fd(lab, server)
    mine = lab.events(proc=server)

    def handed_to_a_child(e):
        """Whether the parent's fd of e came from an accept, and a fork
        followed it before e: a client the parent turned away is its own."""
        fd = e["args"].get("fd")
        taken = [x for x in mine if x["call"] in labrun.ACCEPTS and
                 x["ret"] == fd and x["ts"] < e["ts"]]
        return bool(taken) and any(
            x["call"] == "fork" and x["ret"] > 0 and
            taken[-1]["ts"] < x["ts"] < e["ts"] for x in mine)

    for e in lab.events("shutdown", proc=lab.family(server)):
        fd = e["args"].get("fd")
        if e["ret"] != 0 or (fd != listening and (
                e["pid"] != server.pid or not handed_to_a_child(e))):
            continue
        who = "the parent" if e["pid"] == server.pid else \
            f"a child of the server (pid {e['pid']})"
        what, harm, instead = (
            ("the listening socket", "the parent's accept then fails "
             "(EINVAL): no client after it is served", "close(fd)")
            if fd == listening else
            ("a connected socket it handed to a child", "the child's reads "
             "then get end of file and its writes fail with EPIPE: the "
             "client loses its reply", "close(cfd)"))
        return (f"{who} called {call_text(e)} ({where(e)}) on its copy of "
                f"{what}: shutdown acts on the socket itself, which parent "
                f"and child share after fork, not on one descriptor; {harm}. "
                f"To let go of its own copy, a process closes it: {instead}")
    return None


def in_the_child_s_branch(lab, event):
    """Whether the server's source makes the call of event (a child's) in
    the child's own code: after a fork in the same function, with no
    _exit, exit or return between the two (this comes from reading the
    source; a call reached any other way, as a child running on into the
    parent's loop or cleanup does, is not)."""
    source, text = lab.source("server")
    if Path(str(event.get("file", ""))).name != Path(str(source)).name:
        return False
    code, _ = c_code(text)
    lines = code.split("\n")
    line = event.get("line") or 0
    if not 0 < line <= len(lines):
        return False
    at = sum(len(x) + 1 for x in lines[:line - 1])
    at += len(lines[line - 1]) - len(lines[line - 1].lstrip())
    body = next(((start, end) for start, end in c_functions(code).values()
                 if start <= at < end), None)
    if body is None:
        return False
    forks = [m.end() for m in re.compile(r"\bfork\s*\(").finditer(
        code, body[0], at)]
    return bool(forks) and not re.search(
        r"\b(?:_exit|_Exit|exit|abort|return)\b", code[forks[-1]:at])


def loop_left(lab, server):
    """The server's accept that failed with an error other than EINTR,
    ending its loop (it then waits for its children, as it should), or
    None."""
    return next((e for e in lab.events(labrun.ACCEPTS, proc=server)
                 if e["ret"] == -1 and e["errno"] != "EINTR"), None)


def accept_failed(lab, server):
    """A sentence naming the failed accept that ended the server's loop,
    else None."""
    failed = loop_left(lab, server)
    if failed is None:
        return None
    fd = failed["args"].get("fd")
    closes = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"].get("fd") == fd and e["ts"] < failed["ts"]]
    return (f"the server stopped accepting clients when {call_text(failed)} "
            f"({where(failed)}) failed"
            + (f": fd {fd}, the listening socket, had been closed by the "
               f"parent (close({fd}) at {where(closes[0])}). After fork the "
               "parent closes its copy of the connected socket, close(cfd); "
               "the listening socket only after the loop" if closes else
               ", and it left its loop: only the clients before were served")
            )


def reaper_waits(lab, server):
    """A sentence naming a waitpid of the parent that waits while it should
    accept (not once its loop is over), else None."""
    left = loop_left(lab, server)
    waits = [e for e in lab.events("waitpid", proc=server, event="wait")
             if left is None or e["ts"] < left["ts"]]
    if not waits:
        return None if left else waits_untraced(lab, server)
    return (f"the parent waits in waitpid({waits[0]['args'].get('pid')}) "
            f"({waits[0]['file']}:{waits[0]['line']}) while it should accept: "
            "without WNOHANG, waitpid (or wait, which is waitpid(-1, "
            "&status, 0)) waits for a child that is still "
            "serving (the silent client's), and nobody is accepted "
            "meanwhile. Reap with waitpid(-1, NULL, WNOHANG), which returns "
            "0 when the children left still run")


def waits_untraced(lab, server):
    """A sentence naming a wait for a child that the trace does not show
    (wait(2), which it does not trace, waits as waitpid(-1, ..., 0) does),
    else None: the parent sleeps in the system call of both, wait4,
    three looks in a row with nothing traced between."""
    if not peers.still(lab, lambda: (peers.blocked_in(server.pid) or
                                     ("",))[0] in ("wait4", "waitid") and
                       labrun.process_state(server.pid)[0] == "S"):
        return None
    return ("the parent sleeps in wait4 (/proc/PID/syscall), the system "
            "call of wait(2) and waitpid(2), while it should accept: "
            "wait(&status), or waitpid without WNOHANG, waits for a child "
            "that is still serving (the silent client's), and nobody is "
            "accepted meanwhile. Reap with waitpid(-1, NULL, WNOHANG), "
            "which returns 0 when the children left still run")


def reaper_spins(lab, server):
    """A sentence naming a reaping loop that goes on when waitpid reaps
    nothing, else None: the parent's waitpid returned 0 (children left,
    all still running) or -1 with ECHILD (none left) a thousand times in a
    row, with no other call traced between.  A handler that stops there
    calls it once per delivery, and a delivery that lands while the trace
    reports another call has no line of its own, so a few such calls in a
    row prove nothing (SA_NOCLDWAIT leaves each handler call nothing to
    reap); a loop that spins makes millions."""
    row, first, longest = 0, None, (0, None)
    for e in lab.events(proc=server, event=None):
        if e["call"] == "waitpid" and e["event"] in ("return", "repeat") \
                and e["ret"] in (0, -1) and \
                (not first or (e["ret"], e["errno"]) ==
                 (first["ret"], first["errno"])):
            first = first or e
            row += e.get("repeat", 1) if e["event"] == "repeat" else 1
            longest = max(longest, (row, first), key=lambda x: x[0])
        else:
            row, first = 0, None
            if e["call"] == "waitpid" and e["event"] in ("return", "repeat") \
                    and e["ret"] in (0, -1):
                first, row = e, e.get("repeat", 1)
    row, first = longest
    if row < 1000:
        return None
    said = "0" if first["ret"] == 0 else f"-1 {first['errno']}"
    why = ("waitpid returns 0 when the children left are all still running "
           "(the silent client's): nothing more to reap now"
           if first["ret"] == 0 else
           f"waitpid returns -1 ({first['errno']}) when no child is left "
           "to wait for: a loop that goes on while waitpid does not return "
           "0 (!= 0) never ends once the last child is reaped")
    return (f"the parent's reaping loop spins: waitpid(-1, WNOHANG) "
            f"({first['file']}:{first['line']}) returned {said} {row} times "
            f"in a row, and the handler called it again each time. {why}, "
            "and the loop must stop there. Loop while waitpid returns a "
            "pid, > 0; the handler then returns, and the parent accepts "
            "again")


def child_ends(lab, server):
    """{pid: when the server's child ended, as far as the trace tells}: its
    reaping, a waitpid of the parent that returned it; for a child that no
    waitpid returned (SIGCHLD ignored, SA_NOCLDWAIT: the kernel reaped it),
    its own last call, once that returned (a child that waits in a call
    has not ended)."""
    ends = {}
    for e in lab.events("waitpid", proc=server):
        if e["ret"] > 0:
            ends.setdefault(e["ret"], e["start"])
    for e in lab.events("fork", proc=server):
        if e["ret"] > 0 and e["ret"] not in ends:
            own = lab.events(proc=None, pid=e["ret"], event=None)
            if own and own[-1]["event"] == "return":
                ends[e["ret"]] = own[-1]["ts"]
    return ends


def table_not_freed(lab, server):
    """A sentence naming a table of children that is never freed, else
    None: the parent turned a client away (accept, then close without a
    fork) that it accepted while fewer of its children ran than it had run
    at once before (a table that forgets each child it reaps is full only
    with the most children it ever ran; children reaped between the
    accept and the close may have been reaped after the table was
    looked at).  A child ends when the parent reaps it, or, when the
    kernel reaps it (SIGCHLD ignored, SA_NOCLDWAIT), with its last call."""
    live = most = 0
    taken = None
    ends = child_ends(lab, server)
    reaped = any(e["ret"] > 0 for e in lab.events("waitpid", proc=server))
    # In the order the calls were entered: a handler's calls made while
    # the trace was writing another call's line come before it in the file.
    timeline = [(e["start"], e) for e in lab.events(proc=server)] + \
        [(ts, {"call": "ended", "ret": pid}) for pid, ts in ends.items()]

    def turned_away(taken, e, live_then):
        if live_then >= most:
            return None
        how = "its SIGCHLD handler reaps each child with waitpid, " \
            "and must also take it out of the table, " \
            "forget_child(pid), which finds the child only if the " \
            "parent noted the pid that fork returned to it " \
            "(children[entry] = pid; getpid() is the parent's own)" \
            if reaped else \
            "no waitpid of the parent reaped any child, so nothing " \
            "ever calls forget_child(pid): with SIGCHLD set to " \
            "SIG_IGN, or SA_NOCLDWAIT, the kernel reaps each child " \
            "itself, and the handler's waitpid finds none. Install " \
            "on_child_exit with SA_RESTART alone, and let it reap " \
            "and forget each child"
        return (f"the parent turned a client away without forking "
                f"({call_text(taken)}, then close({taken['ret']}) "
                f"at {e['file']}:{e['line']}) while only "
                f"{live_then} of its children still ran, where it had run "
                f"{most} at once: its table of children stays full of "
                f"children that have ended. {how[0].upper()}{how[1:]}; "
                "otherwise, after MAX_CHILDREN clients, every client "
                "is turned away")

    # A close of the accepted socket is a client turned away only if no
    # fork follows it before the next accept (a parent that closes before
    # it forks is named by closed_before_fork).
    pending = None
    for _, e in sorted(timeline, key=lambda x: x[0]):
        if e["call"] == "fork":
            taken = pending = None
            if e["ret"] > 0:
                live += 1
                most = max(most, live)
        elif e["call"] == "ended":
            live -= 1
        elif e["call"] in ("accept", "accept4") and e["ret"] >= 0:
            found = turned_away(*pending) if pending else None
            if found:
                return found
            pending = None
            taken, live_then = e, live
        elif e["call"] == "close" and taken and \
                e["args"].get("fd") == taken["ret"]:
            pending = (taken, e, live_then)
            taken = None
    return turned_away(*pending) if pending else None


def reaper_reset(lab, server):
    """The server's sigaction that installed a SIGCHLD handler with
    SA_RESETHAND, else None (the trace gives flags by name when it knows
    them all, else as a number)."""
    for e in lab.events("sigaction", proc=server):
        args = e.get("args") or {}
        flags = args.get("flags")
        if e["ret"] == 0 and args.get("sig") == "SIGCHLD" and \
                args.get("handler") == "handler" and (
                    (isinstance(flags, int) and flags & 0x80000000) or
                    (isinstance(flags, str) and
                     "SA_RESETHAND" in flags.split("|"))):
            return e
    return None


def closed_before_fork(lab, server):
    """A sentence naming the parent's close of a connected socket made
    before the fork of the child that was to serve it, else None."""
    taken = closed = None
    for e in sorted(lab.events(proc=server), key=lambda e: e["start"]):
        if e["call"] in labrun.ACCEPTS and e["ret"] >= 0:
            taken, closed = e, None
        elif e["call"] == "close" and taken and e["ret"] == 0 and \
                e["args"].get("fd") == taken["ret"]:
            closed = e
        elif e["call"] == "fork" and closed is not None:
            fd = taken["ret"]
            return (f"the parent closed the connected socket, close({fd}) "
                    f"({where(closed)}), before the fork that made the "
                    f"child to serve it ({where(e)}): fork copies only the "
                    f"descriptors open at that moment, so the child has no "
                    f"fd {fd}, and its reads fail with EBADF. Fork first; "
                    "the parent closes its copy right after fork")
    return None


def served(lab, server, results, what):
    """Fails the check unless every client got its exact reply, then end of
    file; names the likely cause."""
    bad = [r for r in results if not r.whole]
    if not bad:
        return
    lab.collector.sync()  # every line written so far, read
    reset = reaper_reset(lab, server)
    if reset:
        lab.expect(False,
                   f"{what}: the SIGCHLD handler was installed with "
                   f"SA_RESETHAND ({call_text(reset)} at {where(reset)}): "
                   "after the first SIGCHLD its action is the default one "
                   "again, and the children that end after it are reaped by "
                   "nobody: they stay zombies, and stay in the table of "
                   "children. Install on_child_exit with sa_flags = "
                   "SA_RESTART alone", "Reaping: SIGCHLD and waitpid")
    early = closed_before_fork(lab, server)
    if early:
        lab.expect(False, f"{what}: {early}", "One process per client")
    spinning = reaper_spins(lab, server) or table_not_freed(lab, server)
    if spinning:
        lab.expect(False, f"{what}: {spinning}",
                   "Reaping: SIGCHLD and waitpid")
    waiting = reaper_waits(lab, server)
    if waiting:
        lab.expect(False, f"{what}: {waiting}", "Reaping: SIGCHLD and waitpid")
    cause = shared_socket_shut_down(lab, server) or \
        children_in_the_loop(lab, server) or \
        kept_copies(lab, server, results) or accept_failed(lab, server)
    if cause:
        lab.expect(False, f"{what}: {cause}", "One process per client")
    first = bad[0]
    lab.expect(False,
               f"{what}: {len(results) - len(bad)} of {len(results)} got "
               f"their exact reply, then end of file. One sent "
               f"{cut(first.message, 40)} and got {cut(first.reply, 40)} "
               f"({first.how}{', ' + str(first.error) if first.error else ''}"
               f"); {server.describe()}", "One process per client")


def test_the_struct_sigaction_is_zeroed_before_use(lab):
    # First: stray bits in sa_flags can make any check that stops the
    # server fail for another reason.
    sigaction_zeroed(lab, "server", "Reaping: SIGCHLD and waitpid")


def test_twenty_clients_at_once_each_get_their_exact_reply(lab):
    server, _ = serving(lab)
    sizes = [20 + 300 * n for n in range(20)]  # up to some 6 KB
    results = peers.exchanges(lab, [peers.messages(1, s)[0] for s in sizes])
    served(lab, server, results, "20 clients connected at once, each to get "
           "its message back upper-cased, whole, then end of file")


def reads_the_silent_client_alone(lab, server):
    """Whether the server, a process that has forked no child, sleeps in a
    read of the silent client's connection, three looks in a row with
    nothing traced between: it serves nobody else until that client
    speaks or leaves, which it will not (no client sent now would be
    answered)."""
    taken = [e for e in lab.events(labrun.ACCEPTS, proc=server)
             if e["ret"] >= 0]
    if not taken:
        return False
    reading = {(call, taken[-1]["ret"]) for call in
               ("read", "recvfrom", "recvmsg")}
    return peers.still(lab, lambda: not lab.events("fork", proc=server) and
                       not labrun.descendants(server.pid) and
                       peers.blocked_in(server.pid) in reading and
                       labrun.process_state(server.pid)[0] == "S")


def test_a_silent_client_holds_up_nobody(lab):
    server, _ = serving(lab)
    silent = peers.silent(lab, server)
    lab.expect(silent is not None, "a silent client to connect and be "
               f"accepted; {server.describe()}", "What this stage does")

    def waits_in_read():
        lab.collector.sync()
        return lab.events(("read", "recv"), proc=server, event="wait")
    # A server of one process that reads the silent client is seen as such
    # at once; otherwise 20 clients find out.
    stuck = reads_the_silent_client_alone(lab, server)
    waiting = waits_in_read()
    if stuck and waiting and not reaper_waits(lab, server):
        results = []
    else:
        stuck = False
        results = peers.exchanges(lab, peers.messages(20), timeout=QUICK)
        waiting = waits_in_read()
    if (stuck or [r for r in results if not r.whole]) and waiting and \
            not reaper_waits(lab, server):
        lab.expect(False,
                   "20 clients served while a silent client stays connected: "
                   f"the server itself waits in {waiting[0]['call']}"
                   f"({waiting[0]['args'].get('fd')}) for the silent client, "
                   "and accepts nobody meanwhile, so it serves one client at "
                   "a time. Serve each client in a child process of its own "
                   "(fork), and go back to accept at once",
                   "What this stage does")
    served(lab, server, results, "20 clients served within "
           f"{QUICK:g} s while a silent client stays connected")


def test_no_zombie_is_left_when_clients_leave_together(lab):
    server, _ = serving(lab)
    clients = answered_and_kept(lab, server, 5, "five")
    kids = peers.children(server.pid)
    if not kids:  # a server of one process: nothing to reap
        return
    # The five children end while the server is stopped: their SIGCHLDs
    # merge into one, delivered when it goes on (signal(7)).
    since = time.monotonic_ns()
    os.kill(server.pid, signal.SIGSTOP)
    try:
        peers.wait_state(server.pid, "T")
        for peer, _ in clients:
            peer.close()
        for kid in kids:
            peers.wait_state(kid, "Z")
    finally:
        os.kill(server.pid, signal.SIGCONT)
    gone = lab.wait_until(lambda: not peers.zombies(server.pid),
                          proc=server, timeout=QUICK / 2)
    left = peers.zombies(server.pid)
    reaped = [e for e in lab.events("waitpid", proc=server)
              if e["ts"] > since and e["ret"] > 0]
    lab.expect(not server.has_exited(),
               f"the server to go on after its children ended; "
               f"{server.describe()}", "Reaping: SIGCHLD and waitpid")
    if left and not reaped and peers.blocks(server.pid, signal.SIGCHLD):
        lab.expect(False,
                   f"no zombie once five clients have left: {len(left)} "
                   "children of the server ended and stay zombies, and its "
                   "SIGCHLD handler never ran: the server blocks SIGCHLD "
                   f"(SigBlk in /proc/{server.pid}/status) while it accepts, "
                   "so the signal stays pending. Block it only around the "
                   "fork and the table's update, then put the mask back: "
                   "sigprocmask(SIG_SETMASK, &mask, NULL), in the parent, "
                   "before it goes back to accept",
                   "Stopping: the parent cleans up, and ends its children")
    if not (gone or not left or reaped):
        calls = lab.events("waitpid", proc=server)
        caught = peers.blocks(server.pid, signal.SIGCHLD, "SigCgt")
        reset = reaper_reset(lab, server)
        if caught is False and reset:
            how = ("the server catches SIGCHLD no more: its handler was "
                   f"installed with SA_RESETHAND ({call_text(reset)} at "
                   f"{where(reset)}), and after the first SIGCHLD the action "
                   "is the default one again. Install it with sa_flags = "
                   "SA_RESTART alone")
        elif caught is False:
            how = ("the server catches no SIGCHLD (SigCgt in "
                   f"/proc/{server.pid}/status): nothing reaps a child when "
                   "it ends")
            how += (f"; its {len(calls)} waitpid calls, made from its main "
                    "flow, run only when the main flow gets there (after "
                    "an accept returns), and none reaped these"
                    if calls else ", and the server called no waitpid at all")
        else:
            how = ("its SIGCHLD handler reaped none of them"
                   + (f": its {len(calls)} waitpid calls returned no child"
                      if calls else ": the server called no waitpid at all"))
        lab.expect(False,
                   f"no zombie once five clients have left: {len(left)} "
                   "children of the server ended and stay zombies (state Z "
                   f"in /proc/PID/stat), and {how}. Reap them: a SIGCHLD "
                   "handler that calls waitpid(-1, NULL, WNOHANG) in a loop, "
                   "installed with sigaction", "Reaping: SIGCHLD and waitpid")
    # A reaper that asks for one child by its pid reaps that child only.
    one = [e for e in lab.events("waitpid", proc=server)
           if e["ts"] > since and isinstance(e["args"].get("pid"), int) and
           e["args"]["pid"] > 0]
    lab.expect(gone or not left or not one,
               f"no zombie once five clients have left at once: the server "
               f"reaped {len(reaped)} of them and {len(left)} stay zombies: "
               f"its waitpid asks for one child by its pid, "
               f"`waitpid({one[0]['args']['pid'] if one else ''}, ...)` "
               f"({where(one[0]) if one else ''}), and every other child "
               "that ends stays a zombie. Ask for any child: waitpid(-1, "
               "NULL, WNOHANG), in a loop until it returns 0 or -1",
               "Reaping: SIGCHLD and waitpid")
    lab.expect(gone or not left,
               f"no zombie once five clients have left at once: the server "
               f"reaped {len(reaped)} of them and {len(left)} stay zombies. "
               "Signals do not queue: the five SIGCHLDs merged into one, and "
               "the handler ran once; it must loop, waitpid(-1, NULL, "
               "WNOHANG) until it returns 0 or -1, not reap one child per "
               "signal", "Reaping: SIGCHLD and waitpid")


def test_a_child_that_ends_does_not_interrupt_accept(lab):
    server, _ = serving(lab)
    peer = peers.Peer(lab.dir / "lab.sock")
    lab.peers.append(peer.sock)
    peer.send(b"hi")
    lab.expect(peer.receive(2) == (b"HI", "size"),
               f"a client's reply, HI for hi; {server.describe()}",
               "One process per client")
    kids = peers.children(server.pid)
    if not kids:
        return
    accepted = lab.wait_for(labrun.ACCEPTS, proc=server,
                            where=lambda e: e["ret"] >= 0)
    # Back in accept, or in the ppoll that waits for the next client.
    lab.wait_for((*labrun.ACCEPTS, *POLLS), proc=server, event="wait",
                 where=lambda e: accepted and e["ts"] > accepted["ts"])
    server.asleep()
    since = time.monotonic_ns()
    peer.close()
    lab.wait_until(lambda: not peers.children(server.pid), proc=server,
                   timeout=QUICK)
    peers.settled(lab, server, QUICK)
    cut_short = [e for e in lab.events(proc=server, errno="EINTR")
                 if e["ts"] > since]
    if cut_short and all(e["call"] in POLLS for e in cut_short):
        # poll and ppoll are never restarted after a handler, SA_RESTART
        # or not (signal(7)): a server that waits for its next client in
        # ppoll (lesson 06's cure) sees each SIGCHLD as an EINTR, and
        # waits again.
        last = cut_short[-1]
        again = [e for e in lab.events(POLLS, proc=server, event=None)
                 if e["ts"] > last["ts"]]
        lab.expect(again or server.has_exited() and server.wait() == 0,
                   f"after a child ended, the server to wait again: "
                   f"{call_text(last)} ({where(last)}) failed with EINTR "
                   "when the child ended (SIGCHLD: a ppoll is never "
                   "restarted, SA_RESTART or not), and the server did not "
                   "call it again; an EINTR without stop_requested is "
                   f"retried; {server.describe()}",
                   "Reaping: SIGCHLD and waitpid")
        return
    lab.expect(not cut_short,
               "the end of a child not to interrupt the server: its "
               f"{cut_short[0]['call'] if cut_short else ''} failed with "
               "EINTR when the child ended, although no signal asked it to "
               "stop. Install the SIGCHLD handler with sa_flags = SA_RESTART: "
               "the kernel then restarts accept once the handler returns",
               "Reaping: SIGCHLD and waitpid")


def test_each_signal_handler_calls_only_async_signal_safe_functions(lab):
    handlers_call_only_safe_functions(
        lab, "server", "Reaping: SIGCHLD and waitpid",
        "Let the handler reap and forget the child (waitpid is "
        "async-signal-safe; _exit, not exit, if it must end), and print in "
        "main")


def test_each_signal_handler_leaves_errno_as_it_found_it(lab):
    # No run lands the SIGCHLD handler between a failed call of main and
    # main's look at errno: the source shows whether errno is saved.
    errno_in_handlers(lab, "Reaping: SIGCHLD and waitpid")


def test_each_process_closes_the_copies_it_does_not_use(lab):
    server, _ = serving(lab)
    fd = listening_fd(lab, server)
    results = peers.exchanges(lab, peers.messages(3), timeout=QUICK)
    served(lab, server, results, "three clients, each to get its reply, "
           "then end of file")
    peers.settled(lab, server, QUICK)
    family = lab.family(server)
    kids = family.children()
    again = [e for e in lab.events("fork", proc=family)
             if e["pid"] != server.pid and e["ret"] > 0]
    lab.expect(not again,
               "each client to be served by a child of the server itself: "
               f"child {again[0]['pid'] if again else ''} forked again "
               f"({call_text(again[0]) if again else ''} at "
               f"{where(again[0]) if again else ''}) and ended, leaving its "
               "client to a grandchild of the server. That process is not "
               "the server's child: the parent cannot end it on SIGTERM, nor "
               "wait for it, and it serves on after the server has stopped. "
               "Serve the client in the child that fork returned 0 to, and "
               "let the SIGCHLD handler reap it, rather than forking twice",
               "Stopping: the parent cleans up, and ends its children")
    keeping = [pid for pid in kids if not [
        e for e in lab.events("close", proc=None, pid=pid, ret=0)
        if e["args"]["fd"] == fd]]
    lab.expect(not keeping,
               f"each child to close its copy of the listening socket, "
               f"close({fd}), before it serves its client: child "
               f"{keeping[0] if keeping else ''} never did. Only the parent "
               "accepts; a child that keeps the listening socket keeps it "
               "listening after the parent has gone, and clients that "
               "connect then wait for ever", "One process per client")
    for pid in sorted(kids):
        closes = [e for e in lab.events("close", proc=None, pid=pid, ret=0)
                  if e["args"]["fd"] == fd]
        served_first = [e for e in lab.events(SERVING, proc=None, pid=pid,
                                              event=None)
                        if closes and e["ts"] < closes[0]["ts"]]
        if served_first:
            e, c = served_first[0], closes[0]
            lab.expect(False,
                       f"each child to close its copy of the listening "
                       f"socket, close({fd}), before it serves its client: "
                       f"child {pid} served first ({e['call']}"
                       f"({e['args'].get('fd')}, ...) at {e['file']}:"
                       f"{e['line']}), and closed it only after, at "
                       f"{c['file']}:{c['line']}. While the child serves, "
                       "its copy keeps the socket listening: a parent that "
                       "has gone meanwhile leaves clients to connect to a "
                       "socket nobody accepts on. Close it first thing in "
                       "the child, before serve_client",
                       "One process per client")
    # Each child's connected socket: what the parent's accept before its
    # fork returned.
    given, taken = {}, None
    for e in sorted(lab.events((*labrun.ACCEPTS, "fork"), proc=server),
                    key=lambda e: e["start"]):
        if e["call"] != "fork":
            taken = e["ret"] if e["ret"] >= 0 else taken
        elif e["ret"] > 0 and taken is not None:
            given[e["ret"]] = taken
    for pid in sorted(kids):
        cfd = given.get(pid)
        lab.expect(cfd is None or [
            e for e in lab.events("close", proc=None, pid=pid, ret=0)
            if e["args"]["fd"] == cfd],
                   f"each child to close its client's socket, close({cfd}), "
                   f"once it has served it: child {pid} ended without "
                   "closing it, leaving it to _exit. Every descriptor is "
                   "closed by the program itself (lesson 06): close(cfd) "
                   "after serve_client, then _exit",
                   "One process per client")
    accepted = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0]
    closed = [e["args"]["fd"] for e in lab.events("close", proc=server,
                                                  ret=0)]
    lab.expect(len(closed) >= len(accepted) or not kids,
               f"the parent to close its copy of each connected socket "
               f"right after fork: it accepted {len(accepted)} clients and "
               f"closed {len(closed)} of their sockets", "One process per "
               "client")
    closed_once(lab, "One process per client")


def test_only_the_parent_accepts_and_removes_the_socket_file(lab):
    server, _ = serving(lab)
    first = peers.exchanges(lab, peers.messages(1), timeout=QUICK)
    peers.settled(lab, server, QUICK)
    there = lab.is_socket("lab.sock")
    second = peers.exchanges(lab, peers.messages(1), timeout=QUICK)
    cause = children_in_the_loop(lab, server)
    lab.expect(not cause, f"only the parent to accept and clean up: "
               f"{cause}", "One process per client")
    lab.expect(there, "lab.sock to stay while the server runs, after a "
               "client has been served: something removed it; only the "
               "parent removes it, once, when it stops",
               "Stopping: the parent cleans up, and ends its children")
    served(lab, server, first + second, "two clients, one after the other, "
           "each to get its reply")


def test_each_line_is_printed_once(lab):
    # Four clients one after the other: each child is forked after the
    # parent has printed its lines for the clients before. Once the
    # children have ended, what they wrote is all there, and a line of the
    # parent's that they wrote again shows, while the parent still runs.
    server, _ = serving(lab)
    clients = 4
    for n in range(clients):
        served(lab, server, peers.exchanges(lab, peers.messages(1, 25 + n)),
               "four clients, one after the other, each to get its reply")
    peers.settled(lab, server, QUICK)
    forks = [e["ret"] for e in lab.events("fork", proc=server)
             if e["ret"] > 0]
    lines = [line for line in server.stdout.splitlines() if line.strip()]
    twice = [line for line in dict.fromkeys(lines)
             if lines.count(line) > clients or lines.count(line) > 1 and
             any(re.search(rf"\b{pid}\b", line) for pid in forks)]
    lab.expect(not twice,
               "each line the parent prints to be printed once: "
               f"`{twice[0] if twice else ''}` came out "
               f"{lines.count(twice[0]) if twice else 0} times on standard "
               "output, for four clients. The line was still in stdio's "
               "buffer (stdout is not a terminal here: fully buffered) when "
               "the parent forked the next child: the child got a copy of "
               "the buffer, and wrote it again when it flushed or exited. "
               "fflush(stdout) after each printf of the parent, before the "
               "next fork", "One process per client")
    done = [line for line in lines if re.search(r"\bclient done\b", line)]
    lab.expect(len(done) >= clients,
               "each child to print its line `server: client done, N bytes "
               f"echoed` before it ends: {len(done)} of {clients} came out "
               "on standard output. A child ends with _exit, which does not "
               "flush stdio's buffers (stdout is not a terminal here: fully "
               "buffered), so a line left in the buffer is lost: "
               "fflush(stdout) after serve_client, before _exit",
               "One process per client")
    if not forks:
        return  # a server that serves in one loop (lesson 08) forks none
    # The children's lines are out, and the parent's too, or the line
    # above would have come out twice: one missing was never printed.
    line_on_stdout(lab, server, "server: client connected on fd 4, served "
                   f"by child {forks[0]}",
                   lambda line: re.search(r"\bchild\b", line),
                   "once fork has returned", "Your task", flushed=True)
    named = [line for line in lines if re.search(r"\bchild\b", line)]
    # A parent that flushes just before each fork still holds the last
    # child's line.
    missing = [pid for pid in forks[:-1]
               if not any(re.search(rf"\b{pid}\b", line) for line in named)]
    lab.expect(not missing,
               "the parent's line `server: client connected on fd 4, served "
               "by child PID` to name the child's pid, the one fork "
               "returned to the parent: "
               + ("getpid() in the parent is the parent's own pid, "
                  f"{server.pid}; " if any(re.search(rf"\b{server.pid}\b",
                                                      line) for line in named)
                  else "")
               + f"the children forked were {forks}, and it printed "
               f"{cut(named[0] if named else '', 80)}", "Your task")


def test_the_open_descriptors_stay_the_same_after_200_clients(lab):
    server, _ = serving(lab)
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
               f"are {len(after or [])}: {cut(str(after), 80)}. Every "
               "descriptor of a client is closed once it is done: in the "
               "parent, close(cfd) right after fork",
               "One process per client")


def test_a_failed_fork_costs_one_client_only(lab):
    server, _ = serving(lab, env={"LAB_FAULTS": "fork#1=EAGAIN"})
    first = peers.exchange(lab.dir / "lab.sock", b"first", QUICK)
    # The client's exchange ended after the server's fork returned: its
    # event is written, and read once the collector has caught up.
    lab.collector.sync()
    if not lab.events("fork", proc=server, injected=True):
        return  # a server that does not fork: nothing to fail
    lab.expect(not server.has_exited(),
               "a failed fork (EAGAIN: too many processes) to cost the "
               "server one client, not its life: perror(\"server: fork\"), "
               f"close the client's socket, and accept the next; "
               f"{server.describe()}", "One process per client")
    lab.expect(first.how in ("eof", "reset", "closed before the request")
               and not first.reply,
               "the client whose fork failed to read end of file at once, "
               "the parent having closed its socket; it got "
               f"{cut(first.reply, 40)} ({first.how})",
               "One process per client")
    second = peers.exchanges(lab, [b"second"], timeout=QUICK)
    served(lab, server, second, "the next client, once a fork has failed, "
           "to be served")
    # The next client's child has ended: reaped, unless SIGCHLD stayed
    # blocked on the failed fork's path.
    kids = [e["ret"] for e in lab.events("fork", proc=server) if e["ret"] > 0]
    if kids and peers.wait_state(kids[-1], "Z"):
        lab.wait_until(lambda: not peers.zombies(server.pid), proc=server,
                       timeout=QUICK / 2)
    lab.expect(not peers.zombies(server.pid) or
               not peers.blocks(server.pid, signal.SIGCHLD),
               "SIGCHLD to be unblocked again once a fork has failed: the "
               "server still blocks it (SigBlk in "
               f"/proc/{server.pid}/status), and the child that served the "
               "next client stays a zombie, its SIGCHLD pending. The "
               "sigprocmask(SIG_BLOCK, ...) before the fork must be undone "
               "on every path, the failed fork's and a turned-away "
               "client's too: put the mask back after the switch, "
               "sigprocmask(SIG_SETMASK, &mask, NULL), not in the parent's "
               "branch alone",
               "Stopping: the parent cleans up, and ends its children")
    failed = lab.events("fork", proc=server, injected=True)[0]
    early = [line for line in server.stdout.splitlines()
             if re.search(r"\bchild -1\b", line)]
    lab.expect(not early,
               "the parent to print its line `served by child PID` only in "
               "its own branch (default:), once fork has returned the "
               "child's pid: when fork fails, here "
               f"{call_text(failed)}, failed by LAB_FAULTS, it printed "
               f"{cut(early[0] if early else '', 80)}, before the check of "
               "fork's result, and -1 is no child", "Your task")


def test_sigterm_leaves_no_process_no_child_and_no_socket_file(lab):
    server, sentinel = serving(lab)
    connected = [peers.silent(lab, server) for _ in range(3)]
    lab.expect(all(connected), "three silent clients accepted; "
               f"{server.describe()}", "What this stage does")
    peers.settled(lab, server)
    kids = peers.children(server.pid)
    server.asleep()
    server.signal(signal.SIGTERM)
    # Ignored or blocked, it changes nothing: known at once.
    held = peers.waits_with(server.pid, signal.SIGTERM)
    restarted = None if held else restarted_after(lab, server,
                                                  signal.SIGTERM)
    status = server.wait(0 if restarted or held else labrun.WAIT)
    lab.expect(sentinel.signalled() is None,
               "the server to signal only the processes it made: a process "
               "of its process group that it did not make was killed by "
               f"{labrun.signal_name(sentinel.signalled() or 0)}. kill(0, "
               "SIGTERM) (or kill(-pgid, ...)) signals the whole group: the "
               "shell's job, the program that started the server. Send "
               "SIGTERM to each child in the table, by its pid",
               "Stopping: the parent cleans up, and ends its children")
    if restarted and status is None:
        call, how = restarted
        lab.expect(False,
                   "SIGTERM to stop the server; the stop signal's handler "
                   f"is installed {how}: SIGTERM was delivered, its handler "
                   "set the flag, and the kernel restarted the "
                   f"{call} the server waited in, so it waits there still "
                   "and never looks at the flag. Install on_stop_signal "
                   "for SIGINT and SIGTERM with sa_flags = 0, so that "
                   "accept fails with EINTR; SA_RESTART is for the SIGCHLD "
                   "handler only (set sa_flags after the stop signals' "
                   "sigaction calls)", "Reaping: SIGCHLD and waitpid")
    if status is None:
        lab.collector.sync()
        held = peers.held(server.pid, signal.SIGTERM)
        ppoll_keeps_it_out(lab, server, signal.SIGTERM, held,
                           "Stopping: the parent cleans up, and ends its "
                           "children")
        lab.expect(held is None or lab.events(proc=server, event="signal",
                                              where=lambda e: e["args"].get(
                                                  "sig") == "SIGTERM"),
                   f"SIGTERM to stop the server: it {held}, so its handler "
                   "never runs and nothing interrupts the accept it waits "
                   "in. Block SIGCHLD alone, and only around the fork; "
                   "leave SIGINT and SIGTERM unblocked, and not ignored",
                   "Stopping: the parent cleans up, and ends its children")
        why = children_left_running(lab, server, kids)
        lab.expect(not why, "SIGTERM to stop the server, with three silent "
                   f"clients connected: it is still running, {why}",
                   "Stopping: the parent cleans up, and ends its children")
    lab.expect(status is not None,
               "SIGTERM to stop the server, with three silent clients "
               "connected, within "
               f"{labrun.WAIT:g} s: it is still running, waiting (for its "
               "children?); end the children still serving first, with "
               "SIGTERM to each, then wait for them (end_children)",
               "Stopping: the parent cleans up, and ends its children")
    lab.collector.sync()
    left = [pid for pid in kids if labrun.process_state(pid)[0] not in
            (None, "Z")]
    lab.expect(not left,
               f"no child of the server left once it has stopped: "
               f"{len(left)} of its {len(kids)} children (pids "
               f"{left}) still run, serving their silent clients. On "
               "SIGTERM the parent ends them (SIGTERM to each pid in its "
               "table) and waits for them before it exits",
               "Stopping: the parent cleans up, and ends its children")
    reaped = {e["ret"] for e in lab.events("waitpid", proc=server)
              if e["ret"] > 0}
    unreaped = [pid for pid in kids if pid not in reaped]
    lab.expect(not unreaped,
               "the parent to wait for each child it ends before it exits: "
               f"its waitpid never returned {len(unreaped)} of its "
               f"{len(kids)} children (pids {unreaped}): it sent them "
               "SIGTERM and went on to its cleanup and exit without waiting "
               "for them to end, so they may still run after it has "
               "removed lab.sock, and are reaped by another process. After "
               "the kills, waitpid(-1, NULL, 0) again and again, until it "
               "fails with ECHILD: no child left (end_children)",
               "Stopping: the parent cleans up, and ends its children")
    lab.expect(status == 0 and not (lab.dir / "lab.sock").exists(),
               "after SIGTERM the server to exit with 0 and lab.sock to be "
               f"gone; {server.describe()}",
               "Stopping: the parent cleans up, and ends its children")
    ends = [peer.receive() for peer in connected]
    lab.expect(all(how in ("eof", "reset") for _, how in ends),
               "each silent client to see its connection end when the "
               f"server stops; they saw {[how for _, how in ends]}",
               "Stopping: the parent cleans up, and ends its children")



def test_sigterm_while_the_parent_waits_for_its_last_client_ends_it(lab):
    # server -n 1 takes one client, then waits (end_children) for the
    # child that serves it: a SIGTERM that comes then interrupts that wait.
    server, _ = serving(lab, "-n", "1")
    peer = peers.silent(lab, server)
    lab.expect(peer is not None, "a silent client accepted by server -n 1; "
               f"{server.describe()}", "What this stage does")
    spins = spins_once_its_loop_is_over(lab, server)
    lab.expect(not spins, f"server -n 1, its one client taken, to sleep "
               f"until the child serving it ends: {spins}",
               "Stopping: the parent cleans up, and ends its children")
    peers.settled(lab, server)
    # No stop was asked yet: the parent, asleep or gone, has sent what it
    # sends before it waits.
    lab.collector.sync()
    early = lab.events("kill", proc=server)
    lab.expect(not early,
               "server -n 1, its one client taken, to let the child serving "
               "it finish with its client: no stop signal had come, yet the "
               f"parent sent {call_text(early[0]) if early else ''} "
               f"({where(early[0]) if early else ''}) once its loop was "
               "over, and the client lost its connection. After -n COUNT "
               "the children finish their clients, and end_children only "
               "waits for them; it sends SIGTERM only once a stop was "
               "asked (stop_requested)",
               "Stopping: the parent cleans up, and ends its children")
    # The children it forked, from its trace: a parent that has exited
    # has none in /proc any more.
    kids = [e["ret"] for e in lab.events("fork", proc=server)
            if e["ret"] > 0]
    running = [pid for pid in kids
               if labrun.process_state(pid)[0] not in (None, "Z")]
    lab.expect(not (server.has_exited() and running),
               "server -n 1, its one client taken, to wait for the child "
               "serving it before it exits: no stop signal had come, and "
               f"it exited ({server.describe()}) while its child (pid "
               f"{running[0] if running else ''}) still served the silent "
               "client, an orphan that nobody waits for, lab.sock removed "
               "under it. After -n COUNT end_children waits for each child, "
               "waitpid(-1, NULL, 0) until it fails with ECHILD, whether a "
               "stop was asked or not; only the SIGTERM to each is for a "
               "stop", "Stopping: the parent cleans up, and ends its children")
    server.asleep()
    since = time.monotonic_ns()
    server.signal(signal.SIGTERM)

    # A parent asleep in waitpid with SIGTERM blocked keeps it pending for
    # as long as its child serves the silent client: seen at once.
    def kept():
        call = peers.blocked_in(server.pid)
        return call is not None and call[0] in ("wait4", "waitid") and \
            peers.blocks(server.pid, signal.SIGTERM)
    lab.wait_until(lambda: server.has_exited() or kept(), timeout=labrun.WAIT,
                   every=0.01)
    if kept():
        lab.expect(False,
                   "SIGTERM to reach the parent while end_children waits "
                   f"for its children: it {peers.held(server.pid, signal.SIGTERM)}"
                   ", so the signal stays pending, nothing interrupts "
                   "waitpid, and the parent waits for the child serving the "
                   "silent client for ever. The stop signals blocked for "
                   "ppoll (let in only while it waits) must be let in again "
                   "before end_children: sigprocmask(SIG_SETMASK) with the "
                   "mask from before they were blocked",
                   "Stopping: the parent cleans up, and ends its children")
    status = server.wait(labrun.WAIT)
    lab.collector.sync()
    left = [pid for pid in kids if labrun.process_state(pid)[0] not in
            (None, "Z")]
    cut = next((e for e in lab.events("waitpid", proc=server)
                if e["ts"] > since and e["ret"] == -1 and
                e.get("errno") == "EINTR"), None)
    if status is not None and left and cut is not None:
        lab.expect(False,
                   "the parent to wait on for its children when SIGTERM "
                   "interrupts its wait: server -n 1, its one client taken, "
                   "waited for the child serving it; SIGTERM made that "
                   f"waitpid fail with EINTR ({where(cut)}), and the parent "
                   "stopped waiting and exited, its child (pid "
                   f"{left[0]}) still serving the silent client. EINTR there "
                   "is no reason to stop waiting: in end_children, when a "
                   "stop was asked send SIGTERM to each child, then call "
                   "waitpid(-1, NULL, 0) again, until it fails with ECHILD",
                   "Stopping: the parent cleans up, and ends its children")
    lab.expect(status is not None and not left,
               "SIGTERM to stop server -n 1 while it waits for the child "
               "serving its last client (silent) to end, and that child "
               "with it: "
               + (f"it is still running {labrun.WAIT:g} s after"
                  if status is None else
                  f"it exited, its child (pid {left[0] if left else ''}) "
                  "still serving")
               + ". After a stop signal end_children sends SIGTERM to each "
               "child, also while it waits for them, then waits for them",
               "Stopping: the parent cleans up, and ends its children")
    lab.expect(status == 0 and not (lab.dir / "lab.sock").exists(),
               "after SIGTERM the server to exit with 0 and lab.sock to be "
               f"gone; {server.describe()}",
               "Stopping: the parent cleans up, and ends its children")


def spins_once_its_loop_is_over(lab, server):
    """A sentence naming a parent that, its loop over and a child still
    serving, calls waitpid with WNOHANG again and again where it should
    sleep in it (a thousand waitpid = 0 in its trace), else None.  Waits
    until the parent sleeps in wait4 (waitpid, wait), has made those
    calls, or has ended (or, having forked nothing, sleeps)."""
    def zeros():
        return [e for e in lab.events("waitpid", proc=server, event=None)
                if e["event"] in ("return", "repeat") and e["ret"] == 0]

    def waits_for_children():
        return (peers.blocked_in(server.pid) or ("",))[0] in \
            ("wait4", "waitid") and peers.waits(server.pid)
    def waits_with_no_child():  # a server of one process (lesson 08)
        return peers.waits(server.pid) and \
            not lab.events("fork", proc=server)
    lab.wait_until(lambda: calls_counted(zeros(), "waitpid") >= 1000 or
                   waits_for_children() or waits_with_no_child(),
                   proc=server, timeout=QUICK, every=0.01)
    found = zeros()
    count = calls_counted(found, "waitpid")
    if count < 1000:
        return None
    first = found[0]
    return (f"it spins in {call_text(first)} ({where(first)}), called again "
            f"at once each time it returns 0 ({count} times so far): "
            "with WNOHANG waitpid never sleeps, it returns 0 while the child "
            "still serves, and the parent burns a whole CPU until the child "
            "ends (never, with a silent client). WNOHANG is for the SIGCHLD "
            "handler, which must not wait; end_children must: waitpid(-1, "
            "NULL, 0) sleeps until a child ends")


def children_left_running(lab, server, kids):
    """Why the server's children still run after it sent them its stop
    signal, in words, or "" when the trace and /proc do not tell."""
    sent = {e["args"].get("pid"): e for e in lab.events("kill", proc=server)
            if e["ret"] == 0}
    alive = [pid for pid in kids
             if labrun.process_state(pid)[0] not in (None, "Z")]
    groups = [e for e in lab.events("kill", proc=server)
              if isinstance(e["args"].get("pid"), int) and
              -e["args"]["pid"] in kids]
    if groups and alive and not sent:
        e = groups[0]
        return (f"waiting for children it never signalled: its "
                f"{call_text(e)} ({where(e)}) gives the child's pid "
                f"negated, and kill(2) takes a pid below -1 for a process "
                f"group, the group {-e['args']['pid']}: the children are in "
                "their parent's group, and lead none, so no process was "
                "signalled. Send SIGTERM to each child by its pid, "
                "kill(children[i], SIGTERM), then wait for them")
    if not sent or not alive:
        return ""
    missed = [pid for pid in alive if pid not in sent]
    if missed:
        return (f"waiting for children it never signalled: it sent "
                f"{len(sent)} kill ({call_text(next(iter(sent.values())))}"
                f"), and children {missed} still serve their silent "
                "clients. Send SIGTERM to each child in the table, every "
                "entry that is not 0, then wait for them")
    e = sent[alive[0]]
    sig = getattr(signal, str(e["args"].get("sig")), None)
    if sig is None:
        return ""
    how = peers.held(alive[0], sig)
    if how is None:
        return ""
    if lab.events("ppoll", proc=server, event=None):
        # The parent blocks the stop signals too, and lets them in with
        # ppoll: the mask saved when it blocked SIGCHLD blocks them.
        return (f"waiting for children that its {call_text(e)} did not "
                f"end: child {alive[0]} {how}, and serves on: the child "
                "keeps the parent's mask, in which the stop signals are "
                "blocked for its ppoll. In the child, before it serves, put "
                "back the default action of SIGINT and SIGTERM, SIG_DFL, "
                "and the signal mask the parent had before it blocked "
                "them, the one its ppoll waits with, in which neither "
                "SIGTERM nor SIGCHLD is blocked")
    return (f"waiting for children that its {call_text(e)} did not end: "
            f"child {alive[0]} {how}, and serves on. In the child, "
            "before it serves, put back the default action of SIGINT and "
            "SIGTERM, SIG_DFL, and the signal mask the parent had before "
            "it blocked SIGCHLD (restore_signals_in_child(&mask))")


def restarted_after(lab, server, sig):
    """(the call, how the handler was installed) when sig was delivered to
    the server's handler and the server went back to wait in the call it
    waited in, with nothing traced since (no EINTR: the kernel restarted
    it); else None."""
    delivered = lab.wait_for("signal", proc=server, event="signal",
                             where=lambda e: e["args"].get("sig") == sig.name)
    if delivered is None or server.has_exited():
        return None

    def moved():
        return bool(lab.events(proc=server, event=None,
                               where=lambda e: e["ts"] > delivered["ts"]))

    def waits_again():
        blocked = peers.blocked_in(server.pid) or ("",)
        return blocked[0] in peers.WAITING_CALLS and \
            labrun.process_state(server.pid)[0] == "S" and not moved()
    # The handler runs, then the call is restarted or fails: on a loaded
    # machine the server may not be back in a call at the first look.
    lab.wait_until(lambda: moved() or waits_again(), proc=server,
                   every=0.005)
    if not peers.still(lab, waits_again):
        return None
    installed = [e for e in lab.events(("sigaction", "signal"), proc=server)
                 if e["args"].get("sig") == sig.name and e["ret"] == 0]
    how = f"so that calls restart ({call_text(installed[-1])}, " \
        f"{installed[-1]['file']}:{installed[-1]['line']})" if installed \
        else "so that calls restart"
    if installed and "SA_RESTART" in str(installed[-1]["args"].get("flags")):
        how = f"with SA_RESTART ({call_text(installed[-1])}, " \
            f"{installed[-1]['file']}:{installed[-1]['line']})"
    return (peers.blocked_in(server.pid) or ("a call",))[0], how


def stopped_child(lab, server, timeout=labrun.WAIT):
    """The pid of the server's first child once it has stopped (state T),
    or ended, or waits in a call; None once the server shows that it
    forked no child: it stopped itself, or waits in a call (in accept
    again, or in poll), with no fork in its trace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.has_exited():
        forks = [e["ret"] for e in lab.events("fork", proc=server)
                 if e["ret"] > 0]
        if forks:
            if labrun.process_state(forks[0])[0] in ("T", "Z", None) or \
                    peers.waits(forks[0]):
                return forks[0]
        elif labrun.process_state(server.pid)[0] == "T" or \
                peers.waits(server.pid):
            lab.collector.sync()  # a fork before that wait is traced now
            if not lab.events("fork", proc=server):
                return None
        time.sleep(0.001)
    return None


def quiet_after_the_stop(lab, server, child, timeout=labrun.WAIT):
    """Waits until the parent has heard that its child stopped, and waits
    in a call again, nothing pending: a SIGCHLD handler (without
    SA_NOCLDSTOP) runs for a child that stops, and a SIGTERM that came
    while SIGCHLD is pending would not interrupt accept, whose SIGCHLD
    handler has SA_RESTART: the kernel restarts it."""
    installed = [e for e in lab.events(("sigaction", "signal"), proc=server)
                 if e["args"].get("sig") == "SIGCHLD" and e["ret"] == 0]
    if installed and installed[-1]["args"].get("handler") == "handler" and \
            "SA_NOCLDSTOP" not in str(installed[-1]["args"].get("flags")):
        lab.wait_for("signal", proc=server, event="signal", where=lambda e:
                     e["args"].get("sig") == "SIGCHLD" and
                     e["args"].get("pid") == child, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.has_exited():
        pending = labrun.pending_signals(server.pid) or 0
        if peers.waits(server.pid) and \
                not pending & (1 << (signal.SIGCHLD - 1)):
            return
        time.sleep(0.001)


def go_on(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass


def test_sigterm_just_before_a_child_reads_ends_the_child(lab):
    # The gap that no run lands in by itself: the SIGTERM that the parent
    # sends as it stops, reaching a child that has not reached its read
    # yet. LAB_FAULTS stops each child just before its first read
    # (SIGSTOP: trace/TRACE.md, "Fault injection"); the server is sent
    # SIGTERM, and once the parent has sent its children theirs, the child
    # goes on (SIGCONT), and the signal arrives there. With the default
    # action of SIGTERM the child ends; with the parent's stop handler,
    # which only sets the flag, it goes on to wait in read for its silent
    # client, and the parent waits for it.
    rules = "read#1=SIGSTOP,recv#1=SIGSTOP"
    server, _ = serving(lab, env={"LAB_FAULTS": rules})
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client accepted; {server.describe()}",
               "What this stage does")
    child = stopped_child(lab, server)
    if child is None or labrun.process_state(child)[0] != "T":
        go_on(server.pid)  # a server of one process may have stopped
        return  # no child stopped before its read: nothing to force
    quiet_after_the_stop(lab, server, child)

    def signalled():
        return [e for e in lab.events("kill", proc=server)
                if e["args"].get("pid") == child]
    try:
        server.signal(signal.SIGTERM)
        # It signals its children, then waits for them (or has exited).
        lab.wait_until(lambda: signalled() or lab.events(
            "waitpid", proc=server, event="wait"), proc=server)
        server.asleep()
    finally:
        lab.collector.sync()
        sent = signalled()  # before the child goes on
        go_on(child)
    waiting = lab.wait_until(lambda: [
        e for e in lab.events(("read", "recv"), proc=None, pid=child,
                              event="wait")], proc=server)
    if not waiting or not sent or server.has_exited():
        return  # the child ended, and the parent with it; or the parent
        # does not end its children (another check says so)
    server.asleep()
    read = waiting[0]
    delivered = [e for e in lab.events(proc=None, pid=child, event="signal")
                 if e["args"].get("sig") == sent[0]["args"].get("sig")]
    how = (f"ran the parent's stop handler, which the child inherited "
           f"through fork (installed at {delivered[0]['file']}:"
           f"{delivered[0]['line']}): it only set the flag"
           if delivered else "was not delivered: the child blocks it")
    parent_waits = [e for e in lab.events(proc=server, event=None)][-1:]
    lab.expect(False,
               "SIGTERM to end each child at once, wherever the signal "
               "finds it; the child keeps the parent's stop signal handling "
               f"instead: the parent's {call_text(sent[0])} reached child "
               f"{child} just before its first read (the check stopped the "
               f"child there with LAB_FAULTS='{rules}', sent the server "
               "SIGTERM, and let the child go on once the parent had sent "
               f"its own), {how}, and the child went on to wait in "
               f"{read['call']}({read['args'].get('fd')}, ...) for its "
               "silent client, "
               + (f"while the parent waits for it in "
                  f"{call_text(parent_waits[0]).replace(' ... waiting', '')}"
                  if parent_waits and parent_waits[0]["event"] == "wait"
                  else "while the parent waits for it") +
               ": neither ends. In the child, before it serves, put back "
               "the default action of SIGINT and SIGTERM "
               "(restore_signals_in_child(&mask)): a stop signal then ends "
               "it wherever it waits",
               "Stopping: the parent cleans up, and ends its children")


def test_each_child_reaped_leaves_the_table(lab):
    # Two clients, the first leaves, then the second: the second child
    # ends while the entry before its own is free.  Then a silent client,
    # and SIGTERM: the parent signals the children of its table, and none
    # it has reaped before (a pid that may be another process's by then).
    server, _ = serving(lab)
    pair = answered_and_kept(lab, server, 2, "two")
    # The replies' writes are traced once made; the parent's forks, once
    # fork has returned in the parent, maybe after its child replied.
    def replies():
        return lab.events(("write", "send"), proc=lab.family(server),
                          where=lambda e: e["ret"] > 0)
    lab.wait_until(lambda: len(replies()) >= 2, timeout=QUICK)
    if all(e["pid"] == server.pid for e in replies()):
        return  # a server of one process: no table of children

    def forked():
        return [e["ret"] for e in lab.events("fork", proc=server)
                if e["ret"] > 0]
    lab.wait_until(lambda: len(forked()) >= 2, proc=server, timeout=QUICK)
    kids = forked()
    if len(kids) < 2:
        return  # the two clients were not served by two children
    for (peer, _), kid in zip(pair, kids):
        peer.close()
        lab.wait_until(lambda: labrun.process_state(kid)[0] is None,
                       proc=server, timeout=QUICK)
    lab.expect(peers.silent(lab, server) is not None,
               f"a silent client accepted; {server.describe()}",
               "What this stage does")
    peers.settled(lab, server)
    server.asleep()
    server.signal(signal.SIGTERM)
    server.wait(labrun.WAIT)
    lab.collector.sync()
    stale = next((e for e in lab.events("kill", proc=server)
                  if e["args"].get("pid") in kids[:2]), None)
    if stale is None:
        return
    pid = stale["args"]["pid"]
    reaped = next((e for e in lab.events("waitpid", proc=server)
                   if e["ret"] == pid and e["ts"] < stale["ts"]), None)
    lab.expect(False,
               "each child to leave the table of children once it is "
               f"reaped: child {pid} served its client and ended"
               + (f", and the parent reaped it ({call_text(reaped)} at "
                  f"{where(reaped)})" if reaped else
                  ", and the kernel reaped it (no waitpid of the parent "
                  "returned it)")
               + f", yet on SIGTERM the parent sent it {call_text(stale)} "
               f"({where(stale)}): its entry stayed in the table, and the "
               "pid may be another process's by then. The SIGCHLD handler "
               "takes out of the table the very pid that each waitpid "
               "returns: forget_child(pid) for each pid waitpid(-1, NULL, "
               "WNOHANG) returns, in the loop",
               "Reaping: SIGCHLD and waitpid")


MAX_CHILDREN = 64  # the table's entries, as the README says


def test_a_client_beyond_the_table_is_turned_away(lab):
    server, _ = serving(lab)
    held = [peers.silent(lab, server) for _ in range(MAX_CHILDREN)]
    lab.expect(all(held), f"{MAX_CHILDREN} silent clients accepted; "
               f"{server.describe()}", "One process per client")
    # Once the server and its children sleep, every fork is made.
    peers.settled(lab, server)
    if len(peers.children(server.pid)) < MAX_CHILDREN:
        return  # a server of one process, or one that forks no more
    turned_away(lab, server, f"the {MAX_CHILDREN} children that the table "
                "holds", "When no entry is free, the parent forks no child, "
                "and goes on as after fork: it puts the mask back and closes "
                "its copy, close(cfd) (no continue that skips them)",
                "One process per client", QUICK)
    # And the parent goes on: a child that ends is reaped, and its entry
    # is free for the next client, which connects once the parent has
    # reaped it and sleeps again (its handler is over).
    kid = next(e["ret"] for e in lab.events("fork", proc=server)
               if e["ret"] > 0)
    first = held[0]
    first.sock.shutdown(socket.SHUT_WR)
    _, gone = first.receive()
    lab.wait_until(lambda: labrun.process_state(kid)[0] is None,
                   proc=server, timeout=QUICK)
    peers.settled(lab, server, QUICK)
    results = peers.exchanges(lab, peers.messages(1), timeout=QUICK)
    if not all(r.whole for r in results) and \
            peers.blocks(server.pid, signal.SIGCHLD):
        lab.expect(False,
                   "SIGCHLD to be unblocked again once a client was turned "
                   "away: the server still blocks it (SigBlk in "
                   f"/proc/{server.pid}/status), so the child of a client "
                   "that then left stays a zombie and in the table, and the "
                   "next client is turned away too. The sigprocmask(SIG_"
                   "BLOCK, ...) before the table's look must be undone on "
                   "every path, the turned-away client's too: "
                   "sigprocmask(SIG_SETMASK, &mask, NULL) after the if/else",
                   "Stopping: the parent cleans up, and ends its children")
    served(lab, server, results, f"the next client to be served once one "
           f"of the {MAX_CHILDREN} has left (end of file: {gone}), after a "
           "client was turned away")


# -- standard tools as clients, beside a silent one ---------------------------


def test_a_child_that_ends_before_fork_returns_is_not_kept_in_the_table(lab):
    # SIGCHLD is blocked while the parent forks and notes the child: a
    # child that ends at once is then reaped, and forgotten, only once it
    # is in the table. No run lands there by itself; LAB_FAULTS makes the
    # first child end before its fork returns in the parent
    # (fork#1=CHILDFIRST: trace/TRACE.md, "Fault injection").
    rules = "fork#1=CHILDFIRST"
    server, _ = serving(lab, env={"LAB_FAULTS": rules})
    peer = peers.Peer(lab.dir / "lab.sock")
    lab.peers.append(peer.sock)
    peer.send(b"x")
    got = peer.receive(1)
    peer.close()  # the child reads end of file, and ends
    lab.expect(got == (b"X", "size"), "a client answered (X for x) while "
               f"the parent waits for its child to end; it got {got}; "
               f"{server.describe()}", "One process per client")
    # A child's trace says fork returned 0 before it answers: a server
    # that answered itself, with no fork anywhere, has no child to note.
    wrote = lab.wait_for(("write", "send"), where=lambda e: e["ret"] > 0)
    if wrote and wrote["pid"] == server.pid and not lab.events("fork"):
        return
    forked = lab.wait_for("fork", proc=server, where=lambda e: e["ret"] > 0)
    if forked is None:
        return  # a server of one process: no child to note
    child = forked["ret"]
    lab.wait_until(lambda: [e for e in lab.events("waitpid", proc=server)
                            if e["ret"] == child], proc=server, timeout=QUICK)
    peers.settled(lab, server)
    server.asleep()
    server.signal(signal.SIGTERM)
    status = server.wait(labrun.WAIT)
    lab.collector.sync()
    reaped = next((e for e in lab.events("waitpid", proc=server)
                   if e["ret"] == child), None)
    stale = next((e for e in lab.events("kill", proc=server)
                  if e["args"].get("pid") == child), None)
    lab.expect(stale is None,
               "SIGCHLD blocked while the parent forks and notes the child "
               f"in its table: LAB_FAULTS ({rules}) made child {child} end "
               "before its fork returned in the parent, and the SIGCHLD "
               "handler reaped it"
               + (f" (waitpid = {child} at {where(reaped)})" if reaped
                  else "")
               + " before the parent noted it, so forget_child found "
               "nothing to forget, and the table kept the pid of a child "
               f"already reaped: on SIGTERM the parent sent it "
               f"{call_text(stale) if stale else ''} "
               f"({where(stale) if stale else ''}), "
               "a pid that may by then be another process's. Block SIGCHLD "
               "before fork, note the child (children[entry] = pid), and "
               "only then put the mask back",
               "Stopping: the parent cleans up, and ends its children")
    lab.expect(status == 0 and not (lab.dir / "lab.sock").exists(),
               "after SIGTERM the server to exit with 0 and lab.sock to be "
               f"gone; {server.describe()}",
               "Stopping: the parent cleans up, and ends its children")


def test_nc_and_socat_are_served_beside_a_silent_client(lab):
    nc, socat = tool("nc"), tool("socat")
    if b"-U" not in subprocess.run([nc, "-h"], capture_output=True,
                                   timeout=labrun.WAIT).stderr:
        pytest.skip("this nc has no -U (Unix domain) option")
    server, _ = serving(lab)
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
