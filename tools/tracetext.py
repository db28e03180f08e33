"""The words of the trace: one event as text, the order of events, colour.

The trace library (trace/trace.c) prints each call on standard error; the
Python tools read the same events from the JSON trace.  This module is the
Python side's one rendering of an event (trace/TRACE.md defines the line),
its short label in the timeline and diagrams, the causal order of the
events of several processes, and the lab's one decision about colour.
"""
import json
import os
import re

# -- colour --------------------------------------------------------------------

CODES = dict(bold="\033[1m", red="\033[1;31m", green="\033[32m", dim="\033[2m",
             server="\033[36m", client="\033[35m", link="\033[33m",
             reset="\033[0m")


def colour_on(stream):
    """Colour on a terminal, unless NO_COLOR is set to a non-empty value
    (no-color.org) or the terminal says it is dumb (TERM=dumb)."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not os.environ.get("NO_COLOR") and \
        os.environ.get("TERM") != "dumb"


class Style:
    """The escape codes of CODES as attributes, or empty strings."""

    def __init__(self, colour):
        for name, code in CODES.items():
            setattr(self, name, code if colour else "")


def strip(text):
    """text without its colour codes."""
    return re.sub("\033\\[[0-9;]*m", "", text)


def clip(text, width):
    return text if len(text) <= width else text[:width - 1] + "…"


# -- one event, as the trace prints it -------------------------------------------
#
# trace/TRACE.md ("The line for people") defines the line; trace/trace.c
# writes it on stderr, and these functions write it from the JSON event.
# tests/test_trace.py holds the two equal, line by line, on real runs.

def render_value(value):
    """A value of args, short: for the labels of the timeline."""
    if isinstance(value, dict):
        if "path" in value:
            return '{%s, "%s"}' % (value.get("family"), value["path"])
        if "abstract" in value:
            return '{%s, @"%s"}' % (value.get("family"), value["abstract"])
        return "{%s}" % value.get("family")
    return "NULL" if value is None else str(value)


def raw(text):
    """A string the trace writes as it is (a role, a file name, a note):
    the JSON gives its bytes as characters U+0000 to U+00FF."""
    try:
        return text.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text


def quoted(text):
    """Bytes as a C string literal, as the trace shows them to people:
    \\n, \\t, \\r, \\", \\\\ and \\xNN for any other byte below 0x20
    or from 0x7f."""
    out = ['"']
    for ch in text:
        c = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif c < 0x20 or c >= 0x7f:
            out.append(f"\\x{c:02x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def address(addr, pointer=None):
    """A struct sockaddr argument, as the trace shows it."""
    if addr is None:
        return pointer or "NULL"
    if not addr:
        return "{}"  # the kernel gave no address
    family = addr.get("family")
    if addr.get("unnamed"):
        return f"{{{family}}}"
    if family is None:
        return "{?}"
    if "path" in addr:
        return f"{{{family}, {quoted(addr['path'])}}}"
    if "abstract" in addr:
        return f"{{{family}, @{quoted(addr['abstract'])}}}"
    if isinstance(family, int):
        return f"{{family={family}, ...}}"
    return f"{{{family}, ...}}"


POLL_SHOWN = 8  # the entries of poll's set a line shows
POLLS = ("poll", "ppoll")  # the calls that show a poll set


def poll_set(entries, total, key):
    """[{fd=3, events=POLLIN}, ...2 more]: the first entries of a poll
    set, and how many more there are."""
    shown = [f"{{fd={x['fd']}, {key}={x[key]}}}"
             for x in entries[:POLL_SHOWN]]
    if total > POLL_SHOWN:
        shown.append(f"...{total - POLL_SHOWN} more")
    return "[" + ", ".join(shown) + "]"


def message(event):
    """sendmsg's and recvmsg's message: {to ADDRESS, iov=1, 5 bytes, fds=[5],
    msg_flags=MSG_TRUNC}."""
    a = event["args"]
    if event["event"] == "wait":
        return "msg"
    if "msg" in a:
        return a.get("pointer") or "NULL"
    parts = []
    if "addr" in a:
        parts.append(f"to {address(a['addr'])}")
    if "from" in a:
        parts.append(f"from {address(a['from'])}")
    parts.append(f"iov={a['iovlen']}, {a['count']} "
                 f"byte{'' if a['count'] == 1 else 's'}")
    if "fds" in a:
        parts.append("fds=[" + ", ".join(map(str, a["fds"])) + "]")
    if "msg_flags" in a:
        parts.append(f"msg_flags={a['msg_flags']}")
    return "{" + ", ".join(parts) + "}"


def timespec(ts):
    """ppoll's timeout: {tv_sec=1, tv_nsec=500000000}, or NULL."""
    if ts is None:
        return "NULL"
    return f"{{tv_sec={ts['tv_sec']}, tv_nsec={ts['tv_nsec']}}}"


