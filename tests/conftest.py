"""The lab's test driver.

Each tests/test_NN_*.py checks one lesson; its module-level LESSON names the
lesson folder.  The `lab` fixture runs that lesson's programs, built from
lessons/ (LAB_CODE=lessons: the learner's code, `make check`) or from
solutions/ (the default: `make test`), in a fresh directory that is removed
afterwards, and collects their JSON trace.

The classroom commands (make progress, hint, grade...) are tested in
copies of an unpacked hand-out: the `lab_copy` fixture, where lessons are
solved or edited without touching the real lessons/.

Fast: make test runs the suite in three processes (pytest-xdist, -n 3
--dist loadgroup; make check stays one plain pytest process).  A new test
keeps it fast so:
- A module's tests run in one process, one after the other, unless the
  module spreads (a lesson's checks, or SPREAD = True): then each test may
  run in any of them.  Spread a module only if its tests share nothing but
  what they build under labrun.build_lock.  A module of several seconds goes in
  FIRST, by its length.
- What several tests need is made once: a session or module fixture, or,
  to share it between the processes and with the next run, a cache in
  BUILD named by the content it is made of, made under labrun.build_lock
  (handout_built, mistakes.build, labrun.sanitized).  What many tests wait
  for is made by the main process beside the first tests
  (pytest_sessionstart).
- A copy of the lab is lab_copy (a copy of the hand-out built once, whose
  programs are linked, not copied), never a build of its own; one program
  is built with make PROGRAM, never all.
- A command started in a test costs an interpreter (a make check or make
  grade: a pytest): run what is not about the command line in-process
  (classroom.run_checks, tools/lab.py's functions), and read one grade for
  all the fields a test looks at.
- Never wait for an event known not to come: Lab.wait_for and
  Lab.wait_until return once the process waited on has ended (pass proc=),
  a helper that waits for the server to be ready again knows each way a
  server can wait (accept, or poll for one serving in one loop), and a
  command whose checks must fail runs with scale= below 1.
- Nothing in the test process may rely on being its only thread (xdist
  has its own): a signal sent to the process may go to any thread, so a
  fact about blocked signals is observed in a process of its own.
"""
import contextlib
import errno
import functools
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import labrun  # noqa: E402
import peers  # noqa: E402
import tracetext  # noqa: E402

LESSONS = [d.name for d in
           sorted((labrun.ROOT / "lessons").glob("[0-9][0-9]-*"))]
CODE = os.environ.get("LAB_CODE", "solutions")
LEARNER = CODE == "lessons"
# A learner fixes one thing at a time: after a lesson's first failed check,
# its later checks are skipped.  Grading runs every check (LAB_EVERY_CHECK=1).
ONE_FAILURE_PER_LESSON = LEARNER and not os.environ.get("LAB_EVERY_CHECK")


class LabCheckFailed(AssertionError):
    """A check that failed, with a message written for the learner."""


READS, WRITES = ("read", "recv"), ("write", "send")
# The calls that wait for any of a set of fds: poll, and ppoll, which lets
# blocked signals in only while it waits (lesson 06's cure for its gap).
POLLS = ("poll", "ppoll")
# The calls a server waits in for a client that is connected: read, or
# poll for a server that serves every client in one loop (lesson 08).
SERVING_WAITS = READS + POLLS


