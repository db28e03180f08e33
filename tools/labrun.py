"""Run lab programs and collect their trace: shared by tools/lab.py and tests/.

A Lab owns a fresh directory, starts lab programs in it with LAB_TRACE_FILE
pointing at a FIFO, and reads every JSON trace line as it is written, so a
caller can wait for an event (the server's listen, say) instead of guessing
with sleeps.  Lab.close() stops what is still running and removes the
directory: nothing is left behind.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("LAB_BUILD", ROOT / "build"))
# Slower machines, valgrind or sanitizers: LAB_TIMEOUT_SCALE=5 waits longer.
SCALE = float(os.environ.get("LAB_TIMEOUT_SCALE", "1"))
WAIT = 2.0 * SCALE  # for an event that should come at once


def listed():
    """lessons/lessons.json: the lessons, in order, and which one is the demo."""
    with open(ROOT / "lessons" / "lessons.json", encoding="utf-8") as f:
        return json.load(f)


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
        self.cond = threading.Condition()
        self.marks = set()
        self.copy = open(copy_to, "a", encoding="utf-8") if copy_to else None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        pending = b""
        while True:
            pending += os.read(self.fd, 65536)
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line == b"#stop":
                    return
                with self.cond:
                    if line.startswith(b"#mark "):
                        self.marks.add(line)
                    elif line.strip():
                        event = json.loads(line)
                        self.events.append(event)
                        if self.copy:
                            self.copy.write(line.decode() + "\n")
                            self.copy.flush()
                    self.cond.notify_all()

    def sync(self):
        """Returns once every line written before this call has been read."""
        mark = b"#mark %d" % time.monotonic_ns()
        os.write(self.fd, mark + b"\n")
        with self.cond:
            self.cond.wait_for(lambda: mark in self.marks, timeout=10)

    def close(self):
        os.write(self.fd, b"#stop\n")
        self.thread.join(timeout=10)
        os.close(self.fd)
        if self.copy:
            self.copy.close()
        os.unlink(self.fifo)


class Proc:
    """A lab program started by a Lab; its output goes to files."""

    def __init__(self, lab, name, args, popen, out, err):
        self.lab, self.name, self.args = lab, name, args
        self.popen, self.pid = popen, popen.pid
        self._out, self._err = out, err
        self.exited = False  # set once the process and its trace are done
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

    @property
    def stdout(self):
        return self._out.read_text(errors="replace") if self._out else ""

    @property
    def stdout_bytes(self):
        return self._out.read_bytes() if self._out else b""

    @property
    def stderr(self):
        return self._err.read_text(errors="replace") if self._err else ""

    def asleep(self, timeout=WAIT):
        """Waits until the process sleeps in the kernel (state S).

        A "wait" event is written just before the call that blocks; a
        signal sent between the two would not interrupt that call. Once the
        process sleeps, it is inside the call.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{self.pid}/stat", "rb") as f:
                    stat = f.read()
            except (FileNotFoundError, ProcessLookupError):
                return False  # it has ended, and been waited for
            state = stat[stat.rindex(b")") + 2:][:1]
            if state == b"S":
                return True
            if state in (b"Z", b"X"):  # it has ended
                return False
            os.sched_yield()
        return False

    def signal(self, sig):
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(sig)
        except ProcessLookupError:
            pass  # it ended meanwhile

    def describe(self):
        rc = self.popen.poll()
        if rc is None:
            return f"{self.name} (pid {self.pid}) is still running"
        if rc < 0:
            return f"{self.name} (pid {self.pid}) was killed by " \
                   f"{signal.Signals(-rc).name}"
        return f"{self.name} (pid {self.pid}) exited with status {rc}"


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
            # /tmp keeps paths short: sun_path holds only 107 bytes.
            self.dir = Path(tempfile.mkdtemp(prefix="lab-", dir="/tmp"))
            self.own_dir = True
        self.collector = Collector(self.dir / ".trace.fifo", keep_trace)
        self.procs = []

    # -- running programs ----------------------------------------------

    def program(self, name):
        path = self.code_dir / name
        if not path.exists():
            source = Path(*self.code_dir.relative_to(BUILD).parts) / f"{name}.c"
            raise FileNotFoundError(
                f"{source} has not been built: it does not compile (see the "
                f"compiler's messages from make above), or it does not exist.")
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

    def start(self, name, *args, stdin=b"", role=None, env=None, under=()):
        """Starts a program in the lab directory; stdin is bytes or None.

        under is a command to run it with, such as valgrind and its options.
        """
        n = len(self.procs)
        argv = [*under, *self.command(name, args, n)]
        inp = subprocess.DEVNULL
        if stdin is None:
            inp = None
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
        popen = subprocess.Popen(argv, cwd=self.dir, stdin=inp, stdout=outf,
                                 stderr=errf, env=self.env(role or name, env))
        for f in (inp, outf, errf):
            if hasattr(f, "close"):
                f.close()
        proc = Proc(self, name, args, popen, out, err)
        self.procs.append(proc)
        return proc

    def run(self, name, *args, stdin=b"", timeout=WAIT, role=None, env=None,
            under=()):
        """Runs a program to its end; stops it if it outlives timeout."""
        proc = self.start(name, *args, stdin=stdin, role=role, env=env,
                          under=under)
        if proc.wait(timeout) is None:
            self.stop(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=2.0 * SCALE):
        """Asks a program to stop with sig; kills it if it does not.

        The signal is sent once the program sleeps in a call: one that came
        just before a blocking call would be noted by the lab's servers but
        would not interrupt it.
        """
        proc.asleep()
        proc.signal(sig)
        if proc.wait(timeout) is None:
            proc.signal(signal.SIGKILL)
            proc.wait(10)
        return proc.returncode

    def close(self):
        try:
            for proc in self.procs:
                if proc.popen.poll() is None:
                    self.stop(proc)
        finally:
            for proc in self.procs:  # whatever happened: nothing left behind
                if proc.popen.poll() is None:
                    proc.popen.kill()
                proc.popen.wait()
            self.collector.close()
            if self.own_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading the trace -----------------------------------------------

    def events(self, call=None, proc=None, event="return", **match):
        """The events so far, filtered by call name, process, and fields."""
        with self.collector.cond:
            found = list(self.collector.events)
        return [e for e in found
                if (call is None or e["call"] == call)
                and (proc is None or e["pid"] == proc.pid)
                and (event is None or e["event"] == event)
                and all(e.get(k) == v for k, v in match.items())]

    def wait_for(self, call, proc=None, event="return", timeout=WAIT,
                 where=lambda e: True, **match):
        """Waits until a matching event is traced, and returns it.

        Returns None when it does not come: proc ended without it, or
        timeout seconds passed.
        """
        def ready():
            for e in self.events(call, proc, event, **match):
                if where(e):
                    return e
            return None

        cond = self.collector.cond
        deadline = time.monotonic() + timeout
        with cond:
            while True:
                found = ready()
                if found or (proc is not None and proc.exited):
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                cond.wait(remaining)


