"""Lesson 06: close() every descriptor; the socket file outlives close(),
so the server removes it with unlink() when it exits, even on a signal."""
import os
import re
import select
import signal
import socket
import stat
import subprocess
import time

import pytest

import labrun
import peers
from conftest import (POLLS, READS, REPLACEMENTS, SERVING_WAITS, WRITES,
                      as_run, c_code, c_functions,
                      closed_once,
                      client_finishes_short_writes,
                      client_makes_interrupted_calls_again,
                      connected_to_the_whole_path, eintr_expected,
                      SAFE_IN_HANDLERS, failed_accept, failed_socket,
                      faults, frozen,
                      installed_handlers, interrupted,
                      interrupted_and_not_made_again, line_at,
                      handler_writes,
                      line_names_the_path, line_on_stdout,
                      one_after_another, pauses_after_emfile,
                      replacement_left_alone,
                      ppoll_keeps_it_out, receive,
                      sanitized_exchange, sent_to, sigaction_zeroed,
                      server_finishes_short_writes, signal_safe_type,
                      source_line, stopped_by_itself, tool, run_tool,
                      unsafe_calls, used_minus_one, where)
from tracetext import call_text, cut

LESSON = "06-close"
# The programs that a check runs built with sanitizers (tests/mistakes.py
# builds them beforehand for every entry).
SANITIZED = ("server", "client")


def listening_fd(lab, server):
    return lab.events("listen", proc=server)[0]["args"]["fd"]


def ended_inside_a_handler(lab, server):
    """Whether the server exited while a call of its own still waited (a
    "wait" event with no return after it): then the exit came from a
    signal handler."""
    mine = lab.events(proc=server, event=None)
    waits = [e for e in mine if e["event"] == "wait"]
    if not waits or not server.has_exited() or server.wait() is None or \
            server.returncode < 0:
        return False
    last = waits[-1]
    return not [e for e in mine if e["event"] == "return" and
                e["call"] == last["call"] and e["ts"] > last["ts"]]


def ended_or_waiting_again(lab, server, since, calls=None, sig=None):
    """Waits until the server has exited, or until, after the time since,
    a call of it has returned and its latest event is a call (of calls)
    that waits again (for a client, not for its children to end): either
    way, what it does next is known without waiting for a timeout.  So it
    is too once the server sleeps in such a call that the signal sig, sent
    after since, did not end: made again after the handler (SA_RESTART),
    or never delivered (ignored, or blocked).  Returns its exit status, or
    None while it runs."""
    def known():
        mine = lab.events(proc=server, event=None)
        # A server that forked waits for its children as it stops: a wait
        # in waitpid is part of stopping, not a wait for the next client.
        return mine and mine[-1]["event"] == "wait" and \
            mine[-1]["call"] != "waitpid" and mine[-1]["ts"] > since and \
            (calls is None or mine[-1]["call"] in calls) and \
            [e for e in mine if e["event"] == "return" and e["ts"] > since]

    def sleeps_for_a_client():
        return (peers.blocked_in(server.pid) or ("",))[0] in \
            peers.EVENT_WAITS

    def made_again():
        # A handler installed with SA_RESTART: the call it interrupted is
        # made again, and returns nothing.  Once the trace shows the
        # signal delivered, a sleep in a call that waits for a client is
        # that call made again (a handler makes no such call).
        return bool(lab.events(proc=server, event="signal",
                               where=lambda e: e["ts"] > since)) and \
            sleeps_for_a_client()

    def held_off():
        # Ignored, or blocked: it never reached the server.
        return sig is not None and peers.waits_with(server.pid, sig)
    lab.wait_until(lambda: known() or calls is None and (
        made_again() or held_off()), proc=server, every=0.01)
    # /proc may be ahead of the trace: what the server wrote before its
    # sleep (the wait event of that call) is read before anyone looks.
    lab.collector.sync()
    return server.wait() if server.has_exited() else None


def bound_the_whole_path(lab, server, name):
    """Fails the check, naming the server's address length, unless its
    bind named the socket with the whole path name."""
    event = lab.require("bind", "the server to bind(2) its path",
                        "What this stage does", proc=server)
    addr = event["args"].get("addr")
    path = addr.get("path") if isinstance(addr, dict) else None
    shown = name if len(name) < 30 else f"{name[:8]}...{name[-8:]}"
    lab.expect(path == name and event["ret"] == 0 and
               event["args"].get("bound") == name,
               f"the server to bind the whole path it was given, {shown} "
               f"({len(name)} bytes): its address length is wrong. It "
               f"called {call_text(event)}: the length "
               f"{event['args'].get('addrlen')} left the kernel only the "
               f"name {path!r}. Pass bind sizeof addr, the size of the "
               "whole struct sockaddr_un (110 bytes), not sizeof(struct "
               "sockaddr) (16: 14 bytes of path)", "Your task")


def made_in_a_handler(lab, proc):
    """The calls (return events) that proc made while another call of its
    own still waited: calls of a signal handler (the trace reports a
    delivery, then what the handler does, then the waiting call's
    return)."""
    inside, waiting = [], None
    for e in sorted(lab.events(proc=proc, event=None), key=lambda e: e["ts"]):
        if e["event"] == "wait":
            waiting = e
        elif e["event"] == "return" and waiting is not None:
            if e["call"] == waiting["call"]:
                waiting = None
            elif e["call"] not in SAFE_IN_HANDLERS:
                inside.append((e, waiting))
    return inside


def used_after_close(lab, proc):
    """The first call of proc on a fd that it had closed (close = 0) and
    not opened again since, other than a second close (closed_once names
    that one): a use after close."""
    closed = set()
    for e in sorted(lab.events(proc=proc), key=lambda e: e["ts"]):
        fd = (e.get("args") or {}).get("fd")
        if e["call"] in ("socket", *labrun.ACCEPTS) and \
                isinstance(e.get("ret"), int) and e["ret"] >= 0:
            closed.discard(e["ret"])
        elif e["call"] == "close" and e["ret"] == 0:
            closed.add(fd)
        elif e["call"] != "close" and fd in closed:
            return e
    return None


def clients_in_turn(lab, server, *words):
    """Runs a client for each word, the next only once the server is done
    with the one before: it waits in accept again, or has exited, or goes
    round a loop.  A client that starts while the server still cleans up
    after the one before would meet the server at a point that depends on
    the scheduling (before or after an unlink, say)."""
    clients = []
    for word in words:
        clients.append(lab.client("lab.sock", word))
        connected_to_the_whole_path(lab, clients[-1], "lab.sock")
        # The client has its reply: the server's accept of it is written.
        lab.collector.sync()
        since = max((e["ts"] for e in lab.events(labrun.ACCEPTS, proc=server)),
                    default=0)
        lab.wait_until(lambda: lab.spinning(server) or
                       waits_again(lab, server, since), proc=server)
    return clients


def waits_again(lab, server, since):
    """Whether the server, after the time since, waits in accept again,
    or, serving every client in one loop (lesson 08), has closed a
    connection and waits in poll again."""
    mine = [e for e in lab.events(proc=server, event=None) if e["ts"] > since]
    closed = next((e["ts"] for e in mine if e["call"] == "close" and
                   e["event"] == "return" and e["ret"] == 0), None)
    return [e for e in mine if e["event"] == "wait" and (
        e["call"] in labrun.ACCEPTS or
        e["call"] in POLLS and closed is not None and e["ts"] > closed)]


def waiting(lab, server):
    """Returns once the server sleeps in the call that waits for a client:
    accept or ppoll, whose trace announces the wait, or one the trace does
    not show (select, epoll_wait), for which the wait below ends by its
    timeout."""
    lab.wait_until(lambda: [e for e in lab.events(proc=server, event=None)
                            [-1:] if e["event"] == "wait"], proc=server)
    server.asleep()


def socket_file_made(lab, path="lab.sock"):
    """The socket file at path as the server's bind made it (its lstat),
    once the server listens; None if there is none."""
    try:
        found = os.lstat(lab.dir / path)
    except OSError:
        return None
    return found if stat.S_ISSOCK(found.st_mode) else None