@contextlib.contextmanager
def frozen(server):
    """The server and every process it forked stopped (SIGSTOP), for what
    a check does meanwhile: a client that connects, sends and leaves before
    any of them can answer, whether the server serves clients in turn, in
    child processes or in one loop.  They go on (SIGCONT) afterwards."""
    pids = [server.pid, *labrun.descendants(server.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    try:
        for pid in pids:
            deadline = time.monotonic() + labrun.WAIT
            while labrun.process_state(pid)[0] not in ("T", "Z", None) and \
                    time.monotonic() < deadline:
                time.sleep(0.001)
        yield
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


def receive(conn, size=None):
    """What a Python peer receives on conn: size bytes, or everything
    until end of file, a reset, or the socket's timeout: (the bytes, how it
    ended: "size", "eof", "reset" or "timeout")."""
    got = b""
    while size is None or len(got) < size:
        try:
            chunk = conn.recv(65536 if size is None else
                              min(65536, size - len(got)))
        except socket.timeout:
            return got, "timeout"
        except OSError:
            return got, "reset"
        if not chunk:
            return got, "eof"
        got += chunk
    return got, "size"


def sent_to(peer, data, end=False):
    """Sends data on a Python peer's socket, and with end=True then shuts
    down its writing side (the program reads end of file): whether it all
    went.  A program that has closed its end makes the send fail (EPIPE,
    ECONNRESET): that is for the check to judge, never a crash."""
    try:
        peer.sendall(data)
        if end:
            peer.shutdown(socket.SHUT_WR)
        return True
    except OSError:
        return False


def receive_from(conn, sender, timeout):
    """What a Python peer receives on conn from the program sender until
    it shuts down writing, or until it has sent all it sends before an
    answer comes: it sleeps in a call that waits (poll, read...) through a
    time when nothing of it is left unread, or goes round a loop that
    moves nothing (Lab.spinning).  (the bytes, how it ended: "eof",
    "reset", "waiting" or "timeout")."""
    got, deadline = b"", time.monotonic() + timeout

    def nothing_unread():
        return not select.select([conn], [], [], 0)[0]
    while time.monotonic() < deadline:
        if select.select([conn], [], [], 0.01)[0]:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return got, "reset"
            if not chunk:
                return got, "eof"
            got += chunk
        elif peers.sleeps_through(sender.pid, peers.WAITING_CALLS,
                                  nothing_unread) or \
                sender.lab.spinning(sender) and nothing_unread():
            return got, "waiting"
    return got, "timeout"


class Drain(threading.Thread):
    """What a Python peer receives on conn, read as it comes, in a thread:
    a peer that sends while the program answers must also read, or the
    answers fill the socket's buffers and both sides wait.  It stops at
    end of file or a reset; once result() is called, also when nothing
    came for the socket's timeout.  result() waits for that (bounded) and
    returns (the bytes, how it ended: "eof", "reset" or "timeout")."""

    def __init__(self, conn):
        super().__init__(daemon=True)
        self.conn, self.got, self.how = conn, b"", None
        self.finished = threading.Event()
        self.start()

    def run(self):
        while True:
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                if self.finished.is_set():
                    self.how = "timeout"
                    return
                continue
            except OSError:
                self.how = "reset"
                return
            if not chunk:
                self.how = "eof"
                return
            self.got += chunk

    def result(self):
        self.finished.set()
        self.join(2 * (self.conn.gettimeout() or labrun.WAIT))
        return self.got, self.how or "timeout"


def signals_of(proc):
    """The masks of /proc/PID/status (SigIgn, SigBlk, SigCgt...) as
    integers, or None once the process has gone."""
    return labrun.signal_masks(proc.pid)


def has_flag(event, name):
    """Whether a send or recv event had the flag name ("MSG_NOSIGNAL"):
    the trace gives flags by name when it knows them all, else as a
    number."""
    flags = (event.get("args") or {}).get("flags")
    if isinstance(flags, int):
        return bool(flags & getattr(socket, name, 0))
    return isinstance(flags, str) and name in flags.split("|")


def where(event):
    return f"{event['file']}:{event['line']}"


# Calls a correct program makes in a signal handler, while another call of
# its main flow waits: the SIGCHLD handler's reaping loop.
SAFE_IN_HANDLERS = {"waitpid"}


def routine_failure(event):
    """A failure that is part of a correct program's work, never the cause
    of a check's failure: the end of a reaping loop (waitpid = -1 ECHILD),
    "not now" from a non-blocking socket (EAGAIN)."""
    return (event["call"] == "waitpid" and event.get("errno") == "ECHILD") \
        or event.get("errno") in ("EAGAIN", "EWOULDBLOCK")


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def handled_failure(event, events):
    """A failure that the program answered as it should, never the one to
    put forward as the cause: an EINTR that it made again (the same call
    on the same fd, later), or one that cut short a call while a signal
    that asks for a stop was delivered (the way out of its loop)."""
    if event.get("errno") != "EINTR":
        return False
    pid, fd = event["pid"], (event.get("args") or {}).get("fd")
    start = event.get("start", event["ts"])
    mine = [e for e in events if e["pid"] == pid and e is not event]
    if any(e["event"] == "signal" and start <= e["ts"] <= event["ts"] and
           (e.get("args") or {}).get("sig") in STOP_SIGNALS for e in mine):
        return True
    for e in sorted((e for e in mine if e["ts"] > event["ts"]),
                    key=lambda e: e["ts"]):
        same_fd = (e.get("args") or {}).get("fd") == fd
        if e["call"] == event["call"] and same_fd:
            return True  # made again
        if e["call"] == "close" and same_fd and fd is not None:
            return False  # given up: the fd is closed first
    return False


def with_handlers(events):
    """The pids of the processes that have a signal handler of their own:
    installed with signal or sigaction (the trace says "handler" for a
    function, not SIG_IGN or SIG_DFL), or inherited through fork from a
    process that had installed one."""
    handled = set()
    for e in events:
        if e["event"] != "return" or e.get("ret") == -1:
            continue
        if e["call"] in ("signal", "sigaction") and \
                (e.get("args") or {}).get("handler") == "handler":
            handled.add(e["pid"])
        elif e["call"] == "fork" and e["pid"] in handled and \
                isinstance(e.get("ret"), int) and e["ret"] > 0:
            handled.add(e["ret"])
    return handled


def diagnoses(events, procs=(), no_data=()):
    """Sentences naming the mistakes that the trace itself shows, whatever
    the check was looking at: a fd used after its close, end of file read
    again, bytes read or written on the listening socket, listen before
    bind, calls made inside a signal handler (only in a process that has
    one: with_handlers)...  Each is a pattern that no correct program of
    the lab produces.  no_data: the pids whose reads and writes that
    returned are not in events (Lab.start(..., data=False))."""
    found = []
    ordered = tracetext.in_causal_order(events)
    by_pid = {}
    for e in ordered:
        by_pid.setdefault(e["pid"], []).append(e)
    handled = with_handlers(ordered)
    for pid, events_of_pid in by_pid.items():
        # Every call, those a run hid from the JSON included, each with
        # its own ret: a "repeat" event stands for that many calls, all
        # alike, which move nothing: a few of each show every pattern
        # below (the counts are taken from the run's own events).
        mine = tracetext.made(events_of_pid, waits=True, at_most=3)
        listening, closed, eof, bound = set(), {}, {}, False
        read_on, wrote_on = {}, {}
        datagram = set()  # fds of datagram sockets: 0 is an empty datagram
        waiting = None  # a call announced as waiting, not yet returned
        gave, minus_one = None, False  # the last failed socket or accept
        for e in mine:
            args = e.get("args") or {}
            fd = args.get("fd")
            if e["event"] == "repeat":
                continue  # a run's count: its first calls were returns
            if e["event"] == "return" and e["ret"] == -1 and \
                    e["call"] in ("socket", *labrun.ACCEPTS):
                gave = e
            if fd == -1 and not minus_one and e["event"] == "return":
                minus_one = True
                found.append(
                    f"{e['call']}(-1) ({where(e)}): -1 is not a descriptor "
                    "but what a call that creates one returns when it fails"
                    + (f" ({tracetext.call_text(gave)}, {where(gave)})"
                       if gave else "") + "; check each result for -1 "
                    "before using it, report the error and stop")
            if e["event"] == "wait":
                # Without a handler of its own no call can run while
                # another waits, and a process whose bytes are not kept
                # (Lab.start(..., data=False)) has its reads' waits
                # without their returns.
                waiting = e if pid in handled and not (
                    e["call"] in READS + WRITES and pid in no_data) else None
                continue
            if waiting is not None and e["call"] != waiting["call"] and \
                    e["call"] not in SAFE_IN_HANDLERS:
                found.append(
                    f"{e['call']}() ({where(e)}) ran while "
                    f"{waiting['call']}({waiting['args'].get('fd', '')}) "
                    "was still waiting: inside a signal handler. A handler "
                    "may call only async-signal-safe functions: let it only "
                    "set the flag, and do the cleanup in main after the loop "
                    "(signal-safety(7))")
                waiting = None
            elif waiting is not None:
                waiting = None
            failed = e["ret"] == -1
            if e["call"] == "bind" and e["ret"] == 0:
                bound = True
            if e["call"] == "listen" and e["ret"] == 0:
                listening.add(fd)
            if e["call"] == "listen" and e.get("errno") == "EINVAL" and \
                    not bound:
                found.append(
                    f"listen({fd}) came before any bind, and failed with "
                    "EINVAL: Linux refuses listen on a Unix domain socket "
                    "that has no address; bind first, then listen")
            if e["call"] in labrun.ACCEPTS and e.get("errno") == "EFAULT":
                found.append(
                    f"accept({fd}) failed with EFAULT: it was given an "
                    "address buffer without a valid length; pass the "
                    "address of a socklen_t set to the buffer's size "
                    "(addrlen), or NULL for both")
            if failed and e.get("errno") == "EBADF" and fd in closed:
                before = closed[fd]
                what = f"close({fd}) twice" if e["call"] == "close" else \
                    f"{e['call']}({fd}) after close({fd})"
                sentence = (f"{what}: fd {fd} was closed at {where(before)}, "
                            f"then used at {where(e)}, which failed with "
                            "EBADF; use a fd only until its close, and close "
                            "it exactly once")
                if fd in listening:
                    sentence += (f". fd {fd} is the listening socket: inside "
                                 "the loop close the fd that accept returned "
                                 "(cfd), and the listening fd only once, "
                                 "after the loop")
                found.append(sentence)
            if e["call"] == "close" and e["ret"] == 0:
                closed[fd] = e
                eof.pop(fd, None)
                read_on.pop(fd, None)
                wrote_on.pop(fd, None)
            if e["call"] in (*labrun.ACCEPTS, "socket") and e["ret"] >= 0:
                closed.pop(e["ret"], None)
                eof.pop(e["ret"], None)
                datagram.discard(e["ret"])
                if str(args.get("type", "")).startswith("SOCK_DGRAM"):
                    datagram.add(e["ret"])
            if e["call"] in READS + WRITES and fd in listening:
                found.append(
                    f"{e['call']}({fd}) on the listening socket "
                    f"({where(e)}): a listening socket carries connections, "
                    "not bytes; read and write on the new fd that accept "
                    "returned")
                listening.discard(fd)  # said once
            if e["call"] in READS and fd in eof and not \
                    eof[fd].get("said"):
                again = sum(tracetext.calls_of(x) for x in events_of_pid
                            if x["call"] in READS and
                            x["event"] in ("return", "repeat") and
                            (x.get("args") or {}).get("fd") == fd and
                            x["ts"] > eof[fd]["ts"])
                found.append(
                    f"{e['call']}({fd}) returned 0, end of file, and was "
                    f"called on fd {fd} again ({again} times more): "
                    "0 means the peer has closed its end and nothing more "
                    "will ever come; leave the loop when read returns 0")
                eof[fd]["said"] = True
            if e["call"] in READS and e["ret"] == 0 and fd not in eof \
                    and fd not in datagram:
                eof[fd] = dict(e)
            if e["call"] in READS and e["ret"] > 0:
                read_on[fd] = read_on.get(fd, 0) + e["ret"]
            if e["call"] in WRITES and e["ret"] > 0:
                wrote_on[fd] = wrote_on.get(fd, 0) + e["ret"]
                if e["role"].split("/")[0] == "server" and wrote_on[fd] > \
                        read_on.get(fd, 0):
                    found.append(
                        f"the server wrote {wrote_on[fd]} bytes on fd {fd} "
                        f"after reading only {read_on.get(fd, 0)} there "
                        f"({where(e)}): it answers each byte it reads with "
                        "one byte, so write back only the n bytes that each "
                        "read returned, not the whole buffer")
                    read_on[fd] = float("inf")  # said once
    # A client refused because the server had already removed the name.
    for e in ordered:
        if e["call"] != "connect" or e.get("errno") != "ENOENT":
            continue
        path = (e["args"].get("addr") or {}).get("path")
        for u in ordered:
            if u["call"] == "unlink" and u["ret"] == 0 and \
                    u["args"].get("path") == path and u["ts"] < e["ts"] \
                    and any(a["pid"] == u["pid"] and a["ts"] > u["ts"] and
                            a["call"] in labrun.ACCEPTS for a in ordered):
                found.append(
                    f"the server removed {path} with unlink ({where(u)}) "
                    "while it still served clients, so the next client's "
                    f"connect found no file (ENOENT, {where(e)}): a removed "
                    "name stops new clients; unlink once, when the server "
                    "stops")
                break
        break
    # A process that ended by exit while it waited in a call.
    for proc in procs:
        mine = by_pid.get(proc.pid, [])
        waits = [e for e in mine if e["event"] == "wait" and not (
            e["call"] in READS + WRITES and proc.pid in no_data)]
        if proc.pid not in handled:
            continue  # no handler: it ended some other way
        if not waits or proc.stopped_with is not None or \
                not proc.has_exited() or proc.wait(labrun.WAIT) is None or \
                proc.returncode < 0:
            continue
        last = waits[-1]
        if not [e for e in mine if e["event"] == "return" and
                e["call"] == last["call"] and e["ts"] > last["ts"]]:
            found.append(
                f"the {proc.name} exited (status {proc.returncode}) while "
                f"{last['call']}({last['args'].get('fd', '')}) was waiting, "
                "without that call ever returning: the process ended from "
                "inside a signal handler. A handler that calls exit (or "
                "_exit) skips the cleanup after the loop; let it only set "
                "the flag")
    return list(dict.fromkeys(found))


def same_line(repeats):
    return (f"    ... the same line {repeats} more "
            f"{'time' if repeats == 1 else 'times'}")


def collapsed(events):
    """The lines of the trace, as the human trace shows them (a run of
    like calls counted: tracetext.as_shown), with a run of identical lines
    said once; of the lines that count a run as it goes on ("the same 10
    more times so far", 100, 1000...), only the latest."""
    lines, last, repeats = [], None, 0
    for e in (x for _, shown in tracetext.as_shown(events) for x in shown):
        key = (e["pid"], e["event"], e["call"], json.dumps(e.get("args")),
               e.get("ret"), e.get("errno"), e.get("data"))
        if key == last and e["event"] == "repeat":
            lines[-1] = "    " + tracetext.render(e)  # its count so far
            continue
        if key == last:
            repeats += 1
            continue
        if repeats:
            lines.append(same_line(repeats))
        lines.append("    " + tracetext.render(e))
        last, repeats = key, 0
    if repeats:
        lines.append(same_line(repeats))
    return lines


class LessonLab(labrun.Lab):
    """A Lab that runs one lesson's programs and explains failed checks.

    code_dir holds the programs under test; readme_lesson is the lesson
    whose README a failure message sends the learner to.
    """

    def __init__(self, code_dir, readme_lesson):
        super().__init__(code_dir)
        self.lesson = readme_lesson

    def start(self, name, *args, **kw):
        try:
            return super().start(name, *args, **kw)
        except FileNotFoundError as e:
            raise LabCheckFailed(f"{e}\nRun `make lesson N={self.lesson[:2]}`"
                                 f" to see the compiler's messages.") from None

    def server(self, *args, **kw):
        return self.start("server", *args, **kw)

    def serving(self, *args, **kw):
        """The server, started and listening (lesson 03's stage done)."""
        server = self.server(*args, **kw)
        self.require("listen", "the server to listen (lesson 03)",
                     "What this stage does", proc=server, ret=0)
        whole_name_bound(self, server, asked_path(args))
        return server

    def client(self, *args, stdin=b"", timeout=labrun.WAIT, **kw):
        return self.run("client", *args, stdin=stdin, timeout=timeout, **kw)

    def source(self, name):
        """(the C source of the program name, as the learner names it:
        lessons/06-close/server.c; its text), or fails the check."""
        path = labrun.source_of(self.code_dir, name)
        text = labrun.read_if_there(path)
        self.expect(text is not None, f"the source of the {name}, "
                    f"{name}.c, to read: it is not beside {self.code_dir}",
                    "Your task")
        return labrun.shown_path(path), text.decode(errors="replace")

    def sanitized(self, name):
        """What start() needs to run the sanitized build of the program
        name (labrun.sanitized): {} where this machine cannot build one,
        and then the plain build runs."""
        source = labrun.source_of(self.code_dir, name)
        program, _ = labrun.sanitized(source) if source else (None, None)
        if program is None:
            return {}
        return {"program": program, "under": labrun.sanitized_runner(),
                "env": dict(labrun.SANITIZER_ENV), "data": False}

    def read_text(self, name):
        """The text of a file in the lab directory, or None if it is not
        there (the program under test may have removed or replaced it)."""
        data = labrun.read_if_there(self.dir / name)
        return None if data is None else data.decode(errors="replace")

    def is_socket(self, name):
        try:
            return (self.dir / name).is_socket()
        except OSError:
            return False

    def settled(self):
        """Waits, bounded, until each program has ended or sleeps in a
        call (or goes round a loop that moves nothing), with its trace
        read: a check may fail on one event while the program still runs
        on to its exit, and the report then says the same every run."""
        for proc in self.procs:
            if not proc.has_exited():
                proc.asleep()
        self.collector.sync()

    def report(self, expected, section):
        self.settled()
        events = self.events(event=None)
        lines = [f"Expected: {expected}"]
        with self.collector.cond:
            no_data = {int(p[6:-1]) for p in self.collector.no_data}
        lines += [f"Found: {d}." for d in diagnoses(events, self.procs,
                                                    no_data)]
        shown = tracetext.in_causal_order(events)
        failed = [e for e in shown if tracetext.failed(e) and
                  not routine_failure(e) and not handled_failure(e, shown)]
        if failed:
            first = failed[0]
            lines.append(f"The call that failed: the {first['role']}'s "
                         f"{tracetext.call_text(first)}  {where(first)}")
            why = (first.get("explain") or {}).get("why")
            if why:
                lines.append(f"    why: {why}")
            if len(failed) > 1:
                lines.append(f"    ({len(failed) - 1} more failed calls: "
                             "see the trace)")
        lines.append("The trace showed:")
        if not shown:
            lines.append("    no lifecycle call at all")
        trace = collapsed(shown)
        if len(trace) > 30:
            lines.append(f"    ... ({len(trace) - 30} lines before these)")
        lines += trace[-30:]
        for proc in self.procs:
            if not proc.has_exited():  # its state now; nothing more to see
                self.stop(proc, signal.SIGKILL)
            lines.append(f"Then: {proc.describe()}.")
            for name, data in (("stdout", proc.stdout_bytes),
                               ("stderr", proc.stderr_bytes)):
                for line in tracetext.last_lines(data, 6):
                    lines.append(f"    {name}: {line}")
        lines.append(f'Reread lessons/{self.lesson}/README.md, section '
                     f'"{section}".')
        return "\n".join(lines)

    def expect(self, condition, expected, section):
        """Fails the check, for the learner, unless condition holds."""
        if not condition:
            raise LabCheckFailed(self.report(expected, section))

    def require(self, call, expected, section, **kw):
        """Waits for a traced call and returns it, or fails the check."""
        event = self.wait_for(call, **kw)
        self.expect(event is not None, expected, section)
        return event


# -- what fault injection shows (LAB_FAULTS: trace/TRACE.md) ------------------

def faults(rules):
    """The environment in which a program's calls fail, or move fewer
    bytes, as rules say (LAB_FAULTS, trace/TRACE.md, "Fault injection";
    a rule for accept applies to accept4 too)."""
    return {"LAB_FAULTS": rules}


def interrupted(*calls):
    """The rules that make the first two of each of the calls fail with
    EINTR, as when a signal comes while each waits, and again while it
    waits the second time."""
    return ",".join(f"{call}#{n}=EINTR" for call in calls for n in (1, 2))


def watched_for_input_after_end_of_file(lab, server):
    """(the read of 0, the first poll after it that asked for POLLIN on
    that socket, how many polls did so, how many of them reported it at
    once) for a client's socket that poll still watched for POLLIN after
    read returned 0 (end of file), before the server closed it; else
    None."""
    ended, found = {}, None
    for e in lab.events(proc=server, event=None):
        args = e.get("args") or {}
        if e["event"] != "return" and not (e["call"] == "poll" and
                                           e["event"] == "wait"):
            continue
        if e["call"] in labrun.ACCEPTS or e["call"] == "close":
            fd = e["ret"] if e["call"] in labrun.ACCEPTS else args.get("fd")
            ended.pop(fd, None)
            continue
        if e["call"] in READS and e["ret"] == 0 and args.get("count", 0):
            ended.setdefault(args.get("fd"), [e, None, 0, 0])
            continue
        if e["call"] != "poll" or e["event"] != "return":
            continue
        ready = {f["fd"]: str(f["revents"]) for f in args.get("ready") or []}
        for entry in args.get("fds") or []:
            seen = ended.get(entry.get("fd"))
            if seen and "POLLIN" in str(entry.get("events")):
                seen[1] = seen[1] or e
                seen[2] += 1
                seen[3] += "POLLIN" in ready.get(entry["fd"], "")
                found = found or seen
    return tuple(found) if found else None


REPLACEMENTS = ["a regular file", "another socket"]


def replacement_left_alone(lab, proc, name, other, kind, section):
    """With proc (a server or a collector) waiting after its bind, its
    socket file name is replaced by other (one of REPLACEMENTS; another
    socket of kind, SOCK_STREAM or SOCK_DGRAM, bound there by the check),
    then proc is stopped: fails the check unless the replacement is still
    there, untouched, and proc removed nothing.  A program removes its file
    only while it is still the one its bind made."""
    path = lab.dir / name
    path.unlink(missing_ok=True)
    if other == "a regular file":
        path.write_text("someone else's file\n")
    else:  # another program's, bound once the file was removed
        theirs = socket.socket(socket.AF_UNIX, kind)
        lab.peers.append(theirs)  # closed when the check ends
        theirs.bind(str(path))
    made = path.lstat()
    lab.stop(proc)
    try:
        now = path.lstat()
    except OSError:
        now = None
    lab.expect(now is not None and (now.st_dev, now.st_ino) ==
               (made.st_dev, made.st_ino) and
               not lab.events("unlink", proc=proc, ret=0),
               f"on exit, the {proc.name} removes {name} only if it is still "
               "the socket file its bind made (is_our_socket_file, which "
               "compares the file's device and inode with those bind "
               f"made): here someone replaced it with {other}, which must "
               "stay"
               + (": a socket file is not the program's own only because "
                  "it is a socket (S_ISSOCK); another program may have "
                  "bound the path since" if other == "another socket"
                  else "")
               + f"; {'it was removed' if now is None else 'it was kept'}",
               section)


def refuses_an_option(lab, program, call, section):
    """Fails the check unless `program -h` prints its usage line on
    standard error and exits with a non-zero status without call (bind,
    connect): an argument that starts with '-' is an option."""
    proc = lab.run(program, "-h")
    lab.expect(not lab.events(call, proc=proc) and
               (proc.returncode or 0) > 0 and says(proc.stderr, "usage"),
               f"`{program} -h` to print its usage line on standard error "
               f"and exit with a non-zero status, without {call}: an "
               "argument that starts with '-' is an option, not a path "
               f"(write such a path ./-h); it said "
               f"{tracetext.cut(proc.stderr_bytes, 120)} and "
               f"{proc.describe()}", section)


def turned_away(lab, server, beyond, fix, section, timeout):
    """Fails the check unless a client beyond what the server's table
    holds (beyond: "the 64 that the table holds") is turned away at once:
    accepted and closed, so that it reads end of file; names an accept
    that was never closed.  fix: what to do, in words."""
    since = time.monotonic_ns()
    extra = peers.Peer(lab.dir / "lab.sock", timeout)
    lab.peers.append(extra.sock)
    _, how = extra.receive() if extra.error is None else (b"", "refused")
    lab.collector.sync()
    taken = [e for e in lab.events(labrun.ACCEPTS, proc=server)
             if e["ret"] >= 0 and e["ts"] > since]
    lab.expect(how in ("eof", "reset"),
               f"a client beyond {beyond} to be turned away at once: "
               "accepted, said so, and closed, so that it sees its end; it "
               "saw " + ("its connection refused" if how == "refused" else
                         f"nothing for {timeout:g} s")
               + (f", though the server accepted it as fd {taken[0]['ret']}"
                  " and never closed that fd" if taken else
                  ", and the server did not accept it")
               + f". {fix}; " + server.describe(), section)


def as_run(lab, name, rules, *args):
    """The command that shows a learner what a check did: the program run
    by hand with the same faults."""
    return " ".join([f"LAB_FAULTS='{rules}'",
                     f"build/lessons/{lab.lesson}/{name}", *map(str, args)])


def calls_counted(events, call):
    """How many calls of call the events stand for, those a run hid
    ("repeat" events) included, without making a copy of each; call is a
    name or a collection of names."""
    calls = {call} if isinstance(call, str) else set(call)
    return sum(tracetext.calls_of(e) for e in events if e["call"] in calls)


# What musl's strerror says for the errnos the checks inject, where its
# words are not glibc's (os.strerror here).
MUSL_WORDS = {"EMFILE": "No file descriptors available",
              "EADDRINUSE": "Address in use"}
# What perror and strerror say for errno 0, no error: glibc's words,
# musl's.
NO_ERROR_WORDS = (os.strerror(0), "No error information")


# How a message names standard output: in words, as stdio calls it, or
# by its number.
STANDARD_OUTPUT = re.compile(
    r"standard output|std ?out\b|\b(?:fd|file descriptor|descriptor) ?1\b",
    re.IGNORECASE)


def says_standard_output(text, closed=False):
    """Whether text (a program's standard error) names standard output,
    in any of the ways programs do; with closed, that it is closed too."""
    return bool(STANDARD_OUTPUT.search(text)) and (
        not closed or re.search(r"clos|not open", text, re.IGNORECASE)
        is not None)


def says(text, words):
    """Whether a program's message text has words in it, whatever their
    case: a sentence may begin with them ("Start the server first")."""
    return words.lower() in text.lower()


def says_to_remove(text, name):
    """Whether text gives the command that removes the file name: rm (or
    unlink), with options or not, the name as given, after ./ or quoted."""
    return re.search(r"\b(?:rm|unlink)(?:\s+-[a-z]+)*\s+['\"`]?(?:\./)?"
                     + re.escape(name) + r"\b", text) is not None


def says_why(proc, name):
    """Whether proc's standard error gives the reason of the errno name:
    the words of strerror (perror, strerror(errno), %m), or the name."""
    said = proc.stderr.lower()
    return any(words.lower() in said for words in
               (os.strerror(getattr(errno, name)), name,
                MUSL_WORDS.get(name, name)))


def without_the_reason(lab, proc, call, name, how, section, taught=""):
    """Fails the check, naming the mistake, when proc said something on
    standard error after call failed with the errno name, but not why."""
    lab.expect(says_why(proc, name),
               f"a message on standard error that says why {call} failed"
               f"{taught}: the reason errno gives, as perror(\"{proc.name}: "
               f"{call}\") prints it (`{proc.name}: {call}: "
               f"{os.strerror(getattr(errno, name))}`); {how}, and the "
               f"{proc.name} said {tracetext.cut(proc.stderr_bytes, 120)}, "
               "which does not say why: print errno's reason with perror, "
               "or with strerror(errno)", section)


def errno_changed(proc, event):
    """A sentence for a failure report, when proc's standard error gives
    the reason of another errno than the one event failed with: errno
    read after another call had changed it (perror, printf, lstat...);
    or ""."""
    if not event or not event.get("errno"):
        return ""
    said = proc.stderr
    others = [os.strerror(code) for code, name in errno.errorcode.items()
              if name != event["errno"] and os.strerror(code) in said and
              not os.strerror(code).startswith("Unknown error")]
    if not others or event.get("error", "") in others:
        return ""
    return (f": its message gives the reason of another error, "
            f"`{others[0]}`, not {event['errno']}'s (`{event.get('error')}`"
            f"): errno was read after another call changed it. A library "
            "call (perror, printf, fprintf...) may change errno even when "
            "it succeeds: explain first, or save errno at once (int err = "
            f"errno;) right after {event['call']} fails")


def explained_without_a_crash(lab, proc, event, section):
    """Fails the check, naming the crash, when proc was killed by a signal
    once event, a call that failed, had returned: the code that explains
    the failure crashed (given a null pointer, say: argv[1] when no path
    is on the command line)."""
    if not event or event.get("ret") != -1:
        return
    proc.wait(labrun.WAIT)
    lab.expect(proc.returncode is None or proc.returncode >= 0,
               f"the {proc.name} to explain why "
               f"{tracetext.call_text(event)} failed, then exit with a "
               "non-zero status: it crashed on its way, once the call had "
               f"returned: {proc.describe()}; look at what the explanation "
               "is given: argv[1] is a null pointer when no path is on the "
               "command line, where the variable path holds the default",
               section)


def used_minus_one(lab, proc):
    """What shows that proc used -1 as a descriptor: a call on fd -1, or a
    line of output that says "fd -1"; "" if nothing does."""
    calls = [e for e in lab.events(proc=proc, event=None)
             if (e.get("args") or {}).get("fd") == -1
             and e["event"] != "wait"]
    said = [line for line in proc.stdout_bytes.splitlines()
            if re.search(rb"\bfd -1\b", line)]
    shown = []
    if said:
        shown.append(f"it printed {tracetext.cut(said[0], 60)}")
    if calls:
        shown.append(f"it called {tracetext.call_text(calls[0])}")
    return " and ".join(shown)


def printed_before_the_check(lab, proc, call, how, section, taught=""):
    """Fails the check, naming the mistake, if proc printed a line that
    says "fd -1" and yet made no call on -1, reported the failure of call
    (how: the failed call, in words) on stderr and exited with a non-zero
    status: the line came before the check of the result, not instead."""
    said = [line for line in proc.stdout_bytes.splitlines()
            if re.search(rb"\bfd -1\b", line)]
    calls = [e for e in lab.events(proc=proc, event=None)
             if (e.get("args") or {}).get("fd") == -1
             and e["event"] != "wait"]
    early = said and not calls and proc.has_exited() and \
        proc.wait() is not None and proc.returncode > 0 and \
        proc.stderr.strip()
    lab.expect(not early,
               f"the {proc.name} to print its line about the new fd only "
               f"once {call} has returned one{taught}, after the check of "
               f"its result: when {call} fails, here {how}, it printed "
               f"{tracetext.cut(said[0] if early else b'', 60)} all the "
               "same, then reported the failure and exited: the line comes "
               "before the check, and names -1, which is no descriptor; "
               f"{proc.describe()}", section)


# fd 3 already open when a program starts (Lab.start's under=), as a
# shell's `3</dev/null` leaves it: each descriptor the program makes is one
# higher than in a plain run, and a line that names one must follow.
# 107 bytes, the longest path sun_path holds with its '\0': a length that
# leaves out the end of the address cuts only so long a path.
LONGEST_PATH = "s" * 102 + ".sock"


def asked_path(args):
    """The socket path a server's command line names: its last argument
    that is not an option nor a count, or lab.sock."""
    named = [a for a in args if isinstance(a, str) and
             not a.startswith("-") and not a.isdigit()]
    return named[-1] if named else "lab.sock"


def whole_name_bound(lab, server, name, section="What this stage does"):
    """Fails the check, naming the address length, when the server's bind
    succeeded on only the first bytes of name: a client's connect to name
    then finds no file (ENOENT), the mistake is the server's."""
    for event in lab.events("bind", proc=server, ret=0):
        addr = event["args"].get("addr") or {}
        path = event["args"].get("bound") or addr.get("path") or ""
        shown = name if len(name) < 20 else f"{name[:8]}...{name[-8:]}"
        lab.expect("abstract" in addr or not path or path == name or
                   not name.startswith(path),
                   "the server to pass bind the length of the whole "
                   "address, sizeof addr (110 bytes: sun_family, then the "
                   f"108 of sun_path): it called {tracetext.call_text(event)}"
                   f", and the length {event['args'].get('addrlen')} cut "
                   f"the name bound to its first {len(path)} bytes, "
                   f"\"{path}\", not {shown} ({len(name)} bytes), so a "
                   "client's connect to that path finds no file (ENOENT)",
                   section)


def socket_file_kept(lab, server, name, section):
    """Fails the check, naming the unlink, when the socket file name is
    gone once the server has ended or sleeps in a call (after bind, or
    after listen), and the server itself removed it: the socket keeps its
    name, but a client finds the server only through the file (connect
    says ENOENT).  A server removes its file when it stops (lesson 06)."""
    server.asleep()
    lab.collector.sync()
    removed = lab.events("unlink", proc=server, ret=0,
                         where=lambda e: e["args"].get("path") == name)
    shown = name if len(name) < 20 else f"{name[:8]}...{name[-8:]}"
    lab.expect(lab.is_socket(name) or not removed,
               f"the server to keep its socket file {shown} while the "
               f"socket has that name: it removed the file itself, "
               f"{tracetext.call_text(removed[0]) if removed else ''} at "
               f"{where(removed[0]) if removed else ''}, once bind had "
               "made it; the socket still has the name, but a client finds "
               "a server only through its file, and connect says ENOENT; "
               "remove the file when the server stops (lesson 06), not "
               "before", section)


# Far longer than sun_path: copied into the address before its length is
# checked, it runs over the stack, main's return address with it.
FAR_TOO_LONG = "x" * 4000


def survived_a_path_far_too_long(lab, proc, section):
    """Fails the check, naming the copy, when proc, run with FAR_TOO_LONG,
    was killed by a signal: it copied the path into sun_path before
    checking its length (or never checked it), and the copy ran past the
    address, over the stack."""
    proc.wait(labrun.WAIT)
    lab.expect(proc.returncode is None or proc.returncode >= 0,
               f"the {proc.name} given a path of {len(FAR_TOO_LONG)} bytes "
               "to refuse it, saying it does not fit in sun_path: check "
               "strlen(path) >= sizeof addr.sun_path before the path is "
               f"copied into the address; {proc.describe()}: the copy ran "
               "past sun_path, over the stack", section)


def connected_to_the_whole_path(lab, client, name):
    """Fails the check, naming the client's address length, if the address
    its connect passed (once it has called it) is only the first bytes of
    name, the path it was given: a length too small (sizeof(struct
    sockaddr), the size of a pointer, or one counted before the path was
    copied into sun_path) leaves the kernel only the start of the name,
    usually one with no file (ENOENT)."""
    event = lab.wait_for("connect", proc=client, timeout=0)
    if event is None:
        return
    addr = event["args"].get("addr")
    path = addr.get("path") if isinstance(addr, dict) else None
    length = event["args"].get("addrlen")
    shown = name if len(name) < 30 else f"{name[:8]}...{name[-8:]}"
    lab.expect(not isinstance(path, str) or path == name or
               not name.startswith(path),
               f"the client to connect to the whole path it was given, "
               f"{shown} ({len(name)} bytes): its address length is wrong. "
               f"It called {tracetext.call_text(event)}: the length "
               f"{length} left the kernel only the name {path!r}"
               + (", where no socket file is" if event.get("errno") ==
                  "ENOENT" else "") +
               ". Pass connect sizeof addr, the size of the whole struct "
               "sockaddr_un (110 bytes), not sizeof(struct sockaddr) (16: "
               "14 bytes of path), and not a length counted before the path "
               "is copied into sun_path", "Your task")


FD_3_TAKEN = ("/bin/sh", "-c", 'exec "$@" 3</dev/null', "sh")


def fd_3_taken(lab, name, *args):
    """How a learner runs the program name with fd 3 already open, as the
    checks do (FD_3_TAKEN), in words."""
    return (f"fd 3 was already open when the {name} started "
            f"(`{' '.join(['build/lessons/' + lab.lesson + '/' + name, *args])}"
            " 3</dev/null` does it again)")


def first_fds(proc, lines=None):
    """The fd each line of proc's standard output names first ("fd N"):
    a line may name another fd after it."""
    lines = proc.stdout.splitlines() if lines is None else lines
    return [int(found[0]) for found in (re.findall(r"\bfd (-?\d+)", line)
                                        for line in lines) if found]


def line_on_stderr_instead(lab, proc, shown, matches, when, section):
    """Fails the check, naming the mistake, when no line of proc's standard
    output matches (matches: a test of one line) but one of its standard
    error does: the line was printed with fprintf(stderr, ...).  shown:
    the line as the task gives it; when: when it is looked for, in words."""
    if any(matches(line) for line in proc.stdout.splitlines()):
        return
    on_stderr = [line for line in proc.stderr.splitlines() if matches(line)]
    lab.expect(not on_stderr,
               f"the line `{shown}` on standard output {when}: it went to "
               "standard error; print it with printf, not fprintf(stderr, "
               "...): standard error is for errors, and whoever reads the "
               f"{proc.name}'s output (a pipe, a script) never sees it "
               "there; on stderr it printed "
               f"{tracetext.cut(on_stderr[0] if on_stderr else '', 80)}",
               section)


def line_on_stdout(lab, proc, shown, matches, when, section, flushed=False,
                   stop=False):
    """Fails the check unless a line of proc's standard output matches
    (matches: a test of one line); the message names where the line
    went instead: standard error (fprintf(stderr, ...)), or nowhere yet,
    kept in stdio's buffer for want of fflush(stdout).  shown: the line
    as the task gives it; when: when it is looked for, in words; flushed:
    whether what proc printed is known to be out (a line in its buffer
    would show otherwise), as once it has exited; stop: whether the check
    may stop proc (SIGTERM) to tell a line left in the buffer, which its
    exit writes out, from one never printed."""
    line_on_stderr_instead(lab, proc, shown, matches, when, section)
    if any(matches(line) for line in proc.stdout.splitlines()):
        return
    before, stopped = proc.stdout_bytes, False
    if stop and not proc.has_exited():
        lab.stop(proc)
        stopped = proc.returncode is not None and proc.returncode >= 0
        if stopped and \
                not any(matches(line) for line in proc.stdout.splitlines()):
            flushed = True
    if flushed or proc.has_exited() and proc.wait() is not None and \
            proc.returncode >= 0 and before == proc.stdout_bytes:
        # exit flushes stdio's buffers: a line missing then was never
        # printed at all.
        expected = (
            f"the line `{shown}` on standard output {when}: the "
            f"{proc.name} never printed it"
            + (", not even in the buffer that its exit writes out"
               if stopped else "") + "; it printed "
            f"{tracetext.cut(proc.stdout_bytes, 100)}, and "
            f"{proc.describe()}")
    else:
        expected = (
            f"the line `{shown}` on standard output {when}: call "
            "fflush(stdout) after printf, or the line stays in stdio's "
            "buffer (standard output is a file here, not a terminal); it "
            f"printed {tracetext.cut(before, 100)}"
            + (", and the rest only as it exited" if before !=
               proc.stdout_bytes else ""))
    lab.expect(False, expected, section)


def short_path(path):
    return path if len(path) < 20 else f"{path[:8]}...{path[-8:]}"


def line_names_the_path(lab, proc, shown, matches, path, section):
    """Fails the check when the lines of proc's standard output that
    matches (a test of one line) picks out all leave out path, the socket
    path proc was given: the line was printed with a constant copied from
    the task (lab.sock) where the task says PATH.  shown: the line as the
    task gives it, with PATH."""
    lines = [line for line in proc.stdout.splitlines() if matches(line)]
    lab.expect(not lines or any(path in line for line in lines),
               f"the line `{shown.replace('PATH', short_path(path))}` to "
               f"name the path the {proc.name} was given on its command "
               f"line ({len(path)} bytes): print the variable that holds "
               "it (path) where the task says PATH, not the constant "
               f"lab.sock; it printed {tracetext.cut(lines[0] if lines else '', 100)}",
               section)


def line_names_the_default_path(lab, proc, shown, matches, section):
    """Fails the check when the lines of proc's standard output that
    matches (a test of one line) picks out all leave out lab.sock, the
    path proc uses when it is given none: the line was printed with
    argv[1], which is then absent, instead of the variable that holds the
    path.  shown: the line as the task gives it, with lab.sock."""
    lines = [line for line in proc.stdout.splitlines() if matches(line)]
    lab.expect(not lines or any("lab.sock" in line for line in lines),
               f"the line `{shown}` to name the path the {proc.name} used, "
               "lab.sock, the default when its command line gives none: "
               "print the variable that holds the path (path), which holds "
               "the default too, not argv[1], which is then absent; it "
               f"printed {tracetext.cut(lines[0] if lines else '', 100)}",
               section)


def printed_before_the_wait(lab, server, shown, matches, section):
    """Fails the check, naming the mistake, when the server, which waits
    (in accept, or pause), has printed no line that matches (a test of one
    line) on standard output, and does not print it either when run again
    with its standard output line buffered (LAB_STDOUT=line, as at a
    terminal, trace/TRACE.md): the line comes only after the wait, where
    a missing fflush(stdout) would have left it in stdio's buffer."""
    if server.has_exited() or \
            any(matches(line) for line in server.stdout.splitlines()) or \
            any(matches(line) for line in server.stderr.splitlines()):
        return
    lab.stop(server)
    bound = lab.events("bind", proc=server, ret=0)
    name = bound and (bound[0]["args"].get("bound") or
                      (bound[0]["args"].get("addr") or {}).get("path"))
    if name and lab.is_socket(name):
        (lab.dir / name).unlink()  # the first run's, left behind
    again = lab.server(*server.args, env={"LAB_STDOUT": "line"})
    again.asleep()
    lab.expect(again.has_exited() or
               any(matches(line) for line in again.stdout.splitlines()),
               f"the line `{shown}` on standard output once listen has "
               "returned, before the server waits: it printed nothing "
               "before it waited, even with its standard output line "
               "buffered as at a terminal (LAB_STDOUT=line); print the "
               "line right after listen, before accept or pause, and "
               f"fflush(stdout); it printed "
               f"{tracetext.cut(again.stdout_bytes, 100)}", section)
    lab.stop(again)


def says_it_listens(lab, server, section="Your task", path="lab.sock"):
    """Fails the check unless the server, once it waits after listen, has
    printed its line `server: listening on PATH ...` on standard output
    (line_on_stdout), with path, the one it was given."""
    server.asleep()  # it prints, then waits: for a signal, or a client
    shown = "server: listening on PATH; stop me with Ctrl-C"
    printed_before_the_wait(lab, server, shown.replace("PATH", short_path(path)),
                            lambda line: "listening on" in line, section)
    line_on_stdout(lab, server, shown.replace("PATH", short_path(path)),
                   lambda line: "listening on" in line,
                   "while the server waits", section)
    line_names_the_path(lab, server, shown,
                        lambda line: "listening on" in line, path, section)


def stopped_by_itself(lab, proc, after=None):
    """Waits until proc has exited, or sleeps in a call, or goes round a
    loop that moves nothing; with after (an event), first until proc has
    made a call after it.  Returns whether it has exited."""
    if after is not None:
        lab.wait_until(lambda: [e for e in lab.events(proc=proc, event=None)
                                if e["ts"] > after["ts"]], proc=proc)
    proc.asleep()
    return proc.has_exited() and proc.wait() is not None


def exited_with_success(lab, proc, done, section):
    """Fails the check when proc, which has done its work (done: what it
    did, in words) and ended by itself, ended with a status other than 0:
    a script (make, && in a shell) takes any other status for a failure.
    Nothing is asked of a process that still runs."""
    if not proc.has_exited() or proc.wait(labrun.WAIT) is None:
        return
    lab.expect(proc.returncode == 0,
               f"the {proc.name} to exit with status 0 (return "
               f"EXIT_SUCCESS) once {done}: a non-zero status says that it "
               "failed, and a script (make, && in a shell) stops there; "
               f"{proc.describe()}", section)


def not_made_again(lab, proc):
    """The first call of proc that LAB_FAULTS failed with EINTR and that
    proc did not make again at once: (that call, the call proc made next,
    or None if it made none), or None when every one was made again."""
    mine = lab.events(proc=proc, event=None)  # a wait is a call made too
    for i, e in enumerate(mine):
        if not (e["event"] == "return" and e.get("injected") and
                e.get("errno") == "EINTR"):
            continue
        # A server that serves in one loop makes it again once poll says
        # the fd is ready again (lesson 08): its polls meanwhile are not
        # a call instead (unless the call failed is the poll itself).
        rest = [a for a in mine[i + 1:]
                if a["call"] not in POLLS or e["call"] in POLLS]
        after = rest[0] if rest else None
        if after is None and len(mine) > i + 1:
            after = mine[i + 1]
        if after is None or after["call"] != e["call"] or \
                after["args"].get("fd") != e["args"].get("fd"):
            return e, after
    return None


def what_came_instead(proc, after):
    """What a process did instead of making a call again, in words."""
    if after is None:
        said = f"it made no call after it, and {proc.describe()}"
    else:
        said = f"it called {tracetext.call_text(after)} next"
    err = [line for line in proc.stderr_bytes.splitlines() if line.strip()]
    if err:
        said += f", and printed {tracetext.cut(err[-1], 80)} on stderr"
    return said


def code_lesson(lab):
    """The lesson the code under test is of: its directory's name where it
    is named after one (build/solutions/08-poll: the ladder runs the
    checks of earlier lessons on it), else the lesson whose checks run (a
    learner's program of tests/mistakes.json, in a directory of its own)."""
    name = lab.code_dir.name
    return name if re.match(r"\d\d-", name) else lab.lesson


def pauses_after_emfile(lab):
    """Whether the code under test is of lesson 08 or later, which teaches
    a server that outlives EMFILE: it rests, then accepts again."""
    return code_lesson(lab)[:2] >= "08"


def ppoll_keeps_it_out(lab, server, sig, held,
                       section="Cleaning up on a signal"):
    """Fails the check, naming the mistake, when the server, which blocks
    sig (held, from peers.held), waits in a ppoll whose mask keeps sig
    blocked during the wait: NULL (the mask as it is), or a mask that
    holds sig (the set of the signals to let in, given as the mask).
    section: the README section that teaches ppoll's mask."""
    waits = lab.events("ppoll", proc=server, event=None)
    if not held or not held.startswith("blocks") or not waits or \
            waits[-1]["event"] != "wait":
        return
    e = waits[-1]
    call = f"{tracetext.call_text(e).replace(' ... waiting', '')} " \
        f"({where(e)})"
    mask = e["args"].get("sigmask")
    cure = ("Give ppoll the mask to wait with: the old mask that "
            "sigprocmask(SIG_BLOCK, &stop_signals, &old) saved, in which "
            "SIGINT and SIGTERM are not blocked")
    lab.expect(mask is not None,
               f"ppoll's mask to let {sig.name} in while it waits: the "
               f"server blocks {sig.name}, and waits in {call} with NULL as "
               "the mask, which keeps the signal mask as it is: "
               f"{sig.name} stays blocked during the wait, pending, and "
               f"nothing interrupts it. {cure}", section)
    lab.expect(sig.name not in mask,
               f"ppoll's mask to let {sig.name} in while it waits: the "
               f"server waits in {call}, and ppoll's mask is the set of the "
               "signals blocked while it waits, not of those it lets in: "
               f"{sig.name} is in it, so it stays blocked, pending, and "
               f"nothing interrupts the wait. {cure}", section)


def failed_accept(lab, *args, sections=("Your task", "Your task")):
    """The server, with every accept failed with EMFILE by LAB_FAULTS (as
    the kernel fails it when the process is out of descriptors), once it
    has exited, or waits, or goes round a loop: (the server, its first
    accept, how the check made it fail, in words, whether it has exited).
    Fails the check, naming the mistake, if the server
    used -1 as a descriptor or called accept again; sections: the README
    sections that explain each of the two."""
    rules = "accept=EMFILE"
    server = lab.server(*args, env=faults(rules))
    first = lab.require((*labrun.ACCEPTS, *POLLS),
                        "the server to call accept(2) "
                        "once it listens", "Your task", proc=server,
                        event=None)
    if first["call"] in POLLS:
        # A server that serves every client in one loop (lesson 08), or
        # waits for the next with ppoll (lesson 06's cure), calls accept
        # once poll says that a client waits: one does.
        lab.connect()
    event = lab.require(labrun.ACCEPTS, "the server to call accept(2) once it "
                        "listens", "Your task", proc=server)
    exited = stopped_by_itself(lab, server, after=event)
    how = f"{tracetext.call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules, *args)}` does it again)"
    printed_before_the_check(lab, server, "accept", how, sections[0])
    misused = used_minus_one(lab, server)
    lab.expect(not misused,
               "the server to check accept()'s result for -1 before it "
               f"uses it: when accept fails, here {how}, report it with "
               "perror(\"server: accept\") and stop; it went on as if -1 "
               f"were the client's descriptor: {misused}", sections[0])
    after = [e for e in lab.events(proc=server, event=None)
             if e["ts"] > event["ts"]]
    # From lesson 08 on, EMFILE pauses accept and the server goes on: its
    # own checks judge how (test_08_poll.py).
    again = 0 if pauses_after_emfile(lab) else \
        calls_counted(after, labrun.ACCEPTS)
    lab.expect(not again,
               "the server to stop when accept fails with an error other "
               f"than EINTR: {how}; it called accept again at once "
               f"({again} time{'s' if again > 1 else ''} more"
               f"{' so far' if not exited else ''}): an error such as "
               "EMFILE does not go away by retrying, and a server that "
               "retries spins, printing the same error for ever; report it "
               "with perror(\"server: accept\") and exit with a non-zero "
               "status", sections[1])
    closed_once(lab, sections[1])
    return server, event, how, exited


# The socket types of the lab's stream sockets, as the trace writes them:
# SOCK_CLOEXEC changes only what an execve(2) keeps, never how the socket
# behaves, so SOCK_STREAM | SOCK_CLOEXEC is the same stream socket.
# SOCK_NONBLOCK is not: accept, connect and read would return at once
# (EAGAIN) instead of waiting.
STREAM_TYPES = ("SOCK_STREAM", "SOCK_STREAM|SOCK_CLOEXEC")


def stream_socket(lab, event, name, section, why=""):
    """Fails the check, naming the type, unless event (a socket call of
    the program name) made a blocking stream socket: socket(AF_UNIX,
    SOCK_STREAM, 0), with SOCK_CLOEXEC or without.  why: what the other
    type made happen, in words (", and connect failed: ...")."""
    kind = event["args"].get("type")
    lab.expect(kind in STREAM_TYPES,
               f"the {name} to make a stream socket, socket(AF_UNIX, "
               "SOCK_STREAM, 0), as lesson 01 asks (SOCK_STREAM | "
               "SOCK_CLOEXEC is the same socket): "
               + ("SOCK_NONBLOCK makes accept and read return at once, "
                  "with EAGAIN, instead of waiting; "
                  if "SOCK_NONBLOCK" in str(kind).split("|") else "")
               + f"it called {tracetext.call_text(event)} at "
               f"{where(event)}{why}", section)


def one_socket(lab, proc, name, section, taught=""):
    """Fails the check, naming the mistake, when the program name made
    more than one socket call in proc before it exited, every socket
    failed: a check written as `if (socket(...) == -1)` makes a socket
    of its own instead of testing the descriptor kept, and a socket
    retried after a failure fails again."""
    made = lab.events("socket", proc=proc)
    lab.expect(len(made) <= 1,
               f"the {name} to call socket(2) once, keep its result in a "
               f"variable and check that variable for -1{taught}: it called "
               f"socket {len(made)} times, "
               + ", ".join(f"{tracetext.call_text(e)} at {where(e)}"
                           for e in made[:3])
               + " (every socket failed by LAB_FAULTS): a check written as "
               "`if (socket(...) == -1)` makes a second socket instead of "
               "testing the first, and a socket made again after a "
               "failure fails again", section)


def failed_socket(lab, name="server", section="Your task", taught=""):
    """Runs the program name with every socket() failed with EMFILE by
    LAB_FAULTS, as for a process that has run out of descriptors; fails
    the check, naming the mistake, unless it says why on stderr and exits
    with a non-zero status, never using -1 as a descriptor.  taught: where
    the lesson asked for it (", as lesson 01 asks")."""
    rules = "socket=EMFILE"
    proc = lab.start(name, env=faults(rules))
    event = lab.require("socket", f"the {name} to call socket(2)",
                        section, proc=proc)
    stopped_by_itself(lab, proc)
    one_socket(lab, proc, name, section, taught)
    how = f"{tracetext.call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, name, rules)}` does it again)"
    printed_before_the_check(lab, proc, "socket", how, section, taught)
    misused = used_minus_one(lab, proc)
    lab.expect(not misused,
               f"the {name} to check socket()'s result for -1{taught}: when "
               f"socket fails, here {how}, say why with perror(\"{name}: "
               "socket\") and exit with a non-zero status (return "
               "EXIT_FAILURE); it went on as if -1 were a descriptor: "
               f"{misused}; {proc.describe()}", section)
    status = proc.returncode if proc.has_exited() else None
    lab.expect(status is not None and status > 0,
               f"the {name} to exit with a non-zero status when socket "
               f"fails{taught} ({how}): a script (make, && in a shell) takes "
               f"status 0 for success; {proc.describe()}", section)
    lab.expect(proc.stderr.strip(),
               f"a message on standard error that says why socket failed"
               f"{taught} (perror(\"{name}: socket\") prints `{name}: "
               f"socket: Too many open files`), before the exit; {how}, and "
               f"the {name} said nothing there; {proc.describe()}", section)
    without_the_reason(lab, proc, "socket", "EMFILE", how, section, taught)
    closed_once(lab, section)


def output_lines(proc):
    """The lines proc printed on standard output, as text."""
    return [line.strip() for line in proc.stdout.splitlines()
            if line.strip()]


def failed_bind(lab, section="Your task", taught=""):
    """Runs the server once as it is, then once with bind() failed by
    LAB_FAULTS on the same path; fails the check, naming the mistake, if
    the failed run prints the line that says the socket is bound (a line
    of the first run that says "bound", or names the path, and does not
    announce the bind: the result printed before it was checked), or
    goes on to listen or accept.  Returns (the server, its bind, how the
    check made it fail, in words, whether it has exited)."""
    rules = "bind=EACCES"
    good = lab.server()
    lab.require("bind", "the server to call bind(2)", section, proc=good)
    stopped_by_itself(lab, good)
    said = output_lines(good)
    lab.stop(good)
    (lab.dir / "lab.sock").unlink(missing_ok=True)
    server = lab.server(env=faults(rules))
    event = lab.require("bind", "the server to call bind(2)", section,
                        proc=server)
    exited = stopped_by_itself(lab, server)
    how = f"{tracetext.call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules)}` does it again)"
    claimed = [line for line in output_lines(server) if line in said and
               (re.search(r"\bbound\b", line, re.I) or "lab.sock" in line)
               and not re.search(r"\bbind", line, re.I)]
    later = [e for e in lab.events(proc=server) if e["ts"] > event["ts"]
             and e["call"] in ("listen", *labrun.ACCEPTS)]
    went_on = [f"it printed {tracetext.cut(claimed[0], 60)}"] \
        if claimed else []
    went_on += [f"it called {tracetext.call_text(later[0])}"] \
        if later else []
    lab.expect(not went_on,
               f"the server to check bind()'s result for -1 before it says "
               f"it is bound{taught}: when bind fails, here {how}, call "
               "explain_bind_failure(path) and exit with a non-zero status, "
               "and print the line `server: bound fd N to PATH` only once "
               f"bind has returned 0; it went on as if it were bound: "
               f"{'; '.join(went_on)}; {server.describe()}", section)
    return server, event, how, exited


def bind_failure_reported(lab, section="Your task", taught=""):
    """failed_bind, and the exit status and message it asks for."""
    server, _, how, exited = failed_bind(lab, section, taught)
    lab.expect(exited and server.returncode > 0 and server.stderr.strip(),
               f"the server to say why bind failed{taught} ({how}) on "
               "standard error, with explain_bind_failure(path), and exit "
               f"with a non-zero status; {server.describe()}", section)


def failed_listen(lab, section="Your task", taught=""):
    """Runs the server with listen() failed by LAB_FAULTS; fails the check,
    naming the mistake, if the server goes on as if it listened, or exits
    with status 0, or says nothing.  Returns (the server, its listen)."""
    rules = "listen=EADDRINUSE"
    server = lab.server(env=faults(rules))
    event = lab.require("listen", "the server to call listen(2) after bind",
                        section, proc=server)
    exited = stopped_by_itself(lab, server)
    how = f"{tracetext.call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules)}` does it again)"
    later = [e for e in lab.events(proc=server) if e["ts"] > event["ts"]
             and e["call"] in (*labrun.ACCEPTS, *READS, *WRITES)]
    claimed = [line for line in server.stdout_bytes.splitlines()
               if b"listening on" in line]
    misused = used_minus_one(lab, server)
    went_on = [f"it printed {tracetext.cut(claimed[0], 60)}"] \
        if claimed else []
    went_on += [f"it called {tracetext.call_text(later[0])}"] \
        if later else []
    went_on += [misused] if misused else []
    went_on += [] if exited or went_on else ["it went on running"]
    # A server that reports the failure and stops, and still printed the
    # line, printed it before it knew listen's result.
    early = claimed and not later and not misused and exited and \
        server.returncode > 0
    lab.expect(not early,
               f"the server to print `server: listening on lab.sock; stop "
               f"me with Ctrl-C` only once listen has returned 0{taught}, "
               f"after the check of its result: when listen fails, here "
               f"{how}, it printed {tracetext.cut(claimed[0], 60) if early else ''}"
               " all the same, then reported the failure: the line came "
               "before the call, or before its result was checked, and "
               "announces a socket that does not listen; "
               f"{server.describe()}", section)
    lab.expect(not went_on,
               f"the server to check listen()'s result for -1{taught}: when "
               f"listen fails, here {how}, say why with perror(\"server: "
               "listen\") and exit with a non-zero status; it went on as if "
               f"it listened: {'; '.join(went_on)}; {server.describe()}",
               section)
    closed_once(lab, section)
    return server, event, how, exited


def timing_out(lab, proc, limit_ms):
    """The poll that began proc's last run of polls that all timed out
    (returned 0), its timeout below limit_ms, else None: a loop that wakes
    because its timeout is short, not because it asks for an event that
    holds.  (The trace folds a run of like polls into a count, an event
    without arguments: the run's first poll has them.)"""
    polls = [e for e in lab.events("poll", proc=proc, event=None)
             if e["event"] in ("return", "repeat")]
    shown = [e for e in polls if e["event"] == "return"]
    first = shown[-1] if shown else None
    if first and first["ret"] == 0 and \
            0 <= first["args"].get("timeout", -1) < limit_ms and \
            all(e["ret"] == 0 for e in polls[polls.index(first):]):
        return first
    return None


def closed_once(lab, section="Your task"):
    """Fails the check, naming the mistake, if a close made by the
    programs that the check ran failed with EBADF: a descriptor closed
    twice, or one that was never open (-1, say).  No program of the lab
    closes a descriptor that is not open: EBADF from close is always a
    mistake, even when the program says so and goes on (a LAB_FAULTS rule
    that makes close fail is not one).  Call it once the programs have
    made the calls the check looks at: a server still running (and what it
    forked) is let finish with its last client first (labrun.settle)."""
    for proc in lab.procs:
        if not proc.has_exited():
            labrun.settle(lab, proc)
    lab.collector.sync()
    bad = lab.made("close", where=lambda e: e.get("errno") == "EBADF" and
                   not e.get("injected"))
    if not bad:
        return
    e, fd = bad[0], bad[0]["args"].get("fd")
    before = [c for c in lab.made("close", ret=0)
              if c["pid"] == e["pid"] and c["args"].get("fd") == fd and
              c["ts"] < e["ts"]]
    who = e["role"].split("/")[0]
    if before:
        what = (f"the {who} to close each descriptor exactly once; fd "
                f"{fd} was closed twice: close({fd}) at {where(before[-1])}, "
                f"then again at {where(e)}, where it failed with EBADF")
    else:
        what = (f"the {who} to close only a descriptor that is open; it "
                f"closed a descriptor that is not open: close({fd}) at "
                f"{where(e)} failed with EBADF"
                + (" (-1 is what a failed socket or accept returns, not a "
                   "descriptor)" if fd == -1 else ""))
    lab.expect(False,
               f"{what}. Once closed, the number is free: the next socket "
               "or accept may get it, and a second close would then close "
               "that other file. Close each fd once, on the one path that "
               "ends its use, and only a fd that is open", section)


def one_after_another(lab, *scenarios):
    """Runs each scenario (failed_socket, listen_failure_reported...: a
    function and its arguments) in turn, each with the lab directory as a
    fresh run finds it: the programs of the one before stopped, and no
    socket file left (a server of an earlier lesson leaves its own behind,
    and the next bind would meet it)."""
    for scenario, *args in scenarios:
        scenario(lab, *args)
        closed_once(lab)
        for proc in lab.procs:
            if not proc.has_exited():
                lab.stop(proc)
        (lab.dir / "lab.sock").unlink(missing_ok=True)


def listen_failure_reported(lab, section="Your task", taught=""):
    """failed_listen, and the exit status and message it asks for."""
    server, _, how, exited = failed_listen(lab, section, taught)
    lab.expect(exited and server.returncode > 0,
               f"the server to exit with a non-zero status when listen "
               f"fails{taught} ({how}): a script takes status 0 for "
               f"success; {server.describe()}", section)
    lab.expect(server.stderr.strip(),
               "a message on standard error that says why listen failed"
               f"{taught} (perror(\"server: listen\") prints `server: "
               f"listen: Address already in use`), before the exit; {how}, "
               f"and the server said nothing there; {server.describe()}",
               section)
    without_the_reason(lab, server, "listen", "EADDRINUSE", how, section,
                       taught)


def accept_failure_reported(lab, sections=("Your task", "Your task"),
                            taught=""):
    """failed_accept, and the exit status and message it asks for."""
    server, _, how, exited = failed_accept(lab, sections=sections)
    lab.expect(pauses_after_emfile(lab) or exited and server.returncode > 0,
               f"the server to exit with a non-zero status when accept "
               f"fails{taught} ({how}): return EXIT_FAILURE; "
               f"{server.describe()}", sections[1])
    lab.expect(server.stderr.strip(),
               "a message on standard error that says why accept failed"
               f"{taught} (perror(\"server: accept\") prints `server: "
               f"accept: Too many open files`); {how}, and the server said "
               f"nothing there; {server.describe()}", sections[1])
    without_the_reason(lab, server, "accept", "EMFILE", how, sections[1],
                       taught)


def interrupted_and_not_made_again(lab, proc):
    """The first call of proc failed with EINTR that it did not make
    again (conftest.not_made_again), once what it did next is known."""
    lab.collector.sync()
    found = not_made_again(lab, proc)
    if found and found[1] is None:
        stopped_by_itself(lab, proc, after=found[0])
        lab.collector.sync()
        found = not_made_again(lab, proc)
    return found


def eintr_expected(lab, proc, found, rules, *args):
    event, after = found
    again = as_run(lab, proc.name, rules, *args)
    return (f"the {proc.name} to make a call again when it fails with "
            f"EINTR: {tracetext.call_text(event)}, failed by LAB_FAULTS as "
            f"when a signal comes while the call waits (`{again}` does it "
            "again); EINTR says only that a signal came: the call did "
            "nothing, and the same call can simply be made again, as often "
            f"as it comes; {what_came_instead(proc, after)}")


def client_of(lab, *args, stdin=b"", env=None):
    """The lab's client, started against a Python server: (the client,
    the connection it made)."""
    listener = lab.listen()
    client = lab.start("client", *args, stdin=stdin, env=env)
    conn = lab.accept(listener)
    lab.expect(conn is not None,
               "the client to connect to lab.sock, where a server listens",
               "Your task")
    return client, conn


def client_ends(client, conn, timeout=labrun.WAIT):
    """Waits for the client to end, and ends the exchange as the lab's
    server does: when the client shuts down its writing side (the server
    reads end of file), the server closes the connection.  A client that
    reads until end of file (lesson 09's) ends then, at once."""
    deadline = time.monotonic() + timeout
    while not client.has_exited() and time.monotonic() < deadline:
        try:
            ready, _, _ = select.select([conn], [], [], 0.01)
            if ready and conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                break  # it sends more: no end of file to answer
        except BlockingIOError:
            continue
        except (OSError, ValueError):
            break  # it has reset the connection, or conn is closed already
        if ready:
            conn.close()  # end of file read: the server closes its end
            break
    return client.wait(max(deadline - time.monotonic(), 0))


# -- short writes and EINTR (lesson 05, and what lesson 06 keeps of it) ------

REPLY = b"HELLO, SOCKET\n"  # the lab client's reply to "hello, socket"

SHORT = "write<=5,send<=5"  # every write sends at most 5 bytes
# The first two reads and the first two writes fail with EINTR, as when a
# signal comes while they wait, and another while they wait again.
INTERRUPTED = interrupted("read", "recv", "write", "send")


def unfinished(writes, sent, wanted):
    """Why the bytes sent are not the bytes wanted, after short writes:
    (the first short write, what went wrong after it, in words)."""
    short = next((e for e in writes if e.get("injected") and
                  0 < e["ret"] < e["args"]["count"]), None)
    if short is None:
        return None, ""
    n = short["ret"]
    if wanted.startswith(sent):
        return short, "and the rest was never written"
    if sent[n:n + n] == wanted[:n] and wanted[n:n + n] != wanted[:n]:
        return short, ("and the next write began at the start of the "
                       "buffer again, not n bytes further: buf did not "
                       "move on")
    return short, ""


def server_finishes_short_writes(lab, section):
    """Fails the check, naming the mistake, unless the server finishes
    each write that LAB_FAULTS makes short."""
    server = lab.serving(env=faults(SHORT))
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    sent_to(peer, b"hello, socket", end=True)
    reply, _ = receive(peer)
    lab.collector.sync()
    short, after = unfinished(lab.events(WRITES, proc=server), reply,
                              REPLY[:-1])
    lab.expect(reply == REPLY[:-1],
               "the server to finish each short write: write(2) may send "
               "fewer bytes than asked, and here every write sends at most 5 "
               f"(`{as_run(lab, 'server', SHORT)}`, trace/TRACE.md, \"Fault "
               "injection\"); "
               + (f"{tracetext.call_text(short)} sent {short['ret']} of "
                  f"{short['args']['count']} bytes, {after}; " if short
                  else "") +
               "write again from buf + the bytes sent, until all n are sent "
               "(write_all); the client got "
               f"{tracetext.difference(reply, REPLY[:-1])}", section)


def client_finishes_short_writes(lab, section):
    """Fails the check, naming the mistake, unless the client finishes
    each write that LAB_FAULTS makes short."""
    message = b"hello, socket"
    client, conn = client_of(lab, "lab.sock", message.decode(),
                             env=faults(SHORT))
    # Once it waits for the reply, everything it wrote has arrived.
    lab.wait_for(READS, proc=client, event="wait")
    conn.settimeout(0)
    got = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    lab.collector.sync()
    short, after = unfinished(lab.events(WRITES, proc=client), got, message)
    lab.expect(got == message,
               "the client to finish each short write: write(2) may send "
               "fewer bytes than asked, and here every write sends at most 5 "
               f"(`{as_run(lab, 'client', SHORT, 'lab.sock', 'hello')}`, "
               "trace/TRACE.md, \"Fault injection\"); "
               + (f"{tracetext.call_text(short)} sent {short['ret']} of "
                  f"{short['args']['count']} bytes, {after}; " if short
                  else "") +
               "write again from buf + the bytes sent, until all len are "
               "sent (write_all); the server received "
               f"{tracetext.difference(got, message)}", section)


def server_makes_interrupted_calls_again(lab, section):
    """Fails the check, naming the mistake, unless the server makes its
    first reads and writes again when LAB_FAULTS fails them with EINTR."""
    server = lab.serving(env=faults(INTERRUPTED))
    peer, error = lab.connect()
    lab.expect(peer is not None, f"a client to connect; it failed: {error}",
               "Your task")
    sent_to(peer, b"hello, socket", end=True)
    reply, _ = receive(peer)
    found = interrupted_and_not_made_again(lab, server)
    lab.expect(found is None,
               eintr_expected(lab, server, found, INTERRUPTED) if found
               else "", section)
    again = as_run(lab, "server", INTERRUPTED)
    lab.expect(reply == REPLY[:-1],
               "the server to answer a client whose first reads and writes "
               f"it made again after EINTR (`{again}`); the client got "
               f"{tracetext.difference(reply, REPLY[:-1])}", "Your task")
    labrun.settle(lab, server)
    interruption_not_reported(lab, server, again, section)


def client_makes_interrupted_calls_again(lab, section):
    """Fails the check, naming the mistake, unless the client makes its
    first writes and reads again when LAB_FAULTS fails them with EINTR."""
    message = "hello, socket"
    client, conn = client_of(lab, "lab.sock", message,
                             env=faults(INTERRUPTED))
    lab.wait_for(READS, proc=client, event="wait")
    found = interrupted_and_not_made_again(lab, client)
    if found is None:
        sent_to(conn, message.upper().encode())
        client.wait()
        found = interrupted_and_not_made_again(lab, client)
    lab.expect(found is None,
               eintr_expected(lab, client, found, INTERRUPTED, "lab.sock",
                              "hello") if found else "", section)
    again = as_run(lab, "client", INTERRUPTED, "lab.sock", "hello")
    lab.expect(client.returncode == 0 and client.stdout_bytes == REPLY,
               "the client to print the reply after making its first writes "
               f"and reads again after EINTR (`{again}`); it printed "
               f"{tracetext.difference(client.stdout_bytes, REPLY)}; "
               f"{client.describe()}", "Your task")
    interruption_not_reported(lab, client, again, section)


def interruption_not_reported(lab, proc, again, section):
    """Fails the check if proc reported a call that failed with EINTR, one
    it made again, as an error: strerror(EINTR) on its standard error."""
    said = [line for line in proc.stderr.splitlines()
            if "Interrupted system call" in line]
    lab.expect(not said,
               f"the {proc.name} to make a call that fails with EINTR again "
               "without a word: EINTR is no error, only the news that a "
               f"signal came (`{again}` makes the first calls fail so). It "
               f"said {tracetext.cut(said[0].encode() if said else b'', 80)}"
               ": test errno for EINTR before you report anything, and "
               "report only the other errors (perror may itself change "
               "errno)", section)


# -- reading the learner's source ---------------------------------------------
#
# What no run can show (a flag that is not volatile sig_atomic_t, printf in
# a signal handler, a handler installed with signal()) is read from the
# source, for exactly what the lesson's task asks, and the message says so.
# The reading is plain: comments, strings and preprocessor lines blanked,
# functions found by their bodies at file scope; what it cannot resolve (a
# call through a pointer, a flag reached through one) it leaves alone, so
# that it never rejects a correct program written differently.

C_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do",
              "else", "case", "_Alignof", "alignof", "_Generic", "defined",
              "typeof", "__typeof__", "__attribute__", "_Static_assert",
              "static_assert", "__builtin_expect", "__extension__"}

# POSIX's async-signal-safe functions, as signal-safety(7) lists them
# (Linux man-pages 6.03; tests/test_mistakes.py holds the two equal).
SIGNAL_SAFE = set("""
abort accept access aio_error aio_return aio_suspend alarm bind cfgetispeed
cfgetospeed cfsetispeed cfsetospeed chdir chmod chown clock_gettime close
connect creat dup dup2 execl execle execv execve _exit _Exit faccessat
fchdir fchmod fchmodat fchown fchownat fcntl fdatasync fexecve ffs fork
fstat fstatat fsync ftruncate futimens getegid geteuid getgid getgroups
getpeername getpgrp getpid getppid getsockname getsockopt getuid htonl
htons kill link linkat listen longjmp lseek lstat memccpy memchr memcmp
memcpy memmove memset mkdir mkdirat mkfifo mkfifoat mknod mknodat ntohl
ntohs open openat pause pipe poll posix_trace_event pselect pthread_kill
pthread_self pthread_sigmask raise read readlink readlinkat recv recvfrom
recvmsg rename renameat rmdir select sem_post send sendmsg sendto setgid
setpgid setsid setsockopt setuid shutdown sigaction sigaddset sigdelset
sigemptyset sigfillset sigismember siglongjmp signal sigpause sigpending
sigprocmask sigqueue sigset sigsuspend sleep sockatmark socket socketpair
stat stpcpy stpncpy strcat strchr strcmp strcpy strcspn strlen strncat
strncmp strncpy strnlen strpbrk strrchr strspn strstr strtok_r symlink
symlinkat tcdrain tcflow tcflush tcgetattr tcgetpgrp tcsendbreak tcsetattr
tcsetpgrp time timer_getoverrun timer_gettime timer_settime times umask
uname unlink unlinkat utime utimensat utimes wait
waitpid wcpcpy wcpncpy wcscat wcschr wcscmp wcscpy wcscspn wcslen wcsncat
wcsncmp wcsncpy wcsnlen wcspbrk wcsrchr wcsspn wcsstr wcstok wmemchr
wmemcmp wmemcpy wmemmove wmemset write
""".split())


# Macros of the standard headers that a program writes as calls but that
# call nothing: they test or take apart a value (a wait status, a file
# mode, a set of descriptors), so a handler may use them as it may use
# any expression.
VALUE_MACROS = set("""
WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG WCOREDUMP WIFSTOPPED WSTOPSIG
WIFCONTINUED S_ISREG S_ISDIR S_ISCHR S_ISBLK S_ISFIFO S_ISLNK S_ISSOCK
FD_ZERO FD_SET FD_CLR FD_ISSET
""".split())


def unsafe_calls(code, start, end, macros, defined):
    """The calls between start and end, through the program's own
    functions and macros, of functions that signal-safety(7) does not
    list: [(name, where)], as library_calls gives them."""
    return [(n, at) for n, at in library_calls(code, start, end, macros,
                                               defined)
            if n not in SIGNAL_SAFE and n not in VALUE_MACROS and
            not n.startswith(("atomic_", "__atomic_", "__sync_"))]


@functools.lru_cache(maxsize=32)
def c_code(text):
    """The text with its comments, string and character literals and
    preprocessor lines blanked (a space for each character, newlines kept:
    a search finds only code, and line numbers stay right); and the
    function-like macros it defines, {name: their body, as code}.  The
    checks read the same file many times: the answer is kept, and shared
    (not to be changed)."""
    out, i, n, macros, line_start = [], 0, len(text), {}, True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            j = i
            while True:  # to the end of the line, its continuations too
                k = text.find("\n", j)
                k = n if k < 0 else k
                # gcc takes a backslash before blanks and the newline as a
                # continuation too: a file saved with CRLF ends its lines so
                if text[j:k].rstrip(" \t\r").endswith("\\") and k < n:
                    j = k + 1
                    continue
                j = k
                break
            directive = text[i:j]
            m = re.match(r"#\s*define\s+(\w+)\(([^)]*)\)(.*)", directive,
                         re.S)
            if m:
                macros[m.group(1)] = c_code(re.sub(r"\\[ \t\r]*\n", " ",
                                                   m.group(3)))[0]
            out.append("".join(ch if ch == "\n" else " " for ch in directive))
            i = j
            continue
        line_start = c == "\n"
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] not in (c, "\n"):
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * max(0, j - i - 2) + (c if j - i > 1 else ""))
            i = j
            continue
        else:  # code: up to the next newline, comment or literal
            j = i + 1 if c == "\n" else C_PLAIN.match(text, i + 1).end()
            out.append(text[i:j])
            i = j
            continue
        out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
        i = j
    return without_attributes("".join(out)), macros


