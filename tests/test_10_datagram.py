"""Lesson 10: datagrams.  A collector receives each datagram whole, with
its sender's address, and replies to a sender that bound one; a logger
sends each message as one datagram.

The checks of the collector play the loggers themselves, and those of the
logger play the collector, with Python datagram sockets
(socket.socket(AF_UNIX, SOCK_DGRAM)), so that a mistake in one program is
never blamed on the other; the last checks run the two together.  The
checks wait for what they can see: the collector's exit after -n COUNT
records, a reply, a datagram, a process asleep in the kernel.
"""
import errno
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labrun
import peers
from conftest import (REPLACEMENTS, address_lengths_set, c_code, closed_once,
                      finding_of, handlers_call_only_safe_functions,
                      replacement_left_alone, run_tool,
                      says_standard_output, sigaction_zeroed,
                      tool)
from tracetext import call_text, cut

LESSON = "10-datagram"
SOCK = "log.sock"
MAX_RECORD = 2048  # the collector's buffer
# The programs that a check runs built with sanitizers (tests/mistakes.py
# builds them beforehand).
SANITIZED = ("logger", "collector")


def dgram(lab, name=None):
    """A Python datagram socket, bound to name in the lab directory when
    name is given; every call on it is bounded by the lab's wait."""
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.settimeout(labrun.WAIT)
    lab.peers.append(peer)
    if name:
        peer.bind(str(lab.dir / name))
    return peer


def path(lab, name=SOCK):
    return str(lab.dir / name)


def collecting(lab, *args, env=None):
    """The collector, started, with its socket bound (lesson 02's stage)."""
    collector = lab.start("collector", *args, env=env)
    lab.require("bind", "the collector to bind its socket, log.sock",
                "What this stage does", proc=collector, ret=0)
    return collector


# The collector's own lines on standard output, around its records.
OWN_LINES = re.compile(r"collector: (receiving on \S+; stop me with Ctrl-C|"
                       r"stopped, \S+ removed)")


def records(proc):
    """The records a collector printed: its lines of standard output but
    the two of its own (a sender may well be named collector)."""
    return [line for line in proc.stdout.split("\n")[:-1]
            if not OWN_LINES.fullmatch(line)]


def shown(lines):
    return ", ".join(cut(line, 60) for line in lines) or "nothing"


def send(peer, data, to):
    """Sends a datagram from a Python peer: None, or the errno's name when
    the program under test is not there to receive it (any more)."""
    try:
        peer.sendto(data, to)
    except socket.timeout:
        return "a timeout: its queue stayed full"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    return None


def first_from(peer):
    """(the first datagram that peer receives, who sent it), or (None,
    None) when none comes in time."""
    try:
        return peer.recvfrom(4096)
    except OSError:
        return None, None


def answered(lab, collector, reply, replier=None):
    """(the first datagram the collector's socket receives, who sent it),
    as first_from gives them; a sender that names itself is sent reply,
    from replier (the collector's socket unless given)."""
    first, sender = first_from(collector)
    if sender:
        send(replier or collector, reply, str(lab.dir / sender))
    return first, sender


def reply_to(lab, peer, collector):
    """The reply a peer receives, or None when none comes in time, or
    when the collector has ended without one: what it sent before it
    ended is in the peer's queue already."""
    deadline = time.monotonic() + peer.gettimeout()
    while time.monotonic() < deadline:
        ended = collector.has_exited()
        ready, _, _ = select.select([peer], [], [], 0 if ended else 0.01)
        if ready:
            try:
                data, _ = peer.recvfrom(4096)
            except OSError:
                return None
            return data
        if ended:
            return None
    return None


# -- the collector, with Python loggers ---------------------------------------

@pytest.mark.parametrize("program", ["collector", "logger"])
def test_the_struct_sigaction_is_zeroed_before_use(lab, program):
    # First: stray bits in sa_flags can make any check that stops the
    # server fail for another reason.
    sigaction_zeroed(lab, program, "Your task")


def test_each_sender_s_address_length_has_a_value_before_each_receive(lab):
    address_lengths_set(lab, "Who sent it: addresses and replies",
                        ("collector", "logger"))


def receives_without_waiting(lab, collector):
    """Fails the check if a receive of the collector's failed with EAGAIN
    (not made so by LAB_FAULTS): a receive that does not wait."""
    lab.collector.sync()
    failed = [e for e in lab.events(RECEIVES, proc=collector)
              if e.get("errno") in ("EAGAIN", "EWOULDBLOCK") and
              not e.get("injected")]
    e = failed[0] if failed else None
    lab.expect(not failed,
               f"the collector's receive to wait for the next datagram: "
               f"{e['call'] if e else ''}({e['args'].get('fd') if e else ''}"
               f", ...) = -1 {e['errno'] if e else ''} "
               f"({e['file'] if e else ''}:{e['line'] if e else ''}) found "
               "no datagram queued and failed at once instead of waiting. "
               "A collector has nothing to do until a datagram comes: call "
               "recvmsg with flags 0 on a blocking socket (no MSG_DONTWAIT, "
               "no O_NONBLOCK), and it sleeps there until one does",
               "Your task")


def test_the_collector_waits_for_the_first_datagram(lab):
    # Nothing is sent until the collector sleeps: a receive that does not
    # wait finds no datagram, whatever the scheduler does.
    collector = collecting(lab, "-n", "1")
    asleep = collector.asleep()
    if not asleep:
        if not lab.spinning(collector):  # a loop that never ends: as it is
            collector.wait()
        receives_without_waiting(lab, collector)
    lab.expect(asleep, "the collector to wait for datagrams, asleep in "
               f"recvmsg until one comes; {collector.describe()}",
               "Your task")
    send(dgram(lab), b"hello", path(lab))
    status = collector.wait()
    lab.expect(status == 0 and records(collector) == ["(unbound): hello"],
               "`collector -n 1` to print the datagram that came while it "
               "waited, (unbound): hello, and exit with status 0; it "
               f"printed {shown(records(collector))}, and "
               f"{collector.describe()}", "Your task")


def test_each_datagram_is_one_record_whole_and_in_order(lab):
    collector = collecting(lab, "-n", "4")
    peer = dgram(lab)
    sent = [b"first", b"a second, longer record", b"two\nlines", b"4"]
    for message in sent:
        send(peer, message, path(lab))
    status = collector.wait()
    got = records(collector)
    if status != 0:
        receives_without_waiting(lab, collector)
    wanted = ["(unbound): first", "(unbound): a second, longer record",
              "(unbound): two\\x0alines", "(unbound): 4"]
    lab.expect(not (len(got) == 1 and got[0] != wanted[0]),
               "each datagram to be one record: 4 datagrams were sent, "
               f"and the collector printed one record, {shown(got)}: it "
               "joined them, as a reader of a stream must; a datagram "
               "socket keeps each message apart, and one recvmsg(2) "
               "returns one datagram", "Datagrams keep their boundaries")
    lab.expect(not ("(unbound): two" in got and "lines" in got),
               "a newline inside a message to be shown escaped, \\x0a: the "
               "collector printed the datagram \"two\\nlines\" as it came, "
               "so its record ended its line early and the rest passed for "
               f"another ({shown(got)}); print each control byte as \\xNN",
               "Datagrams keep their boundaries")
    # The second datagram is the longest: a shorter one measured with
    # strlen shows the end of the longer one behind its own bytes.
    tails = [(w, g) for w, g in zip(wanted[2:], got[2:])
             if g != w and g.startswith(w) and wanted[1].endswith(g[len(w):])]
    lab.expect(not tails,
               "the collector measures a record with strlen, not with the "
               "count recvmsg(2) returned: a datagram is not a C string, no "
               "NUL ends it in the buffer, and strlen reads on into what an "
               "earlier, longer datagram left there.\nAfter \"a second, "
               "longer record\" it printed "
               + ", ".join(f"{g!r} for {w!r}" for w, g in tails)
               + "; print n bytes, n being what recvmsg returned",
               "Datagrams keep their boundaries")
    lab.expect(got == wanted and status == 0,
               "`collector -n 4` to receive each of the 4 datagrams sent to "
               "log.sock with recvmsg(2), print each as one record, "
               f"({shown(wanted)}), and exit with status 0; it printed "
               f"{shown(got)}, and {collector.describe()}",
               "Your task")


def test_an_empty_datagram_is_a_record_not_the_end(lab):
    collector = collecting(lab, "-n", "2")
    peer = dgram(lab)
    send(peer, b"", path(lab))
    send(peer, b"after the empty one", path(lab))
    status = collector.wait()
    got = records(collector)
    lab.expect(got == ["(unbound): ", "(unbound): after the empty one"] and
               status == 0,
               "an empty datagram to be a record like any other: recvmsg "
               "returns 0 for it, and a datagram socket has no end of file; "
               "the collector must print it (an empty record) and go on to "
               f"the next; it printed {shown(got)}, and "
               f"{collector.describe()}", "Datagrams keep their boundaries")


def connected_to_a_sender(lab, collector):
    """A sentence if the collector connected its socket (to reply with
    send, say), else None: a connected datagram socket takes datagrams
    from its peer alone."""
    lab.collector.sync()
    done = lab.events("connect", proc=collector, ret=0)
    if not done:
        return None
    e = done[0]
    return ("the collector to reply with sendto(2), to the address and "
            f"length recvmsg gave, and never to connect: {call_text(e)} "
            f"({e['file']}:{e['line']}) made that sender its socket's only "
            "peer. A connected datagram socket receives only from its peer: "
            "every other logger's sendto then fails with EPERM, and the "
            "collector hears no one else")