def sigmask(signals):
    """ppoll's signal mask: [SIGINT SIGTERM], [] or NULL."""
    if signals is None:
        return "NULL"
    return "[" + " ".join(str(s) for s in signals) + "]"


def action(a):
    """sigaction's new action: {handler, SA_RESTART}, {SIG_IGN}, NULL."""
    if a.get("handler") is None:
        return a.get("pointer") or "NULL"
    flags = a.get("flags", 0)
    return "{" + a["handler"] + (f", {flags}" if flags else "") + "}"


def arguments(event):
    """The arguments of a call, as the trace shows them between ( and )."""
    a, call = event["args"], event["call"]
    if call in ("socket", "socketpair"):
        shown = [a["domain"], a["type"], a["protocol"]]
        if call == "socketpair":
            shown.append(f"[{a['sv'][0]}, {a['sv'][1]}]" if "sv" in a
                         else "sv")
    elif call in ("bind", "connect"):
        shown = [a["fd"], address(a["addr"], a.get("pointer")), a["addrlen"]]
    elif call in ("read", "write"):
        shown = [a["fd"], "buf", a["count"]]  # the bytes follow the result
    elif call in ("recv", "send"):
        shown = [a["fd"], "buf", a["count"], a["flags"]]
    elif call == "sendto":
        shown = [a["fd"], "buf", a["count"], a["flags"],
                 address(a["addr"], a.get("pointer")), a["addrlen"]]
    elif call == "recvfrom":
        source = a.get("from", "addr")
        shown = [a["fd"], "buf", a["count"], a["flags"],
                 "NULL" if source is None else source
                 if isinstance(source, str) else address(source)]
    elif call in ("sendmsg", "recvmsg"):
        shown = [a["fd"], message(event), a["flags"]]
    elif call == "poll":
        shown = [poll_set(a["fds"], a["nfds"], "events")
                 if a["fds"] is not None else a.get("pointer") or "NULL",
                 a["nfds"], a["timeout"]]
    elif call == "ppoll":
        shown = [poll_set(a["fds"], a["nfds"], "events")
                 if a["fds"] is not None else a.get("pointer") or "NULL",
                 a["nfds"], timespec(a["timeout"]), sigmask(a["sigmask"])]
    elif call == "sigaction":
        old = a.get("old", "oldact")
        shown = [a["sig"], action(a),
                 "NULL" if old is None else
                 old if old == "oldact" else "{" + old + "}"]
    elif call == "signal":
        shown = [a["sig"], a["handler"]]
    elif call == "unlink":
        shown = [quoted(a["path"]) if a["path"] is not None
                 else a.get("pointer") or "NULL"]
    else:  # listen(fd, backlog), accept(fd), shutdown(fd, how), close(fd),
        # waitpid(pid), accept4(fd, flags), kill(pid, sig), fork(),
        # fcntl(fd, cmd[, arg]): the arguments in order, without the results
        shown = [v for k, v in a.items()
                 if k not in ("bound", "signal", "exit_status", "flags")
                 or (k == "flags" and call == "accept4")]
    return ", ".join(str(v) for v in shown)