C_PLAIN = re.compile(r"[^\n/\"']*")
C_ATTRIBUTE = re.compile(r"\b__attribute(?:__)?\s*\(")


def without_attributes(code):
    """code with each __attribute__((...)) blanked: it is neither a call
    (in a handler's body it would count as one) nor a function's name (put
    before a definition, it would take the place of the function's)."""
    for m in reversed(list(C_ATTRIBUTE.finditer(code))):
        depth, end = 0, len(code)
        for i in range(m.end() - 1, len(code)):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            if depth == 0:
                end = i + 1
                break
        code = code[:m.start()] + re.sub(r"[^\n]", " ",
                                         code[m.start():end]) + code[end:]
    return code


C_BRACE = re.compile(r"[{}]")


@functools.lru_cache(maxsize=32)
def brace_depths(code):
    """The depth of braces at each character of code (a closing brace has
    the depth of what it closes into), as a tuple."""
    level, at, last = 0, [], 0
    for m in C_BRACE.finditer(code):
        at.extend([level] * (m.start() - last))
        if m.group() == "}":
            level = max(0, level - 1)
            at.append(level)
        else:
            at.append(level)
            level += 1
        last = m.end()
    at.extend([level] * (len(code) - last))
    return tuple(at)


C_FUNCTION = re.compile(r"\b([A-Za-z_]\w*)\s*\(([^;{}]*?)\)\s*\{")


