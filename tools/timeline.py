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
import shutil
import sys
import textwrap
from xml.sax.saxutils import escape

from tracetext import (RECEIVERS, SENDERS, Style, calls_of, causal_key, clip,
                       failed, in_order, label, preview, short_args, strip)

# Calls that can make a process wait for another one.
BLOCKING = {"accept", "accept4", "connect", "read", "recv", "recvfrom",
            "recvmsg", "write", "send", "sendto", "sendmsg", "waitpid",
            "poll", "ppoll"}
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
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SystemExit(
                f"timeline: cannot read {path}: {e.strerror}. A lab program "
                f"writes its trace where LAB_TRACE_FILE says "
                f"(pictures/README.md shows how).") from None
        events += trace_events(data, path)
    return events


def trace_events(data, path, command="timeline"):
    """The events of a JSON trace file's content (bytes), as the lab's
    programs write it: one object per line, with the trace's fields.  Any
    other line (not UTF-8, not JSON, not an object, a field of the wrong
    kind) is skipped, and said so on standard error.  make timeline and
    make hint both read traces with it."""
    events = []
    text = data.decode("utf-8", errors="replace")
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        if not is_trace_event(event):
            print(f"{command}: {path}:{number}: not a line of the lab's "
                  f"JSON trace, skipped", file=sys.stderr)
            continue
        events.append(event)
    return events


def is_trace_event(event):
    """Whether event has the trace's shape (trace/TRACE.md, "The JSON
    trace"): each field and each member of args of its kind, and the
    arguments its call always has."""
    if not isinstance(event, dict) or not TRACE_KEYS <= set(event) or \
            not all(of_kind(event[key], FIELD_KINDS[key]) for key in event
                    if key in FIELD_KINDS) or \
            not set(EVENTS.get(event["event"], ["no such kind"])) <= \
            set(event):
        return False
    args = event["args"]
    kinds = dict(ARG_KINDS, **(POLL_ARG_KINDS if event["call"] == "poll"
                               else PPOLL_ARG_KINDS if event["call"] ==
                               "ppoll" else {}))
    if not all(of_kind(args[key], kinds[key]) for key in args
               if key in kinds) or \
            event["event"] == "return" and not isinstance(event["ret"], int):
        return False
    need = {"signal": ("sig",), "repeat": ()}.get(
        event["event"], CALL_ARGS.get(event["call"], ()))
    if event["call"] in ("sendmsg", "recvmsg") and \
            event["event"] == "return" and "msg" not in args:
        need += ("iovlen", "count")
    return all(key in args for key in need)


def of_kind(value, kind):
    """kind: a type, None (null), a test, or a tuple of them (any one)."""
    for k in kind if isinstance(kind, tuple) else (kind,):
        if k is None and value is None or \
                isinstance(k, type) and isinstance(value, k) and \
                (k is bool or not isinstance(value, bool)) or \
                k is not None and not isinstance(k, type) and k(value):
            return True
    return False


def list_of(kind):
    return lambda v: isinstance(v, list) and all(of_kind(x, kind) for x in v)


def object_with(kinds):
    """A JSON object whose members named in kinds are of their kind."""
    return lambda v: isinstance(v, dict) and all(
        of_kind(v[key], kind) for key, kind in kinds.items() if key in v)


NUMBER = (int, float)
NAME = (str, int)  # a flag, a signal... by name, or a number
ADDRESS = (None, object_with(
    {"family": (str, int, None), "path": str, "abstract": str,
     "unnamed": bool}))
TRACE_KEYS = {"ts", "pid", "role", "event", "call", "args", "ret", "file",
              "line"}
# The kinds of event, each with the fields it has beside TRACE_KEYS.
EVENTS = {"return": ["start"], "wait": [], "signal": [],
          "repeat": ["repeat", "total", "final", "start"]}
FIELD_KINDS = {
    "ts": NUMBER, "pid": int, "role": str, "event": str, "call": str,
    "args": dict, "ret": (int, None), "errno": (str, None), "error": str,
    "injected": bool, "nested": bool, "start": NUMBER, "data": str,
    "note": str, "file": str, "line": int,
    "explain": object_with({"why": str, "fix": str, "see": str}),
    "see": str, "repeat": int, "total": int, "total_bytes": int,
    "final": bool, "in_json": bool, "period": int, "member": int}
