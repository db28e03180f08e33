"""make autograder: the zip a teacher uploads to Gradescope.

Its run_autograder is run as Gradescope runs it, as root when the suite is
root, in a stand-in of Gradescope's /autograder tree (AUTOGRADER_ROOT):
against a finished, a half-done and a non-compiling submission, and one
with nothing to grade.  Each results.json is checked against Gradescope's
format (docs: "Autograder Specifications"), by the schema below.
"""
import json
import os
import shutil
import subprocess
import zipfile

import pytest

import autograder
import labrun
from conftest import LabCopy

ROOT = labrun.ROOT
LISTED = json.loads((ROOT / "lessons" / "lessons.json").read_text())
POINTS = {lesson["id"]: lesson["points"] for lesson in LISTED["lessons"]}
PART_POINTS = {}
for _lesson in LISTED["lessons"]:
    PART_POINTS[_lesson["part"]] = PART_POINTS.get(_lesson["part"], 0) + \
        _lesson["points"]
pytestmark = pytest.mark.skipif(not (ROOT / "solutions").is_dir(),
                                reason="a hand-out has no solutions")
# The learners' code runs as an ordinary user: the user nobody stands for
# the one setup.sh makes (student).
NOBODY = 65534

# -- Gradescope's results.json, as its specification describes it ------------

NUMBER = (int, float)
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
TOP = {"score": NUMBER, "execution_time": NUMBER, "output": str,
       "output_format": FORMATS, "test_output_format": FORMATS,
       "test_name_format": FORMATS, "visibility": VISIBILITY,
       "stdout_visibility": VISIBILITY, "extra_data": dict, "tests": list,
       "leaderboard": list}
TEST = {"score": NUMBER, "max_score": NUMBER, "status": {"passed", "failed"},
        "name": str, "name_format": FORMATS, "number": str, "output": str,
        "output_format": FORMATS, "tags": list, "visibility": VISIBILITY,
        "extra_data": dict}


def problems_of(where, value, schema, required):
    if not isinstance(value, dict):
        return [f"{where} is not an object"]
    found = [f"{where} has no {key}" for key in required if key not in value]
    for key, item in value.items():
        kind = schema.get(key)
        if kind is None:
            found.append(f"{where}.{key} is not a field of Gradescope's "
                         "format: the lab's own fields go in extra_data")
        elif isinstance(kind, set):
            if item not in kind:
                found.append(f"{where}.{key} is {item!r}, not one of "
                             f"{sorted(kind)}")
        elif isinstance(item, bool) or not isinstance(item, kind):
            found.append(f"{where}.{key} is a {type(item).__name__}")
        if isinstance(item, str) and not all(c.isprintable() or c in "\n\t"
                                             for c in item):
            found.append(f"{where}.{key} holds raw control characters")
    return found


def results_problems(text):
    """What keeps text from being a valid results.json, in words."""
    if not text.isascii():
        return ["results.json is not ASCII (its JSON escapes are missing)"]
    results = json.loads(text)
    found = problems_of("results", results, TOP, ["score", "tests"])
    for n, test in enumerate(results.get("tests", [])):
        found += problems_of(f"tests[{n}]", test, TEST,
                             ["name", "score", "max_score", "status",
                              "output"])
    cents = sum(round(t.get("score", 0) * 100) for t in results["tests"])
    if results["tests"] and cents != round(results["score"] * 100):
        found.append(f"the tests' scores add up to {cents / 100}, not to "
                     f"the score {results['score']}")
    return found


def test_the_schema_check_finds_what_gradescope_would_refuse():
    good = {"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1,
                                   "status": "passed", "output": "ok\n"}]}
    assert results_problems(json.dumps(good)) == []
    bad = json.loads(json.dumps(good))
    bad["tests"][0].update(status="skipped", outcome="x", output="\x1b[31m")
    said = results_problems(json.dumps(bad))
    assert len(said) == 3, said
    assert results_problems(json.dumps(good, ensure_ascii=False) + "é")


# -- the zip, and a stand-in of Gradescope's tree --------------------------------

@pytest.fixture(scope="module")
def autograder_zip():
    where = labrun.scratch_dir("lab-autograder-zip-",
                               parent=labrun.RUN_PARENT)
    try:
        made = LabCopy(ROOT).make("autograder", f"B={labrun.BUILD}",
                                  f"AUTOGRADER={where / 'autograder.zip'}")
        assert made.returncode == 0, made.stdout + made.stderr
        yield where / "autograder.zip"
    finally:
        shutil.rmtree(where, ignore_errors=True)