def own_file_left_alone(lab, server, made, path="lab.sock"):
    """Fails the check, naming the mistake, if the server, once it has
    exited, left the socket file its bind made with no unlink at all, that
    file untouched since (the same socket, the same inode), and said
    something on stderr: it judged its own file not its own."""
    try:
        now = os.lstat(lab.dir / path)
    except OSError:
        return
    if made is None or lab.events("unlink", proc=server) or \
            not stat.S_ISSOCK(now.st_mode) or \
            (now.st_dev, now.st_ino) != (made.st_dev, made.st_ino):
        return
    said = [line for line in server.stderr_bytes.splitlines()
            if line.strip()]
    lab.expect(not said,
               f"the server to remove its own socket file: {path} is still "
               "the socket file its bind made (nothing touched it), yet "
               f"the server left it, without calling unlink, and said "
               f"{cut(said[-1] if said else b'', 100)} on stderr: it judged "
               "its own file not its own. The test before unlink is wrong: "
               "is_our_socket_file(path, &made) says 1 (true) for the file "
               "bind made, so unlink when it says 1 and leave the file "
               "alone when it says 0 (look for an inverted test, a missing "
               "`!`), and fill made with lstat after bind, not before",
               "Why the socket file outlives close")


def test_the_struct_sigaction_is_zeroed_before_use(lab):
    # First: stray bits in sa_flags can make any check that stops the
    # server fail for another reason.
    sigaction_zeroed(lab, "server", "Your task", "as the task asks")


def test_the_server_serves_n_clients_then_exits(lab):
    server = lab.serving("-n", "2")
    fd = listening_fd(lab, server)
    clients = clients_in_turn(lab, server, "one", "two")
    # Exited, or back in accept for a third client.
    last = max([e["ts"] for e in lab.events(labrun.ACCEPTS, proc=server)],
               default=0)
    status = ended_or_waiting_again(lab, server, last, labrun.ACCEPTS)
    accepts = lab.events(labrun.ACCEPTS, proc=server)
    early = [e for e in lab.events("close", proc=server, ret=0)
             if e["args"]["fd"] == fd and accepts and
             e["ts"] < accepts[-1]["ts"]]
    lab.expect(not early,
               f"the listening socket, fd {fd}, to stay open until the last "
               f"client is served: the server closed it after a client "
               f"(close({fd})), and its next accept({fd}) could only fail; "
               "in the loop close the fd that accept returned",
               "What to look for in the trace")
    removed = lab.events("unlink", proc=server, ret=0)
    refused = [c for c in clients
               if lab.events("connect", proc=c, errno="ENOENT")]
    lab.expect(not (removed and refused),
               "the socket file to stay until the server stops: it removed "
               "lab.sock (unlink) after a client, and the next client's "
               "connect failed with ENOENT; unlink once, after the loop",
               "Why the socket file outlives close")
    replies = [c.stdout for c in clients]
    lab.expect(replies == ["ONE\n", "TWO\n"],
               "`server -n 2` to serve two clients, each printing its reply "
               "(ONE, then TWO); they printed "
               f"{', '.join(cut(c.stdout_bytes, 30) for c in clients)}",
               "Your task")
    lab.expect(status == 0,
               "`server -n 2` to exit with status 0 by itself after two "
               f"clients; {server.describe()}", "Your task")
    done = [line for line in server.stdout.splitlines()
            if re.search(r"\bclient done\b", line)]
    second = [int(n) for n in re.findall(r"\b(\d+) bytes", done[1])] \
        if len(done) > 1 else []
    lab.expect(not second or len("two") in second,
               "the second client's line `server: client done, 3 bytes "
               "echoed` to count only that client's bytes: its count must "
               "start from 0 for each client. It printed "
               f"`{done[1] if len(done) > 1 else ''}`, the first client's "
               "3 bytes included: a count kept from one client to the next "
               "(a static variable, or one declared outside serve_client); "
               "declare total in serve_client, without static",
               "Your task")


def stopped_line(line):
    return re.search(r"\bstopped\b|(?<!not )removed", line)


@pytest.mark.parametrize("count", ["-1", "0", "abc", "99999999999999999999"])
def test_a_bad_count_is_said_and_binds_nothing(lab, count):
    server = lab.run("server", "-n", count)
    lab.expect(server.stopped_with is None and server.returncode == 2 and
               f"-n {count}" in server.stderr and "COUNT" in server.stderr
               and not lab.events("bind") and
               not (lab.dir / "lab.sock").exists(),
               f"`server -n {count}` to say what is wrong with the count "
               "(naming it: a whole number of clients, 1 or more, that fits "
               "in a long) and exit with status 2 before it binds anything; "
               f"it said {cut(server.stderr_bytes, 200)} and "
               f"{server.describe()}", "Your task")


def test_the_socket_file_is_removed_on_exit(lab):
    server = lab.serving("-n", "1")
    made = socket_file_made(lab)
    lab.client("lab.sock", "hi")
    server.wait()
    own_file_left_alone(lab, server, made)
    fd = listening_fd(lab, server)
    closed = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"]["fd"] == fd]
    removed = lab.events("unlink", proc=server, ret=0)
    lab.expect(closed,
               f"close({fd}) of the listening socket before the server "
               "exits: every fd the program opened, it closes itself",
               "Your task")
    lab.expect(removed and removed[0]["args"]["path"] == "lab.sock",
               "unlink(\"lab.sock\") = 0 when the server stops: close ends "
               "the socket, not its file, which stays until unlink removes "
               "it (before or after the close: the order is free)",
               "Why the socket file outlives close")
    lab.expect(not (lab.dir / "lab.sock").exists(),
               "no lab.sock left once the server has exited",
               "Why the socket file outlives close")
    line_on_stdout(lab, server, "server: stopped, lab.sock removed",
                   stopped_line, "once unlink has removed the file",
                   "Your task")
    lab.expect(not server.stderr.strip(),
               "`server -n 1` to say nothing on standard error when it has "
               "served its client and stopped: nothing failed, yet it said "
               f"{cut(server.stderr_bytes, 120)}. Remove the socket file "
               "once, in the cleanup: a second removal (an atexit handler "
               "as well, say) finds the file gone and says so",
               "Why the socket file outlives close")
    # The cleanup closes the listening socket once: not again at return.
    closed_once(lab, "What to look for in the trace")


def test_the_longest_path_is_bound_and_reached(lab):
    # 107 bytes, the most sun_path holds with its '\0': an address length
    # too small (sizeof(struct sockaddr) keeps 14 bytes of path) cuts it.
    name = "s" * 102 + ".sock"
    server = lab.serving("-n", "1", name)
    bound_the_whole_path(lab, server, name)
    client = lab.client(name, "hi")
    connected_to_the_whole_path(lab, client, name)
    lab.expect(client.stdout == "HI\n" and server.wait() == 0,
               f"`server -n 1 {name[:8]}...{name[-8:]}` and a client on "
               f"that path ({len(name)} bytes, the longest that sun_path "
               "holds) to talk (HI) and the server to exit with 0; the "
               f"client printed {cut(client.stdout_bytes, 30)}; "
               f"{server.describe()}", "Your task")


def test_the_server_removes_the_path_it_was_given(lab):
    name = "another.sock"
    server = lab.serving("-n", "1", name)
    made = socket_file_made(lab, name)
    lab.client(name, "hi")
    server.wait()
    own_file_left_alone(lab, server, made, name)
    removed = [e["args"]["path"] for e in lab.events("unlink", proc=server)]
    lab.expect(not (lab.dir / name).exists(),
               f"`server -n 1 {name}` to remove {name}, the path from its "
               f"command line, when it stops: unlink(path), not the default "
               f"name; it called unlink on {removed}",
               "Why the socket file outlives close")
    line_names_the_path(lab, server, "server: stopped, PATH removed",
                        stopped_line, name, "Your task")


