"""The lab on the autograding platforms: Gradescope and GitHub Classroom.

    autograder.py zip FILE     the autograder a teacher uploads to Gradescope
                               (make autograder)
    autograder.py gradescope   what the uploaded run_autograder runs, as root,
                               for each submission
    autograder.py workflow     the GitHub Classroom workflow a hand-out
                               carries (.github/workflows/classroom.yml)

Both grade with the lab's own checks (tests/), with the points of
lessons/lessons.json; lessons/TEACHING.md says how to set each platform up.

Gradescope: the zip holds setup.sh and run_autograder at its root, and a
hand-out of the lab in lab/.  run_autograder grades /autograder/submission
(AUTOGRADER_ROOT, if set, stands for /autograder: the tests use a stand-in
tree) in a copy made by root and given to an ordinary user (AUTOGRADER_USER,
by default student, made by setup.sh), who builds and checks the learner's
programs; root then writes /autograder/results/results.json in Gradescope's
format, the lab's own fields under extra_data.

GitHub Classroom: one step per lesson, worth its points, that runs
make check N=NN with the trace and the compiler's messages folded into
standard output (2>&1); each step is named after its part of the lab.

Both score each part of the lab apart (its lessons' points) and together:
Gradescope's tests carry their part as a tag, and extra_data holds each
part's score; the workflow's steps are named "part N: NN-name".
"""
import json
import os
import pwd
import shutil
import sys
import time
import zipfile
from pathlib import Path

import classroom
from labrun import run_tool, work_dir
from manifest import lessons, number, part_of, parts

# -- GitHub Classroom -----------------------------------------------------------

WORKFLOW = ".github/workflows/classroom.yml"
GRADER = "education/autograding-command-grader@v1"
REPORTER = "education/autograding-grading-reporter@v1"
STEP_TIMEOUT = 5  # minutes, the command grader's unit


def step_id(lesson_id):
    """A step's id: letters and digits only (GitHub wants a letter first;
    the reporter reads the step's result from ID_RESULTS)."""
    return f"lesson{number(lesson_id)}"


def step_command(lesson_id):
    """The command of a lesson's step: passes when every check of the
    lesson passes.  The command grader fails a test that writes to
    standard error, whatever its status: 2>&1 folds the compiler's
    messages and make's into standard output."""
    return f"make -s --no-print-directory check N={number(lesson_id)} 2>&1"


def quoted(text):
    return "'" + str(text).replace("'", "''") + "'"


def workflow():
    """The workflow, as YAML text, from lessons/lessons.json."""
    listed = lessons()
    lines = [
        "# GitHub Classroom autograding for the Unix domain sockets lab: one",
        "# graded step per lesson, worth its points in lessons/lessons.json,",
        "# named after its part of the lab: " + "; ".join(
            f"part {p['part']}, {p['title']}, {p['points']:g} points"
            for p in parts()) + ".",
        "# make handout writes this file from lessons.json; change the points",
        "# there, then make the hand-out again (lessons/TEACHING.md).",
        "name: Autograding Tests",
        "'on':",
        "- push",
        "- workflow_dispatch",
        "- repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "    - name: Checkout code",
        "      uses: actions/checkout@v4",
        "    - name: Install what the checks use",
        "      run: sudo tools/setup grade",
    ]
    for lesson in listed:
        lesson_id = lesson["id"]
        name = f"part {part_of(lesson)}: {lesson_id}"
        lines += [
            f"    - name: {quoted(name)}",
            f"      id: {step_id(lesson_id)}",
            f"      uses: {GRADER}",
            "      with:",
            f"        test-name: {quoted(name)}",
            f"        command: {quoted(step_command(lesson_id))}",
            f"        timeout: {STEP_TIMEOUT}",
            f"        max-score: {lesson['points']}",
        ]
    lines += [
        "    - name: Autograding Reporter",
        f"      uses: {REPORTER}",
        "      env:",
        *(f"        {step_id(lesson['id']).upper()}_RESULTS: "
          f"\"${{{{steps.{step_id(lesson['id'])}.outputs.result}}}}\""
          for lesson in listed),
        "      with:",
        "        runners: " + ",".join(step_id(lesson["id"])
                                       for lesson in listed),
    ]
    return "\n".join(lines) + "\n"


# -- Gradescope: the zip -------------------------------------------------------

LAB_DIR = "lab"  # the hand-out, in the zip and in /autograder/source

