"""The lab's runner: make lesson, make solution and make demo call it.

    lab.py run lessons|solutions LESSON   run a lesson's steps, with the trace
    lab.py demo                           the whole lifecycle, in a temporary
                                          directory that is removed afterwards

The steps of each lesson are in lessons/lessons.json.
"""
import shutil
import sys

import labrun
import timeline
from labrun import BUILD, ROOT, Lab

BOLD, RESET = ("\033[1m", "\033[0m") if timeline.use_colour() else ("", "")


def lesson_by_id(lesson_id):
    for lesson in labrun.listed()["lessons"]:
        if lesson["id"] == lesson_id:
            return lesson
    raise SystemExit(f"lab.py: no lesson {lesson_id}")


def say(text):
    print(f"{BOLD}==> {text}{RESET}", flush=True)


class StepFailed(Exception):
    pass


def settle(lab, proc):
    """Lets a server that serves in a loop finish with its last client.

    Stopped at once, it could be anywhere in its last close(2); once it
    waits in accept(2) again, the trace (and a picture drawn from it) ends
    the same way every time.
    """
    if not lab.events("accept", proc=proc, event=None):
        return
    since = max((e.get("start", e["ts"]) for e in lab.events(event=None)
                 if e["pid"] != proc.pid), default=0)
    lab.wait_for("accept", proc=proc, event="wait",
                 where=lambda e: e["ts"] > since)


def run_steps(lab, code, lesson):
    """Runs the lesson's steps; raises StepFailed with advice if one fails."""
    background = []
    check = f"make check N={lesson['id'][:2]}" if code == "lessons" else \
        "make test"
    for step in lesson["steps"]:
        kind, args = step[0], step[1:]
        if kind in ("run", "start"):
            name, prog_args = args[0], args[1:]
            say(" ".join([f"./{name}", *prog_args]) +
                ("   (in the background)" if kind == "start" else ""))
            try:
                if kind == "start":
                    background.append(lab.start(name, *prog_args, stdin=None))
                    continue
                proc = lab.run(name, *prog_args, stdin=None)
            except FileNotFoundError as e:
                raise StepFailed(str(e)) from None
            if proc.returncode != 0:
                raise StepFailed(f"{proc.describe()}. Its messages and the "
                                 f"trace above say why; {check} checks it.")
        elif kind == "wait":
            server = background[-1]
            if lab.wait_for(args[0], proc=server, ret=0) is None:
                raise StepFailed(
                    f"the {server.name} made no successful {args[0]}(2) "
                    f"call within {labrun.WAIT:g} s, and "
                    f"{server.describe()}. Is the TODO of this lesson done? "
                    f"{check} says what is missing.")
        elif kind == "stop":
            for proc in background:
                settle(lab, proc)
                say(f"kill -TERM {proc.pid}   (stop the {proc.name})")
                lab.stop(proc)
        elif kind == "wait-exit":
            for proc in background:
                if proc.wait(labrun.WAIT) is None:
                    raise StepFailed(f"{proc.describe()}: it should have "
                                     f"ended by itself. {check}")
                say(proc.describe())
        elif kind == "ls":
            say("ls -l")
            entries = sorted(p for p in lab.dir.iterdir()
                             if not p.name.startswith("."))
            for p in entries:
                kind_letter = "s" if p.is_socket() else \
                    "d" if p.is_dir() else "-"
                print(f"    {kind_letter} {p.name}")
            if not entries:
                print("    (empty)")
        else:
            raise SystemExit(f"lab.py: unknown step {step}")


def run(code, lesson_id):
    lesson = lesson_by_id(lesson_id)
    workdir = BUILD / "run" / code / lesson_id
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    say(f"{code}/{lesson_id}: {lesson['see']}")
    say(f"working in {workdir.relative_to(ROOT) if workdir.is_relative_to(ROOT) else workdir}")
    with Lab(BUILD / code / lesson_id, quiet=False, workdir=workdir,
             keep_trace=workdir / "trace.jsonl") as lab:
        try:
            run_steps(lab, code, lesson)
        except StepFailed as e:
            print(f"\n{code}/{lesson_id}: {e}", file=sys.stderr)
            return 1
    say(f"the JSON trace is in {workdir / 'trace.jsonl'}")
    return 0


def demo():
    """Runs the last lesson's solution quietly, then shows its trace.

    Two processes printing as they go can print a little out of order; the
    demo shows the collected trace in causal order instead.
    """
    lesson = lesson_by_id(labrun.listed()["demo"])
    say("The whole lifecycle: a server and two clients.")
    trace_copy = BUILD / "demo-trace.jsonl"
    trace_copy.unlink(missing_ok=True)
    with Lab(BUILD / "solutions" / lesson["id"], quiet=True,
             keep_trace=trace_copy) as lab:
        try:
            run_steps(lab, "solutions", lesson)
            failed = None
        except StepFailed as e:
            failed = e
        events = lab.events(event=None)
        outputs = [(p, p.stdout + p.stderr) for p in lab.procs]
    say("The trace: [role pid] call(arguments) = result  source:line")
    colour = timeline.use_colour()
    for event in labrun.in_causal_order(events):
        print(labrun.show(event, colour))
    say("What the programs printed")
    for proc, text in outputs:
        for line in text.splitlines():
            print(f"    [{proc.name} {proc.pid}] {line}")
    say("The timeline: the server on the left, the clients on the right")
    for line in timeline.timeline(timeline.Trace(events), colour):
        print(line)
    if failed:
        print(f"\ndemo: {failed}", file=sys.stderr)
        return 1
    where = trace_copy.relative_to(ROOT) if trace_copy.is_relative_to(ROOT) \
        else trace_copy
    say(f"done: nothing left behind; the JSON trace is in {where}")
    return 0


def main(argv):
    if len(argv) == 3 and argv[0] == "run" and argv[1] in ("lessons",
                                                            "solutions"):
        return run(argv[1], argv[2])
    if argv == ["demo"]:
        return demo()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
