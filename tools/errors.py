"""The catalogue of deliberate errors: `make errors` runs it, tests check it.

    errors.py [LESSON]     run every variant (of one lesson), print the
                           catalogue table; exit 1 if any outcome differs
    errors.py --show NAME  run one variant with its whole trace on the
                           terminal (why, fix, see), then the verdict
    errors.py --markdown   print the catalogue as a document (lessons/ERRORS.md)

Each variant, lessons/NN-name/errors/NAME.c, makes one mistake. What it
must show is declared once, in lessons/errors.json: a list of expected
trace events, each a call and the fields it must have, for example
    {"call": "bind", "errno": "EADDRINUSE"}     the call failed with EADDRINUSE
    {"call": "read", "ret": 0}                  read returned 0 (end of file)
    {"call": "connect", "errno": null, "count": 3}
                                                exactly 3 connects succeeded
    {"call": "waitpid", "signal": "SIGPIPE"}    a child was killed by SIGPIPE
    {"call": "read", "event": "wait"}           a read announced that it waits
A field is looked up in the event (ret, errno, role), else in its args
(bound, signal, flags...). Without "count", at least one event must match;
each expectation takes its own event. Every failed call must come with
its explanation from trace/explanations.def. The variant must also exit
with status 0 (2 means it could not set the situation up) and leave
nothing behind: no file in its directory, no process.

A variant may declare what it needs from the kernel, "needs": "a user
namespace" (it mounts a file system as an ordinary user): where the kernel
refuses that, the variant is not run, and the reason is reported instead.
"""
import errno
import glob
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import labrun
from labrun import BUILD, ROOT, Lab

CATALOGUE = ROOT / "lessons" / "errors.json"
# A variant ends itself after 5 s (watchdog() in lessons/variant.h); the
# runner waits a little longer before it stops the variant.
TIMEOUT = 8.0 * labrun.SCALE
# Where a variant started by root works as the user nobody (variant.h).
ORDINARY_DIRS = "/tmp/lab-nobody-*"


def catalogue():
    with open(CATALOGUE, encoding="utf-8") as f:
        return json.load(f)


def variants(lesson=None):
    """The variants, in lesson order; lesson is "04" or "04-accept-connect"."""
    found = catalogue()["variants"]
    if lesson:
        found = [v for v in found if v["lesson"].startswith(lesson)]
    return sorted(found, key=lambda v: v["lesson"])


# -- what a variant needs from the kernel ------------------------------------

# Asks the kernel for a user namespace and a mount namespace, as the user
# nobody when run by root, as the variants do (ordinary_user() in
# lessons/variant.h); exits with the errno of unshare(2), 0 when allowed.
USERNS_PROBE = """
import ctypes, os
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
os._exit(ctypes.get_errno() if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
         else 0)
"""
USERNS_SETTINGS = ["/proc/sys/user/max_user_namespaces",
                   "/proc/sys/kernel/unprivileged_userns_clone",
                   "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"]


def user_namespace_refused():
    """Why the kernel refuses an ordinary user a user namespace, or None."""
    done = subprocess.run([sys.executable, "-c", USERNS_PROBE],
                          capture_output=True, timeout=30)
    if done.returncode == 0:
        return None
    name = errno.errorcode.get(done.returncode, str(done.returncode))
    settings = []
    for path in USERNS_SETTINGS:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        settings.append(f"{path.replace('/proc/sys/', '').replace('/', '.')}"
                        f" = {value}")
    return (f"this kernel refuses an ordinary user a user namespace "
            f"(unshare(CLONE_NEWUSER) = -1 {name}; "
            f"{', '.join(settings) or 'no user namespace settings'}; "
            f"see user_namespaces(7))")


NEEDS = {"a user namespace": user_namespace_refused}


def unmet_need(variant):
    """Why this variant cannot run on this kernel, or None."""
    need = variant.get("needs")
    if need is None:
        return None
    return NEEDS[need]()


# -- expectations ------------------------------------------------------------

RESERVED = {"call", "count", "event"}


def field(event, key):
    if key in event:
        return event[key]
    return event["args"].get(key)


