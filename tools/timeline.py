"""Draws what happened between processes, from the lab's JSON trace: a
timeline as text, and a sequence diagram as SVG.  `make timeline` and
`make pictures` (tools/lab.py) run the programs and call it.

Any program of the lab writes its trace as JSON lines when LAB_TRACE_FILE
is set; several processes may append to the same file, or each to its own:

    LAB_TRACE_FILE=my.jsonl ./build/solutions/06-close/server -n 1 &
    LAB_TRACE_FILE=my.jsonl ./build/solutions/06-close/client lab.sock hi
    make timeline TRACE=my.jsonl

The timeline puts the server on the left and the other processes on the
right, in the order things happened, and joins the calls that complete
each other: a connect(2) with the accept(2) that takes it (#1 -> ... <- #1),
a write(2) with the read(2) that receives its bytes, a close(2) with the
peer's read(2) of 0.  A call that had to wait shows when it started waiting
and how long it waited; a failed call shows its errno.

The sequence diagram (--svg) is drawn from the same events, in an order
that depends only on what each process did and on who waited for whom, not
on the clock: running the same programs again draws the same picture.
"""
import bisect
import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape

from tracetext import (RECEIVERS, SENDERS, Style, calls_of, causal_key, clip,
                       failed, in_order, label, preview, short_args, strip)

# Calls that can make a process wait for another one.
BLOCKING = {"accept", "connect", "read", "recv", "write", "send", "waitpid"}
# The errnos of a blocking call that waited and was ended by what the
# trace does not show: a signal, a receive timeout.
ENDED_WAITING = {"EINTR", "EAGAIN", "EWOULDBLOCK", "ETIMEDOUT"}
# Links that only say which call came first, and draw no arrow: a connect
# refused by a socket file that a bind made, not yet listening.
ORDER_ONLY = {"after"}
# Links drawn from the end of the process that caused them: a read of 0
# after the peer exited, a waitpid that reaped a process.
FROM_THE_END = {"exit", "ended"}


# -- reading traces -----------------------------------------------------------

def load(paths):
    """The events of one or several JSON trace files, in time order."""
    events = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            raise SystemExit(
                f"timeline: cannot read {path}: {e.strerror}. A lab program "
                f"writes its trace where LAB_TRACE_FILE says "
                f"(pictures/README.md shows how).") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = None
            if not isinstance(event, dict) or not TRACE_KEYS <= set(event):
                print(f"timeline: {path}:{number}: not a line of the lab's "
                      f"JSON trace, skipped", file=sys.stderr)
                continue
            events.append(event)
    return events


TRACE_KEYS = {"ts", "pid", "role", "event", "call", "args", "ret"}


def address_key(addr):
    if not isinstance(addr, dict):
        return None
    if "abstract" in addr:
        return "@" + addr["abstract"]
    if "path" in addr:
        return os.path.normpath(addr["path"])
    return None


def merge_runs(events):
    """A run of like calls that moved no bytes reports what it hid from the
    JSON on the way ("so far") and at its end: each run's last "repeat"
    event stands for all of its calls.  A run that moved bytes has each of
    its calls in the JSON: its repeat events (written at exit) stand for
    none, and are left out."""
    events = [e for e in events if not e.get("in_json")]
    last = {}
    for e in sorted(events, key=lambda e: e["ts"]):
        if e["event"] == "repeat":
            last[(e["pid"], e["file"], e["line"], e["call"],
                  e.get("member"))] = e
    merged = []
    for e in events:
        if e["event"] != "repeat":
            merged.append(e)
        elif last[(e["pid"], e["file"], e["line"], e["call"],
                   e.get("member"))] is e:
            merged.append(dict(e, repeat=e["total"]))
    return merged


class Lane:
    """One process: a column of the timeline."""

    def __init__(self, index, pid, role):
        self.index, self.pid, self.role = index, pid, role
        self.name = role
        self.events = []
        self.source = ""

    @property
    def left(self):
        return self.role == "server"


class Endpoint:
    """One end of a connection in one process, from connect/accept to close."""

    def __init__(self, opened):
        self.opened = opened
        self.peer = None
        self.io = []        # reads and writes, in order
        self.closed = None  # the close(2) or shutdown(2) that ends writing