@functools.lru_cache(maxsize=32)
def c_functions(code):
    """{name: (where its body starts, where it ends)} for each function
    the code defines at file scope (kept and shared: not to be changed)."""
    level, found = brace_depths(code), {}
    for m in C_FUNCTION.finditer(code):
        if level[m.start()] != 0 or m.group(1) in C_KEYWORDS:
            continue
        start = end = m.end() - 1
        depth = 0
        for brace in C_BRACE.finditer(code, start):
            depth += 1 if brace.group() == "{" else -1
            if depth == 0:
                end = brace.start()
                break
        else:
            end = len(code)
        found.setdefault(m.group(1), (start + 1, end))
    return found


def line_at(code, at):
    return code.count("\n", 0, at) + 1


# A cast put before the handler, as (void (*)(int)) or (sighandler_t).
C_CAST = r"(?:\(\s*[^()]*(?:\([^()]*\)[^()]*)*\)\s*)?"
BY_SIGACTION = re.compile(r"\bsa_(?:handler|sigaction)\s*=\s*" + C_CAST +
                          r"\(?\s*&?\s*([A-Za-z_]\w*)")
BY_SIGNAL = re.compile(r"\b(signal|sysv_signal|bsd_signal)\s*\(([^;]*?),"
                       r"\s*" + C_CAST + r"\(?\s*&?\s*([A-Za-z_]\w*)\s*\)?"
                       r"\s*\)")


