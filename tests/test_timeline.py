"""The timeline and the sequence diagrams join the right calls, show waits
and failures, fold long runs, and read any trace file."""
import contextlib
import functools
import io
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
from pathlib import Path

import labrun
import timeline
import tracetext

ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def recorded(lesson):
    events, _ = labrun.record_lesson("solutions", lesson)
    return tuple(events)


def trace_of(lesson):
    return timeline.Trace(json.loads(json.dumps(list(recorded(lesson)))))


def causes(trace, call, **match):
    """(effect, cause, kind) for every returned `call` matching fields."""
    out = []
    for n, e in enumerate(trace.events):
        if e["call"] == call and e["event"] == "return" and \
                all(e.get(k) == v for k, v in match.items()):
            c = trace.cause.get(n)
            out.append((e, trace.events[c] if c is not None else None,
                        trace.kind.get(n)))
    return out


def test_each_accept_is_joined_with_the_connect_it_takes():
    trace = trace_of("04-accept-connect")
    accepts = [x for x in causes(trace, "accept") if x[0]["ret"] >= 0]
    assert len(accepts) == 2
    connects = [cause for _, cause, _ in accepts]
    assert all(c and c["call"] == "connect" and c["role"] == "client"
               for c in connects)
    assert len({c["pid"] for c in connects}) == 2, \
        "each accept takes the connection of a different client"
    for accept, connect, _ in accepts:
        # connect(2) may return after the accept it woke: it began before.
        assert connect["start"] < accept["ts"]


def test_each_read_is_joined_with_the_write_of_its_bytes():
    trace = trace_of("06-close")
    reads = [x for x in causes(trace, "read") if x[0]["ret"] > 0]
    assert len(reads) == 4  # two clients: the server's read, the reply
    for read, write, kind in reads:
        assert kind == "data" and write["call"] == "write"
        assert write["pid"] != read["pid"]
        assert write["data"] == read["data"]


def test_close_is_joined_with_the_peer_s_read_of_0():
    trace = trace_of("06-close")
    ends = causes(trace, "read", ret=0)
    assert len(ends) == 2
    for read, close, kind in ends:
        assert kind == "end of file" and close["call"] == "close"
        assert close["role"] == "client" and read["role"] == "server"
    # Lesson 05's client exits without close(2): the kernel closes its fd.
    (read, last, kind), = causes(trace_of("05-read-write"), "read", ret=0)
    assert kind == "exit" and last["role"] == "client"


def test_the_timeline_shows_who_waited_and_how_long():
    with labrun.Lab(labrun.BUILD / "solutions" / "06-close") as lab:
        server = lab.start("server", "-n", "1")
        # The client comes only once the server waits in accept.
        assert lab.wait_for("accept", proc=server, event="wait")
        lab.run("client", "lab.sock", "hi")
        assert server.wait() == 0
        trace = timeline.Trace(lab.events(event=None))
    lines = timeline.timeline(trace)
    waits = [i for i, l in enumerate(lines) if "accept(3) ... waits" in l]
    accepted = [i for i, l in enumerate(lines) if "accept(3) = 4" in l]
    assert waits and accepted and waits[0] < accepted[0]
    assert "waited" in lines[accepted[0]] + lines[accepted[0] + 1]
    assert "server: accept was still waiting when the trace ended" in \
        "\n".join(timeline.timeline(trace_of("05-read-write")))


def failed_connect():
    with labrun.Lab(labrun.BUILD / "solutions" / "06-close") as lab:
        lab.run("client", "lab.sock", "anyone?")
        return timeline.Trace(lab.events(event=None))


def test_a_failed_call_stands_out():
    trace = failed_connect()
    plain = timeline.timeline(trace, colour=False)
    at = next(i for i, l in enumerate(plain) if "connect(" in l)
    line = plain[at] + plain[at + 1]  # its notes may go on the next line
    assert "= -1 ENOENT" in line and "No such file or directory" in line
    assert not any("\033" in l for l in plain)
    painted = timeline.timeline(trace, colour=True)
    assert any("\033[1;31mconnect(" in l for l in painted)
    svg = timeline.sequence_svg(trace, "no server")
    assert "✗1" in svg and "connect(3, &quot;lab.sock&quot;) = -1 ENOENT" \
        in svg
    why = next(e for e in trace.events if e["call"] == "connect")["explain"]
    assert why["why"][:40] in svg.replace("&quot;", '"')