def test_every_connected_socket_is_closed(lab):
    server = lab.serving("-n", "2")
    clients = clients_in_turn(lab, server, "one", "two")
    server.wait()
    accepted = [e["ret"] for e in lab.events(labrun.ACCEPTS, proc=server)
                if e["ret"] >= 0]
    closes = lab.events("close", proc=server)
    twice = [e for e in closes if e["ret"] == -1 and e["args"]["fd"] in
             accepted]
    lab.expect(not twice,
               "each fd that accept returned closed once, and only once: "
               f"close({twice[0]['args']['fd'] if twice else ''}) came "
               "twice, and the second failed with EBADF (had the number "
               "been reused meanwhile, it would have closed another file)",
               "What to look for in the trace")
    closed = [e["args"]["fd"] for e in closes if e["ret"] == 0]
    lab.expect(len(accepted) == 2 and all(fd in closed for fd in accepted),
               f"close(fd) = 0 for each fd that accept returned "
               f"({accepted})", "Your task")
    for client in clients:
        made = lab.require("socket", "each client to create its socket",
                           "Your task", proc=client)["ret"]
        closes = lab.events("close", proc=client)
        lab.expect(not [e for e in closes if e["ret"] == -1],
                   f"the client (pid {client.pid}) to close its socket fd "
                   f"{made} once, and only once: a second close fails with "
                   "EBADF", "What to look for in the trace")
        lab.expect(closes and closes[-1]["ret"] == 0 and
                   closes[-1]["args"]["fd"] == made,
                   f"the client (pid {client.pid}) to close its socket fd "
                   f"{made} itself", "Your task")


def failed_with_a_word(lab, client, when):
    """Fails the check unless the client, on a path that failed (when: in
    words), said why on standard error and exited with a non-zero status:
    a path that now goes through the close keeps its failure."""
    lab.expect((client.returncode or 0) > 0 and client.stderr.strip(),
               f"the client to say why on standard error and exit with a "
               f"non-zero status when {when}, as before it closed its "
               "socket there: a path that goes on to the close must still "
               f"end with EXIT_FAILURE; {client.describe()}", "Your task")


def test_the_client_closes_its_socket_on_every_path(lab):
    # connect fails: no server.
    client = lab.client()
    made = lab.require("socket", "the client to create its socket",
                       "Your task", proc=client)
    lab.expect(lab.events("close", proc=client, ret=0),
               f"the client to close its socket fd {made['ret']} when "
               "connect fails too, before it exits with an error: every fd "
               f"it opens, it closes, on every path; {client.describe()}",
               "Your task")
    failed_with_a_word(lab, client, "connect fails (no server listens)")
    # The reply is cut short: a server that closes early.
    listener = lab.listen()
    client = lab.start("client", "lab.sock", "hello, socket")
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock",
               "Your task")
    receive(conn, len(b"hello, socket"))
    sent_to(conn, b"HEL")
    conn.close()
    client.wait()
    made = lab.events("socket", proc=client)
    lab.expect(made and lab.events("close", proc=client, ret=0),
               "the client to close its socket when the reply is cut short "
               "too (the server closed the connection after 3 of 13 bytes), "
               "before it exits with an error: every fd it opens, it "
               f"closes, on every path; {client.describe()}", "Your task")
    failed_with_a_word(lab, client, "the reply is cut short (the server "
                       "closed the connection after 3 of 13 bytes)")
    # Its write fails: LAB_FAULTS makes it (trace/TRACE.md).
    rules = "write=EPIPE,send=EPIPE"
    client = lab.start("client", "lab.sock", "hello, socket",
                       env=faults(rules))
    lab.accept(listener)
    client.wait()
    failed = lab.events(WRITES, proc=client, ret=-1)
    lab.expect(not failed or lab.events("close", proc=client, ret=0),
               "the client to close its socket when its write fails too "
               f"({call_text(failed[0]) if failed else ''}, failed by "
               f"LAB_FAULTS: `{as_run(lab, 'client', rules, 'lab.sock', 'hi')}"
               "`), before it exits with an error: every fd it opens, it "
               f"closes, on every path; {client.describe()}", "Your task")
    used = used_after_close(lab, client)
    lab.expect(not used,
               "the client to stop using its socket once it has closed it: "
               "a use after close. After its write failed "
               f"({call_text(failed[0]) if failed else ''}, LAB_FAULTS) it "
               f"closed fd {used['args'].get('fd') if used else ''}, then "
               f"called {call_text(used) if used else ''} "
               f"({where(used) if used else ''}) on it: after close(fd) on "
               "an error path, return EXIT_FAILURE at once; "
               f"{client.describe()}", "What to look for in the trace")
    lab.expect(not failed or (client.returncode or 0) > 0 and
               client.stderr.strip(),
               "the client to say why on standard error (perror(\"client: "
               "write\")) and exit with a non-zero status when its write "
               f"fails; {client.describe()}", "Your task")
    closed_once(lab, "What to look for in the trace")
    # Writing standard output fails: /dev/full takes no byte (ENOSPC).
    client = lab.start("client", "lab.sock", "hello, socket",
                       under=("sh", "-c", 'exec "$0" "$@" >/dev/full'))
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock",
               "Your task")
    receive(conn, len(b"hello, socket"))
    sent_to(conn, b"HELLO, SOCKET")
    client.wait()
    conn.close()
    made = lab.events("socket", proc=client)
    closes = [e for e in lab.events("close", proc=client, ret=0)
              if made and e["args"]["fd"] == made[0]["ret"]]
    lab.expect(not made or closes,
               "the client to close its socket when writing standard output "
               "fails too (here standard output is /dev/full, where every "
               "write fails with ENOSPC), before it exits with an error: "
               "close(fd) after perror(\"client: writing standard "
               "output\"); every fd it opens, it closes, on every path; "
               f"{client.describe()}", "Your task")
    lab.expect((client.returncode or 0) > 0 and client.stderr.strip(),
               "the client to say why on standard error and exit with a "
               "non-zero status when writing standard output fails (here "
               f"/dev/full: ENOSPC); {client.describe()}", "Your task")
    closed_once(lab, "What to look for in the trace")


def test_a_client_that_leaves_early_costs_the_server_no_fd(lab):
    server = lab.serving("-n", "3")
    side = lab.family(server)
    first, _ = lab.connect()
    lab.require(SERVING_WAITS, "the server to wait in read(2) for its "
                "client", "Your task", proc=side, event="wait")
    labrun.settle(lab, server)
    # The second client sends and leaves while the server (and what it
    # forked) is stopped: before any reply, however the server serves.
    with frozen(server):
        leaver, _ = lab.connect()
        sent_to(leaver, b"nobody will read this reply")
        leaver.close()
    first.close()
    lab.wait_until(lambda: lab.events(WRITES, proc=side, ret=-1),
                   proc=server)
    lab.expect(server.wait(0) != -signal.SIGPIPE,
               "the server to survive a client that left before its reply: "
               "ignore SIGPIPE (signal(SIGPIPE, SIG_IGN), as in lesson 05), "
               "so that the write fails with EPIPE instead of SIGPIPE "
               "killing the server, with no cleanup and its socket file "
               f"left behind; {server.describe()}", "Your task")
    failed = lab.require(WRITES, "the reply to the client that left to fail "
                         "with EPIPE", "What to look for in the trace",
                         proc=side, ret=-1)
    fd = failed["args"]["fd"]

    def closed():
        return [e for e in lab.events("close", proc=side, ret=0)
                if e["args"]["fd"] == fd and e["ts"] > failed["ts"] and
                e["pid"] == failed["pid"]]
    # Closed, or back in accept (or poll) without closing it, or exited.
    lab.wait_until(lambda: closed() or waits_again(lab, server,
                                                   failed["ts"]), proc=server)
    lab.expect(closed(),
               f"the server to close fd {fd} of the client that left, after "
               f"its write failed with EPIPE: close a client's fd on every "
               "path, not only at end of file, or each such client costs "
               "the server one fd", "What to look for in the trace")
    third = clients_in_turn(lab, server, "three")[0]
    server.wait()
    if third.stdout == "THREE\n" and server.returncode == 0:
        closed_once(lab, "What to look for in the trace")
        return
    pipe = [e for e in lab.events(proc=side, event="signal")
            if e["args"].get("sig") == "SIGPIPE"]
    lab.expect(False,
               "`server -n 3` to serve a third client after the second left "
               "before its reply (its write failed with EPIPE): a client "
               "that leaves costs the server that client only; the third "
               f"printed {cut(third.stdout_bytes, 30)}, and "
               f"{server.describe()}"
               + (f". The write also raised SIGPIPE, and a handler ran for "
                  f"it (installed at {where(pipe[0])}): the stop handler "
                  "installed for SIGPIPE too stops the server when a client "
                  "leaves. Leave SIGPIPE ignored, signal(SIGPIPE, SIG_IGN), "
                  "and install on_stop_signal for SIGINT and SIGTERM only"
                  if pipe else ""), "Your task")