def c_arguments(code, at):
    """The arguments of the call whose opening parenthesis is at at, each
    with its blanks folded: [text]."""
    depth, args, start = 0, [], at + 1
    for i in range(at, len(code)):
        c = code[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(code[start:i])
                break
        elif c == "," and depth == 1:
            args.append(code[start:i])
            start = i + 1
    return [" ".join(a.split()) for a in args if a.strip()]


def c_parameters(code, name):
    """The parameter names of a function the code defines, in order."""
    m = re.search(rf"\b{name}\s*\(([^;{{}}]*?)\)\s*\{{", code)
    if not m:
        return []
    names = []
    for part in c_arguments(code, m.start(1) - 1):
        # a function pointer's name is in its own parentheses: (*fn)(int)
        inner = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", part)
        words = re.findall(r"[A-Za-z_]\w*", part)
        names.append(inner.group(1) if inner else words[-1] if words else "")
    return names


def handler_name(text):
    """The function an argument names, without & or a cast: fn, &fn,
    (void (*)(int))fn."""
    m = re.fullmatch(r"(?:\(\s*[^()]*(?:\([^()]*\)[^()]*)*\)\s*)?&?\s*"
                     r"([A-Za-z_]\w*)", text)
    return m.group(1) if m else None


def installed_handlers(code):
    """The signal handlers the code installs, functions it defines:
    [(name, "sigaction" or "signal", where, the signal for signal())].
    A handler may be installed through a function of the program's own
    that takes it as a parameter (UNP's Signal(), an install(sig, fn,
    flags)): each call of that function installs the function it passes
    there, for the SIG... constant it passes with it."""
    defined, found = c_functions(code), []
    level = brace_depths(code)

    def through_wrapper(param, at, how):
        wrapper = next((n for n, (s, e) in defined.items() if s <= at < e),
                       None)
        params = c_parameters(code, wrapper) if wrapper else []
        if param not in params:
            return
        k = params.index(param)
        for call in re.finditer(rf"\b{wrapper}\s*\(", code):
            if level[call.start()] == 0:
                continue  # its own definition, or a prototype
            args = c_arguments(code, call.end() - 1)
            name = handler_name(args[k]) if k < len(args) else None
            if name in defined:
                sig = next((a for a in args if re.fullmatch(r"SIG[A-Z0-9]+",
                                                             a)), None)
                found.append((name, how, call.start(), sig))

    def pointed_to(var):
        """The functions of the program that a function pointer variable
        is given: void (*fn)(int) = on_stop; or fn = &on_stop;."""
        return [m.group(1) for m in re.finditer(
            rf"(?<![\w.>]){var}\s*(?:\)\s*\([^()]*\)\s*)?=(?!=)\s*"
            + C_CAST + r"&?\s*([A-Za-z_]\w*)", code)
            if m.group(1) in defined]

    for m in BY_SIGACTION.finditer(code):
        if m.group(1) in defined:
            found.append((m.group(1), "sigaction", m.start(), None))
        else:
            found += [(name, "sigaction", m.start(), None)
                      for name in pointed_to(m.group(1))]
            through_wrapper(m.group(1), m.start(), "sigaction")
    for m in BY_SIGNAL.finditer(code):
        if m.group(3) in defined:
            found.append((m.group(3), m.group(1), m.start(),
                          " ".join(m.group(2).split())))
        else:
            found += [(name, m.group(1), m.start(),
                       " ".join(m.group(2).split()))
                      for name in pointed_to(m.group(3))]
            through_wrapper(m.group(3), m.start(), m.group(1))
    return found


C_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def library_calls(code, start, end, macros, defined, seen=None, depth=0):
    """The functions called between start and end that the program does
    not define itself: [(name, where)], looked for through its own
    functions and function-like macros too (where: the call in the code
    at hand that leads to it)."""
    seen = set() if seen is None else seen
    found = []
    for m in C_CALL.finditer(code, start, end):
        name = m.group(1)
        if name in C_KEYWORDS or depth > 8:
            continue
        if name in macros:
            body = macros[name]
            inner = library_calls(body, 0, len(body), {
                k: v for k, v in macros.items() if k != name}, {}, seen,
                depth + 1)
            found += [(n, m.start()) for n, _ in inner]
        elif name in defined:
            if name not in seen:
                seen.add(name)
                inner = library_calls(code, *defined[name], macros, defined,
                                      seen, depth + 1)
                found += [(n, m.start()) for n, _ in inner]
        else:
            found.append((name, m.start()))
    return found


C_ASSIGNED = re.compile(r"(?<![\w.>$])([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?"
                        r"(?:[-+*/%&|^]|<<|>>)?=(?!=)|"
                        r"(?<![\w.>$])([A-Za-z_]\w*)\s*(?:\+\+|--)|"
                        r"(?:\+\+|--)\s*([A-Za-z_]\w*)")


def assigned(code, start, end):
    """The names given a value between start and end: [(name, where)]."""
    return [(m.group(1) or m.group(2) or m.group(3), m.start())
            for m in C_ASSIGNED.finditer(code, start, end)]


def c_declarators(text):
    """A declaration without its initialisers, cut at its commas: [(what
    comes before the declared name, the name)]."""
    plain, depth, skip = [], 0, False
    for c in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if c == "=" and depth == 0:
            skip = True
        elif c == "," and depth == 0:
            skip = False
        if not skip:
            plain.append(c)
    out = []
    for part in "".join(plain).split(","):
        part = re.sub(r"\[[^\]]*\]", " ", part)
        names = list(re.finditer(r"[A-Za-z_]\w*", part))
        if names:
            out.append((part[:names[-1].start()], names[-1].group(0)))
    return out


def c_declaration(code, name):
    """The file-scope declaration of a variable: (its type's words, with
    typedef names resolved; where the name is declared), or None."""
    level = brace_depths(code)
    kept = "".join(";" if c == "}" and level[i] == 0 else
                   c if level[i] == 0 and c != "{" else " "
                   for i, c in enumerate(code))
    typedefs, found, at = {}, None, 0
    for statement in kept.split(";"):
        here, at = at, at + len(statement) + 1
        if "(" in statement and not re.search(r"\(\s*\*", statement):
            continue  # a function: its prototype, or its header
        parts = c_declarators(statement)
        if not parts:
            continue
        words = re.findall(r"[A-Za-z_]\w*", parts[0][0])
        names = [n for _, n in parts]
        if "typedef" in words:
            for n in names:
                typedefs[n] = [w for w in words if w != "typedef"]
        elif name in names and found is None:
            found = (words, here + re.search(rf"\b{name}\b",
                                             statement).start())
    if found is None:
        return None
    words, where_ = found
    for _ in range(8):
        if not any(w in typedefs for w in words):
            break
        words = [x for w in words for x in typedefs.get(w, [w])]
    return words, where_


# A member given a value: var.m = ..., var->m |= ..., var.a.m++, ++var.m.
C_MEMBER_ASSIGNED = re.compile(
    r"(?<![\w.>$])([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)?"
    r"((?:(?:\.|->)\s*[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)?)+)"
    r"(?:(?:[-+*/%&|^]|<<|>>)?=(?!=)|\+\+|--)|"
    r"(?:\+\+|--)\s*([A-Za-z_]\w*)\s*"
    r"((?:(?:\.|->)\s*[A-Za-z_]\w*\s*(?:\[[^\]]*\]\s*)?)+)")


def members_assigned(code, start, end):
    """The members of variables given a value between start and end:
    [(the variable, the member last named, as written, where)]."""
    found = []
    for m in C_MEMBER_ASSIGNED.finditer(code, start, end):
        var = m.group(1) or m.group(3)
        path = m.group(2) or m.group(4)
        member = re.findall(r"[A-Za-z_]\w*", path)[-1]
        found.append((var, member, var + re.sub(r"\s+", "", path),
                      m.start()))
    return found


def handler_writes(code, start, end, macros, defined, seen=None,
                   depth=0, follow=True):
    """The variables, and members of variables, given a value between start
    and end (a handler's body), also in the program's own functions and
    function-like macros it calls, unless not follow: [(the name as
    written, where, its file-scope declaration as c_declaration or
    c_member_declaration gives it, or None: a local variable, or out of
    sight)].  Where is the assignment itself, or for a macro, the macro's
    use."""
    seen = set() if seen is None else seen
    name = next((n for n, (s, e) in defined.items() if (s, e) == (start, end)),
                None)
    params = set(c_parameters(code, name)) if name else set()

    def own(var, where):
        """Whether var is a parameter or a local variable of the function
        at hand, which hides a file-scope variable of that name."""
        return var in params or local_declaration(code, start, where,
                                                  var) is not None

    def found_in(text, lo, hi, at=None):
        out = [(var, where if at is None else at,
                None if at is None and own(var, where) else
                c_declaration(code, var))
               for var, where in assigned(text, lo, hi)]
        out += [(written, where if at is None else at,
                 None if at is None and own(var, where) else
                 c_member_declaration(code, var, member))
                for var, member, written, where in members_assigned(text, lo,
                                                                    hi)]
        return out

    found = found_in(code, start, end)
    if depth > 8 or not follow:
        return found
    for m in C_CALL.finditer(code, start, end):
        name = m.group(1)
        if name in C_KEYWORDS:
            continue
        if name in macros:
            body = macros[name]
            found += found_in(body, 0, len(body), m.start())
        elif name in defined and name not in seen:
            seen.add(name)
            found += handler_writes(code, *defined[name], macros, defined,
                                    seen, depth + 1)
    return sorted(found, key=lambda f: f[1])


def c_member_declaration(code, var, member):
    """The type of a member of a file-scope struct (or union) variable, or
    of what a file-scope pointer points to: (the words of the variable's
    type and of the member's, with typedef names resolved; where the
    member is declared), or None when the code does not show it.  The
    struct is the one defined in the variable's own declaration, or the
    one whose tag its type names; else each struct that declares a member
    of that name, the first whose type is not signal-safe first."""
    declared = c_declaration(code, var)
    if declared is None:
        return None
    var_words, var_at = declared
    level = brace_depths(code)
    candidates = []
    for m in re.finditer(r"\b(?:struct|union)\s*([A-Za-z_]\w*)?\s*\{", code):
        if level[m.start()] != 0:
            continue
        close = next((i for i in range(m.end(), len(code))
                      if code[i] == "}" and level[i] == 0), len(code))
        at = m.end()
        for statement in code[m.end():close].split(";"):
            here, at = at, at + len(statement) + 1
            for before, name in c_declarators(statement):
                if name == member:
                    words = re.findall(r"[A-Za-z_]\w*", before)
                    where = here + re.search(rf"\b{member}\b",
                                             statement).start()
                    own = close < var_at and ";" not in code[close:var_at]
                    tagged = m.group(1) is not None and \
                        m.group(1) in var_words
                    if own:  # static volatile struct { ... } var;
                        head = re.split(r"[;}]", code[:m.start()])[-1]
                        words = re.findall(r"[A-Za-z_]\w*", head) + words
                    candidates.append((own or tagged, words, where))
    chosen = [c for c in candidates if c[0]] or candidates
    if not chosen:
        return None
    judged = []
    for _, words, where in chosen:
        resolved = resolve_typedefs(code, words)
        judged.append((var_words + resolved, where))
    judged.sort(key=lambda c: signal_safe_type(c[0]))
    return judged[0]


def resolve_typedefs(code, words):
    """words with the file-scope typedef names among them replaced by
    what they stand for."""
    level = brace_depths(code)
    typedefs = {}
    for m in re.finditer(r"\btypedef\b([^;{}]*);", code):
        if level[m.start()] != 0:
            continue
        parts = c_declarators(m.group(1))
        if parts:
            base = re.findall(r"[A-Za-z_]\w*", parts[0][0])
            for _, n in parts:
                typedefs[n] = base
    for _ in range(8):
        if not any(w in typedefs for w in words):
            break
        words = [x for w in words for x in typedefs.get(w, [w])]
    return words


def sigaction_left_unset(code):
    """The struct sigaction variables that a function declares without an
    initialiser and passes to sigaction() as its new action while nothing
    gives their sa_flags a value: neither memset (or bzero) of the whole,
    nor an assignment to the whole or to sa_flags, nor their address
    handed to anything else, which might set them.  A local variable
    starts with whatever its stack held.  [(name, where it is declared,
    where sigaction takes it)]."""
    found = []
    for start, end in c_functions(code).values():
        body = code[start:end]
        for m in re.finditer(r"(\bstatic\s+)?\bstruct\s+sigaction\s+"
                             r"([^;(){}]*);", body):
            if m.group(1):
                continue  # static: zero before main starts
            for part in m.group(2).split(","):
                if "=" in part or "*" in part or "[" in part:
                    continue
                name = part.strip()
                if not re.fullmatch(r"[A-Za-z_]\w*", name):
                    continue
                used = re.search(rf"\bsigaction\s*\([^;,]+,\s*&\s*{name}"
                                 r"\s*,", body)
                if used is None:
                    continue
                given = re.search(
                    rf"\b(?:memset|bzero|explicit_bzero)\s*\(\s*"
                    rf"(?:\([^()]*\)\s*)?&\s*(?:\(\s*{name}\s*\)|{name}\b"
                    r"(?!\s*(?:\.|->)))|"
                    rf"(?<![\w.>]){name}\s*(?:\.\s*sa_flags\s*)?(?:[|&^]"
                    r")?=(?!=)", body)
                # Its address anywhere but as sigaction's new action (a
                # function of the program's own may fill it).
                elsewhere = [a for a in re.finditer(
                    rf"&\s*{name}\b(?!\s*(?:\.|->))", body)
                    if not re.search(r"\bsigaction\s*\([^;,]+,\s*$",
                                     body[:a.start()])]
                if given is None and not elsewhere:
                    found.append((name, start + m.start(), start +
                                  used.start()))
    return found


def signal_safe_type(words):
    """Whether a variable of this type may be set in a signal handler:
    volatile sig_atomic_t (C11 7.14.1.1), or a lock-free atomic."""
    return ("volatile" in words and "sig_atomic_t" in words) or \
        "_Atomic" in words or any(w.startswith("atomic_") for w in words)


# What a handler may call without changing errno: the string, memory and
# character functions, the signal-set functions (which fail only for a
# signal that does not exist), a few calls that cannot fail, and the
# macros of <sys/wait.h>; and what never returns, after which errno does
# not matter.
NEVER_RETURN = {"abort", "_exit", "_Exit", "longjmp", "siglongjmp"}
KEEP_ERRNO = NEVER_RETURN | set("""
ffs htonl htons ntohl ntohs getpid getppid getuid geteuid getgid getegid
pthread_self umask alarm sigemptyset sigfillset sigaddset sigdelset
sigismember isalnum isalpha isblank iscntrl isdigit isgraph islower
isprint ispunct isspace isupper isxdigit tolower toupper WIFEXITED
WEXITSTATUS WIFSIGNALED WTERMSIG WIFSTOPPED WSTOPSIG WIFCONTINUED WCOREDUMP
FD_ISSET FD_SET FD_CLR FD_ZERO
""".split())


def sets_errno(name):
    """Whether a call of a function the program does not define itself
    may change errno (errno(3): any library function may, on success too,
    but those above)."""
    return name not in KEEP_ERRNO and not name.startswith(
        ("mem", "str", "stp", "wcs", "wmem", "wcp", "atomic_", "__atomic_",
         "__sync_"))


ERRNO_SAVED = re.compile(r"([A-Za-z_]\w*(?:\s*(?:\.|->)\s*[A-Za-z_]\w*|"
                         r"\s*\[[^\]]*\])*)\s*=\s*errno\b(?!\s*\()")
ERRNO_RESTORED = re.compile(r"\berrno\s*=(?!=)\s*([^;,)]+)")
C_RETURN = re.compile(r"\breturn\b")


# `if (errno != saved) errno = saved;` (braces or not): after it errno is
# saved whatever it was, as after the plain restore.
RESTORE_IF_CHANGED = re.compile(
    r"\bif\s*\(\s*(?:errno\s*!=\s*(?P<a>\w+)|(?P<b>\w+)\s*!=\s*errno)\s*\)"
    r"\s*(?:\{\s*(?P<braced>errno\s*=\s*(?P<c>\w+)\s*;)\s*\}"
    r"|(?P<bare>errno\s*=\s*(?P<d>\w+)\s*;))")


def unconditional_restores(code):
    """code with each restore made only if errno changed written as the
    plain restore it amounts to: the rest blanked, each character kept in
    its place (and every newline), so that offsets and lines still hold."""
    def plain(m):
        stmt = "braced" if m.group("braced") else "bare"
        if (m.group("a") or m.group("b")) != (m.group("c") or m.group("d")):
            return m.group(0)
        at, end = m.start(stmt) - m.start(), m.end(stmt) - m.start()
        blank = re.sub(r"[^\n]", " ", m.group(0))
        return blank[:at] + m.group(0)[at:end] + blank[end:]
    return RESTORE_IF_CHANGED.sub(plain, code)


def errno_left_changed(code, start, end, macros, defined, seen=()):
    """Whether the code between start and end (a function's body) may
    return with errno changed: None if not, else (the call that changes
    it, where that call is in this body, what is missing: "save",
    "restore", "restore before return" or "restore last", where that
    return is, or for "restore last" where the only restore after the
    calls is, in a loop or under a condition).  A call
    of the program's own function counts when that function may itself
    return with errno changed; the save and the restore are an assignment
    of errno to a variable first (saved = errno) and of that variable to
    errno last (errno = saved), after the last call and before each
    return that follows a call, as a statement that always runs then (not
    in a loop, nor under a condition; a restore made only if errno
    changed counts as the plain one)."""
    code = unconditional_restores(code)
    calls = []
    for m in C_CALL.finditer(code, start, end):
        name = m.group(1)
        if name in C_KEYWORDS:
            continue
        if name in macros:
            inner = [n for n, _ in library_calls(
                macros[name], 0, len(macros[name]), {
                    k: v for k, v in macros.items() if k != name}, {})
                if sets_errno(n)]
            if inner:
                calls.append((inner[0], m.start()))
        elif name in defined:
            if name not in seen:
                inner = errno_left_changed(code, *defined[name], macros,
                                           defined, (*seen, name))
                if inner:
                    calls.append((inner[0], m.start()))
        elif sets_errno(name):
            calls.append((name, m.start()))
    if not calls:
        return None
    first, last = calls[0][1], calls[-1][1]
    returns = [m.start() for m in C_RETURN.finditer(code, first, end)]
    level = brace_depths(code)
    ends = [m.start() for m in C_CALL.finditer(code, last, end)
            if m.group(1) in NEVER_RETURN and level[m.start()] ==
            level[start]]
    if ends and not returns:
        return None  # it never returns once it has called them
    saved = {}
    for m in ERRNO_SAVED.finditer(code, start, first):
        saved.setdefault(re.sub(r"\s+", "", m.group(1)), m.start())
    if not saved:
        return calls[0][0], first, "save", None
    restores = [m.start() for m in ERRNO_RESTORED.finditer(code, start, end)
                if re.sub(r"\s+", "", m.group(1)) in saved]
    # A function of the program's own that puts back the errno it is given
    # (restore_errno(saved)) restores it as the assignment does.
    restorers = errno_restorers(code, defined)
    for m in C_CALL.finditer(code, start, end):
        k = restorers.get(m.group(1))
        args = c_arguments(code, m.end() - 1) if k is not None else []
        if k is not None and k < len(args) and \
                re.sub(r"\s+", "", args[k]) in saved:
            restores.append(m.start())
    restores.sort()
    for r in returns:
        before = max(at for _, at in calls if at < r)
        if not [x for x in restores if before < x < r and
                always_before(code, level, x, r)]:
            call = [n for n, at in calls if at == before][0]
            return call, before, "restore before return", r
    # Past its returns, the handler ends at its closing brace: each call
    # that may go on to it is put back after, by a restore that runs
    # whenever that call did (in a block that encloses the call); a call
    # in a loop with no way out but its returns never goes on to it.
    for _, at in calls:
        if endless_loop_around(code, level, at, start, end):
            continue
        if not [x for x in restores if x > at and
                own_statement(code, x) and
                min(level[at:x], default=level[x]) >= level[x]]:
            late = [x for x in restores if x > first]
            if late:  # put back in a loop or under a condition only
                return calls[-1][0], last, "restore last", late[-1]
            return calls[-1][0], last, "restore", None
    return None



def errno_restorers(code, defined):
    """{name: k} for each function of the program that sets errno to its
    k-th parameter (errno = saved;) in a statement of its own at the top
    of its body, and calls nothing after it."""
    found = {}
    level = brace_depths(code)
    for name, (start, end) in defined.items():
        params = c_parameters(code, name)
        for m in ERRNO_RESTORED.finditer(code, start, end):
            value = m.group(1).strip()
            if value in params and level[m.start()] == level[start] and \
                    own_statement(code, m.start()) and \
                    not C_CALL.search(code, m.end(), end):
                found[name] = params.index(value)
    return found


ENDLESS_LOOP = re.compile(r"\b(?:for\s*\(\s*;\s*;\s*\)|while\s*\(\s*"
                          r"(?:1|true)\s*\))\s*\{")


def endless_loop_around(code, level, at, start, end):
    """Whether the code at at is inside a for (;;) or while (1) loop of the
    function (start, end) that has no break: it leaves only by a return,
    or a call that never returns."""
    for m in ENDLESS_LOOP.finditer(code, start, end):
        body = m.end() - 1
        close = next((i for i in range(body + 1, end)
                      if code[i] == "}" and level[i] == level[body]), end)
        if body < at < close and \
                not re.search(r"\bbreak\b", code[body:close]):
            return True
    return False


def own_statement(code, at):
    """Whether the code at at starts a statement of its own: not the body
    of an if, else, while or for without braces."""
    head = code[:at].rstrip()
    label = re.search(r"(?:^|[;{}])\s*([A-Za-z_]\w*)\s*:$", head)
    return not head or head[-1] in ";{}" or (
        label is not None and label.group(1) not in ("default", "case"))


def always_before(code, level, at, point):
    """Whether the statement at at runs whenever the code reaches point:
    a statement of its own, in a block that encloses point (so not in a
    loop or an if that point is outside of)."""
    return own_statement(code, at) and \
        min(level[at:point], default=level[at]) >= level[at]


# How a handler's call sets errno, in a correct program's run.
ERRNO_SET_BY = {
    "waitpid": " (the reaping loop's last waitpid fails with ECHILD once "
               "no child is left)",
    "write": " (it fails with EAGAIN when the pipe is full)",
}


def handled_signals(code, at):
    """The signals that the handler set at at (sa_handler = name) is
    installed for: the first argument of each sigaction call after it,
    until the next handler is set."""
    following = BY_SIGACTION.search(code, at + 1)
    stop = following.start() if following else len(code)
    return [" ".join(m.group(1).split()) for m in re.finditer(
        r"\bsigaction\s*\(\s*([^,()]+),", code[:stop]) if m.start() > at]


# The calls whose address length is a value-result argument, and where it
# is among their arguments.
LENGTH_ARGUMENT = {"accept": 2, "accept4": 2, "recvfrom": 5,
                   "getsockname": 2, "getpeername": 2}
LENGTH_CALL = re.compile(r"\b(" + "|".join(LENGTH_ARGUMENT) + r")\s*\(")


def address_lengths_unset(code):
    """The address lengths that a call reads with no value: [(the call, the
    variable, where it is declared, where the call is)] for each call such
    as accept(fd, addr, &len) or recvfrom(..., addr, &len) whose len is
    declared in the calling function (not static) and given no value
    before the call in its text: neither assigned (an initialiser counts)
    nor passed by address to another call."""
    found = []
    for start, end in c_functions(code).values():
        for m in LENGTH_CALL.finditer(code, start, end):
            args = c_arguments(code, m.end() - 1)
            k = LENGTH_ARGUMENT[m.group(1)]
            length = re.fullmatch(r"&\s*\(?\s*([A-Za-z_]\w*)\s*\)?",
                                  args[k]) if len(args) > k else None
            if not length:
                continue
            name = length.group(1)
            declared = local_declaration(code, start, m.start(), name)
            if declared is None:  # a parameter, a global: not ours to say
                continue
            if not any(n == name for n, _ in assigned(code, declared,
                                                      m.start())) and \
                    not re.search(rf"&\s*\(?\s*{name}\b",
                                  code[declared:m.start()]):
                found.append((m.group(1), name, declared, m.start()))
    return found


# Words that begin a statement that declares nothing.
NOT_TYPES = {"return", "goto", "case", "default", "else", "do", "break",
             "continue", "sizeof", "static"}


def local_declaration(code, start, end, name):
    """Where the code between start and end (a function's body) declares
    the automatic variable name, or None: a statement of a type, then
    declarators, one of them name (one with a call in it is not looked
    at)."""
    at = start
    for m in re.finditer(r"[;{}]", code[start:end] + ";"):
        statement, here = code[at:start + m.start()], at
        at = start + m.end()
        words = re.findall(r"[A-Za-z_]\w*", statement)
        if "(" in statement or len(words) < 2 or words[0] == name or \
                NOT_TYPES & set(words):
            continue
        if any(n == name for _, n in c_declarators(statement)):
            return here + re.search(rf"\b{name}\b", statement).start()
    return None


def address_lengths_set(lab, section, programs=("server",)):
    """Fails the check, naming the variable, if one of programs passes
    accept (recvfrom...) the address of a length it never gave a value: the
    call reads it as the size of the address buffer (a value-result
    argument, accept(2), recvfrom(2)), and a local variable holds whatever
    its stack held.  No run shows it for sure (the stray value may be large
    enough, or negative: EINVAL); the source shows it."""
    for program in programs:
        source, text = lab.source(program)
        code, _ = c_code(text)
        for call, name, declared, at in address_lengths_unset(code):
            lost = "and close the connection it took (that client is " \
                "lost), " if call.startswith("accept") else ""
            lab.expect(False,
                       f"the address length {name} set before {call} reads "
                       f"it (this comes from reading {source}): line "
                       f"{line_at(code, at)}, "
                       f"`{source_line(text, line_at(code, at))}`, passes "
                       f"&{name}, which line {line_at(code, declared)} "
                       "declares without a value and nothing sets before. "
                       f"{call}'s address length is a value-result argument "
                       f"({call.rstrip('4')}(2)): it reads it as the size of "
                       "the address buffer, then writes the size of the "
                       "address there; a local variable holds whatever its "
                       f"stack held: {call} may fail with EINVAL, {lost}or "
                       f"cut the address short. Set {name} = sizeof of the "
                       f"address before each {call}"
                       + (", or pass NULL, NULL when the client's address "
                          "is not needed" if call.startswith("accept")
                          else ""), section)


def sigaction_zeroed(lab, program, section, asked=""):
    """Fails the check if program passes sigaction a struct sigaction of
    its stack that nothing has filled (sigaction_left_unset).  No run
    shows it for sure: the stray bits are whatever the stack held, and
    change with the compiler and its options (SA_RESTART among them makes
    a stop signal restart accept, SA_RESETHAND lets a second one kill the
    server).  The source shows it."""
    source, text = lab.source(program)
    code, _ = c_code(text)
    for name, declared, used in sigaction_left_unset(code):
        lab.expect(False,
                   f"the struct sigaction {name} filled with zeros before "
                   f"sigaction uses it (this comes from reading {source}): "
                   f"line {line_at(code, declared)}, "
                   f"`{source_line(text, line_at(code, declared))}`, "
                   "declares it without an initialiser, and nothing sets "
                   f"its sa_flags before line {line_at(code, used)} passes "
                   f"it to sigaction. A local variable holds whatever its "
                   "stack held: sa_flags gets stray bits, maybe SA_RESTART "
                   "or SA_RESETHAND (the trace's sigaction line shows the "
                   f"flags it got), and they change with the compiler. Call "
                   f"memset(&{name}, 0, sizeof {name}) first"
                   f"{', ' + asked if asked else ''}, or set sa_flags (and "
                   "sa_mask) yourself", section)


# The <ctype.h> functions: each takes an int that must be an unsigned
# char's value or EOF (toupper(3), isalpha(3)).
CTYPE_CALL = re.compile(r"\b(to(?:upper|lower)|is(?:alnum|alpha|blank|cntrl|"
                        r"digit|graph|lower|print|punct|space|upper|xdigit))"
                        r"\s*\(")
# What names the byte a ctype argument reads: a variable, an element of an
# array or pointer (buf[i], *p, *p++, *(buf + i)).
CTYPE_ARGUMENT = re.compile(r"([A-Za-z_]\w*)(?:\s*\[.*\])?|"
                            r"\*\s*([A-Za-z_]\w*)(?:\s*(?:\+\+|--))?|"
                            r"\*\s*\(\s*([A-Za-z_]\w*)\s*[-+].*\)")


def declared_type(code, at, name):
    """The words of the type the code declares name with, as seen from at:
    a local variable or a parameter of the function around at, else a
    variable at file scope; None when no declaration is found."""
    for start, end in c_functions(code).values():
        if not start <= at < end:
            continue
        where_ = local_declaration(code, start, at, name)
        if where_ is not None:
            head = max(code.rfind(c, start - 1, where_) for c in ";{}")
            return re.findall(r"[A-Za-z_]\w*", code[head + 1:where_])
        in_for = list(re.finditer(rf"\bfor\s*\(([^;()]*?)\b{name}\b",
                                  code[start:at]))
        words = re.findall(r"[A-Za-z_]\w*", in_for[-1].group(1)) \
            if in_for else []
        if words:  # for (char *p = buf; ...)
            return words
        header = code[code.rfind("(", 0, code.rfind(")", 0, start)) + 1:
                      code.rfind(")", 0, start)]
        for part in header.split(","):
            words = re.findall(r"[A-Za-z_]\w*", part)
            if words and words[-1] == name:
                return words[:-1]
    found = c_declaration(code, name)
    return found[0] if found else None


def plain_chars_to_ctype(code):
    """The calls of a <ctype.h> function given a plain char (a char
    variable, or an element of a char array or pointer, not cast to
    unsigned char): [(the function, its argument, where)].  A char is
    signed on x86 and most Linux machines: a byte of 0x80 or more is then
    a negative int, neither an unsigned char nor EOF.  Only what the code
    declares as char counts: an argument of another form is taken as
    right."""
    found = []
    for m in CTYPE_CALL.finditer(code):
        args = c_arguments(code, m.end() - 1)
        if len(args) != 1:
            continue
        arg = args[0]
        while re.fullmatch(r"\((.*)\)", arg) and \
                c_arguments(arg, 0) == [arg[1:-1].strip()]:
            arg = arg[1:-1].strip()
        named = CTYPE_ARGUMENT.fullmatch(arg)
        if not named:
            continue  # a cast, a call, arithmetic: not looked at
        name = next(g for g in named.groups() if g)
        words = declared_type(code, m.start(), name)
        if words and "char" in words and "unsigned" not in words:
            found.append((m.group(1), arg, m.start()))
    return found


def ctype_given_unsigned_chars(lab, program, section):
    """Fails the check, naming the call, if program gives toupper (or
    another <ctype.h> function) a plain char (plain_chars_to_ctype).  No
    run shows it: glibc and musl answer such a call as if the byte had
    been cast, but the C standard and toupper(3) leave it undefined; the
    source shows it."""
    source, text = lab.source(program)
    code, _ = c_code(text)
    for call, arg, at in plain_chars_to_ctype(code)[:1]:
        line = line_at(code, at)
        lab.expect(False,
                   f"the {program} to give {call} an unsigned char: "
                   f"{call}((unsigned char){arg}) (this comes from reading "
                   f"{source}): line {line}, `{source_line(text, line)}`, "
                   f"gives it {arg}, a char, which is signed on x86 "
                   "Linux: a byte of 0x80 or more (the message may hold "
                   "any byte) becomes a negative int, and "
                   f"{call}(3) says" + ("" if call.startswith("to") else
                                         " as toupper(3) does") +
                   ": \"If c is neither an unsigned char "
                   "value nor EOF, the behavior of these functions is "
                   "undefined\". Cast each byte to unsigned char before "
                   f"you pass it, as in {call}((unsigned char)buf[i])",
                   section)


def handlers_call_only_safe_functions(lab, program, section, instead):
    """Fails the check, naming the call, if a signal handler that program
    installs calls (itself, or through the program's own functions) a
    function that signal-safety(7) does not list.  No run shows it: stdio's
    own writes are not traced, and printf in a handler works until the
    signal lands inside main's printf.  instead: what the handler should
    do, in words."""
    source, text = lab.source(program)
    code, macros = c_code(text)
    defined = c_functions(code)
    for name, how, at, sig in installed_handlers(code):
        start, end = defined[name]
        unsafe = unsafe_calls(code, start, end, macros, defined)
        if not unsafe:
            continue
        call, where = unsafe[0]
        line = line_at(code, where)
        lab.expect(False,
                   f"{handler_named(code, name, how, at, sig)} to call only "
                   "async-signal-safe functions (this comes from reading "
                   f"{source}): line {line}, `{source_line(text, line)}`, "
                   f"calls {call}, which signal-safety(7) does not list. "
                   "The handler runs between any two instructions of the "
                   f"program, maybe inside main's own {call}, whose state "
                   "(stdout's buffer and its lock, for stdio; the heap, for "
                   f"malloc; the exit handlers, for exit) it would then "
                   f"corrupt. {instead}", section)


def handler_named(code, name, how, at, sig):
    """A handler in words: "the SIGCHLD handler on_child_exit"."""
    signals = [sig] if sig else handled_signals(code, at)
    signals = list(dict.fromkeys(s for s in signals if s))
    return f"the {' and '.join(signals)} handler {name}" if signals else \
        f"the signal handler {name}"


def errno_in_handlers(lab, section):
    """Fails the check, naming the mistake, if a signal handler of the
    server may return with errno changed (this comes from reading the
    source: no run can land the handler between a failed call and the
    look at its errno on purpose)."""
    source, text = lab.source("server")
    code, macros = c_code(text)
    defined = c_functions(code)
    for name, how, at, sig in installed_handlers(code):
        start, end = defined[name]
        found = errno_left_changed(code, start, end, macros, defined,
                                   (name,))
        if found is None:
            continue
        call, call_at, missing, return_at = found
        handler = handler_named(code, name, how, at, sig)
        line = line_at(code, call_at)
        what = {
            "save": "nothing saves errno before it",
            "restore": "errno is saved, but not put back after it",
            "restore before return":
                f"the return at line {line_at(code, return_at or 0)}, "
                f"`{source_line(text, line_at(code, return_at or 0))}`, "
                "leaves before errno is put back",
            "restore last":
                f"errno is put back at line {line_at(code, return_at or 0)}"
                f", `{source_line(text, line_at(code, return_at or 0))}`, "
                "only inside a loop or under a condition: the handler can "
                f"return with errno as the last {call} left it. Put errno "
                "back as the handler's last statement, outside any loop or "
                "if"}[missing]
        how_set = ERRNO_SET_BY.get(call, "")
        lab.expect(False,
                   f"{handler} to leave errno as it found it; it "
                   + ("can return with errno changed" if missing ==
                      "restore last" else "does not save and restore errno")
                   + f" (this comes from reading "
                   f"{source}): line {line}, `{source_line(text, line)}`, "
                   f"calls {call}, which sets errno{how_set}, and {what}. "
                   "The handler runs between any two instructions of the "
                   "program, also between a call that failed and the line "
                   "that reads its errno: that line then finds what "
                   f"{call} left there instead of its own call's error. "
                   "signal-safety(7) allows errno in a handler only if it "
                   "\"saves errno on entry and restores its value before "
                   "returning\": int saved_errno = errno; first, errno = "
                   "saved_errno; last (and before any return)", section)


def source_line(text, number):
    lines = text.splitlines()
    return " ".join(lines[number - 1].split()) if 0 < number <= len(lines) \
        else ""


# -- sanitizer reports --------------------------------------------------------

def finding_of(lab, proc, name=None):
    """What a sanitized program proc (its source: name, or proc's own)
    reported first (sanitizer_finding), with " at FILE:LINE: `the line`"
    for where it happened in the learner's source ("" when no frame is
    there): (None, "") when it reported nothing."""
    source, text = lab.source(name or proc.name)
    found = sanitizer_finding(proc.stderr_bytes,
                              [source.rsplit("/", 1)[-1]])
    if not found:
        return None, ""
    place = found["place"]
    return found, (f" at {source}:{place[1]}: "
                   f"`{source_line(text, place[1])}`" if place else "")


def sanitizer_finding(stderr, sources):
    """The first error that a sanitized program reported on stderr, or
    None: {"what": the access, in words ("a write of 1 byte just past the
    end of buf, a buffer of 4096 bytes"), "said": what the sanitizers said
    in their own words, "place": (file, line) of the first frame in one of
    sources (the names of the learner's files), "size" and "past": the
    buffer's size and how far past its end the access began, when known}."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) \
        else stderr
    ubsan = re.search(r"^(\S+?):(\d+):\d+: runtime error: (.*)$", text, re.M)
    asan = re.search(r"ERROR: AddressSanitizer: ([\w-]+)", text)
    if not ubsan and not asan:
        return None
    found = {"what": "", "said": [], "place": None, "size": None,
             "past": None, "count": None, "by": None}
    if asan:
        found["said"].append(f"AddressSanitizer: {asan.group(1)}")
        access = re.search(r"^(READ|WRITE) of size (\d+)", text, re.M)
        found["count"] = int(access.group(2)) if access else None
        found["what"] = (f"a {access.group(1).lower()} of {access.group(2)} "
                         f"byte{'' if access.group(2) == '1' else 's'}"
                         if access else "an access to memory")
        # Made by a library function on the program's behalf (read(2)
        # filling more than the buffer holds, say): its name.
        by = re.search(r"^\s+#0 0x[0-9a-f]+ in __interceptor_(\w+)", text,
                       re.M)
        found["by"] = by.group(1) if by else None
        for m in re.finditer(r"^\s+#\d+ 0x[0-9a-f]+ in \S+ (\S+?):(\d+)",
                             text, re.M):
            if any(m.group(1).endswith(s) for s in sources):
                found["place"] = (m.group(1), int(m.group(2)))
                break
        var = re.search(r"\[(\d+), (\d+)\) '(\w+)'[^\n]*<== Memory access "
                        r"at offset (\d+) overflows", text)
        region = re.search(r"located (\d+) bytes (?:after|to the right of) "
                           r"(?:global variable '(\w+)'[^\n]*of size (\d+)|"
                           r"(\d+)-byte region)", text)
        name = None
        if var:
            found["size"] = int(var.group(2)) - int(var.group(1))
            found["past"] = int(var.group(4)) - int(var.group(2))
            name = var.group(3)
        elif region:
            found["size"] = int(region.group(3) or region.group(4))
            found["past"] = int(region.group(1))
            name = region.group(2)
        if found["size"] is not None:
            found["what"] += (
                f" {found['past']} bytes past the end of " if found["past"]
                else " that runs past the end of " if (found["count"] or 1)
                > 1 else " just past the end of ")
            found["what"] += f"{name}, a buffer of {found['size']} bytes" \
                if name else f"a buffer of {found['size']} bytes"
    if ubsan:
        found["said"].append(f"UBSan: {ubsan.group(3)}")
        index = re.match(r"index (\d+) out of bounds for type '.*\[(\d+)\]'",
                         ubsan.group(3))
        if index and found["size"] is None:
            found["size"] = int(index.group(2))
            found["past"] = int(index.group(1)) - int(index.group(2))
        found["what"] = found["what"] or ubsan.group(3)
        found["place"] = found["place"] or (ubsan.group(1),
                                            int(ubsan.group(2)))
    return found


# Each of the 256 byte values stands for one of these: random text, made
# from os.urandom at C speed (random.choices takes 20 ms for 64 KiB).
TEXT = b"abcdefghijklmnopqrstuvwxyz \n"
TEXT_OF_BYTE = bytes(TEXT[i % len(TEXT)] for i in range(256))


def random_text(count):
    """count random bytes of lowercase letters, spaces and newlines."""
    return os.urandom(count).translate(TEXT_OF_BYTE)


def sanitized_exchange(lab, section, *server_args):
    """Runs the server and the client built with -fsanitize=address,
    undefined (labrun.sanitized) through one exchange in which the server's
    reads fill its buffer: the client's 64 KiB all wait in the connection
    before the server reads any, because the server is busy with a first
    client until then.  Fails the check, naming the mistake, if either
    program read or wrote outside a buffer."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=2) as pool:  # both compiled at once
        programs = dict(zip(("server", "client"), pool.map(
            lab.sanitized, ("server", "client"))))
    # A sanitized program starts slowly (its shadow memory is mapped and
    # its libraries loaded), the more so on a busy machine: its first
    # events are given longer to come.
    slow = labrun.WAIT * 5
    server = lab.server(*server_args, **programs["server"])
    lab.require("listen", "the server to listen (lesson 03)",
                "What this stage does", proc=server, ret=0, timeout=slow)
    holder, error = lab.connect()
    lab.expect(holder is not None,
               f"a client to connect; it failed: {error}", "Your task")
    lab.require(SERVING_WAITS, "the server to wait in read(2) for its "
                "client", "Your task", proc=lab.family(server), event="wait",
                timeout=slow)
    labrun.settle(lab, server)
    message = random_text(65536)
    # All 64 KiB sent while the server (and what it forked) is stopped:
    # they wait in the connection, however the server serves its clients.
    with frozen(server):
        client = lab.start("client", stdin=message, **programs["client"])
        # Until it waits for the reply, or for room: a client that writes
        # in small pieces fills the connection before its 64 KiB are sent.
        lab.wait_until(lambda: lab.events(READS, proc=client, event="wait")
                       or (peers.blocked_in(client.pid) or ("",))[0] in
                       ("write", "sendto", "sendmsg"), proc=client,
                       timeout=slow, every=0.01)
    holder.close()
    client.wait()
    if not server.has_exited():
        lab.stop(server)
    for proc in (server, client):
        found, at = finding_of(lab, proc)
        if not found:
            continue
        advice, size = "", found["size"]
        if found["by"] and size:
            advice = (f": {found['by']} was asked for more bytes than the "
                      f"buffer holds ({size}): pass at most its size, "
                      "sizeof buf")
        elif found["past"] == 0 and size and (found["count"] or 1) == 1:
            advice = (f": one byte past the end, index {size} of a buffer "
                      f"whose last index is {size - 1}. A '\\0' after "
                      f"{size} bytes needs a buffer of {size} + 1 (or read "
                      "at most sizeof buf - 1 bytes); or do without it: the "
                      "bytes are n, not a C string (printf(\"%.*s\", (int)n, "
                      "buf), fwrite)")
        lab.expect(False,
                   f"no read or write outside a buffer: the {proc.name}, "
                   "built with -fsanitize=address,undefined (a build of its "
                   "own, beside make's) and sent a 64 KiB message, so that "
                   f"its reads fill their buffer, made {found['what']}{at} "
                   f"({'; '.join(found['said'])}){advice}", section)
    # A count far larger than the buffer may reach past the memory the
    # process has (the sanitized build's stack ends close above its
    # buffers): the kernel then refuses the call with EFAULT, and nothing
    # is written for the sanitizers to see.
    for proc in (server, client):
        for e in lab.events((*READS, *WRITES), proc=lab.family(proc),
                            errno="EFAULT"):
            source, text = lab.source(proc.name)
            lab.expect(False,
                       f"no read or write outside a buffer: the {proc.name}"
                       ", built with -fsanitize=address,undefined and sent a "
                       "64 KiB message, so that its reads fill their buffer, "
                       f"called {tracetext.call_text(e)} at {source}:"
                       f"{e.get('line')}: "
                       f"`{source_line(text, e.get('line') or 0)}`: "
                       f"EFAULT, the {e['args'].get('count')} bytes it "
                       f"asked {e['call']} to fill or send run past the "
                       "memory the process has, beyond the end of the "
                       "buffer (in a plain build, over what follows it): "
                       "pass at most the buffer's size, sizeof buf", section)


@pytest.fixture
def lab(request):
    lesson = request.module.LESSON
    with LessonLab(labrun.BUILD / CODE / lesson, lesson) as lab:
        yield lab


@pytest.fixture
def lab_for():
    """Labs for other code than the module's own: the ladder's."""
    labs = []

    def make(code_dir, readme_lesson):
        labs.append(LessonLab(code_dir, readme_lesson))
        return labs[-1]
    yield make
    for lab in labs:
        lab.close()


# -- copies of the lab, for the classroom commands ----------------------------

class LabCopy:
    """An unpacked hand-out in a temporary directory, to run make in.

    The real lessons/ are never touched: lessons are solved or edited in
    the copy.
    """

    def __init__(self, path, solved=None):
        self.path = Path(path)
        # Where solve() finds each solved lesson's programs, built as this
        # copy's make builds them (warm_up), if they are there.
        self.solved = solved

    def lesson(self, lesson_id):
        return self.path / "lessons" / lesson_id

    def make_command(self, *args, scale=1.0, env=None):
        """make in the copy, as a learner runs it: without the variables
        and LAB_ settings of the make that runs this suite.  scale below 1
        shortens the waits for an event that is known never to come; env
        adds to the environment."""
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MAKE", "MFLAGS", "LAB_", "PYTHON"))}
        environ.update(NO_COLOR="1",
                       LAB_TIMEOUT_SCALE=str(labrun.SCALE * scale),
                       **(env or {}))
        return ["make", "--no-print-directory", "-C", str(self.path),
                *args], environ

    def make(self, *args, timeout=30, scale=1.0, env=None):
        argv, env = self.make_command(*args, scale=scale, env=env)
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=timeout * labrun.SCALE)

    def solve(self, lesson_id):
        """The lesson's solution in place of the learner's code.  Its
        programs too, if they were built (warm_up): they are what make
        would build from those sources, flags and trace, and newer than
        them, so make takes them as built."""
        built = self.path / "build" / "lessons" / lesson_id
        for source in (labrun.ROOT / "solutions" / lesson_id).glob("*.c"):
            shutil.copy(source, self.lesson(lesson_id) / source.name)
            program = self.solved and self.solved / lesson_id / source.stem
            if not (program and program.exists() and built.is_dir() and
                    program.with_suffix(".c").read_bytes() ==
                    source.read_bytes()):
                continue
            target = built / source.stem
            target.unlink(missing_ok=True)
            try:  # make removes a program before it builds it again
                os.link(program, target)
            except OSError:
                shutil.copy2(program, target)
            # make writes a log where it is: a copy
            shutil.copy2(program.with_suffix(".log"),
                         target.with_suffix(".log"))
            for made in (target, target.with_suffix(".log")):
                os.utime(made)  # after its source

    def edit(self, lesson_id, name="server.c", text="/* my change */\n"):
        with open(self.lesson(lesson_id) / name, "a") as f:
            f.write(text)

    def make_stopped_by_ctrl_c(self, *args, timeout=60.0):
        """make with args (progress, grade...) in the copy, as at a
        terminal, where lesson 01's solution sends SIGINT to what runs it
        (a check) as soon as it starts: Ctrl-C in the middle of the checks,
        at a known point, with no waiting.  Returns the completed make."""
        self.stop_at_first_run("01-socket")
        argv, env = self.make_command(*args)
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=timeout * labrun.SCALE,
                              preexec_fn=as_at_a_terminal)

    def stop_at_first_run(self, lesson_id):
        """The lesson's solution, made to send SIGINT to what runs it (a
        check) as soon as it starts."""
        self.solve(lesson_id)
        source = self.lesson(lesson_id) / "server.c"
        text = source.read_text()
        assert "#include <stdio.h>\n" in text and "argv[])\n{\n" in text
        source.write_text(text.replace(
            "#include <stdio.h>\n", "#include <signal.h>\n#include <stdio.h>\n"
            "#include <unistd.h>\n", 1).replace(
            "argv[])\n{\n", "argv[])\n{\n    kill(getppid(), SIGINT);\n",
            1))