ARG_KINDS = {
    "fd": int, "count": int, "addrlen": int, "backlog": int, "nfds": int,
    "timeout": int, "pid": int, "iovlen": int, "exit_status": int,
    "protocol": int, "domain": NAME, "type": NAME, "flags": NAME,
    "msg_flags": NAME, "how": NAME, "options": NAME, "cmd": NAME,
    "arg": NAME, "sig": NAME, "signal": str, "handler": (str, None),
    "old": (str, None), "path": (str, None), "bound": str, "pointer": str,
    "addr": ADDRESS, "from": ADDRESS,
    "sv": lambda v: list_of(int)(v) and len(v) == 2,
    "fds": list_of(int)}
# poll's set: each entry an fd and its events, or its revents once ready.
POLL_ARG_KINDS = {
    "fds": (None, lambda v: list_of(object_with(
        {"fd": int, "events": NAME}))(v) and all("fd" in x for x in v)),
    "ready": lambda v: list_of(object_with({"fd": int, "revents": NAME}))(v)
    and all("fd" in x and "revents" in x for x in v)}
# ppoll's: the same set, a timeout as a timespec (or null) and the mask.
PPOLL_ARG_KINDS = dict(
    POLL_ARG_KINDS,
    timeout=(None, object_with({"tv_sec": int, "tv_nsec": int})),
    sigmask=(None, list_of(NAME)))
# The arguments each call always has in its "return" and "wait" events.
CALL_ARGS = {
    "socket": ("domain", "type", "protocol"),
    "socketpair": ("domain", "type", "protocol"),
    "bind": ("fd", "addr", "addrlen"), "connect": ("fd", "addr", "addrlen"),
    "listen": ("fd", "backlog"), "accept": ("fd",),
    "accept4": ("fd", "flags"), "read": ("fd", "count"),
    "write": ("fd", "count"), "recv": ("fd", "count", "flags"),
    "send": ("fd", "count", "flags"),
    "sendto": ("fd", "count", "flags", "addr", "addrlen"),
    "recvfrom": ("fd", "count", "flags"), "sendmsg": ("fd", "flags"),
    "recvmsg": ("fd", "flags"), "shutdown": ("fd", "how"),
    "close": ("fd",), "unlink": ("path",), "waitpid": ("pid", "options"),
    "kill": ("pid", "sig"), "poll": ("fds", "nfds", "timeout"),
    "ppoll": ("fds", "nfds", "timeout", "sigmask"),
    "fcntl": ("fd", "cmd"), "sigaction": ("sig",),
    "signal": ("sig", "handler")}


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
        self.parent = None  # the lane whose fork made this process

    @property
    def left(self):
        """A server, or a child a server forked: the timeline's left."""
        return self.role == "server" or (self.parent is not None and
                                         self.parent.left)


class Socket:
    """A socket as the processes that hold it see it: made by socket,
    named by bind, maybe listening; a datagram socket receives what is
    sent to its name."""

    def __init__(self, made, kind=""):
        self.made, self.kind = made, kind
        self.key = None        # the name bind gave it
        self.listener = None   # the listen(2) record, once listening
        self.received = []     # datagrams read from it, in order
        self.peer_key = None   # a datagram socket's connect(2) name


class Endpoint:
    """One end of a connection: from connect, accept or socketpair to the
    last close of every process that holds it (a forked child holds the
    ends its parent had)."""

    def __init__(self, opened, lane):
        self.opened = opened
        self.peer = None
        self.io = []          # reads and writes, in order
        self.holders = [lane]  # lanes that held it, the maker first
        self.closes = []      # (lane index, close event)
        self.shut = None      # the shutdown(2) that ended writing

    @property
    def closed(self):
        """The call that ended writing on this end: a shutdown, or the
        close of the last process to hold it (in lane order), once every
        process that held it has closed it; None while one still holds it
        (it ended with the end open: the kernel closed it)."""
        if self.shut is not None:
            return self.shut
        if not self.closes or \
                {lane for lane, _ in self.closes} < set(self.holders):
            return None
        return max(self.closes, key=lambda c: c[0])[1]

    def unclosed(self):
        """The lanes that held this end and never closed it."""
        return set(self.holders) - {lane for lane, _ in self.closes}


def pid_max():
    """The highest pid plus one: Linux gives pids in turn up to it, then
    starts again from the bottom."""
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 22  # Linux's largest