def test_a_failed_read_ends_only_that_client(lab):
    # The server's second read fails with ECONNRESET, as when a client
    # leaves with bytes unread (LAB_FAULTS): that client is done, and the
    # next one is served.  The second, not the first: a child that serves
    # a client (lesson 07) counts its calls from its parent's, and the
    # next client's first read must return its bytes.
    rules = "read#2=ECONNRESET,recv#2=ECONNRESET"
    server = lab.serving(env=faults(rules))
    side = lab.family(server)
    first, error = lab.connect()
    lab.expect(first is not None, f"a client to connect; it failed: {error}",
               "Your task")
    sent_to(first, b"hello")
    receive(first, 5)
    sent_to(first, b"again")
    failed = lab.require(READS, "the server to read the client's bytes",
                         "Your task", proc=side, ret=-1)
    first.close()
    second = lab.client("lab.sock", "still there?")
    lab.expect(second.stdout == "STILL THERE?\n" and
               not server.has_exited(),
               "a failed read to end only that client: after "
               f"{call_text(failed)}, failed by LAB_FAULTS "
               f"(`{as_run(lab, 'server', rules)}` does it again), close "
               "that client's fd and accept the next one, as after end of "
               "file; one client's broken connection is no reason to stop "
               "the server, which stops only for -n COUNT or a stop signal. "
               f"The next client printed {cut(second.stdout_bytes, 30)}; "
               f"{server.describe()}", "Your task")
    closed_once(lab, "What to look for in the trace")


def default_installed(lab, server, sig):
    """What the server last installed for sig, when that was the default
    action, in words ending with "; ", else ""."""
    installed = [e for e in lab.events(("sigaction", "signal"), proc=server)
                 if e["args"].get("sig") == sig.name and e["ret"] == 0 and
                 e["args"].get("handler")]
    if not installed or installed[-1]["args"]["handler"] != "SIG_DFL":
        return ""
    e = installed[-1]
    return (f"it called {call_text(e)} ({where(e)}): that installs SIG_DFL, "
            "the default action, not the handler. sigaction copies the "
            "struct as it is at the call: set sa.sa_handler = "
            "on_stop_signal before it, and never pass the same struct as "
            "the new action and the old one (the old action, SIG_DFL, is "
            "written into it); ")


def accepted_after_a_ppoll_that_found_none(lab, server, since):
    """Fails the check, naming the mistake, when the server called accept
    after the time since right after a ppoll that did not find the
    listening socket readable (-1 EINTR, or 0): ppoll's result ignored."""
    mine = [e for e in lab.events(proc=server, event=None)
            if e["ts"] > since and e["event"] in ("wait", "return")]
    for before, e in zip(mine, mine[1:]):
        if before["call"] == "ppoll" and before["event"] == "return" and \
                before["ret"] <= 0 and e["call"] in labrun.ACCEPTS:
            result = f"-1 with {before['errno']}" if before["ret"] else "0"
            lab.expect(False,
                       "accept only once ppoll says that the listening "
                       f"socket is readable: ppoll returned {result} "
                       f"({call_text(before)}, {where(before)}), and the "
                       f"server called {call_text(e)} ({where(e)}) anyway, "
                       "which waits for a client with the stop signals "
                       "blocked. Look at ppoll's result: on -1 with EINTR "
                       "go back to the look at stop_requested (continue); "
                       "call accept only when it returned 1, the listening "
                       "socket's revents POLLIN", "Cleaning up on a signal")


def stopped(lab, server, sig, since):
    """Fails the check, naming the cause, unless the server ended cleanly
    after sig, sent after the time since: handler installed, waiting call
    interrupted, flag seen."""
    ended_or_waiting_again(lab, server, since, sig=sig)
    killed = server.has_exited() and server.wait() is not None and \
        server.returncode < 0
    lab.expect(not killed,
               f"{sig.name} to be caught: install on_stop_signal for SIGINT "
               f"and SIGTERM with sigaction(2), or the default action ends "
               f"the server at once, with no cleanup; "
               f"{default_installed(lab, server, sig)}{server.describe()}",
               "Cleaning up on a signal")
    if not server.has_exited():
        after = [e for e in lab.events(proc=server, event=None)
                 if e.get("errno") == "EINTR"]
        delivered = [e for e in lab.events(proc=server, event="signal")
                     if e["args"].get("sig") == sig.name]
        held = None if after or delivered else peers.held(server.pid, sig)
        ppoll_keeps_it_out(lab, server, sig, held)
        lab.expect(held is None,
                   f"{sig.name} to stop the server: it {held}, so the "
                   "handler never runs and nothing interrupts the call it "
                   "waits in"
                   + (": the signal stays pending for as long as it is "
                      "blocked. A signal blocked with sigprocmask must be let "
                      "in again where the server waits (the README's ppoll, "
                      "which unblocks it only while it waits), or not be "
                      "blocked at all" if held and held.startswith("blocks")
                      else ": SIG_IGN throws it away. Install on_stop_signal "
                      "for SIGINT and SIGTERM with sigaction, and ignore "
                      "neither"), "Cleaning up on a signal")
        lab.expect(after,
                   f"after {sig.name} the call the server waits in to "
                   "return -1 with EINTR: it went on waiting, restarted by "
                   "the kernel, because the handler was installed with "
                   "SA_RESTART; leave sa_flags 0", "Cleaning up on a signal")
        accepted_after_a_ppoll_that_found_none(lab, server, since)
        cleared = flag_cleared(lab)
        lab.expect(not cleared,
                   f"after {sig.name} the server to stop: {cleared} sets the "
                   "flag back to 0, and the stop the handler asked for is "
                   "forgotten there: after the EINTR the server went back to "
                   "wait again. Once a signal has set the flag, leave it "
                   "set: the loop ends on it", "Cleaning up on a signal")
        lab.expect(False,
                   f"after {sig.name} and the EINTR it caused, the server to "
                   "stop: it went back to wait again; look at the flag "
                   "stop_requested after EINTR and before each accept",
                   "Cleaning up on a signal")
    # The cleanup's own calls, made by the handler (other calls in a
    # handler: the checks below and the source check name them).
    inside = [(e, w) for e, w in made_in_a_handler(lab, server)
              if e["call"] in ("close", "unlink", "shutdown")]
    if inside:
        call, waited = inside[0]
        lab.expect(False,
                   f"the stop handler to only set the flag: after {sig.name} "
                   f"the handler itself called {call_text(call)} "
                   f"({where(call)}), while "
                   f"{waited['call']}({waited['args'].get('fd', '')}) still "
                   "waited: cleanup done in a handler, which belongs in "
                   "main. The handler runs between any two instructions; a "
                   "close or unlink there races with the main flow (its "
                   "cleanup then closes the fd again: EBADF). Set "
                   "stop_requested, return, and do the cleanup in main "
                   "after the loop", "Cleaning up on a signal")
    lab.expect(not ended_inside_a_handler(lab, server),
               f"after {sig.name} the waiting call to return -1 with EINTR, "
               "and the cleanup to run in main: the server ended while the "
               "call still waited, so it ended inside the signal handler "
               "(an exit or _exit there), and main's cleanup never ran; "
               "a handler may call only async-signal-safe functions: let it "
               "only set the flag", "Cleaning up on a signal")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_signal_stops_the_server_cleanly(lab, sig):
    server = lab.serving()
    made = socket_file_made(lab)
    waiting(lab, server)
    bound = lab.events("bind", proc=server, ret=0)
    late = [e for e in lab.events(("sigaction", "signal"), proc=server)
            if e["args"].get("sig") in ("SIGINT", "SIGTERM") and
            e["args"].get("handler") == "handler" and bound and
            e["ts"] > bound[0]["ts"]]
    lab.expect(not late,
               "the stop handlers installed before bind creates the socket "
               "file, and so before listen: "
               f"{call_text(late[0]) if late else ''} "
               f"({where(late[0]) if late else ''}) came after "
               f"{call_text(bound[0]) if bound else ''}. A SIGINT or "
               "SIGTERM in between ends the server with the default action, "
               "before any handler is there, and the socket file stays "
               "behind; install them at the start of main, before socket",
               "Cleaning up on a signal")
    since = max(e["ts"] for e in lab.events(event=None))
    server.signal(sig)
    stopped(lab, server, sig, since)
    own_file_left_alone(lab, server, made)
    cut_short = [e for e in lab.events(proc=server, errno="EINTR")
                 if e["ts"] > since]
    if cut_short and cut_short[0]["call"] == "ppoll":
        e = cut_short[0]
        lab.expect(server.returncode == 0,
                   f"after {sig.name}, ppoll's -1 with EINTR to be taken for "
                   f"the stop, not for a failure: {call_text(e)} "
                   f"({where(e)}), and the server reported it as an error "
                   "and exited with a non-zero status. EINTR is how the stop "
                   "signal ends ppoll's wait: when errno is EINTR, go back "
                   "to the look at stop_requested (continue), without "
                   "perror; a stop that was asked for is not a failure; "
                   f"{server.describe()}", "Cleaning up on a signal")
    lab.expect(server.returncode == 0,
               f"after {sig.name} the server to leave accept (EINTR), clean "
               f"up and exit with 0: a stop that was asked for is not a "
               f"failure; {server.describe()}", "Cleaning up on a signal")
    lab.expect(not (lab.dir / "lab.sock").exists() and
               lab.events("unlink", proc=server, ret=0),
               f"lab.sock removed by unlink(2) after {sig.name}",
               "Cleaning up on a signal")
    closed_once(lab, "What to look for in the trace")