class Trace:
    """Events of several processes, with the calls that complete each other.

    cause[n] is the index of the event that event n needed: the connect(2)
    for an accept(2), the write(2) whose bytes a read(2) returned, the
    close(2) (or shutdown(2)) behind a read(2) of 0 or an EPIPE.
    """

    def __init__(self, events):
        ordered = sorted(merge_runs(events),
                         key=lambda e: (e["ts"], e["event"] != "wait"))
        self.events = ordered
        # Processes in the order they were made (pids grow: a parent before
        # the child it forks, a server before the clients started after it).
        # Their first calls may race; this order does not.
        self.lanes = []
        by_pid = {}
        for pid in sorted({e["pid"] for e in ordered}):
            role = next(e["role"] for e in ordered if e["pid"] == pid)
            by_pid[pid] = Lane(len(self.lanes), pid, role)
            self.lanes.append(by_pid[pid])
        for e in ordered:
            by_pid[e["pid"]].events.append(e)
        self.lane_of = {id(e): by_pid[e["pid"]] for e in ordered}
        self.index = {id(e): n for n, e in enumerate(ordered)}
        roles = [lane.role for lane in self.lanes]
        for lane in self.lanes:
            if roles.count(lane.role) > 1:
                same = [x for x in self.lanes if x.role == lane.role]
                lane.name = f"{lane.role} {same.index(lane) + 1}"
            files = [e.get("file", "") for e in lane.events if e.get("file")]
            files.sort(key=lambda f: not f.endswith(".c"))  # not a header
            lane.source = os.path.basename(files[0]) if files else ""
        self.names = {lane.pid: lane.name for lane in self.lanes}
        self.cause = {}
        self.kind = {}
        self.found_from = []  # (event, event): the first came before
        self._match()

    def n(self, event):
        return self.index[id(event)]

    def _link(self, effect, cause, kind):
        if cause is not None:
            self.cause[self.n(effect)] = self.n(cause)
            self.kind[self.n(effect)] = kind

    def _match(self):
        listeners, connects, binds = [], [], []
        for lane in self.lanes:
            bound, open_ends, listening = {}, {}, {}
            for e in lane.events:
                if e["event"] == "repeat":  # a run's hidden reads or writes
                    if e["call"] in RECEIVERS | SENDERS and \
                            e["args"].get("fd") in open_ends:
                        open_ends[e["args"]["fd"]].io.append(e)
                    continue  # of 0 bytes, or failed: never a cause
                if e["event"] != "return":
                    continue
                call, args, ret = e["call"], e["args"], e["ret"]
                fd = args.get("fd")
                if call == "bind" and ret == 0:
                    bound[fd] = args.get("bound") and \
                        os.path.normpath(args["bound"]) or \
                        address_key(args.get("addr"))
                    binds.append((bound[fd], e))
                elif call == "listen" and ret == 0:
                    listening[fd] = {"key": bound.get(fd), "at": e["ts"],
                                     "listen": e, "closed": None,
                                     "queue": [], "accepts": []}
                    listeners.append(listening[fd])
                elif call == "accept" and ret >= 0 and fd in listening:
                    end = Endpoint(e)
                    listening[fd]["accepts"].append(end)
                    open_ends[ret] = end
                elif call == "connect" and ret == 0:
                    end = Endpoint(e)
                    connects.append((address_key(args.get("addr")), end))
                    open_ends[fd] = end
                elif call in RECEIVERS | SENDERS and fd in open_ends:
                    open_ends[fd].io.append(e)
                elif call == "shutdown" and ret == 0 and fd in open_ends \
                        and args.get("how") in ("SHUT_WR", "SHUT_RDWR"):
                    open_ends[fd].closed = open_ends[fd].closed or e
                elif call == "close" and ret == 0:
                    if fd in open_ends:
                        end = open_ends.pop(fd)
                        end.closed = end.closed or e
                    if fd in listening:
                        listening.pop(fd)["closed"] = e["start"]
        # The kernel queues connections in the order they were made; the
        # listener that takes one is the one listening on that name then.
        for key, end in sorted(connects, key=lambda c: c[1].opened["ts"]):
            began, ended = end.opened["start"], end.opened["ts"]

            def open_then(lis, same):  # listening while connect ran
                return same(lis["key"]) and lis["at"] <= ended and \
                    (lis["closed"] is None or lis["closed"] >= began)
            found = [lis for lis in listeners
                     if open_then(lis, lambda k: k == key)] or \
                    [lis for lis in listeners if open_then(
                        lis, lambda k: k and key and
                        os.path.basename(k) == os.path.basename(key))]
            if found:
                found[-1]["queue"].append(end)
        for lis in listeners:
            for client, server in zip(lis["queue"], lis["accepts"]):
                client.peer, server.peer = server, client
                self._link(server.opened, client.opened, "connection")
            # What the links are found from: the order of a listen and
            # the connects it queued, a fact of the kernel's as the links.
            queued = [lis["listen"]] + [end.opened for end in lis["queue"]]
            self.found_from += [(lis["listen"], c) for c in queued[1:]]
            self.found_from += list(zip(queued[1:], queued[2:]))
        for lis in listeners:
            for server in lis["accepts"]:
                if server.peer:
                    self._match_bytes(server.peer, server)
                    self._match_bytes(server, server.peer)
        self._match_ends(binds)

    def _match_ends(self, binds):
        """A waitpid that reaped a process of the trace came after that
        process's last call; a connect refused by a socket file (no one
        listening) came after the bind that made the file."""
        lanes = {lane.pid: lane for lane in self.lanes}
        for lane in self.lanes:
            for e in lane.events:
                if e["event"] != "return":
                    continue
                if e["call"] == "waitpid" and e["ret"] in lanes and \
                        lanes[e["ret"]] is not lane:
                    calls = [x for x in lanes[e["ret"]].events
                             if x["event"] == "return"]
                    if calls:
                        self._link(e, calls[-1], "ended")
                elif e["call"] == "connect" and \
                        e.get("errno") == "ECONNREFUSED":
                    key = address_key(e["args"].get("addr"))
                    made = [b for b in binds if b[0] == key and
                            self.lane_of[id(b[1])] is not lane and
                            b[1]["ts"] < e["ts"]]
                    if made:
                        self._link(e, made[-1][1], "after")

    def last_call(self, event):
        """The last call that event's process made."""
        lane = self.lane_of[id(event)]
        return [e for e in lane.events if e["event"] == "return"][-1]

    def _match_bytes(self, sender, receiver):
        """Joins each read of receiver with the write that completed it:
        the write whose bytes hold the last byte the read returned."""
        ends, writes, offset = [], [], 0  # where each write's bytes end
        for e in sender.io:
            if e["call"] in SENDERS and moved(e) > 0:
                offset += moved(e)
                ends.append(offset)
                writes.append(e)
        got = 0
        for e in receiver.io:
            if e["event"] == "repeat":
                continue  # a run of reads of 0 bytes, or of failures
            if e["call"] in RECEIVERS and e["ret"] > 0:
                got += e["ret"]
                at = bisect.bisect_left(ends, got)
                if at < len(writes):
                    self._link(e, writes[at], "data")
            elif e["call"] in RECEIVERS and e["ret"] == 0 and \
                    e["args"].get("count", 1) > 0:
                if sender.closed:
                    self._link(e, sender.closed, "end of file")
                else:  # the process ended: the kernel closed its fds
                    self._link(e, self.last_call(sender.opened), "exit")
            elif e["call"] in SENDERS | RECEIVERS and failed(e) and \
                    e["errno"] in ("EPIPE", "ECONNRESET"):
                self._link(e, sender.closed, "closed")