def matches(event, expect):
    return (event["call"] == expect["call"]
            and event["event"] == expect.get("event", "return")
            and all(field(event, k) == v for k, v in expect.items()
                    if k not in RESERVED))


def describe(expect):
    """One expectation in a few words: "bind = -1 EADDRINUSE"."""
    call = expect["call"]
    if expect.get("event") == "wait":
        text = f"{call} waits"
    elif "signal" in expect:
        text = f"{call}: killed by {expect['signal']}"
    elif expect.get("errno"):
        text = f"{call} = -1 {expect['errno']}"
    elif "ret" in expect:
        text = f"{call} = {expect['ret']}"
        if call in ("read", "recv") and expect["ret"] == 0:
            text += " (end of file)"
    elif "bound" in expect:
        text = f'{call} bound "{expect["bound"]}"'
    elif "note" in expect:
        text = f"{call} succeeds: {expect['note']}"
    elif "exit_status" in expect:
        text = f"{call}: exited with status {expect['exit_status']}"
    else:
        text = f"{call} succeeds"
    if "count" in expect:
        text += ", once" if expect["count"] == 1 else \
            f", {expect['count']} times"
    if "role" in expect:
        text = f"[{expect['role']}] {text}"
    return text


def outcome(variant):
    return "; ".join(describe(x) for x in variant["expect"])


def unmatched(events, expectations):
    """The expectations the events do not meet, each with what was wrong."""
    used = set()
    missing = []
    for expect in expectations:
        found = [i for i, e in enumerate(events)
                 if i not in used and matches(e, expect)]
        if "count" in expect:
            if len(found) != expect["count"]:
                seen = "once" if len(found) == 1 else f"{len(found)} times"
                missing.append(f"{describe(expect)}: seen {seen}")
            used.update(found)
        elif found:
            used.add(found[0])
        else:
            missing.append(f"{describe(expect)}: not seen")
    return missing


# -- running a variant ---------------------------------------------------------

def processes_holding(path):
    """Pids of the processes (that we may look at) with path open."""
    pids = []
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == str(path):
                pids.append(int(fd.split("/")[2]))
        except OSError:
            pass
    return sorted(set(pids) - {os.getpid()})


class Result:
    def __init__(self, variant, events, proc, output, problems,
                 skipped=None):
        self.variant, self.events, self.proc = variant, events, proc
        self.output = output  # what the variant printed (its files are gone)
        self.problems = problems
        self.skipped = skipped  # why it was not run here, or None
        self.ok = not problems

    def report(self):
        v = self.variant
        lines = [f"{v['lesson']}/errors/{v['name']}: {v['meaning']}",
                 f"Expected: {outcome(v)}", "What differs:"]
        lines += [f"    {p}" for p in self.problems]
        lines.append("The trace showed:")
        for e in labrun.in_causal_order(self.events)[-30:]:
            lines.append("    " + labrun.render(e))
        said = self.output.strip().splitlines()
        lines += [f"    it printed: {line}" for line in said[-8:]]
        return "\n".join(lines)


def run(variant, quiet=True):
    """Runs one variant in a fresh directory and compares its outcome.

    quiet=False shows the variant's own trace and output on the terminal.
    A variant whose need the kernel refuses is not run: its result says
    why (skipped).
    """
    refused = unmet_need(variant)
    if refused:
        return Result(variant, [], None, "", [], skipped=refused)
    code_dir = BUILD / "lessons" / variant["lesson"] / "errors"
    before = set(glob.glob(ORDINARY_DIRS))
    with Lab(code_dir, quiet=quiet) as lab:
        try:
            proc = lab.run(variant["name"], timeout=TIMEOUT)
        except FileNotFoundError as e:
            raise SystemExit(f"errors: {e}") from None
        problems = []
        if proc.returncode != 0:
            problems.append(f"{proc.describe()}, not with status 0")
        events = lab.events(event=None)
        output = proc.stdout + proc.stderr
        problems += unmatched(events, variant["expect"])
        problems += [f"{e['call']} failed with {e['errno']} but the trace "
                     f"has no explanation for it (trace/explanations.def)"
                     for e in events if e.get("errno") and "explain" not in e]
        left = sorted(p.name for p in lab.dir.iterdir()
                      if not p.name.startswith("."))
        if left:
            problems.append(f"left behind in its directory: {left}")
        pids = processes_holding(lab.collector.fifo)
        if pids:
            problems.append(f"left processes running: {pids}")
    left = set(glob.glob(ORDINARY_DIRS)) - before
    if left:
        problems.append(f"left directories behind: {sorted(left)}")
    return Result(variant, events, proc, output, problems)