def test_the_collector_names_each_sender_and_replies_to_a_bound_one(lab):
    collector = collecting(lab, "-n", "2")
    anonymous, named = dgram(lab), dgram(lab, "peer.sock")
    send(anonymous, b"from nobody", path(lab))
    send(named, b"hello", path(lab))
    answer = reply_to(lab, named, collector)
    status = collector.wait()
    got = records(collector)
    hello = [line for line in got if line.endswith(": hello")]
    lab.expect(not hello or hello == [f"{path(lab, 'peer.sock')}: hello"],
               "the sender's address from recvmsg: a logger bound to "
               f"{path(lab, 'peer.sock')} sent hello, and the collector "
               f"printed {shown(hello)}; set msg_name to &from and "
               "msg_namelen to sizeof from before the call (the kernel "
               "writes at most msg_namelen bytes of the address there), and "
               "give the length it returns in msg_namelen to name_sender",
               "Who sent it: addresses and replies")
    lab.expect(got == ["(unbound): from nobody",
                       f"{path(lab, 'peer.sock')}: hello"],
               "each record printed after its sender: (unbound) for a "
               "socket that never bound, the path of one that did; it "
               f"printed {shown(got)}", "Who sent it: addresses and replies")
    padded = answer is not None and answer != b"ok 5" and \
        answer.startswith(b"ok 5\0")
    lab.expect(not padded,
               "the collector sends its reply with a length that is not the "
               "text's: "
               + ("strlen + 1 counts the final NUL"
                  if padded and len(answer) == 5 else
                  f"sizeof the buffer ({len(answer or b'')} bytes) counts "
                  "the NUL and what follows it")
               + "; a datagram carries its own length, so send exactly the "
               "count snprintf returned.\nThe logger bound to peer.sock "
               f"received {cut(answer or b'', 40)}, {len(answer or b'')} "
               "bytes, for ok 5 (4 bytes)", "Who sent it: addresses and replies")
    lab.expect(answer == b"ok 5",
               "a reply, ok 5, to the logger bound to peer.sock, sent with "
               "sendto(2) to the address and length recvmsg returned; it "
               f"received {cut(answer or b'')} (nothing, if none came "
               f"before the collector ended or within {labrun.WAIT:g} s); "
               "collector stderr: "
               f"{cut(collector.stderr_bytes, 200)}",
               "Who sent it: addresses and replies")
    connected = connected_to_a_sender(lab, collector)
    lab.expect(connected is None, f"{connected}",
               "Who sent it: addresses and replies")
    closed_once(lab, "Your task")
    lab.collector.sync()
    sends = lab.events(("sendto", "send", "sendmsg"), proc=collector)
    if collector.stderr.strip() and sends and \
            all(e["ret"] >= 0 for e in sends):
        e = sends[-1]
        lab.expect(False,
                   "the collector to report a reply as failed only when "
                   "sendto returns -1: every sendto it made succeeded, "
                   f"the last {call_text(e)} ({e['file']}:{e['line']}), "
                   "and it said "
                   f"{cut(collector.stderr_bytes, 200)}. sendto returns "
                   "the count of bytes sent, not 0: test its result "
                   "against -1, and only then look at errno",
                   "Who sent it: addresses and replies")
    lab.expect(status == 0 and not collector.stderr.strip(),
               "no reply attempted to the socket that never bound (no "
               "address: recvmsg returned a length of 0), no error, and an "
               "exit with status 0. Whether a sender can be answered is "
               "msg_namelen's to say: reply only when it is greater than "
               "offsetof(struct sockaddr_un, sun_path); for a sender with "
               "no address this recvmsg writes nothing in from, whose "
               "sun_path holds what was there before; "
               f"{collector.describe()}, and said "
               f"{cut(collector.stderr_bytes, 200)}",
               "Who sent it: addresses and replies")


def test_a_newline_in_a_senders_name_cannot_forge_a_record(lab):
    # Any process may bind a name with a newline in it: printed as it is,
    # the rest of the name would pass for a record of another sender.
    collector = collecting(lab, "-n", "1")
    peer = dgram(lab)
    name = f"lab-{os.getpid()}-{id(peer)}\nroot"
    peer.bind("\0" + name)
    send(peer, b"forged", path(lab))
    status = collector.wait()
    got = records(collector)
    shown_name = "@" + name.replace("\n", "\\x0a")
    named = got[0].rsplit(": forged", 1)[0] if got else ""
    lab.expect(not (named.startswith(shown_name) and named != shown_name),
               "the collector reads an abstract name on past its end: an "
               "abstract name is not a C string, no NUL ends it, and its "
               "length is msg_namelen less offsetof(struct sockaddr_un, "
               "sun_path), less the leading '\\0'.\nA socket bound to "
               f"the abstract name {shown_name[1:]!r} sent forged, and the "
               f"collector named it {named!r}",
               "Who sent it: addresses and replies")
    lab.expect(got == ["@" + name.replace("\n", "\\x0a") + ": forged"]
               and status == 0,
               "the sender's name escaped as the message is: a socket bound "
               "to the abstract name \"" + name.replace("\n", "\\n") + "\" "
               f"sent forged, and the collector printed {shown(got)}; a "
               "newline in the name ends the line, and root: forged passes "
               "for a record of another sender; print the name with the "
               f"same \\xNN escapes; {collector.describe()}",
               "Datagrams keep their boundaries")


def test_a_newline_in_a_senders_name_cannot_forge_a_line_of_an_error(lab):
    # The reply fails (LAB_FAULTS): the collector says so on standard
    # error, naming the sender, whose name it chose, newline included.
    collector = collecting(lab, "-n", "1",
                           env={"LAB_FAULTS": "sendto=ECONNREFUSED"})
    peer = dgram(lab)
    name = f"lab-{os.getpid()}-{id(peer)}\ncollector: stopped"
    peer.bind("\0" + name)
    send(peer, b"hello", path(lab))
    collector.wait()
    lab.expect(not any(line.startswith("collector: stopped")
                       for line in collector.stderr.splitlines()),
               "the sender's name escaped on standard error too: a socket "
               "bound to the abstract name \"" + name.replace("\n", "\\n") +
               "\" got no reply (sendto failed), and the collector said "
               f"{cut(collector.stderr_bytes, 300)}; its newline began a line "
               "of the sender's own; print the name with the same \\xNN "
               f"escapes as in a record; {collector.describe()}",
               "Who sent it: addresses and replies")


def test_a_newline_in_a_replier_s_name_cannot_forge_a_reply(lab):
    # Any process may send to the logger's socket, from a name it chose.
    collector = dgram(lab, SOCK)
    liar = dgram(lab, "x\nlogger: reply from log.sock: ok 99")
    logger = lab.start("logger", "-b", "mine.sock", SOCK, "hello")
    _, sender = answered(lab, collector, b"ok 5", replier=liar)
    if sender:  # else no reply can reach it: nothing to wait for
        logger.wait()
    lab.expect(len(logger.stdout.splitlines()) <= 1,
               "the name of the reply's sender printed with no control "
               "byte, as the reply is: a socket bound to \"x\\nlogger: "
               "reply from log.sock: ok 99\" replied, and the logger "
               f"printed {cut(logger.stdout_bytes, 200)}, a line of the "
               f"sender's own; {logger.describe()}",
               "Who sent it: addresses and replies")


def test_a_newline_in_a_reply_cannot_forge_a_reply(lab):
    # Any process may send to the logger's socket, any bytes it likes.
    collector = dgram(lab, SOCK)
    logger = lab.start("logger", "-b", "mine.sock", SOCK, "hello")
    _, sender = answered(lab, collector,
                         b"ok 5\nlogger: reply from log.sock: ok 99")
    if sender:  # else no reply can reach it: nothing to wait for
        logger.wait()
    lab.expect(len(logger.stdout.splitlines()) <= 1,
               "the reply printed with no control byte: the collector's "
               "socket replied \"ok 5\\nlogger: reply from log.sock: ok "
               f"99\", and the logger printed {cut(logger.stdout_bytes, 200)}"
               ", a line the reply wrote itself. Hide each control byte of "
               "the n bytes received (hide_control_bytes) before printing "
               f"them; {logger.describe()}",
               "Who sent it: addresses and replies")


def test_a_sender_with_an_abstract_name_gets_its_reply(lab):
    collector = collecting(lab, "-n", "1")
    peer = dgram(lab)
    # SO_PASSCRED: the kernel names an unbound sender itself, an abstract
    # name of 5 hex digits (unix(7), "Autobind feature").
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    send(peer, b"hello", path(lab))
    answer = reply_to(lab, peer, collector)
    collector.wait()
    name = peer.getsockname()
    lab.collector.sync()
    if answer is None and not lab.events(SENDS, proc=collector):
        lab.expect(False,
                   "a reply to a sender with an abstract name (SO_PASSCRED "
                   f"gave it @{name[1:].decode(errors='replace')}): the "
                   "collector sent it none, taking it for a sender without "
                   "an address. An abstract name is an address, though its "
                   "sun_path starts with a '\\0': whether a sender can be "
                   "answered is msg_namelen's to say (greater than "
                   "offsetof(struct sockaddr_un, sun_path)), not sun_path's "
                   "first byte", "Who sent it: addresses and replies")
    lab.expect(answer == b"ok 5",
               "a reply to a sender with an abstract name (SO_PASSCRED gave "
               f"it @{name[1:].decode(errors='replace')}): sendto to the "
               "address recvmsg returned, with the length in msg_namelen, "
               "not sizeof from (an abstract name is exactly that long); it "
               f"received {cut(answer or b'')}; collector stderr: "
               f"{cut(collector.stderr_bytes, 200)}",
               "Who sent it: addresses and replies")


