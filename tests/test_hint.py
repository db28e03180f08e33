"""make hint: hints one at a time, remembered, and first the mistake that
the last make lesson run shows in its trace."""
import json
import os
import socket
import subprocess

import pytest

import labrun
from conftest import LESSONS

HINTS = json.loads((labrun.ROOT / "lessons" / "hints.json").read_text())
MISTAKES = {m["name"]: m for m in HINTS["mistakes"]}


def hint(copy, n, *args):
    done = copy.make("hint", f"N={n}", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return " ".join(done.stdout.split())


def said(text):
    return " ".join(text.split())


def last_run(copy, lesson):
    """Where make lesson keeps the trace of its last run, in the copy."""
    path = copy.path / "build" / "run" / "lessons" / lesson / "trace.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_every_lesson_has_hints_and_every_mistake_is_well_formed():
    assert sorted(HINTS["lessons"]) == LESSONS
    for lesson in HINTS["lessons"].values():
        assert len(lesson["hints"]) >= 3
    for mistake in HINTS["mistakes"]:
        assert set(mistake) <= {"name", "lessons", "seen", "count", "none",
                                "none_before", "later_same_fd",
                                "earlier_same_fd", "same_fd_at_least",
                                "say"}, mistake
        assert set(mistake.get("lessons", LESSONS)) <= set(LESSONS)


def test_hints_come_one_at_a_time_and_are_remembered(lab_copy):
    ladder = HINTS["lessons"]["04-accept-connect"]["hints"]
    for i, text in enumerate(ladder, 1):
        out = hint(lab_copy, "04")
        assert f"Hint {i} of {len(ladder)} for 04-accept-connect:" in out
        assert said(text) in out
    assert "That was the last of the 4 hints" in hint(lab_copy, "04")
    # Another lesson's hints are counted apart, and AGAIN=1 starts over.
    assert "Hint 1 of" in hint(lab_copy, "01")
    assert "Hint 1 of" in hint(lab_copy, "04", "AGAIN=1")


def test_the_mistake_of_the_last_run_comes_first(lab_copy):
    # The starter of lesson 03 binds but never listens: make lesson fails
    # (after a shorter wait for the listen than a learner gets).
    run = lab_copy.make("lesson", "N=03", scale=0.25)
    assert run.returncode != 0
    out = hint(lab_copy, "03")
    assert "Your last run (make lesson N=03) shows this:" in out
    assert said(MISTAKES["bound-but-not-listening"]["say"]) in out
    # Said once for that run; then the hints of the lesson.
    assert "Hint 1 of" in hint(lab_copy, "03")
    # Once the code is newer than the run, the run no longer speaks for it.
    source = lab_copy.lesson("03-listen") / "server.c"
    later = os.stat(last_run(lab_copy, "03-listen")).st_mtime + 5
    os.utime(source, (later, later))
    out = hint(lab_copy, "03", "AGAIN=1")
    assert "ran before your last edit" in out and "Hint 1 of" in out
    assert said(MISTAKES["bound-but-not-listening"]["say"]) not in out


def leftover_socket_file(lab):
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(lab.dir / "lab.sock"))
    leftover.close()  # the file stays, as after a crash


def bound_not_listening(lab):
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.bind(str(lab.dir / "lab.sock"))
    return idle


@pytest.mark.parametrize("lesson, program, mistake, errno", [
    ("02-bind", "server", "bind-address-in-use", "EADDRINUSE"),
    ("04-accept-connect", "client", "connect-refused", "ECONNREFUSED"),
    ("04-accept-connect", "client", "connect-no-such-file", "ENOENT"),
])
def test_errors_seen_on_the_kernel_are_explained(lab_copy, lesson, program,
                                                 mistake, errno):
    code = labrun.BUILD / "solutions" / lesson
    with labrun.Lab(code, keep_trace=last_run(lab_copy, lesson)) as lab:
        keep = None
        if errno == "EADDRINUSE":
            leftover_socket_file(lab)
        elif errno == "ECONNREFUSED":
            keep = bound_not_listening(lab)
        lab.run(program)
        if keep:
            keep.close()
        failed = [e for e in lab.events() if e["errno"]]
    assert [e["errno"] for e in failed] == [errno], failed
    out = hint(lab_copy, lesson[:2])
    assert said(MISTAKES[mistake]["say"]) in out


