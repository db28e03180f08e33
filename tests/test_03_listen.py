"""Lesson 03: listen() makes the bound socket passive, ready for clients."""
import os
import signal
import time

import labrun
import peers
from conftest import (FD_3_TAKEN, LONGEST_PATH, asked_path,
                      bind_failure_reported, failed_socket, fd_3_taken,
                      listen_failure_reported,
                      one_after_another, says_it_listens,
                      socket_file_kept, where, whole_name_bound)
from tracetext import call_text

LESSON = "03-listen"


def listen_of(lab, server):
    """The server's listen, once traced; None when it has not come within
    the lab's wait, or the server ended, or it sleeps in pause(2) without
    it, three looks in a row with nothing traced between (a starter that
    only binds): no signal comes from here to wake it."""
    deadline = time.monotonic() + labrun.WAIT
    while time.monotonic() < deadline:
        event = lab.wait_for("listen", proc=server, timeout=0.02)
        if event is not None or server.exited:  # its whole trace is read
            return event
        if peers.still(lab, lambda: peers.paused(server.pid)):
            return lab.wait_for("listen", proc=server, timeout=0)
    return None


def listening(lab, *args, under=()):
    """The server (run with args, under: lab.start's), its successful bind
    and its listen, once listen has returned; a listen that failed, or
    came before bind, or on another fd than the one bound, or a name
    bound cut short, fails the check with what the trace shows."""
    server = lab.server(*args, under=under)
    event = listen_of(lab, server)
    lab.expect(event is not None, "the server to call listen(2) after bind",
               "Your task")
    bound = [e for e in lab.events("bind", proc=server, ret=0)
             if e["ts"] < event["ts"]]
    lab.expect(bound, "listen(2) after bind(2): the server called listen "
               f"before any bind ({call_text(event)}), and Linux refuses "
               "listen on a Unix domain socket that has no address yet",
               "What this stage does")
    fd = bound[0]["args"]["fd"]
    lab.expect(event["args"]["fd"] == fd,
               f"listen({fd}, BACKLOG) on the socket that was bound (fd "
               f"{fd}: pass the variable that holds the fd socket returned, "
               "not a constant)"
               + (f"; here {fd_3_taken(lab, 'server')}, so socket returned "
                  f"{fd}" if under == FD_3_TAKEN else "") +
               f"; it called {call_text(event)}", "What this stage does")
    lab.expect(event["ret"] == 0,
               f"listen on the bound socket to succeed; it called "
               f"{call_text(event)}", "What this stage does")
    whole_name_bound(lab, server, asked_path(args))
    return server, bound[0], event


def running(lab, server):
    """Fails the check unless the server still runs: it waits in pause(),
    its listening socket still open."""
    lab.expect(server.asleep() and not server.has_exited(),
               "the server to keep running after listen, waiting in pause() "
               "until a signal stops it: a server that exits takes its "
               "listening socket with it, and no client can connect",
               "Your task")
    for listened in lab.events("listen", proc=server, ret=0):
        fd = listened["args"]["fd"]
        closed = lab.events("close", proc=server, ret=0,
                            where=lambda e: e["args"].get("fd") == fd and
                            e["ts"] > listened["ts"])
        lab.expect(not closed,
                   f"the server to keep its listening socket, fd {fd}, open "
                   "while it waits in pause(): it called "
                   f"{call_text(closed[0]) if closed else ''} at "
                   f"{where(closed[0]) if closed else ''} after listen; a "
                   "closed socket listens no more, and clients get "
                   "ECONNREFUSED although the file lab.sock is still there",
                   "Your task")
    bound = lab.events("bind", proc=server, ret=0)
    path = bound and (bound[0]["args"].get("bound") or
                      (bound[0]["args"].get("addr") or {}).get("path"))
    if path:
        socket_file_kept(lab, server, path, "What this stage does")


def test_listen_makes_the_bound_socket_passive(lab):
    # With fd 3 taken, socket returns 4: a listen on a number of its own
    # never names it.
    _, bound, event = listening(lab, under=FD_3_TAKEN)
    fd = bound["args"]["fd"]
    lab.expect(event["args"]["backlog"] > 0,
               f"listen({fd}, BACKLOG) with BACKLOG above 0, as the task "
               f"asks (5); it called {call_text(event)}: a backlog of 0 "
               "lets only one connection wait, and the checks connect two "
               "clients that the server never accepts", "Your task")


