"""How well the lesson checks judge learner programs: the mistakes corpus.

tests/mistakes.json lists learner programs, each a small edit of a lesson's
solution: mistakes that learners make (verdict "fail") and correct programs
written differently from the solution (verdict "pass").  This script
applies each entry to a copy of the solution in a temporary directory,
builds the copies with the Makefile's own rule for lab programs, runs the
lesson's checks on them in this process as `make check` does for a
learner (the first failure only: tests/test_ladder.py's failures(...,
stop_at_first=True), with its checks() and run_check()), and says for each
entry:

  a mistake:         caught and named  the first failure names it (all of
                                       the entry's "names" regexes match)
                     caught, not named it fails, but the message does not
                     accepted          every check passes
  a correct program: accepted, or rejected

"names" are matched, ignoring case, against what names a mistake in a
failure: the check's name, what it expected, the causes the report finds
in the trace ("Found: ...", and the first failed call with its why: line)
and the README section it sends the learner to; not the trace or the
program output it shows as evidence.  A check that crashes or hangs counts
as a failure that names nothing.  Some mistakes show only when a call fails
or moves fewer bytes (an unchecked accept, a short write ignored): the
checks force that with LAB_FAULTS (trace/TRACE.md).  Others no run shows at
all (a plain int flag, a NUL written one byte past a buffer): the checks
read the source for what the lesson asks, or build the program with
sanitizers.

The edited programs are compiled in one parallel make, and kept in
build/mistakes/ under a key made of what they are built from, so that the
next run compiles only what changed; the programs an entry does not edit
are the solution's own, from make; each entry's sources are written
beside its programs, for the checks that read them or build them with
sanitizers (for this tool, those builds are made beforehand too, several
at once; make test leaves them to the checks that need them).
tests/test_mistakes.py runs the same judgement as part of make test.

    make && LAB_BUILD=$PWD/build /usr/bin/python3 tests/mistakes.py \
        [--lesson 05] [--name REGEX] [--repeat K] [--full | --show]

With --repeat K every entry is run K times and an entry whose result
changes between runs is reported as unstable.  The exit status is 0 only
if every entry that ran came out as it says, every run; --full shows the
whole first failure of the others, --show that of every entry.  Every compile and every check has a
timeout, and nothing is left behind.  Not a pytest module: its name has no
test_ prefix.
"""
import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # nothing left behind in tests/
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent / "tools")]
import labrun  # noqa: E402
import test_ladder  # noqa: E402

ROOT = labrun.ROOT
CORPUS = TESTS / "mistakes.json"
TRACE_OBJ = labrun.BUILD / "trace" / "trace.o"
BUILD_TIMEOUT = 600  # seconds, for every compile together
ENTRY_TIMEOUT = 60 * labrun.SCALE  # seconds, for one lesson's checks

NAMED, NOT_NAMED, ACCEPTED = "caught and named", "caught, not named", \
    "accepted"
REJECTED, NO_BUILD, SKIPPED = "rejected", "does not build", "not run"
MODULES = {m.LESSON: m for m in test_ladder.LESSON_MODULES}


# -- the corpus -------------------------------------------------------------

def problems(entry, seen):
    """What is wrong with an entry itself, before anything runs."""
    found = []
    lesson, name = entry.get("lesson"), entry.get("name")
    if lesson not in MODULES:
        found.append(f"unknown lesson {lesson!r}")
    elif not (ROOT / "solutions" / lesson / str(entry.get("file"))).is_file():
        found.append(f"no solutions/{lesson}/{entry.get('file')}")
    if not name or (lesson, name) in seen:
        found.append("a missing or repeated name")
    seen.add((lesson, name))
    if entry.get("verdict") not in ("fail", "pass"):
        found.append("verdict is neither fail nor pass")
    if entry.get("verdict") == "fail" and not entry.get("names"):
        found.append("a mistake without names")
    for regex in entry.get("names", []):
        try:
            re.compile(regex)
        except re.error as e:
            found.append(f"bad regex {regex!r}: {e}")
    if not entry.get("edits") or not entry.get("why"):
        found.append("no edits, or no why")
    if entry.get("needs") not in (None, *NEEDS):
        found.append(f"unknown need {entry.get('needs')!r}")
    return found


def edited(entry):
    """The entry's file after its edits, or raises ValueError."""
    text = (ROOT / "solutions" / entry["lesson"] / entry["file"]).read_text()
    for n, (old, new) in enumerate(entry["edits"], 1):
        count = text.count(old)
        if count != 1:
            raise ValueError(f"edit {n}: its old text occurs {count} times, "
                             f"not once: {old[:60]!r}")
        text = text.replace(old, new)
    return text