# -- the catalogue table and document ------------------------------------------

def print_table(results, unprovoked):
    wide = max(len(r.variant["name"]) for r in results)
    lesson = None
    for r in results:
        v = r.variant
        if v["lesson"] != lesson:
            lesson = v["lesson"]
            print(f"\n{lesson}")
        mark = "skipped" if r.skipped else "ok" if r.ok else "DIFFERS"
        print(f"  {mark:<7} {v['name']:<{wide}}  {v['call']:<9} {outcome(v)}")
        print(textwrap.fill(v["meaning"], 79, initial_indent=" " * 10,
                            subsequent_indent=" " * 10))
        if r.skipped:
            print(textwrap.fill(f"not run: {r.skipped}", 79,
                                initial_indent=" " * 10,
                                subsequent_indent=" " * 10))
    if unprovoked:
        print("\nDocumented errors no variant provokes yet, and why:")
        for u in unprovoked:
            print(textwrap.fill(f"{u['call']} {u['errno']}: {u['why']}", 79,
                                initial_indent="  ",
                                subsequent_indent=" " * 6))


def markdown():
    data = catalogue()
    out = [data["title"], "", *data["about"], ""]
    lesson = None
    for v in variants():
        if v["lesson"] != lesson:
            lesson = v["lesson"]
            out += ["", f"## {lesson}", "",
                    "| variant | call | outcome | what it means |",
                    "|---|---|---|---|"]
        out.append(f"| [{v['name']}]({v['lesson']}/errors/{v['name']}.c) | "
                   f"{v['call']} | {outcome(v)} | {v['meaning']} |")
    out += ["", "## Documented errors no variant provokes yet", "",
            "| call | errno | why not |", "|---|---|---|"]
    for u in data["not_provokable"]:
        out.append(f"| {u['call']} | {u['errno']} | {u['why']} |")
    return "\n".join(out) + "\n"


def show(name):
    found = [v for v in variants() if v["name"] == name]
    if not found:
        print(f"errors: no variant {name}; `make errors` lists them all",
              file=sys.stderr)
        return 2
    v = found[0]
    print(f"{v['lesson']}/errors/{name}.c: {v['meaning']}\n", flush=True)
    result = run(v, quiet=False)
    print(f"\nDeclared outcome: {outcome(v)}")
    if result.skipped:
        print(f"Not run: {result.skipped}")
        return 0
    if result.ok:
        print("Observed: the same, and nothing was left behind.")
        return 0
    print("Observed something else:")
    for problem in result.problems:
        print(f"    {problem}")
    return 1


def main(argv):
    if argv == ["--markdown"]:
        sys.stdout.write(markdown())
        return 0
    if len(argv) == 2 and argv[0] == "--show":
        return show(argv[1])
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    lesson = argv[0] if argv else None
    chosen = variants(lesson)
    if not chosen:
        print(f"errors: no variants for lesson {lesson}", file=sys.stderr)
        return 2
    results = [run(v) for v in chosen]
    unprovoked = [] if lesson else catalogue()["not_provokable"]
    print_table(results, unprovoked)
    failed = [r for r in results if not r.ok]
    skipped = [r for r in results if r.skipped]
    for r in failed:
        print("\n" + r.report(), file=sys.stderr)
    print(f"\n{len(results) - len(failed) - len(skipped)} of {len(results)}"
          f" variants show their declared outcome.")
    if skipped:
        print(f"{len(skipped)} could not run on this kernel: "
              f"{', '.join(r.variant['name'] for r in skipped)}.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
