"""The classroom commands: where a learner is, a way forward, and grading.

    classroom.py progress               every lesson's state and the next step
    classroom.py hint LESSON [again]    the next hint of a lesson
    classroom.py watch LESSON           make check N=.. after every change
    classroom.py reset LESSON           the starter code again, with a backup
    classroom.py quiz LESSON [ANSWERS]  the README's questions, answered
                                        (ANSWERS: a letter per question)
    classroom.py grade [JSON_FILE]      every check of every lesson, scored
    classroom.py grade-from DIR [JSON]  the same for a learner's upload in DIR
    classroom.py handout TARBALL        everything but the solutions

grade and grade-from exit 0 (complete), 1 (incomplete), 3 (nothing to
grade) or 4 (the grader failed: no grade); 2 when the command line is
wrong.  handout, grade and grade-from write a new file, or replace only
their own earlier output (output_refused).

The Makefile runs these (make progress, make hint N=04, ...).  progress and
grade run the lesson checks of tests/ with pytest, in this interpreter, and
read their results: the checks are written once, in tests/.
"""
import contextlib
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import functools

import manifest
import tracetext
from labrun import BUILD, compiler_messages, not_a_file, pending_signals, \
    run_tool, typed, work_dir
from manifest import LESSONS_DIR, ROOT, lesson_ids, lesson_programs, \
    lessons, number

TESTS_DIR = ROOT / "tests"
STATE_DIR = BUILD / "classroom"
# A hand-out has no git history: it carries a pristine copy of the starters.
STARTERS_COPY = LESSONS_DIR / ".starters"
HANDOUT_TOP = "unix-sockets-lab"
HANDOUT_PARTS = ["Makefile", "README.md", ".gitignore", "lessons", "tests",
                 "pictures", "trace", "tools"]
BACKUP_DIR = "backup"

_style = tracetext.Style(tracetext.colour_on(sys.stdout))
BOLD, DIM, RESET = _style.bold, _style.dim, _style.reset

def shown(path):
    """A path as the learner types it: relative to the lab when inside."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) \
        else str(path)


# -- the learner's sources and the pristine starters --------------------------

def program_files(lesson_id):
    """The source files of the lesson's own programs: ["server.c", ...].
    A program of the learner's own beside them is not one of them."""
    return [f"{name}.c" for name in lesson_programs(lesson_id)]


# The largest lesson source read, compiled (the Makefile's SOURCE_LIMIT,
# the same) or graded, in bytes: a solution is some 20 KiB; a file of gigabytes (a
# program's output sent into it by mistake) would fill the memory and the
# grading copy's disk, and keep the compiler busy for ever.
SOURCE_LIMIT = 1 << 20


def read_source(path):
    """A lesson source's bytes, at most SOURCE_LIMIT + 1 of them: a longer
    file differs from every starter all the same, and never compiles."""
    with open(path, "rb") as f:
        return f.read(SOURCE_LIMIT + 1)


def sources(lesson_id, folder=None):
    """The learner's code of a lesson: {file name: bytes}, the sources of
    its own programs that exist (in folder, else in lessons/)."""
    folder = folder or LESSONS_DIR / lesson_id
    return {name: read_source(folder / name)
            for name in program_files(lesson_id)
            if (folder / name).is_file()}


def _git(*args, stdin=None):
    # The lab is ours to read even when another user owns the checkout (a
    # teacher, as root, in a learner's clone): git refuses a repository of
    # another owner unless told it is safe. A git that takes that only
    # from the user's configuration, not from -c (Debian 11's 2.30), is
    # given a home of its own that says so.
    argv = ["git", "-c", f"safe.directory={ROOT}", "-C", str(ROOT), *args]
    done = subprocess.run(argv, input=stdin, capture_output=True,
                          timeout=30)
    if done.returncode != 0 and b"safe.directory" in done.stderr:
        with tempfile.TemporaryDirectory(prefix="lab-git-home-") as home:
            Path(home, ".gitconfig").write_text(
                f"[safe]\n\tdirectory = {ROOT}\n")
            done = subprocess.run(argv, input=stdin, capture_output=True,
                                  timeout=30, env={**os.environ,
                                                   "HOME": home})
    if done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, argv,
                                            done.stdout, done.stderr)
    return done.stdout


def _starters_from_git():
    """The committed starters: what git checkout would put back."""
    # Run in ROOT, git names paths from ROOT, wherever the repository's top.
    listing = _git("ls-tree", "-r", "HEAD", "--", "lessons")
    wanted = []  # (blob, lesson, file name), in the order they are asked for
    for line in listing.decode().splitlines():
        meta, path = line.split("\t", 1)
        parts = Path(path).parts
        # lessons/ID/NAME.c: the starters, not the error variants below.
        if len(parts) == 3 and parts[2].endswith(".c"):
            wanted.append((meta.split()[2], parts[1], parts[2]))
    found = {}
    if wanted:
        blobs = _git("cat-file", "--batch",
                     stdin="".join(f"{b}\n" for b, _, _ in wanted).encode())
        at = 0
        for _, lesson_id, name in wanted:
            header_end = blobs.index(b"\n", at)
            size = int(blobs[at:header_end].split()[2])
            content = blobs[header_end + 1:header_end + 1 + size]
            found.setdefault(lesson_id, {})[name] = content
            at = header_end + 1 + size + 1
    if not found:
        raise ValueError("no starter code is committed")
    return found


def starters():
    """The pristine starter code: ({lesson: {file: bytes}}, where from).

    Returns (None, why) when there is no way to know it.
    """
    if STARTERS_COPY.is_dir():
        found = {d.name: {p.name: p.read_bytes() for p in sorted(d.glob("*.c"))}
                 for d in sorted(STARTERS_COPY.iterdir()) if d.is_dir()}
        return found, shown(STARTERS_COPY)
    try:
        return _starters_from_git(), "git (the committed version, HEAD)"
    except (OSError, subprocess.SubprocessError, ValueError):
        return None, ("this copy of the lab has neither a git history nor "
                      f"the pristine copy {shown(STARTERS_COPY)} that a "
                      "hand-out carries")


def not_files(lesson_id):
    """{source file: what it is instead} of the lesson's program sources
    that are there but are no file (a directory...): nothing to compile,
    nothing to reset."""
    found = {}
    for name in program_files(lesson_id):
        kind = not_a_file(LESSONS_DIR / lesson_id / name)
        if kind:
            found[name] = kind
    return found


def source_times(lesson_id):
    """{file name: modification time in ns} of the C sources in the
    lesson's folder, the learner's own too; not an editor's hidden file
    (Emacs's lock .#server.c, a link to nowhere), nor one gone between the
    listing and the look (an editor's save)."""
    times = {}
    for path in (LESSONS_DIR / lesson_id).glob("*.c"):
        with contextlib.suppress(OSError):
            if not path.name.startswith("."):
                times[path.name] = path.stat().st_mtime_ns
    return times


def missing(lesson_id):
    """The lesson's program sources that are not there at all (deleted, or
    their whole folder): make reset puts them back."""
    return [name for name in program_files(lesson_id)
            if not os.path.lexists(LESSONS_DIR / lesson_id / name)]


def not_started(lesson_id, pristine):
    if pristine is None or lesson_id not in pristine:
        return False
    own = program_files(lesson_id)
    return sources(lesson_id) == {name: text for name, text in
                                  pristine[lesson_id].items() if name in own}


def first_todo(lesson_id):
    """(file, line, first sentence) of the lesson's first TODO, or None."""
    tag = f"TODO({lesson_id}):"
    for path in sorted((LESSONS_DIR / lesson_id / name
                        for name in sources(lesson_id)),
                       key=lambda p: p.name != "server.c"):
        lines = path.read_text(errors="replace").splitlines()
        for at, line in enumerate(lines):
            if tag in line:
                text = line.split(tag, 1)[1]
                for more in lines[at + 1:]:
                    if "*/" in text:
                        break
                    text += " " + more.strip().lstrip("*").strip()
                text = " ".join(text.split("*/")[0].split())
                sentence = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
                sentence = sentence.rstrip(".")
                return path.name, at + 1, sentence
    return None


def compiles(lesson_id):
    """Whether make built every program of the lesson (see the Makefile)."""
    return not not_compiling(lesson_id)


def not_compiling(lesson_id):
    """{source file: the compiler's first messages} of the lesson's
    programs that make could not build."""
    found = {}
    for name in sources(lesson_id):
        program = BUILD / "lessons" / lesson_id / Path(name).stem
        if not program.exists():
            found[name] = compiler_messages(program) or \
                "    (the compiler left no message: make lesson N=" \
                f"{number(lesson_id)} builds it again)"
    return found


# -- running the lesson checks ------------------------------------------------

CASCADE_SKIP = "an earlier check of this lesson failed"


class CheckRun:
    """A pytest plugin: runs the checks of some lessons, records the rest.

    Every lesson's checks are collected, so that their names are known; only
    those of run_lessons run.
    """

    def __init__(self, run_lessons):
        self.run_lessons = set(run_lessons)
        self.checks = {}  # lesson -> {check name: {"outcome", "message"}}
        self.where = {}   # pytest node id -> (lesson, check name)
        self.stopped = None  # what stopped the run before its end, if any

    def pytest_keyboard_interrupt(self, excinfo):
        # Ctrl-C, or a signal the checks take as one (SIGTERM: its name)
        self.stopped = str(excinfo.value) or "Ctrl-C"

    def pytest_collection_modifyitems(self, config, items):
        keep, drop = [], []
        for item in items:
            lesson = getattr(item.module, "LESSON", None)
            self.where[item.nodeid] = (lesson, item.name)
            self.checks.setdefault(lesson, {})[item.name] = {
                "outcome": "not run", "message": ""}
            (keep if lesson in self.run_lessons else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_runtest_logreport(self, report):
        lesson, name = self.where[report.nodeid]
        check = self.checks[lesson][name]
        if report.failed:
            check["outcome"] = "failed"
            check["message"] = readable_message(str(report.longrepr))
        elif report.skipped:
            check["outcome"] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) \
                else str(report.longrepr)
            check["message"] = reason.removeprefix("Skipped: ")
        elif report.when == "call" and check["outcome"] == "not run":
            check["outcome"] = "passed"


