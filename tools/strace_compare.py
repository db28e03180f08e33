"""The lab's trace beside strace's: do they tell the same story?

`make strace N=05` and `make strace V=NAME` (tools/lab.py) run a lesson's
steps (or an error variant) with every program under `strace -f`, limited to the lifecycle calls, and shows, process by process,
each call as the lab's trace saw it beside the system call strace saw.  It
exits with 1 when they differ.

The trace library makes system calls of its own (fstat, fcntl, poll,
getsockopt, getsockname, waitid, open, and writes to stderr and to the JSON
trace file): strace sees those too.  Only the lifecycle calls are asked of
strace, and of read(2), write(2) and close(2) only those on sockets or on
fds that are not open, which are the ones the lab traces.  strace -y names
what each fd is, which tells them apart.
"""
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import tracetext
import labrun
import manifest

# A traced call and the system call the C library makes for it have one
# name here: recv is recvfrom(2), send is sendto(2), accept4 and accept
# are one, signal and sigaction are rt_sigaction(2), fork is clone(2).
SYSCALLS = {  # strace's name -> the name both sides are compared by
    "socket": "socket", "socketpair": "socketpair", "bind": "bind",
    "listen": "listen", "accept": "accept", "accept4": "accept",
    "connect": "connect", "read": "read", "write": "write",
    "recvfrom": "recvfrom", "sendto": "sendto", "recvmsg": "recvmsg",
    "sendmsg": "sendmsg", "shutdown": "shutdown",
    "close": "close", "unlink": "unlink", "unlinkat": "unlink",
    "wait4": "waitpid", "clone": "fork", "clone3": "fork", "fork": "fork",
    "vfork": "fork", "kill": "kill", "poll": "poll", "fcntl": "fcntl",
    "rt_sigaction": "sigaction",
}
LAB_NAMES = {"recv": "recvfrom", "send": "sendto", "accept4": "accept",
             "signal": "sigaction"}  # the lab's name -> the compared one
FD_CALLS = {"bind", "listen", "accept", "connect", "read", "write",
            "recvfrom", "sendto", "recvmsg", "sendmsg", "shutdown", "close",
            "fcntl"}
# The lab traces these only on sockets, or on fds that are not open.
SOCKET_ONLY = {"read", "write", "close"}
SOCKET_KINDS = re.compile(r"^<(socket:|UNIX|TCP|UDP|NETLINK)")

LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<rest>.*)$")
CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")
RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*)$")
RESULT = re.compile(r"\)\s+=\s+(?P<ret>-?0x[0-9a-f]+|-?\d+|\?)(?:<[^>]*>)?"
                    r"(?:\s+(?P<err>E[A-Z0-9_]+)\s+\([^)]*\))?"
                    r"(?:\s+\(.*\))?\s*$")
# The trace library's own JSON lines, as strace -s 24 shows them.
JSON_LINE = re.compile(r'^write\(\d+(<[^>]*>)?, "\{\\"ts\\":')
# Its event and call, when strace shows that much of it (-s 160).
JSON_CALL = re.compile(r'\\"event\\":\\"(\w+)\\",\\"call\\":\\"(\w+)\\"')
FIRST_FD = re.compile(r"^(?P<fd>-?\d+)(?P<what><[^>]*>)?")

_usable = None


def usable(again=False):
    """None when strace can run here, else the reason it cannot (probed
    once; again=True probes again)."""
    global _usable
    if _usable is None or again:
        if shutil.which("strace") is None:
            _usable = "strace is not installed (apt-get install strace)"
        else:
            try:
                # With the options the lab uses: -D attaches to a parent.
                probe = subprocess.run(
                    ["strace", "-D", "-f", "-o", os.devnull, "true"],
                    capture_output=True, timeout=10 * labrun.SCALE)
                _usable = "" if probe.returncode == 0 else (
                    "strace cannot trace here (ptrace is not permitted, as "
                    "in some containers): " +
                    probe.stderr.decode(errors="replace").strip()[:200])
            except (OSError, subprocess.TimeoutExpired) as e:
                _usable = f"strace does not run: {e}"
    return _usable or None


class Reader(threading.Thread):
    """Reads what strace writes to a FIFO, until strace has finished."""

    def __init__(self, fifo):
        super().__init__(daemon=True)
        self.fifo, self.text = fifo, ""
        os.mkfifo(fifo)
        self.start()

    def run(self):
        # End of file comes once strace (and the traced program, which may
        # inherit the descriptor) have exited: strace has written it all.
        with open(self.fifo, encoding="utf-8", errors="replace") as f:
            self.text = f.read()


