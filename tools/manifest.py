"""The lab's manifests, read in one place.

    lessons/lessons.json   the lessons in order, their steps and points
    lessons/errors.json    the deliberate-error variants and what each shows
    lessons/hints.json     the hints of make hint, and the mistakes it knows

This module only reads and describes them; running a lesson's steps or a
variant is labrun's work, and the commands are in lab.py and classroom.py.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "lessons"


def _load(name):
    with open(LESSONS_DIR / name, encoding="utf-8") as f:
        return json.load(f)


# -- lessons/lessons.json ----------------------------------------------------

def listed():
    """lessons/lessons.json, whole: {"lessons": [...], "demo": ID}."""
    return _load("lessons.json")


def lessons():
    return listed()["lessons"]


def lesson_ids():
    return [lesson["id"] for lesson in lessons()]


def lesson_by_id(lesson_id):
    """The lesson's entry, or None when lessons.json has no such lesson."""
    return next((lesson for lesson in lessons() if lesson["id"] == lesson_id),
                None)


def lesson_programs(lesson_id):
    """The programs a lesson's steps run, in order ("server", "client"): the
    lesson's own; a learner's NAME.c beside them is none of them."""
    found = []
    for step in lesson_by_id(lesson_id)["steps"]:
        if step[0] in ("run", "start") and step[1] not in found:
            found.append(step[1])
    return found


def part_of(lesson):
    """The part of the lab a lesson belongs to: 1, 2..."""
    return lesson.get("part", 1)


def parts():
    """The parts of the lab, in order: [{"part": N, "title": ..., "lessons":
    [lesson ids], "points": the sum of their points}]. A part is worth what
    its lessons are worth: a part still being written is out of less."""
    found = []
    for entry in listed().get("parts", [{"part": 1, "title": "the lab"}]):
        mine = [lesson for lesson in lessons()
                if part_of(lesson) == entry["part"]]
        found.append(dict(entry, lessons=[lesson["id"] for lesson in mine],
                          points=sum(lesson.get("points", 0)
                                     for lesson in mine)))
    return found


def number(lesson_id):
    """"04" for "04-accept-connect"."""
    return lesson_id[:2]


def lesson_title(lesson):
    return f"Lesson {number(lesson['id'])}: {lesson['stage']}"


# -- lessons/errors.json -------------------------------------------------------

def catalogue():
    return _load("errors.json")


def variants(lesson=None):
    """The variants, in lesson order; lesson is "04" or "04-accept-connect"."""
    found = catalogue()["variants"]
    if lesson:
        found = [v for v in found if v["lesson"].startswith(lesson)]
    return sorted(found, key=lambda v: v["lesson"])


def variant_by_name(name):
    return next((v for v in variants() if v["name"] == name), None)


def variant_groups():
    """{lesson: [variant, ...]}, in lesson order."""
    groups = {}
    for variant in variants():
        groups.setdefault(variant["lesson"], []).append(variant)
    return groups


# What a variant must show is a list of expected trace events, each a call
# and the fields it must have:
#     {"call": "bind", "errno": "EADDRINUSE"}     the call failed so
#     {"call": "read", "ret": 0}                  read returned 0
#     {"call": "connect", "errno": null, "count": 3}
#                                                 exactly 3 connects succeeded
#     {"call": "waitpid", "signal": "SIGPIPE"}    a child was killed so
#     {"call": "read", "event": "wait"}           a read announced a wait
#     {"call": "accept", "errno": "EMFILE", "at_least": 100}
#                                                 a loop: 100 such calls or more
# A field is looked up in the event (ret, errno, role), else in its args
# (bound, signal, flags...).  Without "count" or "at_least", at least one
# event must match; each expectation takes its own event.  A variant may
# also say what it must print ("prints": regular expressions), for what
# only the variant itself can see (/proc, the CPU time).
RESERVED = {"call", "count", "at_least", "event"}


def field(event, key):
    if key in event:
        return event[key]
    return event["args"].get(key)