# What setup.sh builds in lab/ (classroom.seed_build gives it to each
# grading copy).
PREBUILT = ("build/trace/trace.o", "build/trace/silent")
SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image
# (its Ubuntu 22.04 base image): it installs what the lab's checks need and
# makes the ordinary user that runs the learners' code.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# make and a C compiler build the learners' programs; tools/setup installs,
# with apt-get, the rest of what grading uses (python3, python3-pytest,
# socat, netcat-openbsd), the one list of it being in tools/setup.
apt-get install -y -q --no-install-recommends make gcc libc6-dev
chmod 755 run_autograder lab/tools/setup lab/tools/grade
lab/tools/setup grade >/dev/null
# The trace library, built once here: each grading copy starts with it.
make -s -C lab {prebuilt}
# The learners' programs run as this user, who cannot read the lab's own
# files here (run_autograder, as root, gives it a copy) nor the results.
id -u student >/dev/null 2>&1 ||
    useradd --no-create-home --shell /usr/sbin/nologin student
chmod -R go= .
echo "setup.sh: the lab's autograder is ready"
""".format(prebuilt=" ".join(PREBUILT))

RUN_AUTOGRADER = """\
#!/bin/sh
# Gradescope runs this as root for each submission: it grades
# /autograder/submission with the lab's own checks, as the user student,
# and writes /autograder/results/results.json (tools/autograder.py).
# AUTOGRADER_ROOT stands for /autograder (a stand-in tree, for a test).
root=${AUTOGRADER_ROOT:-/autograder}
lab=$root/source/lab
python=$("$lab/tools/setup" pytest) || exit 1
exec "$python" "$lab/tools/autograder.py" gradescope
"""


def add_file(archive, name, content, mode):
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, content)


def is_autograder_zip(path):
    """Whether path holds a zip that make autograder wrote: setup.sh and
    run_autograder at its root, everything else in LAB_DIR/."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except Exception:  # noqa: BLE001 - whatever cannot be read is not one
        return False
    tops = {"setup.sh", "run_autograder"}
    return tops <= names and all(name in tops or
                                 name.startswith(f"{LAB_DIR}/")
                                 for name in names)


def build_zip(out):
    classroom.refuse_output("autograder", out, is_autograder_zip,
                            "an autograder zip of this lab")
    pristine, _ = classroom.starters_to_hand_out("autograder")
    out = Path(out)
    count = 0
    try:
        contents = list(classroom.handout_contents(pristine))
    except classroom.FilesMissing as e:
        print(f"autograder: nothing written: {e}.", file=sys.stderr)
        return classroom.USAGE
    with classroom.replacing(out) as f, zipfile.ZipFile(f, "w") as archive:
        add_file(archive, "setup.sh", SETUP_SH, 0o755)
        add_file(archive, "run_autograder", RUN_AUTOGRADER, 0o755)
        for name, path, content in contents:
            mode = path.stat().st_mode & 0o777 if path else 0o644
            if content is None:
                content = path.read_bytes()
            add_file(archive, f"{LAB_DIR}/{name}", content, mode)
            count += 1
    print(f"autograder: wrote {classroom.shown(out)}: setup.sh and "
          f"run_autograder, and the lab without its solutions ({count} files)"
          " in lab/. Upload it as it is to the Gradescope assignment's "
          "\"Configure Autograder\" page (lessons/TEACHING.md).")
    return 0


# -- Gradescope: grading a submission ----------------------------------------------

OUTPUT_LIMIT = 20000  # characters of one output shown


def shown(text, limit=OUTPUT_LIMIT):
    """Text fit for results.json: every character that is not printable
    (a control character, a byte that was not text) written as \\xNN, and
    at most limit characters of it: its start and its end, where a grade
    says what did not compile and what it comes to."""
    text = "".join(c if c.isprintable() or c in "\n\t" else
                   f"\\x{ord(c):02x}" if ord(c) < 0x100 else
                   f"\\u{ord(c):04x}" for c in str(text))
    if len(text) > limit:
        head = limit * 2 // 3
        text = text[:head] + f"\n... ({len(text) - limit} of its " \
            f"{len(text)} characters left out) ...\n" + \
            text[len(text) - (limit - head):]
    return text