# What an entry may need that a run of the checks cannot give yet: none
# today.  A need is a name here, with the reason an entry that has it is
# not run; the checks judge every entry of the corpus.
NEEDS = {}


def runnable(entry):
    """Whether the checks can judge the entry today."""
    return entry.get("needs") is None


# -- building ---------------------------------------------------------------

# Compiled programs are kept by the content they are made of, so that a
# second run (or another suite at the same time) compiles only what changed.
CACHE = labrun.BUILD / "mistakes"


def corpus_cflags():
    """The Makefile's flags without -g, unless CFLAGS is set: debugging
    information costs a fifth of each compile and changes no code."""
    return os.environ.get("CFLAGS", "-O2")


def cache_key(lesson, name, text):
    digest = hashlib.sha256()
    for part in (lesson, name, text, corpus_cflags()):
        digest.update(part.encode() + b"\0")
    for path in (TRACE_OBJ, *sorted((ROOT / "trace" / "include").rglob("*.h")),
                 labrun.BUILD / "flags"):
        digest.update((labrun.read_if_there(path) or b"") + b"\0")
    return digest.hexdigest()[:24]


def build(entries, where, sanitized=True, nice=False):
    """Compiles every entry's edited program, in one parallel make, unless
    it is in the cache already; the lesson's other programs are the
    solution's own, built by make.  Each entry gets where/run/NNN/ with its
    programs.  Returns {entry index: (code_dir, compiler messages or None)}.
    sanitized=False leaves the sanitized builds to the checks that make
    them (labrun.sanitized), only for the entries that reach those checks;
    nice=True compiles at a low priority (nice(1)), in the time that other
    work leaves.
    """
    # Several processes of a run (pytest-xdist's workers) build at once:
    # the first compiles, the others wait and find its programs cached.
    with labrun.build_lock("mistakes"):
        return _build(entries, where, sanitized, nice)


def _build(entries, where, sanitized, nice):
    (where / "trace").symlink_to(ROOT / "trace")  # the rule's -Itrace
    targets, wanted, programs, sources = set(), {}, {}, {}
    for i, entry in entries:
        lesson = entry["lesson"]
        programs[i], sources[i] = {}, {}
        for source in sorted((ROOT / "solutions" / lesson).glob("*.c")):
            text = edited(entry) if source.name == entry["file"] else \
                source.read_text()
            sources[i][source.name] = text
            built = labrun.BUILD / "solutions" / lesson / source.stem
            if source.name != entry["file"] and built.exists():
                programs[i][source.stem] = built
                continue
            key = cache_key(lesson, source.name, text)
            programs[i][source.stem] = CACHE / key / source.stem
            if (CACHE / key / source.stem).exists() or key in wanted:
                wanted.setdefault(key, source.stem)
                continue
            src = where / key / "solutions" / lesson / source.name
            src.parent.mkdir(parents=True)
            src.write_text(text)
            wanted[key] = source.stem
            targets.add(f"out/{key}/solutions/{lesson}/{source.stem}")
    said = make(sorted(targets), where, nice) if targets else []
    for target in targets:
        _, key, *_, name = target.split("/")
        made = where / target
        if made.exists():  # into the cache, whole or not at all
            (CACHE / key).mkdir(parents=True, exist_ok=True)
            partial = CACHE / key / f".{name}.{os.getpid()}"
            shutil.copy2(made, partial)
            os.replace(partial, CACHE / key / name)
    result = {}
    for i, entry in entries:
        code_dir = where / "run" / f"{i:03d}"
        code_dir.mkdir(parents=True)
        missing = []
        for name, program in programs[i].items():
            if program.exists():
                (code_dir / name).symlink_to(program)
            else:
                missing.append(program.parent.name)
        # The sources beside the programs: the checks that read the source,
        # or build it with sanitizers, find them there (labrun.source_of).
        for name, text in sources[i].items():
            (code_dir / name).write_text(text)
        mine = [line for line in said
                if any(line.startswith(f"{key}/") for key in missing)]
        result[i] = (code_dir, None if not missing else
                     "\n".join(mine[:3]) or "no program built")
    if sanitized:
        prebuild_sanitized(entries, result)
    return result


def prebuild_sanitized(entries, built):
    """The sanitized builds that the checks of a lesson make (its module's
    SANITIZED programs), compiled beforehand, several at once: a check then
    finds them in labrun's cache instead of compiling them one by one."""
    from concurrent.futures import ThreadPoolExecutor
    wanted = {}
    for i, entry in entries:
        code_dir, messages = built[i]
        for name in getattr(MODULES[entry["lesson"]], "SANITIZED", ()):
            source = code_dir / f"{name}.c"
            if messages is None and source.is_file():
                wanted.setdefault(labrun.sanitized_key(source), source)
    if not wanted or not labrun.sanitizers_work():
        return
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(labrun.sanitized, wanted.values()))