def moved(event):
    """The bytes a read or write moved (none for a "repeat" event: a run
    hides from the JSON only calls that moved none)."""
    if event["event"] != "return":
        return 0
    return max(event["ret"] or 0, 0)


# -- words for links ------------------------------------------------------------

def link_words(trace, n):
    kind = trace.kind.get(n)
    if kind == "exit":
        return "exit: end of file"
    if kind == "ended":
        return "exit"
    if kind == "data":
        cause = trace.events[trace.cause[n]]
        return preview(cause.get("data", "")) if cause.get("data") else "bytes"
    return kind


# -- folding long runs --------------------------------------------------------

def fold(rows, key, keep=3, least=10):
    """Folds long runs of reads and writes.

    rows: any items; key(row) is None for a row that is never folded.  A
    run of at least `least` foldable rows keeps its first and last `keep`
    rows.  Returns a list of ("row", row) and ("fold", [rows]) items.
    """
    out, run = [], []

    def flush():
        if len(run) >= least:
            out.extend(("row", r) for r in run[:keep])
            out.append(("fold", run[keep:-keep]))
            out.extend(("row", r) for r in run[-keep:])
        else:
            out.extend(("row", r) for r in run)
        run.clear()

    for r in rows:
        if key(r) is None:
            flush()
            out.append(("row", r))
        else:
            run.append(r)
    flush()
    return out


def io_key(event):
    """Reads and writes that succeed fold together; anything else stays."""
    if event["call"] in RECEIVERS | SENDERS and event["event"] == "return" \
            and event["ret"] is not None and event["ret"] > 0:
        return (event["pid"], event["call"], event["args"].get("fd"))
    if event["call"] in RECEIVERS | SENDERS and event["event"] == "wait":
        return (event["pid"], event["call"], event["args"].get("fd"), "wait")
    return None