def as_at_a_terminal():
    """Popen(preexec_fn=as_at_a_terminal): the command gets Ctrl-C (SIGINT)
    as at a terminal, even when the suite runs where SIGINT is ignored (a
    shell without job control ignores it in what it starts in the
    background: make test &), which a command would inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def path_without(bin_dir, names):
    """A PATH of one directory that has every command of PATH but names."""
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            link = bin_dir / tool.name
            if tool.name not in names and not link.exists() and \
                    os.access(tool, os.X_OK):
                link.symlink_to(tool)
    return str(bin_dir)


def make_handout(tarball):
    """make handout in the repository, written to tarball."""
    return LabCopy(labrun.ROOT).make("handout", f"B={labrun.BUILD}",
                                     f"HANDOUT={tarball}")


def handout_key(tarball):
    """What a hand-out is made of, as a name: each member's name, kind,
    mode and bytes (not the times, which change with every make handout)."""
    digest = hashlib.sha256()
    with tarfile.open(tarball) as tar:
        for member in tar:
            digest.update(f"{member.name}\0{member.type!r}\0{member.mode}\0"
                          f"{member.linkname}\0".encode())
            if member.isfile():
                digest.update(tar.extractfile(member).read() + b"\0")
    for variable in ("CC", "CFLAGS", "LDFLAGS", "LDLIBS"):
        digest.update(os.environ.get(variable, "").encode() + b"\0")
    return digest.hexdigest()[:24]


@pytest.fixture(scope="session")
def built_handout():
    """A hand-out made (lab.tar.gz), unpacked and built (unpacked/) once
    per content, kept in BUILD/handout/KEY (KEY: handout_key) for every
    process of the run and for the next run; lab_copy copies it.  Never
    write in it."""
    return handout_built()


def handout_built():
    """The built hand-out's directory (built_handout), made if need be."""
    shelf = labrun.BUILD / "handout"
    with labrun.build_lock("handout"):
        shelf.mkdir(parents=True, exist_ok=True)
        tarball = shelf / f".lab-{os.getpid()}.tar.gz"
        try:
            made = make_handout(tarball)
            assert made.returncode == 0, made.stdout + made.stderr
            where = shelf / handout_key(tarball)
            if not (where / "built").exists():
                for old in shelf.iterdir():  # other contents, or half made
                    if old.is_dir():
                        shutil.rmtree(old, ignore_errors=True)
                with tarfile.open(tarball) as tar:
                    safe = {"filter": "data"} \
                        if hasattr(tarfile, "data_filter") else {}
                    tar.extractall(where / "unpacked", **safe)
                tree = LabCopy(where / "unpacked" / "unix-sockets-lab")
                seed_from_this_build(tree.path)
                built = tree.make("-j2", "-s", timeout=120)
                assert built.returncode == 0, built.stdout + built.stderr
                with scratch_copy(tree.path) as solved:
                    warm_up(tree.path, solved)
                os.replace(tarball, where / "lab.tar.gz")
                (where / "built").touch()
            tree = where / "unpacked" / "unix-sockets-lab"
            if not solved_programs_current(tree):  # a solution changed
                with scratch_copy(tree) as solved:
                    keep_solved_programs(tree, solved)
        finally:
            tarball.unlink(missing_ok=True)
    return where