# The arguments each call has in the trace (trace/TRACE.md), beside fd.
ARGS = {"socket": {"domain": "AF_UNIX", "type": "SOCK_STREAM", "protocol": 0},
        "bind": {"addr": {"family": "AF_UNIX", "path": "lab.sock"},
                 "addrlen": 110},
        "connect": {"addr": {"family": "AF_UNIX", "path": "lab.sock"},
                    "addrlen": 110},
        "listen": {"backlog": 5}, "read": {"count": 4096},
        "write": {"count": 13}, "recv": {"count": 4096, "flags": 0},
        "unlink": {"path": "lab.sock"}}


def event(pid, role, call, ret, fd=None, ts=0, **args):
    """One line of a JSON trace, as the trace library writes it."""
    args = {**ARGS.get(call, {}), **args}
    return {"ts": ts, "start": ts, "pid": pid, "role": role,
            "event": "return", "call": call,
            "args": {"fd": fd, **args} if fd is not None else args,
            "ret": ret, "errno": None, "file": f"{role}.c", "line": 1}


def write_trace(copy, lesson, lines):
    """A trace in order: each event's time is its place in the list."""
    last_run(copy, lesson).write_text("".join(
        json.dumps({**e, "ts": i, "start": i}) + "\n"
        for i, e in enumerate(lines)))


def one_read_only():
    """A server that reads once, answers, and closes without reading on."""
    return [event(10, "server", "accept", 4, 3),
            event(11, "client", "write", 13, 3),
            event(10, "server", "read", 13, 4),
            event(10, "server", "write", 13, 4),
            event(10, "server", "close", 0, 4)]


def test_a_read_loop_that_stops_after_one_read_is_recognised(lab_copy):
    lines = one_read_only()
    write_trace(lab_copy, "05-read-write", lines)
    out = hint(lab_copy, "05")
    assert said(MISTAKES["one-read-only"]["say"]) in out
    # A loop that reads to the end (read returns 0) is no such mistake.
    lines.insert(4, event(10, "server", "read", 0, 4))
    write_trace(lab_copy, "05-read-write", lines)
    assert "Hint 1 of" in hint(lab_copy, "05", "AGAIN=1")


def test_a_first_client_left_open_is_recognised(lab_copy):
    lines = [event(10, "server", "socket", 3),
             event(10, "server", "listen", 0, 3, backlog=5),
             event(10, "server", "accept", 4, 3),
             event(10, "server", "accept", 5, 3)]
    write_trace(lab_copy, "04-accept-connect", lines)
    out = hint(lab_copy, "04")
    assert said(MISTAKES["first-client-not-closed"]["say"]) in out
    # A server that closes each client before the next accept gets 4 again;
    # a 5 after closing 4 is no such mistake either.
    lines[3:] = [event(10, "server", "close", 0, 4),
                 event(10, "server", "accept", 4, 3),
                 event(10, "server", "accept", 5, 3)]
    write_trace(lab_copy, "04-accept-connect", lines)
    assert "Hint 1 of" in hint(lab_copy, "04", "AGAIN=1")


def test_a_socket_file_left_behind_is_recognised(lab_copy):
    lines = [event(10, "server", "socket", 3),
             event(10, "server", "bind", 0, 3, path="lab.sock"),
             event(10, "server", "listen", 0, 3, backlog=5),
             event(11, "client", "close", 0, 3),
             event(10, "server", "close", 0, 3)]
    write_trace(lab_copy, "06-close", lines)
    out = hint(lab_copy, "06")
    assert "Your last run (make lesson N=06) shows this:" in out
    assert said(MISTAKES["socket-file-left-behind"]["say"]) in out
    # Closed and unlinked: the hints of the lesson.
    lines.append(event(10, "server", "unlink", 0, path="lab.sock"))
    write_trace(lab_copy, "06-close", lines)
    assert "Hint 1 of" in hint(lab_copy, "06", "AGAIN=1")
    # A server that has not closed its listening socket yet (a client's
    # close is not the server's): the hints of the lesson too.
    write_trace(lab_copy, "06-close", lines[:4])
    assert "Hint 1 of" in hint(lab_copy, "06", "AGAIN=1")