def row_key(row):
    """Scheduled rows (see schedule) that fold: reads and writes."""
    kind, e = row
    if kind == "block" and e["call"] in RECEIVERS | SENDERS:
        return (e["pid"], e["call"])
    return io_key(e) if kind == "call" else None


def fold_summary(events, who=None):
    """What a folded run did: calls and bytes, per process (who names it)."""
    per_call = {}
    for e in events:
        if e["event"] in ("return", "repeat"):
            name = (who(e) + " " if who else "") + e["call"]
            count, size = per_call.get(name, (0, 0))
            per_call[name] = (count + calls_of(e), size + moved(e))
    return "... " + ", ".join(f"{name} x{count} ({size} bytes)" for name, (
        count, size) in per_call.items()) + " ..."


# -- the timeline, as text ----------------------------------------------------

def timeline(trace, colour=False, width=None):
    """The two-column timeline, as lines of text."""
    s = Style(colour)
    columns = shutil.get_terminal_size((100, 24)).columns
    width = width or max(80, min(140, columns))
    col = (width - 14) * 11 // 20
    events = in_order(trace.events)
    if not events:
        return ["(the trace is empty: no lifecycle call was traced)"]
    t0 = min(e.get("start", e["ts"]) for e in events)
    left_lanes = [lane for lane in trace.lanes if lane.left] or \
        trace.lanes[:1]
    numbers = {}  # cause index -> link number
    for effect in sorted(trace.cause):
        numbers.setdefault(trace.cause[effect], len(numbers) + 1)
    waits = {}  # pid -> start of the call that waits
    names = ", ".join(
        f"{lane.name} (pid {lane.pid})" for lane in trace.lanes)
    left_title = " / ".join(lane.name for lane in left_lanes)
    right_title = " / ".join(lane.name for lane in trace.lanes
                             if lane not in left_lanes) or "-"
    lines = [f"Processes: {names}",
             f"{s.bold}{'ms':>9}  {left_title:<{col}} | {right_title}"
             f"{s.reset}"]

    def row(e, text, notes=()):
        """The event's line (two when its notes do not fit beside it)."""
        lane = trace.lane_of[id(e)]
        ms = (causal_key(e) - t0) / 1e6
        tagged = lane not in left_lanes and len(trace.lanes) - \
            len(left_lanes) > 1
        body = (f"[{lane.name}] " if tagged else "") + text
        hue = s.red if failed(e) else \
            s.server if lane in left_lanes else s.client
        note = "  ".join(notes)
        if lane not in left_lanes:
            tail = f"  {s.dim}{note}{s.reset}" if note else ""
            return [f"{ms:9.3f}  {' ' * col} | {hue}{body}{s.reset}{tail}"]
        out = []
        plain = len(body) + (2 + len(strip(note)) if note else 0)
        if note and plain <= col:
            body_text = f"{hue}{body}{s.reset}  {s.dim}{note}{s.reset}"
            out.append(f"{ms:9.3f}  {body_text}{' ' * (col - plain)} |")
            return out
        cell = clip(body, col)
        out.append(f"{ms:9.3f}  {hue}{cell}{s.reset}"
                   f"{' ' * (col - len(cell))} |")
        if note:
            cell = clip("    " + strip(note), col)
            out.append(f"{'':9}  {s.dim}{cell}{s.reset}"
                       f"{' ' * (col - len(cell))} |")
        return out

    for kind, item in fold(events, io_key):
        if kind == "fold":
            sides = {trace.lane_of[id(e)] in left_lanes for e in item}
            who = None if len(sides) == 1 and len(
                {e["pid"] for e in item}) == 1 else \
                (lambda e: trace.lane_of[id(e)].name)
            text = fold_summary(item, who)
            if sides == {True} and len(text) <= col:
                lines.append(f"{'':9}  {s.dim}{text}{s.reset}"
                             f"{' ' * (col - len(text))} |")
            elif sides == {False}:
                lines.append(f"{'':9}  {' ' * col} | {s.dim}{text}{s.reset}")
            else:
                lines.append(f"{'':9}  {s.dim}{text}{s.reset}")
            continue
        e = item
        n = trace.n(e)
        if e["event"] == "wait":
            waits[(e["pid"], e["call"])] = e["ts"]
            lines += row(e, f"{label(e, trace.names)} waits")
            continue
        text = label(e, trace.names)
        if e.get("data"):
            text += " " + preview(e["data"])
        notes = []
        started = waits.pop((e["pid"], e["call"]), None)
        if started is not None:
            notes.append(f"waited {(e['ts'] - started) / 1e6:.3f} ms")
        if n in trace.cause:
            notes.append(f"<- #{numbers[trace.cause[n]]} {trace.kind[n]}")
        if n in numbers:
            exits = any(trace.cause[m] == n and trace.kind[m] == "exit"
                        for m in trace.cause)
            notes.append(f"-> #{numbers[n]}" + (", then exits" if exits
                                                 else ""))
        if failed(e):
            notes.append(f"{e.get('error', '')}")
        lines += row(e, text, notes)
        why = (e.get("explain") or {}).get("why")
        if failed(e) and why:  # the trace's explanation, in short
            left = trace.lane_of[id(e)] in left_lanes
            room = col - 2 if left else max(30, width - col - 16)
            said = textwrap.wrap("why: " + why, room)
            if len(said) > 3:
                said = said[:2] + [clip(" ".join(said[2:]), room)]
            for part in said:
                lines.append(f"{'':9}    {s.red}{part}{s.reset}"
                             f"{' ' * (room - len(part))} |" if left else
                             f"{'':9}  {' ' * col} |   {s.red}{part}"
                             f"{s.reset}")
    for (pid, call), _ in waits.items():
        lane = next(x for x in trace.lanes if x.pid == pid)
        lines.append(f"{'':9}  {lane.name}: {call} was still waiting when "
                     f"the trace ended")
    if numbers:
        lines.append(f"{s.dim}-> #n marks a call; <- #n the call that it "
                     f"completed in the other process.{s.reset}")
    return lines


