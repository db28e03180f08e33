"""The lab's test driver.

Each tests/test_NN_*.py checks one lesson; its module-level LESSON names the
lesson folder.  The `lab` fixture runs that lesson's programs, built from
lessons/ (LAB_CODE=lessons: the learner's code, `make check`) or from
solutions/ (the default: `make test`), in a fresh directory that is removed
afterwards, and collects their JSON trace.

The classroom commands (make progress, hint, grade...) are tested in
copies of an unpacked hand-out: the `lab_copy` fixture, where lessons are
solved or edited without touching the real lessons/.
"""
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import labrun  # noqa: E402
import tracetext  # noqa: E402

LESSONS = [d.name for d in
           sorted((labrun.ROOT / "lessons").glob("[0-9][0-9]-*"))]
CODE = os.environ.get("LAB_CODE", "solutions")
LEARNER = CODE == "lessons"
# A learner fixes one thing at a time: after a lesson's first failed check,
# its later checks are skipped.  Grading runs every check (LAB_EVERY_CHECK=1).
ONE_FAILURE_PER_LESSON = LEARNER and not os.environ.get("LAB_EVERY_CHECK")


class LabCheckFailed(AssertionError):
    """A check that failed, with a message written for the learner."""


class LessonLab(labrun.Lab):
    """A Lab that runs one lesson's programs and explains failed checks.

    code_dir holds the programs under test; readme_lesson is the lesson
    whose README a failure message sends the learner to.
    """

    def __init__(self, code_dir, readme_lesson):
        super().__init__(code_dir)
        self.lesson = readme_lesson

    def start(self, name, *args, **kw):
        try:
            return super().start(name, *args, **kw)
        except FileNotFoundError as e:
            raise LabCheckFailed(f"{e}\nRun `make lesson N={self.lesson[:2]}`"
                                 f" to see the compiler's messages.") from None

    def server(self, *args, **kw):
        return self.start("server", *args, **kw)

    def serving(self, *args):
        """The server, started and listening (lesson 03's stage done)."""
        server = self.server(*args)
        self.require("listen", "the server to listen (lesson 03)",
                     "What this stage does", proc=server, ret=0)
        return server

    def client(self, *args, stdin=b"", timeout=labrun.WAIT):
        return self.run("client", *args, stdin=stdin, timeout=timeout)

    def report(self, expected, section):
        shown = tracetext.in_causal_order(self.events(event=None))
        lines = [f"Expected: {expected}", "The trace showed:"]
        if not shown:
            lines.append("    no lifecycle call at all")
        for e in shown[-30:]:
            lines.append("    " + tracetext.render(e))
        for proc in self.procs:
            lines.append(f"Then: {proc.describe()}.")
            said = (proc.stdout + proc.stderr).strip().splitlines()
            for line in said[-6:]:
                lines.append(f"    it printed: {line}")
        lines.append(f'Reread lessons/{self.lesson}/README.md, section '
                     f'"{section}".')
        return "\n".join(lines)

    def expect(self, condition, expected, section):
        """Fails the check, for the learner, unless condition holds."""
        if not condition:
            raise LabCheckFailed(self.report(expected, section))

    def require(self, call, expected, section, **kw):
        """Waits for a traced call and returns it, or fails the check."""
        event = self.wait_for(call, **kw)
        self.expect(event is not None, expected, section)
        return event


@pytest.fixture
def lab(request):
    lesson = request.module.LESSON
    with LessonLab(labrun.BUILD / CODE / lesson, lesson) as lab:
        yield lab


@pytest.fixture
def lab_for():
    """Labs for other code than the module's own: the ladder's."""
    labs = []

    def make(code_dir, readme_lesson):
        labs.append(LessonLab(code_dir, readme_lesson))
        return labs[-1]
    yield make
    for lab in labs:
        lab.close()


# -- copies of the lab, for the classroom commands ----------------------------

class LabCopy:
    """An unpacked hand-out in a temporary directory, to run make in.

    The real lessons/ are never touched: lessons are solved or edited in
    the copy.
    """

    def __init__(self, path):
        self.path = Path(path)

    def lesson(self, lesson_id):
        return self.path / "lessons" / lesson_id

    def make_command(self, *args, scale=1.0, env=None):
        """make in the copy, as a learner runs it: without the variables
        and LAB_ settings of the make that runs this suite.  scale below 1
        shortens the waits for an event that is known never to come; env
        adds to the environment."""
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MAKE", "MFLAGS", "LAB_", "PYTHON"))}
        environ.update(NO_COLOR="1",
                       LAB_TIMEOUT_SCALE=str(labrun.SCALE * scale),
                       **(env or {}))
        return ["make", "--no-print-directory", "-C", str(self.path),
                *args], environ

    def make(self, *args, timeout=30, scale=1.0, env=None):
        argv, env = self.make_command(*args, scale=scale, env=env)
        return subprocess.run(argv, env=env, capture_output=True, text=True,
                              timeout=timeout * labrun.SCALE)

    def solve(self, lesson_id):
        for source in (labrun.ROOT / "solutions" / lesson_id).glob("*.c"):
            shutil.copy(source, self.lesson(lesson_id) / source.name)

    def edit(self, lesson_id, name="server.c", text="/* my change */\n"):
        with open(self.lesson(lesson_id) / name, "a") as f:
            f.write(text)