SUN_PATH = 108  # the bytes of sun_path, on Linux


# Binds the socket of descriptor argv[1] to the path argv[2], with libc's
# bind (Python's wants room for a '\0' after the path), from the directory
# the process runs in.
BIND_BY_LIBC = """
import ctypes, socket, struct, sys
addr = struct.pack("=H", socket.AF_UNIX) + sys.argv[2].encode()
libc = ctypes.CDLL(None, use_errno=True)
if libc.bind(int(sys.argv[1]), ctypes.c_char_p(addr), len(addr)) != 0:
    sys.exit(ctypes.get_errno())
"""


def bound_to_a_full_path(lab):
    """(a Python datagram socket bound to a path as long as sun_path, 108
    bytes, with no '\\0' after it, its path).  The path is a name in the
    lab directory, relative to it: bind resolves it from the directory of
    a process that runs there (a Python of its own, given the socket), as
    the collector, which runs there too, resolves the address it replies
    to.  However long the lab directory's own path, then, it fits."""
    name = "s" * SUN_PATH
    peer = dgram(lab)
    bound = subprocess.run([sys.executable, "-c", BIND_BY_LIBC,
                            str(peer.fileno()), name], cwd=lab.dir,
                           pass_fds=(peer.fileno(),), capture_output=True,
                           timeout=5 * labrun.WAIT)
    assert bound.returncode == 0, \
        f"bind of {name}: {os.strerror(bound.returncode)} {bound.stderr!r}"
    return peer, name


def test_a_sender_whose_path_fills_sun_path_is_named_and_answered(lab):
    # (Not with sanitizers: their recvmsg marks msg_namelen bytes of the
    # name written, one more than the kernel wrote, and stops there.)
    collector = collecting(lab, "-n", "1")
    peer, name = bound_to_a_full_path(lab)
    send(peer, b"long", path(lab))
    answer = reply_to(lab, peer, collector)
    status = collector.wait()
    got = records(collector)
    lab.expect(got == [f"{name}: long"],
               f"a sender bound to a path of {SUN_PATH} bytes, the whole of "
               "sun_path, to be named by that path: no '\\0' ends it in the "
               "address, which is msg_namelen long (one more than "
               "struct sockaddr_un holds: the kernel counts a '\\0' it did "
               "not write), so print at most sizeof from.sun_path bytes of "
               f"it, never with %s; the collector printed {shown(got)}, and "
               f"{collector.describe()}", "Who sent it: addresses and replies")
    lab.expect(answer == b"ok 4" and status == 0,
               f"a reply, ok 4, to a sender bound to a path of {SUN_PATH} "
               "bytes: recvmsg gives msg_namelen one more than sizeof from "
               "(the kernel counts a '\\0' that the path has no room for), "
               "and sendto refuses a length greater than sizeof from with "
               "EINVAL: reply with at most sizeof from. It received "
               f"{cut(answer or b'')}; collector stderr: "
               f"{cut(collector.stderr_bytes, 200)}",
               "Who sent it: addresses and replies")


def test_an_abstract_name_ends_where_msg_namelen_says(lab):
    # A sender with a long path first: its address fills the collector's
    # sockaddr_un far past the short abstract name that comes next, and no
    # NUL ends that name in the buffer.
    collector = collecting(lab, "-n", "2")
    long_named = dgram(lab, "a-sender-with-a-long-name.sock")
    send(long_named, b"first", path(lab))
    short = dgram(lab)
    # An abstract name of the kernel's choosing (autobind: five hex digits,
    # one no other socket has), so that two runs never want the same one.
    short.bind(b"")
    name = "@" + short.getsockname()[1:].decode()
    send(short, b"second", path(lab))
    status = collector.wait()
    got = records(collector)
    second = [line for line in got if line.endswith(": second")]
    named = second[0][:-len(": second")] if second else ""
    lab.expect(not (named.startswith(name) and named != name),
               "the collector reads an abstract name on past its end: an "
               "abstract name is not a C string, no NUL ends it, and its "
               "length is msg_namelen less offsetof(struct sockaddr_un, "
               "sun_path), less the leading '\\0' (printf(\"@%.*s\", "
               "len, sun_path + 1)).\nA socket bound to the abstract name "
               f"{name[1:]} sent second after a sender with a long path, "
               f"and the collector named it {named!r}: the rest is that "
               "path's", "Who sent it: addresses and replies")
    lab.expect(second == [f"{name}: second"] and status == 0,
               f"a sender bound to the abstract name {name[1:]} to be named "
               f"{name}: the collector printed {shown(got)}; "
               f"{collector.describe()}",
               "Who sent it: addresses and replies")


def test_a_datagram_longer_than_the_buffer_is_cut_and_said_so(lab):
    collector = collecting(lab, "-n", "2")
    peer = dgram(lab, "peer.sock")
    long_one = bytes(range(65, 91)) * 100  # 2600 bytes
    send(peer, long_one, path(lab))
    first = reply_to(lab, peer, collector)
    send(peer, b"short", path(lab))
    second = reply_to(lab, peer, collector)
    collector.wait()
    got = records(collector)
    kept = f"{path(lab, 'peer.sock')}: {long_one[:MAX_RECORD].decode()}"
    body = got[0].split(": ", 1)[-1].split(" [cut", 1)[0] if got else ""
    lab.expect(not (0 < len(body) < MAX_RECORD and
                    long_one.decode().startswith(body)),
               f"a buffer of {MAX_RECORD} bytes for each record (RFC 5424 "
               f"asks a syslog receiver to take at least {MAX_RECORD}): the "
               f"collector kept only {len(body)} bytes of a datagram of "
               f"{len(long_one)}, and the reply was {cut(first or b'')}",
               "Datagrams keep their boundaries")
    lab.expect(got and got[0].startswith(kept),
               f"the first {MAX_RECORD} bytes of a datagram of "
               f"{len(long_one)} bytes, the collector's buffer full, as one "
               f"record; it printed {shown(got)}", "Datagrams keep their "
               "boundaries")
    lab.expect(first != b"cut %d" % len(long_one),
               "the reply to a cut record to give the bytes kept, cut "
               f"{MAX_RECORD}, not the datagram's whole length: the reply was "
               f"{cut(first or b'')}. With MSG_TRUNC in recvmsg's flags, "
               "recvmsg returns the whole length, more than record holds; "
               f"reply with the bytes kept, at most sizeof record",
               "Datagrams keep their boundaries")
    lab.expect(got[0] == kept + f" [cut: the datagram was longer than "
               f"{MAX_RECORD} bytes]" and first == b"cut 2048",
               f"a datagram of {len(long_one)} bytes, longer than the "
               f"collector's buffer of {MAX_RECORD}, to be said cut: recvmsg "
               "keeps what fits and drops the rest without an error, and "
               "says so only with MSG_TRUNC in msg.msg_flags: set cut from "
               "it (the reply must be cut 2048, the record must end with "
               f"[cut: ...]); the reply was {cut(first or b'')}",
               "Datagrams keep their boundaries")
    lab.expect(got[1:] == [f"{path(lab, 'peer.sock')}: short"] and
               second == b"ok 5",
               "the next datagram whole, ok 5: what was cut of a datagram "
               "is lost, never read as the start of the next one; it "
               f"printed {shown(got[1:])}, and replied {cut(second or b'')}",
               "Datagrams keep their boundaries")


def test_a_datagram_that_just_fills_the_buffer_is_not_cut(lab):
    collector = collecting(lab, "-n", "2")
    peer = dgram(lab, "peer.sock")
    full = bytes(range(97, 123)) * 78 + b"abcdefghijklmnopqrst"  # 2048
    longer = full + b"!"
    replies = []
    for message in (full, longer):
        send(peer, message, path(lab))
        replies.append(reply_to(lab, peer, collector))
    collector.wait()
    got = records(collector)
    said_cut = [" [cut" in line for line in got]
    lab.expect(not (replies[0] == b"cut 2048" or said_cut[:1] == [True]),
               f"a datagram of exactly {MAX_RECORD} bytes, as long as the "
               "collector's buffer, to be taken whole, not said cut: "
               f"recvmsg returned {MAX_RECORD} without MSG_TRUNC in "
               "msg.msg_flags, and the collector replied "
               f"{cut(replies[0] or b'')}. A count equal to the buffer's "
               "size says the buffer is full, not that the datagram was "
               "longer: only MSG_TRUNC says that (a datagram of "
               f"{MAX_RECORD + 1} bytes sets it)",
               "Datagrams keep their boundaries")
    lab.expect(replies == [b"ok 2048", b"cut 2048"] and
               said_cut == [False, True],
               f"a datagram of {MAX_RECORD} bytes whole (ok 2048), and one "
               f"of {MAX_RECORD + 1} said cut (cut 2048, and [cut: ...] "
               "after its record): MSG_TRUNC in msg.msg_flags tells them "
               f"apart; the replies were "
               f"{', '.join(cut(r or b'') for r in replies)}, and the "
               f"records {shown(got)}", "Datagrams keep their boundaries")


