"""make quiz, and what the classroom documents say about the deliberate-
error variants: every variant they name exists, and every errno or signal
they give as its outcome is one the variant is declared to show (which
test_errors.py observes on the running kernel)."""
import json
import re
import subprocess
import sys

import pytest

import classroom
import labrun
from conftest import LESSONS, as_at_a_terminal

CATALOGUE = {v["name"]: v for v in json.loads(
    (labrun.ROOT / "lessons" / "errors.json").read_text())["variants"]}
OUTCOME = re.compile(r"\b(E[A-Z]{3,}|SIG[A-Z]{3,})\b")


def declared(variant):
    """The errnos and signals a variant is declared to show."""
    return {e.get("errno") or e.get("signal")
            for e in CATALOGUE[variant]["expect"]} - {None}


def variants_named(text):
    return re.findall(r"make errors V=([a-z0-9-]+)", text)


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_readme_ends_with_a_quiz_on_the_variants(lesson):
    readme = (labrun.ROOT / "lessons" / lesson / "README.md").read_text()
    headings = re.findall(r"^## (.*)", readme, re.M)
    assert headings[-1] == classroom.QUIZ_SECTION[3:], headings
    questions = classroom.quiz_questions(lesson)
    assert len(questions) >= 3
    for q in questions:
        letters = [letter for letter, _ in q["options"]]
        assert len(letters) >= 2 and q["answer"] in letters, q
        assert q["why"], q
        named = variants_named(q["text"])
        assert len(named) == 1 and named[0] in CATALOGUE, q["text"]
        assert CATALOGUE[named[0]]["lesson"] == lesson, named
        right = dict(q["options"])[q["answer"]]
        claimed = set(OUTCOME.findall(right))
        assert claimed <= declared(named[0]), (
            f"{lesson}: the answer to \"{q['text'][:60]}...\" says "
            f"{sorted(claimed)}, but V={named[0]} is declared to show "
            f"{sorted(declared(named[0]))}")


@pytest.mark.parametrize("lesson", LESSONS)
def test_an_option_that_goes_on_to_the_next_line_is_asked_whole(lesson):
    # The README wraps a long option; its next, indented line is the same
    # option, never a piece of the question.
    readme = (labrun.ROOT / "lessons" / lesson / "README.md").read_text()
    said = " ".join(readme.split())
    for q in classroom.quiz_questions(lesson):
        assert q["text"].endswith("?"), q["text"]
        for letter, option in q["options"]:
            assert f"- {letter}) {option} - " in said or \
                f"- {letter}) {option} <details>" in said, (letter, option)


def test_the_quiz_reads_a_wrapped_option_whole(tmp_path, monkeypatch):
    lesson = tmp_path / "99-wrapped"
    lesson.mkdir()
    (lesson / "README.md").write_text(
        f"{classroom.QUIZ_SECTION}\n\n**Q1.** `make errors V=x`: what?\n\n"
        "- a) the first, which\n  goes on here\n- b) the second\n\n"
        "<details><summary>Answer</summary>\n\n**a**: because.\n\n"
        "</details>\n")
    monkeypatch.setattr(classroom, "LESSONS_DIR", tmp_path)
    [q] = classroom.quiz_questions("99-wrapped")
    assert q["text"] == "`make errors V=x`: what?", q
    assert q["options"] == [("a", "the first, which goes on here"),
                            ("b", "the second")], q


def answers(lesson):
    return "".join(q["answer"] for q in classroom.quiz_questions(lesson))


def test_the_quiz_checks_the_answers(lab_copy):
    right = answers("02-bind")
    done = lab_copy.make("quiz", "N=02", f"ANSWERS={right}")
    assert done.returncode == 0, done.stderr
    assert f"{len(right)} of {len(right)} right." in done.stdout
    assert "Now see each answer in a trace: make errors V=" in done.stdout
    wrong = "".join("a" if a != "a" else "b" for a in right)
    done = lab_copy.make("quiz", "N=02", f"ANSWERS={wrong}")
    assert f"0 of {len(right)} right." in done.stdout
    assert f"not quite: the answer is {right[0]}." in done.stdout