def path_without(bin_dir, names):
    """A PATH of one directory that has every command of PATH but names."""
    bin_dir.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        for tool in Path(folder).glob("*") if Path(folder).is_dir() else []:
            link = bin_dir / tool.name
            if tool.name not in names and not link.exists() and \
                    os.access(tool, os.X_OK):
                link.symlink_to(tool)
    return str(bin_dir)


def make_handout(tarball):
    """make handout in the repository, written to tarball."""
    return LabCopy(labrun.ROOT).make("handout", f"B={labrun.BUILD}",
                                     f"HANDOUT={tarball}")


@pytest.fixture(scope="session")
def built_handout():
    """A hand-out made, unpacked and built once; lab_copy copies it."""
    where = labrun.scratch_dir("lab-handout-")
    try:
        made = make_handout(where / "lab.tar.gz")
        assert made.returncode == 0, made.stdout + made.stderr
        with tarfile.open(where / "lab.tar.gz") as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") \
                else {}
            tar.extractall(where / "unpacked", **safe)
        tree = LabCopy(where / "unpacked" / "unix-sockets-lab")
        built = tree.make("-j2", "-s", timeout=120)
        assert built.returncode == 0, built.stdout + built.stderr
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture
def lab_copy(built_handout):
    """A fresh copy of the built hand-out, removed afterwards."""
    where = labrun.scratch_dir("lab-copy-")
    try:
        tree = where / "unix-sockets-lab"
        shutil.copytree(built_handout / "unpacked" / "unix-sockets-lab", tree,
                        symlinks=True)
        yield LabCopy(tree)
    finally:
        shutil.rmtree(where, ignore_errors=True)


# -- reporting, for learners ------------------------------------------------

_failed_lessons = set()
_results = {}  # lesson -> list of (test name, outcome)


def _lesson_of(item):
    return getattr(item.module, "LESSON", None)


def pytest_runtest_setup(item):
    lesson = _lesson_of(item)
    if ONE_FAILURE_PER_LESSON and lesson in _failed_lessons:
        pytest.skip("an earlier check of this lesson failed: fix that first")


def _one_report_only(item):
    """Whether a learner checks several lessons at a terminal (make check):
    then only the first lesson that fails gets its whole report."""
    if not ONE_FAILURE_PER_LESSON or \
            not item.config.pluginmanager.has_plugin("terminalreporter"):
        return False  # make progress and make grade read every report
    return len({_lesson_of(i) for i in item.session.items}) > 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(LabCheckFailed):
        report.longrepr = str(call.excinfo.value)
    lesson = _lesson_of(item)
    if lesson and (report.when == "call" or report.outcome != "passed"):
        if report.failed:
            if _failed_lessons and lesson not in _failed_lessons and \
                    _one_report_only(item):
                first = min(_failed_lessons)
                report.longrepr = (
                    f"lesson {lesson} fails here too: one lesson at a time, "
                    f"{first} first (make check N={lesson[:2]} shows this "
                    "check's report).")
            _failed_lessons.add(lesson)
        _results.setdefault(lesson, []).append((item.name, report.outcome))


def pytest_sessionfinish(session):
    """Nothing left behind: every directory the run made in /tmp is gone."""
    left = [str(d) for d in labrun.MADE if d.exists()]
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter:
            reporter.write_line(f"left behind in /tmp by this run: "
                                f"{', '.join(left)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if not LEARNER or not _results:
        return
    import classroom  # what make progress calls a lesson
    pristine, _ = classroom.starters()
    write = terminalreporter.write_line
    write("")
    write("Your lessons:")
    next_step = None
    for lesson in sorted(_results):
        runs = _results[lesson]
        passed = sum(1 for _, o in runs if o == "passed")
        failed = [name for name, o in runs if o == "failed"]
        if failed:
            skipped = sum(1 for _, o in runs if o == "skipped")
            word = "not started" if classroom.not_started(lesson, pristine) \
                else "does not compile" if not classroom.compiles(lesson) \
                else "in progress"
            state = f"{word}: {classroom.readable(failed[0])}"
            state += f" ({passed} passed, {skipped} not run yet)" \
                if skipped else f" ({passed} of {len(runs)} checks pass)"
            next_step = next_step or (lesson, failed[0])
        else:
            state = f"done ({passed} checks pass)"
        write(f"  {lesson:<20} {state}")
    if next_step:
        write(f"Next: lessons/{next_step[0]}/README.md, and the failed check "
              f"'{next_step[1]}' above.")
