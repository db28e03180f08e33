"""The documents' excerpts of real runs, held to what the programs print now.

A document quotes a run in its code blocks: trace lines for people,
"[role pid] call(arguments) = result  file:line", each with the lines
indented under it (the note, why, fix, see), and JSON trace lines. Each
quoted trace line, with its indented lines, must be what a real run of the
lesson's solution prints today, but for the pid (and, in JSON, the times);
and every source position a document names, solutions/NN-name/prog.c:LINE,
must be the place of a call that a real run traces. When the code moves,
or the trace's format changes, the excerpts go stale, and
test_lesson_docs.py says which excerpt and what the real line is.

The real runs are each lesson's steps (lessons/lessons.json), as
`make solution` runs them, and the few other scenes the documents quote
(SCENES): the programs print their trace on standard error, as on a
terminal without colour.

    excerpts.py            list the stale excerpts (make first; LAB_BUILD
                           as the Makefile sets it, or build/)
    excerpts.py --update   rewrite each stale excerpt from a fresh run
                           (the closest real line of the same role and call),
                           keeping the pids of the document
"""
import difflib
import json
import os
import re
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import labrun  # noqa: E402
import manifest  # noqa: E402

ROOT = labrun.ROOT
DOCS = [ROOT / "README.md", ROOT / "trace" / "TRACE.md",
        *sorted((ROOT / "lessons").glob("[0-9][0-9]-*/README.md"))]

# The scenes the documents quote besides each lesson's steps, in the same
# words as lessons/lessons.json, and two more: "interrupt", a SIGINT to the
# background program once it waits in accept; and a last argument that is
# a dict, the environment the program gets besides (LAB_FAULTS).
SCENES = {
    "02-bind": [[["run", "server"], ["run", "server"]]],  # the file is left
    "04-accept-connect": [[["run", "client"]]],  # no server
    "06-close": [[["start", "server"], ["interrupt"]],  # Ctrl-C
                 # reads of one byte: a run of reads and writes
                 [["start", "server", "-n", "1", {"LAB_FAULTS": "read<=1"}],
                  ["wait", "listen"],
                  ["run", "client", "lab.sock", "hello, socket, and more"],
                  ["wait-exit"]]],
    # a line longer than the collector's buffer, cut; then an empty one
    "10-datagram": [[["start", "collector", "-n", "2"], ["wait", "bind"],
                     ["run", "logger", "log.sock", "x" * 3000, ""],
                     ["wait-exit"]]],
}

TRACE_LINE = re.compile(r"^\[(\S+) (\d+)\] (\w+)[( ]")
# Another process's pid, in a note: "sent by process 7563".
PID_IN_NOTE = re.compile(r"\b(process|child) \d+")
# A pid in a call's line: what fork and waitpid return, whom kill and
# waitpid name.
PID_IN_CALL = re.compile(r"(\b(?:fork|waitpid)\([^)]*\) = |\b(?:kill|waitpid)\()"
                         r"[1-9]\d*")
UNDER = re.compile(r"^    (-> |why: |fix: |see: )")
POSITION = re.compile(r"\b(solutions/\d\d-[\w-]+/\w+\.c):(\d+)\b")
JSON_TIMES = re.compile(r'"(ts|pid|start)":\d+')


def normal(text):
    """Trace lines without their pid, nor the pids of their notes."""
    lines = []
    for line in text.split("\n"):
        if TRACE_LINE.match(line):
            line = PID_IN_CALL.sub(lambda m: f"{m.group(1)}PID", line)
        line = TRACE_LINE.sub(lambda m: f"[{m.group(1)} PID] {m.group(3)}"
                              f"{m.group(0)[-1]}", line, count=1)
        lines.append(PID_IN_NOTE.sub(lambda m: f"{m.group(1)} PID", line)
                     if line.startswith("    ->") else line)
    return "\n".join(lines)


def blocks(text):
    """The trace lines of a text, each with the lines indented under it:
    [(index of its first line, [lines])]."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        if TRACE_LINE.match(lines[i]):
            j = i + 1
            while j < len(lines) and UNDER.match(lines[j]):
                j += 1
            found.append((i, lines[i:j]))
            i = j
        else:
            i += 1
    return found


# -- the real runs ------------------------------------------------------------

class Run:
    """What the real runs of a lesson's solution printed and traced."""

    def __init__(self):
        self.blocks = []     # [[line, ...]]: trace lines with their pid
        self.json = []       # the raw JSON trace lines
        self.positions = set()  # (file, line) of every traced call