# -- the sequence diagram, as SVG ---------------------------------------------

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_W = 7.3   # px per character at 12 px
INK, GREY, LINE, PAPER = "#1f2937", "#6b7280", "#9ca3af", "#ffffff"
LANE_COLOURS = [("#0f766e", "#ccfbf1"), ("#7e22ce", "#f3e8ff"),
                ("#b45309", "#fef3c7"), ("#1d4ed8", "#dbeafe")]
RED, RED_LIGHT = "#b91c1c", "#fee2e2"


def lane_colour(trace, lane):
    if lane.role == "server":
        return LANE_COLOURS[0]
    others = [x.role for x in trace.lanes if x.role != "server"]
    kinds = list(dict.fromkeys(others))
    return LANE_COLOURS[1 + kinds.index(lane.role) % 3]


def schedule(trace):
    """Puts the events in an order that depends only on what each process
    did and on the calls that complete each other, never on the clock:
    running the same programs again, however the processes were scheduled,
    draws the same picture.

    The first process, in lane order (the order the processes were made),
    that can go on makes its next call; a call can go once the call that
    completes it (trace.cause: the connect of an accept, the write of a
    read's bytes, the exit of a child that waitpid reaps) is drawn.  A call
    the trace saw wait for something it does not show (a signal, a
    timeout) is drawn waiting, then returning; a call that never returned
    is drawn last.  Returns rows: ("call", event), ("block", event) where a
    call starts to wait, ("waiting", event) for a call that never returned.
    """
    heads = {lane.index: 0 for lane in trace.lanes}
    items = {}
    announced = set()  # calls the trace saw wait
    for lane in trace.lanes:
        seq, pending = [], {}
        for e in lane.events:
            if e["event"] == "wait":
                pending[e["call"]] = e
            else:
                if pending.pop(e["call"], None) is not None:
                    announced.add(id(e))
                seq.append(e)
        # A wait without a return: the process ended (or was stopped) there.
        seq += [e for e in lane.events if e["event"] == "wait" and
                pending.get(e["call"]) is e]
        items[lane.index] = seq
    done = set()
    rows = []
    blocked = set()

    def head(lane):
        return items[lane.index][heads[lane.index]] \
            if heads[lane.index] < len(items[lane.index]) else None

    def ready(e):
        n = trace.n(e)
        return n not in trace.cause or trace.cause[n] in done

    def emit(lane):
        e = head(lane)
        heads[lane.index] += 1
        if e["event"] == "wait":
            rows.append(("waiting", e))
        else:
            rows.append(("call", e))
            done.add(trace.n(e))
        blocked.discard(lane.index)

    def waits(lane):
        """Draws, once, that the lane's next call waits: for a call not
        drawn yet, or, as the trace saw, for what ended it in failure (a
        signal, a timeout). Whether a call that succeeded had to wait for
        something the trace does not show (a child's end, a peer outside
        the trace) is a matter of scheduling: not drawn."""
        e = head(lane)
        n = trace.n(e)
        if lane.index in blocked or heads[lane.index] == 0 or \
                e["event"] == "wait" or e["call"] not in BLOCKING:
            return
        if (n in trace.cause and trace.kind[n] not in ORDER_ONLY and
                not ready(e)) or (id(e) in announced and
                                  n not in trace.cause and
                                  e.get("errno") in ENDED_WAITING):
            rows.append(("block", e))
            blocked.add(lane.index)

    while any(head(lane) is not None for lane in trace.lanes):
        going = [lane for lane in trace.lanes if head(lane) is not None]
        for lane in going:
            if not ready(head(lane)):
                waits(lane)
        # A call that never returned is the lane's last: drawn once
        # nothing else can go.
        runnable = [lane for lane in going if ready(head(lane)) and
                    head(lane)["event"] != "wait"] or \
            [lane for lane in going if ready(head(lane))] or going
        lane = runnable[0]
        waits(lane)
        emit(lane)
    return rows