def test_answers_that_are_not_the_choices_are_refused(lab_copy):
    """Each answer must be one of its question's letters: digits, or a
    letter beyond a question's choices, are refused in one line, before
    any question, and never marked wrong."""
    questions = classroom.quiz_questions("02-bind")
    past = chr(ord(max(letter for letter, _ in questions[-1]["options"])) + 1)
    for given in ("1" * len(questions), "a" * (len(questions) - 1) + past,
                  ",".join("a" * (len(questions) - 1)) + ",x"):
        done = lab_copy.make("quiz", "N=02", f"ANSWERS={given}")
        assert done.returncode != 0 and "Q1." not in done.stdout, \
            done.stdout
        said = [line for line in done.stderr.splitlines()
                if line.startswith("quiz: ")]
        assert len(said) == 1 and "are not the choices" in said[0] and \
            "is not one of a, b" in said[0], done.stderr
    # A byte that is not UTF-8 is shown as one, never as a Python escape.
    argv, env = lab_copy.make_command("quiz", "N=02")
    done = subprocess.run([*argv, b"ANSWERS=\xff"], env=env,
                          capture_output=True, timeout=30 * labrun.SCALE)
    said = done.stderr.decode(errors="replace")
    assert done.returncode != 0 and "Q1: \ufffd is not one of a, b" in \
        said and "udcff" not in said, said
    # Spaces are ignored, as commas are: one line, never the usage text.
    done = lab_copy.make("quiz", "N=02", "ANSWERS=a b")
    assert done.returncode != 0 and done.stderr.startswith(
        f"quiz: ANSWERS has 2 letters for {len(questions)} questions"), \
        done.stderr
    assert "choices" in (labrun.ROOT / "README.md").read_text().split(
        "ANSWERS=LETTERS", 1)[1][:300]


def test_the_quiz_asks_on_the_terminal(lab_copy):
    right = answers("05-read-write")
    typed = "z\n" + "\n".join(right) + "\n"  # z is no option: asked again
    argv, env = lab_copy.make_command("quiz", "N=05")
    done = subprocess.run(argv, env=env, input=typed, capture_output=True,
                          text=True, timeout=30 * labrun.SCALE)
    assert f"{len(right)} of {len(right)} right." in done.stdout


def test_the_quiz_stops_at_the_end_of_its_input(lab_copy):
    count = len(classroom.quiz_questions("01-socket"))
    argv, env = lab_copy.make_command("quiz", "N=01")
    done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True,
                          timeout=30 * labrun.SCALE)
    assert done.returncode != 0
    # No answer was counted as wrong: it says how to answer instead.
    assert "right." not in done.stdout and "not quite" not in done.stdout
    assert "standard input is at its end" in done.stderr
    # Started with standard input closed (<&-): said so, not a traceback.
    argv, env = lab_copy.make_command("quiz", "N=01")
    done = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *argv],
                          env=env, capture_output=True, text=True,
                          timeout=30 * labrun.SCALE)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "standard input is closed" in done.stderr, done.stderr
    assert "make quiz N=01 ANSWERS=LETTERS" in done.stderr
    assert f"({count} letters" in done.stderr
    # Too few answers is the same mistake, said before any question.
    done = lab_copy.make("quiz", "N=01", "ANSWERS=a")
    assert done.returncode != 0 and "Q1." not in done.stdout
    assert f"ANSWERS has 1 letter for {count} questions" in done.stderr


def test_answers_is_documented():
    help_text = subprocess.run(
        ["make", "-s", "--no-print-directory", "help"], cwd=labrun.ROOT,
        capture_output=True, text=True, timeout=30, check=True).stdout
    (quiz_line,) = [line for line in help_text.splitlines()
                    if "make quiz" in line]
    assert "ANSWERS=" in quiz_line
    assert "ANSWERS=LETTERS" in (labrun.ROOT / "README.md").read_text()


def test_the_teaching_page_names_real_variants_with_their_outcomes():
    page = (labrun.ROOT / "lessons" / "TEACHING.md").read_text()
    rows = [line for line in page.splitlines()
            if line.startswith("|") and variants_named(line)]
    assert len(rows) >= 8
    for row in rows:
        (variant,) = variants_named(row)
        assert variant in CATALOGUE, row
        assert set(OUTCOME.findall(row)) <= declared(variant), row


def test_the_class_plan_adds_up():
    page = (labrun.ROOT / "lessons" / "TEACHING.md").read_text()
    minutes = {int(n): int(m) for n, m in
               re.findall(r"^\| (\d\d)-[a-z-]+ \| (\d+) min \|", page, re.M)}
    assert sorted(minutes) == [int(lesson[:2]) for lesson in LESSONS]
    plan = " ".join(page.split("## A plan for a class")[1].split())
    for first, last, said_minutes in re.findall(
            r"lessons (\d\d) to (\d\d) \((\d+) minutes", plan):
        assert sum(minutes[n] for n in range(int(first), int(last) + 1)) \
            == int(said_minutes), (first, last)
    sessions = re.findall(r"lessons (\d\d) to (\d\d) \(\d+ minutes", plan)
    assert [(int(a), int(b)) for a, b in sessions] == [(1, 3), (4, 6)]