def weight(event):
    """How many calls an event stands for: a "repeat" event, the calls a
    run of like calls hid from the JSON (trace/TRACE.md, "Runs"; none for
    the last report of a run whose calls are all in the JSON); any other,
    one."""
    return event.get("repeat", 0) if event["event"] == "repeat" else 1


def stands_for_none(event):
    """A "repeat" event that stands for no call: its calls are all in the
    JSON already, or were counted by an earlier one."""
    return event["event"] == "repeat" and not event.get("repeat")


def kind_of(event):
    """A "repeat" event is returned calls, for the expectations."""
    return "return" if event["event"] == "repeat" else event["event"]


def fulfils(event, expect):
    return (event["call"] == expect["call"] and not stands_for_none(event)
            and kind_of(event) == expect.get("event", "return")
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
    if "at_least" in expect:
        text += f", {expect['at_least']} times or more"
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
                 if i not in used and fulfils(e, expect)]
        if "count" in expect or "at_least" in expect:
            times = sum(weight(events[i]) for i in found)
            if times != expect.get("count", times) or \
                    times < expect.get("at_least", 0):
                seen = "once" if times == 1 else f"{times} times"
                missing.append(f"{describe(expect)}: seen {seen}")
            used.update(found)
        elif found:
            used.add(found[0])
        else:
            missing.append(f"{describe(expect)}: not seen")
    return missing


def errors_markdown():
    """The catalogue as a document: lessons/ERRORS.md."""
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


# -- lessons/hints.json ----------------------------------------------------------

def hints():
    return _load("hints.json")


def matches(event, pattern):
    """Whether a trace event has every field of a hints.json pattern.

    A key ending in ">" compares: {"ret>": 0} is a return above 0.  A
    dotted key looks inside: {"args.fd": 4}.  The event kind is "return"
    unless the pattern says otherwise.
    """
    pattern = {"event": "return", **pattern}
    if stands_for_none(event):
        return False
    for key, want in pattern.items():
        above = key.endswith(">")
        have = event
        for part in key.rstrip(">").split("."):
            have = have.get(part) if isinstance(have, dict) else None
        if key == "event":
            have = kind_of(event)
        if above:
            if not isinstance(have, (int, float)) or have <= want:
                return False
        elif isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def _fd(event):
    return (event.get("args") or {}).get("fd")


def mistake_in(mistake, events):
    """Whether a trace shows a mistake described in hints.json."""
    seen = [e for e in events if matches(e, mistake["seen"])]
    if "count" in mistake and sum(map(weight, seen)) != mistake["count"]:
        return False
    if not seen:
        return False
    if "none" in mistake and any(matches(e, mistake["none"]) for e in events):
        return False
    if "none_before" in mistake:
        first = seen[0]
        if any(matches(e, mistake["none_before"]) and e["pid"] == first["pid"]
               and e["ts"] < first["ts"] for e in events):
            return False
    if "earlier_same_fd" in mistake:
        seen = [e for e in seen if any(
            matches(x, mistake["earlier_same_fd"]) and x["pid"] == e["pid"]
            and x["ts"] < e["ts"] and _fd(x) == _fd(e) for x in events)]
        if not seen:
            return False
    if "same_fd_at_least" in mistake:
        # Counted per connection: a close of the fd starts the count again
        # (the next accept may return the same number).
        counts, most = {}, 0
        for e in sorted(events, key=lambda e: e["ts"]):
            key = (e["pid"], _fd(e))
            if e["call"] == "close" and e.get("event") == "return":
                counts.pop(key, None)
            elif matches(e, mistake["seen"]):  # a run's hidden calls too
                counts[key] = counts.get(key, 0) + weight(e)
                most = max(most, counts[key])
        if most < mistake["same_fd_at_least"]:
            return False
    if "later_same_fd" in mistake:
        first = seen[0]
        fd = (first.get("args") or {}).get("fd")
        if not any(matches(e, mistake["later_same_fd"]) and
                   e["pid"] == first["pid"] and e["ts"] > first["ts"] and
                   (e.get("args") or {}).get("fd") == fd for e in events):
            return False
    return True