def xml(text):
    return escape(str(text), {'"': "&quot;"})


def diagram(trace, title, intro=""):
    """Draws a sequence diagram: (SVG elements, height, description)."""
    rows = schedule(trace)
    width, margin = 800, 16
    lanes = trace.lanes
    n_lanes = max(1, len(lanes))
    lane_w = (width - 2 * margin) / n_lanes
    # Servers on the left, as in the timeline; the others in order.
    shown = sorted(lanes, key=lambda lane: not lane.left)
    x_of = {lane.index: margin + lane_w * (shown.index(lane) + 0.5)
            for lane in lanes}
    # A box may be wider than its lane: one row holds one call.
    max_chars = int(min(lane_w * 1.6, width - 2 * margin) / CHAR_W) - 2
    said = textwrap.wrap(intro, 100)[:3]
    top = 48 + 18 * len(said) + (18 if said else 0)
    head_h = 40

    folded = fold(rows, row_key)  # long runs of reads and writes

    body, arrows, notes = [], [], []
    y = top + head_h + 18
    pos = {}      # event index -> (x, y, half width) of its box
    wait_from = {}  # lane index -> y where its current call began to wait
    lane_end = {lane.index: top + head_h for lane in lanes}
    failures = []

    def box(lane, text_lines, y, fill, stroke, weight="normal",
            colour=INK, dashed=False):
        """Draws a call's box on its lifeline; returns (left, right, h)."""
        x = x_of[lane.index]
        chars = max(len(t) for t in text_lines)
        half = chars * CHAR_W / 2 + 7
        # Near the picture's edge a wide box slides inwards.
        x = min(max(x, margin + half), width - margin - half)
        h = 16 * len(text_lines) + 6
        dash = ' stroke-dasharray="4 3"' if dashed else ""
        body.append(f'<rect x="{x - half:.1f}" y="{y - h / 2:.1f}" '
                    f'width="{2 * half:.1f}" height="{h}" rx="5" '
                    f'fill="{fill}" stroke="{stroke}"{dash}/>')
        for i, t in enumerate(text_lines):
            ty = y - h / 2 + 15 + 16 * i
            body.append(f'<text x="{x:.1f}" y="{ty:.1f}" '
                        f'text-anchor="middle" font-weight="{weight}" '
                        f'fill="{colour}">{xml(t)}</text>')
        return x - half, x + half, h

    def split(text):
        if len(text) <= max_chars:
            return [text]
        head, sep, tail = text.rpartition(" = ")
        if sep and len(head) <= max_chars:
            return [head, clip("= " + tail, max_chars)]
        return [clip(text, max_chars)]

    for kind, item in folded:
        if kind == "fold":
            calls = [e for k, e in item if k == "call"]
            in_lanes = {trace.lane_of[id(e)].index for e in calls}
            text = fold_summary(calls, None if len(in_lanes) == 1 else
                                (lambda e: trace.lane_of[id(e)].name))
            x = sum(x_of[i] for i in in_lanes) / len(in_lanes)
            half = len(text) * CHAR_W / 2
            x = min(max(x, margin + half), width - margin - half)
            body.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" '
                        f'text-anchor="middle" fill="{GREY}" '
                        f'font-style="italic">{xml(text)}</text>')
            y += 26
            continue
        row_kind, e = item
        lane = trace.lane_of[id(e)]
        stroke, fill = lane_colour(trace, lane)
        if row_kind == "block":
            wait_from[lane.index] = y
            waits = f"{e['call']}({short_args(e, trace.names)}) waits"
            _, _, h = box(lane, split(waits), y, PAPER, stroke, colour=GREY,
                          dashed=True)
            y += h + 10
            continue
        if row_kind == "waiting":
            since = wait_from.pop(lane.index, None)
            start_y = since if since is not None else y
            if since is None:
                _, _, h = box(lane, split(
                    f"{e['call']}({short_args(e, trace.names)}) waits"), y,
                    PAPER, stroke,
                    colour=GREY, dashed=True)
                y += h + 10
            lane_end[lane.index] = ("open", start_y)
            continue
        text = label(e, trace.names)
        lines = split(text)
        since = wait_from.pop(lane.index, None)
        if since is not None:
            x = x_of[lane.index]
            body.append(f'<rect x="{x - 3:.1f}" y="{since + 12:.1f}" '
                        f'width="6" height="{y - since - 24:.1f}" '
                        f'fill="{fill}" stroke="{stroke}" '
                        f'stroke-dasharray="3 2"/>')
        if failed(e):
            failures.append(e)
            x0, x1, h = box(lane, lines, y, RED_LIGHT, RED, "bold", RED)
            mark_x = x1 + 4
            body.append(f'<text x="{mark_x:.1f}" y="{y + 5:.1f}" '
                        f'font-weight="bold" fill="{RED}">'
                        f'✗{len(failures)}</text>')
        else:
            x0, x1, h = box(lane, lines, y, fill, stroke)
        pos[trace.n(e)] = (x0, x1, y)
        if isinstance(lane_end[lane.index], (int, float)):
            lane_end[lane.index] = y + h / 2
        n = trace.n(e)
        if n in trace.cause and trace.cause[n] in pos and \
                trace.kind[n] not in ORDER_ONLY:
            arrows.append((trace.cause[n], n))
        y += h + 10

    never_returned = any(isinstance(v, tuple) for v in lane_end.values())
    height = y + 8 + (12 if never_returned else 0)
    for e in failures:
        why = (e.get("explain") or {}).get("why") or e.get("error", "")
        wrapped = textwrap.wrap(
            f"✗{failures.index(e) + 1} {e['call']}: {e['errno']}"
            f" ({e.get('error', '')}). {why}", int((width - 2 * margin) /
                                                    (CHAR_W * 11 / 12)))
        notes.append((wrapped, height))
        height += 16 * len(wrapped) + 6

    out = [f'<text x="{margin}" y="24" font-size="15" font-weight="bold" '
           f'fill="{INK}">{xml(title)}</text>']
    for i, line in enumerate(said):
        out.append(f'<text x="{margin}" y="{44 + 16 * i}" fill="{GREY}">'
                   f'{xml(line)}</text>')
    for lane in lanes:
        x = x_of[lane.index]
        stroke, fill = lane_colour(trace, lane)
        end = lane_end[lane.index]
        open_end = isinstance(end, tuple)
        end_y = height - 8 if open_end else end
        out.append(f'<line x1="{x:.1f}" y1="{top + head_h}" x2="{x:.1f}" '
                   f'y2="{end_y:.1f}" stroke="{LINE}" '
                   f'stroke-dasharray="5 4"/>')
        if open_end:
            out.append(f'<rect x="{x - 3:.1f}" y="{end[1] + 12:.1f}" '
                       f'width="6" height="{end_y - end[1] - 12:.1f}" '
                       f'fill="{fill}" stroke="{stroke}" '
                       f'stroke-dasharray="3 2"/>')
            out.append(f'<text x="{x + 8:.1f}" y="{end_y - 4:.1f}" '
                       f'font-size="11" fill="{GREY}">never returned'
                       f'</text>')
        else:
            out.append(f'<line x1="{x - 10:.1f}" y1="{end_y + 4:.1f}" '
                       f'x2="{x + 10:.1f}" y2="{end_y + 4:.1f}" '
                       f'stroke="{stroke}" stroke-width="3"/>')
        w = min(lane_w - 12, max(len(lane.name), len(lane.source)) * CHAR_W
                + 28)
        out.append(f'<rect x="{x - w / 2:.1f}" y="{top}" width="{w:.1f}" '
                   f'height="{head_h}" rx="7" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="2"/>')
        out.append(f'<text x="{x:.1f}" y="{top + 17}" text-anchor="middle" '
                   f'font-weight="bold" fill="{stroke}">'
                   f'{xml(lane.name)}</text>')
        out.append(f'<text x="{x:.1f}" y="{top + 33}" text-anchor="middle" '
                   f'font-size="11" fill="{GREY}">{xml(lane.source)}</text>')
    out += body
    for cause, effect in arrows:
        (l1, r1, y1), (l2, r2, y2) = pos[cause], pos[effect]
        if trace.kind[effect] in FROM_THE_END:  # where the process ended
            lane = trace.lane_of[id(trace.events[cause])]
            end = lane_end[lane.index]
            if not isinstance(end, tuple):
                x = x_of[lane.index]
                l1, r1, y1 = x - 10, x + 10, end + 4
        rightwards = l2 + r2 > l1 + r1
        sx, ex = (r1, l2 - 2) if rightwards else (l1, r2 + 2)
        out.append(f'<line x1="{sx:.1f}" y1="{y1:.1f}" x2="{ex:.1f}" '
                   f'y2="{y2:.1f}" stroke="{INK}" stroke-width="1.4" '
                   f'marker-end="url(#arrow)"/>')
        words = link_words(trace, effect)
        if words:
            # Just past the arrow's tail, where no other arrow runs.
            t = min(0.5, (len(words) * CHAR_W * 11 / 24 + 12) /
                    max(1.0, abs(ex - sx)))
            lx, ly = sx + (ex - sx) * t, y1 + (y2 - y1) * t - 6
            if trace.kind[effect] in FROM_THE_END:  # above: the last call
                ly += 20
            out.append(f'<text x="{lx:.1f}" '
                       f'y="{ly:.1f}" text-anchor="middle" '
                       f'font-size="11" fill="{INK}" stroke="{PAPER}" '
                       f'stroke-width="4" paint-order="stroke">'
                       f'{xml(words)}</text>')
    for wrapped, ny in notes:
        for i, line in enumerate(wrapped):
            out.append(f'<text x="{margin}" y="{ny + 14 + 16 * i:.1f}" '
                       f'font-size="11" fill="{RED}">{xml(line)}</text>')
    return out, int(height) + 8, describe(trace, rows, intro)