def test_a_logger_that_reads_no_replies_does_not_stop_the_collector(lab):
    queue = max_dgram_qlen()
    collector = collecting(lab)
    deaf, listening = dgram(lab, "deaf.sock"), dgram(lab, "listening.sock")
    # Each record of deaf's gets a reply that deaf never reads: after
    # queue + 1 of them its queue is full.
    failed = next(filter(None, (send(deaf, b"record %d" % n, path(lab))
                                for n in range(queue + 3))), None)
    answer = None if failed else \
        send(listening, b"am I heard?", path(lab)) or \
        reply_to(lab, listening, collector)
    connected = connected_to_a_sender(lab, collector)
    lab.expect(connected is None, f"{connected}",
               "Who sent it: addresses and replies")
    full = lab.events(("sendto", "send", "sendmsg"), proc=collector,
                      errno="EAGAIN")
    # Its socket is closed as its exit begins: it is waited for, so that
    # a send refused meanwhile finds it ended.
    lab.expect(answer == b"ok 11" or not full or
               collector.wait(labrun.WAIT) is None,
               "the collector to go on after a reply fails with EAGAIN (a "
               "logger that never reads its replies has filled its queue): "
               f"{call_text(full[0]) if full else ''} "
               f"({full[0]['file'] if full else ''}:"
               f"{full[0]['line'] if full else ''}), and then the collector "
               f"{collector.describe().split(') ', 1)[-1]}, no one else "
               "heard. A reply that cannot go is dropped, and said so: the "
               "collector goes on receiving",
               "When the collector's queue is full")
    lab.expect(answer == b"ok 11",
               "the collector to go on after a logger that never reads its "
               f"replies has filled its queue ({queue + 1} replies, "
               "net.unix.max_dgram_qlen + 1): the next reply to it must not "
               "wait (MSG_DONTWAIT, then EAGAIN: drop it and say so), or "
               "the collector waits for ever and no one else is heard; a "
               "second logger got no reply within "
               f"{labrun.WAIT:g} s", "When the collector's queue is full")
    lab.stop(collector)
    full = lab.events(("sendto", "send", "sendmsg"), proc=collector,
                      errno="EAGAIN")
    lab.expect(not full or collector.stderr.strip(),
               "the collector to see that a reply failed: sendto returns -1 "
               "when it does, here "
               + (f"{call_text(full[0])} ({full[0]['file']}:"
                  f"{full[0]['line']})" if full else "")
               + ", and the collector said nothing. Test sendto's result "
               "against -1 (any other value is the count of bytes sent), "
               "and then say why with errno: EAGAIN, the logger's queue is "
               "full", "When the collector's queue is full")
    lab.expect("queue is full" in collector.stderr,
               "the collector to say that it dropped the replies to a "
               "logger whose queue was full; it said "
               f"{cut(collector.stderr_bytes, 200)}",
               "When the collector's queue is full")


def waiting_in_recvmsg(lab, collector):
    """Returns once the collector sleeps in the kernel, after its bind: in
    recvmsg, the only call it waits in."""
    lab.expect(collector.asleep(),
               "the collector to wait for datagrams; "
               f"{collector.describe()}", "Your task")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_signal_stops_the_collector_cleanly(lab, sig):
    collector = collecting(lab)
    waiting_in_recvmsg(lab, collector)
    collector.signal(sig)

    def restarted():
        # The handler ran, no call failed with EINTR, and the collector
        # sleeps in its receive again: the kernel made the call again
        # (SA_RESTART), and it waits for a datagram that does not come.
        return bool(lab.events(proc=collector, event="signal",
                               where=lambda e: e["args"].get("sig") ==
                               sig.name)) and \
            not lab.events(proc=collector, event=None, errno="EINTR") and \
            peers.sleeps_through(collector.pid, set(RECEIVES),
                                 lambda: True)
    lab.wait_until(lambda: collector.exited or restarted(), proc=collector,
                   every=0.01)
    status = collector.wait(0)
    lab.expect(not (status == 0 and (lab.dir / SOCK).exists()),
               f"the collector to remove log.sock, the socket file its bind "
               f"created, when it stops: after {sig.name} it exited with "
               "status 0, and log.sock is still there. After the loop, close "
               "the socket, then unlink(path): closing a bound socket "
               "leaves its file", "Your task")
    if status is None:
        lab.collector.sync()
        installed = [e for e in lab.events(("sigaction", "signal"),
                                           proc=collector)
                     if e["args"].get("sig") == sig.name and e["ret"] == 0]
        interrupted = [e for e in lab.events(proc=collector, event=None)
                       if e.get("errno") == "EINTR"]
        restarts = installed and not interrupted and \
            "SA_RESTART" in str(installed[-1]["args"].get("flags"))
        lab.expect(not restarts,
                   "the stop handler installed without SA_RESTART: "
                   + (f"{call_text(installed[-1])} "
                      f"({installed[-1]['file']}:{installed[-1]['line']}) "
                      if restarts else "")
                   + "asks the kernel to make again the call that a signal "
                   f"interrupts, so after {sig.name} the handler ran and "
                   "recvmsg went on waiting, where it should have returned "
                   "-1 with EINTR for the loop to see stop_requested. Leave "
                   f"sa_flags 0; {collector.describe()}", "Your task")
    lab.expect(status == 0 and not (lab.dir / SOCK).exists(),
               f"after {sig.name}, recvmsg to return -1 with EINTR, and the "
               "collector to close its socket, remove log.sock and exit "
               f"with status 0; {collector.describe()}, and log.sock is "
               f"{'still there' if (lab.dir / SOCK).exists() else 'gone'}",
               "Your task")


def test_the_collector_removes_its_socket_file_on_exit(lab):
    collector = collecting(lab, "-n", "1", "other.sock")
    send(dgram(lab), b"bye", path(lab, "other.sock"))
    collector.wait()
    lab.expect(not (lab.dir / "other.sock").exists() and
               collector.returncode == 0,
               "`collector -n 1 other.sock` to exit with status 0 after one "
               "record, and remove other.sock, the path it was given; "
               f"{collector.describe()}", "Your task")


@pytest.mark.parametrize("other", REPLACEMENTS)
def test_the_collector_leaves_alone_a_file_that_replaced_its_socket(lab,
                                                                    other):
    collector = collecting(lab)
    waiting_in_recvmsg(lab, collector)
    replacement_left_alone(lab, collector, SOCK, other, socket.SOCK_DGRAM,
                           "Your task")


def test_a_closed_standard_output_is_said_before_a_record_is_lost(lab):
    # With fd 1 closed the socket takes number 1: printing a record
    # would write to the collector's own socket, and fail with ENOTCONN.
    collector = lab.run("collector", SOCK,
                        under=("sh", "-c", 'exec "$0" "$@" >&-'))
    lab.expect(collector.stopped_with is None and collector.returncode == 1
               and says_standard_output(collector.stderr, closed=True) and
               not (lab.dir / SOCK).exists(),
               "`collector log.sock >&-` to say that standard output is "
               "closed and exit with status 1, at once, leaving no socket "
               "file: socket(2) returns the lowest free fd, so its socket "
               "took fd 1, and every record printed would go to it; it said "
               f"{cut(collector.stderr_bytes, 200)} and "
               f"{collector.describe()}", "Your task")


# Standard output a pipe whose reader has gone, as in `collector | head -1`
# once head has exited: each write raises SIGPIPE, and fails with EPIPE.
# SIGPIPE goes back to its default action: Python ignores it, and exec
# would pass that on.
NO_READER = (sys.executable, "-c",
             "import os, signal, sys; r, w = os.pipe(); os.close(r); "
             "os.dup2(w, 1); signal.signal(signal.SIGPIPE, signal.SIG_DFL); "
             "os.execv(sys.argv[1], sys.argv[1:])")


def test_a_reader_that_has_gone_ends_the_collector_cleanly(lab):
    collector = lab.start("collector", SOCK, under=NO_READER)
    lab.require("bind", "the collector to bind its socket, log.sock",
                "What this stage does", proc=collector, ret=0)
    send(dgram(lab), b"nobody reads this", path(lab))
    status = collector.wait()
    if status is None:
        lab.stop(collector)
    lab.expect(status == 1 and says_standard_output(collector.stderr) and
               not (lab.dir / SOCK).exists(),
               "a collector whose standard output is a pipe nobody reads any "
               "more (collector | head -1, once head has exited) to say that "
               "writing standard output failed, remove log.sock and exit "
               "with status 1; SIGPIPE's default action kills it first, "
               "leaving log.sock behind, unless it is ignored "
               "(signal(SIGPIPE, SIG_IGN)): then printing fails with EPIPE; "
               f"{collector.describe()}, and log.sock "
               f"{'is left' if (lab.dir / SOCK).exists() else 'is removed'}",
               "Your task")


def test_a_bad_count_is_said_and_binds_nothing(lab):
    collector = lab.run("collector", "-n", "-1")
    lab.expect(collector.stopped_with is None and collector.returncode == 2
               and "-n -1" in collector.stderr and
               "COUNT" in collector.stderr and not lab.events("bind"),
               "`collector -n -1` to say what is wrong with the count (a "
               "whole number of records, 1 or more) and exit with status 2 "
               f"before it binds anything; it said "
               f"{cut(collector.stderr_bytes, 200)} and "
               f"{collector.describe()}", "Your task")


# -- the logger, with a Python collector --------------------------------------

def received(peer, count=None):
    """The datagrams waiting for peer, (the datagrams, their senders): with
    count, up to count, each waited for at most the lab's wait; without,
    those queued now (the sender has exited: all it sent is there)."""
    got, senders = [], []
    peer.settimeout(labrun.WAIT if count else 0)  # 0: never wait
    while count is None or len(got) < count:
        try:
            data, sender = peer.recvfrom(65536)
        except OSError:  # socket.timeout, or BlockingIOError
            break
        got.append(data)
        senders.append(sender)
    peer.settimeout(labrun.WAIT)
    return got, senders