# Calls whose repeat line shows only the argument that tells like calls
# apart; the others add ", ..." after it (trace/TRACE.md, "Runs").
ONE_ARGUMENT = {"accept", "close", "fork"}


def tag(event, s):
    """[role pid], in the role's colour."""
    hue = s.server if event["role"] == "server" else \
        s.client if event["role"] == "client" else s.link
    return f"{hue}[{raw(event['role'])} {event['pid']}]{s.reset}"


def place(event, s):
    return f"  {s.dim}{raw(event['file'])}:{event['line']}{s.reset}"


def repeat_line(event, s=None):
    """A "repeat" event (a run's hidden calls) as the trace's line."""
    s = s or Style(False)
    a, call = event["args"], event["call"]
    key = a.get("fd", a.get("pid"))
    if key is None:
        args = "" if call in ONE_ARGUMENT else "..."
    else:
        args = str(key) if call in ONE_ARGUMENT else f"{key}, ..."
    text = f"{tag(event, s)} {call}({args})"
    if event["ret"] == -1:
        text += f" = -1 {s.red}{event['errno']}{s.reset}"
    elif event["ret"] is not None:
        text += f" = {event['ret']}"
    if event.get("injected"):
        text += " [injected]"
    total = event["total"]
    text += f" ... the same {total:,} more time{'' if total == 1 else 's'}"
    if "total_bytes" in event:
        text += f", {event['total_bytes']:,} bytes"
    if not event["final"]:
        text += " so far"
    return text + place(event, s)


def calls_of(event):
    """How many calls an event stands for: a "repeat" event for the calls
    a run hid (its "repeat"), a returned call for 1, a wait for none."""
    if event["event"] == "repeat":
        return event["repeat"]
    return 1 if event["event"] == "return" else 0


def expand_runs(events, at_most=None):
    """The calls of one process's events in the order they were made: each
    group of "repeat" events (one per call of the run's cycle, member 0
    first) is replaced by that many copies of its calls, taken in turn,
    member 0 first (at most at_most copies of each, if given: a loop may
    hide millions of calls, all alike). Yields (event, hidden): hidden is
    True for a copy."""
    group = []

    def flush():
        counts = [calls_of(e) if at_most is None else
                  min(calls_of(e), at_most) for e in group]
        while any(counts):
            for i, e in enumerate(group):
                if counts[i]:
                    counts[i] -= 1
                    yield e, True
        group.clear()

    for e in events:
        if e["event"] == "repeat":
            if group and e.get("member", 0) <= group[-1].get("member", 0):
                yield from flush()
            group.append(e)
            continue
        yield from flush()
        yield e, False
    yield from flush()


def made(events, waits=False, at_most=None):
    """The calls the events stand for, process by process, each in the
    order it made them: each "return" event, and for each "repeat" event
    as many copies of it as calls it stands for (in turn, as expand_runs
    puts them; at most at_most, if given), each copy a "return" event with
    the run's ret and errno and "hidden": True.  A run hides from the JSON
    only calls that moved no bytes, so a copy's ret is the call's own: 0,
    or -1 with its errno.  With waits=True the "wait" events are kept,
    where they are."""
    by_pid = {}
    for e in events:
        by_pid.setdefault(e["pid"], []).append(e)
    out = []
    for mine in by_pid.values():
        for e, hidden in expand_runs(mine, at_most):
            if e["event"] == "signal":
                continue
            if waits or e["event"] != "wait":
                out.append(dict(e, event="return", hidden=True) if hidden
                           else e)
    return out


# -- runs: the rule of trace/TRACE.md ("Runs"), replayed ----------------------------
#
# The JSON trace holds every call of a run in which a call moved bytes, and
# none of the calls hidden in a run in which none did (a "repeat" event
# stands for them). The human trace hides both kinds alike; to write its
# lines from the JSON, Runs replays trace.c's rule on each process's events.

MAX_PERIOD, HISTORY, SHOWN_REPEATS = 4, 8, 2
DATA_CALLS = {"read", "write", "recv", "send", "sendto", "recvfrom",
              "sendmsg", "recvmsg"}