def unzip(archive, into):
    """As unzip does it: with the files' modes."""
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            z.extract(info, into)
            mode = info.external_attr >> 16 & 0o777
            if mode:
                os.chmod(into / info.filename, mode)


@pytest.fixture(scope="module")
def autograder_root(autograder_zip):
    """/autograder as Gradescope's image holds it once setup.sh has run:
    source/ (the zip, closed to other users), run_autograder at the top."""
    root = labrun.scratch_dir("lab-autograder-",
                              parent=labrun.COPY_PARENT)
    try:
        unzip(autograder_zip, root / "source")
        # What setup.sh builds, as it builds it.
        built = subprocess.run(
            ["make", "-s", "-C", str(root / "source" / "lab"),
             *autograder.PREBUILT], env=LabCopy(ROOT).make_command()[1],
            capture_output=True, text=True, timeout=120)
        assert built.returncode == 0, built.stdout + built.stderr
        shutil.copy2(root / "source" / "run_autograder", root)
        os.chmod(root / "source", 0o700)  # setup.sh: chmod -R go= .
        os.chmod(root, 0o755)  # as /autograder is
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_autograder(root, submission):
    """Gradescope's run: a fresh submission/ and results/, run_autograder
    in /autograder; returns (results, what it printed for the teacher)."""
    for folder in ("submission", "results", "tmp"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    submission(root / "submission")
    # The grading copy is made in TMPDIR: here, to see that it is removed.
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "AUTOGRADER_ROOT": str(root), "TMPDIR": str(root / "tmp"),
           "LAB_TIMEOUT_SCALE": str(labrun.SCALE)}
    if os.geteuid() == 0:
        env["AUTOGRADER_USER"] = "nobody"
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True,
                          timeout=120 * labrun.SCALE)
    assert done.returncode == 0, done.stdout + done.stderr
    text = (root / "results" / "results.json").read_text()
    assert results_problems(text) == [], text
    # The grading copy is gone, whoever made it.
    assert not list((root / "tmp").iterdir())
    return json.loads(text), done.stdout


def solved(folder, *lesson_ids):
    for lesson_id in lesson_ids:
        (folder / lesson_id).mkdir(parents=True, exist_ok=True)
        for source in (ROOT / "solutions" / lesson_id).glob("*.c"):
            shutil.copy(source, folder / lesson_id / source.name)


def starter_with(folder, lesson_id, line):
    """The starter of a lesson's server, with line first in main."""
    (folder / lesson_id).mkdir(parents=True, exist_ok=True)
    text = (ROOT / "lessons" / lesson_id / "server.c").read_text()
    head, main = text.split("\nint main(", 1)
    signature, body = main.split("\n{\n", 1)
    (folder / lesson_id / "server.c").write_text(
        f"{head}\n#include <unistd.h>\nint main({signature}\n{{\n"
        f"    {line}\n{body}")


def by_lesson(results):
    return {lesson["lesson"]: lesson
            for lesson in results["extra_data"]["lessons"]}


