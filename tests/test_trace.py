"""The trace library itself: its tables, its cost when off, its safety in
signal handlers, fault injection (LAB_FAULTS), collapsed runs, and one
rendering of a line, in C and in Python.

The small programs it runs are tests/programs/*.c, built here with the
lab's flags against the trace library that make built.
"""
import collections
import contextlib
import difflib
import errno
import functools
import io
import json
import os
import re
import select
import signal
import subprocess
import tempfile
import time

import pytest

import labrun
import manifest
import tracetext

ROOT = labrun.ROOT
PROGRAMS = ROOT / "tests" / "programs"
FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
         f"-I{ROOT}/trace/include"]


@functools.lru_cache(maxsize=None)
def program(name):
    """tests/programs/NAME.c, built with the lab's flags and the trace."""
    trace = labrun.BUILD / "trace" / "trace.o"
    if not trace.exists():
        pytest.skip("the trace library is not built (make)")
    out = labrun.BUILD / "tests" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["cc", *FLAGS, f"tests/programs/{name}.c",
                           str(trace), "-o", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def lab_for_tests():
    return labrun.Lab(labrun.BUILD / "tests")


# -- the tables: errno and signal names, the same on every C library ----------

def errno_table():
    rows = []
    for line in (ROOT / "trace" / "errnos.def").read_text().splitlines():
        if line.startswith("ERRNO("):
            name, message = line[6:-1].split(", ", 1)
            rows.append((name, json.loads(message)))
    return rows


def test_the_errno_table_has_glibc_s_names_and_words():
    rows = errno_table()
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)) > 120
    unknown_to_python = [name for name in names if not hasattr(errno, name)]
    assert len(unknown_to_python) <= 2, unknown_to_python  # EHWPOISON
    for name, message in rows:
        if name in unknown_to_python:
            continue
        number = getattr(errno, name)
        assert errno.errorcode[number] in (name, {
            "EAGAIN": "EWOULDBLOCK", "EDEADLK": "EDEADLOCK",
            "EOPNOTSUPP": "ENOTSUP"}.get(name)), name
        assert os.strerror(number) == message, name
    # Every errno Linux has is there: what is missing has no name at all.
    listed = {getattr(errno, name) for name in names
              if name not in unknown_to_python} | {133}
    for number in range(1, 134):
        if number not in listed:
            assert os.strerror(number) == f"Unknown error {number}"


@pytest.mark.parametrize("sig, name", [(15, "SIGTERM"), (9, "SIGKILL"),
                                       (40, "signal 40")])
def test_a_signal_is_named_or_numbered(sig, name):
    with lab_for_tests() as lab:
        program("child_killed")
        proc = lab.run("child_killed", sig)
        assert proc.returncode == 0, proc.stderr
        waited = lab.wait_for("waitpid", proc=proc)
    assert waited["args"]["signal"] == name
    assert waited["note"] == f"child {waited['ret']} killed by signal " + \
        name.removeprefix("signal ")


# -- off means off -------------------------------------------------------------