# -- showing events to people ---------------------------------------------

def render_value(value):
    if isinstance(value, dict):
        if "path" in value:
            return '{%s, "%s"}' % (value.get("family"), value["path"])
        if "abstract" in value:
            return '{%s, @"%s"}' % (value.get("family"), value["abstract"])
        return "{%s}" % value.get("family")
    return "NULL" if value is None else str(value)


def render(event):
    """One event as a line like the trace on stderr."""
    values = [json.dumps(v) if k == "path" else render_value(v)
              for k, v in event["args"].items()
              if k not in ("bound", "signal", "exit_status")]
    if event["call"] in ("read", "write", "recv", "send"):
        values.insert(1, "buf")  # the bytes follow the result
    args = ", ".join(values)
    head = f"[{event['role']} {event['pid']}] {event['call']}({args})"
    if event["event"] == "wait":
        text = f"{head} ... waiting"
    elif event["ret"] == -1:
        text = f"{head} = -1 {event['errno']} ({event.get('error', '')})"
    else:
        text = f"{head} = {event['ret']}"
        if "data" in event:
            text += " " + json.dumps(event["data"])
    note = f"  -> {event['note']}" if event.get("note") else ""
    return f"{text}  {event['file']}:{event['line']}{note}"


# Calls whose effect another process waits for: ordering them by the time
# they were entered, and every other call by the time it returned, puts a
# write before the read that receives it, whichever process printed first.
PRODUCERS = {"write", "send", "connect", "close", "shutdown"}


def causal_key(event):
    if event["event"] == "return" and event["call"] in PRODUCERS:
        return event.get("start", event["ts"])
    return event["ts"]


def in_causal_order(events):
    return sorted(events, key=causal_key)


def show(event, colour=False):
    """An event as the lab's trace shows it on stderr, notes included."""
    bold, red, green, dim, reset = (
        ("\033[1m", "\033[1;31m", "\033[32m", "\033[2m", "\033[0m")
        if colour else ("",) * 5)
    line = render(event).split("  -> ")[0]
    if event["event"] == "return" and event["ret"] == -1:
        line = line.replace(f"= -1 {event['errno']}",
                            f"= -1 {red}{event['errno']}", 1)
        line = line.replace(f"({event.get('error', '')})",
                            f"({event.get('error', '')}){reset}", 1)
    head, _, where = line.rpartition("  ")
    out = [f"{head}  {dim}{where}{reset}"]
    if event.get("note"):
        out.append(f"{green}    -> {event['note']}{reset}")
    if event.get("explain"):
        for key in ("why", "fix", "see"):
            out.append(f"    {key}: {event['explain'][key]}")
    return "\n".join(out)
