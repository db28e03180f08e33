"""make grade: every check of every lesson, scored with the points of
lessons/lessons.json, on a copy whose lessons are partly solved."""
import json
import re
from pathlib import Path

import classroom
import labrun
from conftest import path_without

# Each test may run in any process of a parallel run (conftest.spread):
# each has its own copy of the lab (lab_copy).
SPREAD = True

LISTED = json.loads((labrun.ROOT / "lessons" / "lessons.json").read_text())
POINTS = {lesson["id"]: lesson["points"] for lesson in LISTED["lessons"]}
PART = {lesson["id"]: lesson["part"] for lesson in LISTED["lessons"]}


def grade(copy, env=None):
    results = copy.path / "results.json"
    done = copy.make("grade", f"JSON={results}", timeout=60, env=env)
    return done, json.loads(results.read_text())


def cents(points):
    return round(points * 100)


def test_shares_add_up_to_the_points_exactly():
    assert classroom.shares(5, 3) == [1.67, 1.67, 1.66]
    assert classroom.shares(25, 7) == [3.58] + [3.57] * 6
    assert classroom.shares(25, 11) == [2.28] * 3 + [2.27] * 8
    assert classroom.shares(10, 0) == []


def by_lesson(results):
    return {r["lesson"]: r for r in results["lessons"]}


def test_every_lesson_is_worth_points():
    assert all(isinstance(p, int) and p > 0 for p in POINTS.values())


def test_part_1_is_worth_100_and_part_2_at_most_100():
    parts = {p["part"] for p in LISTED["parts"]}
    assert set(PART.values()) == parts == {1, 2}
    worth = {n: sum(POINTS[l] for l in POINTS if PART[l] == n)
             for n in parts}
    assert worth[1] == 100 and 0 < worth[2] <= 100, worth
    # The parts follow each other: part 2's lessons come after part 1's.
    assert list(PART.values()) == sorted(PART.values())


def parts_of(results):
    return {p["part"]: p for p in results["lab_parts"]}


def part_worth(n):
    return sum(POINTS[lesson] for lesson in POINTS if PART[lesson] == n)


def test_a_partly_done_copy_gets_the_points_of_what_passes(lab_copy):
    for lesson in ("01-socket", "02-bind", "04-accept-connect",
                   "05-read-write"):
        lab_copy.solve(lesson)
    lab_copy.edit("06-close")  # started, not finished; 03 is not started
    done, results = grade(lab_copy)
    # An incomplete grade is a grade: make ends it in the tool's own words.
    assert done.returncode == 0 and "make: ***" not in done.stderr, \
        done.stdout + done.stderr
    assert results["status"] == "incomplete"
    lessons = by_lesson(results)
    for lesson in ("01-socket", "02-bind", "04-accept-connect",
                   "05-read-write"):
        assert lessons[lesson]["points"] == POINTS[lesson], lessons[lesson]
    assert lessons["03-listen"]["points"] == 0
    assert {p["outcome"] for p in lessons["03-listen"]["parts"]} == \
        {"not started"}
    started = lessons["06-close"]
    passed = [p for p in started["parts"] if p["outcome"] == "passed"]
    failed = [p for p in started["parts"] if p["outcome"] == "failed"]
    assert failed and "Expected:" in failed[0]["message"]
    assert 0 <= started["points"] < POINTS["06-close"]
    assert cents(started["points"]) == sum(cents(p["points"])
                                           for p in passed)
    # Each check of a lesson is worth the same, to the hundredth; together,
    # exactly the lesson, whatever rounding a share needs.
    for lesson in lessons.values():
        counted = [p["max_points"] for p in lesson["parts"]
                   if p["max_points"]]
        assert sum(map(cents, counted)) == cents(POINTS[lesson["lesson"]])
        assert max(counted) - min(counted) <= 0.015, counted
        assert sum(map(cents, (p["points"] for p in lesson["parts"]))) == \
            cents(lesson["points"])
    assert results["max_score"] == sum(POINTS.values())
    assert cents(results["score"]) == sum(cents(r["points"])
                                          for r in results["lessons"])
    # Each part apart: its score the sum of its lessons', out of theirs.
    parts = parts_of(results)
    for n, part in parts.items():
        mine = [r for r in results["lessons"] if r["part"] == n]
        assert part["lessons"] == [r["lesson"] for r in mine]
        assert part["max_score"] == part_worth(n)
        assert cents(part["score"]) == sum(cents(r["points"]) for r in mine)
    assert parts[2]["score"] == 0 and 0 < parts[1]["score"] < 100
    assert re.search(r"Part 1 total +[\d.]+ / 100 ", done.stdout)
    assert re.search(r"Part 2 total +0 / %d " % part_worth(2), done.stdout)
    # An autograder's status is passed or failed; the lab's own word for a
    # lesson not started is said apart.
    for entry in results["tests"]:
        assert entry.get("status") in ("passed", "failed") or \
            entry["outcome"] == "skipped" and "status" not in entry, entry
        if entry["name"].startswith("03-listen"):
            assert entry["status"] == "failed" and \
                entry["outcome"] == "not started", entry
            assert "not started" in entry["output"]
    # One entry per check for an autograder, and the table for people.
    assert len(results["tests"]) == sum(len(r["parts"])
                                        for r in results["lessons"])
    total = f"{results['score']:.2f}".rstrip("0").rstrip(".")
    assert "Total" in done.stdout and f" {total} / " \
        f"{sum(POINTS.values())} " in done.stdout
    assert "Incomplete" in done.stdout


