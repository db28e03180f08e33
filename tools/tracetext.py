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

def render_value(value):
    if isinstance(value, dict):
        if "path" in value:
            return '{%s, "%s"}' % (value.get("family"), value["path"])
        if "abstract" in value:
            return '{%s, @"%s"}' % (value.get("family"), value["abstract"])
        return "{%s}" % value.get("family")
    return "NULL" if value is None else str(value)


def render(event):
    """One event as a line like the trace on stderr."""
    values = [json.dumps(v) if k == "path" else render_value(v)
              for k, v in event["args"].items()
              if k not in ("bound", "signal", "exit_status")]
    if event["call"] in ("read", "write", "recv", "send"):
        values.insert(1, "buf")  # the bytes follow the result
    args = ", ".join(values)
    head = f"[{event['role']} {event['pid']}] {event['call']}({args})"
    if event["event"] == "wait":
        text = f"{head} ... waiting"
    elif event["ret"] == -1:
        text = f"{head} = -1 {event['errno']} ({event.get('error', '')})"
    else:
        text = f"{head} = {event['ret']}"
        if "data" in event:
            text += " " + json.dumps(event["data"])
    note = f"  -> {event['note']}" if event.get("note") else ""
    return f"{text}  {event['file']}:{event['line']}{note}"


def call_text(event):
    """The call with every argument and its result, without the source
    position and the note: bind(3, {AF_UNIX, "lab.sock"}, 16) = 0."""
    text = render(event).split("  ")[0] if event["event"] == "wait" else \
        render({**event, "file": "", "line": "", "note": None}).rstrip(" :")
    return text.split("] ", 1)[1]


def show(event, colour=False):
    """An event as the lab's trace shows it on stderr, notes included."""
    s = Style(colour)
    line = render(event).split("  -> ")[0]
    if event["event"] == "return" and event["ret"] == -1:
        line = line.replace(f"= -1 {event['errno']}",
                            f"= -1 {s.red}{event['errno']}", 1)
        line = line.replace(f"({event.get('error', '')})",
                            f"({event.get('error', '')}){s.reset}", 1)
    head, _, where = line.rpartition("  ")
    out = [f"{head}  {s.dim}{where}{s.reset}"]
    if event.get("note"):
        out.append(f"{s.green}    -> {event['note']}{s.reset}")
    if event.get("explain"):
        for key in ("why", "fix", "see"):
            out.append(f"    {key}: {event['explain'][key]}")
    return "\n".join(out)


# -- short labels, for the timeline and the diagrams --------------------------------

RECEIVERS = {"read", "recv"}
SENDERS = {"write", "send"}


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
        return names.get(a.get("pid"), "child")
    if call in ("socket", "socketpair"):
        keys = ["domain", "type", "protocol"]
        pair = re.search(r"fd (\d+) <-> fd (\d+)", event.get("note") or "")
        if call == "socketpair" and pair:  # the two fds, as strace shows
            return ", ".join([*(str(a[k]) for k in keys if k in a),
                              f"[{pair[1]}, {pair[2]}]"])
    elif call in ("bind", "connect"):
        keys = ["fd", "addr"]
    elif call in RECEIVERS | SENDERS:
        keys = ["fd", "count", "flags"]
    else:
        keys = [k for k in a if k not in ("bound", "signal", "exit_status",
                                            "addrlen")]
    values = []
    for k in keys:
        if k not in a:
            continue
        v = a[k]
        if k == "addr" and isinstance(v, dict):
            v = ('"%s"' % v["path"]) if "path" in v else \
                ('"@%s"' % abstract_name(v["abstract"], event["pid"])) \
                if "abstract" in v else str(v.get("family"))
        elif k == "path" and v is not None:
            v = f'"{v}"'
        values.append(v if isinstance(v, str) else render_value(v))
    return ", ".join(values)


def result(event, names=None):
    if event["event"] == "wait":
        return "waits"
    if failed(event):
        return f"-1 {event['errno']}"
    bound, addr = event["args"].get("bound"), event["args"].get("addr")
    if event["call"] == "bind" and bound and bound != (addr or {}).get("path"):
        return f'{event["ret"]}, bound as "{bound}"'  # not what was asked
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
PRODUCERS = {"write", "send", "connect", "close", "shutdown"}


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