def seed_from_this_build(tree):
    """Gives the unpacked hand-out tree's build/ what this suite's build
    (make all) made of the same inputs: the trace object and each program
    whose source, Makefile, trace library and variant.h are, byte for
    byte, the hand-out's, as make would make them there (it compiles by
    paths relative to the top: the same __FILE__).  make then builds
    whatever else the hand-out needs.  That the hand-out's sources compile
    from its own files is checked apart (test_handout)."""
    def same(relative):
        mine, theirs = labrun.ROOT / relative, tree / relative
        return mine.is_file() and theirs.is_file() and \
            mine.read_bytes() == theirs.read_bytes()
    trace = [p.relative_to(labrun.ROOT) for p in
             (labrun.ROOT / "trace").rglob("*") if p.is_file()]
    flags = labrun.BUILD / "flags"
    if not (flags.is_file() and same("Makefile") and
            same("lessons/variant.h") and all(map(same, trace))):
        return
    made = [Path("flags"), Path("trace/trace.o")]  # in this order: by age
    # A program older than what it is made of was not made of it (make
    # all was not run since): left to make.
    inputs = [labrun.BUILD / "flags", labrun.BUILD / "trace" / "trace.o",
              labrun.ROOT / "lessons" / "variant.h",
              *(labrun.ROOT / "trace" / "include").rglob("*.h")]
    if not all(p.is_file() for p in inputs):
        return
    inputs_changed = max(p.stat().st_mtime for p in inputs)
    for source in sorted([*tree.glob("lessons/*/*.c"),
                          *tree.glob("lessons/*/errors/*.c"),
                          tree / "trace" / "silent.c"]):
        relative = source.relative_to(tree)
        program = relative.with_suffix("")
        built = labrun.BUILD / program
        if same(relative) and built.is_file() and built.stat().st_mtime >= \
                max(inputs_changed, (labrun.ROOT / relative).stat().st_mtime):
            made += [program, program.with_name(program.name + ".log")]
    for relative in made:
        mine, theirs = labrun.BUILD / relative, tree / "build" / relative
        if not mine.is_file():
            return  # not built here: make builds the rest
        theirs.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mine, theirs)
        os.utime(theirs)  # newer than the hand-out's sources