# The argument that tells like calls apart (trace.c's key): the fd, the pid
# of waitpid and kill, or nothing.
KEY_ARGUMENT = {"waitpid": "pid", "kill": "pid", "socket": None,
                "socketpair": None, "unlink": None, "fork": None,
                "poll": None, "ppoll": None, "sigaction": None,
                "signal": None}


def run_key(event):
    name = KEY_ARGUMENT.get(event["call"], "fd")
    return None if name is None else event["args"].get(name)


def signature(event):
    """What makes two events alike (trace.c's struct signature)."""
    if event["event"] == "repeat":
        data = event["ret"] is None
    else:
        data = event["call"] in DATA_CALLS and event["event"] == "return" \
            and (event["ret"] or 0) > 0
    # A call that moved bytes is like another only with the same peer:
    # the addresses it shows (trace.c's addr_hash), so that a run of
    # datagrams does not hide who sent them.
    args = event.get("args") or {}
    peer = json.dumps([args.get("addr"), args.get("from")]) if data and \
        event["event"] != "repeat" else None
    return (event["call"], event["file"], event["line"], run_key(event),
            data, 0 if data else event["ret"], event.get("errno"),
            bool(event.get("injected")), peer)


def same_place(a, b):
    return a[:4] == b[:4]


class Runs:
    """trace.c's runs for one process: which calls the human trace hides,
    and the repeat lines of the runs whose calls the JSON holds."""

    def __init__(self):
        self.seen, self.count = [None] * HISTORY, 0
        self.period = self.len = self.hidden = 0
        self.next_report, self.data, self.members = 10, False, []

    def back(self, k):
        return self.seen[(self.count - k) % HISTORY]

    def remember(self, sig):
        self.seen[self.count % HISTORY] = sig
        self.count += 1

    def report(self, final, last):
        """The repeat lines of a run whose calls the JSON holds (the JSON
        has those of the others); last is the process's latest event."""
        out = []
        for i, m in enumerate(self.members):
            if not (m["total"] if final else m["fresh"]):
                continue
            m["fresh"] = 0
            if not self.data:
                continue
            call, file, line, key, data, ret, err, injected, _ = m["sig"]
            name = KEY_ARGUMENT.get(call, "fd")
            event = {"role": last["role"], "pid": last["pid"],
                     "event": "repeat", "call": call,
                     "args": {} if key is None else {name: key},
                     "ret": None if data else ret, "errno": err,
                     "total": m["total"], "final": final, "file": file,
                     "line": line, "period": self.period, "member": i}
            if injected:
                event["injected"] = True
            if data:
                event["total_bytes"] = m["total_bytes"]
            out.append(event)
        return out

    def end(self, last):
        out = self.report(True, last) if self.period and self.hidden else []
        self.period = 0
        return out

    def returned(self, sig, moved, last):
        """A call returned: (whether the human trace shows it, the repeat
        events it made the trace write before it)."""
        out = []
        if self.period:
            if sig == self.back(self.period):
                self.len += 1
                if self.len > SHOWN_REPEATS * self.period:
                    m = self.members[(self.len - 1) % self.period]
                    m["sig"] = sig
                    m["total"] += 1
                    m["fresh"] += 1
                    m["total_bytes"] += moved
                    self.hidden += 1
                    self.remember(sig)
                    if self.hidden >= self.next_report and \
                            self.hidden % self.period == 0:
                        out = self.report(False, last)
                        while self.next_report <= self.hidden:
                            self.next_report *= 10
                    return False, out
                self.remember(sig)
                return True, out
            out = self.end(last)
        for p in range(1, MAX_PERIOD + 1):
            if self.count >= p and sig == self.back(p):
                self.period, self.len, self.hidden = p, 1, 0
                self.next_report = 10
                self.data = any(self.back(k)[4] for k in range(1, p + 1))
                self.members = [{"sig": None, "total": 0, "fresh": 0,
                                 "total_bytes": 0} for _ in range(p)]
                break
        self.remember(sig)
        return True, out

    def waits(self, sig, last):
        """A wait was announced: a call other than the run's next ends it."""
        if self.period and not same_place(sig, self.back(self.period)):
            return self.end(last)
        return []