def svg_document(title, desc, parts, height, width=800):
    """An SVG file around drawn parts, with its title and description."""
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{FONT}" font-size="12" role="img" '
        f'aria-labelledby="title desc">',
        f'<title id="title">{xml(title)}</title>',
        f'<desc id="desc">{xml(desc)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{INK}"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="{PAPER}"/>',
        *parts, "</svg>"]) + "\n"


def sequence_svg(trace, title, intro=""):
    """A sequence diagram of the trace, as the text of an SVG file."""
    parts, height, desc = diagram(trace, title, intro)
    return svg_document(title, desc, parts, height)


def sheet_svg(title, intro, panels):
    """Several diagrams, one under the other: panels is a list of
    (trace, title, intro)."""
    parts = [f'<text x="16" y="26" font-size="17" font-weight="bold" '
             f'fill="{INK}">{xml(title)}</text>',
             f'<text x="16" y="46" fill="{GREY}">{xml(clip(intro, 104))}'
             f'</text>']
    y, said = 58, [intro]
    for trace, panel_title, panel_intro in panels:
        drawn, height, desc = diagram(trace, panel_title, panel_intro)
        parts.append(f'<line x1="16" y1="{y}" x2="784" y2="{y}" '
                     f'stroke="{LINE}"/>')
        parts.append(f'<g transform="translate(0 {y + 6})">')
        parts += drawn
        parts.append("</g>")
        said.append(f"{panel_title}. {desc}")
        y += height + 12
    return svg_document(title, " ".join(said), parts, y)