def test_the_zip_is_what_gradescope_wants(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as z:
        names = {info.filename: info.external_attr >> 16 & 0o777
                 for info in z.infolist()}
        setup = z.read("setup.sh").decode()
    assert names["setup.sh"] == names["run_autograder"] == 0o755
    assert names["lab/tools/setup"] == 0o755
    assert "lab/Makefile" in names and "lab/tests/conftest.py" in names
    assert not [n for n in names if n.startswith("lab/solutions")]
    assert subprocess.run(["bash", "-n"], input=setup, text=True,
                          timeout=10).returncode == 0
    # What setup.sh installs by name, and tools/setup grade besides.
    named = set(setup.split("--no-install-recommends", 1)[1].split("\n")[0]
                .split())
    assert named == {"make", "gcc", "libc6-dev"}
    assert "lab/tools/setup grade" in setup and "useradd" in setup
    assert f"make -s -C lab {' '.join(autograder.PREBUILT)}" in setup
    apt = shutil.which("apt-cache")
    if apt is None:
        pytest.skip("no apt-cache here to look the package names up")
    grading = {"python3", "python3-pytest", "socat", "netcat-openbsd"}
    shown = subprocess.run([apt, "policy", *sorted(named | grading)],
                           capture_output=True, text=True, timeout=30)
    known = {line[:-1] for line in shown.stdout.splitlines()
             if line.endswith(":") and not line.startswith(" ")}
    if not known:
        pytest.skip("apt knows no package here (apt-get update first)")
    assert known == named | grading, shown.stdout


def test_a_long_output_keeps_its_start_and_its_end():
    # What a grade says last (what did not compile, the total) is kept when
    # its table of checks is too long for one output.
    text = "first line\n" + "a check\n" * 5000 + "02-bind does not compile\n"
    kept = autograder.shown(text, limit=1000)
    assert len(kept) < 1100
    assert kept.startswith("first line\n")
    assert kept.endswith("02-bind does not compile\n")
    assert f"of its {len(text)} characters left out" in kept


def test_a_finished_submission_gets_every_point(autograder_root):
    results, log = run_autograder(
        autograder_root,
        lambda upload: solved(upload / "unix-sockets-lab" / "lessons",
                              *POINTS))
    assert results["score"] == sum(POINTS.values()), log
    assert {t["status"] for t in results["tests"]} == {"passed"}
    assert results["extra_data"]["status"] == "complete"
    assert {lesson["state"] for lesson in by_lesson(results).values()} == \
        {"done"}
    assert f"complete, {sum(POINTS.values()):g}" in log
    # Each part of the lab scored apart, and each test tagged with its part.
    assert [(p["part"], p["score"], p["max_score"]) for p in
            results["extra_data"]["lab_parts"]] == \
        [(n, worth, worth) for n, worth in PART_POINTS.items()]
    assert {t["tags"][0] for t in results["tests"]} == \
        {f"part {n}" for n in PART_POINTS}


def test_a_half_done_submission_gets_the_points_of_what_passes(
        autograder_root):
    def upload(folder):
        solved(folder / "lessons", "02-bind", "03-listen")
        starter_with(folder / "lessons", "01-socket",
                     'printf("uid %d\\n", (int)geteuid()); fflush(stdout);')
    results, log = run_autograder(autograder_root, upload)
    done = POINTS["02-bind"] + POINTS["03-listen"]
    assert done <= results["score"] < done + POINTS["01-socket"], log
    lessons = by_lesson(results)
    assert [lessons[lesson]["state"] for lesson in POINTS] == \
        ["in progress", "done", "done"] + ["not started"] * \
        (len(POINTS) - 3)
    started = [t for t in results["tests"]
               if t["extra_data"]["lesson"] == "01-socket"]
    assert "failed" in {t["status"] for t in started}
    assert {t["extra_data"]["outcome"] for t in results["tests"]
            if t["extra_data"]["lesson"] == "06-close"} == {"not started"}
    # The learner's programs ran as the ordinary user, not as root.
    uid = NOBODY if os.geteuid() == 0 else os.geteuid()
    assert any(f"uid {uid}" in t["output"] for t in started), started
    assert results["extra_data"]["status"] == "incomplete"


def test_a_submission_that_does_not_compile_gets_the_compiler_s_words(
        autograder_root):
    def upload(folder):
        solved(folder, "02-bind")
        with open(folder / "02-bind" / "server.c", "a") as f:
            f.write("int broken(void) { return }\n")
        # What a program prints reaches results.json escaped, never raw.
        starter_with(folder, "01-socket",
                     r'printf("\x1b[31m\x01\xff\n"); fflush(stdout);')
    results, _ = run_autograder(autograder_root, upload)
    assert results["score"] < POINTS["01-socket"]
    lessons = by_lesson(results)
    assert lessons["02-bind"]["state"] == "does not compile"
    assert "lessons/02-bind/server.c:" in lessons["02-bind"]["compiler"][
        "server.c"]
    broken = [t for t in results["tests"]
              if t["extra_data"]["lesson"] == "02-bind"]
    for test in broken:
        assert test["status"] == "failed" and \
            test["extra_data"]["outcome"] == "does not compile"
        assert "error:" in test["output"], test
    assert "02-bind does not compile" in results["output"]
    printed = " ".join(t["output"] for t in results["tests"]
                       if t["extra_data"]["lesson"] == "01-socket")
    assert "\\x1b[31m" in printed and "\\x01" in printed, printed


def test_an_upload_with_nothing_to_grade_says_what_was_looked_for(
        autograder_root):
    def upload(folder):
        (folder / "notes.txt").write_text("my lessons are on my laptop\n")
    results, _ = run_autograder(autograder_root, upload)
    assert results["score"] == 0 and results["tests"] == []
    assert results["extra_data"]["status"] == "nothing to grade"
    assert "no lesson source" in results["output"]
    assert "/submission/lessons" in results["output"]