def grading_user():
    """(uid, gid) of the ordinary user who runs the learners' code, or None
    when we are not root (then we are an ordinary user already)."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("AUTOGRADER_USER", "student")
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise classroom.GraderError(
            f"the user {name}, who runs the learners' code, does not exist:"
            " setup.sh makes it (useradd)") from None
    if user.pw_uid == 0:
        raise classroom.GraderError(f"the user {name} is root: the learners' "
                                    "code must run as an ordinary user")
    return user.pw_uid, user.pw_gid


def give(path, owner):
    for folder, dirs, files in os.walk(path):
        os.chown(folder, *owner)
        for name in dirs + files:
            os.chown(os.path.join(folder, name), *owner, follow_symlinks=False)


def points_of_the_lab():
    return float(sum(lesson.get("points", 0) for lesson in lessons()))


def grade_submission(root):
    """(status, the grade's JSON document or None, what to show)."""
    submission = root / "submission"
    lessons_in, places = classroom.find_upload(submission)
    if lessons_in is None:
        return classroom.NOTHING_TO_GRADE, None, \
            classroom.nothing_to_grade(submission, places).removeprefix(
                "grade: ")
    pristine, _ = classroom.starters_to_hand_out("autograder")
    owner = grading_user()
    work = work_dir("lab-autograder-")
    try:
        tree = work / classroom.HANDOUT_TOP
        taken = classroom.make_grading_copy(lessons_in, tree, pristine)
        if owner:
            give(work, owner)
        results = work / "grade.json"
        output = work / "grade.txt"
        with open(output, "w") as out:
            print(f"{len(taken)} source files of the submission "
                  f"({classroom.shown(lessons_in)}), graded with the lab's "
                  "own checks.", file=out)
            for refused in classroom.not_taken(submission, places):
                print(f"{refused} ({classroom.ONLY_FILES}).", file=out)
            print(file=out, flush=True)
            status = classroom.grade_copy(tree, results, as_user=owner,
                                          stdout=out)
        said = "".join(line for line in output.read_text(
            errors="replace").splitlines(keepends=True)
            if not line.startswith("grade: the results are in "))
        if status not in (classroom.COMPLETE, classroom.INCOMPLETE):
            return classroom.GRADER_ERROR, None, said
        document = json.loads(results.read_text())
        if document.get("max_score") != points_of_the_lab() or \
                not 0 <= document.get("score", -1) <= document["max_score"]:
            raise classroom.GraderError("the grade's JSON does not add up to "
                                        "the points of lessons.json")
        return status, document, said
    finally:
        shutil.rmtree(work, ignore_errors=True)


def gradescope_tests(document):
    """Gradescope's tests[]: one per check that could run here, with the
    lab's own fields under extra_data; and the checks left out."""
    tests, left_out = [], []
    for lesson in document["lessons"]:
        for part in lesson["parts"]:
            entry = classroom.autograder_entry(lesson["lesson"], part)
            if "status" not in entry:  # it could not run on this machine
                left_out.append({"name": entry["name"],
                                 "why": shown(entry["output"], 500)})
                continue
            tests.append({
                "name": shown(entry["name"], 200),
                "score": entry["score"], "max_score": entry["max_score"],
                "status": entry["status"], "output": shown(entry["output"]),
                "visibility": "visible",
                "tags": [f"part {lesson.get('part', 1)}"],
                "extra_data": {"lesson": lesson["lesson"],
                               "check": part["name"],
                               "outcome": part["outcome"]}})
    return tests, left_out


def gradescope_results(status, document, said, seconds):
    """results.json's content, for any status of the grading tool."""
    results = {"score": 0, "execution_time": round(seconds),
               "output": shown(said), "output_format": "text",
               "test_output_format": "text", "test_name_format": "text",
               "visibility": "visible", "stdout_visibility": "hidden",
               "tests": [],
               "extra_data": {"status": classroom.STATUS_WORDS[status],
                              "max_score": points_of_the_lab()}}
    if document is not None:
        tests, left_out = gradescope_tests(document)
        results["score"] = document["score"]
        results["tests"] = tests
        results["extra_data"].update(
            left_out=left_out,
            lab_parts=document.get("lab_parts", []),
            lessons=[{"lesson": r["lesson"], "state": r["state"],
                      "points": r["points"], "max_points": r["max_points"],
                      "compiler": {name: shown(text) for name, text in
                                   r["compiler"].items()}}
                     for r in document["lessons"]])
    elif status == classroom.GRADER_ERROR:
        results["output"] = shown(
            "The autograder failed: this 0 is not a grade, and your work is "
            "not at fault. Your teacher sees why in the autograder's output "
            "and can run it again.\n\n" + said)
    return results


def gradescope():
    root = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    started = time.monotonic()
    try:
        status, document, said = grade_submission(root)
    except Exception as e:  # noqa: BLE001 - no grade, but results.json
        status, document, said = classroom.GRADER_ERROR, None, \
            f"{type(e).__name__}: {e}"
    results = gradescope_results(status, document, said,
                                 time.monotonic() - started)
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(".results.json.tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=True) + "\n")
    tmp.replace(target)
    # The teacher's log (Gradescope keeps standard output in results/stdout).
    print(said)
    print(f"run_autograder: {classroom.STATUS_WORDS[status]}, "
          f"{results['score']} of {points_of_the_lab():g} points; wrote "
          f"{target}")
    return 0


def main(argv):
    if argv[:1] == ["zip"] and len(argv) == 2:
        return build_zip(argv[1])
    if argv == ["gradescope"]:
        return gradescope()
    if argv == ["workflow"]:
        sys.stdout.write(workflow())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    run_tool(main)