@pytest.mark.parametrize("program", ["collector", "logger"])
def test_each_signal_handler_calls_only_async_signal_safe_functions(lab,
                                                                    program):
    handlers_call_only_safe_functions(
        lab, program, "Your task",
        "Let the handler set the flag and return, and print in main")


def waiting_for_no_reply(lab, logger):
    """A sentence if the logger, which never bound an address (no -r),
    waited for a reply (a receive, or a poll, on its socket that waited),
    else None."""
    if lab.events("bind", proc=logger, ret=0):
        return None
    waits = [e for e in lab.events((*RECEIVES, "poll"), proc=logger,
                                   event="wait")
             if e["call"] == "poll" or e["args"].get("fd") != 0]
    if not waits:
        return None
    first = waits[0]
    return ("the logger without -r to send its messages and exit, without "
            f"waiting for replies: its {call_text(first)} ({first['file']}:"
            f"{first['line']}) waited, though its socket never bound. A "
            "datagram from a socket with no address carries no sender, so "
            "no reply can come, and it waited until it was stopped. Wait "
            "for a reply only with -r (or -b), once bind has given the "
            f"socket an address; {logger.describe()}")


def test_the_logger_sends_each_line_as_one_datagram(lab):
    collector = dgram(lab, SOCK)
    lines = [b"one", b"two, a longer line", b"", b"x" * 5000,
             b"a NUL\0inside", b"the last, without newline"]
    logger = lab.run("logger", SOCK, stdin=b"\n".join(lines))
    got, _ = received(collector)
    at_nul = [g for g, line in zip(got, lines)
              if g != line and b"\0" in line and g == line.split(b"\0")[0]]
    lab.expect(not at_nul,
               "the logger to send each line whole, a NUL byte in it too: "
               f"the line {cut(lines[4], 30)} went as "
               f"{cut(at_nul[0] if at_nul else b'', 30)}, "
               "cut at its NUL. A line is as long as getline says, less its "
               "newline: a NUL ends a C string, not a line, so never measure "
               "a message with strlen", "Your task")
    pointer = struct.calcsize("P")
    lab.expect(not (len(got) > 1 and got != lines and
                    all(len(g) == pointer for g in got)),
               f"the logger sends {pointer} bytes of every message, the size "
               "of a pointer: sizeof msg measures the pointer, not the bytes "
               "it points to; send the message's length (what getline "
               "returned, less the newline, or strlen of an argument).\n"
               f"It was given {shown(lines)}, and every datagram the "
               f"collector received was {pointer} bytes long: {shown(got)}",
               "Your task")
    lab.expect(got != lines[:lines.index(b"")],
               "the logger to send an empty line as an empty datagram and "
               "go on: it stopped at the empty line, having sent "
               f"{shown(got)}. read_line returns 0 for a line with nothing "
               "before its newline, and -1 at the end of the input: only -1 "
               f"ends the loop; {logger.describe()}", "Your task")
    waiting = waiting_for_no_reply(lab, logger)
    lab.expect(waiting is None, f"{waiting}", "Who sent it: addresses and "
               "replies")
    lab.expect(got == lines and logger.returncode == 0,
               "each line of standard input, without its newline, sent as "
               "one datagram with sendto(2), whatever its length (an empty "
               f"one, one of 5000 bytes): {shown(lines)}; the collector "
               f"received {shown(got)}, and {logger.describe()}",
               "Your task")


def test_a_line_too_long_for_one_datagram_is_skipped_and_the_next_sent(lab):
    collector = dgram(lab, SOCK)
    huge = b"x" * 1_000_000  # more than a datagram may hold: EMSGSIZE
    logger = lab.run("logger", SOCK, stdin=b"before\n" + huge + b"\nafter\n")
    got, _ = received(collector)
    refused = lab.events(("sendto", "send", "sendmsg"), proc=logger,
                         errno="EMSGSIZE")
    lab.expect(got == [b"before", b"after"] and logger.returncode == 1,
               "a line of 1000000 bytes, too long for one datagram (sendto "
               "fails with EMSGSIZE), to be skipped with a message, and the "
               "next line sent: the datagrams received were "
               f"{shown(got)}; " + ("the logger's send failed with EMSGSIZE "
                                    "and it did not go on; " if refused and
                                    b"after" not in got else "")
               + f"{logger.describe()}", "Errors a datagram meets")


def test_the_logger_sends_each_argument_as_one_datagram(lab):
    collector = dgram(lab, SOCK)
    logger = lab.run("logger", SOCK, "hello", "two words", "")
    got, senders = received(collector)
    lab.expect(not (got and all(g.endswith(b"\0") for g in got) and
                    [g[:-1] for g in got] == [b"hello", b"two words", b""]),
               "each message sent without the NUL that ends its C string: "
               f"the collector received {shown(got)}, each with a final "
               "\\x00. strlen(msg) is the message's length; strlen(msg) + 1 "
               "(or sizeof) sends the terminator too, a byte the message "
               "never had", "Your task")
    waiting = waiting_for_no_reply(lab, logger)
    lab.expect(waiting is None, f"{waiting}", "Who sent it: addresses and "
               "replies")
    lab.expect(got == [b"hello", b"two words", b""] and
               logger.returncode == 0,
               "each MESSAGE argument sent as one datagram: hello, two "
               f"words, and an empty one; the collector received "
               f"{shown(got)}, and {logger.describe()}", "Your task")
    lab.expect(not any(senders),
               "a logger without -r to send from a socket that never "
               f"bound: it needs no address; the collector saw {senders}",
               "Who sent it: addresses and replies")


def test_the_logger_reaches_a_collector_at_a_long_path(lab):
    name = "a-collector-whose-socket-file-has-a-longer-name.sock"
    collector = dgram(lab, name)
    logger = lab.run("logger", name, "hello")
    got, _ = received(collector)
    short = [e for e in lab.events(SENDS, proc=logger, event=None)
             if (e.get("args") or {}).get("addrlen") is not None and
             e["args"]["addrlen"] < 2 + len(name) + 1]
    e = short[0] if short else None
    lab.expect(not short,
               "the logger to give sendto the length of the whole address: "
               f"{e['call'] if e else ''}(..., "
               f"{e['args']['addrlen'] if e else ''}) "
               f"({e['file'] if e else ''}:{e['line'] if e else ''}) for "
               f"the path {name}, {len(name)} bytes: the kernel reads only "
               f"{(e['args']['addrlen'] - 2) if e else ''} bytes of it, and "
               "looks for another file. sizeof(struct sockaddr), 16, is an "
               "Internet address's size, with room for 14 bytes of path: "
               "give sizeof *to, the size of the struct sockaddr_un",
               "Who sent it: addresses and replies")
    lab.expect(got == [b"hello"] and logger.returncode == 0,
               f"`logger {name} hello` to send hello to the collector bound "
               f"there; it received {shown(got)}, and {logger.describe()}",
               "Who sent it: addresses and replies")


def test_the_logger_with_c_connects_first_and_sends_without_an_address(lab):
    collector = dgram(lab, SOCK)
    logger = lab.run("logger", "-c", SOCK, "first", "second")
    got, _ = received(collector)
    lab.expect(got == [b"first", b"second"] and logger.returncode == 0,
               "`logger -c`: connect(2) to the collector, then each "
               "message as one datagram with send(2), no address needed; "
               f"the collector received {shown(got)}, and "
               f"{logger.describe()}", "Who sent it: addresses and replies")
    connects = lab.events("connect", proc=logger, ret=0)
    sends = [e for e in lab.events(("send", "write", "sendto", "sendmsg"),
                                   proc=logger) if not e["args"].get("addr")]
    lab.expect(connects and len(sends) == 2,
               "`logger -c` to connect once, then call send(2) for each "
               "message (or sendmsg, with no address: a connected socket "
               f"needs none); the trace shows {len(connects)} connect and "
               f"{len(sends)} sends without an address",
               "Who sent it: addresses and replies")


