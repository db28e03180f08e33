"""The same verdict every run: the lesson checks, run again and again.

For each lesson, this script runs the checks of the lesson on its
solution and on its starter (lessons/ as they are in the repository, as
tests/test_ladder.py takes them) RUNS times in a row: every check on the
solution, as a grade runs them; on the starter, as `make check` runs them
for a learner, up to the first that fails (--every: all of them, as a
grade does, which waits out many timeouts).  Then it judges every entry of
the corpus of learner programs (tests/mistakes.json) REPEAT times, as
`make check` judges a learner: the first failure only (tests/mistakes.py).
A verdict is, for the solution and the starter, the outcome of each check
run; for a corpus entry, its result (caught and named, accepted...) and
the check that failed first.  It reports every verdict that changed from
one run to another, with the outcomes seen and how often:

    make && LAB_BUILD=$PWD/build /usr/bin/python3 tests/stability.py \
        [--runs 20] [--repeat 3] [--every] [--lesson 05] [--name REGEX]

The exit status is 0 only if no verdict changed.  Run it on an idle
machine and on a loaded one (two busy loops, say) to see that the checks
synchronise on what the programs do, not on time.  Every check has its
own timeouts, and nothing is left behind.  Not a pytest module (its name
has no test_ prefix), and not in a hand-out: it runs the solutions.
"""
import argparse
import collections
import json
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.dont_write_bytecode = True  # nothing left behind in tests/
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), str(TESTS.parent / "tools")]
if not (TESTS.parent / "solutions").is_dir():
    sys.exit("This copy of the lab is a hand-out: the stability runs use the "
             "solutions, which it does not include.")
import labrun  # noqa: E402
import mistakes  # noqa: E402
import test_ladder  # noqa: E402


def every_check(code_dir, lesson, to_the_first_failure=False):
    """The outcome of each check of the lesson on the programs in code_dir:
    ((check, outcome), ...), every check, or up to the first that fails; a
    check that crashes or hangs is "crashed" or "hung"."""
    outcomes = []
    for fn in test_ladder.checks(mistakes.MODULES[lesson]):
        before = signal.signal(signal.SIGALRM, mistakes.on_alarm)
        signal.setitimer(signal.ITIMER_REAL, mistakes.ENTRY_TIMEOUT)
        try:
            with mistakes.tracked_labs():
                outcome, _ = test_ladder.run_check(fn, code_dir, lesson)
        except mistakes.TimedOut:
            outcome = "hung"
        except Exception as e:  # a check that crashes judges nothing
            outcome = f"crashed ({type(e).__name__})"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, before)
        outcomes.append((fn.__name__, outcome))
        if to_the_first_failure and outcome != "passed":
            break
    return tuple(outcomes)


def changes(verdicts):
    """What changed among the verdicts of one thing's runs, in words: each
    check whose outcome changed, with the outcomes and how often; [] if
    every run gave the same verdict."""
    if len(set(verdicts)) <= 1:
        return []
    said = []
    longest = max(verdicts, key=len)
    for i, (name, _) in enumerate(longest):
        seen = collections.Counter(v[i][1] if i < len(v) else "not run"
                                   for v in verdicts)
        if len(seen) > 1:
            said.append(f"{name}: " + ", ".join(
                f"{outcome} {count}/{len(verdicts)}"
                for outcome, count in seen.most_common()))
    return said