class StraceLab(labrun.Lab):
    """A Lab whose programs run under strace -f.

    strace -D makes the tracer a grandchild, so the program keeps the pid
    that the Lab started: the lab's trace and strace name the same pids.
    """

    def __init__(self, code_dir, **kw):
        super().__init__(code_dir, **kw)
        self.readers = []

    def command(self, name, args, n):
        reader = Reader(self.dir / f".strace-{n}")
        self.readers.append(reader)
        return ["strace", "-D", "-f", "-y", "-s", "160",
                "-e", "trace=" + ",".join(SYSCALLS),
                "-o", str(reader.fifo), *super().command(name, args, n)]

    def strace_output(self, timeout=5.0 * labrun.SCALE):
        """All strace lines, once every strace has finished."""
        lines = []
        for reader in self.readers:
            reader.join(timeout)
            if reader.is_alive():
                raise RuntimeError(f"strace did not finish writing "
                                   f"{reader.fifo}")
            lines += reader.text.splitlines()
        return lines

    def close(self):
        for reader in self.readers:
            if reader.is_alive():  # strace never opened its FIFO: let go
                try:
                    os.close(os.open(reader.fifo, os.O_WRONLY |
                                     os.O_NONBLOCK))
                except OSError:
                    pass
                reader.join(1.0)
        super().close()


def parse(lines, killed=None):
    """strace -f lines as {pid: [(key, text)]}, lifecycle calls only.

    key is (call, fd, ret, errno); ret is "pending" for a call that never
    returned (the process was stopped in it).  killed, a set, receives the
    pids that a signal killed.
    """
    raw, unfinished = {}, {}
    killed = set() if killed is None else killed
    for line in lines:
        m = LINE.match(line)
        if not m:
            continue
        pid, rest = int(m["pid"]), m["rest"]
        if rest.startswith("+++ killed by"):
            killed.add(pid)
        if rest.startswith("--- SIG"):
            # A delivery: kept as a mark, not a call (settled() reads it).
            raw.setdefault(pid, []).append((("signal", None, None, None),
                                            rest, False))
            continue
        if rest.startswith(("---", "+++")):
            continue
        resumed = RESUMED.match(rest)
        if resumed:
            head = unfinished.pop(pid, None)
            if head is None:
                continue
            name, args = head[0], head[1] + resumed["args"]
            text = f"{name}({args}"
        else:
            call = CALL.match(rest)
            if not call:
                continue
            name, args = call["name"], call["args"]
            if args.endswith("<unfinished ...>"):
                unfinished[pid] = (name, args[:-len("<unfinished ...>")])
                continue
            text = rest
        # Every call is kept for now, the trace library's own too: they
        # tell an interrupted call that returned from one that restarted.
        raw.setdefault(pid, []).append(syscall_entry(name, args, text))
    for pid, (name, args) in unfinished.items():
        raw.setdefault(pid, []).append(
            syscall_entry(name, args + ")", f"{name}({args}...",
                          pending=True))
    return {pid: settled(seq, pid in killed) for pid, seq in raw.items()}


def syscall_entry(name, args, text, pending=False):
    """(key, text, lifecycle): lifecycle is False for a call the lab does
    not trace (not a lifecycle call, or read/write/close on a file)."""
    call = SYSCALLS.get(name, name)
    fd = None
    lifecycle = name in SYSCALLS
    if call in FD_CALLS:
        first = FIRST_FD.match(args)
        fd = int(first["fd"]) if first else None
        what = first["what"] if first else None
        if call in SOCKET_ONLY and what and not SOCKET_KINDS.match(what):
            lifecycle = False  # a file, a pipe, the terminal: not traced
    result = RESULT.search(args)
    if pending or result is None or (result["ret"] == "?" and
                                     not result["err"]):
        return (call, fd, "pending", None), text, lifecycle
    if result["err"] and result["err"].startswith("ERESTART"):
        # Interrupted by a signal: settled() decides what the program saw.
        return (call, fd, -1, "EINTR"), text, lifecycle
    return (call, fd, int(result["ret"], 0), result["err"]), text, lifecycle


def reports(text, call):
    """Whether a system call is the trace's writing of the JSON line of a
    call that returned (any JSON line whose call strace cut off)."""
    if not JSON_LINE.search(text):
        return False
    said = JSON_CALL.search(text)
    return said is None or (said[1] == "return" and
                            LAB_NAMES.get(said[2], said[2]) == call)