def as_shown(events, machines=None):
    """The events with what the human trace wrote on stderr for each, in
    the order given (one process's events must keep the order in which they
    were written): a list of (event, shown), shown the events whose lines
    the human trace has there (lines() writes them).  A call a run hid has
    none; a call that ended a run, or whose count reached 10, 100..., comes
    after the repeat events of the lines it made the trace write.  The
    human trace and this agree line by line (tests/test_trace.py).
    machines, a dict, receives each process's Runs at the end."""
    runs, out = {}, []
    for e in events:
        mine = runs.setdefault(e["pid"], [Runs(), []])
        machine, pending = mine
        if e.get("nested") or e["event"] == "signal":
            # a signal's delivery, or a call its handler made while the
            # trace was busy: outside the runs
            out.append((e, [e]))
            continue
        if e["event"] == "repeat":
            # A run that hid its calls from the JSON: the event is its
            # line; its calls, in turn, go through the rule as they did.
            pending.append(e)
            out.append((e, [e]))
            if e.get("in_json"):  # a run's last lines, at exit
                machine.period = 0
            continue
        before = []
        if pending:
            for copy, _ in expand_runs(pending):
                machine.returned(signature(copy), 0, copy)
            pending.clear()
        if e["event"] == "wait":
            before = machine.waits(signature(e), e)
            shown = True
        else:
            sig = signature(e)
            shown, before = machine.returned(
                sig, e["ret"] if sig[4] else 0, e)
        out.append((e, before + ([e] if shown else [])))
    if machines is not None:
        for pid, (machine, pending) in runs.items():
            for copy, _ in expand_runs(pending):
                machine.returned(signature(copy), 0, copy)
            machines[pid] = machine
    return out


def hidden_next(events):
    """{pid: the call that the run going on at the end of the events
    expects next, if the trace hides it, and its wait}: a process stopped
    there, waiting in that call, has no "wait" event for it."""
    machines, found = {}, {}
    as_shown(events, machines)
    for pid, machine in machines.items():
        if machine.period and \
                machine.len >= SHOWN_REPEATS * machine.period:
            found[pid] = machine.back(machine.period)[0]
    return found


def human_trace(events, colour=False):
    """{pid: [the lines of each event the human trace shows]}, from the
    JSON events of one run (see as_shown)."""
    found = {}
    for e, shown in as_shown(events):
        found.setdefault(e["pid"], []).extend(lines(x, colour)
                                              for x in shown)
    return found


def lines(event, colour=False):
    """An event as the lines the trace writes on stderr for it."""
    s = Style(colour)
    if event["event"] == "repeat":
        return [repeat_line(event, s)]
    if event["event"] == "signal":
        head = f"{tag(event, s)} signal {event['args']['sig']} delivered"
    else:
        head = f"{tag(event, s)} {event['call']}({arguments(event)})"
    if event["event"] == "wait":
        head += f" ... {s.bold}waiting{s.reset}"
    elif event["event"] == "signal":
        pass
    elif event["ret"] == -1:
        failed_as = "SIG_ERR" if event["call"] == "signal" else "-1"
        head += f" = {failed_as} {s.red}{event['errno']} " \
                f"({event['error']}){s.reset}"
    elif event["call"] == "signal":
        head += f" = {event['args']['old']}"
    else:
        head += f" = {event['ret']}{after(event)}"
    if event.get("injected"):
        head += " [injected]"
    if event["event"] == "return" and "data" in event:
        count = event["args"].get("count")
        held = min(event["ret"], count) if isinstance(count, int) \
            else event["ret"]
        head += " " + quoted(event["data"][:40]) + ("..." if held > 40
                                                    else "")
    out = [head + place(event, s)]
    if event.get("note"):
        out.append(f"{s.green}    -> {raw(event['note'])}{s.reset}")
    if event.get("explain"):
        out += [f"    {key}: {raw(event['explain'][key])}"
                for key in ("why", "fix", "see")]
    elif event.get("see"):
        out.append(f"    see: {event['see']}")
    return out