def test_a_finished_copy_gets_every_point(lab_copy):
    for lesson in POINTS:
        lab_copy.solve(lesson)
    done, results = grade(lab_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert results["score"] == results["max_score"] == sum(POINTS.values())
    assert results["status"] == "complete"
    assert {n: (p["score"], p["max_score"]) for n, p in
            parts_of(results).items()} == \
        {1: (100, 100), 2: (part_worth(2), part_worth(2))}
    assert "part 1: 100 of 100, part 2: %d of %d" % (
        part_worth(2), part_worth(2)) in done.stdout
    for part in results["tests"]:
        assert part.get("status") == "passed" or \
            part["outcome"] == "skipped" and "status" not in part, part


def test_a_check_that_needs_a_missing_tool_gives_its_share_to_the_others(
        lab_copy):
    """Without nc and socat, the checks that use them are skipped, say why,
    and are worth nothing: a finished lab still gets every point."""
    for lesson in POINTS:
        lab_copy.solve(lesson)
    hidden = ("nc", "nc.openbsd", "netcat", "socat")
    path = path_without(lab_copy.path / "bin", hidden)
    done, results = grade(lab_copy, env={"PATH": path})
    assert done.returncode == 0, done.stdout + done.stderr
    assert results["score"] == results["max_score"] == sum(POINTS.values())
    skipped = [e for e in results["tests"] if e["outcome"] == "skipped"]
    assert skipped, "no check needs nc or socat any more: drop this test"
    for entry in skipped:
        assert entry["max_score"] == 0 and "status" not in entry, entry
    missing = [e for e in skipped if "is not installed" in e["output"]]
    assert missing, skipped
    close = by_lesson(results)["06-close"]
    counted = [p for p in close["parts"] if p["max_points"]]
    assert len(counted) == len(close["parts"]) - len(
        [e for e in missing if e["name"].startswith("06-close: ")])
    assert sum(map(cents, (p["max_points"] for p in counted))) == \
        cents(POINTS["06-close"])


def test_a_submission_is_graded_with_the_lab_s_own_checks(lab_copy):
    submission = lab_copy.path / "submission"
    for lesson in ("01-socket", "06-close"):
        (submission / "lessons" / lesson).mkdir(parents=True)
    for source in (labrun.ROOT / "solutions" / "01-socket").glob("*.c"):
        (submission / "lessons" / "01-socket" / source.name).write_bytes(
            source.read_bytes())
    (submission / "lessons" / "06-close" / "server.c").write_bytes(
        (lab_copy.lesson("06-close") / "server.c").read_bytes() +
        b"/* started */\n")
    # Checks of its own, which would pass everything, are not used.
    (submission / "tests").mkdir()
    (submission / "tests" / "conftest.py").write_text(
        "raise SystemExit('the submission's own tests ran')\n")
    # A temporary directory of its own (TMPDIR), watched by nobody else.
    private = lab_copy.path / "tmp"
    private.mkdir()
    results_file = lab_copy.path / "results.json"
    done = lab_copy.make("grade", f"SUBMISSION={submission}",
                         f"JSON={results_file}", timeout=60,
                         env={"TMPDIR": str(private)})
    assert done.returncode == 0 and "Incomplete: " in done.stdout, \
        done.stdout + done.stderr
    copy = re.search(r"graded with this lab's checks in a fresh copy of it "
                     r"\((.*), removed afterwards\)", done.stdout)
    assert copy and Path(copy[1]).parent == private, done.stdout
    lessons = by_lesson(json.loads(results_file.read_text()))
    assert lessons["01-socket"]["points"] == POINTS["01-socket"]
    assert "failed" in {p["outcome"] for p in lessons["06-close"]["parts"]}
    assert lessons["06-close"]["points"] < POINTS["06-close"]
    for lesson in POINTS:
        if lesson not in ("01-socket", "06-close"):
            assert lessons[lesson]["points"] == 0
    # The copy of the learner's own lessons was not touched, and the
    # temporary copy is gone.
    assert "/* started */" not in (lab_copy.lesson("06-close") /
                                   "server.c").read_text()
    assert not Path(copy[1]).exists() and not list(private.iterdir())


def test_a_grade_stopped_in_the_middle_is_no_grade(lab_copy):
    """Ctrl-C while the checks run: no grade is printed or written, only
    that the grade was stopped, in one line, ending of SIGINT."""
    results = lab_copy.path / "results.json"
    done = lab_copy.make_stopped_by_ctrl_c("grade", f"JSON={results}",
                                           timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "classroom.py grade: stopped by Ctrl-C before the checks were " \
        "done: run it again." in done.stderr, done.stderr
    assert "Total" not in done.stdout and not results.exists(), done.stdout


def test_a_lesson_readme_not_in_utf8_does_not_stop_the_grade(lab_copy):
    """A lesson README saved in another encoding (where the grade finds
    how the C names in the checks' names are spelled) is read all the
    same: a grade, not a grader's failure."""
    readme = lab_copy.lesson("03-listen") / "README.md"
    readme.write_bytes(readme.read_bytes() + b"\n\xe9t\xe9 \xff\n")
    done, results = grade(lab_copy)
    assert done.returncode == 0 and "Traceback" not in done.stderr, \
        done.stdout + done.stderr
    assert results["status"] == "incomplete" and results["score"] == 0
    assert "a path too long for sun_path" in done.stdout
