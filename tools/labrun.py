"""Running lab programs and collecting their trace.

A Lab owns a fresh directory, starts lab programs in it with LAB_TRACE_FILE
pointing at a FIFO, and reads every JSON trace line as it is written, so a
caller can wait for an event (the server's listen, say) instead of guessing
with sleeps.  Lab.close() stops what is still running and removes the
directory: nothing is left behind.

On top of it: a lesson's steps (lessons/lessons.json), run as make lesson
shows them or quietly for a picture, and one deliberate-error variant
(lessons/errors.json), run and compared with what it must show.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import re
import sys
import time
from pathlib import Path

import manifest
import tracetext
from manifest import ROOT

BUILD = Path(os.environ.get("LAB_BUILD", ROOT / "build"))


def _timeout_scale():
    """LAB_TIMEOUT_SCALE: slower machines, valgrind or sanitizers, =5 waits
    five times longer.  Anything but a number above 0 is refused: a scale
    of 0 would fail every check that waits."""
    text = os.environ.get("LAB_TIMEOUT_SCALE", "1")
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not 0 < scale < float("inf"):
        print(f"LAB_TIMEOUT_SCALE={text}: give a number above 0 (5 waits "
              "five times longer), or leave it unset", file=sys.stderr)
        raise SystemExit(2)  # what a wrong command line gets
    return scale


SCALE = _timeout_scale()
WAIT = 2.0 * SCALE  # for an event that should come at once
# The CPU time a lab program may spend between two calls before it is taken
# for a loop that makes none (Proc.computes): it needs microseconds.
COMPUTING = 0.25 * SCALE
# The calls that take a client from the backlog: accept4 is accept with
# flags, traced under its own name; a wait for, or a count of, accepts
# looks for both (as conftest.READS looks for read and recv).
ACCEPTS = ("accept", "accept4")


def in_process_group(group):
    """The subprocess.Popen arguments that start a process in the process
    group group (0: a new one, led by the process itself): Python 3.11's
    process_group, or setpgid(2) in the child before an older Python's
    exec (Debian 11 has 3.9)."""
    if sys.version_info >= (3, 11):
        return {"process_group": group}
    return {"preexec_fn": lambda: os.setpgid(0, group)}


def read_if_there(path):
    """The bytes of a file, or None if it is not there (any more) or
    cannot be read: a lab program may delete or replace what it likes."""
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except (OSError, ValueError):
        return None


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def scratch_dir(prefix="lab-", parent="/tmp"):
    """A new directory in /tmp (or parent), which keeps socket paths short
    (sun_path holds only 107 bytes); every one made is remembered in MADE,
    so that a test run can see it has left none behind."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    MADE.append(path)
    return path


MEMORY_TMP_FREE = 1 << 30  # bytes free in /dev/shm to use it


def in_memory_tmp(programs=False):
    """Where a lab run makes its directory: /dev/shm, where it is a shared
    temporary directory in memory (tmpfs, mode 1777, as on Debian) with a
    GiB free (a container may give it only 64 MiB), else /tmp.  A run
    makes a FIFO, output files and socket files, and removes them: on a
    disk's file system, making and removing thousands of files costs a
    third of the checks' system time.  programs=True: a copy of the lab,
    whose programs run from it, so only if /dev/shm is not mounted noexec
    (as a container's often is)."""
    try:
        with open("/proc/self/mounts") as f:
            mounted = {fields[1]: (fields[2], fields[3].split(","))
                       for fields in (line.split() for line in f)
                       if len(fields) > 3}
        mode = os.stat("/dev/shm").st_mode
        space = os.statvfs("/dev/shm")
    except OSError:
        return "/tmp"
    kind, options = mounted.get("/dev/shm", ("", []))
    return "/dev/shm" if kind == "tmpfs" and \
        not (programs and "noexec" in options) and \
        mode & 0o1777 == 0o1777 and \
        space.f_bavail * space.f_frsize >= MEMORY_TMP_FREE and \
        os.access("/dev/shm", os.W_OK | os.X_OK) else "/tmp"


MADE = []
RUN_PARENT = in_memory_tmp()
COPY_PARENT = in_memory_tmp(programs=True)


def work_dir(prefix):
    """A new directory for a copy of the lab (a grading copy): in TMPDIR
    if it is set, else where it is quickest (COPY_PARENT).  Its programs
    make their sockets in a Lab's own directory, so the length of this
    path does not matter.  The caller removes it."""
    where = os.environ.get("TMPDIR") or COPY_PARENT
    try:
        # absolute: the copy is run from its own directory (TMPDIR=tmp)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=where)).absolute()
    except OSError as e:
        said = f"TMPDIR={where}: {e.strerror}" if os.environ.get("TMPDIR") \
            else f"{where}: {e.strerror}"
        raise OSError(e.errno, f"{said}: a copy of the lab is made there; "
                      "give TMPDIR a directory you can write in") from None


@contextlib.contextmanager
def build_lock(name):
    """Holds an exclusive lock, BUILD/.NAME.lock, while something that
    every process of a run shares is built or looked for in BUILD: the
    workers of a parallel test run (pytest-xdist), or two suites on one
    build directory, then build it once, and the others wait and find it."""
    import fcntl
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / f".{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def typed(word):
    """A word of the command line as it was typed, for a message: a byte
    that is not UTF-8 shown as \ufffd, not as Python's \\udcNN."""
    return os.fsencode(word).decode(errors="replace")


