"""The ladder: the starter of lesson N is the solution of lesson N-1 with
one stage left to do.

So every starter compiles and is marked TODO, fails its own lesson's checks
and passes the checks of every lesson before it; and every solution passes
the checks of every lesson before it (its own lesson's checks are the
test_NN_*.py files themselves).  This runs the lesson checks on the
starters in lessons/ as they are in the repository: after a learner has
done a lesson, its starter is no longer a starter.
"""
import importlib
import inspect
from pathlib import Path

import pytest

import labrun
from conftest import LabCheckFailed, LessonLab

TESTS = Path(__file__).resolve().parent
# Each test may run in any process of a parallel run (conftest.spread).
SPREAD = True
LESSON_MODULES = [importlib.import_module(p.stem) for p in
                  sorted(TESTS.glob("test_[0-9][0-9]_*.py"))]
LESSONS = [m.LESSON for m in LESSON_MODULES]


def checks(module):
    """The module's tests, in the order they are written."""
    return [fn for name, fn in vars(module).items()
            if name.startswith("test_") and inspect.isfunction(fn)]


def run_check(fn, code_dir, lesson):
    """Runs one lesson check on the programs in code_dir."""
    marks = getattr(fn, "pytestmark", [])
    params = [m for m in marks if m.name == "parametrize"]
    arg_sets = [{}] if not params else [
        {params[0].args[0]: value} for value in params[0].args[1]]
    for kwargs in arg_sets:
        with LessonLab(code_dir, lesson) as lab:
            try:
                fn(lab, **kwargs)
            except LabCheckFailed as failure:
                return "failed", str(failure)
            except pytest.skip.Exception:
                return "skipped", ""
    return "passed", ""


def failures(code_dir, module, stop_at_first=False):
    found = []
    for fn in checks(module):
        outcome, message = run_check(fn, code_dir, module.LESSON)
        if outcome == "failed":
            found.append(f"{fn.__name__}:\n{message}")
            if stop_at_first:
                break
    return found


def programs(root, lesson):
    return sorted(p.stem for p in (labrun.ROOT / root / lesson).glob("*.c"))


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_starter_compiles_and_marks_its_todo(lesson):
    for name in programs("lessons", lesson):
        built = labrun.BUILD / "lessons" / lesson / name
        assert built.exists(), f"lessons/{lesson}/{name}.c did not compile"
    todo = f"TODO({lesson})"
    marked = [n for n in programs("lessons", lesson)
              if todo in (labrun.ROOT / "lessons" / lesson /
                          f"{n}.c").read_text()]
    assert marked, f"no {todo} in the starter code of lessons/{lesson}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_each_lesson_has_the_same_programs_as_its_solution(lesson):
    assert programs("lessons", lesson) == programs("solutions", lesson)


@pytest.mark.parametrize("n", range(len(LESSONS)), ids=LESSONS)
def test_each_starter_fails_its_own_lesson(n):
    code_dir = labrun.BUILD / "lessons" / LESSONS[n]
    assert failures(code_dir, LESSON_MODULES[n], stop_at_first=True), \
        f"the starter of {LESSONS[n]} passes all of its own checks: " \
        f"is lessons/{LESSONS[n]} still the starter, or are the checks " \
        f"too weak?"


@pytest.mark.parametrize("n", range(1, len(LESSONS)), ids=LESSONS[1:])
def test_each_starter_passes_the_earlier_lessons(n):
    code_dir = labrun.BUILD / "lessons" / LESSONS[n]
    for module in LESSON_MODULES[:n]:
        found = failures(code_dir, module)
        assert not found, f"the starter of {LESSONS[n]} fails the checks " \
            f"of {module.LESSON}:\n" + "\n".join(found)


@pytest.mark.parametrize("n", range(1, len(LESSONS)), ids=LESSONS[1:])
def test_each_solution_passes_the_earlier_lessons(n):
    code_dir = labrun.BUILD / "solutions" / LESSONS[n]
    for module in LESSON_MODULES[:n]:
        found = failures(code_dir, module)
        assert not found, f"the solution of {LESSONS[n]} fails the checks " \
            f"of {module.LESSON}:\n" + "\n".join(found)
