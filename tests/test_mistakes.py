"""The lesson checks judge learner programs as the corpus says.

tests/mistakes.json holds learner programs, each a small edit of a
solution: mistakes, each with what the first failure of its lesson's
checks must name, and correct programs written differently from the
solution, which every check must accept.  Each entry is judged here as
`make check` judges a learner (tests/mistakes.py: the first failure only),
every entry: those that show only when a call fails (LAB_FAULTS), or only
to a reading of the source or a sanitizer, too.  The programs are compiled
once, in one parallel make,
and kept in build/mistakes/ by what they are made of, so that a second run
compiles nothing.  Not in a hand-out: it edits the solutions.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

import labrun
import mistakes

CORPUS = json.loads(mistakes.CORPUS.read_text())
# Each entry may be judged in any process of a parallel run
# (conftest.spread): the programs are built under a lock, once.
SPREAD = True
JUDGED = [(i, e) for i, e in enumerate(CORPUS) if mistakes.runnable(e)]
WANTS = {"fail": "caught, and named by its first failure", "pass": "accepted"}


def test_every_entry_of_the_corpus_is_well_formed():
    seen, bad = set(), []
    for entry in CORPUS:
        found = mistakes.problems(entry, seen)
        if not found:
            try:
                mistakes.edited(entry)
            except ValueError as e:
                found.append(str(e))
        bad += [f"{entry.get('lesson')}/{entry.get('name')}: {problem}"
                for problem in found]
    assert not bad, "\n".join(bad)


@pytest.fixture(scope="module")
def built():
    where = labrun.scratch_dir("lab-mistakes-", parent=labrun.RUN_PARENT)
    try:
        # The sanitized builds: by the few checks that reach them, in
        # whichever process runs them (SPREAD).
        yield mistakes.build(JUDGED, where, sanitized=False)
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.parametrize("index, entry", JUDGED,
                         ids=[f"{e['lesson']}/{e['name']}" for _, e in JUDGED])
def test_each_mistake_is_named_first_and_each_correct_program_accepted(
        built, index, entry):
    code_dir, messages = built[index]
    assert messages is None, f"it does not build:\n{messages}"
    found = mistakes.first_failure(code_dir, entry["lesson"])
    result = mistakes.judge(entry, found)
    assert mistakes.as_it_should_be(entry, result), (
        f"{entry['why']}\nWanted: {WANTS[entry['verdict']]}; it was "
        f"{result}" + (f" (the names wanted: {entry.get('names')})"
                       if entry["verdict"] == "fail" else "") +
        (f". The first failure:\n{found[0]}" if found else "."))


def test_every_entry_of_the_corpus_is_judged():
    left = [f"{e['lesson']}/{e['name']}: needs {e.get('needs')}"
            for e in CORPUS if not mistakes.runnable(e)]
    assert not left, "entries the checks cannot judge:\n" + "\n".join(left)


# -- what the checks rely on --------------------------------------------------

def entry_named(name):
    return next((i, e) for i, e in enumerate(CORPUS) if e["name"] == name)


def test_an_eof_busy_loop_makes_a_short_trace_and_report(built):
    # make lesson N=05 with a server that reads end of file for ever: the
    # lesson's steps, as make lesson runs them (tools/lab.py run), on the
    # mistake's programs; the trace shows the loop a few times, then counts.
    index, entry = entry_named("read-eof-busy-loop")
    code_dir, _ = built[index]
    build = labrun.scratch_dir("lab-busy-loop-")
    try:
        lesson = build / "lessons" / entry["lesson"]
        lesson.mkdir(parents=True)
        for name in ("server", "client"):
            (lesson / name).symlink_to((code_dir / name).resolve())
        env = {k: v for k, v in os.environ.items() if not k.startswith(
            ("LAB_", "MAKE", "MFLAGS"))}
        env.update(LAB_BUILD=str(build), NO_COLOR="1",
                   LAB_TIMEOUT_SCALE=str(labrun.SCALE / 4))
        done = subprocess.run(
            [sys.executable, str(labrun.ROOT / "tools" / "lab.py"), "run",
             "lessons", entry["lesson"]], env=env, capture_output=True,
            text=True, timeout=60 * labrun.SCALE)
        shown = done.stdout + done.stderr
        counted = [int(n.replace(",", "")) for n in re.findall(
            r"read\(4, \.\.\.\) = 0 \.\.\. the same ([\d,]+) more times",
            shown)]
        trace = (build / "run" / "lessons" / entry["lesson"] /
                 "trace.jsonl").read_bytes()
    finally:
        shutil.rmtree(build, ignore_errors=True)
    assert counted and max(counted) >= 1000, shown[-3000:]
    assert len(shown.splitlines()) < 80, \
        f"{len(shown.splitlines())} lines:\n{shown[-3000:]}"
    lines = trace.count(b"\n")
    assert len(trace) < 64 * 1024 and lines < 100, \
        f"trace.jsonl: {len(trace)} bytes, {lines} lines"
    # The report of its first failed check names the loop, and shows it
    # counted once, with the count at the end.
    failure, _ = mistakes.first_failure(code_dir, entry["lesson"])
    assert re.search(r"Found: read\(4\) returned 0, end of file, and was "
                     r"called on fd 4 again \(\d+ times more\)", failure), \
        failure
    # The first repeats show as "the same line N more times"; from 1,000 on,
    # one line keeps the count. A busy machine may end the check before that.
    lines = failure.splitlines()
    counted = [line for line in lines
               if "read(4, ...) = 0 ... the same" in line]
    repeated = [line for line in lines
                if re.fullmatch(r"\s*\.\.\. the same line [\d,]+ more times?",
                                line)]
    assert len(counted) <= 1 and len(repeated) == 1, failure
    assert len(lines) < 60, failure


def test_the_signal_safe_functions_are_those_of_signal_safety_7():
    import conftest
    if shutil.which("man") is None:
        pytest.fail("man is not installed: make test installs man-db")
    page = subprocess.run(["man", "-P", "cat", "7", "signal-safety"],
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "MANWIDTH": "200",
                               "LC_ALL": "C.UTF-8"})
    assert page.returncode == 0, page.stderr
    table = page.stdout.split("Function", 1)[1].split("Notes:", 1)[0]
    listed = set(re.findall(r"^ {7}([A-Za-z_]\w*)\(\d\)", table, re.M))
    assert listed == conftest.SIGNAL_SAFE, (
        f"signal-safety(7) lists {sorted(listed - conftest.SIGNAL_SAFE)} "
        f"that SIGNAL_SAFE lacks, and not "
        f"{sorted(conftest.SIGNAL_SAFE - listed)}")


SIGNAL_FLAGS = r"""
#include <signal.h>
#include <stdio.h>
static void on_signal(int sig) { (void)sig; }
int main(void)
{
    struct sigaction now;
    if (signal(SIGTERM, on_signal) == SIG_ERR ||
        sigaction(SIGTERM, NULL, &now) == -1)
        return 1;
    printf("%s %s\n", now.sa_flags & SA_RESETHAND ? "SA_RESETHAND" : "-",
           now.sa_flags & SA_RESTART ? "SA_RESTART" : "-");
    return 0;
}
"""


def test_what_the_handler_check_says_of_signal_is_what_it_does():
    # test_06's message: built as the lab builds (_POSIX_C_SOURCE), glibc's
    # signal() installs a handler with SA_RESETHAND; with _DEFAULT_SOURCE,
    # or with musl, with SA_RESTART.
    where = labrun.scratch_dir("lab-signal-flags-")
    try:
        (where / "flags.c").write_text(SIGNAL_FLAGS)
        said = {}
        compilers = [("cc", "-D_POSIX_C_SOURCE=200809L"),
                     ("cc", "-D_DEFAULT_SOURCE")]
        if shutil.which("musl-gcc"):
            compilers.append(("musl-gcc", "-D_POSIX_C_SOURCE=200809L"))
        for cc, macro in compilers:
            out = where / f"flags-{cc}{macro}"
            subprocess.run([cc, "-std=c11", macro, str(where / "flags.c"),
                            "-o", str(out)], check=True, timeout=60)
            said[cc, macro] = subprocess.run(
                [str(out)], capture_output=True, text=True,
                timeout=10).stdout.split()
    finally:
        shutil.rmtree(where, ignore_errors=True)
    assert said["cc", "-D_POSIX_C_SOURCE=200809L"] == ["SA_RESETHAND", "-"]
    assert said["cc", "-D_DEFAULT_SOURCE"] == ["-", "SA_RESTART"]
    if ("musl-gcc", "-D_POSIX_C_SOURCE=200809L") in said:
        assert said["musl-gcc", "-D_POSIX_C_SOURCE=200809L"] == \
            ["-", "SA_RESTART"]


WRITER = """
import os, sys
os.dup2(int(sys.argv[1]), int(sys.argv[2]))
os.write(int(sys.argv[2]), b"x" * 200000)  # more than a pipe holds
"""


@pytest.mark.parametrize("fd, own", [(5, True), (201, False)])
def test_a_program_writing_its_trace_is_not_taken_to_sleep_in_its_write(
        fd, own):
    # A check that asks whether a server sleeps in write(2) (a client that
    # does not read), or sleeps at all, must not be answered by the
    # trace's own write, which waits while the collector is behind on a
    # loaded machine.
    import peers
    read_end, write_end = os.pipe()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(write_end),
                               str(fd)], pass_fds=(write_end,))
    os.close(write_end)
    try:
        def waits_for_room():
            try:
                with open(f"/proc/{writer.pid}/wchan") as f:
                    wchan = f.read()
                with open(f"/proc/{writer.pid}/syscall") as f:
                    return "pipe_write" in wchan and \
                        f.read().split()[1:2] == [hex(fd)]
            except OSError:
                return False
        deadline = time.monotonic() + labrun.WAIT * 5
        while not waits_for_room():
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.005)  # /proc has no event to wait for
        assert (peers.blocked_in(writer.pid) == ("write", fd)) == own
        assert labrun.process_state(writer.pid)[0] == ("S" if own else "R")
    finally:
        writer.kill()
        writer.wait(timeout=labrun.WAIT * 5)
        os.close(read_end)


def test_a_loop_is_runnable_all_the_time_a_sleeper_never():
    # What lessons 08 and 09 take for a loop that never waits, whatever
    # share of the CPU a loaded machine gives it: a loop is always on a
    # CPU or waiting for one.
    import peers
    loop = subprocess.Popen(["sh", "-c", "while :; do :; done"])
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + labrun.WAIT * 5
        while labrun.process_state(sleeper.pid)[0] != "S":  # started
            assert time.monotonic() < deadline
            time.sleep(0.005)  # /proc has no event to wait for
        before = [peers.runnable_seconds(p.pid) for p in (loop, sleeper)]
        start = time.monotonic()
        time.sleep(0.2)  # a span of time is what is measured
        after = [peers.runnable_seconds(p.pid) for p in (loop, sleeper)]
        spent = time.monotonic() - start
        assert after[0] - before[0] >= spent / 2, (before, after, spent)
        assert after[1] - before[1] < spent / 10, (before, after, spent)
    finally:
        for p in (loop, sleeper):
            p.kill()
            p.wait(timeout=labrun.WAIT * 5)


POLLER = """
import select, socket, sys
sock = socket.socket(fileno=int(sys.argv[1]))
poller = select.poll()
poller.register(sock, select.POLLIN if sys.argv[2] == "in" else 0)
poller.poll()
"""


@pytest.mark.parametrize("asks", ["in", "nothing"])
def test_a_poll_that_sleeps_through_unread_bytes_does_not_ask_for_them(
        asks):
    # What lesson 08 takes for a server that no longer reads a client
    # whose replies wait, when the trace does not show that poll yet.
    import peers
    mine, its = socket.socketpair()
    poller = subprocess.Popen([sys.executable, "-c", POLLER,
                               str(its.fileno()), asks],
                              pass_fds=(its.fileno(),))
    its.close()
    try:
        deadline = time.monotonic() + labrun.WAIT * 5
        while (peers.blocked_in(poller.pid) or ("",))[0] != "poll":
            assert time.monotonic() < deadline and poller.poll() is None
            time.sleep(0.005)  # /proc has no event to wait for

        def sent():
            mine.send(b"x")
            return peers.unread(mine)
        assert peers.sleeps_through(poller.pid, peers.POLLING_CALLS,
                                    sent) == (asks == "nothing")
        assert not peers.sleeps_through(poller.pid, peers.POLLING_CALLS,
                                        lambda: False)
    finally:
        poller.kill()
        poller.wait(timeout=labrun.WAIT * 5)
        mine.close()