def run_tool(main):
    """Runs a command's main(argv) and exits with its status.  A standard
    output that cannot be written (closed, a full disk, a reader that has
    gone, as in make errors | head) ends the command with status 1 (or
    the failure main returned) and one line on standard error (none for a
    reader that has gone, which asked for no more), never a traceback.
    Ctrl-C (KeyboardInterrupt) ends it with one line, of SIGINT."""
    import errno
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]])
    if sys.stdout is None:  # started with fd 1 closed (>&-)
        if sys.stderr is not None:
            print(f"{command}: standard output is closed: run me with it "
                  "open", file=sys.stderr)
        sys.exit(1)
    status = None
    try:
        status = main(sys.argv[1:])
        sys.stdout.flush()
    except KeyboardInterrupt as e:
        # Ctrl-C: one line, no traceback, and the command ends of the
        # signal, as make and a shell expect of a command they stopped.
        import signal
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        if sys.stderr is not None:
            print(f"\n{command}: {str(e) or 'stopped by Ctrl-C'}: run it "
                  "again.", file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        os.kill(os.getpid(), signal.SIGINT)
        sys.exit(128 + signal.SIGINT)  # not reached: the status it stands for
    except OSError as e:
        if e.filename is not None or e.errno not in (
                errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT,
                errno.EFBIG):
            raise
        # What is still buffered would fail again at exit: drop it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        if e.errno != errno.EPIPE and sys.stderr is not None:
            print(f"{command}: cannot write standard output: {e.strerror}",
                  file=sys.stderr)
        sys.exit(status or 1)  # a failure main said stays its own
    sys.exit(status)


def not_a_file(source):
    """Why a lesson's source is there but no file to compile, in words
    ("a directory"), or None: a file (a symbolic link to one too), or
    nothing at all."""
    import stat
    try:
        mode = os.stat(source).st_mode
    except OSError:
        return "a symbolic link to nothing" if os.path.islink(source) \
            else None
    return None if stat.S_ISREG(mode) else \
        "a directory" if stat.S_ISDIR(mode) else \
        "a FIFO" if stat.S_ISFIFO(mode) else "a device or a socket"


def compiler_messages(program, lines=12, width=160):
    """The first lines of what the compiler said when it failed to build
    program (the Makefile keeps them in program.log), indented, escaped
    and cut; "" when it said nothing or the log is not there."""
    try:
        text = Path(f"{program}.log").read_bytes().decode(errors="replace")
    except OSError:
        return ""
    said = [line.rstrip() for line in text.splitlines() if line.strip()]
    shown = []
    for line in said[:lines]:
        line = "".join(c if c.isprintable() or c == "\t" else
                       f"\\x{ord(c):02x}" for c in line)
        shown.append("    " + (line if len(line) <= width else
                               line[:width - 3] + "..."))
    if len(said) > lines:
        log = Path(f"{program}.log")
        if log.is_relative_to(BUILD.parent):
            log = log.relative_to(BUILD.parent)
        shown.append(f"    ... ({len(said) - lines} more lines in {log})")
    return "\n".join(shown)


def source_of(code_dir, name):
    """The C source that the program name in code_dir was built from:
    name.c beside it (where a build of the corpus puts it), or the file
    that the Makefile built BUILD/DIR/name from, DIR/name.c; None when
    neither is there."""
    code_dir = Path(code_dir)
    beside = code_dir / f"{name}.c"
    if beside.is_file():
        return beside
    try:
        relative = code_dir.resolve().relative_to(BUILD.resolve())
    except ValueError:
        return None
    source = ROOT / relative / f"{name}.c"
    return source if source.is_file() else None


def shown_path(path):
    """A path as a learner names it: from the lab's top when it is in the
    lab (lessons/05-read-write/server.c), else whole."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT.resolve()))
    except ValueError:
        return str(path)


# -- builds with sanitizers ---------------------------------------------------

# A lab program built with AddressSanitizer and UndefinedBehaviorSanitizer
# (a build of its own, never the one make check runs): a read or write
# outside a buffer stops it with a report on stderr, even one that changes
# nothing a run can see.  The build is kept under BUILD/sanitized/, named by
# the content it is made of, so that it is compiled once per version of the
# source (a tenth of a second with gcc).  -O0: each local variable stays in
# memory, between red zones, and the build takes a third of -O1's time.
SANITIZER_FLAGS = ["-std=c11", "-O0", "-g", "-fno-omit-frame-pointer",
                   "-fsanitize=address,undefined"]
# Leak checking needs ptrace, which containers often refuse; and a report
# that a server prints must not be lost if it runs on.
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
                 "UBSAN_OPTIONS": "print_stacktrace=1"}
SANITIZED = BUILD / "sanitized"


def sanitizer_compiler():
    """The compiler of the sanitized builds, as the file it is (cc is a
    link to gcc, found through whatever PATH: the same compiler, the same
    builds)."""
    found = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    return os.path.realpath(found) if found else None


def _sanitizer_inputs():
    trace = ROOT / "trace"
    return [trace / "trace.c", *sorted(trace.glob("*.def")),
            *sorted((trace / "include").rglob("*.h"))]


def sanitized_key(source):
    """The name of the sanitized build of source: what it is made of."""
    import hashlib
    digest = hashlib.sha256()
    for part in [str(sanitizer_compiler()), *SANITIZER_FLAGS]:
        digest.update(part.encode() + b"\0")
    for path in [Path(source), *_sanitizer_inputs()]:
        digest.update((read_if_there(path) or b"") + b"\0")
    return digest.hexdigest()[:24]


def sanitizers_work():
    """Whether this machine builds and runs sanitized programs (the
    compiler has the runtime libraries, the kernel lets them map their
    shadow memory)."""
    return sanitized_runner() is not None


def sanitized_runner():
    """The command to run a sanitized program with: without address space
    layout randomisation (setarch -R), where that is allowed, so that the
    program finds its memory laid out the same way every run; or as it is
    (a container may refuse setarch's personality(2)); None when no
    sanitized program builds or runs here.  Found once per build directory
    (BUILD/sanitized/works), by a program that does nothing."""
    said = SANITIZED / "works"
    known = read_if_there(said)
    if known is not None:
        return None if known == b"no" else \
            no_aslr() if known == b"setarch" else []
    SANITIZED.mkdir(parents=True, exist_ok=True)
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=SANITIZED))
    found = b"no"
    try:
        (probe / "p.c").write_text("int main(void) { return 0; }\n")
        compiler = sanitizer_compiler()
        if compiler is not None and subprocess.run(
                [compiler, *SANITIZER_FLAGS, "p.c", "-o", "p"], cwd=probe,
                capture_output=True, timeout=120).returncode == 0:
            for how, prefix in ((b"setarch", no_aslr()), (b"plain", [])):
                if prefix is not None and subprocess.run(
                        [*prefix, str(probe / "p")],
                        env={**os.environ, **SANITIZER_ENV},
                        capture_output=True, timeout=60).returncode == 0:
                    found = how
                    break
    except (OSError, subprocess.SubprocessError):
        pass
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    # Named per thread: the server and the client are built at once, in
    # two threads of one process, and both may find the answer unknown.
    partial = SANITIZED / f".works.{os.getpid()}.{threading.get_ident()}"
    partial.write_bytes(found)
    os.replace(partial, said)
    return sanitized_runner()


def no_aslr():
    """setarch -R, which runs a program without address space layout
    randomisation; None where there is no setarch."""
    setarch = shutil.which("setarch")
    return [setarch, os.uname().machine, "-R"] if setarch else None


COMPILE_TIMEOUT = 120  # seconds, for one program


def _compiled(argv, out):
    """Runs the compiler argv (from the lab's top), writing out through a
    file of its own renamed into place: (out, None) or (None, what the
    compiler said).  Several suites may build the same file at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.parent / f".{out.name}.{os.getpid()}"
    done = subprocess.run([*argv, "-o", str(partial)], cwd=ROOT,
                          capture_output=True, text=True,
                          timeout=COMPILE_TIMEOUT)
    if done.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        return None, done.stderr.strip()[:2000] or "the compiler failed"
    os.replace(partial, out)
    return out, None


def sanitized(source):
    """The program built from source with the sanitizers, linked with the
    trace (compiled by the same compiler, without them: the trace's own
    work stays out of the way, and a run with a byte per read stays
    quick): (its path, None), or (None, why there is none).  Built once per
    content; a second caller in this process (sanitized_soon's thread, a
    check) waits for the first one's compile instead of making its own."""
    if not sanitizers_work():
        return None, "this machine cannot build or run sanitized programs"
    source = Path(source)
    out = SANITIZED / sanitized_key(source) / source.stem
    if out.exists():
        return out, None
    trace = SANITIZED / f"trace-{sanitized_key(ROOT / 'trace' / 'trace.c')}.o"
    with _building(trace):
        if not trace.exists():
            made, said = _compiled([sanitizer_compiler(), "-Itrace",
                                    "-Itrace/include", "-std=c11", "-O2",
                                    "-c", "trace/trace.c"], trace)
            if made is None:
                return None, said
    with _building(out):
        if out.exists():
            return out, None
        # From the lab's top, as make compiles: the trace names the source
        # as the learner does (lessons/05-read-write/server.c).
        return _compiled([sanitizer_compiler(), "-Itrace/include",
                          *SANITIZER_FLAGS, shown_path(source), str(trace)],
                         out)


_locks = {}  # what this process is building: its path -> a lock
_locks_lock = threading.Lock()


def _building(out):
    with _locks_lock:
        return _locks.setdefault(out, threading.Lock())


def sanitized_soon(sources):
    """Starts building the sanitized programs of sources in a thread of
    their own, while the checks before the ones that run them go on: a
    learner's first make check after an edit need not wait for the
    compiler at the check that needs one.  Returns the thread."""
    def build():
        for source in sources:
            with contextlib.suppress(Exception):
                sanitized(source)
    thread = threading.Thread(target=build, daemon=True)
    thread.start()
    return thread


class Collector:
    """Reads JSON trace lines from a FIFO that every lab process appends to.

    Each line is written with one write(2) of less than PIPE_BUF bytes, so
    lines from several processes never interleave.
    """

    def __init__(self, fifo, copy_to=None):
        self.fifo = fifo
        os.mkfifo(fifo)
        # Opened read-write: never blocks, and never sees end of file.
        self.fd = os.open(fifo, os.O_RDWR)
        self.events = []
        # Where each process's events are, and each call's, in events: a
        # check asks for one process's reads again and again while a
        # program makes thousands of calls.
        self.by_pid, self.by_call = {}, {}
        self.read_lines = 0  # every line of trace read, kept or not
        self.cond = threading.Condition()
        self.writing = threading.Lock()  # the marks' writes, and the close
        self.marks = set()
        # Processes whose bytes moved are not kept, only their other
        # events (Lab.start(..., data=False)): '"pid":N,' of each.
        self.no_data = set()
        self.closed = False
        self.copy = open(copy_to, "a", encoding="utf-8") if copy_to else None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        pending = b""
        while True:
            pending += os.read(self.fd, 65536)
            *lines, pending = pending.split(b"\n")
            self.read_lines += sum(not line.startswith(b"#")
                                   for line in lines)
            # One wake-up for what one read brought: a program that floods
            # the trace must not make every waiter look at every line.
            with self.cond:
                try:
                    for line in lines:
                        if line == b"#stop":
                            return
                        if line.startswith(b"#mark "):
                            self.marks.add(line)
                        elif self.no_data and self._data_of_no_data(line):
                            continue
                        elif line.strip():
                            try:
                                event = json.loads(line)
                                self.by_pid.setdefault(
                                    event.get("pid"), []).append(
                                        len(self.events))
                                self.by_call.setdefault(
                                    event.get("call"), []).append(
                                        len(self.events))
                            except (ValueError, AttributeError, TypeError):
                                continue  # not a line of the trace
                            self.events.append(event)
                            if self.copy:
                                self.copy.write(line.decode() + "\n")
                finally:
                    if self.copy:
                        self.copy.flush()
                    self.cond.notify_all()

    DATA = tuple(b'"event":"return","call":"%s"' % call
                 for call in (b"read", b"write", b"recv", b"send"))

    def _data_of_no_data(self, line):
        """Whether a line is a read, write, recv or send that returned, of a
        process whose bytes are not kept (its waits are, and its failures,
        but for EAGAIN, which a loop on a non-blocking socket meets by the
        thousand)."""
        head = line[:120]
        return any(p in head for p in self.no_data) and \
            any(d in head for d in self.DATA) and \
            (b'"ret":-1,' not in line or b'"errno":"EAGAIN"' in line)

    def sync(self):
        """Returns once every line written before this call has been read
        (at once once the collector is closed: nothing more is read)."""
        mark = b"#mark %d" % time.monotonic_ns()
        # Written without holding cond: with the FIFO full (programs that
        # flood the trace), the write waits until the reading thread,
        # which needs cond, has made room.
        with self.writing:
            if self.closed:
                return
            os.write(self.fd, mark + b"\n")
        with self.cond:
            self.cond.wait_for(lambda: mark in self.marks or self.closed,
                               timeout=10)

    def close(self):
        with self.writing:
            if self.closed:
                return
            os.write(self.fd, b"#stop\n")
        self.thread.join(timeout=10)
        with self.writing, self.cond:
            self.closed = True
            os.close(self.fd)
            self.cond.notify_all()
        if self.copy:
            self.copy.close()
        try:
            os.unlink(self.fifo)
        except FileNotFoundError:
            pass  # a program in the lab directory removed it


class Proc:
    """A lab program started by a Lab; its output goes to files."""

    def __init__(self, lab, name, args, popen, out, err):
        self.lab, self.name, self.args = lab, name, args
        self.role = name  # its LAB_ROLE, which Lab.start may set otherwise
        self.popen, self.pid = popen, popen.pid
        self._out, self._err = out, err
        self.exited = False  # set once the process and its trace are done
        self.stopped_with = None  # the signal Lab.stop last sent, if any
        self.under = False  # run under another program (Lab.start's under)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        self.popen.wait()
        self.lab.collector.sync()
        with self.lab.collector.cond:
            self.exited = True
            self.lab.collector.cond.notify_all()

    @property
    def returncode(self):
        return self.popen.returncode

    def wait(self, timeout=WAIT):
        """Waits for the exit; returns the status, or None if still running."""
        with self.lab.collector.cond:
            self.lab.collector.cond.wait_for(lambda: self.exited, timeout)
            return self.popen.returncode if self.exited else None

    # The output files live in the lab directory, where the program runs:
    # a program that deletes files there must not make its reader crash.
    @property
    def stdout_bytes(self):
        return read_if_there(self._out) or b""

    @property
    def stderr_bytes(self):
        return read_if_there(self._err) or b""

    @property
    def stdout(self):
        return self.stdout_bytes.decode(errors="replace")

    @property
    def stderr(self):
        return self.stderr_bytes.decode(errors="replace")

    def asleep(self, timeout=WAIT):
        """Waits until the process sleeps in the kernel (state S).

        A "wait" event is written just before the call that blocks; a
        signal sent between the two would not interrupt that call. Once the
        process sleeps, it is inside the call.  A process in a loop that
        moves nothing (its trace's last event is a run still counting:
        "repeat", not final) never sleeps: False at once.
        """
        deadline = time.monotonic() + timeout
        pause = 0.0
        cpu = cpu_seconds(self.pid)
        traced = self.lab.collector.read_lines
        while time.monotonic() < deadline:
            if self.lab.spinning(self) or \
                    self.computes(cpu, traced):
                return False
            state = process_state(self.pid)[0]
            if state == "S":
                return True
            # Ended (and waited for: gone); or stopped (SIGSTOP: a fault
            # rule, or frozen by a check), when it cannot reach a call
            # until it is continued.
            if state in (None, "Z", "X", "T"):
                return False
            # A process about to sleep is there within microseconds; one
            # that computes is looked at less and less often.
            if pause:
                time.sleep(pause)
            else:
                os.sched_yield()
            pause = min(max(pause * 2, 0.0001), 0.002)
        return False

    def computes(self, cpu_before, traced_before):
        """Whether the process has run on a CPU for COMPUTING seconds since
        cpu_before (cpu_seconds) without a line of trace from anyone since
        traced_before (Collector.read_lines): a loop that makes no call
        (for (;;);), which never sleeps.  A lab program reaches its next
        call in microseconds, however loaded the machine: the time it waits
        for a CPU is not counted.  Under another program (valgrind), which
        may compute for long before the program's first call: never."""
        now = cpu_seconds(self.pid)
        return not self.under and cpu_before is not None and \
            now is not None and \
            now - cpu_before >= COMPUTING and \
            self.lab.collector.read_lines == traced_before

    def signal(self, sig):
        try:
            if not self.has_exited():
                self.popen.send_signal(sig)
        except ProcessLookupError:
            pass  # it ended meanwhile

    def has_exited(self):
        """Whether the process has ended, asked of the kernel itself.

        Popen.poll() cannot say while the watcher thread waits for the
        process (it then answers None, "running", for a process that has
        exited); waitid with WNOWAIT looks without reaping.
        """
        if self.exited:
            return True
        try:
            found = os.waitid(os.P_PID, self.pid,
                              os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True  # reaped already: the watcher is finishing
        return found is not None

    def describe(self):
        """How the process ended, or that it runs; for a process the lab
        stopped itself (Lab.stop), how it was stopped and how it ended."""
        who = f"{self.name} (pid {self.pid})"
        if not self.has_exited():
            return f"{who} is still running"
        self.wait(WAIT)  # the watcher reaps it at once: its status
        rc = self.popen.returncode
        if rc is None:
            return f"{who} has ended, with a status not known yet"
        ended = f"exited with status {rc}" if rc >= 0 else \
            f"was killed by {signal_name(-rc)}"
        if self.stopped_with is None:
            return f"{who} {ended}"
        how = f"the check stopped it with {signal_name(self.stopped_with)}"
        if self.stopped_with == signal.SIGKILL:
            return f"{who} was still running when the check ended, and " \
                   f"the check killed it (SIGKILL)"
        return f"{who} was still running when the check ended: {how}, " \
               f"and it {ended}"


# Programs of the lab's own that a lesson's steps start beside the lesson's
# programs: the silent client of the step "connect" (trace/silent.c).
PEERS = {"silent": "trace/silent"}


class Family:
    """A lab program and the processes it forked (children, grandchildren),
    as the trace shows them: what a forking server does, it does in its
    children too.  It stands for the program where a Proc does: lab.events,
    wait_for and the rest match the events of every process of the family.

    A child is known by the fork event of its parent (its pid is fork's
    result), or by its own (fork returned 0 in a process whose role is the
    program's, then "/": "server/child"), which it reports first; a trace
    without fork events makes any process with such a role, or the
    program's own (a forked child keeps LAB_ROLE), that the lab did not
    start itself, a child.
    """

    def __init__(self, proc):
        self.proc, self.pid, self.name = proc, proc.pid, proc.name
        self.role = proc.role
        self._known, self._seen, self._by_role = {proc.pid}, 0, set()
        self._forks = False  # whether the trace has fork events

    @property
    def exited(self):
        return self.proc.exited

    def has_exited(self):
        return self.proc.has_exited()

    def pids(self):
        """The pids of the family so far.  Each event is looked at once:
        this is asked again for each new event of a long trace."""
        found = self.proc.lab.collector.events
        if self._seen == len(found):
            return self._known if self._forks else \
                self._known | self._by_role
        started = {p.pid for p in self.proc.lab.procs}
        for e in found[self._seen:]:
            mine = e["role"] == self.role or \
                e["role"].startswith(self.role + "/")
            if e["call"] == "fork":
                self._forks = True
                if e["pid"] in self._known and \
                        isinstance(e.get("ret"), int) and e["ret"] > 0:
                    self._known.add(e["ret"])
                elif e.get("ret") == 0 and mine:
                    # The child's own report, which may come before its
                    # parent's: it is the child's first event.
                    self._known.add(e["pid"])
            elif e["pid"] not in started and mine:
                self._by_role.add(e["pid"])
        self._seen = len(found)
        return self._known if self._forks else self._known | self._by_role

    def children(self):
        """The pids of the family but the program's own."""
        return self.pids() - {self.pid}


class Lab:
    """A directory to run lab programs in, with their trace collected.

    code_dir holds the built programs (build/lessons/04-accept-connect, say).
    With quiet=True the person-readable trace is off and each program's
    output goes to files; otherwise everything goes to the terminal.
    """

    def __init__(self, code_dir, quiet=True, workdir=None, keep_trace=None):
        self.code_dir = Path(code_dir)
        self.quiet = quiet
        if workdir:
            self.dir, self.own_dir = Path(workdir), False
            self.dir.mkdir(parents=True, exist_ok=True)
        else:
            # A short path (sun_path holds only 107 bytes), in memory.
            self.dir = scratch_dir(parent=RUN_PARENT)
            self.own_dir = True
        self.collector = Collector(self.dir / ".trace.fifo", keep_trace)
        self.procs = []
        self.peers = []  # Python sockets of connect(), listen(), accept()

    # -- running programs ----------------------------------------------

    def program(self, name):
        if name in PEERS:
            return BUILD / PEERS[name]
        path = self.code_dir / name
        if not path.exists():
            source = Path(*self.code_dir.relative_to(BUILD).parts) / f"{name}.c"
            kind = not_a_file(ROOT / source)
            if kind:
                raise FileNotFoundError(
                    f"{source} is not a file: it is {kind}. Your code of the "
                    "lesson goes in a file of that name.")
            if not os.path.lexists(ROOT / source):  # an old log says nothing
                reset = f": make reset N={source.parts[1][:2]} puts back " \
                    "the starter code" if source.parts[0] == "lessons" else ""
                raise FileNotFoundError(f"{source} is not there{reset}.")
            said = compiler_messages(path)
            if said:
                raise FileNotFoundError(
                    f"{source} does not compile. The compiler's first "
                    f"messages:\n{said}")
            raise FileNotFoundError(
                f"{source} has not been built: it does not exist, or it was "
                "never compiled.")
        return path

    def env(self, role, extra=None):
        env = dict(os.environ)
        env["LAB_TRACE_FILE"] = str(self.collector.fifo)
        env["LAB_ROLE"] = role
        if self.quiet:
            env["LAB_TRACE"] = "0"
            env["NO_COLOR"] = "1"
        env.update(extra or {})
        return env

    def command(self, name, args, n):
        """The command line of the n-th program started (a hook: the strace
        comparison runs each program under strace)."""
        return [str(self.program(name)), *map(str, args)]

    def start(self, name, *args, stdin=b"", role=None, env=None, under=(),
              group=None, program=None, data=True):
        """Starts a program in the lab directory; stdin is bytes, None, or
        a socket (its end for the program, closed here once the program has
        it: the program's reads of a socket are traced, a file's are not).

        under is a command to run it with, such as valgrind and its options;
        group, the process group to put it in (0: a new one of its own);
        program, another build of it to run instead (a sanitized one);
        data=False keeps none of its reads and writes that returned (a run
        of many small ones that no check looks at), only its other events
        and the calls that failed (but for EAGAIN).
        """
        n = len(self.procs)
        argv = [*under, *([str(program), *map(str, args)] if program else
                          self.command(name, args, n))]
        inp = subprocess.DEVNULL
        if stdin is None:
            inp = None
        elif hasattr(stdin, "fileno"):
            inp = stdin
        elif stdin:
            path = self.dir / f".stdin-{n}"
            path.write_bytes(stdin)
            inp = open(path, "rb")
        out = err = None
        if self.quiet:
            out, err = self.dir / f".out-{n}", self.dir / f".err-{n}"
            outf, errf = open(out, "wb"), open(err, "wb")
        else:
            outf = errf = None
        grouped = {} if group is None else in_process_group(group)
        popen = subprocess.Popen(argv, cwd=self.dir, stdin=inp, stdout=outf,
                                 stderr=errf, env=self.env(role or name, env),
                                 **grouped)
        if not data:
            with self.collector.cond:
                self.collector.no_data.add(b'"pid":%d,' % popen.pid)
        for f in (inp, outf, errf):
            if hasattr(f, "close"):
                f.close()
        proc = Proc(self, name, args, popen, out, err)
        proc.role = role or name
        proc.under = bool(under)
        self.procs.append(proc)
        return proc

    def run(self, name, *args, stdin=b"", timeout=WAIT, role=None, env=None,
            under=(), program=None):
        """Runs a program to its end; stops it if it outlives timeout."""
        proc = self.start(name, *args, stdin=stdin, role=role, env=env,
                          under=under, program=program)
        if proc.wait(timeout) is None:
            self.stop(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=2.0 * SCALE):
        """Asks a program to stop with sig; kills it if it does not.

        The signal is sent once the program sleeps in a call: one that came
        just before a blocking call would be noted by the lab's servers but
        would not interrupt it.
        """
        if proc.has_exited():
            return proc.wait(timeout)
        # Stopped (SIGSTOP: a fault rule), it would take the signal only
        # once continued: it goes on to its next call first.  A rule may
        # stop it again on its way there.
        for _ in range(4 if sig != signal.SIGKILL else 0):
            if process_state(proc.pid)[0] == "T":
                proc.signal(signal.SIGCONT)
                deadline = time.monotonic() + timeout
                while process_state(proc.pid)[0] == "T" and \
                        time.monotonic() < deadline:
                    time.sleep(0.0002)
            if proc.asleep(timeout) or process_state(proc.pid)[0] != "T":
                break
        proc.stopped_with = sig
        proc.signal(sig)
        if process_state(proc.pid)[0] == "T":
            proc.signal(signal.SIGCONT)
        if sig != signal.SIGKILL and proc.wait(timeout) is None:
            proc.stopped_with = signal.SIGKILL
            proc.signal(signal.SIGKILL)
        proc.wait(10)
        return proc.returncode

    def connect(self, name="lab.sock", timeout=WAIT):
        """A Python client of the socket file name in the lab directory:
        (the connected socket, None), or (None, the OSError of connect).
        Every call on the socket is bounded by timeout (socket.timeout)."""
        import socket
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.settimeout(timeout)
        try:
            peer.connect(str(self.dir / name))
        except OSError as e:
            peer.close()
            return None, e
        self.peers.append(peer)
        return peer, None

    def listen(self, name="lab.sock", timeout=WAIT):
        """A Python server socket, bound to name in the lab directory and
        listening; accept and every call on what it returns are bounded by
        timeout.  Its file is removed with the lab directory."""
        import socket
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.settimeout(timeout)
        self.peers.append(peer)
        peer.bind(str(self.dir / name))
        peer.listen(5)
        return peer

    def accept(self, listener):
        """accept on a listener from listen(): the connection, with the
        listener's timeout, or None when no client came in time."""
        try:
            conn, _ = listener.accept()
        except OSError:
            return None
        conn.settimeout(listener.gettimeout())
        self.peers.append(conn)
        return conn

    def family(self, proc):
        """The program proc and every process it forked (Family)."""
        return Family(proc)

    def close(self):
        for peer in self.peers:
            peer.close()
        try:
            # What still runs is past what anyone looks at: a program that
            # takes a stop signal and goes on (its handler installed with
            # SA_RESTART, say) is not waited for as a check would wait.
            # One that blocks or ignores the stop signal is not asked.
            for proc in self.procs:
                if proc.popen.poll() is None:
                    held = holds_off(proc.pid, signal.SIGTERM)
                    self.stop(proc, signal.SIGKILL if held else
                              signal.SIGTERM, timeout=WAIT / 4)
        finally:
            for proc in self.procs:  # whatever happened: nothing left behind
                if proc.popen.poll() is None:
                    proc.popen.kill()
                proc.popen.wait()
            self.sweep()
            self.collector.close()
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def sweep(self):
        """Kills what the lab's programs forked and left running: each
        such process holds the trace's FIFO, which it inherited.  Looked
        for only when the trace shows a process the lab did not start."""
        started = {p.pid for p in self.procs}
        with self.collector.cond:
            forked = any(e["pid"] not in started
                         for e in self.collector.events)
        if not forked:
            return
        for pid in processes_holding(self.collector.fifo):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading the trace -----------------------------------------------

    def spinning(self, proc):
        """Whether proc (a Proc, or a pid) is in a run of like calls that
        moves nothing (an end-of-file loop, a call retried on the same
        error): the last event of its trace is a "repeat" event of a run
        that goes on.  Such a process never sleeps; a signal can be sent
        at once."""
        pid = getattr(proc, "pid", proc)
        with self.collector.cond:
            found = self.collector.events
            for e in reversed(found[-200:]):
                if e["pid"] == pid:
                    return e["event"] == "repeat" and not e.get("final")
        return False

    @staticmethod
    def _matcher(call, proc, event, match):
        """A test of one event: call is a name or a collection of names
        (("read", "recv"): either)."""
        calls = None if call is None else \
            {call} if isinstance(call, str) else set(call)

        def matches(e):
            return ((calls is None or e["call"] in calls)
                    and (proc is None or e["pid"] == proc.pid or
                         isinstance(proc, Family) and e["pid"] in proc.pids())
                    and (event is None or e["event"] == event)
                    and all(e.get(k) == v for k, v in match.items()))
        return matches

    def _candidates(self, call, proc):
        """The events that may be of call (or one of calls) and of proc, in
        the order traced: those of the smaller of the collector's indexes
        that apply (by_call, by_pid), or all.  Asked under its lock."""
        found, options = self.collector.events, []
        if call is not None:
            names = [call] if isinstance(call, str) else set(call)
            options.append([self.collector.by_call.get(n, ()) for n in names])
        if proc is not None and not isinstance(proc, Family):
            options.append([self.collector.by_pid.get(proc.pid, ())])
        if not options:
            return list(found)
        best = min(options, key=lambda lists: sum(map(len, lists)))
        if len(best) == 1:
            return [found[i] for i in best[0]]
        return [found[i] for i in sorted(i for at in best for i in at)]

    def events(self, call=None, proc=None, event="return",
               where=lambda e: True, **match):
        """The events so far, filtered by call name (or names), process,
        fields, and where (as wait_for and made filter)."""
        with self.collector.cond:
            found = self._candidates(call, proc)
        matches = self._matcher(call, proc, event, match)
        return [e for e in found if matches(e) and where(e)]

    def made(self, call=None, proc=None, where=lambda e: True, **match):
        """The calls made, each process's in the order it made them, with
        the calls a run of like calls hid from the JSON put back: a
        "repeat" event stands for `repeat` calls (trace/TRACE.md, "Runs"),
        each given here as a "return" event of its own, with the run's ret
        and errno and "hidden": True.  Filtered as events() filters; every
        call has a ret that is a number."""
        matches = self._matcher(call, None, "return", match)
        return [e for e in tracetext.made(self._of(call, proc))
                if matches(e) and where(e)]

    def _of(self, call, proc):
        """The events of proc's (or every) process whose call is call (or
        one of calls): a run's copies are made of its own events alone, so
        the others need not be expanded (a loop may hide millions)."""
        matches = self._matcher(call, proc, None, {})
        with self.collector.cond:
            return [e for e in self._candidates(call, proc) if matches(e)]

    def calls(self, call=None, proc=None, where=lambda e: True):
        """How many calls were made, counting those a run of like calls
        hid ("repeat" events: trace/TRACE.md, "Runs"), without making a
        copy of each."""
        count = 0
        for e in self._of(call, proc):
            if e["event"] == "return" and where(e):
                count += 1
            elif e["event"] == "repeat" and \
                    where(dict(e, event="return", hidden=True)):
                count += e["repeat"]
        return count

    def wait_for(self, call, proc=None, event="return", timeout=WAIT,
                 where=lambda e: True, **match):
        """Waits until a matching event is traced, and returns it.

        Returns None when it does not come: proc ended without it, or
        timeout seconds passed.  Each event is looked at once, so a
        program that floods the trace does not slow the wait down.
        """
        matches = self._matcher(call, proc, event, match)
        seen = 0

        def ready():
            nonlocal seen
            found = self.collector.events
            for e in found[seen:]:
                if matches(e) and where(e):
                    return e
            seen = len(found)
            return None

        return self._wait(ready, proc, timeout)

    def wait_until(self, condition, proc=None, timeout=WAIT, every=None):
        """Waits until condition() is true (it is asked again after each
        new event, and every `every` seconds if given: for a condition
        that reads /proc, whose changes no event announces), and returns
        its value; None once proc has ended or timeout seconds have passed
        with it still false."""
        return self._wait(lambda: condition() or None, proc, timeout, every)

    def _wait(self, ready, proc, timeout, every=None):
        cond = self.collector.cond
        deadline = time.monotonic() + timeout
        with cond:
            while True:
                ended = proc is not None and proc.exited
                found = ready()
                if found is not None or ended:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                cond.wait(min(remaining, every or remaining))


# -- a lesson's steps (lessons/lessons.json) ----------------------------------

class StepFailed(Exception):
    pass


def say(text, bold=("", "")):
    print(f"{bold[0]}==> {text}{bold[1]}", flush=True)


def cpu_seconds(pid):
    """The time process pid has run on a CPU (the first field of
    /proc/PID/schedstat), or None once it has gone."""
    text = read_if_there(f"/proc/{pid}/schedstat")
    try:
        return int(text.split()[0]) / 1e9
    except (AttributeError, ValueError, IndexError):
        return None


def process_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z...), and the parent's
    pid; (None, None) once the process has gone.  A process that waits
    for room in the trace's FIFO (the collector is behind, on a loaded
    machine) is said to run (R): it sleeps in no call of its own yet."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None, None
    fields = stat[stat.rindex(b")") + 2:].split()
    state = fields[0].decode()
    if state == "S" and writes_its_trace(pid):
        state = "R"
    return state, int(fields[1])


TRACE_FDS = 200  # the trace keeps its own descriptors here and above


def writes_its_trace(pid):
    """Whether process pid sleeps in a write to a pipe or FIFO (/proc/PID/
    wchan) on one of the trace's own descriptors (/proc/PID/syscall)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            if "pipe_write" not in f.read():
                return False
        with open(f"/proc/{pid}/syscall") as f:
            return int(f.read().split()[1], 16) >= TRACE_FDS
    except (OSError, ValueError, IndexError):
        return False


def signal_masks(pid):
    """The signal masks of /proc/PID/status (SigPnd, ShdPnd, SigBlk,
    SigIgn, SigCgt: bit N-1 for signal N) as integers, or None once the
    process has gone."""
    status = read_if_there(f"/proc/{pid}/status")
    if status is None:
        return None
    masks = {}
    for line in status.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.startswith("Sig") or key == "ShdPnd":
            try:
                masks[key] = int(value.strip(), 16)
            except ValueError:
                pass
    return masks


def pending_signals(pid):
    """The signals pending for process pid, its own and its process's
    (SigPnd | ShdPnd, bit N-1 for signal N); None once it has gone."""
    masks = signal_masks(pid)
    if masks is None:
        return None
    return masks.get("SigPnd", 0) | masks.get("ShdPnd", 0)


def holds_off(pid, sig):
    """Whether process pid blocks or ignores signal sig: sent, it would
    change nothing (until unblocked)."""
    masks = signal_masks(pid) or {}
    return bool((masks.get("SigBlk", 0) | masks.get("SigIgn", 0)) &
                1 << (sig - 1))


def descendants(pid):
    """The pids of pid's children, grandchildren..., as /proc shows them
    now (a zombie is still there, until it is reaped): each thread's
    children, from /proc/PID/task/TID/children, or, on a kernel without
    that file, from the parent of every process in /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = _children(parent)
        if children is None:
            return _descendants_by_scan(pid)
        found += children
        todo += children
    return found


def _children(pid):
    """pid's children; [] once it has gone; None where /proc cannot say
    (a kernel built without CONFIG_PROC_CHILDREN)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                children += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            if os.path.exists(f"/proc/{pid}/task/{tid}"):
                return None  # the thread is there, its file is not
        except OSError:
            continue  # the thread has ended meanwhile
    return children


def _descendants_by_scan(pid):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            _, ppid = process_state(entry)
            if ppid is not None:
                parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def settle(lab, proc, timeout=WAIT, while_spinning=False):
    """Lets a server that serves in a loop finish with its last client.

    Stopped at once, it could be anywhere in its last close(2); once it
    and every child it has forked sleep in a call (in accept, poll or
    read: waiting for the next client, or for a client still connected),
    and no child has ended without being reaped, the trace (and a picture
    drawn from it) ends the same way every time.  A server in a loop that
    moves nothing (Lab.spinning) never sleeps: it is not waited for,
    unless while_spinning (make lesson lets the loop be seen a while).
    """
    if not lab.events(ACCEPTS, proc=proc, event=None):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not proc.has_exited() and \
            (while_spinning or not lab.spinning(proc)):
        states = [process_state(pid)[0]
                  for pid in [proc.pid, *descendants(proc.pid)]]
        if all(state in ("S", None) for state in states):
            lab.collector.sync()
            return
        time.sleep(0.001)


def connect_silent(lab, server):
    """Starts the silent client (trace/silent.c), which connects and sends
    nothing, until the server ends the connection or it is stopped.
    Returns (the client, None) once the server has accepted it and waits
    again, or (the client or None, why not)."""
    try:
        silent = lab.start("silent", "lab.sock", stdin=None)
    except FileNotFoundError as e:
        return None, str(e)
    connected = lab.wait_for("connect", proc=silent)
    if connected is None or connected["ret"] != 0:
        return silent, f"it could not connect; {silent.describe()}"
    if lab.wait_for(ACCEPTS, proc=server, where=lambda e: e["ret"] >= 0
                    and e["ts"] > connected["start"]) is None:
        return silent, f"the {server.name} did not accept it within " \
            f"{WAIT:g} s"
    settle(lab, server)
    return silent, None


def run_steps(lab, code, lesson, bold=("", "")):
    """Runs the lesson's steps; raises StepFailed with advice if one fails."""
    background = []
    check = f"make check N={manifest.number(lesson['id'])}" \
        if code == "lessons" else "make test"
    for step in lesson["steps"]:
        kind, args = step[0], step[1:]
        if kind in ("run", "start"):
            name, prog_args = args[0], args[1:]
            say(" ".join([f"./{name}", *prog_args]) +
                ("   (in the background)" if kind == "start" else ""), bold)
            try:
                if kind == "start":
                    background.append(lab.start(name, *prog_args, stdin=None))
                    continue
                proc = lab.run(name, *prog_args, stdin=None)
            except FileNotFoundError as e:
                raise StepFailed(str(e)) from None
            if proc.stopped_with is not None:
                raise StepFailed(
                    f"the {name} (pid {proc.pid}) was still waiting after "
                    f"{WAIT:g} s, and was stopped: the last lines of the "
                    f"trace above show what it, and the others, waited "
                    f"for; {check} checks it.")
            if proc.returncode != 0:
                raise StepFailed(f"{proc.describe()}. Its messages and the "
                                 f"trace above say why; {check} checks it.")
            # The servers finish with this client before the next step: a
            # poll server may otherwise take the next client's connect
            # before this one's close, and no two runs read the same.
            for server in background:
                if server.name not in PEERS:
                    settle(lab, server)
        elif kind == "wait":
            server = background[-1]
            if lab.wait_for(args[0], proc=server, ret=0) is None:
                raise StepFailed(
                    f"the {server.name} made no successful {args[0]}(2) "
                    f"call within {WAIT:g} s, and "
                    f"{server.describe()}. Is the TODO of this lesson done? "
                    f"{check} says what is missing.")
        elif kind == "stop":
            for proc in background:
                # A client of the lab's own ends when its server does.
                if proc.name in PEERS and proc.wait(WAIT) is not None:
                    say(proc.describe(), bold)
                    continue
                settle(lab, proc, while_spinning=True)
                say(f"kill -TERM {proc.pid}   (stop the {proc.name})", bold)
                lab.stop(proc)
        elif kind == "connect":
            say("./silent lab.sock   (in the background: a client of the "
                "lab's own, which connects and says nothing)", bold)
            silent, failed = connect_silent(lab, background[-1])
            if silent is not None:
                background.append(silent)
            if failed:
                raise StepFailed(f"the silent client: {failed}. {check}")
        elif kind == "wait-exit":
            for proc in background:
                if proc.wait(WAIT) is None:
                    raise StepFailed(f"{proc.describe()}: it should have "
                                     f"ended by itself. {check}")
                say(proc.describe(), bold)
        elif kind == "ls":
            say("ls -l", bold)
            entries = sorted(p for p in lab.dir.iterdir()
                             if not p.name.startswith("."))
            for p in entries:
                kind_letter = "s" if p.is_socket() else \
                    "d" if p.is_dir() else "-"
                print(f"    {kind_letter} {p.name}")
            if not entries:
                print("    (empty)")
        else:
            raise StepFailed(f"unknown step {step} in lessons/lessons.json")


def record_lesson(code, lesson_id, keep=None):
    """Runs a lesson's steps quietly: (all their events, the lesson)."""
    import contextlib
    import io
    lesson = manifest.lesson_by_id(lesson_id)
    if lesson is None:
        raise SystemExit(f"no lesson {lesson_id} in lessons/lessons.json")
    with Lab(BUILD / code / lesson_id, keep_trace=keep) as lab:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                run_steps(lab, code, lesson)
        except StepFailed as e:
            raise SystemExit(f"{code}/{lesson_id}: {e}") from None
        return lab.events(event=None), lesson


# -- one deliberate-error variant (lessons/errors.json) -----------------------

# A variant ends itself after 5 s (watchdog() in lessons/variant.h); the
# runner waits a little longer before it stops the variant.
VARIANT_TIMEOUT = 8.0 * SCALE
# A variant started by root that works as the user nobody says where
# (ordinary_user() in lessons/variant.h): that directory is its own.
ORDINARY_DIR = re.compile(r" in (/tmp/lab-nobody-[A-Za-z0-9]+)")


def processes_holding(path):
    """Pids of the processes (that we may look at) with path open."""
    import glob
    pids = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == str(path):
                pids.append(int(fd.split("/")[2]))
        except OSError:
            pass
    return sorted(set(pids) - {os.getpid()})


# A variant may declare what it needs from the kernel, "needs": "a user
# namespace" (it mounts a file system as an ordinary user): where the
# kernel refuses that, the variant is not run, and the reason is reported.
# The probe asks for a user namespace and a mount namespace as the user
# nobody when run by root, as the variants do (ordinary_user() in
# lessons/variant.h); it exits with the errno of unshare(2), 0 if allowed.
USERNS_PROBE = """
import ctypes, os
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
os._exit(ctypes.get_errno() if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
         else 0)
"""
USERNS_SETTINGS = ["/proc/sys/user/max_user_namespaces",
                   "/proc/sys/kernel/unprivileged_userns_clone",
                   "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"]


def user_namespace_refused():
    """Why the kernel refuses an ordinary user a user namespace, or None."""
    import errno
    done = subprocess.run([sys.executable, "-c", USERNS_PROBE],
                          capture_output=True, timeout=30)
    if done.returncode == 0:
        return None
    name = errno.errorcode.get(done.returncode, str(done.returncode))
    settings = []
    for path in USERNS_SETTINGS:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        settings.append(f"{path.replace('/proc/sys/', '').replace('/', '.')}"
                        f" = {value}")
    return (f"this kernel refuses an ordinary user a user namespace "
            f"(unshare(CLONE_NEWUSER) = -1 {name}; "
            f"{', '.join(settings) or 'no user namespace settings'}; "
            f"see user_namespaces(7))")


NEEDS = {"a user namespace": user_namespace_refused}


def unmet_need(variant):
    """Why this variant cannot run on this kernel, or None."""
    need = variant.get("needs")
    return None if need is None else NEEDS[need]()


class VariantResult:
    def __init__(self, variant, events, proc, output, problems,
                 skipped=None):
        self.variant, self.events, self.proc = variant, events, proc
        self.output = output  # what the variant printed (its files are gone)
        self.problems = problems
        self.skipped = skipped  # why it was not run here, or None
        self.ok = not problems

    def report(self):
        import tracetext as text
        v = self.variant
        lines = [f"{v['lesson']}/errors/{v['name']}: {v['meaning']}",
                 f"Expected: {manifest.outcome(v)}", "What differs:"]
        lines += [f"    {p}" for p in self.problems]
        lines.append("The trace showed:")
        shown = [x for _, xs in text.as_shown(text.in_causal_order(
            self.events)) for x in xs]  # as on stderr: runs counted
        for e in shown[-30:]:
            lines.append("    " + text.render(e))
        said = self.output.strip().splitlines()
        lines += [f"    it printed: {line}" for line in said[-8:]]
        return "\n".join(lines)


def run_variant(variant, quiet=True):
    """Runs one variant in a fresh directory and compares its outcome.

    quiet=False shows the variant's own trace and output on the terminal.
    A variant whose need the kernel refuses is not run: its result says
    why (skipped).
    """
    refused = unmet_need(variant)
    if refused:
        return VariantResult(variant, [], None, "", [], skipped=refused)
    code_dir = BUILD / "lessons" / variant["lesson"] / "errors"
    with Lab(code_dir, quiet=quiet) as lab:
        proc = lab.run(variant["name"], timeout=VARIANT_TIMEOUT)
        problems = []
        if proc.returncode != 0:
            problems.append(f"{proc.describe()}, not with status 0")
        events = lab.events(event=None)
        output = proc.stdout + proc.stderr
        problems += manifest.unmatched(events, variant["expect"])
        # What it printed is known only when its output went to files;
        # shown on the terminal (quiet=False), it is the reader's to see.
        problems += [f"it did not print what matches {wanted!r}"
                     for wanted in variant.get("prints", []) if quiet and
                     not re.search(wanted, proc.stdout + proc.stderr)]
        problems += [f"{e['call']} failed with {e['errno']} but the trace "
                     f"has no explanation for it (trace/explanations.def)"
                     for e in events if e.get("errno") and "explain" not in e
                     and e["event"] != "repeat"]  # said by the run's first
        left = sorted(p.name for p in lab.dir.iterdir()
                      if not p.name.startswith("."))
        if left:
            problems.append(f"left behind in its directory: {left}")
        pids = processes_holding(lab.collector.fifo)
        if pids:
            problems.append(f"left processes running: {pids}")
    left = [d for d in ORDINARY_DIR.findall(output) if os.path.exists(d)]
    if left:
        problems.append(f"left directories behind: {sorted(set(left))}")
    return VariantResult(variant, events, proc, output, problems)
