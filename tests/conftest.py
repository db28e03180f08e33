"""The lab's test driver.

Each tests/test_NN_*.py checks one lesson; its module-level LESSON names the
lesson folder.  The `lab` fixture runs that lesson's programs, built from
lessons/ (LAB_CODE=lessons: the learner's code, `make check`) or from
solutions/ (the default: `make test`), in a fresh directory that is removed
afterwards, and collects their JSON trace.

The classroom commands (make progress, hint, grade...) are tested in
copies of an unpacked hand-out: the `lab_copy` fixture, where lessons are
solved or edited without touching the real lessons/.
"""
import contextlib
import json
import os
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
# The calls a server waits in for a client that is connected: read, or
# poll for a server that serves every client in one loop (lesson 08).
SERVING_WAITS = READS + ("poll",)


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
    data = labrun.read_if_there(f"/proc/{proc.pid}/status")
    if data is None:
        return None
    masks = {}
    for line in data.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Sig") or key == "ShdPnd":
            try:
                masks[key] = int(value.strip(), 16)
            except ValueError:
                pass
    return masks


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


def diagnoses(events, procs=()):
    """Sentences naming the mistakes that the trace itself shows, whatever
    the check was looking at: a fd used after its close, end of file read
    again, bytes read or written on the listening socket, listen before
    bind, calls made inside a signal handler...  Each is a pattern that no
    correct program of the lab produces."""
    found = []
    ordered = tracetext.in_causal_order(events)
    by_pid = {}
    for e in ordered:
        by_pid.setdefault(e["pid"], []).append(e)
    for pid, mine in by_pid.items():
        # Every call, those a run hid from the JSON included, each with
        # its own ret: a "repeat" event stands for that many calls.
        mine = tracetext.made(mine, waits=True)
        listening, closed, eof, bound = set(), {}, {}, False
        read_on, wrote_on = {}, {}
        datagram = set()  # fds of datagram sockets: 0 is an empty datagram
        waiting = None  # a call announced as waiting, not yet returned
        for e in mine:
            args, fd = e.get("args") or {}, (e.get("args") or {}).get("fd")
            if e["event"] == "repeat":
                continue  # a run's count: its first calls were returns
            if e["event"] == "wait":
                waiting = e
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
            if e["call"] == "accept" and e.get("errno") == "EFAULT":
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
            if e["call"] in ("accept", "socket") and e["ret"] >= 0:
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
                again = [x for x in mine if x["call"] in READS and
                         x["event"] == "return" and x["args"].get("fd") == fd
                         and x["ts"] > eof[fd]["ts"]]
                found.append(
                    f"{e['call']}({fd}) returned 0, end of file, and was "
                    f"called on fd {fd} again ({len(again)} times more): "
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
                    and any(a["pid"] == u["pid"] and a["call"] == "accept"
                            and a["ts"] > u["ts"] for a in ordered):
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
        waits = [e for e in mine if e["event"] == "wait"]
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
                "inside a signal handler. A handler that calls exit skips "
                "the cleanup after the loop; let it only set the flag")
    return list(dict.fromkeys(found))


def collapsed(events):
    """The lines of the trace, as the human trace shows them (a run of
    like calls counted: tracetext.as_shown), with a run of identical lines
    said once."""
    lines, last, repeats = [], None, 0
    for e in (x for _, shown in tracetext.as_shown(events) for x in shown):
        key = (e["pid"], e["event"], e["call"], json.dumps(e.get("args")),
               e.get("ret"), e.get("errno"), e.get("data"))
        if key == last:
            repeats += 1
            continue
        if repeats:
            lines.append(f"    ... the same line {repeats} more times")
        lines.append("    " + tracetext.render(e))
        last, repeats = key, 0
    if repeats:
        lines.append(f"    ... the same line {repeats} more times")
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

    def serving(self, *args):
        """The server, started and listening (lesson 03's stage done)."""
        server = self.server(*args)
        self.require("listen", "the server to listen (lesson 03)",
                     "What this stage does", proc=server, ret=0)
        return server

    def client(self, *args, stdin=b"", timeout=labrun.WAIT):
        return self.run("client", *args, stdin=stdin, timeout=timeout)

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

    def report(self, expected, section):
        events = self.events(event=None)
        lines = [f"Expected: {expected}"]
        lines += [f"Found: {d}." for d in diagnoses(events, self.procs)]
        shown = tracetext.in_causal_order(events)
        failed = [e for e in shown if tracetext.failed(e) and
                  not routine_failure(e)]
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

    def __init__(self, path):
        self.path = Path(path)

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
        for source in (labrun.ROOT / "solutions" / lesson_id).glob("*.c"):
            shutil.copy(source, self.lesson(lesson_id) / source.name)

    def edit(self, lesson_id, name="server.c", text="/* my change */\n"):
        with open(self.lesson(lesson_id) / name, "a") as f:
            f.write(text)


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


@pytest.fixture(scope="session")
def built_handout():
    """A hand-out made, unpacked and built once; lab_copy copies it."""
    where = labrun.scratch_dir("lab-handout-")
    try:
        made = make_handout(where / "lab.tar.gz")
        assert made.returncode == 0, made.stdout + made.stderr
        with tarfile.open(where / "lab.tar.gz") as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") \
                else {}
            tar.extractall(where / "unpacked", **safe)
        tree = LabCopy(where / "unpacked" / "unix-sockets-lab")
        built = tree.make("-j2", "-s", timeout=120)
        assert built.returncode == 0, built.stdout + built.stderr
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def lab_copy(built_handout):
    """A fresh copy of the built hand-out, removed afterwards."""
    where = labrun.scratch_dir("lab-copy-")
    try:
        tree = where / "unix-sockets-lab"
        shutil.copytree(built_handout / "unpacked" / "unix-sockets-lab", tree,
                        symlinks=True)
        yield LabCopy(tree)
    finally:
        shutil.rmtree(where, ignore_errors=True)


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
    """Nothing left behind: every directory the run made in /tmp is gone."""
    left = [str(d) for d in labrun.MADE if d.exists()]
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"left behind in /tmp by this run: "
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