def test_the_logger_with_r_waits_for_each_reply_and_removes_its_file(lab):
    collector = dgram(lab, SOCK)
    logger = lab.start("logger", "-r", SOCK, "first", "second")
    first, sender = first_from(collector)
    own = sender and Path(sender).name
    lab.expect(first == b"first" and own and re.fullmatch(
        rf"logger\.{logger.pid}\.sock", own),
               "`logger -r` to bind its own address, logger.PID.sock "
               f"(logger.{logger.pid}.sock), then send first; the collector "
               f"received {cut(first or b'')} from {sender!r}",
               "Who sent it: addresses and replies")
    # It waits for the reply: its receive (or a poll before it) waits, and
    # nothing more is sent.
    lab.wait_for((*RECEIVES, "poll"), proc=logger, event="wait")
    # The reply comes a tenth of a second late: well within the logger's
    # REPLY_TIMEOUT seconds, far past a limit given in the wrong unit.
    lab.wait_until(lambda: False, proc=logger, timeout=0.1)
    if logger.has_exited():
        gave_up = [e for e in lab.made((*RECEIVES, "poll"), proc=logger)
                   if e.get("errno") in ("EAGAIN", "EWOULDBLOCK") or
                   (e["call"] == "poll" and e["ret"] == 0)]
        lab.expect(not gave_up,
                   "`logger -r` to wait up to REPLY_TIMEOUT (5) seconds "
                   "for each reply: the reply was to come a tenth of a "
                   "second after the logger began to wait, and it had given "
                   f"up already: {call_text(gave_up[0]) if gave_up else ''} "
                   f"({gave_up[0]['file'] if gave_up else ''}:"
                   f"{gave_up[0]['line'] if gave_up else ''}). SO_RCVTIMEO "
                   "takes a struct timeval, tv_sec seconds and tv_usec "
                   "microseconds (poll's timeout is in milliseconds); "
                   f"{logger.describe()}",
                   "Who sent it: addresses and replies")
    early = received(collector)[0]
    lab.expect(not early,
               "`logger -r` to wait for the reply to each message before it "
               f"sends the next; it sent {shown(early)} first",
               "Who sent it: addresses and replies")
    # The logger bound a relative path: one in its own directory.
    send(collector, b"ok 5", str(lab.dir / sender))
    second, _ = received(collector, 1)
    send(collector, b"ok 6", str(lab.dir / sender))
    status = logger.wait()
    said = [line for line in logger.stdout.splitlines()
            if line.startswith("logger: reply from ")]
    misnamed = [line for line in said
                if not line.startswith(f"logger: reply from {path(lab)}: ")]
    lab.expect(not misnamed,
               "the logger to name the sender of each reply, the collector "
               f"bound to {path(lab)}: it printed "
               f"{cut(misnamed[0] if misnamed else '', 80)}. "
               "recvfrom writes the sender's address into from only as far "
               "as *addrlen allows, and then sets *addrlen to the address's "
               "length: set from_len = sizeof from before each call, and "
               "name the sender with the length it returns",
               "Who sent it: addresses and replies")
    lab.expect(second == [b"second"] and status == 0 and
               logger.stdout == f"logger: reply from {path(lab)}: ok 5\n"
               f"logger: reply from {path(lab)}: ok 6\n",
               "`logger -r` to receive each reply with recvfrom(2), print "
               f"it (logger: reply from {path(lab)}: ok 5), send the next "
               f"message, and exit with status 0; it printed "
               f"{cut(logger.stdout_bytes, 200)}, and {logger.describe()}",
               "Who sent it: addresses and replies")
    lab.expect(not list(lab.dir.glob("logger.*.sock")),
               "`logger -r` to remove its own socket file when it exits; "
               f"left: {[p.name for p in lab.dir.glob('logger.*.sock')]}",
               "Who sent it: addresses and replies")


def test_no_byte_is_written_past_the_end_of_a_receive_buffer(lab):
    """The logger with -r and the collector, each built with
    -fsanitize=address,undefined (a build of its own), each given a
    datagram of 64 KiB, longer than its buffer: the receive fills the
    buffer to its last byte and cuts the rest.  A '\\0' written after what
    was received then lands one byte past the buffer, which no output
    shows (and which may overwrite whatever follows it)."""
    long_one = (b"a datagram longer than any buffer of yours. " * 1500)[:65536]
    slow = labrun.WAIT * 5  # a sanitized start is slow
    for name in ("logger", "collector"):
        run = lab.sanitized(name)
        if not run:
            return  # no sanitizers here: nothing shows the buffers' ends
        if name == "logger":
            collector = dgram(lab, SOCK)
            collector.settimeout(slow)
            proc = lab.start("logger", "-r", SOCK, "hello", **run)
            answered(lab, collector, long_one)
            what = "its reply"
            (lab.dir / SOCK).unlink(missing_ok=True)  # the collector's
        else:
            proc = lab.start("collector", "-n", "1", **run)
            lab.wait_for("bind", proc=proc, ret=0, timeout=slow)
            send(dgram(lab), long_one, path(lab))
            what = "a record"
        if proc.wait(slow) is None:
            lab.stop(proc)
        found, at = finding_of(lab, proc, name)
        if not found:
            continue
        size = found["size"]
        said = (f"the {name} to receive {what} into at most the bytes its "
                "buffer holds with the '\\0' it puts after them: a count "
                "of sizeof buf - 1 (recvfrom's length, or iov_len) before "
                "buf[n] = '\\0', or no '\\0' at all (the bytes are n: "
                "%.*s prints them)" if found["what"].startswith("a write")
                else f"the {name} to read {what} no further than the n "
                "bytes received: a string function (%s, strlen) reads on to "
                "a '\\0' that was never written after them; put one there "
                "(received into sizeof buf - 1 bytes), or print n bytes "
                "with %.*s")
        said += (f". Given a datagram of {len(long_one)} bytes, longer "
                 "than its buffer, and built with -fsanitize=address,"
                 f"undefined, it made {found['what']}{at} "
                 f"({'; '.join(found['said'])})")
        if found["what"].startswith("a write of 1 byte") and size:
            said += (f": index {size} of a buffer whose last index is "
                     f"{size - 1}")
        if name == "logger":
            lab.expect(False, said, "Who sent it: addresses and replies")
        lab.expect(False, said, "Datagrams keep their boundaries")


def test_a_reader_that_has_gone_ends_the_logger_cleanly(lab):
    collector = dgram(lab, SOCK)
    logger = lab.start("logger", "-r", SOCK, "hello", under=NO_READER)
    answered(lab, collector, b"ok 5")
    status = logger.wait()
    if status is None:
        lab.stop(logger)
    left = [p.name for p in lab.dir.glob("logger.*.sock")]
    lab.expect(status == 1 and says_standard_output(logger.stderr) and
               not left,
               "`logger -r` whose standard output is a pipe nobody reads any "
               "more to say that writing standard output failed, remove its "
               "own socket file and exit with status 1; SIGPIPE's default "
               "action kills it first, leaving the file behind, unless it is "
               f"ignored; {logger.describe()}, and it left {left}",
               "Who sent it: addresses and replies")


def test_the_logger_with_b_binds_the_path_it_is_given(lab):
    collector = dgram(lab, SOCK)
    logger = lab.start("logger", "-b", "mine.sock", SOCK, "hello")
    first, sender = answered(lab, collector, b"ok 5")
    status = logger.wait()
    lab.expect(first == b"hello" and sender == "mine.sock" and status == 0
               and not (lab.dir / "mine.sock").exists(),
               "`logger -b mine.sock` to bind mine.sock for the replies, "
               "send hello from it, print the reply, exit with status 0 "
               f"and remove mine.sock; the collector received "
               f"{cut(first or b'')} from {sender!r}, and "
               f"{logger.describe()}", "Who sent it: addresses and replies")


def test_a_reply_longer_than_the_logger_s_buffer_is_cut_to_it(lab):
    # Any process may send to the logger's socket: a reply of 4096 bytes
    # comes, longer than any buffer the logger keeps for "ok N", and is
    # cut to it.  (Whether the receive, or the '\0' after it, stays inside
    # the buffer, the sanitized build shows:
    # test_no_byte_is_written_past_the_end_of_a_receive_buffer.)
    collector = dgram(lab, SOCK)
    logger = lab.start("logger", "-b", "mine.sock", SOCK, "hello")
    long_reply = b"ok 5 " + b"x" * 4091
    first, sender = answered(lab, collector, long_reply)
    status = logger.wait()
    lab.expect(first == b"hello" and sender and status == 0,
               "`logger -b mine.sock` to print a reply longer than its "
               "buffer, cut to it, and exit with status 0; the collector "
               f"received {cut(first or b'')} from {sender!r}, and "
               f"{logger.describe()}", "Who sent it: addresses and replies")


def max_dgram_qlen():
    return int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())


def test_the_logger_with_b_leaves_a_file_at_its_path_alone(lab):
    collector = dgram(lab, SOCK)
    notes = lab.dir / "notes.txt"
    notes.write_text("keep me\n")
    logger = lab.run("logger", "-b", "notes.txt", SOCK, "hello")
    got, _ = received(collector)
    kept = labrun.read_if_there(notes)
    if kept is None:
        binds = lab.events("bind", proc=logger)
        early = [e for e in lab.events(("unlink", "unlinkat", "remove"),
                                       proc=logger)
                 if binds and e["ts"] < binds[0]["ts"]]
        how = (f"before its bind ({early[0]['file']}:{early[0]['line']}): "
               "an unlink before bind deletes whatever is at the path, "
               "someone else's file too, where bind would have failed with "
               "EADDRINUSE and said so" if early else
               "though it is not the logger's: a bind that fails (here "
               "with EADDRINUSE: a file is there) makes no socket file, so "
               "there is none of the logger's to remove")
        lab.expect(False,
                   "`logger -b notes.txt`, where a regular file is, to leave "
                   f"that file alone: the logger removed notes.txt {how}. "
                   "Remove only the socket file your own bind made, and "
                   f"only once it is made; {logger.describe()}, and said "
                   f"{cut(logger.stderr_bytes, 200)}",
                   "Who sent it: addresses and replies")
    lab.expect(logger.stopped_with is None and logger.returncode == 1 and
               "already exists" in logger.stderr and not got and
               kept == b"keep me\n",
               "`logger -b notes.txt`, where a regular file is, to say that "
               "notes.txt already exists (bind never reuses a file: "
               "EADDRINUSE), send nothing, leave the file as it was and exit "
               f"with status 1; it sent {shown(got)}, said "
               f"{cut(logger.stderr_bytes, 200)} and {logger.describe()}",
               "Who sent it: addresses and replies")


SENDS = ("sendto", "send", "write", "sendmsg")
RECEIVES = ("recvfrom", "recv", "read", "recvmsg")


