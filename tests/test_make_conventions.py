"""The Makefile keeps the conventions people expect of one: a change of
compiler or flags rebuilds, LDLIBS reaches the link, and pytest's own
options reach the checks."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import labrun
from conftest import LESSONS, LabCopy, as_at_a_terminal


def test_a_change_of_cflags_or_cc_rebuilds_the_programs(lab_copy):
    program = "build/lessons/01-socket/server"
    assert lab_copy.make("-q", program).returncode == 0, "the copy is built"
    changed = lab_copy.make("-q", program, "CFLAGS=-O1 -g")
    assert changed.returncode == 1, "new CFLAGS must make the programs stale"
    rebuilt = lab_copy.make("-s", program, "CFLAGS=-O1 -g")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert lab_copy.make("-q", program, "CFLAGS=-O1 -g").returncode == 0
    assert lab_copy.make("-q", program, "CFLAGS=-O1 -g",
                         "CC=gcc").returncode == 1


def test_ldlibs_reaches_the_link(lab_copy):
    shown = lab_copy.make("-n", "-B", "build/lessons/01-socket/server",
                          "LDLIBS=-lm")
    link = [line for line in shown.stdout.splitlines()
            if "-o build/lessons/01-socket/server " in line]
    assert link and " -lm -o build/lessons/01-socket/server " in link[0], \
        shown.stdout


def test_pytest_options_reach_the_checks(lab_copy):
    """PYTEST_ARGS, documented in make help: -k picks checks, and --lf runs
    again only what failed last time."""
    picked = lab_copy.make("check", "N=01", "PYTEST_ARGS=-k no_such_check")
    assert "deselected" in picked.stdout, picked.stdout
    first = lab_copy.make("check", "N=01")  # the starter: a check fails
    assert first.returncode != 0 and "1 failed" in first.stdout
    again = lab_copy.make("check", "N=01", "PYTEST_ARGS=--lf")
    assert re.search(r"\b1 failed, [1-9]\d* deselected", again.stdout), \
        again.stdout


def lab_make(*args):
    return LabCopy(labrun.ROOT).make(f"B={labrun.BUILD}", *args)


@pytest.mark.parametrize("command", ["check", "hint", "quiz", "reset",
                                     "watch", "lesson", "errors"])
def test_n_that_is_no_lesson_is_named_and_refused(command):
    """N=99, N=abc: not a lesson, said as such with the list of lessons,
    not taken for a missing N; two lessons at once are refused, never
    taken for the first."""
    lessons = " ".join(LESSONS)
    for n in ("99", "abc", "1x", "0") if command == "hint" else ("99",):
        done = lab_make(command, f"N={n}")
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stdout.startswith(f"make {command}: {n} is not a "
                                      "lesson"), done.stdout
        assert f"The lessons: {lessons}" in done.stdout
    done = lab_make(command, "N=01 02")
    assert done.returncode == 2 and done.stdout.startswith(
        f"make {command}: N='01 02' names 2 lessons: one lesson at a "
        "time"), done.stdout
    assert "`N=99`" in (labrun.ROOT / "README.md").read_text()
    if command in ("check", "errors"):
        return  # without N: every lesson
    assert lab_make(command).stdout.startswith("Say which lesson")
    for n in ("4", "04", "004") if command == "hint" else ():
        # The same lesson, however written (one place resolves N for all)
        shown = lab_make("-n", command, f"N={n}")
        assert shown.returncode == 0 and \
            'if [ -z "04-accept-connect" ]' in shown.stdout, shown.stdout


def test_names_with_quotes_and_spaces_reach_the_tools_whole(tmp_path):
    """A file or variant name is passed on as one word, whatever it holds:
    a quote breaks no shell command, a space splits no name."""
    odd = "it's a"
    for command, name in [("errors", "V"), ("timeline", "V"),
                          ("strace", "V")]:
        done = lab_make(command, f"{name}={odd}")
        assert done.returncode == 2 and "Syntax error" not in done.stderr \
            and f"{odd}" in done.stderr, done.stderr
        # A byte that is not UTF-8 (\xff) is shown as one, as typed.
        done = lab_make(command, f"{name}=it\udcffs")
        assert done.returncode == 2 and "it\ufffds" in done.stderr, \
            done.stderr
    for command, name in [("handout", "HANDOUT"),
                          ("autograder", "AUTOGRADER")]:
        done = lab_make(command, f"{name}={tmp_path / odd / 'x'}")
        assert done.returncode == 2 and \
            f"the directory {tmp_path / odd} does not exist" in done.stderr, \
            done.stderr
    trace = tmp_path / f"{odd} run.jsonl"
    trace.write_text("")
    done = lab_make("timeline", f"TRACE={trace}",
                    f"SVG={tmp_path / odd}.svg")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / f"{odd}.svg").read_text().startswith("<svg")


@pytest.mark.parametrize("command", [("progress",), ("errors",),
                                     ("quiz", "N=04", "ANSWERS=abcab")])
def test_an_output_that_cannot_be_written_is_said_not_a_traceback(
        lab_copy, command):
    """A full disk, a closed standard output, a reader that has gone (make
    errors | head): one line on standard error and a non-zero status, or,
    for the reader that has gone, no more output; never a traceback."""
    argv, env = lab_copy.make_command("-s", *command)
    for where, says in ((">/dev/full", "cannot write standard output: No "
                         "space left on device"),
                        (">&-", "standard output is closed")):
        done = subprocess.run(["sh", "-c", f'exec "$@" {where}', "sh",
                               *argv], env=env, capture_output=True,
                              text=True, timeout=60 * labrun.SCALE)
        assert done.returncode != 0 and says in done.stderr and \
            "Traceback" not in done.stderr, done.stderr
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        proc.stdout.read(1)
        proc.stdout.close()  # as head does once it has its lines
        _, stderr = proc.communicate(timeout=60 * labrun.SCALE)
    assert b"Traceback" not in stderr and b"Broken pipe" not in stderr, \
        stderr.decode(errors="replace")


def test_a_build_directory_that_is_a_file_is_named(tmp_path):
    """build/ as a file (or a link to nowhere): make says what to move
    away, before it tries to write in it."""
    for odd in ("a-file", "a-link"):
        build = tmp_path / odd
        build.write_text("") if odd == "a-file" else \
            build.symlink_to(tmp_path / "nowhere")
        done = LabCopy(labrun.ROOT).make(f"B={build}", "progress")
        assert done.returncode == 2 and f"{build} is not a directory: the " \
            "lab builds everything into it. Move it away" in done.stderr, \
            done.stderr


def test_a_timeout_scale_that_is_no_number_above_0_is_refused(tmp_path):
    """LAB_TIMEOUT_SCALE=0 would fail every check that waits, and abc was
    a traceback: both are refused in one line, with the status of a wrong
    command line (the grading tool's 2, never its 1, incomplete)."""
    for scale in ("abc", "0", "-1", "nan"):
        argv, env = LabCopy(labrun.ROOT).make_command(
            f"B={labrun.BUILD}", "-s", "progress")
        env["LAB_TIMEOUT_SCALE"] = scale
        done = subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=60 * labrun.SCALE)
        assert done.returncode != 0 and done.stderr.startswith(
            f"LAB_TIMEOUT_SCALE={scale}: give a number above 0") and \
            "Traceback" not in done.stderr, done.stderr
        graded = subprocess.run(
            [str(labrun.ROOT / "tools" / "grade"), str(tmp_path)],
            env=dict(env, LAB_BUILD=str(labrun.BUILD)), capture_output=True,
            text=True, timeout=60 * labrun.SCALE)
        assert graded.returncode == 2, graded.stderr


