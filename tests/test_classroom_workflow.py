"""The GitHub Classroom workflow a hand-out carries
(.github/workflows/classroom.yml): one graded step per lesson, worth the
points of lessons/lessons.json, whose command passes with a finished lab
and fails with the starters, and never writes to standard error (GitHub
Classroom's command grader has failed tests for that).

No GitHub runner is at hand: the steps' commands are run here, in a copy
of the hand-out, with the environment the command grader gives them."""
import json
import os
import re
import subprocess

import pytest

import labrun

ROOT = labrun.ROOT
LISTED = json.loads((ROOT / "lessons" / "lessons.json").read_text())
WORKFLOW = ".github/workflows/classroom.yml"
GRADER = "education/autograding-command-grader@v1"
REPORTER = "education/autograding-grading-reporter@v1"


def unquoted(value):
    value = value.strip()
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    if value.startswith('"') and value.endswith('"'):
        return value[1:-1]
    return value


def steps(text):
    """The workflow's steps: [{key: value}], the keys of `with:` and `env:`
    as "with.KEY" and "env.KEY".  The workflow is written in a plain
    subset of YAML (tools/autograder.py), which this reads."""
    body = text.split("\n    steps:\n", 1)[1]
    found, block = [], None
    for line in body.splitlines():
        if line.startswith("    - "):
            found.append({})
            line = "      " + line[6:]
        if line.startswith("      ") and not line.startswith("       "):
            key, _, value = line.strip().partition(":")
            if value.strip():
                found[-1][key] = unquoted(value)
            block = key
        elif line.startswith("        "):
            key, _, value = line.strip().partition(": ")
            found[-1][f"{block}.{key}"] = unquoted(value)
    return found


@pytest.fixture(scope="module")
def workflow(built_handout):
    path = built_handout / "unpacked" / "unix-sockets-lab" / WORKFLOW
    assert path.is_file(), "the hand-out carries no GitHub Classroom workflow"
    return path.read_text()


def graded(workflow):
    return [s for s in steps(workflow) if s.get("uses") == GRADER]


def test_the_workflow_has_a_step_per_lesson_worth_its_points(workflow):
    lessons = LISTED["lessons"]
    found = graded(workflow)
    assert [s["with.test-name"] for s in found] == \
        [lesson["id"] for lesson in lessons]
    assert [int(s["with.max-score"]) for s in found] == \
        [lesson["points"] for lesson in lessons]
    assert sum(int(s["with.max-score"]) for s in found) == \
        sum(lesson["points"] for lesson in lessons)
    # Part 1, lessons 01 to 06, is worth 100 points.
    assert sum(lesson["points"] for lesson in lessons
               if lesson["id"] < "07") == 100
    for step, lesson in zip(found, lessons):
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", step["id"]), step
        assert f"check N={lesson['id'][:2]}" in step["with.command"]
        assert step["with.command"].endswith(" 2>&1"), step
        assert 1 <= int(step["with.timeout"]) <= 60
    reporter = steps(workflow)[-1]
    assert reporter["uses"] == REPORTER
    ids = [s["id"] for s in found]
    assert reporter["with.runners"] == ",".join(ids)
    for step_id in ids:
        assert reporter[f"env.{step_id.upper()}_RESULTS"] == \
            "${{steps.%s.outputs.result}}" % step_id
    assert "runs-on: ubuntu-latest" in workflow
    assert "uses: actions/checkout@v4" in workflow
    assert "run: sudo tools/setup grade" in workflow


def test_the_workflow_is_made_from_lessons_json(workflow):
    made = subprocess.run(["/usr/bin/python3", "tools/autograder.py",
                           "workflow"], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, check=True).stdout
    assert made == workflow


def run_steps(copy, workflow, scale=1.0):
    """Each graded step's command in the copy, in the command grader's
    environment: {test name: finished process}.  scale below 1 shortens
    the waits for events that are known never to come (the starters')."""
    env = {"PATH": os.environ["PATH"], "FORCE_COLOR": "true",
           "HOME": str(copy.path),
           "LAB_TIMEOUT_SCALE": str(labrun.SCALE * scale)}
    return {step["with.test-name"]: subprocess.run(
        step["with.command"], shell=True, cwd=copy.path, env=env,
        capture_output=True, text=True,
        timeout=int(step["with.timeout"]) * 60)
        for step in graded(workflow)}


def test_the_starters_fail_every_step_with_nothing_on_stderr(lab_copy,
                                                             workflow):
    for name, done in run_steps(lab_copy, workflow, scale=0.25).items():
        assert done.returncode != 0, f"{name} passes with its starter"
        assert done.stderr == "", (name, done.stderr)
        assert "not started" in done.stdout, (name, done.stdout)


@pytest.mark.skipif(not (ROOT / "solutions").is_dir(),
                    reason="a hand-out has no solutions")
def test_a_finished_lab_passes_every_step(lab_copy, workflow):
    for lesson in LISTED["lessons"]:
        lab_copy.solve(lesson["id"])
    # A compiler's message and the trace would go to stderr: folded.
    lab_copy.edit("01-socket", text="#warning a message on stderr\n")
    for name, done in run_steps(lab_copy, workflow).items():
        if name == "01-socket":
            assert done.returncode != 0 and done.stderr == "", done.stderr
            assert "#warning a message on stderr" in done.stdout
            continue
        assert done.returncode == 0, (name, done.stdout)
        assert done.stderr == "", (name, done.stderr)