def settled(seq, killed):
    """The lifecycle calls, with the calls a signal interrupted settled.

    strace shows such a call as "= ? ERESTARTSYS".  If it returned -1
    EINTR, the trace library reported that: its JSON line is written before
    the program makes the same call again.  If the kernel restarted it
    (SA_RESTART), the same call comes again with no JSON line of that call
    in between (the signal's own line and the calls of its handler may
    come between), and the program, so the lab's trace, sees one call.  If
    the signal killed the process, the call never returned.  A call that
    returned EINTR returned after the handler: the handler's own calls
    come before it, where the trace library wrote its JSON line.
    """
    out, deferred = [], {}  # index in seq: calls that returned just before
    for i, (key, text, lifecycle) in enumerate(seq):
        out += deferred.pop(i, [])
        if not lifecycle:
            continue
        if "ERESTART" in text:
            later = seq[i + 1:]
            reported = next((n for n, (_, t, _) in enumerate(later)
                             if reports(t, key[0])), len(later))
            again = next((n for n, (k, _, _) in enumerate(later)
                          if k[:2] == key[:2]), None)
            if again is not None and again < reported:
                continue  # restarted
            if killed and all(k[0] == "signal" for k, _, _ in later):
                key = key[:2] + ("pending", None)
            elif reported < len(later):
                deferred.setdefault(i + 1 + reported, []).append((key, text))
                continue
        elif seq[i + 1:i + 2] and seq[i + 1][0][0] == "signal":
            # A signal delivered as the call returned: its handler runs
            # before the program goes on, so the handler's calls come
            # before the trace library's line for this call.
            later = seq[i + 1:]
            reported = next((n for n, (_, t, _) in enumerate(later)
                             if reports(t, key[0])), None)
            calls_before = reported is not None and any(
                lc for _, _, lc in later[:reported])
            if calls_before:
                deferred.setdefault(i + 1 + reported, []).append((key, text))
                continue
        out.append((key, text))
    for i in sorted(deferred):
        out += deferred[i]
    return out


DATA = {"read", "write", "recv", "send"}


def lab_calls(events):
    """The lab's events as {pid: [(key, text)]}, in the same form.

    A run's "repeat" events stand for the calls it hid from the JSON (in
    the order they were made: tracetext.expand_runs), calls that moved no
    bytes, whose results they give.
    """
    calls, waiting = {}, {}
    by_pid = {}
    for e in sorted(events, key=lambda e: e["ts"]):
        by_pid.setdefault(e["pid"], []).append(e)
    for pid, mine in by_pid.items():
        for e, _ in tracetext.expand_runs(mine):
            call = LAB_NAMES.get(e["call"], e["call"])
            fd = e["args"].get("fd") if call in FD_CALLS else None
            if e["event"] == "signal":
                continue  # a delivery: strace shows it as --- SIG... ---
            if e["event"] == "wait":
                waiting[(e["pid"], call)] = e
                continue
            waiting.pop((e["pid"], call), None)
            if e.get("injected") and e["ret"] == -1:
                continue  # LAB_FAULTS failed it: the call was not made
            if call == "fork" and e["ret"] == 0:
                continue  # the child's side: strace sees one clone(2)
            ret = 0 if call == "sigaction" and e["ret"] == 0 else e["ret"]
            key = (call, fd, ret, e["errno"])
            calls.setdefault(e["pid"], []).append((key, words(e)))
    for (pid, call), e in sorted(waiting.items(), key=lambda w: w[1]["ts"]):
        fd = e["args"].get("fd") if call in FD_CALLS else None
        calls.setdefault(pid, []).append(((call, fd, "pending", None),
                                          words(e)))
    return calls


def agree(mine, theirs):
    return mine == theirs


# The trace's own fcntl(2) calls: F_GETFL before a call that may wait (is
# the socket non-blocking?), F_DUPFD_CLOEXEC to move the JSON file's fd;
# before main, F_GETFD on fd 2 (is standard error open?) and the F_SETFL
# that makes the JSON file (O_APPEND) blocking again.
OWN_FCNTL = re.compile(r"^fcntl\(\d+(<[^>]*>)?, (F_GETFL|F_DUPFD_CLOEXEC)"
                       r"|^fcntl\(2(<[^>]*>)?, F_GETFD\)"
                       r"|^fcntl\(\d+(<[^>]*>)?, F_SETFL, [A-Z_|]*O_APPEND")


# lessons/variant.h's plumbing, untraced on purpose: fork_peer installs
# the handler of GIVE_UP_SIGNAL (SIGUSR2), by which the processes of a
# variant that cannot set up end together. No variant uses SIGUSR2.
VARIANT_PLUMBING = re.compile(r"^rt_sigaction\(SIGUSR2, ")


def without_own(mine, theirs):
    """strace's calls without the trace's own fcntl(2) calls (and the
    variants' plumbing): those the lab's trace has no call of its own for,
    walking the two in step."""
    kept, j = [], 0
    for key, text in theirs:
        if j < len(mine) and mine[j][0] == key:
            kept.append((key, text))
            j += 1
        elif key[0] == "fcntl" and OWN_FCNTL.match(text):
            continue
        elif key[0] == "sigaction" and VARIANT_PLUMBING.match(text):
            continue
        else:
            kept.append((key, text))
    return kept