def test_colour_only_on_a_terminal_that_can_show_it(monkeypatch):
    """One decision for every tool: a terminal, NO_COLOR not set to a
    non-empty value (no-color.org), and a TERM other than dumb."""
    class Terminal:
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert tracetext.colour_on(Terminal())
    with tempfile.TemporaryFile("w") as not_a_terminal:
        assert not tracetext.colour_on(not_a_terminal)
    monkeypatch.setenv("NO_COLOR", "")
    assert tracetext.colour_on(Terminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not tracetext.colour_on(Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not tracetext.colour_on(Terminal())


def test_long_runs_of_reads_and_writes_fold():
    with labrun.Lab(labrun.BUILD / "solutions" / "05-read-write") as lab:
        server = lab.start("server")
        assert lab.wait_for("listen", proc=server, ret=0)
        message = "".join(random.choices(string.ascii_lowercase,
                                         k=60_000)).encode()
        lab.run("client", stdin=message)
        lab.collector.sync()
        events = lab.events(event=None)
        reads = lab.calls("read", proc=server, where=lambda e: e["ret"] > 0)
        calls = lab.calls()
    assert reads > 10
    # The JSON holds every read and write: they moved bytes (a repeat
    # event of such a run, at exit, stands for none).
    assert not [e for e in events if e["event"] == "repeat" and e["repeat"]]
    trace = timeline.Trace(events)
    lines = timeline.timeline(trace)
    assert any(re.search(r"\.\.\. .*read x\d+ \(\d+ bytes\)", line)
               for line in lines)
    assert len([line for line in lines if "read(4" in line]) < reads
    svg = timeline.sequence_svg(trace, "a long message")
    assert re.search(r"read x\d+ \(\d+ bytes\)", svg) and \
        svg.count("<rect") < calls
    # The bytes join each read with the write that sent them, the folded
    # ones too.
    joined = [n for n, e in enumerate(trace.events)
              if e["call"] == "read" and trace.kind.get(n) == "data"]
    assert len(joined) > reads and len(joined) == len([e for e in trace.events
                               if e["call"] == "read" and
                               e["event"] == "return" and e["ret"] > 0])


def test_the_tool_reads_several_trace_files():
    events = recorded("06-close")
    with tempfile.TemporaryDirectory(prefix="lab-") as tmp:
        paths = []
        for pid in sorted({e["pid"] for e in events}):
            path = Path(tmp) / f"{pid}.jsonl"
            path.write_text("".join(json.dumps(e) + "\n" for e in events
                                    if e["pid"] == pid))
            paths.append(str(path))
        with open(paths[0], "a") as f:  # a line that is not the lab's
            f.write("server: listening on lab.sock\n")
        whole = timeline.Trace(list(events))
        again = timeline.Trace(timeline.load(paths))
        assert len(again.events) == len(events)
        assert sorted(again.cause.items()) == sorted(whole.cause.items())
        shown = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "lab.py"), "timeline", *paths,
             "--svg", str(Path(tmp) / "run.svg")],
            capture_output=True, text=True, timeout=10 * labrun.SCALE,
            env=dict(os.environ, NO_COLOR="1"))
        assert shown.returncode == 0, shown.stderr
        assert "not a line of the lab's JSON trace, skipped" in shown.stderr
        assert "<- #1 connection" in shown.stdout
        assert (Path(tmp) / "run.svg").read_text().startswith("<svg")


def test_processes_are_drawn_in_the_order_they_were_made_across_a_pid_wrap():
    """Pids grow, then start again from the bottom after pid_max: a
    collector given the last pid before the wrap is still drawn before the
    loggers started after it."""
    top = timeline.pid_max()
    events = []
    for n, (pid, role) in enumerate([(top - 1, "collector"), (300, "logger"),
                                     (310, "logger")]):
        events.append({"ts": 1000 + n, "pid": pid, "role": role,
                       "event": "return", "call": "socket",
                       "args": {"domain": "AF_UNIX", "type": "SOCK_DGRAM",
                                "protocol": 0},
                       "ret": 3, "errno": None, "start": 1000 + n,
                       "file": "x.c", "line": 1})
    lanes = timeline.Trace(events).lanes
    assert [lane.pid for lane in lanes] == [top - 1, 300, 310]
    assert timeline.creation_order([5, 7, 9]) == [5, 7, 9]