def sent(lab, proc):
    """How many datagrams proc has sent so far, by its trace."""
    return lab.calls(SENDS, proc=proc,
                     where=lambda e: (e.get("ret") or 0) >= 0 and
                     e.get("errno") is None)


def test_the_logger_waits_while_the_collector_s_queue_is_full(lab):
    queue = max_dgram_qlen()
    collector = dgram(lab, SOCK)  # it does not receive yet
    lines = [f"line {n}" for n in range(queue + 5)]
    logger = lab.start("logger", SOCK, *lines)
    # queue + 1 datagrams fit in the collector's queue; the next sendto
    # finds it full: the logger must wait there, asleep.
    lab.wait_until(lambda: sent(lab, logger) >= queue + 1, proc=logger)
    waited = logger.asleep()
    got, _ = received(collector, len(lines))
    status = logger.wait()
    lab.expect(waited and status == 0 and
               got == [line.encode() for line in lines],
               f"`logger` with {len(lines)} lines and a collector that does "
               f"not receive yet: {queue + 1} datagrams fill its queue "
               f"(net.unix.max_dgram_qlen + 1), then the logger's sendto "
               "waits until the collector takes one (no MSG_DONTWAIT: it "
               "would fail with EAGAIN, and the line would be lost), and "
               f"every line arrives; it {'waited' if waited else 'did not wait'}"
               f", the collector received {len(got)} of {len(lines)} lines, "
               f"and {logger.describe()}",
               "When the collector's queue is full")


# The calls a logger sleeps in: for a reply, or for room in the queue.
WAITS_AGAIN = peers.EVENT_WAITS | {"sendto", "sendmsg", "write"}


def stopped_or_waiting_again(lab, proc, calls):
    """Sends SIGTERM to proc, asleep in one of calls, and returns its exit
    status once it has ended; or None, once it has made an interrupted
    call (EINTR) again, to wait on as if no stop had been asked for: then
    it is killed."""
    proc.signal(signal.SIGTERM)

    def made_again():
        # The call again in the trace, or a sleep in a call after the
        # EINTR (a wait the trace does not announce): a logger that stops
        # makes no call that waits.
        interrupted = lab.events(calls, proc=proc, errno="EINTR")
        return bool(interrupted) and (bool(lab.events(
            calls, proc=proc, event=None,
            where=lambda e: e["ts"] > interrupted[0]["ts"])) or
            (peers.blocked_in(proc.pid) or ("",))[0] in WAITS_AGAIN)
    lab.wait_until(made_again, proc=proc, every=0.01)
    status = proc.wait(0)
    if status is None:
        lab.stop(proc, signal.SIGKILL)
    lab.collector.sync()
    return status


def test_a_stop_signal_ends_a_logger_waiting_for_room(lab):
    queue = max_dgram_qlen()
    collector = dgram(lab, SOCK)  # it never receives
    lines = [f"line {n}" for n in range(queue + 5)]
    logger = lab.start("logger", SOCK, *lines)
    lab.wait_until(lambda: sent(lab, logger) >= queue + 1, proc=logger)
    if not logger.asleep():
        return  # it does not wait for room: the check above says so
    status = stopped_or_waiting_again(lab, logger, SENDS)
    interrupted = lab.events(SENDS, proc=logger, errno="EINTR")
    again = interrupted and lab.events(
        SENDS, proc=logger, event=None,
        where=lambda e: e["ts"] > interrupted[0]["ts"])
    e = interrupted[0] if interrupted else None
    lab.expect(status is not None or not again,
               "the logger to stop when SIGTERM comes while its send waits "
               f"for room in the collector's queue: {e['call'] if e else ''}"
               f" = -1 EINTR ({e['file'] if e else ''}:"
               f"{e['line'] if e else ''}), and the logger made it again, "
               "to wait on, as if no stop had been asked for. Make an "
               "interrupted send again only while stop_requested is not "
               "set (errno == EINTR && !stop_requested)",
               "When the collector's queue is full")
    lab.expect(status == 1 and len(received(collector)[0]) < len(lines) and
               "signal" in logger.stderr,
               "`logger` waiting for room in a full queue to stop when "
               "SIGTERM comes: its send fails with EINTR (no SA_RESTART), "
               "and with stop_requested set the logger says that a signal "
               "stopped it and exits with status 1, the rest of its lines "
               f"unsent; it said {cut(logger.stderr_bytes, 200)}, and "
               f"{logger.describe()}", "When the collector's queue is full")


def test_a_stop_signal_ends_a_logger_waiting_for_its_reply(lab):
    collector = dgram(lab, SOCK)  # it never replies
    logger = lab.start("logger", "-r", SOCK, "anyone there?", "and again")
    got, _ = received(collector, 1)
    if not got or not lab.wait_for(RECEIVES, proc=logger, event="wait") \
            or not logger.asleep():
        return  # no wait for a reply: the checks above say so
    # Known well before its own limit of the wait (REPLY_TIMEOUT, 5 s).
    status = stopped_or_waiting_again(lab, logger, (*RECEIVES, "poll"))
    interrupted = lab.events(RECEIVES, proc=logger, errno="EINTR")
    e = interrupted[0] if interrupted else None
    lab.expect(status is not None or not e,
               "the logger to stop when SIGTERM comes while it waits for a "
               f"reply: {e['call'] if e else ''} = -1 EINTR "
               f"({e['file'] if e else ''}:{e['line'] if e else ''}), and "
               "the logger waited again, as if no stop had been asked for. "
               "Make an interrupted receive again only while stop_requested "
               "is not set (errno == EINTR && !stop_requested)",
               "Who sent it: addresses and replies")
    left = [p.name for p in lab.dir.glob("logger.*.sock")]
    lab.expect(status == 1 and not left and "signal" in logger.stderr,
               "`logger -r` waiting for a reply to stop when SIGTERM comes: "
               "its receive fails with EINTR (no SA_RESTART), and with "
               "stop_requested set the logger says that a signal stopped "
               "it, removes its socket file and exits with status 1; it "
               f"said {cut(logger.stderr_bytes, 200)}, {logger.describe()}, "
               f"and left {left}", "Who sent it: addresses and replies")


def test_a_reply_that_never_comes_ends_the_logger_cleanly(lab):
    collector = dgram(lab, SOCK)
    # The receive times out at once (SO_RCVTIMEO's EAGAIN, injected); a
    # logger that bounds its wait with poll's timeout instead (UNP, "Socket
    # Timeouts") finds its timeout run out.
    faults = ",".join([*(f"{call}=EAGAIN" for call in RECEIVES),
                       "poll=TIMEOUT"])
    logger = lab.start("logger", "-r", SOCK, "anyone there?",
                       env={"LAB_FAULTS": faults})
    got, _ = received(collector, 1)
    status = logger.wait()
    lab.expect(got == [b"anyone there?"] and status == 1 and
               "no reply" in logger.stderr and
               not list(lab.dir.glob("logger.*.sock")),
               "`logger -r` whose reply never comes (its receive fails with "
               "EAGAIN, as when SO_RCVTIMEO runs out) to say `no reply`, "
               "remove its socket file and exit with status 1; it said "
               f"{cut(logger.stderr_bytes, 200)}, {logger.describe()}, and "
               f"left {[p.name for p in lab.dir.glob('logger.*.sock')]}",
               "Who sent it: addresses and replies")
    # The fault ended the wait: the logger's own limit is read in its
    # source (setsockopt is not traced), or in the poll it waits in.
    source, text = lab.source("logger")
    code, _ = c_code(text)
    timed = [e for e in lab.events("poll", proc=logger, event=None)
             if (e.get("args") or {}).get("timeout", -1) >= 0]
    limited = timed or re.search(r"\bSO_RCVTIMEO\b", code) or \
        re.search(r"\b(alarm|setitimer|timer_settime)\s*\(", code)
    other = re.search(r"\bSO_SNDTIMEO\b", code)
    lab.expect(limited,
               "`logger -r` to bound its wait for each reply: "
               f"{source} never sets SO_RCVTIMEO (setsockopt(fd, "
               "SOL_SOCKET, SO_RCVTIMEO, ...)), and the trace shows no poll "
               "with a timeout"
               + (f"; it sets SO_SNDTIMEO (line "
                  f"{code.count(chr(10), 0, other.start()) + 1}), the limit "
                  "of a send, not of a receive" if other else "")
               + ". Here LAB_FAULTS made the receive fail with EAGAIN, as "
               "when the timeout runs out; without a timeout, a collector "
               "that has gone, or that cannot reply, leaves the logger "
               "waiting for ever", "Who sent it: addresses and replies")


def test_an_interrupted_send_is_made_again(lab):
    collector = dgram(lab, SOCK)
    # The first send of each kind fails with EINTR, as when a signal comes
    # while sendto waits for room (without SA_RESTART).
    faults = ",".join(f"{call}#1=EINTR" for call in SENDS)
    logger = lab.run("logger", SOCK, "first", "second",
                     env={"LAB_FAULTS": faults})
    got, _ = received(collector)
    lab.expect(got == [b"first", b"second"] and logger.returncode == 0,
               "a sendto interrupted by a signal (EINTR, with no stop asked "
               "for) made again: the message is not lost; the collector "
               f"received {shown(got)}, and {logger.describe()}",
               "When the collector's queue is full")