def test_the_hints_name_real_variants():
    hints = (labrun.ROOT / "lessons" / "hints.json").read_text()
    for variant in variants_named(hints):
        assert variant in CATALOGUE, variant


def asleep(pid, timeout=10 * labrun.SCALE):
    """Waits until process pid sleeps in the kernel (here: in its read of
    standard input); a signal that came just before the read began would
    be seen only once the read returns."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        if stat[stat.rindex(b")") + 2:][:1] == b"S":
            return True
        time.sleep(0.01)
    return False


def test_ctrl_c_leaves_the_quiz_quietly(lab_copy):
    import os
    import signal
    argv, env = lab_copy.make_command("quiz", "N=01")
    quiz = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=as_at_a_terminal)
    try:
        said = ""
        while "Q1." not in said:
            line = quiz.stdout.readline()
            assert line, "the quiz ended before its first question"
            said += line
        # make runs the quiz itself (exec): its one child.
        with open(f"/proc/{quiz.pid}/task/{quiz.pid}/children") as f:
            (asking,) = f.read().split()
        assert asleep(int(asking)), "the quiz never waited for an answer"
        os.killpg(quiz.pid, signal.SIGINT)  # Ctrl-C, to the terminal's group
        # Its input stays open: the quiz must stop for the Ctrl-C alone.
        quiz.wait(timeout=20 * labrun.SCALE)
        out, err = quiz.stdout.read(), quiz.stderr.read()
    finally:
        if quiz.poll() is None:
            os.killpg(quiz.pid, signal.SIGKILL)
            quiz.communicate()
    assert quiz.returncode in (0, -signal.SIGINT), (quiz.returncode,
                                                     out[-500:], err[-500:])
    assert "quiz: stopped. make quiz N=01 starts it again." in out, \
        (said, out, err)
    assert "Traceback" not in out + err and "make: ***" not in err, err


PARENT_WITH_A_PENDING_SIGINT = """
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import classroom
signal.signal(signal.SIGINT, lambda *_: None)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
os.kill(os.getpid(), signal.SIGINT)  # pending: blocked
child = os.fork()
if child == 0:
    classroom.let_make_take_its_ctrl_c(timeout=10)
    print("child", time.monotonic(), flush=True)
    os._exit(0)
time.sleep(0.1)  # the child, if it did not wait, is done by now
print("parent", time.monotonic(), flush=True)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # taken
os.waitpid(child, 0)
"""


def test_after_ctrl_c_a_tool_ends_only_once_its_parent_took_the_signal():
    """make quiz and make watch wait until make has taken its SIGINT (it is
    no longer pending), so that make's own handler is the one that reaps
    them ("make: *** wait: No child processes" otherwise).  Here the
    parent keeps its SIGINT pending (blocked) for a while: the child ends
    after it lets it in, never before."""
    done = subprocess.run(
        [sys.executable, "-c", PARENT_WITH_A_PENDING_SIGINT,
         str(labrun.ROOT / "tools")], capture_output=True, text=True,
        timeout=30 * labrun.SCALE)
    assert done.returncode == 0, done.stderr
    said = dict(line.split() for line in done.stdout.splitlines())
    assert float(said["child"]) >= float(said["parent"]), done.stdout



def test_a_readme_not_in_utf8_or_gone_is_said_not_a_traceback(lab_copy):
    """A lesson README saved in another encoding (a byte that is not
    UTF-8) still gives its quiz; one that is gone is named, with what to
    do, in one line and a status that is not 0."""
    readme = lab_copy.lesson("02-bind") / "README.md"
    readme.write_bytes(readme.read_bytes() + b"\n\xe9t\xe9 \xff\n")
    right = answers("02-bind")
    done = lab_copy.make("quiz", "N=02", f"ANSWERS={right}")
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert f"{len(right)} of {len(right)} right." in done.stdout
    readme.unlink()
    done = lab_copy.make("quiz", "N=02", f"ANSWERS={right}")
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "quiz: lessons/02-bind/README.md, which holds the quiz, cannot " \
        "be read (No such file or directory): put it back from the " \
        "hand-out" in done.stderr, done.stderr