def creation_order(pids):
    """The pids in the order their processes were made.  Pids grow, and
    after the last one (pid_max) start again from the bottom: the processes
    of one run hold a stretch of that circle, so the widest gap between
    two of their pids is where the numbering went round (or, if it did
    not, the way back from the highest to the lowest)."""
    ordered = sorted(pids)
    if len(ordered) < 2:
        return ordered
    top = max(pid_max(), ordered[-1] + 1)
    gaps = [(ordered[(i + 1) % len(ordered)] - pid) % top
            for i, pid in enumerate(ordered)]
    first = (gaps.index(max(gaps)) + 1) % len(ordered)
    return ordered[first:] + ordered[:first]


class Trace:
    """Events of several processes, with the calls that complete each other.

    cause[n] is the index of the event that event n needed: the connect(2)
    for an accept(2), the write(2) whose bytes a read(2) returned, the
    close(2) (or shutdown(2)) behind a read(2) of 0 or an EPIPE, the fork
    behind a child's first call, the sendto of a datagram, the kill or the
    child's end behind a signal's delivery.
    """

    def __init__(self, events):
        ordered = sorted(merge_runs(events),
                         key=lambda e: (e["ts"], e["event"] != "wait"))
        self.events = ordered
        self.index = {id(e): n for n, e in enumerate(ordered)}
        by_pid = {}
        for e in ordered:
            by_pid.setdefault(e["pid"], []).append(e)
        # Processes in the order they were made: a child under its parent,
        # in the order of its parent's forks; the others by pid (pids grow:
        # a server before the clients started after it; creation_order).
        # Their first calls may race; this order does not.
        forked = {}
        for pid, mine in by_pid.items():
            forked[pid] = [e["ret"] for e in mine
                           if e["call"] == "fork" and e["event"] == "return"
                           and isinstance(e["ret"], int) and e["ret"] > 0
                           and e["ret"] in by_pid]
        children = {c for kids in forked.values() for c in kids}
        order, parent_of = [], {}

        def visit(pid):
            order.append(pid)
            for child in forked[pid]:
                if child not in order:
                    parent_of[child] = pid
                    visit(child)
        made_in_order = creation_order(by_pid)
        for pid in made_in_order:
            if pid not in children:
                visit(pid)
        order += [pid for pid in made_in_order if pid not in order]
        self.lanes, lanes = [], {}
        for pid in order:
            # A child that names itself after fork has that name.
            lane = Lane(len(self.lanes), pid, by_pid[pid][-1]["role"])
            lane.events = by_pid[pid]
            lanes[pid] = lane
            self.lanes.append(lane)
        for pid, parent in parent_of.items():
            lanes[pid].parent = lanes[parent]
        self.lane_of = {id(e): lanes[e["pid"]] for e in ordered}
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
        if cause is not None and \
                self.lane_of[id(cause)] is self.lane_of[id(effect)]:
            return  # within a process, its own order says it all
        if cause is not None and self.n(effect) not in self.cause:
            self.cause[self.n(effect)] = self.n(cause)
            self.kind[self.n(effect)] = kind

    def _match(self):
        listeners, connects, binds, pairs, sends = [], [], [], [], []
        named = {}  # name -> the sockets bound to it
        inherited = {}  # pid -> the fds its parent had when it forked
        lane_by_pid = {lane.pid: lane for lane in self.lanes}
        for lane in self.lanes:
            table = dict(inherited.get(lane.pid, {}))
            for thing in table.values():
                if isinstance(thing, Endpoint):
                    thing.holders.append(lane.index)
                elif thing.listener is not None:
                    thing.listener["holders"].add(lane.index)
            for e in lane.events:
                args = e["args"]
                fd = args.get("fd")
                if e["event"] == "repeat":  # a run's hidden reads or writes
                    if e["call"] in RECEIVERS | SENDERS and \
                            isinstance(table.get(fd), Endpoint):
                        table[fd].io.append(e)
                    continue  # of 0 bytes, or failed: never a cause
                if e["event"] != "return":
                    continue
                call, ret = e["call"], e["ret"]
                thing = table.get(fd)
                if call == "fork" and isinstance(ret, int) and ret > 0:
                    inherited[ret] = dict(table)
                elif call == "fork" and ret == 0:
                    self._fork_link(e, lane, lane_by_pid)
                elif call == "socket" and ret >= 0:
                    table[ret] = Socket(e, str(args.get("type", "")))
                elif call == "socketpair" and ret == 0 and "sv" in args:
                    ends = [Endpoint(e, lane.index) for _ in args["sv"]]
                    ends[0].peer, ends[1].peer = ends[1], ends[0]
                    pairs.append(ends[0])
                    table.update(zip(args["sv"], ends))
                elif call == "bind" and ret == 0:
                    key = args.get("bound") and \
                        os.path.normpath(args["bound"]) or \
                        address_key(args.get("addr"))
                    if isinstance(thing, Socket):
                        thing.key = key
                        named.setdefault(key, []).append(thing)
                    binds.append((key, e))
                elif call == "listen" and ret == 0 and \
                        isinstance(thing, Socket):
                    thing.listener = {"key": thing.key, "at": e["ts"],
                                      "listen": e, "closes": [],
                                      "holders": {lane.index}, "queue": [],
                                      "accepts": []}
                    listeners.append(thing.listener)
                elif call in ("accept", "accept4") and ret >= 0 and \
                        isinstance(thing, Socket) and thing.listener:
                    end = Endpoint(e, lane.index)
                    thing.listener["accepts"].append(end)
                    table[ret] = end
                elif call == "connect" and ret == 0 and \
                        isinstance(thing, Socket) and \
                        thing.kind.startswith("SOCK_DGRAM"):
                    thing.peer_key = address_key(args.get("addr"))
                elif call == "connect" and ret == 0:
                    end = Endpoint(e, lane.index)
                    connects.append((address_key(args.get("addr")), end))
                    table[fd] = end
                elif call in RECEIVERS | SENDERS and \
                        isinstance(thing, Endpoint):
                    thing.io.append(e)
                elif call in SENDERS and isinstance(thing, Socket) and \
                        isinstance(ret, int) and ret >= 0:
                    to = address_key(args.get("addr")) or thing.peer_key
                    if to:
                        sends.append((to, e))
                elif call in RECEIVERS and isinstance(thing, Socket) and \
                        isinstance(ret, int) and ret >= 0:
                    thing.received.append(e)
                elif call == "shutdown" and ret == 0 and \
                        isinstance(thing, Endpoint) and \
                        args.get("how") in ("SHUT_WR", "SHUT_RDWR"):
                    thing.shut = thing.shut or e
                elif call == "close" and ret == 0 and fd in table:
                    thing = table.pop(fd)
                    if isinstance(thing, Endpoint):
                        thing.closes.append((lane.index, e))
                    elif thing.listener is not None:
                        thing.listener["closes"].append(e)
        # The kernel queues connections in the order they were made; the
        # listener that takes one is the one listening on that name then.
        for lis in listeners:  # closed once every process holding it has
            lis["closed"] = max(c["start"] for c in lis["closes"]) \
                if len(lis["closes"]) >= len(lis["holders"]) else None
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
        ends = [server for lis in listeners for server in lis["accepts"]
                if server.peer] + pairs
        for end in ends:
            for one in (end, end.peer):
                if len({self.lane_of[id(e)].index for e in one.io}) > 1:
                    # Used by several processes at once: only the clock
                    # can tell the order of their calls.
                    one.io.sort(key=lambda e: e["ts"])
            self._match_bytes(end.peer, end)
            self._match_bytes(end, end.peer)
        self._match_datagrams(sends, named)
        self._match_ends(binds, lane_by_pid)
        self._match_polls()

    def _fork_link(self, child_fork, lane, lane_by_pid):
        """A child's first call, fork() = 0, came after its parent's."""
        parent = lane.parent
        if parent is None:
            return
        made = [e for e in parent.events if e["call"] == "fork" and
                e["event"] == "return" and e["ret"] == lane.pid]
        if made:
            self._link(child_fork, made[0], "fork")

    def _match_datagrams(self, sends, named):
        """Joins each datagram received to the send that made it: the
        datagrams sent to one name arrive in the order they were sent."""
        by_key = {}
        for key, e in sends:
            by_key.setdefault(key, []).append(e)
        for key, sent in by_key.items():
            got = [e for sock in named.get(key, []) for e in sock.received]
            sent.sort(key=lambda e: e["ts"])  # the kernel's queue order
            self.found_from += list(zip(sent, sent[1:]))
            for received, send in zip(got, sent):
                self._link(received, send, "datagram")

    def _match_polls(self):
        """A poll that found fds ready came after what made the first of
        them ready: the cause of the next call on that fd."""
        for lane in self.lanes:
            calls = [e for e in lane.events if e["event"] == "return"]
            for i, e in enumerate(calls):
                if e["call"] not in ("poll", "ppoll") or \
                        not e["args"].get("ready"):
                    continue
                later = []
                for x in calls[i + 1:]:
                    if x["call"] in ("poll", "ppoll"):
                        break
                    later.append(x)
                for ready in e["args"]["ready"]:
                    nxt = next((x for x in later
                                if x["args"].get("fd") == ready["fd"]), None)
                    if nxt is not None and self.n(nxt) in self.cause:
                        self._link(e, self.events[self.cause[self.n(nxt)]],
                                   "ready")
                        break

    def _match_ends(self, binds, lane_by_pid):
        """A waitpid that reaped a process of the trace came after that
        process's last call, as did a SIGCHLD that says it ended; a signal
        another process sent came after its kill; a connect refused by a
        socket file (no one listening) came after the bind that made the
        file."""
        lanes = lane_by_pid
        kills = {}  # (target pid, signal) -> kill events, in order
        for lane in self.lanes:
            for e in lane.events:
                if e["call"] == "kill" and e["event"] == "return" and \
                        e["ret"] == 0:
                    kills.setdefault((e["args"]["pid"], e["args"]["sig"]),
                                     []).append(e)
        for lane in self.lanes:
            for e in lane.events:
                if e["event"] == "signal":
                    sender = e["args"].get("pid")
                    if e["args"]["sig"] == "SIGCHLD" and sender in lanes:
                        self._link(e, self.last_event(lanes[sender]),
                                   "ended")
                    elif sender in lanes:
                        sent = kills.get((lane.pid, e["args"]["sig"]), [])
                        sent = [k for k in sent if k["pid"] == sender]
                        if sent:
                            self._link(e, sent.pop(0), "signal")
                            kills[(lane.pid, e["args"]["sig"])] = [
                                k for k in kills[(lane.pid,
                                                  e["args"]["sig"])]
                                if k is not self.events[self.cause[
                                    self.n(e)]]]
                    continue
                if e["event"] != "return":
                    continue
                if e["call"] == "waitpid" and e["ret"] in lanes and \
                        lanes[e["ret"]] is not lane:
                    self._link(e, self.last_event(lanes[e["ret"]]), "ended")
                elif e["call"] == "connect" and \
                        e.get("errno") == "ECONNREFUSED":
                    key = address_key(e["args"].get("addr"))
                    made = [b for b in binds if b[0] == key and
                            self.lane_of[id(b[1])] is not lane and
                            b[1]["ts"] < e["ts"]]
                    if made:
                        self._link(e, made[-1][1], "after")

    @staticmethod
    def last_event(lane):
        """The last thing a process did: its last call, or the last signal
        it received."""
        done = [e for e in lane.events if e["event"] in ("return", "signal")]
        return done[-1] if done else None

    def last_call(self, end):
        """The last call of the last process that held an end and did not
        close it (its end closed when it ended), or of the last holder."""
        lane = self.lanes[max(end.unclosed() or end.holders)]
        calls = [e for e in lane.events if e["event"] == "return"]
        return calls[-1] if calls else None

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
                    self._link(e, self.last_call(sender), "exit")
            elif e["call"] in SENDERS | RECEIVERS and failed(e) and \
                    e["errno"] in ("EPIPE", "ECONNRESET"):
                self._link(e, sender.closed or self.last_call(sender),
                           "closed")


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
    if kind == "signal":
        return trace.events[n]["args"]["sig"]
    if kind in ("data", "datagram"):
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