def stops(handler, installed, code, defined):
    """Whether handler (a name) may be the stop handler, whose every write,
    in the program's own functions it calls too, is a flag the main loop
    reads: not one installed with signal() for another signal than SIGINT
    or SIGTERM, nor a reaper (its body calls waitpid or wait).  A reaper's
    helpers (lesson 07's, which update a table that the main flow touches
    only with SIGCHLD blocked) are judged by the lessons of the reaper."""
    start, end = defined[handler]
    if re.search(r"(?<![\w.>])wait(?:pid|id|3|4)?\s*\(", code[start:end]):
        return False
    return not any(re.fullmatch(r"SIG[A-Z0-9]+", sig or "") and
                   sig not in ("SIGINT", "SIGTERM")
                   for name, _, _, sig in installed if name == handler)


def flag_cleared(lab):
    """Where the server's main flow sets a flag that its stop handler sets
    back to 0 (or false), forgetting a stop asked for: "line N,
    `statement`", or None (this comes from reading the source)."""
    source, text = lab.source("server")
    code, macros = c_code(text)
    defined = c_functions(code)
    installed = installed_handlers(code)
    names = list(dict.fromkeys(h[0] for h in installed))
    handlers = [defined[name] for name in names]
    flags = {var for name in names for var, _, declared in
             handler_writes(code, *defined[name], macros, defined,
                            follow=stops(name, installed, code, defined))
             if declared is not None}
    found = []
    for var in flags:
        for m in re.finditer(rf"(?<![\w.>]){re.escape(var)}\s*=\s*"
                             r"(?:0[uUlL]*|false)\s*;", code):
            if not any(start <= m.start() < end for start, end in handlers):
                found.append(m.start())
    if not found:
        return None
    line = line_at(code, min(found))
    return f"line {line}, `{source_line(text, line)}`"


def test_a_signal_while_serving_a_client_stops_the_server_quietly(lab):
    server = lab.serving()
    client, error = lab.connect()
    lab.expect(client is not None, f"a client to connect; it failed: {error}",
               "Your task")
    # The wait for this client, after its accept: a server that polls
    # waits in poll before the accept too.
    accepted = lab.require(labrun.ACCEPTS, "the server to accept its client",
                           "Your task", proc=server,
                           where=lambda e: e["ret"] >= 0)
    waits = lab.require(SERVING_WAITS, "the server to wait in read(2) for "
                        "its client", "Your task", proc=lab.family(server),
                        event="wait", where=lambda e: e["ts"] > accepted["ts"])
    labrun.settle(lab, server)
    since = max(e["ts"] for e in lab.events(event=None))
    server.signal(signal.SIGINT)
    status = ended_or_waiting_again(lab, server, max(since, waits["ts"]),
                                    sig=signal.SIGINT)
    held = peers.held(server.pid, signal.SIGINT) if status is None else None
    sleeps_in = (peers.blocked_in(server.pid) or ("",))[0]
    if held and held.startswith("blocks") and \
            sleeps_in in ("read", "recvfrom"):  # read, recv
        lab.expect(False,
                   "Ctrl-C while a client is connected to stop the server: "
                   f"it blocks SIGINT while it serves the client ({held}), "
                   "so SIGINT stays pending and the read it waits in is "
                   "never interrupted"
                   + (": the mask it blocked the stop signals with for "
                      "ppoll is not restored after ppoll. Let them in while "
                      "a client is served: restore the old mask "
                      "(sigprocmask(SIG_SETMASK, &old, NULL)) once ppoll "
                      "has returned, and block them again before the look "
                      "at the flag"
                      if lab.events("ppoll", proc=server, event=None) else
                      ": a signal blocked with sigprocmask must be let in "
                      "again where the server waits, or not be blocked at "
                      "all"), "Cleaning up on a signal")
    if status is None:
        back = [e for e in lab.events(labrun.ACCEPTS, proc=server,
                                      event="wait")
                if e["ts"] > since]
        cleared = flag_cleared(lab) if back else None
        lab.expect(not cleared,
                   "Ctrl-C while a client is connected to stop the server: "
                   f"{cleared} sets the flag back to 0, and the stop the "
                   "handler asked for is forgotten there: the interrupted "
                   "read made the server leave the client, then it waited in "
                   "accept again. Once a signal has set the flag, leave it "
                   "set: the loop ends on it", "Cleaning up on a signal")
        lab.expect(not back,
                   "Ctrl-C while a client is connected to stop the server: "
                   "the interrupted read made it leave the client, but then "
                   "it waited in accept again; look at the flag "
                   "stop_requested before each accept",
                   "Cleaning up on a signal")
    client.close()
    lab.expect(status == 0 and "Interrupted" not in server.stderr and
               not (lab.dir / "lab.sock").exists(),
               "Ctrl-C while a client is connected: the read is interrupted, "
               "the server leaves that client without an error message, "
               f"cleans up and exits with 0; {server.describe()}",
               "Cleaning up on a signal")
    done = [line for line in server.stdout.splitlines()
            if re.search(r"\bdone\b|echoed", line)]
    lab.expect(not done,
               "Ctrl-C while a client is connected: the server to leave that "
               "client without the line `client done, N bytes echoed`, which "
               "says that the client ended with end of file: this one sent "
               "nothing and never ended, the stop cut it off. When the "
               "interrupted read finds stop_requested set, return from "
               "serve_client, past that line; it printed "
               f"{cut(done[0].encode() if done else b'', 60)}",
               "Cleaning up on a signal")
    fd = accepted["ret"]
    lab.expect(any(e["args"].get("fd") == fd and e["ts"] > accepted["ts"]
                   for e in lab.events("close", proc=server, ret=0)),
               "Ctrl-C while a client is connected: the server to close "
               f"that client's socket, fd {fd}, before it exits, as on every "
               f"other path: it exited with no close({fd}) after "
               f"{call_text(accepted)}, leaving the socket to the exit, while "
               "its cleanup closed the listening socket. Close the client's "
               "socket first, then leave the loop", "Cleaning up on a signal")
    closed_once(lab, "What to look for in the trace")