def after(event):
    """What a line shows after a call's result: the fds poll found ready,
    the flags fcntl read."""
    a = event["args"]
    if event["call"] in POLLS and "ready" in a:
        return " (" + poll_set(a["ready"], event["ret"], "revents") + ")"
    if event["call"] == "fcntl" and a.get("cmd") in ("F_GETFL", "F_GETFD") \
            and a.get("flags"):
        return f" ({a['flags']})"
    return ""


def call_text(event):
    """The call with every argument and its result, without the source
    position and the note: bind(3, {AF_UNIX, "lab.sock"}, 16) = 0."""
    text = render(event).split("  ")[0] if event["event"] == "wait" else \
        render({**event, "file": "", "line": "", "note": None}).rstrip(" :")
    return text.split("] ", 1)[1]


def show(event, colour=False):
    """An event as the lab's trace shows it on stderr, notes included."""
    return "\n".join(lines(event, colour))


def render(event):
    """An event in one line, for a report: its line, then its note."""
    text = lines(event)[0]
    return text + (f"  -> {raw(event['note'])}" if event.get("note") else "")


# -- short labels, for the timeline and the diagrams --------------------------------

RECEIVERS = {"read", "recv", "recvfrom", "recvmsg"}
SENDERS = {"write", "send", "sendto", "sendmsg"}


def failed(event):
    return event["event"] == "return" and event["ret"] == -1


def abstract_name(name, pid):
    """An abstract name made unique with its process's pid ("demo-4242"),
    as "demo-PID": the pid changes from run to run, the picture must not.
    Bytes outside printable ASCII are shown as \\xNN, as the trace does (an
    empty path is an abstract name of 107 zero bytes, which XML cannot
    hold), and a long name is cut after 24 characters."""
    name = "".join(c if " " <= c < "\x7f" else f"\\x{ord(c):02x}"
                   for c in re.sub(rf"-{pid}$", "-PID", name))
    return name if len(name) <= 24 else name[:24] + "..."


def short_args(event, names=None):
    """The arguments a learner looks at, without buffers and lengths.

    names: {pid: name}, to name a process rather than give its pid (which
    changes from run to run).
    """
    a = event["args"]
    call = event["call"]
    if call == "waitpid" and names:
        pid = a.get("pid")
        who = names.get(pid, "any child" if pid == -1 else "child")
        options = a.get("options", 0)
        return who + (f", {options}" if options else "")
    if call == "kill":
        who = names.get(a["pid"], str(a["pid"])) if names else str(a["pid"])
        return f"{who}, {a['sig']}"
    if call in POLLS:
        fds = [str(x["fd"]) for x in (a.get("fds") or [])[:POLL_SHOWN]]
        more = a["nfds"] - len(fds)
        timeout = a["timeout"] if call == "poll" else \
            timespec(a["timeout"])
        return "[" + ", ".join(fds + ([f"...{more} more"] if more > 0
                                      else [])) + f"], {timeout}"
    if call == "sigaction":
        return f"{a['sig']}, {action(a)}"
    if call in ("sendmsg", "recvmsg"):
        where = a.get("addr") or a.get("from")
        return ", ".join([str(a["fd"])] + ([short_address(where, event)]
                                           if where else []) +
                         ([f"{a['count']}"] if "count" in a else []))
    if call in ("socket", "socketpair"):
        keys = ["domain", "type", "protocol"]
        if call == "socketpair" and "sv" in a:  # the two fds, as strace
            return ", ".join([*(str(a[k]) for k in keys if k in a),
                              f"[{a['sv'][0]}, {a['sv'][1]}]"])
    elif call in ("bind", "connect"):
        keys = ["fd", "addr"]
    elif call == "sendto":
        keys = ["fd", "addr", "count", "flags"]
    elif call == "recvfrom":
        keys = ["fd", "count", "flags", "from"]
    elif call in RECEIVERS | SENDERS:
        keys = ["fd", "count", "flags"]
    else:
        keys = [k for k in a if k not in ("bound", "signal", "exit_status",
                                            "addrlen", "pointer", "sv",
                                            "old")
                and not (k == "flags" and call == "fcntl")]
    values = []
    for k in keys:
        if k not in a:
            continue
        v = a[k]
        if k in ("addr", "from") and isinstance(v, dict):
            v = short_address(v, event)
        elif k == "from":
            continue
        elif k == "path" and v is not None:
            v = f'"{v}"'
        values.append(v if isinstance(v, str) else render_value(v))
    return ", ".join(values)