def untraced(source):
    """A lab program compiled without the trace, as outside the lab."""
    out = labrun.BUILD / "tests" / "untraced" / source.replace("/", "-")
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["cc", *FLAGS[:-1], str(ROOT / f"{source}.c"),
                           "-o", str(out)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def strace_counts(text):
    """{system call: how many}, from the table of strace -c."""
    counts = {}
    for line in text.splitlines():
        cells = line.split()
        if len(cells) >= 5 and cells[-1] != "total" and cells[0][0].isdigit():
            counts[cells[-1]] = int(cells[3])
    return counts


def test_with_the_trace_off_a_program_makes_only_its_own_system_calls():
    """LAB_TRACE=0 and no LAB_TRACE_FILE: the lesson 06 server and client
    make exactly the system calls of the same sources built without the
    trace (strace -c -f), a call more or less of any kind would show."""
    import strace_compare
    why_not = strace_compare.usable()
    if why_not:
        pytest.skip(why_not)
    final = sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*"))[-1]
    off = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    off["LAB_TRACE"] = "0"
    seen = {}
    for build in ("untraced", "off"):
        server, client = [
            untraced(f"solutions/{final}/{name}") if build == "untraced"
            else labrun.BUILD / "solutions" / final / name
            for name in ("server", "client")]
        with tempfile.TemporaryDirectory(prefix="lab-", dir="/tmp") as d:
            strace = ["strace", "-f", "-c", "-o"]
            started = subprocess.Popen(
                [*strace, f"{d}/server.strace", str(server), "-n", "1"],
                cwd=d, env=off, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
            try:
                assert b"listening" in started.stdout.readline()
                done = subprocess.run(
                    [*strace, f"{d}/client.strace", str(client), "lab.sock",
                     "hello"], cwd=d, env=off, capture_output=True,
                    timeout=10 * labrun.SCALE)
                assert done.stdout == b"HELLO\n", done.stderr
                started.communicate(timeout=10 * labrun.SCALE)
            finally:
                if started.poll() is None:
                    started.kill()
                    started.communicate()
            assert started.returncode == 0
            seen[build] = [strace_counts(open(f"{d}/{name}.strace").read())
                           for name in ("server", "client")]
    # The dynamic loader maps each of a program's segments (mmap,
    # mprotect, munmap) before main: their number follows how the linker
    # laid out the larger traced binary (one more on glibc 2.31), not
    # anything the trace does when it runs.
    for counts in (*seen["off"], *seen["untraced"]):
        for loader_call in ("mmap", "mprotect", "munmap"):
            counts.pop(loader_call, None)
    assert seen["off"] == seen["untraced"]
    assert seen["off"][0].get("accept", 0) + \
        seen["off"][0].get("accept4", 0) == 1  # the table was read


@pytest.mark.parametrize("name", ["dgram_pair", "handler_errno",
                                  "part2_errors", "ppoll_wait"])
def test_with_the_trace_off_the_calls_of_part_2_make_no_system_call_more(
        name):
    """fork, kill, poll, ppoll, fcntl, accept4, sendto, recvfrom, sendmsg,
    recvmsg, sigaction and signal, with the trace off: the system calls
    of the same program built without the trace, one by one kind
    (strace -c -f); no trampoline is installed."""
    import strace_compare
    why_not = strace_compare.usable()
    if why_not:
        pytest.skip(why_not)
    off = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    off["LAB_TRACE"] = "0"
    seen = {}
    for build in ("untraced", "off"):
        binary = untraced(f"tests/programs/{name}") if build == "untraced" \
            else program(name)
        with tempfile.TemporaryDirectory(prefix="lab-", dir="/tmp") as d:
            done = subprocess.run(["strace", "-f", "-c", "-o",
                                   f"{d}/counts", str(binary)], cwd=d,
                                  env=off, capture_output=True,
                                  timeout=20 * labrun.SCALE)
            assert done.returncode == 0, done.stderr
            seen[build] = (strace_counts(open(f"{d}/counts").read()),
                           done.stdout)
    assert seen["off"] == seen["untraced"]


# -- async-signal-safe ------------------------------------------------------------

HEAD = re.compile(r"^\[(?P<role>[^\] ]+) (?P<pid>\d+)\] "
                  r"(?P<call>\w+\(|signal (SIG\w+|\d+) delivered)")
MORE = re.compile(r"^    (-> |why: |fix: |see: )")


def calls_in(events):
    """{call: how many calls} of JSON events: a "repeat" event stands for
    its "repeat" calls."""
    made = {}
    for e in events:
        if e["event"] == "return":
            made[e["call"]] = made.get(e["call"], 0) + 1
        elif e["event"] == "repeat":
            made[e["call"]] = made.get(e["call"], 0) + e["repeat"]
    return made


def test_traced_calls_in_signal_handlers_are_reported_whole():
    """A handler that reaps with waitpid, writes to a self-pipe socket,
    and creates and closes a socket, 5000 times, while the main flow is
    inside traced calls in a tight loop: no crash, every JSON line whole
    and valid, every line on stderr a line of the trace, and every call
    reported exactly once."""
    binary = program("handler_calls")
    with tempfile.TemporaryDirectory(prefix="lab-", dir="/tmp") as d:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
        env.update(LAB_TRACE_FILE=f"{d}/trace.jsonl", NO_COLOR="1")
        with open(f"{d}/stderr", "wb") as err:
            done = subprocess.run([str(binary), "20000", "5000"], cwd=d,
                                  env=env, stdout=subprocess.PIPE, stderr=err,
                                  timeout=60 * labrun.SCALE)
        lines = open(f"{d}/trace.jsonl", "rb").read().split(b"\n")
        human = open(f"{d}/stderr", encoding="utf-8").read().splitlines()
    assert done.returncode == 0, human[-5:]
    assert lines[-1] == b""
    events = [json.loads(line) for line in lines[:-1]]  # each one valid
    counted = {}
    for line in done.stdout.decode().splitlines():
        call, in_main, in_handlers = line.split()
        counted[call] = int(in_main) + int(in_handlers)
        if call == "socket":
            assert int(in_handlers) == 5000  # the handler ran every time
    main = events[0]["pid"]  # its first call comes before any child's
    made = calls_in([e for e in events if e["pid"] == main])
    assert {c: n for c, n in made.items() if c in counted} == \
        {c: n for c, n in counted.items() if n}
    # The children only fork (= 0) and, one of them, send the signals.
    assert {e["call"] for e in events if e["pid"] != main and
            e["event"] == "return"} <= {"fork", "kill"}
    # Each signal is reported once, as delivered, the handler's calls after.
    delivered = [e for e in events if e["event"] == "signal" and
                 e["pid"] == main]
    assert len([e for e in delivered if e["args"]["sig"] != "SIGCHLD"]) \
        == 5000
    heads = [HEAD.match(line) for line in human]
    assert all(h or MORE.match(line) for h, line in zip(heads, human)), \
        [line for h, line in zip(heads, human) if not h and
         not MORE.match(line)][:5]
    # One head line per event the human trace shows: the Python rendering
    # of the JSON, runs replayed, says as many.
    assert len([h for h in heads if h]) == \
        sum(map(len, tracetext.human_trace(events).values()))
    # And line for line the same, the handlers' calls that came while the
    # trace wrote another call's lines set apart.
    from_c = stderr_events("\n".join(human))[main]
    py = json_events([e for e in events if not e.get("nested")])[main]
    nested = [tracetext.lines(e) for e in events
              if e["pid"] == main and e.get("nested")]
    assert nested, "no handler call came while the trace was writing"
    assert without_nested(from_c, py, nested) == py


# -- fault injection: LAB_FAULTS --------------------------------------------------

def solution_lab(lesson):
    return labrun.Lab(labrun.BUILD / "solutions" / lesson)


def injected(events, call):
    return [e for e in events if e["call"] == call and e.get("injected")]


def test_an_injected_accept_failure_is_reported_and_the_server_exits_non_zero():
    with solution_lab("06-close") as lab:
        server = lab.start("server", "-n", "3",
                           env={"LAB_FAULTS": "accept#2=EMFILE"})
        assert lab.wait_for("listen", proc=server, ret=0)
        first = lab.run("client", "lab.sock", "one")
        assert first.stdout == "ONE\n"
        assert server.wait() == 1
        assert "server: accept: Too many open files" in server.stderr
        accepts = lab.events("accept", proc=server)
        assert [a["ret"] for a in accepts] == [4, -1]
        failed = accepts[1]
        assert failed["errno"] == "EMFILE" and failed["injected"] is True
        assert "LAB_FAULTS (accept#2=EMFILE)" in failed["note"]
        assert "not made" in failed["note"] and failed["explain"]
        assert not lab.events("accept", proc=server, event="wait",
                              where=lambda e: e["ts"] > accepts[0]["ts"])
        assert lab.events("unlink", proc=server, ret=0)  # it cleaned up


@pytest.mark.parametrize("role", ["server", "client"])
def test_every_socket_call_can_be_made_to_fail(role):
    with solution_lab("06-close") as lab:
        faults = {"LAB_FAULTS": "socket=EMFILE"}
        if role == "server":
            proc = lab.run("server", "-n", "1", env=faults)
        else:
            proc = lab.run("client", "lab.sock", "hi", env=faults)
        assert proc.returncode == 1
        assert f"{role}: socket: Too many open files" in proc.stderr
        (made,) = lab.events("socket", proc=proc)
        assert made["ret"] == -1 and made["injected"] is True


def test_an_injected_failure_does_not_make_the_call():
    """bind=EADDRINUSE: the real bind would create lab.sock; there is
    none, and the server says the file is in the way."""
    with solution_lab("06-close") as lab:
        server = lab.run("server", "-n", "1",
                         env={"LAB_FAULTS": "bind=EADDRINUSE"})
        assert server.returncode == 1
        assert not (lab.dir / "lab.sock").exists()
        (bind,) = lab.events("bind", proc=server)
        assert bind["errno"] == "EADDRINUSE" and bind["injected"] is True
        assert "bound" not in bind["args"]


def test_from_the_nth_call_on_every_call_fails():
    """read#2+=ECONNRESET: the server's first read works, the second and
    every later one fail: the first client gets its reply, the second none."""
    with solution_lab("06-close") as lab:
        server = lab.start("server", "-n", "2",
                           env={"LAB_FAULTS": "read#2+=ECONNRESET"})
        assert lab.wait_for("listen", proc=server, ret=0)
        first = lab.run("client", "lab.sock", "one")
        second = lab.run("client", "lab.sock", "two")
        assert server.wait() == 0
        assert first.stdout == "ONE\n"
        # The server closed without reading: end of file, or ECONNRESET.
        assert second.returncode == 1 and second.stdout == ""
        reads = lab.events("read", proc=server)
        assert [(r["ret"], r.get("injected", False)) for r in reads] == \
            [(3, False), (-1, True), (-1, True)]
        # The client's reads are not counted with the server's.
        assert not injected(lab.events(proc=first), "read")


@pytest.mark.parametrize("lesson", ["05-read-write", "06-close"])
@pytest.mark.parametrize("faults", ["write<=7,read<=1", "read#2=EINTR",
                                    "write#1=EINTR,read#1=EINTR"])
def test_the_solutions_survive_short_reads_and_writes_and_eintr(lesson,
                                                               faults):
    """The server and the client retry what EINTR interrupted and loop on
    short counts: the reply is still whole."""
    message = "a message longer than seven bytes, with more to come"
    with solution_lab(lesson) as lab:
        env = {"LAB_FAULTS": faults}
        server = lab.start("server", env=env)
        assert lab.wait_for("listen", proc=server, ret=0)
        client = lab.run("client", "lab.sock", message, env=env)
        assert client.returncode == 0 and \
            client.stdout == message.upper() + "\n", client.stderr
        # The server's faulty read may come after the client has ended
        # (its read of the end of file): waited for.
        assert lab.wait_until(
            lambda: injected(lab.events(event=None), "read")), \
            lab.events(event=None)
        events = lab.events(event=None)
        if "<=" in faults:
            for e in events:
                if e["call"] == "write" and e["event"] == "return":
                    assert e["ret"] <= 7
                if e["call"] == "read" and e["event"] == "return" and \
                        e["ret"] > 0:
                    assert e["ret"] == 1
            short = injected(events, "write")[0]
            assert "LAB_FAULTS (write<=7)" in short["note"] and \
                "short write: only 7 of" in short["note"]
        else:
            eintr = injected(events, "read")[0]
            assert eintr["errno"] == "EINTR" and eintr["ret"] == -1


def test_a_rule_for_accept_applies_to_accept4_and_counts_it():
    """accept4 is accept with flags: accept#2=EINTR fails the second
    accept4 of a program that never calls accept (poll_echo accepts until
    EAGAIN, and makes an interrupted accept4 again)."""
    program("poll_echo")
    with labrun.Lab(labrun.BUILD / "tests") as lab:
        server = lab.start("poll_echo", "lab.sock", 1, role="server",
                           env={"LAB_FAULTS": "accept#2=EINTR"})
        clients_at_once(lab, server, 1)
        made = [(e["ret"] >= 0, e.get("errno"), e.get("injected", False))
                for e in lab.events("accept4", proc=server)]
    assert made[:3] == [(True, None, False), (False, "EINTR", True),
                        (False, "EAGAIN", False)], made


@pytest.mark.parametrize("rule, why", [
    ("acept#2=EMFILE", '"acept" is not a call the trace traces'),
    ("read#0=EINTR", "#N counts the calls from 1"),
    ("read#x=EINTR", "#N counts the calls from 1"),
    ("read=EFOO", '"EFOO" is not an errno name'),
    ("read=999999", '"999999" is not an errno name (such as EINTR) or a '
                    'number from 1 to 4095'),
    ("read=-5", '"-5" is not an errno name'),
    ("close<=3", "only read, write, recv and send can be made short"),
    ("read<=0", "<=BYTES needs a number of bytes from 1 up"),
    ("read", "after the call come =ERRNO (fail), =SIGNAL (a signal just "
             "before it), =TIMEOUT (poll, ppoll: nothing ready), "
             "=CHILDFIRST (fork: the child ends first) or <=BYTES (short)"),
    ("read=TIMEOUT", "only poll and ppoll can time out (=TIMEOUT)"),
    ("read=CHILDFIRST", "only fork has a child to run first (=CHILDFIRST)"),
    ("poll=SIGFOO", '"SIGFOO" is not the name of a signal'),
    ("read=EINTR!", '"!" is left over at the end'),
])
def test_a_rule_that_cannot_be_parsed_is_reported_once_and_not_applied(
        rule, why):
    with solution_lab("06-close") as lab:
        client = lab.run("client", "lab.sock", "hi",
                         env={"LAB_FAULTS": f"{rule},socket=EMFILE"})
        said = [line for line in client.stderr.splitlines()
                if line.startswith("lab trace: LAB_FAULTS")]
        assert said == [f'lab trace: LAB_FAULTS: the rule "{rule}" is not '
                        f'applied: {said[0].split("applied: ")[1]}']
        assert why in said[0]
        # The other rule still applies.
        (made,) = lab.events("socket", proc=client)
        assert made["errno"] == "EMFILE" and made["injected"]


def test_a_signal_rule_raises_the_signal_just_before_the_call():
    """poll#1=SIGTERM: lesson 08's server gets SIGTERM after its last look
    at the flag and before its first poll; its handler writes to the
    self-pipe, so that poll returns at once and the server stops. The
    delivery is marked as LAB_FAULTS's, the poll is made; the human trace
    is the rendering of the JSON; with the trace off the signal comes
    too."""
    with human_lab(labrun.BUILD / "solutions" / "08-poll") as lab:
        server = lab.start("server", env={"LAB_FAULTS": "poll#1=SIGTERM"})
        assert server.wait() == 0, server.stderr
        (delivered,) = lab.events(event="signal", proc=server)
        assert delivered["args"]["sig"] == "SIGTERM" and \
            delivered["injected"] is True
        assert delivered["note"].startswith(
            "raised by LAB_FAULTS (poll#1=SIGTERM) just before poll; ")
        (poll,) = lab.events("poll", proc=server, event=None)
        assert poll["event"] == "return" and poll["ret"] == 1 and \
            "injected" not in poll and poll["ts"] > delivered["ts"]
        assert "LAB_FAULTS (poll#1=SIGTERM) raised SIGTERM just before " \
            "this call" in poll["note"]
        assert_same_lines(lab)
    with solution_lab("08-poll") as lab:
        server = lab.start("server", env={"LAB_FAULTS": "poll#1=SIGTERM",
                                          "LAB_TRACE": "0"})
        assert server.wait() == 0 and "stopped" in server.stdout
    # A signal whose default action ends the process ends it there: the
    # client of lesson 06 never connects.
    with solution_lab("06-close") as lab:
        client = lab.run("client", "lab.sock", "hi",
                         env={"LAB_FAULTS": "connect=SIGUSR1"})
        assert client.returncode == -signal.SIGUSR1
        assert not lab.events("connect", proc=client, event=None)


def test_a_timeout_rule_makes_poll_return_nothing_ready_without_waiting():
    """poll#1=TIMEOUT: lesson 08's server's first poll returns 0, every
    revents cleared, as when a timeout runs out, and is not made (its
    timeout is -1: a real one never runs out); the server polls again and
    serves its client.  The human trace is the rendering of the JSON.  A
    poll that a socket's room would answer at once finds nothing ready
    in its pollfd."""
    with human_lab(labrun.BUILD / "solutions" / "08-poll") as lab:
        server = lab.start("server", env={"LAB_FAULTS": "poll#1=TIMEOUT"})
        assert lab.wait_for("poll", proc=server, event="wait")
        client = lab.run("client", "lab.sock", "after a timeout")
        assert client.stdout == "AFTER A TIMEOUT\n", client.stderr
        lab.stop(server)
        first, *later = lab.events("poll", proc=server)
        assert first["ret"] == 0 and first["injected"] is True and \
            first["args"]["timeout"] == -1
        assert first["note"] == "injected by LAB_FAULTS (poll#1=TIMEOUT): " \
            "the real call was not made; 0: no fd ready, as when the " \
            "timeout runs out"
        assert later and all("injected" not in e for e in later)
        assert_same_lines(lab)
    # What the program finds in its pollfd: nothing ready.
    program("poll_ready")
    with lab_for_tests() as lab:
        assert lab.run("poll_ready").stdout == f"1 {select.POLLOUT}\n"
        assert lab.run("poll_ready", env={"LAB_FAULTS": "poll=TIMEOUT"}
                       ).stdout == "0 0\n"


def test_a_childfirst_rule_returns_fork_in_the_parent_once_the_child_ended():
    """fork#1=CHILDFIRST: lesson 07's parent returns from its first fork
    only once the child it made has served its client and ended; the
    fork is made, marked and noted, and the child is left for the
    program's handler to reap."""
    with human_lab(labrun.BUILD / "solutions" / "07-fork") as lab:
        server = lab.start("server", "-n", "1",
                           env={"LAB_FAULTS": "fork#1=CHILDFIRST"})
        assert lab.wait_for("listen", proc=server)
        client = lab.run("client", "lab.sock", "child first")
        assert client.stdout == "CHILD FIRST\n", client.stderr
        assert server.wait(labrun.WAIT) == 0
        forked = [e for e in lab.events("fork", proc=server)]
        assert len(forked) == 1 and forked[0]["ret"] > 0 and \
            forked[0]["injected"] is True
        assert forked[0]["note"].endswith(
            "; injected by LAB_FAULTS (fork#1=CHILDFIRST): fork returned "
            "here only once the child had ended")
        child = forked[0]["ret"]
        ended = [e for e in lab.events("close", event=None)
                 if e["pid"] == child]
        assert ended and max(e["ts"] for e in ended) < forked[0]["ts"]
        assert [e["ret"] for e in lab.events("waitpid", proc=server)
                if e["ret"] > 0] == [child]
        assert_same_lines(lab)


def test_an_errno_can_be_given_by_number_and_one_without_a_name_is_numbered():
    with solution_lab("06-close") as lab:
        client = lab.run("client", "lab.sock", "hi",
                         env={"LAB_FAULTS": "socket=135"})
        (made,) = lab.events("socket", proc=client)
        assert made["errno"] == "errno 135"
        assert made["error"] == "Unknown error 135"
        assert made["see"] == "the man page socket(2) does not list errno 135"


# -- runs of like events: a few shown, the rest counted --------------------------

def human_lab(code_dir):
    """A Lab whose programs also write the human trace (to their stderr
    files, without colour)."""
    lab = labrun.Lab(code_dir)
    plain_env = lab.env

    def env(role, extra=None):
        return dict(plain_env(role, extra), LAB_TRACE="1", NO_COLOR="1")
    lab.env = env
    return lab


def trace_lines(proc):
    return [line for line in proc.stderr.splitlines()
            if HEAD.match(line) or MORE.match(line)]


def test_an_eof_busy_loop_shows_a_few_reads_then_counts_them():
    program("eof_loop")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("eof_loop", 125_000, timeout=30 * labrun.SCALE)
        assert proc.returncode == 0
        assert lab.calls("read", proc=proc) == 125_000
        events = lab.events(proc=proc, event=None)
        lines = trace_lines(proc)
    shown = [e for e in events if e["call"] == "read" and
             e["event"] == "return"]
    assert [e["ret"] for e in shown] == [2, 0, 0, 0]
    repeats = [e for e in events if e["event"] == "repeat"]
    assert [(e["total"], e["final"]) for e in repeats] == [
        (10, False), (100, False), (1000, False), (10_000, False),
        (100_000, False), (124_996, True)]
    assert sum(e["repeat"] for e in repeats) == 124_996
    assert len(lines) < 25
    assert any(re.search(r"\] read\(4, \.\.\.\) = 0 \.\.\. the same 124,996 "
                         r"more times  tests/programs/eof_loop\.c:\d+$", line)
               for line in lines)
    assert any("read(4, ...) = 0 ... the same 1,000 more times so far" in
               line for line in lines)


def test_a_process_killed_in_a_loop_still_shows_it():
    """read#1+=EINTR: the client retries its read forever. Killed, it has
    no exit to report its run at; the counts on the way show it."""
    with human_lab(labrun.BUILD / "solutions" / "06-close") as lab:
        server = lab.start("server", "-n", "1")
        assert lab.wait_for("listen", proc=server, ret=0)
        client = lab.start("client", "lab.sock", "hi",
                           env={"LAB_FAULTS": "read#1+=EINTR"})
        far = lab.wait_for("read", proc=client, event="repeat",
                           timeout=10 * labrun.SCALE,
                           where=lambda e: e["total"] >= 1000)
        assert far and far["errno"] == "EINTR" and far["injected"]
        assert far["final"] is False
        lab.stop(client, signal.SIGKILL)
        lines = trace_lines(client)
    assert any("read(3, ...) = -1 EINTR [injected] ... the same 1,000 "
               "more times so far" in line for line in lines)


def test_a_bulk_transfer_keeps_every_call_in_the_json_and_the_trace_short():
    """64 MiB echoed by the lesson 06 server, 4 KiB a read: its reads and
    writes alternate, a run with a period of 2. The human trace shows a
    few and counts the rest; the JSON holds every read and write, each with
    its count and its first bytes, so the bytes add up call by call. The
    Python rendering of the JSON says the same lines as the human trace."""
    client = labrun.BUILD / "tests" / "bench_client"
    done = subprocess.run(["cc", *FLAGS[:-1], str(ROOT / "trace" /
                                                  "bench_client.c"),
                           "-o", str(client)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    mib = 64
    with human_lab(labrun.BUILD / "solutions" / "06-close") as lab:
        server = lab.start("server", "-n", "1")
        assert lab.wait_for("listen", proc=server, ret=0)
        streamed = subprocess.run([str(client), "lab.sock", str(mib)],
                                  cwd=lab.dir, capture_output=True,
                                  timeout=60 * labrun.SCALE)
        assert streamed.returncode == 0, streamed.stderr
        assert server.wait(10 * labrun.SCALE) == 0
        events = lab.events(proc=server, event=None)
        lines = trace_lines(server)
        assert_same_lines(lab)
    assert not [e for e in events if e["event"] == "repeat"]
    data = [e for e in events if e["event"] == "return" and
            e["call"] in ("read", "write") and e["ret"] > 0]
    moved = {call: sum(e["ret"] for e in data if e["call"] == call)
             for call in ("read", "write")}
    assert moved == {"read": mib << 20, "write": mib << 20}
    assert all(e["data"] == ("a" if e["call"] == "read" else "A") *
               min(64, e["ret"]) for e in data)  # the client sends a's
    assert len(data) >= 2 * (mib << 20) // 4096
    assert len(lines) < 80
    hidden = [line for line in lines if " ... the same " in line]
    assert {re.search(r"\] (\w+)\(4, \.\.\.\) \.\.\. the same [\d,]+ more "
                      r"times, [\d,]+ bytes  ", line)[1]
            for line in hidden if "so far" not in line} == {"read", "write"}


# -- one rendering of a line, in C and in Python ------------------------------------

def stderr_events(text):
    """The trace's events in a program's stderr: {pid: [its lines]}, each
    event a head line and the indented lines under it."""
    found, current = {}, None
    for line in text.splitlines():
        head = HEAD.match(line)
        if head:
            current = [line]
            found.setdefault(int(head["pid"]), []).append(current)
        elif MORE.match(line) and current is not None:
            current.append(line)
        else:
            current = None  # the program's own output
    return found


def json_events(events):
    """The human trace, written from the JSON events (runs replayed)."""
    return tracetext.human_trace(events)


def without_nested(groups, others, nested):
    """The stderr groups with the nested ones taken out, so that the others
    (the JSON's rendering without them) can be compared. Which of several
    equal groups was the nested one cannot be told from the text, nor does
    it matter: the others must come in order, and what they leave must be
    exactly the nested ones (as given, if not: the comparison shows it)."""
    left = collections.Counter(map(tuple, nested))
    rest, i = [], 0
    for group in groups:
        if i < len(others) and group == others[i]:
            rest.append(group)
            i += 1
        elif left[tuple(group)] > 0:
            left[tuple(group)] -= 1
        else:
            rest.append(group)
    if any(left.values()) or i < len(others):
        return list(groups)  # not so: the diff shows every group
    return rest


def assert_same_lines(lab, stderr=None):
    """Every process's stderr trace is the Python rendering of its JSON.
    A signal handler's call that interrupted the trace while it wrote
    another call's two lines (a "nested" event) may come before that call
    in one and after it in the other: those are compared apart."""
    lab.collector.sync()
    from_c = {}
    for text in stderr or [proc.stderr for proc in lab.procs]:
        for pid, events in stderr_events(text).items():
            from_c.setdefault(pid, []).extend(events)
    events = lab.events(event=None)
    # nested events are outside the runs: the rendering of the others
    # is the rendering of all with theirs taken out, each at its place
    from_json = json_events([e for e in events if not e.get("nested")])
    assert from_c, "no trace on stderr"
    for pid in sorted(set(from_c) | set(from_json)):
        nested = [tracetext.lines(e) for e in events
                  if e["pid"] == pid and e.get("nested")]
        py = from_json.get(pid, [])
        c = without_nested(from_c.get(pid, []), py, nested)
        assert c == py, "\n".join(difflib.unified_diff(
            ["\n".join(e) for e in c], ["\n".join(e) for e in py],
            "stderr (trace.c)", "JSON (tracetext.py)", lineterm=""))
    return from_c


@pytest.mark.parametrize("lesson", [lesson["id"] for lesson in
                                    manifest.lessons()])
def test_the_stderr_trace_is_the_python_rendering_of_the_json(lesson):
    with human_lab(labrun.BUILD / "solutions" / lesson) as lab:
        with contextlib.redirect_stdout(io.StringIO()):
            labrun.run_steps(lab, "solutions", manifest.lesson_by_id(lesson))
        for proc in lab.procs:
            proc.wait(10 * labrun.SCALE)
        assert_same_lines(lab)


VARIANTS = manifest.variants()


@pytest.mark.parametrize("variant", VARIANTS, ids=[v["name"]
                                                   for v in VARIANTS])
def test_a_deliberate_error_s_trace_is_the_same_in_c_and_python(variant):
    code = labrun.BUILD / "lessons" / variant["lesson"] / "errors"
    with human_lab(code) as lab:
        lab.run(variant["name"], timeout=labrun.VARIANT_TIMEOUT)
        lines = [line for events in assert_same_lines(lab).values()
                 for event in events for line in event]
    if variant["expect"] and any(x.get("errno") for x in variant["expect"]):
        assert any(line.startswith("    why: ") for line in lines)


@pytest.mark.parametrize("faults", ["accept#2=EMFILE", "write<=7,read#2=EINTR",
                                    "socket=135"])
def test_injected_faults_read_the_same_in_c_and_python(faults):
    with human_lab(labrun.BUILD / "solutions" / "06-close") as lab:
        env = {"LAB_FAULTS": faults}
        server = lab.start("server", "-n", "2", env=env)
        if lab.wait_for("listen", proc=server, ret=0, timeout=1):
            for word in ("a longer message, in short pieces", "two"):
                lab.run("client", "lab.sock", word, env=env)
            server.wait(5 * labrun.SCALE)
        lines = [line for events in assert_same_lines(lab).values()
                 for event in events for line in event]
    assert any("[injected]" in line for line in lines)


def test_runs_read_the_same_in_c_and_python():
    program("eof_loop")
    with human_lab(labrun.BUILD / "tests") as lab:
        lab.run("eof_loop", 2000)
        # 10 hidden: a count on the way, then a last line of nothing new
        lab.run("eof_loop", 13)
        looping = lab.start("eof_loop", 0)
        assert lab.wait_for("read", proc=looping, event="repeat",
                            timeout=10 * labrun.SCALE,
                            where=lambda e: e["total"] >= 10_000)
        lab.stop(looping, signal.SIGKILL)
        lines = [line for events in assert_same_lines(lab).values()
                 for event in events for line in event]
    assert any(line.endswith(" so far  tests/programs/eof_loop.c:37") or
               " so far  " in line for line in lines)
    assert any("the same 1,996 more times  " in line for line in lines)


def test_a_data_run_at_exit_is_counted_and_one_killed_is_not():
    """A run of writes and reads of one byte each: the JSON holds every
    call; at exit the run's last repeat lines are in the JSON too, as
    events that stand for no call (repeat 0); a process killed in such a
    run shows its counts so far, in C and in Python alike."""
    program("byte_pump")
    with human_lab(labrun.BUILD / "tests") as lab:
        pump = lab.run("byte_pump", 500)
        assert pump.returncode == 0
        looping = lab.start("byte_pump", 0)
        assert lab.wait_for("read", proc=looping, timeout=10 * labrun.SCALE,
                            where=lambda e: lab.calls("read",
                                                      proc=looping) > 1000)
        lab.stop(looping, signal.SIGKILL)
        lines = [line for events in assert_same_lines(lab).values()
                 for event in events for line in event]
        done = lab.events(proc=pump, event=None)
        killed = lab.events(proc=looping, event=None)
    assert lab.calls("write", proc=pump) == 500 == \
        len([e for e in done if e["call"] == "read" and e["ret"] == 1])
    at_exit = [e for e in done if e["event"] == "repeat"]
    assert [(e["call"], e["repeat"], e["bytes"], e["total"],
             e["total_bytes"], e["final"], e["ret"], e["in_json"])
            for e in at_exit] == [("write", 0, 0, 497, 497, True, None, True),
                                  ("read", 0, 0, 497, 497, True, None, True)]
    assert any(re.search(rf"\[byte_pump {pump.pid}\] read\(4, \.\.\.\) "
                         r"\.\.\. the same 497 more times, 497 bytes  ", line)
               for line in lines)
    assert not [e for e in killed if e["event"] == "repeat"]
    mine = [line for line in lines if f"[byte_pump {looping.pid}]" in line]
    assert mine[-1].endswith(" so far  tests/programs/byte_pump.c:38") or \
        " so far  " in mine[-1]


def test_socketpair_shows_its_two_fds_and_every_socket_type_is_named():
    """socketpair(..., [3, 4]) on both sides; SOCK_RDM and the other types
    Linux has by name, even where the domain refuses them."""
    program("eof_loop")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("eof_loop", 2)
        assert "socketpair(AF_UNIX, SOCK_STREAM, 0, [3, 4]) = 0" in \
            proc.stderr
        (pair,) = lab.events("socketpair", proc=proc)
        assert pair["args"]["sv"] == [3, 4]
        assert_same_lines(lab)
    program("socket_types")
    with human_lab(labrun.BUILD / "tests") as lab:
        for number in range(1, 11):
            lab.run("socket_types", number, *(["nonblock"] * (number == 10)))
        types = [e["args"]["type"] for e in lab.events("socket")]
        assert_same_lines(lab)
    assert types == ["SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM",
                     "SOCK_SEQPACKET", "SOCK_DCCP", 7, 8, 9,
                     "SOCK_PACKET|SOCK_NONBLOCK"]


# -- where to read: the man pages' ERRORS sections --------------------------------

def man_page_rows():
    rows = []
    for line in (ROOT / "trace" / "manpages.def").read_text().splitlines():
        m = re.match(r'LISTS\("(\w+)", "(\w+)\((\d)\)", "([A-Z0-9 ]*)"\)$', line)
        if m:
            rows.append((m[1], m[2], m[3], set(m[4].split())))
    return rows


def listed_errors(page, section):
    """The errnos the installed man page's ERRORS section tags (.TP,
    then a line such as .B EACCES or .BR EAGAIN " or " EWOULDBLOCK)."""
    import gzip
    path = f"/usr/share/man/man{section}/{page}.{section}.gz"
    if not os.path.exists(path):
        pytest.skip(f"{page}({section}) is not installed (manpages-dev)")
    text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
    redirect = re.match(r"\.so man\d/(\w+)\.(\d)", text)
    if redirect:
        return listed_errors(redirect[1], redirect[2])
    made_from = re.search(r"Made from: (Linux man-pages [\d.]+)",
                          (ROOT / "trace" / "manpages.def").read_text())[1]
    installed = re.search(r'^\.TH .*"(Linux man-pages [\d.]+)"', text, re.M)
    if installed and installed[1] != made_from:
        pytest.skip(f"trace/manpages.def is made from {made_from}; this "
                    f"machine's {page}({section}) is from {installed[1]}, "
                    f"whose lists may differ")
    errors = re.search(r"^\.SH ERRORS\n(.*?)^\.SH ", text, re.S | re.M)
    assert errors, f"{page}({section}) has no ERRORS section"
    tagged = re.findall(r"^\.TP\n(.*)$", errors[1], re.M)
    return {name for line in tagged
            for name in re.findall(r"\bE[A-Z0-9]+\b", line)}


@pytest.mark.parametrize("row", man_page_rows(), ids=lambda row: row[0])
def test_the_table_of_what_each_man_page_lists_is_true(row):
    call, page, section, names = row
    assert listed_errors(page, section) == names


def test_every_traced_call_has_its_man_page_in_the_table():
    text = (ROOT / "trace" / "trace.c").read_text()
    calls = re.search(r"call_names\[N_CALLS\] = \{(.*?)\};", text, re.S)[1]
    assert {row[0] for row in man_page_rows()} == \
        set(re.findall(r'"(\w+)"', calls))


@pytest.mark.parametrize("errno_name, see", [
    ("ENOBUFS", "the ERRORS section of socket(2)"),
    ("ECONNRESET", "the man page socket(2) does not list ECONNRESET")])
def test_a_failure_without_an_explanation_says_whether_the_page_lists_it(
        errno_name, see):
    with solution_lab("06-close") as lab:
        client = lab.run("client", "lab.sock", "hi",
                         env={"LAB_FAULTS": f"socket={errno_name}"})
        (made,) = lab.events("socket", proc=client)
    assert "explain" not in made and made["see"] == see


@pytest.mark.parametrize("meanwhile, said", [
    (None, 'its file "lab.sock" stays until unlink(2)'),
    ("removed", 'its file "lab.sock" was already removed'),
    ("replaced", 'its file "lab.sock" is another file now')])
def test_the_close_note_says_what_became_of_the_socket_file(meanwhile, said):
    """The note looks at the file when the socket is closed: it says the
    file stays only when the file bind made is still there."""
    with solution_lab("06-close") as lab:
        server = lab.start("server")
        assert lab.wait_for("accept", proc=server, event="wait")
        path = lab.dir / "lab.sock"
        if meanwhile:
            path.unlink()
        if meanwhile == "replaced":
            path.write_text("someone else's file\n")
        lab.stop(server)
        (closed,) = [e for e in lab.events("close", proc=server)
                     if e["args"]["fd"] == 3]
    assert closed["note"].startswith("listening socket closed; ") and \
        said in closed["note"]


# -- the calls of part 2: processes, signals, poll, fcntl, datagrams -----------

def clients_at_once(lab, server, count):
    """count lesson 06 clients started together against a server of
    tests/programs: their replies, in the order they were started."""
    assert lab.wait_for("listen", proc=server, ret=0)
    lab.code_dir = labrun.BUILD / "solutions" / "06-close"
    started = [lab.start("client", "lab.sock", f"hello {i}", role="client")
               for i in range(count)]
    replies = []
    for client in started:
        assert client.wait(20 * labrun.SCALE) == 0, client.stderr
        replies.append(client.stdout)
    assert server.wait(20 * labrun.SCALE) == 0, server.stderr
    assert replies == [f"HELLO {i}\n" for i in range(count)]
    return started


def test_a_forked_child_has_its_own_role_its_own_lane_and_is_reaped():
    """fork is reported on both sides, the child under the role
    server/child; SIGCHLD's deliveries name the child that ended, and the
    handler's waitpid(-1, WNOHANG) calls show what they reaped; the
    timeline gives each child a lane under its parent, joined to its fork
    and, by its exit, to the waitpid that reaped it."""
    import timeline
    program("fork_echo")
    with human_lab(labrun.BUILD / "tests") as lab:
        server = lab.start("fork_echo", "lab.sock", 3, role="server")
        clients_at_once(lab, server, 3)
        assert_same_lines(lab)
        events = lab.events(event=None)
    forks = [e for e in events if e["call"] == "fork" and
             e["event"] == "return"]
    made = {e["ret"] for e in forks if e["pid"] == server.pid}
    children = {e["pid"] for e in forks if e["ret"] == 0}
    assert len(made) == 3 and made == children
    assert {e["role"] for e in events if e["pid"] in children} == \
        {"server/child"}
    ended = [e for e in events if e["event"] == "signal"]
    assert {e["args"]["sig"] for e in ended} == {"SIGCHLD"}
    assert {e["args"]["pid"] for e in ended} <= children
    reaped = {e["ret"] for e in events if e["call"] == "waitpid" and
              e["event"] == "return" and e["ret"] > 0}
    assert reaped == children
    assert all(e["args"]["options"] == "WNOHANG" for e in events
               if e["call"] == "waitpid")
    trace = timeline.Trace(events)
    names = [lane.name for lane in trace.lanes]
    assert names[:4] == ["server", "server/child 1", "server/child 2",
                         "server/child 3"]
    assert all(lane.left for lane in trace.lanes[:4])
    kinds = [trace.kind[n] for n in trace.cause]
    assert kinds.count("fork") == 3 and kinds.count("ended") >= 3
    # Each child's reads are joined to its client's writes.
    assert kinds.count("data") >= 6


@pytest.mark.parametrize("server", ["fork_echo", "poll_echo"])
def test_twenty_clients_at_once_keep_the_trace_readable(server):
    """A server with 20 clients at once: every line of the human trace is
    a line of the trace, a few per client, the same as the Python
    rendering of the JSON; the timeline says "client 1-20" once and tags
    each row with its process; the sequence diagram grows wider, a lane
    per process."""
    import timeline
    program(server)
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.start(server, "lab.sock", 20, role="server")
        clients = clients_at_once(lab, proc, 20)
        assert_same_lines(lab)
        events = lab.events(event=None)
        lines = trace_lines(proc)
    assert all(HEAD.match(line) or MORE.match(line) for line in lines)
    heads = [line for line in lines if HEAD.match(line)]
    assert len(heads) < 20 * 15
    trace = timeline.Trace(events)
    text = timeline.timeline(trace, width=140)
    assert "client 1-20" in text[0] and "client 1-20" in text[1]
    rows = [line for line in text[2:] if "|" in line and
            line.split("|")[-1].strip().startswith("[client")]
    assert len({row.split("]")[0].split("[")[-1] for row in rows}) == 20
    svg = timeline.sequence_svg(trace, "20 clients")
    width = int(re.search(r'width="(\d+)"', svg)[1])
    assert width >= timeline.LANE_MIN * len(trace.lanes)
    assert {c.pid for c in clients} <= {lane.pid for lane in trace.lanes}


def test_poll_shows_its_set_what_was_ready_and_is_drawn_as_a_wait():
    """poll's set (fd and events), its timeout, the fds it found ready
    and their revents; fcntl's flags, decoded; accept4's flags; a poll
    that waits says so; in the diagram a poll waits for what made its fds
    ready (a connect, a write)."""
    import timeline
    program("poll_echo")
    with human_lab(labrun.BUILD / "tests") as lab:
        server = lab.start("poll_echo", "lab.sock", 3, role="server")
        clients_at_once(lab, server, 3)
        assert_same_lines(lab)
        events = lab.events(proc=server, event=None)
        lines = trace_lines(server)
    polls = [e for e in events if e["call"] == "poll"]
    first = polls[0]
    assert first["args"]["fds"] == [{"fd": 3, "events": "POLLIN"}]
    assert first["args"]["nfds"] == 1 and first["args"]["timeout"] == -1
    assert any(e["event"] == "wait" for e in polls)
    ready = [e["args"]["ready"] for e in polls if e["event"] == "return"]
    assert {"fd": 3, "revents": "POLLIN"} in ready[0]
    assert any("POLLHUP" in str(r) for r in ready)
    assert any(line.startswith(f"[server {server.pid}] poll([{{fd=3, "
                               "events=POLLIN}], 1, -1) = 1 ([{fd=3, "
                               "revents=POLLIN}])") for line in lines)
    (getfl,) = [e for e in events if e["call"] == "fcntl" and
                e["args"]["cmd"] == "F_GETFL"]
    assert getfl["args"]["flags"] == "O_RDWR"
    (setfl,) = [e for e in events if e["call"] == "fcntl" and
                e["args"]["cmd"] == "F_SETFL"]
    assert setfl["args"]["arg"] == "O_RDWR|O_NONBLOCK" and \
        "non-blocking" in setfl["note"]
    accepted = [e for e in events if e["call"] == "accept4" and
                e["event"] == "return"]
    assert {e["args"]["flags"] for e in accepted} == \
        {"SOCK_NONBLOCK|SOCK_CLOEXEC"}
    assert [e["errno"] for e in accepted if e["ret"] == -1] and \
        all(e["errno"] == "EAGAIN" for e in accepted if e["ret"] == -1)
    trace = timeline.Trace(lab.events(event=None))
    ready_links = [n for n in trace.cause if trace.kind[n] == "ready"]
    assert ready_links
    rows = timeline.schedule(trace)
    assert ("block", trace.events[ready_links[0]]) in rows


def test_ppoll_shows_its_set_timeout_and_mask_and_waits_only_when_it_will():
    """ppoll as lesson 06's README cures its gap: its set, its timeout (a
    timespec, or NULL), its mask (the signals blocked while it waits, or
    NULL), what was ready; a note says which signals the mask lets in. It
    announces a wait only when it will wait: not when a signal it lets in
    is pending already (it fails with EINTR at once, explained). The human
    trace is the rendering of the JSON, and the JSON is the trace's shape
    (make timeline reads it)."""
    import timeline
    program("ppoll_wait")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("ppoll_wait")
        assert proc.stdout == "0 0 - 0\n1 1 - 0\n-1 0 EINTR 1\n0 0 - 1\n", \
            proc.stderr
        assert_same_lines(lab)
        events = lab.events("ppoll", proc=proc, event=None)
        lines = trace_lines(proc)
    assert all(timeline.is_trace_event(e) for e in events)
    waited, timed_out, ready, interrupted, unmasked = events
    assert waited["event"] == "wait" and \
        waited["note"] == "waiting for the fd to be ready"
    assert timed_out["ret"] == 0 and timed_out["args"] == {
        "fds": [{"fd": 3, "events": "POLLIN"}], "nfds": 1,
        "timeout": {"tv_sec": 0, "tv_nsec": 10_000_000}, "sigmask": [],
        "ready": []}
    assert timed_out["note"].startswith(
        "while it waits the mask lets in SIGUSR1, blocked before and after "
        "the call; timed out")
    assert ready["ret"] == 1 and ready["args"]["timeout"] is None and \
        ready["args"]["ready"] == [{"fd": 3, "revents": "POLLIN"}]
    # The pending SIGUSR1 is delivered as the call begins: no wait.
    assert interrupted["event"] == "return" and \
        interrupted["errno"] == "EINTR" and \
        "ppoll is never restarted" in interrupted["explain"]["why"]
    assert unmasked["args"]["sigmask"] is None and unmasked["ret"] == 0 and \
        unmasked["note"].startswith("no mask (NULL): the signals blocked "
                                    "now stay blocked while it waits: "
                                    "SIGUSR1")
    assert any(line.startswith(f"[ppoll_wait {proc.pid}] ppoll([{{fd=3, "
                               "events=POLLIN}], 1, {tv_sec=0, "
                               "tv_nsec=10000000}, []) = 0 ([])")
               for line in lines)
    assert any(" 1, {tv_sec=0, tv_nsec=0}, NULL) = 0 ([])" in line
               for line in lines)


def test_recv_with_msg_waitall_is_shown_waiting_for_all_it_asked_for():
    """recv(fd, buf, 6, MSG_WAITALL) with 3 bytes queued waits for the
    rest, though poll would say POLLIN: the trace says it waits; with all
    6 queued, or 3 and the peer's end of file, it returns at once, and no
    wait is shown."""
    program("recv_waitall")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("recv_waitall")
        assert proc.stdout == "6 -\n3 -\n3 -\n", proc.stderr
        assert_same_lines(lab)
        events = lab.events("recv", proc=proc, event=None)
    assert [(e["event"], e.get("ret")) for e in events] == [
        ("return", 6), ("wait", None), ("return", 3), ("return", 3)]
    assert events[1]["note"] == "waiting for data" and \
        events[1]["args"]["flags"] == "MSG_WAITALL"


@pytest.mark.parametrize("rule, first, second", [
    ("ppoll#2=TIMEOUT", "0 0 - 0", "0 0 - 0"),
    ("ppoll#2=EINTR", "0 0 - 0", "-1 0 EINTR 0"),
    ("ppoll#1=SIGUSR1", "-1 0 EINTR 1", "1 1 - 1")])
def test_ppoll_takes_the_fault_rules_of_poll(rule, first, second):
    """=TIMEOUT and =ERRNO are not made (a ppoll with no timeout returns
    0, or fails); =SIGNAL raises the signal just before the call, while
    the program blocks it: the mask lets it in as ppoll begins, which
    fails with EINTR at once, without a wait."""
    program("ppoll_wait")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("ppoll_wait", env={"LAB_FAULTS": rule})
        assert proc.stdout.splitlines()[:2] == [first, second], proc.stderr
        assert_same_lines(lab)
        events = lab.events("ppoll", proc=proc, event=None)
    if rule.endswith("SIGUSR1"):
        assert events[0]["event"] == "return" and \
            events[0]["errno"] == "EINTR" and "injected" not in events[0]
        assert "LAB_FAULTS (ppoll#1=SIGUSR1) raised SIGUSR1 just before " \
            "this call" in events[0]["note"]
    else:
        (hit,) = [e for e in events if e.get("injected")]
        assert hit["ret"] == (0 if rule.endswith("TIMEOUT") else -1)


def test_datagrams_show_addresses_fds_passed_and_truncation():
    """recvfrom shows the sender's address, and {} for a sender that has
    none (with a note); sendmsg and recvmsg show their iovecs, the fds
    passed (SCM_RIGHTS) and MSG_TRUNC; kill and the signal's delivery
    name each other's process; the timeline joins each datagram received
    to the sendto or sendmsg that sent it."""
    import timeline
    program("dgram_pair")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("dgram_pair", timeout=20 * labrun.SCALE)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == [
            "hello from client.sock", "anonymous from (unbound)",
            "two pieces, with an fd", "16 bytes, truncated"]
        assert_same_lines(lab)
        events = lab.events(event=None)
    got = [e for e in events if e["call"] in ("recvfrom", "recvmsg") and
           e["event"] == "return"]
    assert got[0]["args"]["from"] == {"family": "AF_UNIX",
                                      "path": "client.sock"}
    assert got[1]["args"]["from"] == {} and "no address" in got[1]["note"]
    sent = next(e for e in events if e["call"] == "sendmsg")
    assert sent["args"]["iovlen"] == 2 and sent["args"]["count"] == 10
    assert len(sent["args"]["fds"]) == 1 and sent["data"] == "two pieces"
    assert len(got[2]["args"]["fds"]) == 1 and got[2]["ret"] == 10
    assert got[3]["args"]["msg_flags"] == "MSG_TRUNC" and \
        got[3]["ret"] == 16 and "MSG_TRUNC" in got[3]["note"]
    (killed,) = [e for e in events if e["call"] == "kill"]
    (delivered,) = [e for e in events if e["event"] == "signal"]
    assert delivered["pid"] == killed["args"]["pid"] and \
        delivered["args"]["pid"] == killed["pid"] and \
        delivered["args"]["sig"] == killed["args"]["sig"] == "SIGUSR1"
    trace = timeline.Trace(events)
    joined = {(trace.events[trace.cause[n]]["call"], trace.events[n]["ret"])
              for n in trace.cause if trace.kind[n] == "datagram"}
    assert joined == {("sendto", 5), ("sendto", 9), ("sendmsg", 10),
                      ("sendto", 16)}
    assert any(trace.kind[n] == "signal" for n in trace.cause)


def test_a_run_of_datagrams_shows_each_new_sender():
    """Like calls that moved bytes are alike only with the same peer: a
    datagram from b in the middle of a run of datagrams from a is shown,
    not counted among a's; C and Python agree."""
    program("dgram_senders")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("dgram_senders", timeout=20 * labrun.SCALE)
        assert proc.returncode == 0, proc.stderr
        assert_same_lines(lab)
        shown = [line for line in proc.stderr.splitlines()
                 if "recvfrom(" in line]
    assert sum('"b.sock"' in line for line in shown) == 1, shown
    assert any("the same 3 more times" in line for line in shown)


def test_the_failures_of_part_2_are_explained():
    """Each failure of part2_errors.c, made on the real kernel, has the
    explanation of its call (accept4's and sendmsg's, or those of accept
    and send that they share)."""
    program("part2_errors")
    with human_lab(labrun.BUILD / "tests") as lab:
        proc = lab.run("part2_errors", timeout=20 * labrun.SCALE)
        assert proc.returncode == 0, proc.stderr
        assert_same_lines(lab)
        failed = [(e["call"], e["errno"]) for e in lab.events(event=None)
                  if e.get("errno")]
        unexplained = [e for e in lab.events(event=None)
                       if e.get("errno") and "explain" not in e]
    assert failed == [
        ("accept4", "EINVAL"), ("accept4", "EAGAIN"), ("sendto", "ENOENT"),
        ("sendto", "ECONNREFUSED"), ("sendto", "EPROTOTYPE"),
        ("sendto", "ENOTCONN"), ("sendmsg", "ENOENT"), ("kill", "ESRCH"),
        ("kill", "EINVAL"), ("sigaction", "EINVAL"), ("signal", "EINVAL"),
        ("poll", "EINVAL"), ("fcntl", "EINVAL"), ("waitpid", "ECHILD"),
        ("fork", "EAGAIN")]
    assert not unexplained
    rows = dict(((call, name), why) for call, name, why in re.findall(
        r'^EXPLAIN\("(\w+)", (E\w+),\s*"([^"]*)"',
        (ROOT / "trace" / "explanations.def").read_text(), re.M))
    for call, name in failed:
        assert (call, name) in rows, (call, name)


def test_a_handler_is_called_as_installed_and_leaves_errno_as_it_sets_it():
    """Through the trace's trampoline, a handler gets its signal (and,
    with SA_SIGINFO, its siginfo) and finds errno as the interrupted code
    left it; errno is then what the handler left. sigaction's old action
    and signal's result are the program's handlers, never the trace's;
    SIG_IGN and SIG_DFL pass through: an ignored signal is not delivered."""
    program("handler_errno")
    for trace_env in ({"LAB_TRACE": "0"}, {}):
        with human_lab(labrun.BUILD / "tests") as lab:
            proc = lab.run("handler_errno", env=trace_env)
            assert proc.returncode == 0, proc.stderr
            said = dict(line.split() for line in proc.stdout.splitlines())
            delivered = lab.events(event="signal")
            if not trace_env:
                assert_same_lines(lab)
        assert said == {name: "2" if name == "calls" else "1"
                        for name in said}, said
        assert [e["args"]["sig"] for e in delivered] == ["SIGUSR1",
                                                          "SIGUSR2"]


@pytest.mark.parametrize("name, clients", [("fork_echo", 3),
                                           ("poll_echo", 3),
                                           ("dgram_pair", 0),
                                           ("part2_errors", 0)])
def test_the_calls_of_part_2_are_what_strace_sees(name, clients):
    """The trace and strace -f agree on every call of these programs:
    fork is clone(2), signal and sigaction rt_sigaction(2), recv and
    recvfrom recvfrom(2)...; the trace's own poll (ppoll) and fcntl
    (F_GETFL) are not counted."""
    import strace_compare
    why_not = strace_compare.usable()
    if why_not:
        pytest.skip(why_not)
    program(name)
    with strace_compare.StraceLab(labrun.BUILD / "tests") as lab:
        if clients:
            server = lab.start(name, "lab.sock", clients, role="server")
            clients_at_once(lab, server, clients)
        else:
            proc = lab.run(name, timeout=20 * labrun.SCALE)
            assert proc.returncode == 0, proc.stderr
        events, lines = lab.events(event=None), lab.strace_output()
    assert not strace_compare.differences(events, lines), "\n".join(
        strace_compare.side_by_side(events, lines))


# -- the environment cannot make the trace block or write into the program ----

def final_programs():
    final = sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*"))[-1]
    return [labrun.BUILD / "solutions" / final / name
            for name in ("server", "client")]


def lab_environment(**settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    env.update(settings)
    return env


def test_a_json_fifo_that_no_process_reads_is_reported_not_waited_for(
        tmp_path):
    """LAB_TRACE_FILE names a FIFO with no reader: the program does not wait
    for one before main; the trace says so once and goes on without JSON."""
    _, client = final_programs()
    os.mkfifo(tmp_path / "trace.fifo")
    done = subprocess.run(
        [str(client), "lab.sock", "hello"], cwd=tmp_path,
        env=lab_environment(LAB_TRACE_FILE="trace.fifo"),
        capture_output=True, text=True, timeout=10 * labrun.SCALE)
    assert done.stderr.count("a FIFO that no process reads") == 1, \
        done.stderr
    assert "connect(3" in done.stderr  # the lines for people go on
    assert done.returncode == 1  # no server: the client's own answer


def test_a_json_fifo_that_is_read_still_gets_every_line(tmp_path):
    """A FIFO that a reader holds open (as tools/labrun.py does) gets the
    JSON trace, each line whole, and the program sees nothing of it."""
    _, client = final_programs()
    fifo = tmp_path / "trace.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        done = subprocess.run(
            [str(client), "lab.sock", "hello"], cwd=tmp_path,
            env=lab_environment(LAB_TRACE="0", LAB_TRACE_FILE=str(fifo)),
            capture_output=True, text=True, timeout=10 * labrun.SCALE)
        data = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert done.stderr.startswith("client: "), done.stderr
    calls = [json.loads(line)["call"] for line in data.splitlines()]
    assert calls[:2] == ["signal", "socket"] and "connect" in calls, calls


def test_waiting_for_the_trace_so_far_is_answered_with_the_fifo_full(
        tmp_path):
    """Programs that flood the trace fill the collector's FIFO while its
    reading thread is busy with what it read last (here: held up by the
    test); a check that waits for every line so far (sync) must still get
    its mark into the FIFO, not wait for room while it keeps the reading
    thread out."""
    import fcntl
    import select
    import struct
    import termios
    import threading
    fifo = tmp_path / "trace.fifo"
    collector = labrun.Collector(str(fifo))
    waiter = threading.Thread(target=collector.sync, daemon=True)
    writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)

    def unread():
        return struct.unpack("i", fcntl.ioctl(reader, termios.FIONREAD,
                                              b"\0" * 4))[0]
    try:
        with collector.cond:  # what the reading thread takes to go on
            # The reading thread takes a first line, then waits for cond:
            # from then on, only this test reads the FIFO.
            os.write(writer, b"not a line of the trace\n")
            deadline = time.monotonic() + 5 * labrun.WAIT
            while unread() and time.monotonic() < deadline:
                time.sleep(0.001)  # a FIFO tells no one that it was read
            assert not unread(), "the collector read nothing"
            with contextlib.suppress(BlockingIOError):
                while True:
                    os.write(writer, b"not a line of the trace\n" * 64)
            waiter.start()
            seen, deadline = b"", time.monotonic() + 5 * labrun.WAIT
            while b"#mark" not in seen and time.monotonic() < deadline:
                select.select([reader], [], [], 0.1)
                with contextlib.suppress(BlockingIOError):
                    seen = (seen + os.read(reader, 1 << 16))[-4096:]
            mark = re.search(rb"#mark \d+\n", seen)
            if mark:
                os.write(writer, mark[0])  # for the collector, which waits
        waiter.join(timeout=5 * labrun.WAIT)
        assert mark and not waiter.is_alive(), \
            "sync wrote no mark while the FIFO was full"
    finally:
        os.close(writer)
        os.close(reader)
        collector.close()


def test_with_standard_error_closed_the_trace_writes_into_no_socket(
        tmp_path):
    """Started with fd 2 closed (2>&-), the client's socket is fd 2: the
    trace writes no line for people there, and the exchange is the
    program's own: the server gets "hello", the client prints HELLO."""
    server, client = final_programs()
    started = subprocess.Popen(
        [str(server), "-n", "1"], cwd=tmp_path,
        env=lab_environment(LAB_TRACE="0"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert "listening" in started.stdout.readline()
        done = subprocess.run(
            ["/bin/sh", "-c", 'exec "$0" lab.sock hello 2>&-', str(client)],
            cwd=tmp_path, env=lab_environment(
                LAB_TRACE_FILE="trace.json",
                LAB_FAULTS="acept#2=EMFILE"),  # a rule it would report
            capture_output=True, text=True, timeout=10 * labrun.SCALE)
        out, err = started.communicate(timeout=10 * labrun.SCALE)
    finally:
        if started.poll() is None:
            started.kill()
            started.communicate()
    assert (done.returncode, done.stdout) == (0, "HELLO\n"), done
    assert "5 bytes" in out, out
    calls = [json.loads(line)["call"]
             for line in (tmp_path / "trace.json").read_text().splitlines()]
    assert "connect" in calls  # the JSON trace, its own file, is whole


def test_a_json_trace_that_cannot_be_written_is_said_once(tmp_path):
    """LAB_TRACE_FILE=/dev/full: the first JSON line fails (ENOSPC); the
    trace says so once on stderr, writes no more JSON, and the lines for
    people go on."""
    _, client = final_programs()
    done = subprocess.run(
        [str(client), "lab.sock", "hello"], cwd=tmp_path,
        env=lab_environment(LAB_TRACE_FILE="/dev/full"),
        capture_output=True, text=True, timeout=10 * labrun.SCALE)
    said = [line for line in done.stderr.splitlines()
            if "cannot write to LAB_TRACE_FILE" in line]
    assert said == ["lab trace: cannot write to LAB_TRACE_FILE: No space "
                    "left on device; no more JSON trace from this process"], \
        done.stderr
    assert done.stderr.index(said[0]) < done.stderr.index("connect(3")
    assert done.returncode == 1