def test_the_listening_fd_closed_in_the_loop_is_named_before_the_refusals(
        lab_copy):
    # close(fd) where close(cfd) was meant, as make lesson N=04 runs it:
    # the next accept fails with EBADF, and the next client is refused.
    lines = [event(10, "server", "socket", 3),
             event(10, "server", "listen", 0, 3, backlog=5),
             event(10, "server", "accept", 4, 3),
             event(10, "server", "close", 0, 3),
             {**event(10, "server", "accept", -1, 3), "errno": "EBADF"},
             {**event(12, "client", "connect", -1, 3), "errno":
              "ECONNREFUSED"}]
    write_trace(lab_copy, "04-accept-connect", lines)
    out = hint(lab_copy, "04")
    assert said(MISTAKES["listening-fd-closed-in-the-loop"]["say"]) in out
    assert said(MISTAKES["connect-refused"]["say"]) not in out
    # An EBADF on a fd never closed here is another mistake.
    del lines[3]
    write_trace(lab_copy, "04-accept-connect", lines)
    out = hint(lab_copy, "04", "AGAIN=1")
    assert said(MISTAKES["listening-fd-closed-in-the-loop"]["say"]) not in out


@pytest.mark.parametrize("call", ["read", "recv"])
def test_a_read_loop_that_goes_on_after_end_of_file_is_recognised(
        lab_copy, call):
    lines = [event(10, "server", "accept", 4, 3),
             event(10, "server", call, 3, 4),
             event(10, "server", "write", 3, 4),
             *[event(10, "server", call, 0, 4) for _ in range(5)]]
    write_trace(lab_copy, "05-read-write", lines)
    out = hint(lab_copy, "05")
    assert said(MISTAKES["read-after-end-of-file"]["say"]) in out
    # One 0 per connection, on a fd number that the next accept reuses,
    # is the right loop.
    lines = [event(10, "server", "accept", 4, 3),
             event(10, "server", call, 0, 4),
             event(10, "server", "close", 0, 4),
             event(10, "server", "accept", 4, 3),
             event(10, "server", call, 3, 4),
             event(10, "server", call, 0, 4),
             event(10, "server", "close", 0, 4)]
    write_trace(lab_copy, "05-read-write", lines)
    out = hint(lab_copy, "05", "AGAIN=1")
    assert said(MISTAKES["read-after-end-of-file"]["say"]) not in out


def test_a_trace_line_that_is_not_the_lab_s_is_skipped(lab_copy):
    """A line that is not UTF-8, not an object, or has a field of the
    wrong kind is skipped, as make timeline skips it, and said so; the
    lines around it still show the mistake."""
    lines = one_read_only()
    write_trace(lab_copy, "05-read-write", lines)
    path = last_run(lab_copy, "05-read-write")
    good = path.read_bytes()
    path.write_bytes(b'\xff\xfe not text\n[1, 2]\n"a"\n{"ts": "x", '
                     b'"pid": [], "role": 1, "event": 2, "call": {}, '
                     b'"args": 5, "ret": 0}\n' + good)
    done = lab_copy.make("hint", "N=05")
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stdout + done.stderr
    assert said(MISTAKES["one-read-only"]["say"]) in said(done.stdout)
    skipped = [line for line in done.stderr.splitlines()
               if line.startswith("hint: ") and line.endswith(
                   "not a line of the lab's JSON trace, skipped")]
    assert len(skipped) == 4, done.stderr
    timeline = lab_copy.make("timeline", f"TRACE={path}")
    assert timeline.stderr.replace("timeline: ", "hint: ").replace(
        str(path), "build/run/lessons/05-read-write/trace.jsonl") \
        .splitlines()[:4] == skipped, timeline.stderr


@pytest.mark.parametrize("remembered", [
    "[]", "null", '{"04-accept-connect": 5}',
    '{"04-accept-connect": {"given": "x", "mistakes": 3}}'])
def test_what_hint_remembered_in_another_shape_starts_over(lab_copy,
                                                            remembered):
    """build/classroom/hints.json of an older lab, or edited by hand: the
    hints of the lesson start over, with no traceback."""
    state = lab_copy.path / "build" / "classroom" / "hints.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(remembered + "\n")
    assert "Hint 1 of" in hint(lab_copy, "04")


def test_an_editor_s_lock_beside_the_source_changes_nothing(lab_copy):
    """Emacs keeps .#server.c, a link to nowhere, beside a file it edits:
    make hint still reads the last run, and says it is older than the
    code only when the code is."""
    write_trace(lab_copy, "05-read-write", one_read_only())
    (lab_copy.lesson("05-read-write") / ".#server.c").symlink_to(
        "learner@host.1234:1700000000")
    assert said(MISTAKES["one-read-only"]["say"]) in hint(lab_copy, "05")