def test_a_file_in_the_way_at_start_is_left_untouched(lab):
    (lab.dir / "lab.sock").write_text("someone else's file\n")
    server = lab.start("server", "-n", "1")
    # It exits, or (having removed the file) listens for a client.
    lab.wait_for("listen", proc=server)
    lab.expect(lab.read_text("lab.sock") == "someone else's file\n" and
               not lab.events("unlink", proc=server, ret=0),
               "the server to leave alone a file it did not create: bind "
               "fails with EADDRINUSE, and the server says so and exits; it "
               "never removes a path before bind, which could be another "
               "server's socket or a file that is not a socket at all",
               "Why the socket file outlives close")


@pytest.mark.parametrize("other", REPLACEMENTS)
def test_the_server_leaves_alone_a_file_that_replaced_its_socket(lab, other):
    server = lab.serving()
    waiting(lab, server)
    replacement_left_alone(lab, server, "lab.sock", other,
                           socket.SOCK_STREAM,
                           "Why the socket file outlives close")


def test_the_server_can_start_again_after_exiting(lab):
    first = lab.serving("-n", "1")
    lab.client("lab.sock", "first")
    first.wait()
    second = lab.serving("-n", "1")
    client = lab.client("lab.sock", "second")
    lab.expect(client.stdout == "SECOND\n" and second.wait() == 0,
               "a second server on the same path to bind and serve, since "
               "the first removed its socket file",
               "Why the socket file outlives close")


def test_the_stop_handler_only_sets_a_volatile_sig_atomic_t_flag(lab):
    # No run shows these mistakes (a plain int flag works until the compiler
    # keeps it in a register; printf in a handler works until a signal
    # lands inside the main loop's printf): the source shows them.
    source, text = lab.source("server")
    code, macros = c_code(text)
    defined = c_functions(code)
    found = installed_handlers(code)
    by_signal = [h for h in found if h[1] != "sigaction"]
    if by_signal:
        name, how, at, sig = by_signal[0]
        if re.fullmatch(r"SIG[A-Z0-9]+", sig or "") and \
                sig not in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"):
            lab.expect(False,
                       f"the {sig} handler {name} installed with "
                       f"sigaction(2), or {sig} ignored (this comes from "
                       f"reading {source}): line {line_at(code, at)} "
                       f"installs {name} with {how}({sig}, {name}). Built as "
                       "the lab builds (_POSIX_C_SOURCE, glibc), signal() "
                       "installs a handler with SA_RESETHAND: after the "
                       f"first {sig} the action is the default one again, "
                       + ("and the next client that leaves mid-reply kills "
                          "the server. Ignore it, signal(SIGPIPE, SIG_IGN), "
                          "or install the handler with sigaction"
                          if sig == "SIGPIPE" else
                          f"and the next {sig} does what it does by default. "
                          "Install the handler with sigaction"),
                       "Cleaning up on a signal")
        lab.expect(False,
                   f"the stop handler installed with sigaction(2), as the "
                   f"task asks (this comes from reading {source}): line "
                   f"{line_at(code, at)} installs {name} with {how}"
                   f"({sig}, {name}). What signal() does varies: built as "
                   "the lab builds (_POSIX_C_SOURCE, glibc), it installs the "
                   "handler with SA_RESETHAND, so that the next signal "
                   "finds the default action again; with _DEFAULT_SOURCE, "
                   "or with musl, it sets SA_RESTART, and a waiting accept "
                   "is restarted instead of failing with EINTR. Install it "
                   "with sigaction, sa_flags 0",
                   "Cleaning up on a signal")
    for name in dict.fromkeys(h[0] for h in found):
        start, end = defined[name]
        unsafe = unsafe_calls(code, start, end, macros, defined)
        where = f"{source}:{line_at(code, start)}"
        if unsafe:
            call, at = unsafe[0]
            lab.expect(False,
                       f"the signal handler {name} ({where}) to call only "
                       "async-signal-safe functions, and best none: to set "
                       f"the flag and return (this comes from reading "
                       f"{source}): line {line_at(code, at)}, "
                       f"`{source_line(text, line_at(code, at))}`, calls "
                       f"{call}, which signal-safety(7) does not list. The "
                       "handler runs between any two instructions of the "
                       "program, maybe inside the main loop's own call of "
                       f"{call}, whose state it would then corrupt; print "
                       "and clean up in main, after the loop",
                       "Cleaning up on a signal")
        for var, at, declared in handler_writes(
                code, start, end, macros, defined,
                follow=stops(name, found, code, defined)):
            if declared is None:
                continue  # a local variable, or out of sight
            words, decl_at = declared
            lab.expect(signal_safe_type(words),
                       f"the flag that the signal handler {name} sets to be "
                       "declared volatile sig_atomic_t (this comes from "
                       f"reading {source}): line {line_at(code, at)} sets "
                       f"{var}, declared at line {line_at(code, decl_at)}, "
                       f"`{source_line(text, line_at(code, decl_at))}`. "
                       "Only a volatile sig_atomic_t is safe to set in a "
                       "handler and read in the main loop: without volatile "
                       "the compiler may keep the flag in a register, and "
                       "the loop never sees the change",
                       "Cleaning up on a signal")


def resets_its_handler(event):
    """Whether a sigaction event installed its handler with SA_RESETHAND
    (the trace gives flags by name when it knows them all, else as a
    number)."""
    flags = (event.get("args") or {}).get("flags")
    if isinstance(flags, int):
        return bool(flags & 0x80000000)  # SA_RESETHAND on Linux
    return isinstance(flags, str) and "SA_RESETHAND" in flags.split("|")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_second_signal_during_the_cleanup_is_caught_too(lab, sig):
    # The first signal stops the server in accept; LAB_FAULTS raises the
    # same signal again just before each close and unlink of the cleanup,
    # as a second Ctrl-C (or kill) does while the server cleans up.
    rules = f"close={sig.name},unlink={sig.name}"
    server = lab.serving(env=faults(rules))
    waiting(lab, server)
    since = max(e["ts"] for e in lab.events(event=None))
    server.signal(sig)
    ended_or_waiting_again(lab, server, since, sig=sig)
    if not server.has_exited() or server.wait() is None or \
            server.returncode != -sig or not [
                e for e in lab.events(proc=server, event="signal")
                if e["args"].get("sig") == sig.name and e["ts"] > since]:
        return  # not killed by a second one: the checks above judge it
    installed = [e for e in lab.events(("sigaction", "signal"), proc=server)
                 if e["args"].get("sig") == sig.name and e["ret"] != -1]
    reset = [e for e in installed if resets_its_handler(e)]
    undone = [e for e in installed if e["ts"] > since and
              e["args"].get("handler") == "SIG_DFL"]
    why = (f"it installed the handler with {call_text(reset[-1])}, and "
           "SA_RESETHAND gives the signal its default action back as soon "
           "as the handler has run once; leave sa_flags 0"
           if reset else
           f"after the first, it called {call_text(undone[0])} "
           f"({where(undone[0])}), which gave the signal its default "
           "action back; install the handler once, and leave it installed"
           if undone else
           "something gave the signal its default action back after the "
           "first (SA_RESETHAND in sa_flags, or a signal(SIG_DFL) or "
           "sigaction in the handler or the loop); install the handler "
           "once, with sa_flags 0, and leave it installed")
    lab.expect(False,
               f"the stop handler to stay installed after a first {sig.name}"
               f": the first one stopped the server, but the second, raised "
               f"by LAB_FAULTS just before a call of its cleanup (`"
               f"{as_run(lab, 'server', rules)}`, then kill -{sig.name[3:]} "
               f"PID, does it again), killed it before the cleanup was "
               f"done, as a second Ctrl-C would: {why}; "
               f"{server.describe()}", "Cleaning up on a signal")