def test_an_interrupted_receive_does_not_stop_the_collector(lab):
    # The first receive fails with EINTR, whichever call makes it.
    faults = ",".join(f"{call}#1=EINTR" for call in RECEIVES)
    collector = collecting(lab, "-n", "1", env={"LAB_FAULTS": faults})
    send(dgram(lab), b"still here", path(lab))
    status = collector.wait()
    lab.expect(status == 0 and records(collector) == ["(unbound): still here"],
               "a receive (recvmsg) interrupted by a signal that asked "
               "for no stop "
               "(EINTR, stop_requested not set) made again: the collector "
               f"goes on; it printed {shown(records(collector))}, and "
               f"{collector.describe()}", "Your task")


def test_the_logger_explains_a_collector_that_is_not_there(lab):
    gone = dgram(lab, "gone.sock")
    gone.close()  # its file stays: a collector that exited without unlink
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lab.peers.append(stream)
    stream.bind(path(lab, "server.sock"))
    stream.listen(1)
    cases = [("never.sock", "no socket file"),
             ("gone.sock", "no collector is receiving"),
             ("server.sock", "stream socket")]
    for name, words in cases:
        for option in ((), ("-c",)):
            logger = lab.run("logger", *option, name, "hello")
            lab.expect(logger.returncode == 1 and words in logger.stderr,
                       f"`logger {' '.join(option + (name,))} hello` to say "
                       f"{words!r} and exit with status 1: "
                       f"{'no file' if name == 'never.sock' else 'a file whose socket has gone' if name == 'gone.sock' else 'a stream socket'} "
                       f"at {name}; it said {cut(logger.stderr_bytes, 200)} "
                       f"and {logger.describe()}",
                       "Errors a datagram meets")
    # With -r, the way out after a failed send passes by the unlink too.
    logger = lab.run("logger", "-r", "never.sock", "hello")
    left = [p.name for p in lab.dir.glob("logger.*.sock")]
    lab.expect(logger.returncode == 1 and not left,
               "`logger -r never.sock hello` to say that there is no socket "
               "file, remove its own socket file and exit with status 1: "
               "every way out of main, a failed send too, passes by the "
               f"close and the unlink of logger.PID.sock; it left {left}, "
               f"and {logger.describe()}",
               "Who sent it: addresses and replies")


def test_a_closed_standard_input_is_said_not_read_from_the_socket(lab):
    # With fd 0 closed the socket takes number 0: the logger would wait
    # for ever for lines from its own socket.
    collector = dgram(lab, SOCK)
    logger = lab.run("logger", SOCK, under=("sh", "-c", 'exec "$0" "$@" <&-'))
    got, _ = received(collector)
    lab.expect(logger.stopped_with is None and logger.returncode == 1 and
               "standard input" in logger.stderr and not got,
               "`logger log.sock <&-` to say that standard input is closed "
               "and exit with status 1: socket(2) returns the lowest free fd, "
               "so its socket took fd 0, and it waited for lines from its own "
               f"socket; it sent {shown(got)}, said "
               f"{cut(logger.stderr_bytes, 200)} and {logger.describe()}",
               "Your task")


# -- bad paths ----------------------------------------------------------------

BAD_PATHS = {
    "empty": ("", "empty", False),
    "too long": ("p" * 120 + ".sock", "sun_path", False),
    "missing directory": ("no-such-dir/log.sock", None, True),
    "not a socket": ("notes.txt", "not a socket", True),
    "a file as a directory": ("notes.txt/", None, True),
}
SAYS = {"collector": {"missing directory": "directory does not exist",
                      "a file as a directory": "not a socket"},
        "logger": {"missing directory": "directory does not exist",
                   "a file as a directory": "Not a directory"}}


@pytest.mark.parametrize("program_and_case", [
    (program, case) for program in ("collector", "logger")
    for case in BAD_PATHS], ids=lambda pc: f"{pc[0]}, {pc[1]}")
def test_a_bad_path_is_refused_clearly(lab, program_and_case):
    program, case = program_and_case
    where, words, may_call = BAD_PATHS[case]
    words = words or SAYS[program][case]
    notes = lab.dir / "notes.txt"
    notes.write_text("someone's notes\n")
    args = [where] if program == "collector" else [where, "hello"]
    proc = lab.run(program, *args)
    removed = [e for e in lab.events("unlink", proc=proc, ret=0)
               if e["args"].get("path") == where]
    lab.expect(not (removed and case == "not a socket"),
               f"`{program} {where}` to leave notes.txt, a file that is not "
               "a socket, alone: it removed it (unlink, "
               f"{removed[0]['file'] if removed else ''}:"
               f"{removed[0]['line'] if removed else ''}) and bound its "
               "socket there. Never remove a path before bind: bind fails "
               "with EADDRINUSE on any file, and then the program says so "
               "and stops; it removes only the socket file it made",
               "Bad paths")
    lab.expect(proc.returncode is not None and proc.returncode > 0 and
               words in proc.stderr,
               f"`{program} {where or chr(34) * 2}`: a message that says "
               f"{words!r} and an exit with a non-zero status (not a "
               f"crash, not a hang); it {proc.describe()}", "Bad paths")
    lab.expect(may_call or not lab.events("bind", proc=proc),
               "no bind(2) at all for a path that names no file: the "
               "program refuses it first", "Bad paths")
    lab.expect(notes.read_text() == "someone's notes\n" and
               sorted(p.name for p in lab.dir.iterdir()
                      if not p.name.startswith(".")) == ["notes.txt"],
               "nothing created and nothing removed: notes.txt unchanged, "
               "no socket file", "Bad paths")


# -- the two together ------------------------------------------------------------

def test_many_loggers_share_one_collector(lab):
    collector = collecting(lab, "-n", "6")
    loggers = [lab.start("logger", SOCK, f"logger {n} line 1",
                         f"logger {n} line 2") for n in range(3)]
    statuses = [logger.wait() for logger in loggers]
    status = collector.wait()
    got = sorted(records(collector))
    wanted = sorted(f"(unbound): logger {n} line {k}" for n in range(3)
                    for k in (1, 2))
    lab.expect(got == wanted and status == 0 and statuses == [0, 0, 0],
               "three loggers at once, each sending two lines to the one "
               "socket of `collector -n 6`: the collector receives the six "
               f"datagrams, and all exit with status 0; it printed "
               f"{shown(got)}; {collector.describe()}, and the loggers' "
               f"statuses were {statuses}", "What this stage does")


def test_a_logger_with_r_gets_its_reply_from_the_collector(lab):
    collector = collecting(lab, "-n", "2")
    logger = lab.run("logger", "-r", SOCK, "are you there?", "still?")
    collector.wait()
    wanted = ["logger: reply from log.sock: ok 14",
              "logger: reply from log.sock: ok 6"]
    # A reply printed with bytes after it: the end of a longer reply
    # received before, left in the buffer behind the shorter one.
    longer = [(n, w, g) for n, (w, g) in
              enumerate(zip(wanted, logger.stdout.splitlines()))
              if g != w and g.startswith(w)]
    if longer:
        n, w, g = longer[0]
        before = "the end of the longer reply before it" if n else \
            "whatever the buffer held"
        lab.expect(False,
                   "each reply printed as it came, and only it: the "
                   f"collector replied `{w.rsplit(': ', 1)[1]}`, and the "
                   f"logger printed `{g}`, with what followed the reply in "
                   f"its buffer (here {before}). recvfrom puts no '\\0' "
                   "after the bytes it returns: receive at most sizeof "
                   "text - 1 bytes, and end the reply with text[n] = "
                   "'\\0' before printing it with %s",
                   "Who sent it: addresses and replies")
    lab.expect(logger.returncode == 0 and logger.stdout ==
               "logger: reply from log.sock: ok 14\n"
               "logger: reply from log.sock: ok 6\n",
               "`logger -r log.sock` and the collector together: each "
               "message logged, and each reply printed (logger: reply from "
               f"log.sock: ok 14); the logger printed "
               f"{cut(logger.stdout_bytes, 200)}, and {logger.describe()}",
               "Who sent it: addresses and replies")


# -- standard tools as loggers ---------------------------------------------


def test_the_system_s_logger_and_socat_log_to_the_collector(lab):
    system_logger, socat = tool("logger"), tool("socat")
    collector = collecting(lab, "-n", "2")
    run_tool(lab, [system_logger, "-u", SOCK, "-d", "from util-linux"])
    run_tool(lab, [socat, "-t", "0", "-", f"UNIX-SENDTO:{SOCK}"],
             b"from socat\n")
    collector.wait()
    got = records(collector)
    lab.expect(len(got) == 2 and got[0].startswith("(unbound): <") and
               got[0].endswith(" from util-linux") and
               got[1] == "(unbound): from socat\\x0a",
               "the datagrams of logger(1) (with its syslog header) and of "
               "socat (with the newline it read), each one record from a "
               f"socket that never bound; the collector printed {shown(got)}",
               "Exercise")


def test_nc_gets_the_collector_s_reply(lab):
    nc = tool("nc")
    if b"-W" not in run_tool(lab, [nc, "-h"]).stderr:
        pytest.skip("this nc has no -W (stop after N datagrams received)")
    collector = collecting(lab, "-n", "1")
    # nc -U -u binds a socket of its own in /tmp, and prints the reply.
    done = run_tool(lab, [nc, "-U", "-u", "-W", "1", SOCK], b"from nc\n")
    collector.wait()
    lab.expect(done.stdout == b"ok 8",
               "`nc -U -u -W 1 log.sock` (a sender with an address of its "
               "own) to get the reply ok 8 from the collector; nc printed "
               f"{cut(done.stdout)}; the collector printed "
               f"{shown(records(collector))}",
               "Who sent it: addresses and replies")
