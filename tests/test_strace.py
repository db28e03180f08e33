"""The lab's trace tells the truth: strace sees the same lifecycle calls,
with the same results and errnos, for every lesson's run and every
deliberate error of the catalogue.

Skipped when strace is not installed or may not trace (ptrace can be
forbidden in containers); probed once.
"""
import json
import subprocess

import pytest

import labrun
import manifest
import strace_compare

LESSONS = manifest.lesson_ids()


@pytest.fixture(scope="module")
def strace():
    why_not = strace_compare.usable()
    if why_not:
        pytest.skip(why_not)


@pytest.mark.parametrize("lesson", LESSONS)
def test_strace_agrees_with_the_lab_trace(strace, lesson):
    events, lines = strace_compare.run_lesson("solutions", lesson)
    seen = strace_compare.parse(lines)
    assert events and any(seen.values()), \
        f"{lesson}: nothing to compare (lab: {len(events)} events, " \
        f"strace: {len(lines)} lines)"
    problems = strace_compare.differences(events, lines)
    assert not problems, "\n".join(
        problems + strace_compare.side_by_side(events, lines))


def test_without_strace_the_tests_say_why_they_skip(monkeypatch):
    monkeypatch.setattr(strace_compare.shutil, "which", lambda name: None)
    try:
        assert "not installed" in strace_compare.usable(again=True)
    finally:
        monkeypatch.undo()
        strace_compare.usable(again=True)


def test_where_ptrace_is_forbidden_the_tests_say_why_they_skip(monkeypatch):
    def refused(argv, **kw):
        return subprocess.CompletedProcess(
            argv, 1, b"", b"strace: test_ptrace_get_syscall_info: "
            b"PTRACE_TRACEME: Operation not permitted\n")
    monkeypatch.setattr(strace_compare.shutil, "which", lambda n: "/x")
    monkeypatch.setattr(strace_compare.subprocess, "run", refused)
    try:
        why = strace_compare.usable(again=True)
        assert "ptrace is not permitted" in why and "PTRACE_TRACEME" in why
    finally:
        monkeypatch.undo()
        strace_compare.usable(again=True)


# -- the comparison itself, on a made-up run ----------------------------------

STRACE = """\
100 close(3</etc/ld.so.cache>) = 0
100 socket(AF_UNIX, SOCK_STREAM, 0) = 3<socket:[1]>
100 write(2</tmp/err>, "[server 100] socket(AF_UNIX, S"..., 146) = 146
100 write(200</tmp/lab-x/.trace.fifo>, "{\\"ts\\":1", 299) = 299
100 bind(3<socket:[1]>, {sa_family=AF_UNIX, sun_path="lab.sock"}, 110) = -1 EADDRINUSE (Address already in use)
100 read(0</dev/null>, "", 4096) = 0
100 close(5) = -1 EBADF (Bad file descriptor)
100 accept(3<socket:[1]>, NULL, NULL <unfinished ...>
101 accept(4<socket:[2]>, NULL, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
101 --- SIGINT {si_signo=SIGINT, si_code=SI_USER} ---
101 accept(4<socket:[2]>, NULL, NULL) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
101 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER} ---
101 close(4<socket:[2]>) = 0
100 <... accept resumed>) = 4<socket:[3]>
102 read(3<socket:[4]>,  <unfinished ...>
102 +++ killed by SIGTERM +++
"""


def event(pid, call, ret, errno=None, event="return", **args):
    return {"ts": len(args) + ret if isinstance(ret, int) else 0, "pid": pid,
            "role": "server", "event": event, "call": call, "args": args,
            "ret": ret, "errno": errno, "file": "server.c", "line": 1}


def made_up_events():
    events = [event(100, "socket", 3, domain="AF_UNIX", type="SOCK_STREAM",
                    protocol=0),
              event(100, "bind", -1, "EADDRINUSE", fd=3),
              event(100, "close", -1, "EBADF", fd=5),
              event(100, "accept", 4, fd=3),
              event(101, "accept", -1, "EINTR", fd=4),
              event(101, "close", 0, fd=4),
              event(102, "read", None, event="wait", fd=3, count=10)]
    for ts, e in enumerate(events):
        e["ts"] = ts
    return events


def test_the_comparison_skips_the_trace_library_s_own_calls():
    lines = STRACE.splitlines()
    assert strace_compare.differences(made_up_events(), lines) == []


@pytest.mark.parametrize("change", ["ret", "errno", "extra call"])
def test_the_comparison_sees_a_trace_that_lies(change):
    events = json.loads(json.dumps(made_up_events()))
    if change == "ret":
        events[3]["ret"] = 5
    elif change == "errno":
        events[1]["errno"] = "EACCES"
    else:
        events.append(dict(events[-2], ts=99))
    problems = strace_compare.differences(events, STRACE.splitlines())
    assert len(problems) == 1 and problems[0].startswith("server 10")


# -- the deliberate errors, from their catalogue ------------------------------

VARIANTS = manifest.variants()


@pytest.mark.parametrize("variant", VARIANTS,
                         ids=[v["name"] for v in VARIANTS])
def test_strace_agrees_on_a_deliberate_error(strace, variant):
    refused = labrun.unmet_need(variant)
    if refused:
        pytest.skip(refused)
    events, lines = strace_compare.run_variant(variant)
    failures = [e for e in events if e["event"] == "return" and
                e["ret"] == -1]
    assert failures or variant["expect"], "nothing to compare"
    problems = strace_compare.differences(events, lines)
    assert not problems, "\n".join(
        problems + strace_compare.side_by_side(events, lines))