def test_a_hint_not_shown_is_not_counted(lab_copy):
    """A hint that could not be written (standard output on a full disk,
    /dev/full) is not remembered as given: the next make hint gives it."""
    def hint_to_a_full_disk(lesson):
        argv, env = lab_copy.make_command("hint", f"N={lesson}")
        with open("/dev/full", "w") as full:
            return subprocess.run(argv, env=env, stdout=full,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=30 * labrun.SCALE)
    done = hint_to_a_full_disk("04")
    assert done.returncode != 0, done.stderr
    assert "cannot write standard output" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "Hint 1 of" in hint(lab_copy, "04")
    # Nor the mistake of the last run: said once it is shown.
    write_trace(lab_copy, "05-read-write", one_read_only())
    done = hint_to_a_full_disk("05")
    assert done.returncode != 0, done.stderr
    assert said(MISTAKES["one-read-only"]["say"]) in hint(lab_copy, "05")


def test_a_hint_that_cannot_be_remembered_says_so(lab_copy):
    """Where make hint remembers the hints given cannot be written (here a
    directory in its place, as a read-only build/ would do): the hint is
    shown, then one line says it is not counted, with status 1, and no
    traceback; the next make hint gives it again."""
    state = lab_copy.path / "build" / "classroom" / "hints.json"
    state.mkdir(parents=True)
    done = lab_copy.make("hint", "N=04")
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "Hint 1 of" in done.stdout
    assert "hint: this hint is not remembered as given (build/classroom/" \
        "hints.json: Is a directory): make hint N=04 gives it again." in \
        done.stderr, done.stderr
    state.rmdir()
    assert "Hint 1 of" in hint(lab_copy, "04")
    assert [p.name for p in state.parent.iterdir()] == ["hints.json"]


def test_make_hint_leaves_another_run_s_file_alone(lab_copy):
    """Two make hint at once in one lab each write a file of their own,
    renamed into place: neither takes the other's."""
    state = lab_copy.path / "build" / "classroom"
    state.mkdir(parents=True)
    theirs = state / ".hints.json.tmp"
    theirs.write_text("{}")
    assert "Hint 1 of" in hint(lab_copy, "04")
    assert theirs.read_text() == "{}"
    assert "Hint 2 of" in hint(lab_copy, "04")


def test_a_trace_too_long_to_read_is_said_and_the_hints_follow(lab_copy):
    """A last run that looped may leave gigabytes of trace: make hint does
    not read more than it can (classroom.TRACE_LIMIT, below 64 MiB), says
    so in one line, and gives the lesson's hints."""
    with open(last_run(lab_copy, "05-read-write"), "wb") as trace:
        trace.truncate(64 << 20)  # no disk: a sparse file
    out = hint(lab_copy, "05")
    assert "The trace of your last make lesson N=05 (build/run/lessons/" \
        "05-read-write/trace.jsonl) is longer than make hint reads" in out
    assert "Hint 1 of" in out


def test_again_that_is_neither_1_nor_0_is_refused(lab_copy):
    """AGAIN=1 starts the hints over, AGAIN=0 does not, and AGAIN=no is
    refused in one line, with nothing changed, rather than taken for a
    yes."""
    assert "Hint 1 of" in hint(lab_copy, "04")
    assert "Hint 2 of" in hint(lab_copy, "04", "AGAIN=0")
    for odd in ("no", "yes"):
        done = lab_copy.make("hint", "N=04", f"AGAIN={odd}")
        # said as make's other refusals of a variable are (need_lesson)
        assert done.returncode == 2 and "Hint" not in done.stdout, \
            done.stdout
        assert f"make hint: AGAIN={odd} is neither 1 nor 0: AGAIN=1 starts " \
            "the hints of lesson 04-accept-connect over" in done.stdout, \
            done.stdout
    assert "Hint 3 of" in hint(lab_copy, "04")
    assert "Hint 1 of" in hint(lab_copy, "04", "AGAIN=1")


def test_a_lesson_without_hints_yet_is_said_not_a_traceback(lab_copy):
    """A lesson that lessons/hints.json has no hints for (one a teacher
    has just added): one line says so, with what to run instead."""
    path = lab_copy.path / "lessons" / "hints.json"
    data = json.loads(path.read_text())
    del data["lessons"]["10-datagram"]
    path.write_text(json.dumps(data))
    done = lab_copy.make("hint", "N=10")
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "hint: lessons/hints.json has no hints for 10-datagram yet: " \
        "make check N=10 says what is still missing." in done.stderr
