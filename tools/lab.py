"""The lab's commands that run programs: the Makefile calls them.

    lab.py run lessons|solutions LESSON   make lesson / make solution
    lab.py demo                           make demo
    lab.py errors [LESSON]                make errors [N=..]: the catalogue
    lab.py errors --show NAME             make errors V=NAME
    lab.py errors --markdown              lessons/ERRORS.md, from errors.json
    lab.py timeline [--svg OUT] TRACE...  make timeline TRACE=..
    lab.py timeline [--svg OUT] --run solutions|lessons LESSON
    lab.py timeline [--svg OUT] --variant NAME
    lab.py pictures                       make pictures
    lab.py strace solutions|lessons LESSON
    lab.py strace --variant NAME          make strace N=.. / V=..

The work is done by the library modules: labrun (running programs and
collecting their trace), manifest (lessons.json, errors.json), tracetext
(the words of the trace), timeline (drawing), strace_compare.
"""
import shutil
import sys
import textwrap
from pathlib import Path

import classroom
import labrun
import manifest
import timeline
import tracetext
from labrun import BUILD, ROOT, Lab


def where(path):
    """A path as the learner types it: relative to the lab when inside."""
    path = Path(path)
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def bold_codes():
    style = tracetext.Style(tracetext.colour_on(sys.stdout))
    return style.bold, style.reset


def say(text):
    labrun.say(text, bold_codes())


# -- make lesson, make solution, make demo -------------------------------------

def run(code, lesson_id):
    lesson = manifest.lesson_by_id(lesson_id)
    if lesson is None:
        print(f"lab.py: no lesson {lesson_id}", file=sys.stderr)
        return 2
    workdir = BUILD / "run" / code / lesson_id
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    say(f"{code}/{lesson_id}: {lesson['see']}")
    say(f"working in {where(workdir)}")
    with Lab(BUILD / code / lesson_id, quiet=False, workdir=workdir,
             keep_trace=workdir / "trace.jsonl") as lab:
        try:
            labrun.run_steps(lab, code, lesson, bold_codes())
        except labrun.StepFailed as e:
            print(f"\n{code}/{lesson_id}: {e}", file=sys.stderr)
            return 1
    say(f"the JSON trace is in {workdir / 'trace.jsonl'}")
    return 0


def demo():
    """Runs the last lesson's solution quietly, then shows its trace.

    Two processes printing as they go can print a little out of order; the
    demo shows the collected trace in causal order instead.
    """
    lesson = manifest.lesson_by_id(manifest.listed()["demo"])
    say("The whole lifecycle: a server and two clients.")
    trace_copy = BUILD / "demo-trace.jsonl"
    trace_copy.unlink(missing_ok=True)
    with Lab(BUILD / "solutions" / lesson["id"], quiet=True,
             keep_trace=trace_copy) as lab:
        try:
            labrun.run_steps(lab, "solutions", lesson, bold_codes())
            failed = None
        except labrun.StepFailed as e:
            failed = e
        events = lab.events(event=None)
        outputs = [(p, p.stdout + p.stderr) for p in lab.procs]
    say("The trace: [role pid] call(arguments) = result  source:line")
    colour = tracetext.colour_on(sys.stdout)
    for _, shown in tracetext.as_shown(tracetext.in_causal_order(events)):
        for event in shown:  # a run of like calls counted, as on stderr
            print(tracetext.show(event, colour))
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
    say(f"done: nothing left behind; the JSON trace is in {where(trace_copy)}")
    return 0


# -- make errors ------------------------------------------------------------------

def run_variant(variant, quiet=True):
    try:
        return labrun.run_variant(variant, quiet)
    except FileNotFoundError as e:
        raise SystemExit(f"errors: {e}") from None


def print_table(results, unprovoked):
    wide = max(len(r.variant["name"]) for r in results)
    lesson = None
    for r in results:
        v = r.variant
        if v["lesson"] != lesson:
            lesson = v["lesson"]
            print(f"\n{lesson}")
        mark = "skipped" if r.skipped else "ok" if r.ok else "DIFFERS"
        print(f"  {mark:<7} {v['name']:<{wide}}  {v['call']:<9} "
              f"{manifest.outcome(v)}")
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


def show_variant(name):
    v = manifest.variant_by_name(name)
    if v is None:
        print(f"errors: no variant {labrun.typed(name)}; `make errors` "
              "lists them all", file=sys.stderr)
        return 2
    print(f"{v['lesson']}/errors/{name}.c: {v['meaning']}\n", flush=True)
    result = run_variant(v, quiet=False)
    print(f"\nDeclared outcome: {manifest.outcome(v)}")
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


def errors(argv):
    if argv == ["--markdown"]:
        sys.stdout.write(manifest.errors_markdown())
        return 0
    if len(argv) == 2 and argv[0] == "--show":
        return show_variant(argv[1])
    if len(argv) > 1:
        print(__doc__, file=sys.stderr)
        return 2
    lesson = argv[0] if argv else None
    chosen = manifest.variants(lesson)
    if not chosen:
        print(f"errors: no variants for lesson {lesson}", file=sys.stderr)
        return 2
    results = [run_variant(v) for v in chosen]
    unprovoked = [] if lesson else manifest.catalogue()["not_provokable"]
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


# -- make timeline, make pictures -----------------------------------------------------

PICTURES = ROOT / "pictures" / "lessons"
ERROR_PICTURES = ROOT / "pictures" / "errors"