# Beside the built hand-out's tree: each lesson's programs built from its
# solution, as a copy's make builds them (LabCopy.solve takes them).
SOLVED = "solved-programs"


@contextlib.contextmanager
def scratch_copy(tree):
    """A copy of the built hand-out's tree, in memory if it can be,
    removed afterwards."""
    scratch = labrun.scratch_dir("lab-warm-", parent=labrun.COPY_PARENT)
    try:
        copy = LabCopy(scratch / tree.name)
        shutil.copytree(tree, copy.path, symlinks=True)
        yield copy
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def solution_sources():
    return sorted(labrun.ROOT.glob("solutions/[0-9][0-9]-*/*.c"))


def solved_programs_current(tree):
    """Whether the solved programs beside tree were built from the
    solutions as they are."""
    shelf = tree.parent / SOLVED
    return all((shelf / s.parent.name / s.name).is_file() and
               (shelf / s.parent.name / s.name).read_bytes() ==
               s.read_bytes() for s in solution_sources())


def keep_solved_programs(tree, solved):
    """Every lesson solved in solved (a scratch_copy of tree) and its
    programs built there by make, then kept beside tree (SOLVED/LESSON/:
    each program, its compiler log and the source it was built from)."""
    shelf = tree.parent / SOLVED
    shutil.rmtree(shelf, ignore_errors=True)
    sources = solution_sources()
    for lesson in sorted({s.parent.name for s in sources}):
        solved.solve(lesson)
    targets = [f"build/lessons/{s.parent.name}/{s.stem}" for s in sources]
    made = solved.make("-j2", "-s", *targets, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    for source, target in zip(sources, targets):
        into = shelf / source.parent.name
        into.mkdir(parents=True, exist_ok=True)
        for name in (target, target + ".log"):
            shutil.copy2(solved.path / name, into / Path(name).name)
        shutil.copy2(source, into / source.name)


def warm_up(tree, solved):
    """Makes for the built hand-out what the first grade of each copy
    would make again: every lesson's programs built from its solution
    (keep_solved_programs), and in the tree's build/ the sanitized builds
    of the solutions of the lessons whose checks build them
    (labrun.sanitized, named by their content: a copy whose lesson is
    solved finds them), beside what a grading copy is given of this
    suite's own build (the sanitized trace, the sanitizer probe's answer,
    Python's compiled modules of the system:
    classroom.seed_sanitizers_and_python).  They are made in solved, a
    scratch_copy of the tree where the lessons are solved: a build names
    its source as a learner's copy does (lessons/05-read-write/server.c)."""
    import classroom
    import test_ladder  # the lesson modules, which import this one
    classroom.seed_sanitizers_and_python(solved.path / "build")
    keep_solved_programs(tree, solved)
    sources = [f"lessons/{module.LESSON}/{name}.c"
               for module in test_ladder.LESSON_MODULES
               for name in getattr(module, "SANITIZED", ())]
    argv, env = solved.make_command()
    env.update(LAB_BUILD=str(solved.path / "build"),
               PYTHONPYCACHEPREFIX=str(solved.path / "build" / "pycache"))
    made = subprocess.run(
        [sys.executable, "-c",
         "import sys; sys.path.insert(0, 'tools'); import labrun\n"
         "for source in sys.argv[1:]:\n"
         "    labrun.sanitized(source)", *sources],
        cwd=solved.path, env=env, capture_output=True, text=True,
        timeout=300)
    assert made.returncode == 0, made.stderr
    for part in ("sanitized", "pycache/usr"):
        if (solved.path / "build" / part).is_dir():
            shutil.copytree(solved.path / "build" / part,
                            tree / "build" / part, dirs_exist_ok=True)


def copy_or_link(tree):
    """How copytree copies the built hand-out tree into a lab copy: a
    program that make built (under build/) is linked (os.link), which is
    quicker; every other file is copied.  The Makefile's rule removes a
    program before it builds it again, so what a copy does never reaches
    the built hand-out, nor another copy."""
    built = str(Path(tree) / "build") + os.sep

    def copy(source, target):
        if source.startswith(built) and \
                not source.endswith((".o", ".log")) and \
                os.access(source, os.X_OK):
            try:
                os.link(source, target)
                return target
            except OSError:
                pass  # another file system: copied
        return shutil.copy2(source, target)
    return copy


@pytest.fixture(scope="session")
def handout_to_copy(built_handout):
    """The built hand-out's tree that lab_copy copies: the one in BUILD,
    or, if copies are made on another file system (labrun.COPY_PARENT,
    in memory), a copy of it there, made once per process: a copy links
    its programs from one on the same file system, and making its
    hundreds of other files costs little in memory and much on a disk."""
    built = built_handout / "unpacked" / "unix-sockets-lab"
    if os.stat(built).st_dev == os.stat(labrun.COPY_PARENT).st_dev:
        yield built
        return
    where = labrun.scratch_dir("lab-handout-", parent=labrun.COPY_PARENT)
    try:
        for part in (built, built.parent / SOLVED):
            shutil.copytree(part, where / part.name, symlinks=True)
        yield where / built.name
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def lab_copy(handout_to_copy):
    """A fresh copy of the built hand-out, removed afterwards."""
    where = labrun.scratch_dir("lab-copy-", parent=labrun.COPY_PARENT)
    try:
        tree = where / "unix-sockets-lab"
        shutil.copytree(handout_to_copy, tree, symlinks=True,
                        copy_function=copy_or_link(handout_to_copy))
        import classroom
        classroom.seed_compiled_modules(tree / "build")
        yield LabCopy(tree, solved=handout_to_copy.parent / SOLVED)
    finally:
        shutil.rmtree(where, ignore_errors=True)


# -- sharing the tests out between processes (make test: pytest-xdist) ------

# The groups of tests that take longest, sent out first (the others fill in
# around them): a group is one module's tests, unless the module spreads.
# The first two need no hand-out, which the main process makes meanwhile.
FIRST = ("test_builds", "test_autograder", "test_grade", "test_progress",
         "test_classroom_workflow", "test_grading",
         "test_handout", "test_hint", "test_trace", "test_quiz",
         "test_reset", "test_strace", "test_pictures", "test_lesson_docs",
         "test_make_conventions", "test_watch", "test_setup")


def spread(module):
    """Whether a module's tests may each run in any process: a lesson's
    checks (each makes its own Lab), or a module that says so (SPREAD =
    True: it shares nothing but what it builds under a lock,
    labrun.build_lock).  The tests of any other module run in one process,
    one after the other, where they share its fixtures and caches."""
    return bool(getattr(module, "LESSON", None) or
                getattr(module, "SPREAD", False))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (make test: -n 3 --dist loadgroup), each module
    that does not spread is one group, run by one process; the longest
    groups first."""
    # A worker process is told by its own option (its "dist" is "no").
    if not getattr(config.option, "loadgroup", False) and \
            getattr(config.option, "dist", "no") != "loadgroup":
        return
    for item in items:
        if not spread(item.module):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))

    def rank(item):
        name = item.module.__name__
        if name in FIRST:
            return FIRST.index(name)
        return len(FIRST) + (1 if spread(item.module) else 0)
    items.sort(key=rank)  # stable: each module keeps its order


_early = {}  # the corpus compiled by the main process: thread, directory


def pytest_collection_finish(session):
    """A learner's checks (make check, make progress): the sanitized builds
    that their lessons run are begun at once, beside the first checks
    (labrun.sanitized_soon), and waited for at the end of the run."""
    if not LEARNER:
        return
    sources = []
    for module in dict.fromkeys(item.module for item in session.items):
        for name in getattr(module, "SANITIZED", ()):
            source = labrun.source_of(labrun.BUILD / CODE / module.LESSON,
                                      name)
            if source is not None:
                sources.append(source)
    if sources:
        _soon.append(labrun.sanitized_soon(sources))


_soon = []  # the threads of sanitized_soon


def mistakes_timeout():
    import mistakes
    return mistakes.BUILD_TIMEOUT


# Signals that stop the checks as Ctrl-C does (stop_as_ctrl_c), and the
# handlers they had before the run.
STOPPED_BY = (signal.SIGTERM, signal.SIGHUP)
_handlers_before = {}


def stop_as_ctrl_c(signum, frame):
    """SIGTERM, or SIGHUP (the terminal closed while make check ran): the
    run ends as Ctrl-C ends it, each lab ending its programs and removing
    its directory, not killed with them left behind."""
    raise KeyboardInterrupt(labrun.signal_name(signum))


def pytest_sessionstart(session):
    """SIGTERM and SIGHUP stop the run as Ctrl-C does (stop_as_ctrl_c).

    In a parallel run of the whole suite (make test), the main process,
    which runs no test itself, makes what the workers would wait for while
    they run the first tests (those that need neither): the built hand-out
    (handout_built), then, at a low priority, the corpus of
    tests/test_mistakes.py (most tests wait for the programs they run, and
    the compiler takes the time they leave).  The tests then find both
    made (under a lock, named by their content)."""
    if threading.current_thread() is threading.main_thread():
        for sig in STOPPED_BY:
            _handlers_before[sig] = signal.signal(sig, stop_as_ctrl_c)
    config = session.config
    tests = Path(__file__).resolve().parent
    if getattr(config.option, "dist", "no") == "no" or LEARNER or \
            hasattr(config, "workerinput") or config.option.keyword or \
            config.option.markexpr or not (labrun.ROOT / "solutions").is_dir() \
            or not any(Path(a.split("::")[0]).resolve() == tests
                       for a in config.args):
        return
    import mistakes
    import test_mistakes
    where = labrun.scratch_dir("lab-mistakes-early-",
                               parent=labrun.RUN_PARENT)

    def build():
        # Whatever fails here fails again, and is said, in the tests.
        with contextlib.suppress(BaseException):
            handout_built()
        with contextlib.suppress(BaseException):
            mistakes.build(test_mistakes.JUDGED, where, sanitized=False,
                           nice=True)
    _early.update(thread=threading.Thread(target=build, daemon=True),
                  where=where)
    _early["thread"].start()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """What a worker process left behind in /tmp (pytest_sessionfinish)."""
    _left_by_workers.extend(
        getattr(node, "workeroutput", {}).get("left_behind", []))


_left_by_workers = []


# -- reporting, for learners ------------------------------------------------

_failed_lessons = set()
_results = {}  # lesson -> list of (test name, outcome)


def _lesson_of(item):
    return getattr(item.module, "LESSON", None)


def pytest_runtest_setup(item):
    lesson = _lesson_of(item)
    if ONE_FAILURE_PER_LESSON and lesson in _failed_lessons:
        pytest.skip("an earlier check of this lesson failed: fix that first")


def _one_report_only(item):
    """Whether a learner checks several lessons at a terminal (make check):
    then only the first lesson that fails gets its whole report."""
    if not ONE_FAILURE_PER_LESSON or \
            not item.config.pluginmanager.has_plugin("terminalreporter"):
        return False  # make progress and make grade read every report
    return len({_lesson_of(i) for i in item.session.items}) > 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(LabCheckFailed):
        report.longrepr = str(call.excinfo.value)
    elif call.excinfo is not None and LEARNER and _lesson_of(item) and \
            isinstance(item.funcargs.get("lab"), LessonLab) and \
            not call.excinfo.errisinstance(pytest.skip.Exception):
        # For a learner, a check ends with a sentence, never a traceback,
        # whatever the program under test did to its files or processes.
        error = call.excinfo.value
        report.longrepr = item.funcargs["lab"].report(
            f"the check to run to its end; it stopped at "
            f"{type(error).__name__}: {tracetext.escaped(str(error))[:300]}, "
            "after what your programs did below", "Your task")
    lesson = _lesson_of(item)
    if lesson and (report.when == "call" or report.outcome != "passed"):
        if report.failed:
            if _failed_lessons and lesson not in _failed_lessons and \
                    _one_report_only(item):
                first = min(_failed_lessons)
                report.longrepr = (
                    f"lesson {lesson} fails here too: one lesson at a time, "
                    f"{first} first (make check N={lesson[:2]} shows this "
                    "check's report).")
            _failed_lessons.add(lesson)
        _results.setdefault(lesson, []).append((item.name, report.outcome))


def pytest_sessionfinish(session):
    """Nothing left behind: every directory the run made (in /tmp or
    /dev/shm) is gone (a worker of a parallel run tells the main process,
    which says it); the stop signals have their handlers back."""
    while _handlers_before:
        sig, handler = _handlers_before.popitem()
        signal.signal(sig, handler)
    if _early:
        _early["thread"].join(mistakes_timeout())
        shutil.rmtree(_early["where"], ignore_errors=True)
    while _soon:  # no compiler left running, nor half a program
        _soon.pop().join(labrun.COMPILE_TIMEOUT)
    left = [str(d) for d in labrun.MADE if d.exists()]
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["left_behind"] = left
        return
    left += _left_by_workers
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"left behind by this run: "
                                f"{', '.join(left)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if not LEARNER or not _results:
        return
    import classroom  # what make progress calls a lesson
    pristine, _ = classroom.starters()
    write = terminalreporter.write_line
    write("")
    write("Your lessons:")
    next_step = None
    for lesson in sorted(_results):
        runs = _results[lesson]
        passed = sum(1 for _, o in runs if o == "passed")
        failed = [name for name, o in runs if o == "failed"]
        if failed:
            skipped = sum(1 for _, o in runs if o == "skipped")
            word = "not started" if classroom.not_started(lesson, pristine) \
                else "does not compile" if not classroom.compiles(lesson) \
                else "in progress"
            state = f"{word}: {classroom.readable(failed[0])}"
            state += f" ({passed} passed, {skipped} not run yet)" \
                if skipped else f" ({passed} of {len(runs)} checks pass)"
            next_step = next_step or (lesson, failed[0])
        else:
            state = f"done ({passed} checks pass)"
        write(f"  {lesson:<20} {state}")
    if next_step:
        write(f"Next: lessons/{next_step[0]}/README.md, and the failed check "
              f"'{next_step[1]}' above.")


# -- standard tools as peers (nc, socat, logger) ----------------------------

def tool(name):
    """The path of a standard tool the suite uses as a peer; tools/setup
    installs each, so a check skips (saying why) only where it could not."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def run_tool(lab, argv, stdin=b""):
    """Runs a standard tool in the lab directory, bounded in time."""
    return subprocess.run(argv, cwd=lab.dir, input=stdin, capture_output=True,
                          timeout=labrun.WAIT * 2)