def matching_key(key):
    """For lining the two up: any positive count of a read or write."""
    if key[0] in DATA and isinstance(key[2], int) and key[2] > 0:
        return key[:2] + (">0", None)
    return key


def words(event):
    text = tracetext.label(event)
    return text + (" " + json.dumps(event["data"]) if event.get("data")
                   else "")


def differences(events, strace_lines):
    """What the lab's trace and strace disagree on: a list of sentences."""
    killed = set()
    lab, seen = lab_calls(events), parse(strace_lines, killed)
    seen = {pid: without_own(lab.get(pid, []), calls)
            for pid, calls in seen.items()}
    problems = []
    roles = {e["pid"]: e["role"] for e in events}
    hidden_next = tracetext.hidden_next(events)
    for pid in sorted(set(lab) | set(seen)):
        mine = [k for k, _ in lab.get(pid, [])]
        theirs = [k for k, _ in seen.get(pid, [])]
        if mine and mine[-1][2] == "pending" and agree(mine[:-1], theirs):
            # The lab says it is about to wait just before making the call:
            # a signal that kills the process in between leaves strace
            # nothing to see.
            continue
        if pid in killed and agree(mine, theirs[:-1]):
            # A signal (SIGPIPE after a write, say) killed the process as
            # its last call returned: the program, so the trace library,
            # never got its result.
            continue
        if theirs and theirs[-1][2] == "pending" and \
                agree(mine, theirs[:-1]) and \
                LAB_NAMES.get(hidden_next.get(pid), hidden_next.get(pid)) \
                == theirs[-1][0]:
            # Stopped in a call of a run, whose waits the trace hides.
            continue
        if not agree(mine, theirs):
            problems.append(
                f"{roles.get(pid, 'process')} {pid}: the lab traced "
                f"{[show_key(k) for k in mine]}, strace saw "
                f"{[show_key(k) for k in theirs]}")
    return problems


def show_key(key):
    call, fd, ret, err = key
    head = call + (f"({fd})" if fd is not None else "()")
    if ret == "pending":
        return f"{head} never returned"
    return f"{head} = {ret}" + (f" {err}" if err else "")


def side_by_side(events, strace_lines, width=None):
    """The two traces, process by process, aligned call by call."""
    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    col = (width - 5) // 2
    lab, seen = lab_calls(events), parse(strace_lines)
    seen = {pid: without_own(lab.get(pid, []), calls)
            for pid, calls in seen.items()}
    roles = {e["pid"]: e["role"] for e in events}
    out = []
    for pid in sorted(set(lab) | set(seen)):
        mine, theirs = lab.get(pid, []), seen.get(pid, [])
        out.append(f"== {roles.get(pid, 'process')} {pid} ==")
        out.append(f"   {'the lab trace':<{col}} {'strace -f':<{col}}")
        matcher = difflib.SequenceMatcher(
            a=[matching_key(k) for k, _ in mine],
            b=[matching_key(k) for k, _ in theirs], autojunk=False)
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            for i in range(max(a1 - a0, b1 - b0)):
                left = mine[a0 + i][1] if a0 + i < a1 else ""
                right = theirs[b0 + i][1] if b0 + i < b1 else ""
                right = re.sub(r"\)\s+= ", ") = ", right)
                mark = "  " if tag == "equal" else "!!"
                out.append(f"{mark} {tracetext.clip(left, col):<{col}} "
                           f"{tracetext.clip(right, col)}")
    return out


def run_lesson(code, lesson_id):
    """Runs a lesson's steps under strace: (events, strace lines)."""
    import contextlib
    import io
    lesson = manifest.lesson_by_id(lesson_id)
    with StraceLab(labrun.BUILD / code / lesson_id) as lab:
        with contextlib.redirect_stdout(io.StringIO()):
            labrun.run_steps(lab, code, lesson)
        for proc in lab.procs:
            if proc.popen.poll() is None:
                lab.stop(proc)
        lines = lab.strace_output()
        return lab.events(event=None), lines


def run_variant(variant):
    """Runs one error variant under strace: (events, strace lines)."""
    code_dir = labrun.BUILD / "lessons" / variant["lesson"] / "errors"
    with StraceLab(code_dir) as lab:
        lab.run(variant["name"], timeout=labrun.VARIANT_TIMEOUT)
        return lab.events(event=None), lab.strace_output()


def compare(events, lines):
    """Prints the two traces side by side; returns 1 when they differ."""
    for line in side_by_side(events, lines):
        print(line)
    problems = differences(events, lines)
    if problems:
        print("\nThe two traces differ (!! above):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print("\nThe lab's trace and strace agree on every lifecycle call, its "
          "result and its errno.")
    return 0
