"""make progress: each lesson's state, a progress bar, and the next step,
on an unpacked hand-out whose lessons are solved, edited or left alone."""
import os
import re

import pytest

import test_01_socket
from conftest import LESSONS

# How many checks lesson 01 has.
CHECKS_01 = sum(name.startswith("test_") for name in vars(test_01_socket))

# Each test may run in any process of a parallel run (conftest.spread):
# each has its own copy of the lab (lab_copy).
SPREAD = True

def states(output):
    """{lesson: the state column} from make progress's table."""
    found = {}
    for line in output.splitlines():
        m = re.match(r"\s+(\d\d-\S+)\s+(done|in progress|not started|"
                     r"does not compile)", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


def progress(copy):
    done = copy.make("progress")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_fresh_hand_out_has_not_been_started(lab_copy):
    out = progress(lab_copy)
    assert states(out) == {lesson: "not started" for lesson in LESSONS}
    assert f"0 of {len(LESSONS)} lessons done" in out
    assert "[" + "." * 30 + "]" in out
    todo = next(n for n, line in enumerate(
        (lab_copy.lesson(LESSONS[0]) / "server.c").read_text().splitlines(), 1)
        if f"TODO({LESSONS[0]})" in line)
    assert f"Next: lesson {LESSONS[0]}: read lessons/{LESSONS[0]}/README.md," \
        f" then do the TODO at lessons/{LESSONS[0]}/server.c:{todo}: create " \
        "a Unix domain stream socket" in out


def test_done_in_progress_not_compiling_and_not_started(lab_copy):
    lab_copy.solve("01-socket")
    lab_copy.edit("02-bind")  # changed, but the TODO is still to do
    lab_copy.edit("03-listen", text="this is not C\n")
    out = progress(lab_copy)
    assert states(out) == {"01-socket": "done", "02-bind": "in progress",
                           "03-listen": "does not compile",
                           **{lesson: "not started" for lesson in LESSONS[3:]}}
    assert re.search(rf"01-socket\s+done\s+{CHECKS_01} of {CHECKS_01} "
                     "checks pass", out)
    assert f"1 of {len(LESSONS)} lessons done" in out
    # The first lesson not done, and its first failing check, in a sentence.
    assert 'Next: lesson 02-bind, check "bind names the socket with the ' \
        'path": expected the server to call bind(2) on its socket ' \
        '(make check N=02 shows the trace; make hint N=02 gives a hint).' \
        in out


def test_each_edit_is_seen_at_the_next_run(lab_copy):
    lab_copy.edit("01-socket")
    assert states(progress(lab_copy))["01-socket"] == "in progress"
    lab_copy.solve("01-socket")
    out = progress(lab_copy)
    assert states(out)["01-socket"] == "done"
    assert "Next: lesson 02-bind: read" in out
    # Code that no longer compiles is not checked with its old build.
    lab_copy.edit("01-socket", text="int broken(void) { return }\n")
    out = progress(lab_copy)
    assert states(out)["01-socket"] == "does not compile"
    assert "Next: lesson 01-socket does not compile: make lesson N=01 shows" \
        " the compiler's messages." in out


def test_make_check_says_what_make_progress_says_and_stays_calm(lab_copy):
    lab_copy.solve("01-socket")
    lab_copy.edit("03-listen")
    lab_copy.edit("04-accept-connect", "client.c", "this is not C\n")
    check = lab_copy.make("check", timeout=60)
    assert check.returncode != 0
    assert states(check.stdout) == states(progress(lab_copy)) == {
        "01-socket": "done", "02-bind": "not started",
        "03-listen": "in progress", "04-accept-connect": "does not compile",
        "05-read-write": "not started", "06-close": "not started",
        **{lesson: "not started" for lesson in LESSONS[6:]}}
    # No "is up to date" from the build; the whole report of the first
    # lesson that fails, and one line for each of the others.
    assert "up to date" not in check.stdout + check.stderr
    assert check.stdout.count("The trace showed:") == 1
    assert 'Reread lessons/02-bind/README.md' in check.stdout
    for lesson in LESSONS[2:]:
        assert f"lesson {lesson} fails here too: one lesson at a time, " \
            f"02-bind first (make check N={lesson[:2]} shows" in check.stdout
    # One lesson alone gets its whole report.
    alone = lab_copy.make("check", "N=03")
    assert "The trace showed:" in alone.stdout
    assert "fails here too" not in alone.stdout



@pytest.mark.parametrize("kind", ["directory", "FIFO"])
def test_a_source_that_is_a_directory_is_said_to_be_no_file(lab_copy, kind):
    """make progress and make check say so, instead of "in progress" and
    the compiler's "No such file or directory"; a FIFO is never given to
    the compiler, which would wait on it for ever."""
    source = lab_copy.lesson("02-bind") / "server.c"
    source.unlink()
    source.mkdir() if kind == "directory" else os.mkfifo(source)
    progress = lab_copy.make("progress")
    assert "02-bind              not a file" in progress.stdout, \
        progress.stdout
    assert f"lessons/02-bind/server.c is not a file: it is a {kind}" in \
        " ".join(progress.stdout.split())
    check = lab_copy.make("check", "N=02")
    assert check.returncode != 0
    assert f"lessons/02-bind/server.c is not a file: it is a {kind}" in \
        check.stdout and "No such file or directory" not in check.stdout, \
        check.stdout


@pytest.mark.parametrize("remembered", ["[]", '{"01-socket": 5}'])
def test_what_progress_remembered_in_another_shape_is_run_again(
        lab_copy, remembered):
    """build/classroom/progress.json of an older lab, or edited by hand:
    its entries count as nothing remembered, and the checks run again."""
    lab_copy.solve("01-socket")
    state = lab_copy.path / "build" / "classroom" / "progress.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(remembered + "\n")
    done = lab_copy.make("progress")
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "01-socket            done" in done.stdout, done.stdout


def test_progress_that_cannot_remember_its_results_says_so(lab_copy):
    """Where make progress keeps the checks' results cannot be written
    (here a directory in its place, as a read-only build/ would do): the
    progress is shown all the same, and one line says the results are not
    remembered, with no traceback."""
    state = lab_copy.path / "build" / "classroom" / "progress.json"
    state.mkdir(parents=True)
    done = lab_copy.make("progress")
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert states(done.stdout) == {lesson: "not started"
                                   for lesson in LESSONS}
    assert "progress: the checks' results are not remembered (build/" \
        "classroom/progress.json: Is a directory)" in done.stderr


def test_progress_stopped_in_the_middle_remembers_nothing(lab_copy):
    """Ctrl-C while the checks run: one line says so, the status is not 0,
    and neither a table of the checks that ran nor their results are
    taken for the lesson's (a lesson "done" with checks not run)."""
    done = lab_copy.make_stopped_by_ctrl_c("progress")
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "classroom.py progress: stopped by Ctrl-C before the checks " \
        "were done: run it again." in done.stderr, done.stderr
    assert "Your progress" not in done.stdout, done.stdout
    assert not (lab_copy.path / "build" / "classroom" /
                "progress.json").exists()


def test_a_source_of_gigabytes_is_not_compiled_and_said(lab_copy):
    """A lesson source far larger than any program (a program's output
    sent into it by mistake) is neither read whole nor given to the
    compiler, which would take it for ever: the lesson does not compile,
    and make progress says why, at once."""
    source = lab_copy.lesson("03-listen") / "server.c"
    with open(source, "r+b") as f:
        f.truncate(1 << 30)  # no disk: a sparse file
    done = lab_copy.make("progress", timeout=60)
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert states(done.stdout)["03-listen"] == "does not compile"
    assert f"lessons/03-listen/server.c: {1 << 30} bytes, more than a " \
        "lesson source may be (1048576 bytes): nothing to compile" in \
        done.stdout, done.stdout