def short_address(v, event):
    """An address in a label: "lab.sock", "@name", unnamed."""
    if not v:
        return "no address"
    if v.get("unnamed"):
        return "unnamed"
    return ('"%s"' % v["path"]) if "path" in v else \
        ('"@%s"' % abstract_name(v["abstract"], event["pid"])) \
        if "abstract" in v else str(v.get("family"))


def result(event, names=None):
    if event["event"] == "wait":
        return "waits"
    if failed(event):
        return f"-1 {event['errno']}"
    if event["call"] == "fork" and names and event["ret"]:
        return names.get(event["ret"], "child")
    if event["call"] == "signal":
        return event["args"].get("old", "")
    if event["call"] == "fcntl" and event["args"].get("flags"):
        return f"{event['ret']} ({event['args']['flags']})"
    if event["call"] in POLLS and "ready" in event["args"]:
        return str(event["ret"]) + (" ready: " + ", ".join(
            str(x["fd"]) for x in event["args"]["ready"][:POLL_SHOWN])
            if event["ret"] else " (timed out)")
    bound, addr = event["args"].get("bound"), event["args"].get("addr")
    if event["call"] == "bind" and bound and bound != (addr or {}).get("path"):
        return f'{event["ret"]}, bound as "{bound}"'  # not what was asked
    if event["call"] == "waitpid" and event["ret"] == 0:
        return "0, none has ended"
    if event["call"] == "waitpid" and names:
        a = event["args"]
        how = f"killed by {a['signal']}" if "signal" in a else \
            f"exit status {a['exit_status']}" if "exit_status" in a else ""
        return names.get(event["ret"], "child") + (f": {how}" if how else "")
    return str(event["ret"])


def label(event, names=None):
    """socket(AF_UNIX, SOCK_STREAM, 0) = 3, as short as it stays clear.

    With names ({pid: name}), waitpid names the process it waited for.
    """
    if event["event"] == "repeat":
        a = event["args"]
        key = a.get("fd", a.get("pid", ""))
        if event["ret"] is None:
            what = f"{event.get('total_bytes', 0):,} bytes"
        else:
            what = f"= {event['ret']}" + (f" {event['errno']}"
                                          if event["errno"] else "")
        return f"{event['call']}({key}) x{event['total']:,} more, {what}" \
            + ("" if event["final"] else " so far")
    if event["event"] == "signal":
        sender = event["args"].get("pid")
        who = (names or {}).get(sender) if sender else None
        return f"{event['args']['sig']} delivered" + \
            (f", from {who}" if who else "")
    head = f"{event['call']}({short_args(event, names)})"
    if event["event"] == "wait":
        return head + " ..."
    return f"{head} = {result(event, names)}"


def preview(data, width=18):
    text = json.dumps(data)
    return text if len(text) <= width else text[:width - 2] + '…"'


# -- the order of events --------------------------------------------------------

# Calls whose effect another process waits for: ordering them by the time
# they were entered, and every other call by the time it returned, puts a
# write before the read that receives it, whichever process printed first.
PRODUCERS = {"write", "send", "sendto", "sendmsg", "connect", "close",
             "shutdown"}


def causal_key(event):
    if event["event"] == "return" and event["call"] in PRODUCERS:
        return event.get("start", event["ts"])
    return event["ts"]