# A plugin for the run below: at the end of its first check, before the
# lab is closed, it starts a server in the check's lab, says where (the
# lab's directory, the server's pid) through a FIFO, and waits for a
# signal: the run is stopped in the middle of a check, every time.
HOLD = """
import json, os, signal
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    lab = item.funcargs["lab"]
    server = lab.serving()
    with open(os.environ["LAB_HELD"], "w") as said:
        said.write(json.dumps([str(lab.dir), server.pid]))
    signal.pause()
    yield
"""


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_a_hangup_stops_the_checks_as_ctrl_c_does(tmp_path, sig):
    """The terminal closed while make check runs (SIGHUP), or a SIGTERM:
    the checks stop as at Ctrl-C, their programs ended and their lab
    directories removed, never left running and behind."""
    tests = Path(__file__).resolve().parent
    (tmp_path / "hold_lab.py").write_text(HOLD)
    held = tmp_path / "held"
    os.mkfifo(held)
    env = dict(os.environ, LAB_CODE="solutions", LAB_HELD=str(held),
               PYTHONPATH=os.pathsep.join([str(tmp_path),
                                           os.environ.get("PYTHONPATH", "")]))
    where, pid = None, None
    with subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-p", "no:xdist", "-p", "hold_lab", f"--basetemp={tmp_path}",
             f"{tests / 'test_06_close.py'}::"
             "test_the_socket_file_is_removed_on_exit"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True) as run:
        try:
            fd = os.open(held, os.O_RDONLY | os.O_NONBLOCK)
            try:
                ready, _, _ = select.select([fd], [], [], 60 * labrun.SCALE)
                said = os.read(fd, 4096) if ready else b""
            finally:
                os.close(fd)
            assert said, "the check was not held"
            where, pid = json.loads(said)
            assert Path(where).is_dir()
            run.send_signal(sig)
            run.communicate(timeout=60 * labrun.SCALE)
            left = Path(where).exists()
            running = labrun.process_state(pid)[0] is not None
        finally:  # whatever happened, nothing left behind
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
            if pid and labrun.process_state(pid)[0] is not None:
                os.kill(pid, signal.SIGKILL)
            if where:
                shutil.rmtree(where, ignore_errors=True)
    assert not left, f"{where} left behind"
    assert not running, f"the server ({pid}) left running"


def test_ctrl_c_in_a_command_is_one_line_not_a_traceback():
    """A command of the lab's tools stopped by Ctrl-C in the middle says so
    in one line, then ends of SIGINT, as make and a shell expect."""
    program = ("import labrun\n"
               "def main(argv):\n    raise KeyboardInterrupt\n"
               "labrun.run_tool(main)\n")
    done = subprocess.run([sys.executable, "-c", program, "handout"],
                          env={**os.environ,
                               "PYTHONPATH": str(labrun.ROOT / "tools")},
                          capture_output=True, text=True,
                          timeout=30 * labrun.SCALE,
                          preexec_fn=as_at_a_terminal)
    assert done.returncode == -signal.SIGINT, done.stderr
    assert done.stderr.strip().splitlines() == [
        "-c handout: stopped by Ctrl-C: run it again."], done.stderr