def run_checks(run_lessons, every_check=False):
    """Runs the checks of run_lessons on the learner's code, quietly."""
    os.environ["LAB_CODE"] = "lessons"
    if every_check:
        os.environ["LAB_EVERY_CHECK"] = "1"
    import pytest  # only progress and grade need it
    plugin = CheckRun(run_lessons)
    files = sorted(str(p) for n in map(number, lesson_ids())
                   for p in TESTS_DIR.glob(f"test_{n}_*.py"))
    status = pytest.main(["-p", "no:cacheprovider", "-p", "no:terminal",
                          "-p", "no:xdist", "-p", "no:xdist.looponfail",
                          "--rootdir", str(ROOT), *files], plugins=[plugin])
    # A run stopped in the middle has results for some checks only: never
    # taken for a verdict (whatever status the checks' own ending gave).
    # Ctrl-C goes on as Ctrl-C (run_tool); a signal that stops a grader
    # (SIGTERM, SIGHUP) as Stopped, its failure (grading).
    if plugin.stopped or status == pytest.ExitCode.INTERRUPTED:
        stopped = plugin.stopped or "Ctrl-C"
        raise (KeyboardInterrupt if stopped == "Ctrl-C" else Stopped)(
            f"stopped by {stopped} before the checks were done")
    if status not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED,
                      pytest.ExitCode.NO_TESTS_COLLECTED):
        raise SystemExit(f"the lesson checks could not run (pytest exit "
                         f"status {int(status)}): run make check to see why")
    return plugin.checks


MESSAGE_LIMIT = 8000  # characters of one check's report, in the grade


def readable_message(text, limit=MESSAGE_LIMIT):
    """A check's report as a terminal and the grade JSON may hold it:
    control characters other than newlines and tabs escaped (\\xNN), and
    cut to limit characters, saying how much was left out.  The lab's own
    reports are short already; this bounds whatever else a check says."""
    text = "".join(ch if ch in "\n\t" or (" " <= ch and ch != "\x7f")
                   else f"\\x{ord(ch):02x}" for ch in text)
    if len(text) > limit:
        text = f"{text[:limit]}\n... ({len(text) - limit} more characters " \
               "of this report left out)"
    return text


def expected(message):
    """The one-line 'Expected: ...' of a failed check's report."""
    for line in message.splitlines():
        if line.startswith("Expected: "):
            return line[len("Expected: "):]
    lines = [line for line in message.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no message)"


@functools.lru_cache(maxsize=None)
def c_identifiers():
    """{lower case: spelling} of the identifiers with an underscore that the
    lesson READMEs show as code (sun_path, AF_UNIX, SO_RCVTIMEO...)."""
    found = {}
    for readme in sorted(LESSONS_DIR.glob("[0-9][0-9]-*/README.md")):
        try:  # an edited README, saved in another encoding, still reads
            text = readme.read_bytes().decode(errors="replace")
        except OSError:
            continue
        code = re.findall(r"^```.*?^```", text, re.M | re.S) + \
            re.findall(r"`([^`\n]+)`", text)
        for piece in code:
            for word in re.findall(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+"
                                   r"\b", piece):
                found.setdefault(word.lower(), word)
    return found


def readable(check_name):
    """A check's name in words: test_a_path_too_long_for_sun_path_is_refused
    is "a path too long for sun_path is refused": a C identifier keeps its
    underscores (and its capitals)."""
    words = check_name.removeprefix("test_").split("_")
    known, said, at = c_identifiers(), [], 0
    while at < len(words):
        for length in range(min(4, len(words) - at), 1, -1):
            joined = "_".join(words[at:at + length])
            if joined in known:
                said.append(known[joined])
                at += length
                break
        else:
            said.append(words[at])
            at += 1
    return " ".join(said)


def env_skipped(check):
    return check["outcome"] == "skipped" and \
        not check["message"].startswith(CASCADE_SKIP)


def fingerprint(lesson_id):
    """Changes whenever the lesson's code or its checks change."""
    digest = hashlib.sha256()
    for name, content in sources(lesson_id).items():
        digest.update(name.encode() + b"\0" + content)
    inputs = [*TESTS_DIR.glob(f"test_{number(lesson_id)}_*.py"),
              TESTS_DIR / "conftest.py", *sorted((ROOT / "tools").glob("*.py")),
              *sorted((ROOT / "trace").rglob("*"))]
    for path in inputs:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# -- what a command writes ----------------------------------------------------

def output_refused(path, ours, what):
    """Why a command may not write its output (a hand-out, a zip, a grade's
    JSON) at path, or None.  It may make a new file in a directory that
    exists, or replace a regular file that ours(path) recognises as an
    earlier output of the same kind (what, in words); anything else that is
    there (another file, a directory, a device, a FIFO, a symbolic link)
    is left alone, and a missing directory is not made."""
    if not str(path):
        return "the file name is empty: name the file to write"
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        parent = path.parent
        if not parent.is_dir():
            return f"the directory {parent} does not exist: make it first, " \
                "or name a file in a directory that exists"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"you may not write in the directory {parent}"
        return None
    except NotADirectoryError:
        return f"{path}: a part of that path is a file, not a directory"
    except OSError as e:
        return f"{path}: {e.strerror}"
    kind = "a symbolic link" if stat.S_ISLNK(mode) else \
        "a directory" if stat.S_ISDIR(mode) else \
        None if stat.S_ISREG(mode) else \
        "not a regular file (a device, a FIFO or a socket)"
    if kind is None and ours(path):
        return None
    said = f"is {kind}" if kind else f"exists and is not {what}"
    return f"{path} {said}: it is left as it is. Name a new file instead " \
        f"(only {what} is replaced)"


def refuse_output(command, path, ours, what):
    """Ends the command, with status 2 and one line, when output_refused
    says that path may not be written."""
    why = output_refused(path, ours, what)
    if why:
        print(f"{command}: nothing written: {why}.", file=sys.stderr)
        raise SystemExit(USAGE)