def make(targets, where, nice=False):
    """The Makefile's $(B)/% rule, run in where for targets: B and the
    trace object are given; -o: the trace object is taken as built, never
    rebuilt here.  Returns what make and the compilers said."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAKE", "MFLAGS"))}
    env["CFLAGS"] = corpus_cflags()
    # The compilers' temporary files too, in memory (labrun.RUN_PARENT).
    env["TMPDIR"] = labrun.RUN_PARENT
    low = ["nice", "-n", "10"] if nice and shutil.which("nice") else []
    run = subprocess.Popen(
        [*low, "make", "--no-print-directory", "-k", f"-j{os.cpu_count() or 2}",
         "-f", str(ROOT / "Makefile"), "-C", str(where), "B=out",
         f"TRACE_OBJ={TRACE_OBJ}", "-o", str(TRACE_OBJ), *targets],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    try:
        return run.communicate(timeout=BUILD_TIMEOUT)[0].splitlines()
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)  # make and its compilers
        run.wait()
        raise SystemExit(f"the build did not finish in {BUILD_TIMEOUT} s")


# -- running the checks ------------------------------------------------------

class TimedOut(Exception):
    pass


def on_alarm(signum, frame):
    raise TimedOut()


@contextlib.contextmanager
def tracked_labs():
    """Every Lab made meanwhile is remembered, and swept at the end: a check
    that hangs or crashes still leaves no process and no directory."""
    labs, original = [], labrun.Lab.__init__

    def remembered(self, *args, **kw):
        original(self, *args, **kw)
        labs.append(self)
        if self.own_dir:
            LAB_DIRS.append(self.dir)

    labrun.Lab.__init__ = remembered
    try:
        yield
    finally:
        labrun.Lab.__init__ = original
        sweep(labs)


LAB_DIRS = []  # every lab directory made, to see that none is left


def sweep(labs):
    while labs:
        lab = labs.pop()
        for proc in lab.procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
            try:
                proc.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for peer in lab.peers:
            peer.close()
        if lab.collector.thread.is_alive():
            try:
                lab.collector.close()
            except OSError:
                pass
        if lab.own_dir:
            shutil.rmtree(lab.dir, ignore_errors=True)


def first_failure(code_dir, lesson):
    """The first failed check of the lesson, as a learner gets it: None, or
    (the check's report, False if the check crashed or hung instead).

    This is test_ladder.failures(code_dir, module, stop_at_first=True),
    except that a check that crashes or hangs is reported by its name.
    """
    current = "(the checks)"
    before = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, ENTRY_TIMEOUT)
    try:
        with tracked_labs():
            for fn in test_ladder.checks(MODULES[lesson]):
                current = fn.__name__
                outcome, message = test_ladder.run_check(fn, code_dir,
                                                         lesson)
                if outcome == "failed":
                    return f"{current}:\n{message}", True
        return None
    except TimedOut:
        return f"{current}:\nthe check did not finish in " \
               f"{ENTRY_TIMEOUT:.0f} s: it hangs", False
    except Exception as e:  # a check that crashes judges nothing
        return f"{current}:\nthe check crashed: {type(e).__name__}: {e}", \
            False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def naming_text(failure):
    """The parts of a failure that can name a mistake: the check's name,
    what it expected, the README section; not the evidence it shows."""
    kept, evidence = [], False
    for line in failure.splitlines():
        if line.startswith("The trace showed:"):
            evidence = True
        elif line.startswith("Reread "):
            evidence = False
        if not evidence:
            kept.append(line)
    kept.insert(1, kept[0].replace("_", " "))  # the check's name, as words
    return "\n".join(kept)


def summary(failure, width=150):
    """The check's name and what it expected, cut to width."""
    lines = failure.splitlines()
    expected = next((l for l in lines if l.startswith("Expected:")),
                    lines[1] if len(lines) > 1 else "")
    text = f"{lines[0]} {expected}"
    return text if len(text) <= width else text[:width - 3] + "..."


def judge(entry, found):
    if found is None:
        return ACCEPTED
    failure, as_written = found
    if entry["verdict"] == "pass":
        return REJECTED
    text = naming_text(failure)
    if as_written and all(re.search(r, text, re.IGNORECASE)
                          for r in entry["names"]):
        return NAMED
    return NOT_NAMED


def as_it_should_be(entry, result):
    return result == (NAMED if entry["verdict"] == "fail" else ACCEPTED)


# -- the report -------------------------------------------------------------

def report(entries, results, failures_seen, unstable, notes, full=False):
    bad = 0
    print(f"{'':3}{'lesson':<18} {'entry':<38} {'wants':<5} result")
    for i, entry in entries:
        result = results[i]
        ok = result == SKIPPED or as_it_should_be(entry, result)
        ok = ok and i not in unstable
        bad += not ok
        shown = result + (" (unstable: " + ", ".join(sorted(unstable[i])) +
                          ")" if i in unstable else "")
        print(f"{'' if ok else 'NO':<3}{entry['lesson']:<18} "
              f"{entry['name']:<38} {entry['verdict']:<5} {shown}")
        if i in notes:
            print(f"{'':6}{notes[i]}")
        elif failures_seen.get(i) and (full == "all" or not ok and full):
            for line in failures_seen[i][0].splitlines():
                print(f"{'':6}{line}")
        elif failures_seen.get(i) and not ok:
            print(f"{'':6}{summary(failures_seen[i][0])}")
    counts = {}
    for i, entry in entries:
        key = (entry["verdict"], results[i])
        counts[key] = counts.get(key, 0) + 1
    mistakes = [("fail", NAMED), ("fail", NOT_NAMED), ("fail", ACCEPTED)]
    correct = [("pass", ACCEPTED), ("pass", REJECTED)]
    others = [k for k in sorted(counts) if k not in mistakes + correct]
    print()
    print("mistakes:  " + ", ".join(f"{counts.get(k, 0)} {k[1]}"
                                    for k in mistakes))
    print("correct:   " + ", ".join(f"{counts.get(k, 0)} {k[1]}"
                                    for k in correct))
    if others:
        print("also:      " + ", ".join(
            f"{counts[k]} {'mistakes' if k[0] == 'fail' else 'correct'} "
            f"{k[1]}" for k in others))
    print(f"unstable:  {len(unstable)}")
    print(f"{bad} of {len(entries)} entries are not as they say")
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lesson", help="only this lesson (05 or "
                        "05-read-write)")
    parser.add_argument("--name", help="only entries whose name matches")
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run each entry K times")
    parser.add_argument("--full", action="store_true", help="show the "
                        "whole first failure of an entry not as it says")
    parser.add_argument("--show", action="store_true", help="show the "
                        "whole first failure of every entry")
    args = parser.parse_args()
    if not (ROOT / "solutions").is_dir():
        sys.exit("This copy of the lab is a hand-out: the corpus edits the "
                 "solutions, which it does not include.")
    if not TRACE_OBJ.exists():
        sys.exit(f"{TRACE_OBJ} is missing: run make first (and set "
                 "LAB_BUILD to its build directory)")

    corpus = json.loads(CORPUS.read_text())
    entries, notes, results, seen = [], {}, {}, set()
    for i, entry in enumerate(corpus):
        if args.lesson and not entry.get("lesson", "").startswith(
                args.lesson.zfill(2)):
            continue
        if args.name and not re.search(args.name, entry.get("name", "")):
            continue
        entries.append((i, entry))
        found = problems(entry, seen)
        if not found:
            try:
                edited(entry)
            except ValueError as e:
                found.append(str(e))
        if found:
            results[i], notes[i] = "bad entry", "; ".join(found)
    if not entries:
        sys.exit("no entry matches")

    failures_seen, unstable = {}, {}
    where = Path(tempfile.mkdtemp(prefix="lab-mistakes-",
                                 dir=labrun.RUN_PARENT))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        todo = [(i, e) for i, e in entries if i not in results]
        print(f"building {len(todo)} entries...", file=sys.stderr)
        built = build(todo, where) if todo else {}
        for i, entry in todo:
            if built[i][1]:
                results[i], notes[i] = NO_BUILD, built[i][1]
            elif not runnable(entry):
                results[i], notes[i] = SKIPPED, NEEDS[entry["needs"]]
        to_run = [(i, e) for i, e in todo if i not in results]
        for run in range(args.repeat):
            print(f"run {run + 1} of {args.repeat}: {len(to_run)} "
                  "entries", file=sys.stderr)
            for i, entry in to_run:
                failure = first_failure(built[i][0], entry["lesson"])
                result = judge(entry, failure)
                if run == 0:
                    results[i], failures_seen[i] = result, failure
                elif result != results[i]:
                    unstable.setdefault(i, {results[i]}).add(result)
                    if not as_it_should_be(entry, result) and \
                            as_it_should_be(entry, results[i]):
                        failures_seen[i] = failure
    finally:
        shutil.rmtree(where, ignore_errors=True)
    bad = report(entries, results, failures_seen, unstable, notes,
                 "all" if args.show else args.full)
    left = [str(d) for d in LAB_DIRS + [where] if d.exists()]
    if left:
        print("left behind: " + " ".join(left))
    return 1 if bad or left else 0


if __name__ == "__main__":
    sys.exit(main())