def describe(trace, rows, intro=""):
    """The diagram in words, for screen readers: one sentence per row."""
    said = [intro] if intro else []
    said.append("Processes: " + ", ".join(lane.name for lane in trace.lanes)
                + "." if trace.lanes else "No process made a traced call.")
    for folded, item in fold(rows, lambda r: row_key(r)):
        if folded == "fold":
            calls = [e for k, e in item if k == "call"]
            said.append(fold_summary(calls, lambda e: trace.lane_of[
                id(e)].name).strip(". ") + ".")
            continue
        kind, e = item
        lane = trace.lane_of[id(e)].name
        if kind == "block":
            said.append(f"{lane}: {e['call']} waits.")
        elif kind == "waiting":
            said.append(f"{lane}: {e['call']} is still waiting at the end.")
        else:
            text = f"{lane}: {label(e, trace.names)}"
            if failed(e):
                text += f" ({e.get('error', '')})"
            n = trace.n(e)
            if n in trace.cause and trace.kind[n] == "ended":
                cause = trace.events[trace.cause[n]]
                text += f", after {trace.lane_of[id(cause)].name} ended"
            elif n in trace.cause and trace.kind[n] not in ORDER_ONLY:
                cause = trace.events[trace.cause[n]]
                text += (f", completed by {trace.lane_of[id(cause)].name}'s "
                         f"{cause['call']}")
            said.append(text + ".")
    return " ".join(said)