def test_a_failed_call_of_an_earlier_stage_is_reported(lab):
    # What lessons 01 and 04 asked still holds: LAB_FAULTS makes socket
    # fail (listen and accept: the checks below, with the cleanup).
    one_after_another(
        lab, (failed_socket, "server", "Your task", ", as lesson 01 asks"),
        (failed_socket, "client", "Your task", ", as lesson 04 asks"))


def test_short_writes_and_eintr_are_still_handled(lab):
    # What lesson 05 asked still holds ("Short reads and writes"): every
    # write made short, the first reads and writes failed with EINTR.
    one_after_another(
        lab, (server_finishes_short_writes, "Your task"),
        (client_finishes_short_writes, "Your task"),
        (client_makes_interrupted_calls_again, "Your task"))


def test_a_failed_listen_still_removes_the_socket_file(lab):
    rules = "listen=EADDRINUSE"
    server = lab.server(env=faults(rules))
    event = lab.require("listen", "the server to call listen(2) after bind",
                        "Your task", proc=server)
    exited = stopped_by_itself(lab, server)
    fd = event["args"]["fd"]
    how = f"{call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules)}` does it again)"
    later = [e for e in lab.events(proc=server) if e["ts"] > event["ts"]
             and e["call"] in (*labrun.ACCEPTS, *READS, *WRITES)]
    lab.expect(not later and not used_minus_one(lab, server),
               "the server to check listen()'s result for -1: when listen "
               f"fails, here {how}, say why, clean up and exit with a "
               "non-zero status; it went on as if it listened: it called "
               f"{call_text(later[0]) if later else ''}",
               "What this stage does")
    closed = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"]["fd"] == fd]
    removed = lab.events("unlink", proc=server, ret=0)
    missing = ([] if closed else [f"close({fd})"]) + \
        ([] if removed and not lab.is_socket("lab.sock") else
         ["unlink(\"lab.sock\")"])
    lab.expect(not missing,
               f"when listen fails ({how}), the server to clean up as on "
               "every exit after bind: close the listening socket and "
               "remove the socket file that bind made (goto cleanup); a "
               "file left behind makes the next server's bind fail with "
               f"EADDRINUSE; it made no {' and no '.join(missing)}; "
               f"{server.describe()}", "Why the socket file outlives close")
    lab.expect(exited and server.returncode > 0 and server.stderr.strip(),
               f"the server to say why on standard error and exit with a "
               f"non-zero status when listen fails ({how}); "
               f"{server.describe()}", "Your task")
    closed_once(lab)


def test_a_failed_accept_ends_the_server_after_its_cleanup(lab):
    server, event, how, exited = failed_accept(
        lab, sections=("What to look for in the trace", "Your task"))
    if pauses_after_emfile(lab):
        return  # lesson 08 on: EMFILE costs a pause, not the server
    fd = event["args"]["fd"]
    closed = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"]["fd"] == fd]
    removed = lab.events("unlink", proc=server, ret=0)
    missing = ([] if closed else [f"close({fd})"]) + \
        ([] if removed and not lab.is_socket("lab.sock") else
         ["unlink(\"lab.sock\")"])
    lab.expect(not exited or not missing,
               f"when accept fails ({how}), the server to leave its loop "
               "for the cleanup after it: close the listening socket and "
               "remove the socket file, as on every exit after bind; it "
               f"made no {' and no '.join(missing)}; {server.describe()}",
               "Why the socket file outlives close")
    lab.expect(exited and server.returncode > 0,
               f"the server to exit with a non-zero status when accept "
               f"fails ({how}): a failure is not a stop that was asked for; "
               f"{server.describe()}", "Your task")
    lab.expect(server.stderr.strip(),
               "a message on standard error that says why accept failed "
               f"(perror(\"server: accept\")); {how}, and the server said "
               f"nothing there; {server.describe()}", "Your task")
    closed_once(lab, "What to look for in the trace")


def test_an_interrupted_accept_is_not_counted_as_a_client(lab):
    # The first accept fails with EINTR, as when a signal other than a
    # stop comes while it waits: no client came, so none is counted.
    rules = "accept#1=EINTR"
    server = lab.serving("-n", "2", env=faults(rules))
    clients_in_turn(lab, server, "one")
    lab.collector.sync()
    failed = lab.events(labrun.ACCEPTS, proc=server, errno="EINTR",
                        injected=True)
    again = [e for e in lab.events(labrun.ACCEPTS, proc=server)
             if failed and e["ts"] > failed[0]["ts"] and e["ret"] >= 0]
    if not again or not server.has_exited() or server.wait() != 0:
        # Not made again: the next check says why; still waiting for the
        # second client: right.
        return
    how = f"{call_text(failed[0])}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules, '-n', '2')}` does it again)"
    lab.expect(False,
               "an interrupted accept not to count as a client: `server -n "
               f"2` served one client and exited, because its accept that "
               f"failed with EINTR, here {how}, counted as a served client. "
               "EINTR means no client came: make the accept again without "
               "counting it (served-- before continue, or count a client "
               "only once accept has returned its fd), so that -n COUNT "
               f"serves COUNT clients; {server.describe()}",
               "Cleaning up on a signal")


def test_an_eintr_without_a_stop_signal_is_made_again(lab):
    # EINTR, as any signal makes it, while stop_requested is not set: the
    # server has not been asked to stop, and goes on.
    rules = interrupted("accept", "ppoll", "read", "recv", "write", "send")
    server = lab.serving("-n", "1", env=faults(rules))
    client = lab.client("lab.sock", "hello")
    found = interrupted_and_not_made_again(lab, server)
    lab.expect(found is None,
               (eintr_expected(lab, server, found, rules, "-n", "1") +
                ". No stop signal came, so stop_requested is not set: only "
                "EINTR with stop_requested set means stop") if found else "",
               "Cleaning up on a signal")
    lab.expect(client.stdout == "HELLO\n" and server.wait() == 0,
               "`server -n 1` to serve its client (HELLO) and exit with 0 "
               "after making its first accepts, reads and writes again "
               "after EINTR; the client printed "
               f"{cut(client.stdout_bytes, 30)}; {server.describe()}",
               "Your task")


def test_the_client_reports_a_failed_close(lab):
    rules = "close=EIO"
    lab.serving("-n", "1")
    client = lab.client("lab.sock", "hello", env=faults(rules))
    closes = lab.events("close", proc=client)
    how = f"{call_text(closes[-1])}, failed by LAB_FAULTS (`" \
        f"{as_run(lab, 'client', rules, 'lab.sock', 'hello')}` does it " \
        "again)" if closes else ""
    lab.expect(not closes or (client.returncode or 0) > 0 and
               client.stderr.strip(),
               "the client to check close()'s result: when close fails, "
               f"here {how}, report it with perror(\"client: close\") and "
               "exit with a non-zero status, as the task asks: the reply "
               "may be printed, but the program did not end cleanly; "
               f"{client.describe()}", "Your task")


def claimed_line(output):
    return next(line for line in output.splitlines()
                if re.search(rb"(?<!not )removed", line))


def test_a_failed_unlink_is_reported(lab):
    rules = "unlink=EACCES"
    server = lab.serving("-n", "1", env=faults(rules))
    lab.client("lab.sock", "hello")
    server.wait()
    event = lab.wait_for("unlink", proc=server, timeout=0)
    how = f"{call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules, '-n', '1')}` does it again)" \
        if event else ""
    claimed = re.search(rb"(?<!not )removed", server.stdout_bytes)
    lab.expect(event is None or (server.stderr.strip() and not claimed),
               "the server to check unlink()'s result: when unlink fails, "
               f"here {how}, the socket file stays, and the server must say "
               "so (perror(\"server: unlink\")), not print that it removed "
               "it; it printed "
               + (f"{cut(claimed_line(server.stdout_bytes), 80)} and "
                  if claimed else "") +
               f"on stderr {cut(server.stderr_bytes, 100)}",
               "Why the socket file outlives close")