def play(lab, steps):
    """Plays a scene; returns the processes it started."""
    trace_on = {"LAB_TRACE": "1"}
    background = []
    for step in steps:
        kind, args = step[0], step[1:]
        env = trace_on
        if args and isinstance(args[-1], dict):
            args, env = args[:-1], {**trace_on, **args[-1]}
        if kind == "run":
            lab.run(args[0], *args[1:], env=env)
        elif kind == "start":
            background.append(lab.start(args[0], *args[1:], env=env))
        elif kind == "wait":
            lab.wait_for(args[0], proc=background[-1], ret=0)
        elif kind == "stop":
            for proc in background:
                if proc.name in labrun.PEERS and \
                        proc.wait(labrun.WAIT) is not None:
                    continue  # it ended with its server
                labrun.settle(lab, proc)
                lab.stop(proc)
        elif kind == "connect":
            silent, _ = labrun.connect_silent(lab, background[-1])
            if silent is not None:
                background.append(silent)
        elif kind == "wait-exit":
            for proc in background:
                proc.wait(labrun.WAIT)
        elif kind == "interrupt":
            server = background[-1]
            lab.wait_for(labrun.ACCEPTS, proc=server, event="wait")
            lab.stop(server, signal.SIGINT)
        elif kind != "ls":
            raise ValueError(f"excerpts: unknown step {step}")
    for proc in background:
        if proc.popen.poll() is None:
            lab.stop(proc)


def run_lesson(lesson):
    """Every scene of a lesson's solution, each in a fresh directory."""
    steps = next(x["steps"] for x in manifest.lessons()
                 if x["id"] == lesson)
    seen = Run()
    for scene in [steps, *SCENES.get(lesson, [])]:
        handle, name = tempfile.mkstemp(prefix="lab-excerpts-",
                                        suffix=".jsonl", dir="/tmp")
        os.close(handle)
        copy = Path(name)
        try:
            with labrun.Lab(labrun.BUILD / "solutions" / lesson,
                            keep_trace=copy) as lab:
                play(lab, scene)
                for proc in lab.procs:
                    proc.wait(labrun.WAIT)
                    seen.blocks += [b for _, b in blocks(proc.stderr)]
                for event in lab.events(event=None):
                    seen.positions.add((event["file"], event["line"]))
            seen.json += copy.read_text().splitlines()
        finally:
            copy.unlink(missing_ok=True)
    return seen


# -- the excerpts -------------------------------------------------------------

class Excerpt:
    """A trace line of a document (with its indented lines), a JSON trace
    line, or a source position; and what a real run prints instead."""

    def __init__(self, doc, number, lines, kind):
        self.doc, self.number, self.lines, self.kind = doc, number, lines, kind
        self.real = None  # the closest real text, when stale

    @property
    def lesson(self):
        """The lesson whose solution printed the excerpt, or None."""
        if self.kind == "json":
            file = json.loads(self.lines[0]).get("file", "")
        else:
            found = POSITION.search(self.lines[0])
            file = found.group(1) if found else ""
        parts = file.split("/")
        return parts[1] if len(parts) == 3 and parts[0] == "solutions" \
            else None

    def where(self):
        return f"{self.doc.relative_to(ROOT)}:{self.number}"

    def report(self):
        said = "\n".join(f"    {line}" for line in self.lines)
        if self.kind == "position":
            return (f"{self.where()} names {self.lines[0]}, where no real "
                    f"run of the solution makes a traced call")
        real = "\n".join(f"    {line}" for line in self.real or [])
        return (f"{self.where()} quotes a run:\n{said}\nbut a real run of "
                f"solutions/{self.lesson} prints "
                + (f"(closest line):\n{real}" if self.real else
                   "no such call at all"))


def code_blocks(text):
    """(first line number, text) of each fenced code block."""
    for m in re.finditer(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S):
        yield text.count("\n", 0, m.start(1)) + 1, m.group(1)


def excerpts():
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for first, code in code_blocks(text):
            for i, lines in blocks(code):
                found.append(Excerpt(doc, first + i, lines, "trace"))
            for i, line in enumerate(code.splitlines()):
                if line.startswith('{"ts":'):
                    found.append(Excerpt(doc, first + i, [line], "json"))
        # Source positions in the prose (the code blocks' are in their
        # trace lines).
        prose = re.sub(r"^```.*?^```", lambda m: re.sub(r"[^\n]", " ",
                                                        m.group(0)),
                       text, flags=re.M | re.S)
        for m in POSITION.finditer(prose):
            found.append(Excerpt(doc, prose.count("\n", 0, m.start()) + 1,
                                 [m.group(0)], "position"))
    return found


def closest(excerpt, run):
    """The real lines closest to an excerpt's, of the same role and call."""
    said = excerpt.lines[0]
    if excerpt.kind == "json":
        said = JSON_TIMES.sub("", said)
        pool = [[line] for line in run.json
                if json.loads(line).get("call") == json.loads(
                    excerpt.lines[0]).get("call")]
        key = [JSON_TIMES.sub("", p[0]) for p in pool]
    else:
        head = TRACE_LINE.match(said)
        pool = [b for b in run.blocks
                if TRACE_LINE.match(b[0]).group(1, 3) == head.group(1, 3)]
        key = [normal("\n".join(b)) for b in pool]
        said = normal("\n".join(excerpt.lines))
    if not pool:
        return None
    ratios = [difflib.SequenceMatcher(None, said, k).ratio() for k in key]
    return pool[ratios.index(max(ratios))]