def test_the_server_listens_on_the_longest_path(lab):
    # The path on the command line, 107 bytes: every byte of the address
    # counts, and only so long a path shows a length a little too small.
    server, _, _ = listening(lab, LONGEST_PATH)
    running(lab, server)
    lab.expect(lab.is_socket(LONGEST_PATH),
               f"the server to create the socket file of the path of "
               f"{len(LONGEST_PATH)} bytes on its command line, and keep "
               "it while it listens", "What this stage does")
    says_it_listens(lab, server, path=LONGEST_PATH)


def test_the_server_keeps_running_after_listen(lab):
    server, _, _ = listening(lab)
    running(lab, server)


def test_the_server_says_it_listens(lab):
    server, _, _ = listening(lab)
    says_it_listens(lab, server)


def test_ctrl_c_ends_the_server(lab):
    # Its line says "stop me with Ctrl-C": SIGINT, what Ctrl-C sends at a
    # terminal, must end it, by its default action or a handler that
    # ends the process.
    server, _, _ = listening(lab)
    running(lab, server)
    lab.stop(server, signal.SIGINT, timeout=labrun.WAIT / 4)
    lab.expect(server.stopped_with == signal.SIGINT,
               "Ctrl-C (SIGINT) to end the server, as its line says: it "
               f"went on waiting after SIGINT, and {server.describe()}; "
               "leave SIGINT its default action, which ends the process, "
               "or end the server in its handler (_exit) instead of "
               "returning to pause()", "Your task")


def socket_inode(server, fd):
    """The inode of the server's socket fd ("socket:[INODE]" in /proc), or
    None once the server has gone."""
    try:
        link = os.readlink(f"/proc/{server.pid}/fd/{fd}")
    except OSError:
        return None
    return link.removeprefix("socket:[").removesuffix("]")


def test_the_kernel_lists_the_socket_as_listening(lab):
    server, bound, _ = listening(lab)
    running(lab, server)
    inode = socket_inode(server, bound["args"]["fd"])
    flags = None
    with open("/proc/net/unix") as table:
        for row in table:
            fields = row.split()
            if inode and len(fields) >= 7 and fields[6] == inode:
                flags = int(fields[3], 16)
    lab.expect(flags is not None and flags & 0x10000,
               "the kernel's table of Unix sockets (/proc/net/unix, or "
               "`ss -xl`) to show the socket as listening",
               "What to look for in the trace")


def test_a_client_can_connect_once_the_server_listens(lab):
    server, _, _ = listening(lab)
    running(lab, server)
    client, error = lab.connect()
    lab.expect(client is not None,
               f"a client's connect to lab.sock to succeed after listen; it "
               f"failed: {error}", "What this stage does")


def test_the_backlog_holds_several_clients(lab):
    server, _, _ = listening(lab)
    running(lab, server)
    # The connects are bounded: one that waits for room in a full queue
    # fails after the timeout instead of waiting for ever.
    clients = [lab.connect(timeout=labrun.WAIT) for _ in range(2)]
    errors = [str(e) for _, e in clients if e is not None]
    lab.expect(not errors,
               f"two clients to connect one after the other while the "
               f"server never accepts: its backlog holds them; errors: "
               f"{errors}", "What this stage does")



def test_a_failed_listen_is_reported_with_a_non_zero_status(lab):
    # listen() fails: LAB_FAULTS makes it (trace/TRACE.md), since no
    # mistake of the server's own could make a correct listen fail here.
    listen_failure_reported(lab)


def test_a_failed_call_of_an_earlier_stage_is_reported(lab):
    # What lessons 01 and 02 asked still holds: LAB_FAULTS makes socket
    # fail, then bind.
    one_after_another(
        lab, (failed_socket, "server", "Your task", ", as lesson 01 asks"),
        (bind_failure_reported, "Your task", ", as lesson 02 asks"))