def lesson_picture(lesson_id, code="solutions", events=None):
    """The sequence diagram of a lesson, from a fresh run of its steps (or
    from the events of one)."""
    lesson = manifest.lesson_by_id(lesson_id)
    if events is None:
        events, lesson = labrun.record_lesson(code, lesson_id)
    return timeline.sequence_svg(timeline.Trace(events),
                                 manifest.lesson_title(lesson), lesson["see"])


def error_sheet(lesson_id, variants, runs=None):
    """One picture for a lesson's deliberate errors: a diagram per variant,
    its failing call in red; runs, the events of each variant's run, by
    name (run now when not given)."""
    runs = runs or {v["name"]: run_variant(v).events for v in variants}
    panels = [(timeline.Trace(runs[v["name"]]), v["name"], v["meaning"])
              for v in variants]
    return timeline.sheet_svg(
        f"Lesson {manifest.number(lesson_id)}: deliberate errors",
        "each program makes one mistake; the failing call is red, and the "
        "note under it says why", panels)


def pictures():
    """Redraws pictures/lessons/*.svg and pictures/errors/*.svg."""
    PICTURES.mkdir(parents=True, exist_ok=True)
    for lesson_id in manifest.lesson_ids():
        path = PICTURES / f"{lesson_id}.svg"
        path.write_text(lesson_picture(lesson_id), encoding="utf-8")
        print(f"drew {where(path)}")
    for lesson_id, variants in manifest.variant_groups().items():
        ERROR_PICTURES.mkdir(parents=True, exist_ok=True)
        path = ERROR_PICTURES / f"{lesson_id}.svg"
        path.write_text(error_sheet(lesson_id, variants), encoding="utf-8")
        print(f"drew {where(path)}")
    return 0


def timeline_command(argv):
    import argparse
    parser = argparse.ArgumentParser(
        prog="make timeline",
        description="Draws a run: a timeline on the terminal, and with "
        "--svg a sequence diagram.")
    parser.add_argument("traces", nargs="*", help="JSON trace files")
    parser.add_argument("--run", nargs=2, metavar=("CODE", "LESSON"),
                        help="run a lesson (CODE: solutions or lessons)")
    parser.add_argument("--svg", help="write a sequence diagram here")
    parser.add_argument("--title", help="the title of the diagram")
    parser.add_argument("--variant", metavar="NAME",
                        help="run one deliberate error (make errors)")
    opts = parser.parse_args(argv)
    if opts.svg is not None:
        classroom.refuse_output("make timeline", opts.svg, timeline.is_drawing,
                                "a diagram that make timeline drew")
    intro = ""
    if opts.run:
        code, lesson_id = opts.run
        if code not in ("solutions", "lessons"):
            parser.error("--run takes solutions or lessons")
        keep = BUILD / "run" / code / f"{lesson_id}.jsonl"
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.unlink(missing_ok=True)
        events, lesson = labrun.record_lesson(code, lesson_id, keep)
        title = opts.title or manifest.lesson_title(lesson)
        intro = lesson["see"]
        print(f"{code}/{lesson_id}: {lesson['see']}")
        print(f"(the JSON trace is in {keep})")
    elif opts.variant:
        variant = manifest.variant_by_name(opts.variant)
        if variant is None:
            parser.error(f"no deliberate error {labrun.typed(opts.variant)} "
                         "in the catalogue (make errors lists them)")
        events = run_variant(variant).events
        title = opts.title or variant["name"]
        intro = variant["meaning"]
        print(f"{title}: {intro}")
    elif opts.traces:
        events = timeline.load(opts.traces)
        title = opts.title or ", ".join(Path(p).name for p in opts.traces)
    else:
        parser.print_usage(sys.stderr)
        print("make timeline: give TRACE=FILE, N=.. or V=..",
              file=sys.stderr)
        return 2
    trace = timeline.Trace(events)
    for line in timeline.timeline(trace, tracetext.colour_on(sys.stdout)):
        print(line)
    if opts.svg is not None:
        with classroom.replacing(opts.svg) as f:
            f.write(timeline.sequence_svg(trace, title, intro).encode())
        print(f"drew {opts.svg}")
    return 0


# -- make strace ----------------------------------------------------------------

def strace(argv):
    import strace_compare
    if len(argv) == 2 and argv[0] == "--variant":
        variant = manifest.variant_by_name(argv[1])
        if variant is None:
            print(f"make strace: no error variant {labrun.typed(argv[1])} "
                  "in the catalogue", file=sys.stderr)
            return 2
        run_it = lambda: strace_compare.run_variant(variant)  # noqa: E731
    elif len(argv) == 2 and argv[0] in ("solutions", "lessons"):
        run_it = lambda: strace_compare.run_lesson(*argv)  # noqa: E731
    else:
        print(__doc__, file=sys.stderr)
        return 2
    why_not = strace_compare.usable()
    if why_not:
        print(f"make strace: {why_not}", file=sys.stderr)
        return 2
    return strace_compare.compare(*run_it())


def main(argv):
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    if command == "run" and len(args) == 2 and \
            args[0] in ("lessons", "solutions"):
        return run(*args)
    if command == "demo" and not args:
        return demo()
    if command == "errors":
        return errors(args)
    if command == "timeline":
        return timeline_command(args)
    if command == "pictures" and not args:
        return pictures()
    if command == "strace":
        return strace(args)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    labrun.run_tool(main)