def test_a_failed_sigaction_is_reported(lab):
    # Each sigaction the server makes is failed in turn (EINVAL, what the
    # kernel says for a signal that cannot be caught), until a run shows
    # no more of them: every one must be checked.
    for n in range(1, 9):
        rules = f"sigaction#{n}=EINVAL"
        server = lab.server(env=faults(rules))
        lab.wait_for("listen", proc=server)
        exited = stopped_by_itself(lab, server)
        lab.collector.sync()
        failed = lab.events("sigaction", proc=server, injected=True)
        if not failed:
            return  # it makes fewer than n
        event = failed[0]
        how = f"{call_text(event)}, failed by LAB_FAULTS " \
            f"(`{as_run(lab, 'server', rules)}` does it again)"
        later = [e for e in lab.events(proc=server, event=None)
                 if e["ts"] > event["ts"] and e["call"] in
                 ("socket", "bind", "listen", *labrun.ACCEPTS, *POLLS)]
        went_on = f"it called {call_text(later[-1])}" if later else \
            "" if exited else "it went on running"
        sig = event["args"].get("sig", "the signal")
        lab.expect(not went_on,
                   "the server to check sigaction()'s result for -1: when "
                   f"sigaction fails, here {how}, no handler is installed, "
                   f"and {sig} would end the server at once, with no "
                   "cleanup; say why with perror(\"server: sigaction\") and "
                   "exit with a non-zero status (return EXIT_FAILURE), for "
                   "each sigaction call; it went on as if the handler were "
                   f"installed: {went_on}; {server.describe()}",
                   "Your task")
        lab.expect(server.returncode > 0 and server.stderr.strip(),
                   "the server to say why on standard error (perror("
                   "\"server: sigaction\")) and exit with a non-zero status "
                   f"when sigaction fails ({how}); {server.describe()}",
                   "Your task")
        (lab.dir / "lab.sock").unlink(missing_ok=True)


def test_a_failed_close_of_the_listening_socket_is_reported(lab):
    # No client: the first close on a socket is the listening socket's,
    # in the cleanup after SIGTERM.
    rules = "close#1=EIO"
    server = lab.serving(env=faults(rules))
    lab.stop(server)
    fd = listening_fd(lab, server)
    failed = [e for e in lab.events("close", proc=server, injected=True)
              if e["args"]["fd"] == fd]
    if not failed:
        return  # no close of it at all: the checks above say so
    how = f"{call_text(failed[0])}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'server', rules)}`, then kill PID, does it " \
        "again)"
    lab.expect(server.stderr.strip(),
               "the server to check close()'s result for the listening "
               f"socket in its cleanup: when close fails, here {how}, "
               "report it with perror(\"server: close\"), as the task asks; "
               f"it said nothing on stderr; {server.describe()}",
               "Your task")


def test_no_byte_is_read_or_written_outside_a_buffer(lab):
    # Lesson 05 explains it ("What this stage does"): read adds no '\0'.
    sanitized_exchange(lab, "Your task")


# -- bad paths ----------------------------------------------------------------

# Each bad path: the words the program's message must contain, and whether
# the program may call bind or connect at all (an empty path or one too
# long for sun_path must be refused before).
BAD_PATHS = {
    "empty": ("", "empty", False),
    "too long": ("p" * 120 + ".sock", "sun_path", False),
    "missing directory": ("no-such-dir/lab.sock", None, True),
    "not a socket": ("notes.txt", "not a socket", True),
    "a file as a directory": ("notes.txt/", None, True),
    # Linux: /proc makes no new file, and says ENOENT, though it exists.
    "a directory that makes no files": ("/proc/lab.sock", None, True),
}
SERVER_SAYS = {"missing directory": "directory does not exist",
               "a file as a directory": "not a socket",
               "a directory that makes no files": "no file can be made"}
CLIENT_SAYS = {"missing directory": "directory does not exist",
               "a file as a directory": "Not a directory",
               "a directory that makes no files": "no socket file"}


def refused(lab, program, case):
    """Runs program on a bad path; checks a clear message, a non-zero
    exit, no crash, no hang, and the file at the path untouched."""
    path, words, may_call = BAD_PATHS[case]
    words = words or {"server": SERVER_SAYS, "client": CLIENT_SAYS}[
        program][case]
    notes = lab.dir / "notes.txt"
    notes.write_text("someone's notes\n")
    args = [path] if program == "server" else [path, "hello"]
    proc = lab.run(program, *args)
    call = "bind" if program == "server" else "connect"
    lab.expect(proc.returncode is not None and proc.returncode > 0 and
               words in proc.stderr,
               f"`{program} {path or chr(34) * 2}`: a message that says "
               f"{words!r} and an exit with a non-zero status (not a "
               f"crash, not a hang); it {proc.describe()}",
               "Bad paths")
    lab.expect(may_call or not lab.events(call),
               f"no {call}(2) at all for a path that names no file: the "
               f"program refuses it first", "Bad paths")
    lab.expect(notes.read_text() == "someone's notes\n" and
               sorted(p.name for p in lab.dir.iterdir()
                      if not p.name.startswith(".")) == ["notes.txt"],
               "nothing created and nothing removed: notes.txt unchanged, "
               "no socket file", "Bad paths")


@pytest.mark.parametrize("case", list(BAD_PATHS))
def test_the_server_refuses_a_bad_path_clearly(lab, case):
    refused(lab, "server", case)


@pytest.mark.parametrize("case", list(BAD_PATHS))
def test_the_client_refuses_a_bad_path_clearly(lab, case):
    refused(lab, "client", case)


# -- the final programs with standard tools ----------------------------------


def test_nc_is_a_client_of_the_server(lab):
    nc = tool("nc")
    if b"-U" not in run_tool(lab, [nc, "-h"]).stderr:
        pytest.skip("this nc has no -U (Unix domain) option")
    lab.serving("-n", "1")
    done = run_tool(lab, [nc, "-N", "-U", "lab.sock"], b"hello from nc\n")
    lab.expect(done.stdout == b"HELLO FROM NC\n",
               f"`nc -N -U lab.sock` to get HELLO FROM NC back; it got "
               f"{cut(done.stdout, 60)}", "Talking to standard tools")


def test_socat_is_a_client_of_the_server(lab):
    socat = tool("socat")
    lab.serving("-n", "1")
    done = run_tool(lab, [socat, "-", "UNIX-CONNECT:lab.sock"],
                    b"hello from socat\n")
    lab.expect(done.stdout == b"HELLO FROM SOCAT\n",
               f"`socat - UNIX-CONNECT:lab.sock` to get HELLO FROM SOCAT "
               f"back; it got {cut(done.stdout, 60)}",
               "Talking to standard tools")


def test_the_client_talks_to_a_socat_server(lab):
    socat = tool("socat")
    # socat -d -d says when it listens: read its messages until then.
    server = subprocess.Popen([socat, "-d", "-d", "UNIX-LISTEN:lab.sock",
                               "EXEC:cat"], cwd=lab.dir,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        said = b""
        deadline = time.monotonic() + labrun.WAIT
        while b"listening on" not in said and time.monotonic() < deadline:
            ready, _, _ = select.select([server.stderr], [], [],
                                        deadline - time.monotonic())
            chunk = os.read(server.stderr.fileno(), 4096) if ready else b""
            if not chunk:
                break
            said += chunk
        lab.expect(b"listening on" in said,
                   f"socat to listen on lab.sock; it said {cut(said, 100)}",
                   "Talking to standard tools")
        client = lab.client("lab.sock", "echo me")
        lab.expect(client.returncode == 0 and client.stdout == "echo me\n",
                   "the client to print what a socat echo server "
                   f"(EXEC:cat) sent back; it printed "
                   f"{cut(client.stdout_bytes, 60)}",
                   "Talking to standard tools")
    finally:
        server.kill()
        server.wait(timeout=10)
        server.stderr.close()