def in_causal_order(events):
    return sorted(events, key=causal_key)


def in_order(events):
    """The events in causal order, except that a call that announced a
    wait returns when it returned, after its wait."""
    waited, last_wait = set(), {}
    for e in sorted(events, key=lambda e: e["ts"]):
        key = (e["pid"], e["call"])
        if e["event"] == "wait":
            last_wait[key] = e
        elif last_wait.pop(key, None) is not None:
            waited.add(id(e))
    return sorted(events, key=lambda e: e["ts"] if id(e) in waited
                  else causal_key(e))


# -- a program's output, as a report shows it -----------------------------------

def escaped(data, quote=""):
    """Bytes (or text) with \\n, \\t and \\xNN for every other byte outside
    printable ASCII (and quote, if given, as \\"), as the trace shows data,
    so that no byte of a program's output can upset a terminal."""
    if isinstance(data, str):
        data = data.encode(errors="replace")
    out = []
    for byte in data:
        ch = chr(byte)
        out.append({"\n": "\\n", "\t": "\\t"}.get(ch)
                   or (f"\\{ch}" if quote and ch == quote else
                       ch if 32 <= byte < 127 else f"\\x{byte:02x}"))
    return "".join(out)


def runs(data, start=0):
    """A sentence on bytes that are one byte repeated ("bytes 4096-49999
    are all 0x00"), or None; start is the offset of data in the whole."""
    if len(data) > 1 and data == data[:1] * len(data):
        return f"bytes {start}-{start + len(data) - 1} are all " \
               f"0x{data[0]:02x}"
    return None


def cut(data, width=120, quote='"'):
    """A quoted, escaped piece of output at most about width characters
    long, with what was left out said in words."""
    if isinstance(data, str):
        data = data.encode(errors="replace")
    if not data:
        return "nothing"
    same = runs(data)
    if same and len(data) > 8:
        return f"{len(data)} bytes, all 0x{data[0]:02x}"
    text, shown = "", 0
    for byte in data:
        piece = escaped(bytes([byte]), quote)
        if len(text) + len(piece) > width:
            break
        text += piece
        shown += 1
    if shown == len(data):
        return f"{quote}{text}{quote}"
    rest = data[shown:]
    more = runs(rest, shown) or f"{len(rest)} more bytes"
    return f"{quote}{text}{quote}... ({len(data)} bytes in all; {more})"


def difference(got, want):
    """Where got first differs from want, in words, with both sides cut:
    "50000 bytes, as many as expected, but from byte 4096 on they differ:
    expected "ABC...", got 45904 bytes, all 0x00"."""
    if isinstance(got, str):
        got = got.encode(errors="replace")
    if isinstance(want, str):
        want = want.encode(errors="replace")
    if got == want:
        return f"the {len(want)} bytes expected"
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
              min(len(got), len(want)))
    if not got:
        return "nothing at all"
    size = f"{len(got)} bytes, as many as expected, but" \
        if len(got) == len(want) else \
        f"{len(got)} bytes where {len(want)} were expected;"
    if at == len(got):
        return f"{size} the first {at} are right, and then it stops: " \
               f"missing from byte {at} on: {cut(want[at:], 60)}"
    if at == len(want):
        return f"{size} the first {at} are right, then come bytes that " \
               f"were never sent: {cut(got[at:], 60)}"
    return f"{size} from byte {at} on they differ: expected " \
           f"{cut(want[at:], 40)}, got {cut(got[at:], 40)}"


def last_lines(data, count=6, width=120):
    """The last count lines of a program's output, each escaped and cut;
    a first line says how much more there was."""
    if isinstance(data, str):
        data = data.encode(errors="replace")
    lines = data.rstrip(b"\n").split(b"\n") if data.strip() else []
    shown = [cut(line, width, quote="") if line else ""
             for line in lines[-count:]]
    if len(lines) > count:
        shown.insert(0, f"(... {len(lines) - count} earlier lines, "
                        f"{len(data)} bytes in all)")
    return shown