def lesson_runs(lessons, runs, every=False):
    """Runs the checks on each lesson's solution and starter, runs times;
    prints each; returns how many verdicts changed."""
    changed = 0
    for lesson in lessons:
        for code in ("solutions", "lessons"):
            code_dir = labrun.BUILD / code / lesson
            started = time.monotonic()
            first_only = code == "lessons" and not every
            verdicts = [every_check(code_dir, lesson, first_only)
                        for _ in range(runs)]
            said = changes(verdicts)
            first = verdicts[0]
            passed = sum(1 for _, o in first if o == "passed")
            what = "solution" if code == "solutions" else "starter"
            failed = [c for c, o in first if o != "passed"]
            print(f"{'' if not said else 'NO':<3}{lesson:<18} {what:<8} "
                  f"{len(first)} checks run, {passed} pass"
                  + (f", first failure {failed[0]}" if failed else "") +
                  f"; {runs} runs: "
                  + ("the same verdict every run" if not said else
                     "the verdict changed") +
                  f" ({time.monotonic() - started:.1f} s)", flush=True)
            for line in said:
                print(f"{'':6}{line}")
            changed += bool(said)
    return changed


def corpus_runs(entries, repeat):
    """Judges each entry repeat times, as make check judges a learner;
    prints the entries whose verdict changed; returns how many did."""
    where = Path(tempfile.mkdtemp(prefix="lab-stability-", dir="/tmp"))
    changed = 0
    try:
        built = mistakes.build(entries, where)
        seen = {}
        for run in range(repeat):
            print(f"corpus run {run + 1} of {repeat}: {len(entries)} entries",
                  file=sys.stderr, flush=True)
            for i, entry in entries:
                code_dir, messages = built[i]
                if messages is not None:
                    verdict = ("does not build", "")
                else:
                    found = mistakes.first_failure(code_dir, entry["lesson"])
                    verdict = (mistakes.judge(entry, found),
                               found[0].split(":\n", 1)[0] if found else "")
                seen.setdefault(i, []).append(verdict)
        unstable = 0
        for i, entry in entries:
            counts = collections.Counter(seen[i])
            if len(counts) > 1:
                unstable += 1
                print(f"NO {entry['lesson']:<18} {entry['name']:<38} " +
                      "; ".join(f"{result}{' at ' + check if check else ''} "
                                f"{n}/{repeat}" for (result, check), n in
                                counts.most_common()))
        as_said = sum(1 for i, entry in entries
                      if mistakes.as_it_should_be(entry, seen[i][0][0]))
        print(f"corpus: {len(entries)} entries, {repeat} runs each: "
              f"{unstable} changed verdict; {as_said} as they say on the "
              "first run")
        changed = unstable
    finally:
        shutil.rmtree(where, ignore_errors=True)
    return changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of "
                        "every check on each solution and starter (20)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each "
                        "corpus entry (3; 0: none)")
    parser.add_argument("--lesson", help="only this lesson (05 or "
                        "05-read-write)")
    parser.add_argument("--name", help="only corpus entries whose name "
                        "matches")
    parser.add_argument("--every", action="store_true", help="every check "
                        "on the starters too, not only up to the first "
                        "failure")
    args = parser.parse_args()
    if not mistakes.TRACE_OBJ.exists():
        sys.exit(f"{mistakes.TRACE_OBJ} is missing: run make first (and set "
                 "LAB_BUILD to its build directory)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    lessons = [m.LESSON for m in test_ladder.LESSON_MODULES
               if not args.lesson or m.LESSON.startswith(args.lesson.zfill(2))]
    if not lessons:
        sys.exit("no such lesson")
    corpus = json.loads(mistakes.CORPUS.read_text())
    entries = [(i, e) for i, e in enumerate(corpus)
               if e.get("lesson") in lessons and mistakes.runnable(e)
               and (not args.name or re.search(args.name, e["name"]))]
    started = time.monotonic()
    changed = lesson_runs(lessons, args.runs, args.every) \
        if not args.name else 0
    if args.repeat:
        changed += corpus_runs(entries, args.repeat)
    left = [str(d) for d in mistakes.LAB_DIRS if d.exists()]
    print(f"{changed} verdicts changed; {time.monotonic() - started:.0f} s")
    if left:
        print("left behind: " + " ".join(left))
    return 1 if changed or left else 0


if __name__ == "__main__":
    sys.exit(main())