# Lines that are JSON objects but not in the trace's shape: a field of
# another kind, or an argument its call always has missing.
def _poll(e):
    return dict(e, call="poll", args={"fds": [1], "nfds": 1, "timeout": -1})


NOT_THE_TRACE_S = {
    "a repeat event with no place": lambda e: {
        k: v for k, v in dict(e, event="repeat").items() if k != "file"},
    "a role that is a number": lambda e: dict(e, role=5),
    "args that are null": lambda e: dict(e, args=None),
    "an fd that is an object": lambda e: dict(e, args=dict(e["args"],
                                                           fd={})),
    "a result that is a list": lambda e: dict(e, ret=[1]),
    "a return with no start": lambda e: {k: v for k, v in e.items()
                                         if k != "start"},
    "a poll set of plain numbers": _poll,
    "a sigaction with no signal": lambda e: dict(e, call="sigaction",
                                                 args={"handler": "SIG_IGN"}),
    "an address that is a number": lambda e: dict(
        e, call="bind", args={"fd": 3, "addr": 7, "addrlen": 110}),
    "an event of no known kind": lambda e: dict(e, event={}),
}


def test_a_json_line_not_in_the_trace_s_shape_is_skipped_not_a_crash():
    events = list(recorded("06-close"))
    close = next(e for e in events if e["call"] == "close"
                 and e["event"] == "return")
    for what, odd in NOT_THE_TRACE_S.items():
        data = "".join(json.dumps(e) + "\n" for e in [*events, odd(close)])
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            read = timeline.trace_events(data.encode(), "t.jsonl")
        assert len(read) == len(events), what
        assert "t.jsonl:%d: not a line" % (len(events) + 1) in \
            stderr.getvalue(), what
    with tempfile.TemporaryDirectory(prefix="lab-") as tmp:
        path = Path(tmp) / "odd.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in [
            *events, *(odd(close) for odd in NOT_THE_TRACE_S.values())]))
        shown = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "lab.py"), "timeline",
             str(path), "--svg", str(Path(tmp) / "odd.svg")],
            capture_output=True, text=True, timeout=10 * labrun.SCALE,
            env=dict(os.environ, NO_COLOR="1"))
        assert shown.returncode == 0, shown.stderr
        assert shown.stderr.count("not a line of the lab's JSON trace") == \
            len(NOT_THE_TRACE_S), shown.stderr
        assert "Traceback" not in shown.stderr


def test_the_diagram_replaces_only_an_earlier_diagram():
    """SVG= names a new file or a diagram drawn before: a trace, a source,
    a directory or a FIFO there is refused in one line and left as it
    is, and a missing directory is not made."""
    events = recorded("06-close")
    with tempfile.TemporaryDirectory(prefix="lab-") as tmp:
        tmp = Path(tmp)
        trace = tmp / "run.jsonl"
        trace.write_text("".join(json.dumps(e) + "\n" for e in events))
        kept = trace.read_bytes()
        os.mkfifo(tmp / "fifo")

        def draw(svg):
            return subprocess.run(
                [sys.executable, str(ROOT / "tools" / "lab.py"), "timeline",
                 f"--svg={svg}", "--", str(trace)], capture_output=True,
                text=True, timeout=10 * labrun.SCALE,
                env=dict(os.environ, NO_COLOR="1"))
        for svg in (trace, tmp, tmp / "fifo", tmp / "no such dir" / "a.svg"):
            done = draw(svg)
            assert done.returncode == 2 and "Traceback" not in done.stderr, \
                done.stderr
            assert done.stderr.startswith("make timeline: nothing written: ") \
                and len(done.stderr.splitlines()) == 1, done.stderr
        assert trace.read_bytes() == kept
        assert sorted(p.name for p in tmp.iterdir()) == ["fifo", "run.jsonl"]
        for _ in range(2):  # a new file, then the diagram drawn before
            done = draw(tmp / "it's a run.svg")
            assert done.returncode == 0, done.stderr
            assert (tmp / "it's a run.svg").read_text().startswith("<svg")