@contextlib.contextmanager
def replacing(path):
    """A binary file to write that takes path's place once it is complete:
    a temporary file beside it, renamed over it at the end, and removed if
    anything goes wrong.  A new file gets the usual mode (umask)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(f.fileno(), 0o666 & ~umask)
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_state(name, remembered):
    """What a command remembered in build/classroom/NAME: {key: entry},
    the entries that remembered(entry) finds in the shape it writes.  A
    file that is missing or not JSON, and an entry of another shape (an
    older lab's, or edited by hand), count as nothing remembered."""
    try:
        state = json.loads((STATE_DIR / name).read_text())
    except (OSError, ValueError):
        return {}
    return {key: entry for key, entry in state.items() if remembered(entry)} \
        if isinstance(state, dict) else {}


def _progress_entry(entry):
    return isinstance(entry, dict) and isinstance(entry.get("key"), str) \
        and isinstance(entry.get("checks"), dict) and all(
            isinstance(c, dict) and isinstance(c.get("outcome"), str) and
            isinstance(c.get("message"), str)
            for c in entry["checks"].values())


def _hint_entry(entry):
    return isinstance(entry, dict) and type(entry.get("given")) is int \
        and entry["given"] >= 0 and isinstance(entry.get("mistakes"), list) \
        and all(isinstance(m, list) for m in entry["mistakes"])


def save_state(name, state):
    """Remembers state in build/classroom/NAME, replaced whole (two runs
    at once each write a file of their own, renamed into place); returns
    None, or why it could not, in words (build/ not writable...)."""
    try:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        with replacing(STATE_DIR / name) as f:
            f.write(json.dumps(state, indent=1).encode())
    except OSError as e:
        return f"{shown(STATE_DIR / name)}: {e.strerror}"
    return None


def remember_once_shown(name, state):
    """save_state, once what the command printed has reached its standard
    output: a hint that could not be written (output closed, a full disk,
    a reader gone) is not remembered as given (run_tool says why)."""
    sys.stdout.flush()
    return save_state(name, state)


# -- make progress ------------------------------------------------------------

def bar(fraction, width=30):
    done = round(fraction * width)
    return "[" + "#" * done + "." * (width - done) + "]"


def progress():
    pristine, _ = starters()
    ids = lesson_ids()
    cache = load_state("progress.json", _progress_entry)
    state, to_run = {}, []
    for lesson_id in ids:
        if not_files(lesson_id):
            state[lesson_id] = "not a file"
        elif missing(lesson_id):
            state[lesson_id] = "missing"
        elif not_started(lesson_id, pristine):
            state[lesson_id] = "not started"
        elif not compiles(lesson_id):
            state[lesson_id] = "does not compile"
        elif cache.get(lesson_id, {}).get("key") != fingerprint(lesson_id):
            to_run.append(lesson_id)
    checks = run_checks(to_run)
    for lesson_id in ids:
        if lesson_id in to_run:
            cache[lesson_id] = {"key": fingerprint(lesson_id),
                                "checks": checks.get(lesson_id, {})}
        if lesson_id not in state:
            checks[lesson_id] = cache[lesson_id]["checks"]
            failed = [c for c in checks[lesson_id].values()
                      if c["outcome"] == "failed"]
            state[lesson_id] = "in progress" if failed else "done"
    unsaved = save_state("progress.json", cache)
    if unsaved:
        print(f"progress: the checks' results are not remembered ({unsaved})"
              ": the next make progress runs them all again. Make build/ "
              "writable (or make clean) to have them remembered.",
              file=sys.stderr)

    rows, next_step, total = [], None, 0.0
    for lesson_id in ids:
        found = checks.get(lesson_id, {})
        counted = [c for c in found.values() if not env_skipped(c)]
        passed = sum(c["outcome"] == "passed" for c in counted)
        detail = ""
        if state[lesson_id] in ("done", "in progress") and counted:
            total += passed / len(counted)
            detail = f"{passed} of {len(counted)} checks pass"
        rows.append(f"  {lesson_id:<20} {state[lesson_id]:<17} {detail}")
        if next_step is None and state[lesson_id] != "done":
            next_step = next_sentence(lesson_id, state[lesson_id], found)
    done = sum(s == "done" for s in state.values())
    print(f"{BOLD}Your progress {bar(total / len(ids))} {done} of {len(ids)} "
          f"lessons done{RESET}")
    print("\n".join(rows))
    print()
    for lesson_id in ids:
        for name in missing(lesson_id) if state[lesson_id] == "missing" \
                else []:
            print(f"{lesson_id}: lessons/{lesson_id}/{name} is not there: "
                  f"make reset N={number(lesson_id)} puts back the starter "
                  "code.\n")
        for name, kind in not_files(lesson_id).items():
            print(f"{lesson_id}: lessons/{lesson_id}/{name} is not a file: "
                  f"it is {kind}. Your code of the lesson goes in a file of "
                  "that name.\n")
        if state[lesson_id] == "does not compile":
            for name, said in not_compiling(lesson_id).items():
                print(f"{lesson_id} does not compile: the compiler's first "
                      f"messages about lessons/{lesson_id}/{name}:\n{said}\n")
    print(next_step or f"{BOLD}All {len(ids)} lessons are done.{RESET} "
          "make grade shows the score; make quiz N=01 (to "
          f"{number(ids[-1])}) asks the predict-before-you-run questions.")
    return 0


def next_sentence(lesson_id, state, checks):
    n = number(lesson_id)
    head = f"{BOLD}Next: lesson {lesson_id}{RESET}"
    if state == "not started":
        todo = first_todo(lesson_id)
        where = f"the TODO at lessons/{lesson_id}/{todo[0]}:{todo[1]}: " \
            f"{todo[2][0].lower()}{todo[2][1:]}" if todo else "its TODOs"
        return f"{head}: read lessons/{lesson_id}/README.md, then do {where}" \
            f" (make lesson N={n} runs it)."
    if state == "does not compile":
        return f"{head} does not compile: make lesson N={n} shows the " \
            "compiler's messages."
    if state == "missing":
        return f"{head}: " + " and ".join(
            f"lessons/{lesson_id}/{name}" for name in missing(lesson_id)) + \
            f" is not there: make reset N={n} puts back the starter code."
    if state == "not a file":
        return f"{head}: put your code of the lesson back in " + \
            " and ".join(f"lessons/{lesson_id}/{name}"
                         for name in not_files(lesson_id)) + ", as a file."
    failed = next(name for name, c in checks.items()
                  if c["outcome"] == "failed")
    return f"{head}, check \"{readable(failed)}\": expected " \
        f"{expected(checks[failed]['message'])} (make check N={n} shows the" \
        f" trace; make hint N={n} gives a hint)."


# -- make grade ---------------------------------------------------------------

def shares(points, count):
    """points split in count shares of whole hundredths that add up to
    points exactly: the hundredths left over go one each to the first
    shares, so no two shares differ by more than 0.01."""
    if not count:
        return []
    each, left = divmod(round(points * 100), count)
    return [(each + (i < left)) / 100 for i in range(count)]


# The grading tool's exit statuses (tools/grade, lessons/TEACHING.md).
COMPLETE, INCOMPLETE, NOTHING_TO_GRADE, GRADER_ERROR = 0, 1, 3, 4
USAGE = 2  # the command line is wrong: nothing was graded
STATUS_WORDS = {COMPLETE: "complete", INCOMPLETE: "incomplete",
                NOTHING_TO_GRADE: "nothing to grade",
                GRADER_ERROR: "grader error"}
NOT_BUILT = re.compile(r"\S+\.c does not compile\. The compiler's first "
                       r"messages")


class GraderError(Exception):
    """The grader could not grade: no fault of the learner's work."""


def grade(json_file=None):
    if json_file is not None:
        refuse_grade_json(json_file)
    pristine, _ = starters()
    listed = lessons()
    started = [lesson["id"] for lesson in listed
               if not not_started(lesson["id"], pristine)]
    try:
        checks = run_checks(started, every_check=True)
    except SystemExit as e:
        raise GraderError(str(e)) from None
    results, score_cents, out_of = [], 0, 0.0
    for lesson in listed:
        lesson_id, points = lesson["id"], float(lesson.get("points", 0))
        found = checks.get(lesson_id, {})
        if not found:
            raise GraderError(f"no check of {lesson_id} was found in tests/")
        broken = not_compiling(lesson_id) if lesson_id in started else {}
        # A check that cannot run here (a missing tool) gives its share to
        # the others, so that every lesson is worth what lessons.json says.
        counted = [name for name, c in found.items() if not env_skipped(c)]
        worth = dict(zip(counted, shares(points, len(counted))))
        parts, got_cents = [], 0
        for name, check in found.items():
            if lesson_id not in started:
                check = {"outcome": "not started", "message":
                         "not started: the code is the starter, unchanged"}
            elif check["outcome"] == "failed" and \
                    NOT_BUILT.search(check["message"]):
                check = dict(check, outcome="does not compile")
            part_max = worth.get(name, 0.0)
            earned = part_max if check["outcome"] == "passed" else 0.0
            got_cents += round(earned * 100)
            parts.append({"name": name, "outcome": check["outcome"],
                          "points": earned, "max_points": part_max,
                          "message": check["message"]})
        state = "not started" if lesson_id not in started else \
            "does not compile" if broken else \
            "done" if all(p["outcome"] == "passed" or env_skipped(p)
                          for p in parts) else "in progress"
        results.append({"lesson": lesson_id,
                        "part": manifest.part_of(lesson), "state": state,
                        "points": got_cents / 100, "max_points": points,
                        "compiler": broken, "parts": parts})
        score_cents += got_cents
        out_of += points
    score = score_cents / 100
    status = COMPLETE if score == out_of else INCOMPLETE
    print_grade(results, score, out_of)
    if json_file:
        write_grade_json(json_file, grade_document(results, score, out_of,
                                                   status))
    return status


def part_scores(results):
    """Each part of the lab scored apart: [{"part", "title", "score",
    "max_score", "lessons"}], a part out of the points of its lessons."""
    scored = []
    for part in manifest.parts():
        mine = [r for r in results if r["lesson"] in part["lessons"]]
        scored.append({"part": part["part"], "title": part["title"],
                       "score": sum(round(r["points"] * 100)
                                    for r in mine) / 100,
                       "max_score": float(part["points"]),
                       "lessons": part["lessons"]})
    return scored


def fmt(x):
    return f"{x:.2f}".rstrip("0").rstrip(".")


def print_grade(results, score, out_of):
    width = max(len(readable(p["name"])) for r in results for p in r["parts"])
    print(f"{BOLD}{'Lesson / check':<{width + 4}} {'points':>13}{RESET}")
    scored = part_scores(results)
    for part in scored:
        print(f"{BOLD}Part {part['part']}: {part['title']}{RESET}")
        print_lessons([r for r in results if r["lesson"] in part["lessons"]],
                      width)
        print(f"{BOLD}{'Part ' + str(part['part']) + ' total':<{width + 4}} "
              f"{fmt(part['score']):>6} / {fmt(part['max_score']):<6}"
              f"{RESET}\n")
    percent = 100 * score / out_of if out_of else 0
    print(f"{BOLD}{'Total':<{width + 4}} {fmt(score):>6} / {fmt(out_of):<6}"
          f" ({percent:.0f}%){RESET}")
    if len(scored) > 1:
        print("    " + ", ".join(f"part {p['part']}: {fmt(p['score'])} of "
                                 f"{fmt(p['max_score'])}" for p in scored))
    for r in results:
        for name, said in r["compiler"].items():
            print(f"\n{r['lesson']} does not compile: the compiler's first "
                  f"messages about lessons/{r['lesson']}/{name}:\n{said}")
    if score < out_of:
        print(f"\nIncomplete: {fmt(score)} of {fmt(out_of)} points. make "
              "check N=.. shows why a check fails.")
    else:
        print(f"\nComplete: {fmt(score)} of {fmt(out_of)} points.")


def print_lessons(results, width):
    for r in results:
        state = r["state"] if r["state"] in ("not started",
                                             "does not compile") else ""
        if r["compiler"]:
            state += f" ({', '.join(r['compiler'])})"
        print(f"{BOLD}{r['lesson']:<{width + 4}} "
              f"{fmt(r['points']):>6} / {fmt(r['max_points']):<6}{RESET}"
              f"{'  ' + state if state else ''}")
        for p in r["parts"]:
            mark = {"passed": "ok", "failed": "FAILED"}.get(p["outcome"],
                                                          p["outcome"])
            note = f"  {DIM}{mark}: {p['message']}{RESET}" \
                if p["outcome"] == "skipped" else f"  {mark}"
            print(f"    {readable(p['name']):<{width}} "
                  f"{fmt(p['points']):>6} / {fmt(p['max_points']):<6}{note}")


def autograder_entry(lesson_id, part):
    """One check for an autograder.  Its status is passed or failed, the
    words autograders know; a check that could not run here, worth no
    points, has none.  outcome is the lab's own word ("not started")."""
    entry = {"name": f"{lesson_id}: {readable(part['name'])}",
             "score": part["points"], "max_score": part["max_points"]}
    if part["outcome"] == "passed":
        entry["status"] = "passed"
    elif not env_skipped(part):
        entry["status"] = "failed"
    entry.update(outcome=part["outcome"], output=part["message"])
    return entry


def grade_document(results, score, out_of, status, message=None):
    """The results for an autograder: score, max_score and one entry per
    check ("tests"), in the layout common autograders read, the lessons
    with their parts, and the grading tool's status in words."""
    document = {"status": STATUS_WORDS[status], "score": score,
                "max_score": out_of,
                "lab_parts": part_scores(results),
                "tests": [autograder_entry(r["lesson"], p)
                          for r in results for p in r["parts"]],
                "lessons": results}
    if message:
        document["message"] = message
    return document


GRADE_JSON_LIMIT = 64 << 20  # bytes: more is no grade's results


def is_grade_json(path):
    """Whether path holds a grade's results, as write_grade_json writes
    them."""
    try:
        if os.stat(path).st_size > GRADE_JSON_LIMIT:
            return False
        document = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and \
        document.get("status") in STATUS_WORDS.values() and \
        {"score", "max_score", "tests"} <= set(document)


def refuse_grade_json(path):
    """Ends the command (status 2) before any grading when the results may
    not be written to path (output_refused)."""
    refuse_output("grade", path, is_grade_json,
                  "a grade's results (JSON)")


def write_grade_json(path, document):
    with replacing(path) as f:
        f.write((json.dumps(document, indent=2) + "\n").encode())
    print(f"grade: the results are in {path}")


# -- make reset ---------------------------------------------------------------

def reset(lesson_id):
    pristine, origin = starters()
    if pristine is None or lesson_id not in pristine:
        print(f"reset: cannot find the starter code of {lesson_id}: {origin}.",
              file=sys.stderr)
        return 1
    folder = LESSONS_DIR / lesson_id
    if os.path.lexists(folder) and not folder.is_dir():
        print(f"reset: nothing was changed: lessons/{lesson_id} is not a "
              "directory. Move it away, then make reset "
              f"N={number(lesson_id)} again.", file=sys.stderr)
        return 1
    odd = not_files(lesson_id)
    in_the_way = [f"lessons/{lesson_id}/{name} is "
                  f"{odd.get(name, 'a symbolic link')}, not a file"
                  for name in pristine[lesson_id]
                  if name in odd or (folder / name).is_symlink()]
    if os.path.lexists(folder / BACKUP_DIR) and (
            (folder / BACKUP_DIR).is_symlink() or
            not (folder / BACKUP_DIR).is_dir()):
        in_the_way.append(f"lessons/{lesson_id}/{BACKUP_DIR}, where reset "
                          "keeps your version, is not a directory")
    if in_the_way:
        print(f"reset: nothing was changed: {'; '.join(in_the_way)}. Move it "
              f"away, then make reset N={number(lesson_id)} again.",
              file=sys.stderr)
        return 1
    # Every file reset puts back is kept first, the lesson's programs and
    # the files it gives beside them alike (lesson 10's server.c).
    theirs = pristine[lesson_id]
    locked = [f"lessons/{lesson_id}/{name}" for name in theirs
              if (folder / name).is_file() and
              not os.access(folder / name, os.R_OK | os.W_OK)]
    if not locked:
        mine = {name: read_source(folder / name) for name in theirs
                if (folder / name).is_file()}
        changed = sorted(name for name in theirs
                         if mine.get(name) != theirs[name])
        places = [folder, folder / BACKUP_DIR] if changed else []
        locked = [shown(place) + "/" for place in places if place.is_dir()
                  and not os.access(place, os.W_OK | os.X_OK)]
    if locked:
        print(f"reset: nothing was changed: you may not read and write "
              f"{' and '.join(locked)}. Make it yours to write (chmod u+rw), "
              f"then make reset N={number(lesson_id)} again.",
              file=sys.stderr)
        return 1
    if not changed:
        print(f"reset: lessons/{lesson_id}/ already holds the starter code; "
              "nothing to do.")
        return 0
    kept, backup = [name for name in changed if name in mine], None
    try:
        folder.mkdir(parents=True, exist_ok=True)  # a folder removed whole
        if kept:
            backup = new_backup(folder / BACKUP_DIR)
            for name in kept:
                shutil.copy2(folder / name, backup / name)
        for name in changed:
            (folder / name).write_bytes(theirs[name])
    except OSError as e:
        where = f" Your version is kept in {shown(backup)}/." if backup else ""
        print(f"reset: stopped: {shown(e.filename or folder)}: {e.strerror}."
              f"{where} Put that right, then make reset "
              f"N={number(lesson_id)} again.", file=sys.stderr)
        return 1
    print(f"reset: lessons/{lesson_id}/ has its starter code again "
          f"({', '.join(changed)}; from {origin}).")
    if kept:
        print(f"reset: your version is kept in {shown(backup)}/ "
              f"({', '.join(kept)}): copy back from it what you need.")
    return 0


def new_backup(backups):
    """A new folder in backups, named after the time: two resets in the
    same second (or at once) each get their own."""
    backups.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y-%m-%d_%H-%M-%S")
    while True:
        try:
            (backups / name).mkdir()
            return backups / name
        except FileExistsError:
            name += "+"


# -- make hint ----------------------------------------------------------------

# The largest trace of a last run that make hint reads, in bytes: some
# hundred thousand events.  A run that loops (a read after end of file,
# again and again) may write gigabytes, which would take minutes and more
# memory than the machine has.
TRACE_LIMIT = 32 << 20


def last_run(lesson_id):
    """The trace of the last make lesson N=.., and whether it is stale.
    A trace longer than TRACE_LIMIT is not read, and said so."""
    import timeline  # the one reader of trace files
    path = BUILD / "run" / "lessons" / lesson_id / "trace.jsonl"
    try:
        with open(path, "rb") as f:
            data = f.read(TRACE_LIMIT + 1)
            when = os.fstat(f.fileno()).st_mtime_ns
    except OSError:
        return None, False, None
    if len(data) > TRACE_LIMIT:
        print(f"{DIM}The trace of your last make lesson N={number(lesson_id)}"
              f" ({shown(path)}) is longer than make hint reads "
              f"({TRACE_LIMIT >> 20} MiB): a loop that never ends? The hints "
              f"of the lesson follow, without that run.{RESET}")
        return None, False, None
    events = timeline.trace_events(data, shown(path), "hint")
    edited = max(source_times(lesson_id).values(), default=0)
    return events, when < edited, hashlib.sha256(data).hexdigest()


def hint(lesson_id, again=False):
    data = manifest.hints()
    ladder = data["lessons"].get(lesson_id, {}).get("hints")
    if not ladder:  # a lesson added to lessons.json, its hints not yet
        print(f"hint: lessons/hints.json has no hints for {lesson_id} yet: "
              f"make check N={number(lesson_id)} says what is still "
              "missing.", file=sys.stderr)
        return 1
    memory = load_state("hints.json", _hint_entry)
    mine = memory.setdefault(lesson_id, {"given": 0, "mistakes": []})
    if again:
        mine.update(given=0, mistakes=[])
    n = number(lesson_id)
    events, stale, trace_id = last_run(lesson_id)
    if events is not None and stale:
        print(f"{DIM}Your last make lesson N={n} ran before your last edit: "
              "run it again, and the hints can see what your code does "
              f"now.{RESET}")
    elif events is not None:
        for mistake in data["mistakes"]:
            if lesson_id not in mistake.get("lessons", [lesson_id]):
                continue
            seen_before = [mistake["name"], trace_id] in mine["mistakes"]
            if not seen_before and manifest.mistake_in(mistake, events):
                print(f"{BOLD}Your last run (make lesson N={n}) shows "
                      f"this:{RESET}")
                print(wrap(mistake["say"]))
                print(f"{DIM}(make hint N={n} again: the next hint of the "
                      f"lesson){RESET}")
                mine["mistakes"].append([mistake["name"], trace_id])
                return not_remembered(
                    n, remember_once_shown("hints.json", memory))
    if mine["given"] >= len(ladder):
        print(f"That was the last of the {len(ladder)} hints of {lesson_id}. "
              f"make hint N={n} AGAIN=1 starts them over; make check N={n} "
              "says what is still missing.")
        return 0
    mine["given"] += 1
    print(f"{BOLD}Hint {mine['given']} of {len(ladder)} for "
          f"{lesson_id}:{RESET}")
    print(wrap(ladder[mine["given"] - 1]))
    if mine["given"] < len(ladder):
        print(f"{DIM}(make hint N={n} again for the next, more precise "
              f"one){RESET}")
    return not_remembered(n, remember_once_shown("hints.json", memory))


def not_remembered(n, why):
    """make hint's status once its hint is shown: 0, or 1 when it could
    not be remembered as given (why), which it says."""
    if not why:
        return 0
    print(f"hint: this hint is not remembered as given ({why}): make hint "
          f"N={n} gives it again. Make build/ writable (or make clean) to "
          "have hints counted.", file=sys.stderr)
    return 1


def wrap(text, indent="    "):
    import textwrap
    return "\n".join(textwrap.fill(part, 76, initial_indent=indent,
                                   subsequent_indent=indent,
                                   break_on_hyphens=False)
                     for part in text.split("\n"))


# -- make watch ---------------------------------------------------------------

def run_in_own_group(argv):
    """Runs argv in a process group of its own, passing its output on as it
    comes, through a pseudo-terminal (so it writes as to a terminal, colours
    included when ours has them), and returns its exit status.

    Ctrl-C reaches only the terminal's own process group, so the run does
    not see it: this process gets KeyboardInterrupt, stops the run (SIGINT,
    as Ctrl-C would: its checks clean up), drops the run's last words (a
    pytest summary of the interruption, make's "Interrupt") and lets the
    KeyboardInterrupt go on.
    """
    import fcntl
    import pty
    import signal
    import termios
    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # "\n" as it is, not "\r\n"
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    try:
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, bytes(8))
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # not a terminal: the default size
    env = dict(os.environ)
    if not tracetext.colour_on(sys.stdout):
        env["NO_COLOR"] = "1"
    sys.stdout.flush()
    # A Ctrl-C that comes while the run starts is taken once it has
    # started, so that it is stopped too, never left running on its own.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    def in_own_group():
        os.setpgrp()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=slave, env=env,
                                preexec_fn=in_own_group)
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    finally:
        os.close(slave)

    def output():
        try:
            return os.read(master, 65536)
        except OSError:  # EIO: the run and its children have all gone
            return b""
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        while data := output():
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return proc.wait()
    except KeyboardInterrupt:
        try:
            os.killpg(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and output():
            pass
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # make may end before the checks it ran (pytest writing its cache):
        # the run is over once no process of its group is left.
        if not group_gone(proc.pid, deadline - time.monotonic()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        raise
    finally:
        os.close(master)


def watch(lesson_id, make_argv):
    """Runs make check N=.. now and after every change of the lesson's code.

    Ctrl-C stops it quietly, even in the middle of a check: the check runs
    in a process group of its own (run_in_own_group)."""
    check = [*make_argv, "--no-print-directory", "check",
             f"N={number(lesson_id)}"]
    print(f"watch: checking lessons/{lesson_id}/ after every change; Ctrl-C "
          "stops.", flush=True)
    try:
        seen, why = source_times(lesson_id), "first check"
        while True:
            print(f"\n{BOLD}== {time.strftime('%H:%M:%S')} {why}: make check "
                  f"N={number(lesson_id)}{RESET}", flush=True)
            run_in_own_group(check)
            print(f"{DIM}watch: waiting for a change in lessons/{lesson_id}/ "
                  f"(Ctrl-C stops){RESET}", flush=True)
            while source_times(lesson_id) == seen:
                time.sleep(0.3)
            time.sleep(0.2)  # an editor may write a file in several steps
            now = source_times(lesson_id)
            changed = sorted(name for name in now.keys() | seen.keys()
                             if now.get(name) != seen.get(name))
            why, seen = f"{', '.join(changed) or 'a file'} changed", now
    except KeyboardInterrupt:
        print("\nwatch: stopped.", flush=True)
        let_make_take_its_ctrl_c()
        return 0


def let_make_take_its_ctrl_c(timeout=5.0):
    """Ctrl-C reaches make too: the terminal sends SIGINT to its whole
    process group.  Had this process ended before make's own handler ran,
    make could reap it first, and its handler then wait for it again and
    stop with "make: *** wait: No child processes" (GNU make 4.3).  So it
    ends only once its parent has taken the signal: no SIGINT pending any
    more (/proc/PID/status on Linux), or after timeout seconds.  A parent
    that ignores SIGINT never has one pending."""
    import signal
    sigint = 1 << (signal.SIGINT - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = pending_signals(os.getppid())
        if not (pending or 0) & sigint:
            return
        time.sleep(0.005)


# -- make quiz ----------------------------------------------------------------

QUIZ_SECTION = "## Quiz: predict before you run"


def quiz_questions(lesson_id):
    """The questions of the README section: [{text, options, answer, why}].

    In the README, each question is a paragraph starting "**Q1.**", its
    options are "- a) ..." lines (an option that goes on to the next lines
    goes on indented), and its answer is a <details> block whose first
    line is the letter in bold ("**b**"), then the explanation.
    """
    readme = LESSONS_DIR / lesson_id / "README.md"
    # OSError when it cannot be read; a byte that is not UTF-8 (an edit
    # saved in another encoding) is read as U+FFFD
    text = readme.read_bytes().decode(errors="replace")
    if QUIZ_SECTION not in text:
        return []
    section = text.split(QUIZ_SECTION, 1)[1]
    section = re.split(r"^## ", section, flags=re.M)[0]
    questions = []
    for block in re.split(r"^\*\*Q\d+\.\*\*\s*", section, flags=re.M)[1:]:
        body, _, answer = block.partition("<details>")
        options, asked = [], []
        for line in body.strip().splitlines():
            option = re.match(r"- ([a-z])\) (.*)", line)
            if option:
                options.append(list(option.groups()))
            elif options and line[:1].isspace() and line.strip():
                options[-1][1] += " " + line.strip()  # the option goes on
            else:
                asked.append(line.strip())
        options = [tuple(option) for option in options]
        question = " ".join(line for line in asked if line)
        answer = re.sub(r"<summary>.*?</summary>", "", answer,
                        flags=re.S).split("</details>")[0]
        letter = re.search(r"\*\*([a-z])\*\*", answer)
        why = " ".join(answer[letter.end():].split()).lstrip(":.— ") \
            if letter else ""
        questions.append({"text": question, "options": options,
                          "answer": letter.group(1) if letter else None,
                          "why": why})
    return questions


def quiz(lesson_id, answers=None):
    """Asks the quiz; Ctrl-C leaves it quietly (status 0: make says
    nothing more)."""
    if answers is not None:  # as typed: bytes not UTF-8 shown as such
        answers = typed(answers)
    try:
        return ask_quiz(lesson_id, answers)
    except KeyboardInterrupt:
        print(f"\nquiz: stopped. make quiz N={number(lesson_id)} starts it "
              "again.", flush=True)
        let_make_take_its_ctrl_c()
        return 0


def ask_quiz(lesson_id, answers=None):
    try:
        questions = quiz_questions(lesson_id)
    except OSError as e:
        print(f"quiz: lessons/{lesson_id}/README.md, which holds the quiz, "
              f"cannot be read ({e.strerror}): put it back from the hand-out"
              f" (or git checkout -- lessons/{lesson_id}/README.md).",
              file=sys.stderr)
        return 1
    if not questions:
        print(f"quiz: lessons/{lesson_id}/README.md has no section "
              f"\"{QUIZ_SECTION[3:]}\" yet.", file=sys.stderr)
        return 1
    given = answers
    answers = list(answers.replace(",", "").replace(" ", "").lower()) \
        if answers else None
    unknown = [f"Q{i}: {letter} is not one of "
               f"{', '.join(letter for letter, _ in q['options'])}"
               for i, (q, letter) in enumerate(zip(questions, answers or []),
                                               1)
               if letter not in [choice for choice, _ in q["options"]]]
    if unknown:
        count = "" if len(answers) == len(questions) else \
            f", and {len(answers)} answers for {len(questions)} questions"
        print(f"quiz: ANSWERS={given} holds answers that are not the "
              f"choices ({'; '.join(unknown)}){count}: give one of a "
              "question's letters for each question, in order.",
              file=sys.stderr)
        return 2
    if answers is not None and len(answers) != len(questions):
        letters = "letter" if len(answers) == 1 else "letters"
        print(f"quiz: ANSWERS has {len(answers)} {letters} for "
              f"{len(questions)} questions. "
              f"{how_to_answer(lesson_id, len(questions))}", file=sys.stderr)
        return 2
    right = 0
    print(f"{BOLD}{lesson_id}: predict before you run{RESET} "
          f"({len(questions)} questions; answer with a letter)")
    for i, q in enumerate(questions, 1):
        print(f"\n{BOLD}Q{i}.{RESET} " +
              wrap(q["text"].replace("`", "")).lstrip())
        for letter, option in q["options"]:
            print(wrap(f"{letter}) {option.replace('`', '')}",
                       "    ").replace("\n    ", "\n       "))
        letters = [letter for letter, _ in q["options"]]
        if answers is not None:
            given = answers.pop(0)
            print(f"your answer: {given}")
        else:
            given = ""
            while given not in letters:
                if sys.stdin is None:  # started with fd 0 closed (<&-)
                    return no_more_answers(lesson_id, len(questions),
                                           "is closed")
                try:
                    given = input(f"your answer ({'/'.join(letters)}): ")
                except EOFError:
                    print()
                    return no_more_answers(lesson_id, len(questions))
                given = given.strip().lower()[:1]
                if not sys.stdin.isatty():
                    print(given)
        if given == q["answer"]:
            right += 1
            print(wrap(f"right: {q['why']}", ""))
        else:
            print(wrap(f"not quite: the answer is {q['answer']}. {q['why']}",
                       ""))
    variants = re.findall(r"make errors V=([\w-]+)",
                          " ".join(q["text"] for q in questions))
    print(f"\n{BOLD}{right} of {len(questions)} right.{RESET}")
    if variants:
        print("Now see each answer in a trace: " +
              ", ".join(f"make errors V={v}" for v in variants) + ".")
    return 0


def how_to_answer(lesson_id, count):
    n = number(lesson_id)
    return (f"Run make quiz N={n} in a terminal and type one letter per "
            f"question, or give every answer at once: make quiz N={n} "
            f"ANSWERS=LETTERS, one letter per question in order ({count} "
            f"letters, such as ANSWERS={'ab' * (count // 2)}{'a' * (count % 2)}"
            f"; commas are ignored).")


def no_more_answers(lesson_id, count, why="is at its end"):
    """What to say when standard input ends before the quiz does."""
    print(f"quiz: no answer to read: standard input {why}. "
          f"{how_to_answer(lesson_id, count)}", file=sys.stderr)
    return 1


# -- make handout -------------------------------------------------------------

# Not handed out, beside solutions/: the corpus of learner programs, whose
# edits are pieces of the solutions, and the three programs that run it.
HANDOUT_WITHHELD = {"tests/mistakes.json", "tests/mistakes.py",
                    "tests/test_mistakes.py", "tests/stability.py"}
# A hand-out lists its own files, for a hand-out made from a hand-out.
LISTING = ".handout-files"


def _tracked():
    """The files git tracks in the lab, or None outside a checkout."""
    try:
        found = _git("ls-files", "-z", "--", *HANDOUT_PARTS)
    except (OSError, subprocess.SubprocessError):
        return None
    return [os.fsdecode(name) for name in found.split(b"\0") if name]


def handout_files():
    """(path in the hand-out, file on disk): the lab's own files, never an
    editor's swap file or a build's leftovers: what git tracks in a
    checkout, or the listing a hand-out carries.  One that is not there
    as a file has None for its file on disk."""
    names = _tracked()
    if names is None and (ROOT / LISTING).is_file():
        names = [os.fsdecode(name) for name in
                 (ROOT / LISTING).read_bytes().splitlines()]
    if names is None:
        raise SystemExit(f"handout: this copy of the lab is neither a git "
                         f"checkout nor a hand-out (no {LISTING}): which "
                         "files are the lab's own is not known.")
    for name in sorted(set(names)):
        parts = Path(name).parts
        if not parts or parts[0] not in HANDOUT_PARTS or \
                name in HANDOUT_WITHHELD or ".starters" in parts or \
                BACKUP_DIR in parts:
            continue
        yield name, ROOT / name if (ROOT / name).is_file() else None


HANDOUT_NOTE = (
    "> **This copy of the lab is a hand-out: it has no solutions.** "
    "`make demo`, `make test`, `make solution`, `make pictures`, and the "
    "N= forms of `make timeline` and `make strace` run the reference "
    "solutions: they are for the full lab, and here they say so and stop; "
    "the paths under build/solutions/ do not exist. The outputs shown are "
    "theirs, for comparison. Everything you need works: `make lesson`, "
    "`make check`, `make progress`, `make hint`, `make quiz`, "
    "`make errors`, and `make timeline` and `make strace` with `V=` (and "
    "`TRACE=`).")


def with_handout_note(text):
    """A README as a hand-out carries it: the note after its title."""
    import textwrap
    # A command in backquotes stays on one line.
    whole = re.sub(r"`[^`]*`", lambda m: m[0].replace(" ", "\0"),
                   HANDOUT_NOTE[2:])
    note = textwrap.fill(whole, 74, initial_indent="> ",
                         subsequent_indent="> ",
                         break_on_hyphens=False).replace("\0", " ")
    if note.encode() in text:  # a hand-out made from a hand-out
        return text
    title, newline, rest = text.partition(b"\n")
    return title + newline + b"\n" + note.encode() + b"\n" + rest


class FilesMissing(GraderError):
    """The lab's own files are not all there, or not as a copy of it can
    hold them: no copy of it can be made."""


def link_refused(name):
    """Why the lab's file name, a symbolic link, is not handed out, or None.
    A copy of the lab holds files, never links: a link to a regular file
    of the lab is handed out as that file's content; a link to nothing, to
    a directory, or out of the lab (whose files a learner may not have,
    or must not get) is refused."""
    path = ROOT / name
    if not path.is_symlink():
        return None
    said = f"{name} is a symbolic link to {os.readlink(path)}"
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"{said}, which is not there"
    if not real.is_relative_to(ROOT):
        return f"{said}, out of the lab"
    if not real.is_file():
        return f"{said}, which is not a file"
    return None


def handout_contents(pristine):
    """What a hand-out holds: (name, file on disk, content or None).

    A given content replaces the file's: the starters come from pristine,
    whatever lessons/ holds now, and are copied to lessons/.starters/ too;
    the READMEs a learner reads say that the solutions are not there.
    """
    import autograder  # the workflow is made from lessons.json
    files = list(handout_files())
    # A starter deleted from lessons/ still comes from pristine; any other
    # file of the lab that is not there would leave the copy broken.
    starters_named = {f"lessons/{lesson_id}/{name}"
                      for lesson_id, names in pristine.items()
                      for name in names}
    files += [(name, None) for name in sorted(
        starters_named - {name for name, _ in files})]
    odd = [typed(name) for name, _ in files if typed(name) != name]
    if odd:
        raise FilesMissing(
            f"file names that are not UTF-8: {', '.join(odd)} (\ufffd: the "
            "bytes that are not). A copy of the lab lists its files in UTF-8:"
            " give them names in UTF-8 (git mv)")
    links = [why for name, _ in files if name not in starters_named
             for why in [link_refused(name)] if why]
    if links:
        raise FilesMissing(
            f"{'; '.join(links)}. A copy of the lab carries the file a link "
            "leads to, and only a file of the lab: put the file itself in "
            "the link's place, or take the link out of the lab")
    gone = [name for name, path in files
            if path is None and name not in starters_named]
    if gone and _tracked() is not None:
        raise FilesMissing(
            f"files of the lab that git tracks are not there: "
            f"{', '.join(gone)}. Put them back (git checkout -- FILE), or "
            "take them out of the lab for good (git rm FILE)")
    if gone:
        raise FilesMissing(
            f"files of the lab that its {LISTING} lists are not there: "
            f"{', '.join(gone)}. Unpack the hand-out again, and copy them "
            "from it")
    yield LISTING, None, "".join(f"{name}\n" for name, _ in files).encode()
    yield autograder.WORKFLOW, None, autograder.workflow().encode()
    for name, path in files:
        parts = Path(name).parts
        if len(parts) == 3 and parts[0] == "lessons" and \
                parts[2] in pristine.get(parts[1], {}):
            content = pristine[parts[1]][parts[2]]
            yield name, path, content
            yield f"lessons/.starters/{parts[1]}/{parts[2]}", path, content
        elif name == "README.md" or (len(parts) == 3 and
                                     parts[0] == "lessons" and
                                     parts[1] in pristine and
                                     parts[2] == "README.md"):
            yield name, path, with_handout_note(path.read_bytes())
        else:
            yield name, path, None


def starters_to_hand_out(command):
    """The starters a hand-out carries: the pristine ones, or else, with a
    warning, lessons/ as they are."""
    pristine, origin = starters()
    if pristine is None:
        print(f"{command}: {origin}: the starters are taken from lessons/ as "
              "they are now.", file=sys.stderr)
        pristine = {lesson_id: sources(lesson_id) for lesson_id in lesson_ids()}
        origin = "lessons/ as they are"
    return pristine, origin


def is_handout(path):
    """Whether path holds a hand-out of this lab: a tarball whose every file
    is in HANDOUT_TOP/, with its listing (LISTING)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            listed = False
            for member in tar:
                if member.name.split("/")[0] != HANDOUT_TOP:
                    return False
                listed = listed or member.name == f"{HANDOUT_TOP}/{LISTING}"
            return listed
    except Exception:  # noqa: BLE001 - whatever cannot be read is not one
        return False


def handout(tarball):
    refuse_output("handout", tarball, is_handout, "a hand-out of this lab")
    pristine, origin = starters_to_hand_out("handout")
    tarball = Path(tarball)
    replaced, count = [], 0
    try:
        contents = list(handout_contents(pristine))
    except FilesMissing as e:
        print(f"handout: nothing written: {e}.", file=sys.stderr)
        return USAGE
    # A link of the lab goes in as the file it leads to (link_refused).
    with replacing(tarball) as out, \
            tarfile.open(fileobj=out, mode="w:gz", dereference=True) as tar:
        for name, path, content in contents:
            count += 1
            if content is None:
                tar.add(path, f"{HANDOUT_TOP}/{name}", recursive=False)
                continue
            if name.endswith(".c") and \
                    not name.startswith("lessons/.starters/") and \
                    (path is None or path.read_bytes() != content):
                replaced.append((name, "is not there" if path is None
                                 else "differs from its starter"))
            info = tar.gettarinfo(path or ROOT / "Makefile",
                                  f"{HANDOUT_TOP}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    size = tarball.stat().st_size // 1024 + 1
    print(f"handout: wrote {shown(tarball)} ({count} files, {size} KiB): "
          "the lessons with their starter code, the tests, the trace "
          "library, the tools, the pictures and the Makefile; no solutions.")
    for name, how in replaced:
        print(f"handout: {name} {how} ({origin}); the hand-out carries the "
              "starter.")
    print(f"handout: learners run: tar xzf {tarball.name} && cd {HANDOUT_TOP}"
          " && make progress")
    return 0


# -- grading a learner's upload ----------------------------------------------

# Folders an upload may hold beside the lessons, never the lessons' own.
NOT_AN_UPLOAD_FOLDER = {"__MACOSX"}
ONLY_FILES = f"only regular files of at most {SOURCE_LIMIT >> 20} MiB are read"


def kind_in_upload(path):
    """What path is in an upload, never following a symbolic link: "file"
    (a regular file, no larger than SOURCE_LIMIT), "folder", None (nothing
    there), or else in words."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    mode = st.st_mode
    if stat.S_ISREG(mode) and st.st_size > SOURCE_LIMIT:
        return f"a file of {st.st_size:,} bytes, more than a lesson " \
            f"source may be ({SOURCE_LIMIT >> 20} MiB)"
    return "file" if stat.S_ISREG(mode) else \
        "folder" if stat.S_ISDIR(mode) else \
        "a symbolic link" if stat.S_ISLNK(mode) else \
        "a FIFO" if stat.S_ISFIFO(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else \
        "a socket"


def upload_folders(submission):
    """The folders of an upload that may hold its lessons: real folders
    (not symbolic links), neither hidden nor an archiver's own."""
    return [p for p in sorted(submission.iterdir())
            if kind_in_upload(p) == "folder" and not p.name.startswith(".")
            and p.name not in NOT_AN_UPLOAD_FOLDER] \
        if submission.is_dir() else []


def upload_places(submission):
    """Where an upload may keep its lesson folders, in the order looked at:
    DIR, DIR/lessons, and, when DIR holds one folder, that folder and its
    lessons/ (tar czf NAME.tar.gz unix-sockets-lab/lessons makes that)."""
    places = [submission, submission / "lessons"]
    inside = upload_folders(submission)
    if len(inside) == 1 and inside[0].name != "lessons":
        places += [inside[0], inside[0] / "lessons"]
    return places


def upload_sources(folder):
    """The lesson sources a folder holds: [(lesson, file)], regular files
    in real folders only: an upload's symbolic link, FIFO or device is
    never read (not_taken names them)."""
    return [(lesson_id, folder / lesson_id / name)
            for lesson_id in lesson_ids() for name in program_files(lesson_id)
            if kind_in_upload(folder / lesson_id) == "folder"
            and kind_in_upload(folder / lesson_id / name) == "file"]


def not_taken(submission, places):
    """What an upload holds under a lesson source's name, or a lesson
    folder's, that is not taken, since it is no regular file or folder:
    ["02-bind/server.c is a symbolic link: not graded", ...]."""
    said = []
    for place in places:
        where = "" if place == submission else \
            f"{place.relative_to(submission)}/"
        kind = kind_in_upload(place)
        if place != submission and kind not in (None, "folder"):
            said.append(f"{where.rstrip('/')} is {kind}: not graded")
        if kind != "folder":
            continue
        for lesson_id in lesson_ids():
            kind = kind_in_upload(place / lesson_id)
            if kind not in (None, "folder"):
                said.append(f"{where}{lesson_id} is {kind}: not graded")
                continue
            for name in program_files(lesson_id) if kind else []:
                kind = kind_in_upload(place / lesson_id / name)
                if kind not in (None, "file"):
                    said.append(f"{where}{lesson_id}/{name} is {kind}: not "
                                "graded")
    return list(dict.fromkeys(said))


def read_upload_file(path):
    """The bytes of an upload's regular file, never through a symbolic
    link, never waiting on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GraderError(f"{path} is no longer a regular file")
        content = f.read(SOURCE_LIMIT + 1)
        if len(content) > SOURCE_LIMIT:
            raise GraderError(f"{path} grew beyond {SOURCE_LIMIT} bytes "
                              "while it was read")
        return content


def find_upload(submission):
    """(the folder of the lesson folders, [places looked at]); the folder
    is None when no place holds a lesson source."""
    places = upload_places(submission)
    return next((place for place in places
                 if (place == submission or kind_in_upload(place) == "folder")
                 and upload_sources(place)), None), places


# The archives an upload may come in, which the grader does not unpack.
ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def unpack(archive):
    """The command that unpacks archive (its name says which kind) in
    DIR."""
    return f"unzip {archive} -d DIR" if archive.name.endswith(".zip") \
        else f"tar xf {archive} -C DIR"


def nothing_to_grade(submission, places):
    """What grade-from says when an upload holds no lesson source."""
    ids = lesson_ids()
    names = sorted({name for lesson_id in ids
                    for name in program_files(lesson_id)})
    said = (f"grade: nothing to grade in {submission}: no lesson source "
            f"(a folder per lesson, {ids[0]} to {ids[-1]}, holding "
            f"{' or '.join(names)}) in " +
            ", ".join(str(place) for place in places) + ".")
    refused = not_taken(submission, places)
    several = [p.name for p in upload_folders(submission)
               if upload_sources(p) or upload_sources(p / "lessons")]
    if not os.path.lexists(submission):
        said = f"grade: nothing to grade: {submission} does not exist."
    elif not submission.is_dir() and submission.name.endswith(ARCHIVES):
        said = (f"grade: nothing to grade: {submission} is an archive, not "
                "a directory: unpack it in a directory of its own first "
                f"(mkdir DIR && {unpack(submission)}), then grade "
                "DIR.")
    elif not submission.is_dir():
        said = f"grade: nothing to grade: {submission} is not a directory."
    elif len(several) > 1:
        said = (f"grade: nothing to grade in {submission}: it holds "
                f"{len(several)} folders with lessons ({', '.join(several)})"
                ", and an upload is one learner's: their lesson folders, "
                "their lessons/, or one folder holding either. Grade each "
                f"folder on its own (tools/grade {submission / several[0]}).")
    elif refused:
        said = (f"grade: nothing to grade in {submission}: " +
                "; ".join(refused) + f" ({ONLY_FILES}). No other " +
                said.split(": ", 2)[2].removeprefix("no "))
    if submission.is_dir():
        archives = [p.name for p in sorted(submission.iterdir())
                    if p.name.endswith(ARCHIVES)]
        if archives:
            said += (f" It holds {', '.join(archives)}: unpack it there "
                     "first (tar xzf NAME.tar.gz, unzip NAME.zip).")
    return said + (" Learners hand in the folder lessons/ of their copy of "
                   "the lab (lessons/TEACHING.md, \"Grading a class\").")


def make_grading_copy(lessons_in, tree, pristine):
    """A fresh copy of this lab in tree, as a hand-out, with the lesson
    sources of lessons_in in place of the starters; returns them."""
    for name, path, content in handout_contents(pristine):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            shutil.copy2(path, tree / name)
        else:
            (tree / name).write_bytes(content)
    taken = upload_sources(lessons_in)
    for lesson_id, source in taken:
        (tree / "lessons" / lesson_id / source.name).write_bytes(
            read_upload_file(source))
    seed_build(tree / "build")
    return taken


def seed_build(build):
    """Starts a grading copy's build directory with what this lab has
    built already and no learner's code goes into: the trace library, with
    the flags it was built with (make builds it again if the copy's
    compiler or flags differ, or its sources are newer), the sanitized
    builds of trace.c and the answer of the sanitizers' probe, and
    Python's compiled modules of the system.  Copied with their times, so
    that make and Python find them up to date: grading many uploads
    builds them once."""
    if (BUILD / "flags").is_file() and (BUILD / "trace" / "trace.o").is_file():
        build.mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUILD / "flags", build / "flags")
        shutil.copytree(BUILD / "trace", build / "trace", dirs_exist_ok=True)
    seed_sanitizers_and_python(build)
    if (build / "trace" / "trace.o").is_file():
        seed_programs(build)


def compiled_modules(build, tree):
    """Where Python keeps the compiled modules of the lab at tree (its
    tools and tests), with build/pycache as PYTHONPYCACHEPREFIX: under the
    path of each source."""
    return Path(build) / "pycache" / Path(tree).resolve().relative_to("/")


def seed_sanitizers_and_python(build):
    """What no lesson source goes into, from this lab's build: the
    sanitized builds of trace.c, the answer of the sanitizers' probe, and
    Python's compiled modules: the system's, and the lab's own (tools/,
    tests/), put under the copy's path (build's parent).  Python takes a
    compiled module only if its source has the time and size it was
    compiled from (a copy made with the files' times)."""
    for made in [*(BUILD / "sanitized").glob("trace-*.o"),
                 BUILD / "sanitized" / "works"]:
        if made.is_file():
            (build / "sanitized").mkdir(parents=True, exist_ok=True)
            shutil.copy2(made, build / "sanitized" / made.name)
    if (BUILD / "pycache" / "usr").is_dir():
        shutil.copytree(BUILD / "pycache" / "usr", build / "pycache" / "usr",
                        dirs_exist_ok=True)
    seed_compiled_modules(build)


def seed_compiled_modules(build):
    """This lab's own compiled modules (tools/, tests/), put under the path
    of the copy whose build directory is build.  Not pytest's rewritten
    test modules: those keep the path they were compiled from, which
    Python sets right for its own."""
    mine = compiled_modules(BUILD, ROOT)
    theirs = compiled_modules(build, Path(build).parent)
    compile_modules(mine)
    for part in ("tools", "tests"):
        if (mine / part).is_dir():
            shutil.copytree(mine / part, theirs / part, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("*-pytest-*"))


def compile_modules(mine):
    """Compiles into mine (compiled_modules of this lab) each module of
    tools/ and tests/ that a check or a command may import and that has
    not been compiled from its source as it is now (pytest compiles the
    test modules and conftest its own way): what a copy is given must not
    depend on which modules this run has imported so far."""
    import importlib.util
    import py_compile
    for source in [*(ROOT / "tools").glob("*.py"),
                   *(ROOT / "tests").glob("*.py")]:
        if source.name.startswith("test_") or source.name == "conftest.py":
            continue
        compiled = mine / source.parent.name / Path(
            importlib.util.cache_from_source(source.name)).name
        try:
            with open(compiled, "rb") as f:
                header = f.read(16)
        except OSError:
            header = b""
        now = source.stat()
        if header[8:16] != (int(now.st_mtime) & 0xFFFFFFFF).to_bytes(
                4, "little") + (now.st_size & 0xFFFFFFFF).to_bytes(
                4, "little"):  # the time and size importlib compares
            with contextlib.suppress(OSError, py_compile.PyCompileError):
                py_compile.compile(str(source), cfile=str(compiled),
                                   doraise=True)


def seed_programs(build):
    """A lesson program of the copy whose source is, byte for byte, one
    that this lab has built and make holds up to date at the same path (a
    starter left as it was) is given that build, newer than its source:
    make builds only the others.  Built from the same source, at the same
    path, with the same trace library and flags, it is what make would
    build.  Not a solution's program: its trace names the file it was
    built from (solutions/...), which a grading copy does not have."""
    inputs = [BUILD / "flags", BUILD / "trace" / "trace.o",
              *(ROOT / "trace" / "include").rglob("*.h")]
    inputs_changed = max(path.stat().st_mtime for path in inputs)
    built = {}
    for lesson_id in lesson_ids():
        for name in program_files(lesson_id):
            source = ROOT / "lessons" / lesson_id / name
            program = BUILD / "lessons" / lesson_id / Path(name).stem
            try:
                made = program.stat().st_mtime
                if made >= max(inputs_changed, source.stat().st_mtime):
                    built[(lesson_id, name)] = (hashlib.sha256(
                        source.read_bytes()).digest(), program)
            except OSError:
                continue  # not there, or not built
    now = time.time()
    for lesson_id in lesson_ids():
        for name in program_files(lesson_id):
            source = build.parent / "lessons" / lesson_id / name
            digest, program = built.get((lesson_id, name), (None, None))
            try:
                if digest != hashlib.sha256(source.read_bytes()).digest():
                    continue
            except OSError:
                continue
            if program is not None:
                target = build / "lessons" / lesson_id / Path(name).stem
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(program, target)
                os.utime(target, (now, now))


def run_grouped(argv, timeout, **options):
    """subprocess.run(argv, **options) in a process group of its own, and
    its status.  Whatever ends the wait (its timeout, a signal that stops
    the grader) ends the whole group too, the checks and the programs
    they run: SIGTERM first, which the checks take as an interrupt
    (stop_grading) and clean up after, then SIGKILL for what is left."""
    import signal
    # A stop that comes while the group is being made is held (stop_
    # grading), then raised where the group can be ended with it.
    SPAWNING.append(argv[0])
    try:
        proc = subprocess.Popen(argv, start_new_session=True, **options)
    finally:
        SPAWNING.pop()
    with proc:
        try:
            if HELD:
                raise HELD.pop()
            return proc.wait(timeout=timeout)
        except BaseException:
            # SIGTERM, not SIGINT: a grader started in the background
            # (tools/grade ... &) and its children ignore SIGINT, while
            # the programs checked would take it for a stop.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left
            proc.wait()
            # Its leader reaped, the others of the group may still be on
            # their way out (a compiler killed with make): gone first.
            group_gone(proc.pid, 10)
            raise


def group_gone(pgid, timeout):
    """Waits, at most timeout seconds, until no process of the group pgid
    is left, not even one that has yet to be reaped; whether none is."""
    deadline = time.monotonic() + max(0, timeout)
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)  # no event says that a group has emptied


class Stopped(KeyboardInterrupt):
    """A signal asked the grader to stop before it was done: an interrupt,
    which the checks (pytest) take as one, cleaning up, never as a failed
    check."""


# Not empty while run_grouped starts a process group: a stop raised in the
# middle of that would leave a group that nobody ends.  It is HELD, and
# raised once the group can be ended with it.
SPAWNING, HELD = [], []


def stop_grading(signum, frame):
    """SIGTERM or SIGHUP while grading: the grading copy is removed (the
    finally of grade_from), its processes ended (run_grouped), and no grade
    written; a second signal waits for that."""
    import signal
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    stopped = Stopped(f"stopped by {signal.Signals(signum).name} before "
                      "the grade was done")
    if SPAWNING:
        HELD.append(stopped)
        return
    raise stopped


def grade_copy(tree, json_file=None, as_user=None, stdout=None,
               timeout=600):
    """Builds and grades the lessons of a grading copy (make, then
    classroom.py grade, in it); returns the grading tool's status.

    as_user: (uid, gid) to run it as (the autograder runs learners' code
    as an ordinary user), or None; stdout: where the grade's words go.
    """
    # make puts its command-line variables in the environment: the copy
    # gets none of them, and above all not SUBMISSION.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAKE", "MFLAGS", "LAB_", "PYTHON"))
           and k not in ("SUBMISSION", "JSON", "B")
           or k == "LAB_TIMEOUT_SCALE"}
    build = tree / "build"
    env.update(LAB_BUILD=str(build), PYTHONPYCACHEPREFIX=str(build / "pycache"))
    user = {}
    if as_user:
        user = dict(user=as_user[0], group=as_user[1], extra_groups=[])
        env["HOME"] = str(tree.parent)
    programs = [f"build/lessons/{lesson_id}/{Path(name).stem}"
                for lesson_id in lesson_ids() for name in program_files(
                    lesson_id) if (tree / "lessons" / lesson_id / name).exists()]
    jobs = f"-j{min(4, os.cpu_count() or 1)}"
    # Temporary files (the compilers', the checks') in the copy, removed
    # with it: a compiler ended in the middle (a grader stopped) leaves
    # its own.
    scratch = tree / "build" / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    if as_user:
        for folder in (scratch.parent, scratch):
            os.chown(folder, *as_user)
    env["TMPDIR"] = str(scratch)
    run_grouped(["make", "--no-print-directory", "-s", "-k", jobs, "-C",
                 str(tree), *programs], timeout, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **user)
    argv = [sys.executable, str(tree / "tools" / "classroom.py"), "grade"]
    if json_file:
        argv.append(str(json_file))
    return run_grouped(argv, timeout, env=env, cwd=tree, stdout=stdout,
                       stderr=subprocess.STDOUT if stdout else None, **user)


def grade_from(submission, json_file=None):
    """Grades a learner's upload with this lab's own checks.

    Only the upload's lesson sources are taken, into a fresh copy of this
    lab in a temporary directory: its tests, Makefile and tools are not
    used.  Exits with the grading tool's status (COMPLETE...).
    """
    if not str(submission):
        print("grade: the upload's folder is an empty name: say which folder"
              " to grade (tools/grade DIR [JSON_FILE]).", file=sys.stderr)
        return USAGE
    if json_file is not None:
        refuse_grade_json(json_file)
    submission = Path(submission)
    json_file = Path(json_file).resolve() if json_file else None
    lessons_in, places = find_upload(submission)
    if lessons_in is None:
        said = nothing_to_grade(submission, places)
        print(said, file=sys.stderr)
        if json_file:
            write_grade_json(json_file, grade_document(
                [], 0, float(sum(lesson.get("points", 0)
                                 for lesson in lessons())),
                NOTHING_TO_GRADE, said.removeprefix("grade: ")))
        return NOTHING_TO_GRADE
    pristine, _ = starters_to_hand_out("grade")
    work = work_dir("lab-grade-")
    try:
        tree = work / HANDOUT_TOP
        taken = make_grading_copy(lessons_in, tree, pristine)
        print(f"grade: {len(taken)} source files of {lessons_in}, graded "
              f"with this lab's checks in a fresh copy of it ({work}, "
              "removed afterwards)", flush=True)
        for said in not_taken(submission, places):
            print(f"grade: {said} ({ONLY_FILES})", flush=True)
        return grade_copy(tree, json_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grading(run, *args):
    """Runs a grading command: whatever goes wrong in the grader is said
    as such, with the status GRADER_ERROR, never taken for a grade."""
    import signal
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop_grading)
    try:
        return run(*args)
    except (GraderError, Stopped) as e:
        said = str(e)
    except subprocess.TimeoutExpired as e:
        said = f"{e.cmd[0]} ran for more than {e.timeout:.0f} s"
    except OSError as e:  # in words: the file, then what is wrong with it
        said = f"{e.filename}: {e.strerror}" if e.filename else \
            e.strerror or str(e)
    except Exception as e:  # noqa: BLE001 - any failure is the grader's
        said = f"{type(e).__name__}: {e}"
    print(f"grade: the grader failed, so this is no grade: {said}",
          file=sys.stderr)
    return GRADER_ERROR


# -- the command line ---------------------------------------------------------

def main(argv):
    lesson_commands = {
        "hint": lambda lesson, again=None: hint(lesson, again == "again"),
        "watch": lambda lesson, *make: watch(lesson, list(make) or ["make"]),
        "reset": reset,
        "quiz": quiz,
    }
    other_commands = {"progress": progress, "grade": grade,
                      "grade-from": grade_from, "handout": handout}
    command, args = (argv[0], argv[1:]) if argv else (None, [])
    run = lesson_commands.get(command) or other_commands.get(command)
    try:
        inspect.signature(run).bind(*args)
    except TypeError:  # an unknown command, or the wrong arguments
        print(__doc__, file=sys.stderr)
        return 2
    if command in lesson_commands and args[0] not in lesson_ids():
        print(f"classroom.py {command}: no lesson {args[0]}", file=sys.stderr)
        return 2
    if command in ("grade", "grade-from"):
        return grading(run, *args)
    return run(*args)


if __name__ == "__main__":
    run_tool(main)