def is_real(excerpt, run):
    if excerpt.kind == "position":
        file, line = excerpt.lines[0].rsplit(":", 1)
        return (file, int(line)) in run.positions
    if excerpt.kind == "json":
        said = JSON_TIMES.sub("", excerpt.lines[0])
        return any(JSON_TIMES.sub("", line) == said for line in run.json)
    said = [normal(line) for line in excerpt.lines]
    return any([normal(line) for line in b] == said for b in run.blocks)


# A "... waiting" line depends on timing: the data, or the client, may
# already be there when the call is made. Such a line is looked for in up
# to this many runs more before it is called stale.
MORE_RUNS = 5


def waits(excerpt):
    return excerpt.kind == "trace" and " ... waiting  " in excerpt.lines[0]


def stale(runs=None):
    """The excerpts that no real run prints (each with its closest real
    lines), and the excerpts that name no lesson's solution."""
    runs = {} if runs is None else runs
    found = []
    for excerpt in excerpts():
        lesson = excerpt.lesson
        if lesson is None:
            excerpt.real = None
            found.append(excerpt)
            continue
        if lesson not in runs:
            runs[lesson] = run_lesson(lesson)
        more = MORE_RUNS if waits(excerpt) else 0
        while not is_real(excerpt, runs[lesson]) and more > 0:
            again = run_lesson(lesson)
            runs[lesson].blocks += again.blocks
            more -= 1
        if not is_real(excerpt, runs[lesson]):
            if excerpt.kind != "position":
                excerpt.real = closest(excerpt, runs[lesson])
            found.append(excerpt)
    return found


# -- regenerating -------------------------------------------------------------

def with_pid_of(real, said):
    """A real line with the pid (and JSON times) of the document's line."""
    if TRACE_LINE.match(said):
        pid = TRACE_LINE.match(said).group(2)
        return TRACE_LINE.sub(lambda m: f"[{m.group(1)} {pid}] {m.group(3)}"
                              f"{m.group(0)[-1]}", real, count=1)
    values = dict(re.findall(r'"(ts|pid|start)":(\d+)', said))
    return JSON_TIMES.sub(lambda m: f'"{m.group(1)}":'
                          f'{values.get(m.group(1), "0")}', real)


def with_pids_kept(real, said):
    """The real lines (a trace line and the lines under it) with the pid
    of the document's, and with the pids its lines give other processes
    (what fork returns, whom kill names, "sent by process N") where a line
    of each kind names as many: an excerpt's pids stay those of one run."""
    kept = [with_pid_of(real[0], said[0]), *real[1:]]
    for i, before in enumerate(said[:len(real)]):
        line = kept[i]
        if bool(TRACE_LINE.match(line)) != bool(TRACE_LINE.match(before)):
            continue
        for pattern in (PID_IN_CALL, PID_IN_NOTE):
            theirs = [m.group(0) for m in pattern.finditer(before)]
            if theirs and len(theirs) == len(pattern.findall(line)):
                mine = iter(theirs)
                line = pattern.sub(lambda m: next(mine), line)
        kept[i] = line
    return kept


def update(found):
    """Rewrites the stale excerpts that have a closest real line, and the
    source positions in the prose that the same document's rewritten
    trace lines moved; returns the excerpts it could not rewrite."""
    left = []
    by_doc = {}
    for excerpt in found:
        by_doc.setdefault(excerpt.doc, []).append(excerpt)
    for doc, stale_here in by_doc.items():
        lines = doc.read_text(encoding="utf-8").split("\n")
        moved = {}
        for excerpt in sorted(stale_here, key=lambda e: -e.number):
            if excerpt.kind == "position" or excerpt.real is None:
                continue
            start = excerpt.number - 1
            real = with_pids_kept(excerpt.real, excerpt.lines)
            old, new = (POSITION.search(x[0]) for x in (excerpt.lines, real))
            if old and new and old.group(1) == new.group(1):
                moved[old.group(0)] = new.group(0)
            lines[start:start + len(excerpt.lines)] = real
        for excerpt in sorted(stale_here, key=lambda e: -e.number):
            if excerpt.kind == "position" and excerpt.lines[0] in moved:
                i = excerpt.number - 1
                lines[i] = re.sub(re.escape(excerpt.lines[0]) + r"\b",
                                  moved[excerpt.lines[0]], lines[i])
            elif excerpt.kind == "position" or excerpt.real is None:
                left.append(excerpt)
        doc.write_text("\n".join(lines), encoding="utf-8")
    return left


def main(argv):
    found = stale()
    if argv == ["--update"]:
        left = update(found)
        print(f"{len(found) - len(left)} excerpts rewritten from real runs.")
        for excerpt in left:
            print("\n" + excerpt.report())
        return 1 if left else 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    for excerpt in found:
        print(excerpt.report() + "\n")
    print(f"{len(found)} stale excerpts.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