def grouped(lanes, with_pids=False):
    """The lanes' names, with many of one role said once: "client 1-20"."""
    roles = {}
    for lane in lanes:
        roles.setdefault(lane.role, []).append(lane)
    out = []
    for role, same in roles.items():
        if len(same) > 3:
            pids = f" (pids {same[0].pid}...{same[-1].pid})" \
                if with_pids else ""
            out.append(f"{same[0].name}-{len(same)}{pids}")
        else:
            out += [f"{lane.name}" + (f" (pid {lane.pid})" if with_pids
                                       else "") for lane in same]
    return out


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
    names = ", ".join(grouped(trace.lanes, with_pids=True))
    left_title = " / ".join(grouped(left_lanes))
    right_title = " / ".join(grouped([lane for lane in trace.lanes
                                      if lane not in left_lanes])) or "-"
    lines = [f"Processes: {names}",
             f"{s.bold}{'ms':>9}  {left_title:<{col}} | {right_title}"
             f"{s.reset}"]

    def row(e, text, notes=()):
        """The event's line (two when its notes do not fit beside it)."""
        lane = trace.lane_of[id(e)]
        ms = (causal_key(e) - t0) / 1e6
        tagged = len(trace.lanes) - len(left_lanes) > 1 \
            if lane not in left_lanes else len(left_lanes) > 1
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
    answer = {}  # a "wait" event -> the return of its call
    for lane in trace.lanes:
        pending = {}
        for e in lane.events:
            if e["event"] == "wait":
                pending[e["call"]] = e
            elif e["event"] == "return" and e["call"] in pending:
                answer[id(pending.pop(e["call"]))] = e
        items[lane.index] = list(lane.events)
    done = set()
    rows = []
    blocked = set()

    def head(lane):
        return items[lane.index][heads[lane.index]] \
            if heads[lane.index] < len(items[lane.index]) else None

    def ready(e):
        n = trace.n(e)
        return n not in trace.cause or trace.cause[n] in done

    def ended_waiting(e):
        """Whether the trace saw e wait for what ended it in failure (a
        signal, a timeout): drawn as waiting. Whether a call that succeeded
        had to wait for something the trace does not show (a child's end, a
        peer outside the trace) is a matter of scheduling: not drawn."""
        return e["call"] in BLOCKING and trace.n(e) not in trace.cause and \
            e.get("errno") in ENDED_WAITING

    # A wait the picture draws stays where the trace saw it, before what
    # happened while the call waited (a signal's delivery); one without a
    # return is where the process ended (or was stopped). The trace saw
    # the others by chance of scheduling: they are left out.
    for lane in trace.lanes:
        items[lane.index] = [
            e for e in items[lane.index] if e["event"] != "wait" or
            id(e) not in answer or ended_waiting(answer[id(e)])]

    def emit(lane):
        e = head(lane)
        heads[lane.index] += 1
        if e["event"] == "wait" and id(e) in answer:
            if ended_waiting(answer[id(e)]):
                rows.append(("block", answer[id(e)]))
                blocked.add(lane.index)
            return
        if e["event"] == "wait":
            rows.append(("waiting", e))
        else:
            rows.append(("call", e))
            done.add(trace.n(e))
        blocked.discard(lane.index)

    def waits(lane):
        """Draws, once, that the lane's next call waits for a call of
        another process not drawn yet."""
        e = head(lane)
        n = trace.n(e)
        if lane.index in blocked or heads[lane.index] == 0 or \
                e["event"] != "return" or e["call"] not in BLOCKING:
            return
        if n in trace.cause and trace.kind[n] not in ORDER_ONLY and \
                not ready(e):
            rows.append(("block", e))
            blocked.add(lane.index)

    def last_wait(e):
        return e["event"] == "wait" and id(e) not in answer

    while any(head(lane) is not None for lane in trace.lanes):
        going = [lane for lane in trace.lanes if head(lane) is not None]
        for lane in going:
            if not ready(head(lane)):
                waits(lane)
        # A call that never returned is the lane's last: drawn once
        # nothing else can go.
        runnable = [lane for lane in going if ready(head(lane)) and
                    not last_wait(head(lane))] or \
            [lane for lane in going if ready(head(lane))] or going
        emit(runnable[0])
    return rows


def xml(text):
    return escape(str(text), {'"': "&quot;"})


# A lane is never narrower than this: a diagram of many processes (a
# server forking a child for each of 20 clients) grows wider instead.
LANE_MIN = 150


def width_for(trace):
    """The width of a diagram of this trace: 800, or more for many lanes."""
    return max(800, LANE_MIN * len(trace.lanes) + 32)


def diagram(trace, title, intro="", width=800):
    """Draws a sequence diagram: (SVG elements, height, description)."""
    rows = schedule(trace)
    margin = 16
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


SVG_START = '<svg xmlns="http://www.w3.org/2000/svg" width="'


def svg_document(title, desc, parts, height, width=800):
    """An SVG file around drawn parts, with its title and description."""
    return "\n".join([
        f'{SVG_START}{width}" '
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


def is_drawing(path):
    """Whether path holds a drawing of this tool's (sequence_svg's), which
    make timeline SVG=.. may replace."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SVG_START)) == SVG_START.encode()
    except OSError:
        return False


def sequence_svg(trace, title, intro=""):
    """A sequence diagram of the trace, as the text of an SVG file."""
    width = width_for(trace)
    parts, height, desc = diagram(trace, title, intro, width)
    return svg_document(title, desc, parts, height, width)


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
