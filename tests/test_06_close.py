"""Lesson 06: close() every descriptor; the socket file outlives close(),
so the server removes it with unlink() when it exits, even on a signal."""
import os
import select
import shutil
import signal
import socket
import subprocess
import time

import pytest

import labrun
from conftest import SERVING_WAITS, WRITES, frozen, receive
from tracetext import cut

LESSON = "06-close"


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


def ended_or_waiting_again(lab, server, since, calls=None):
    """Waits until the server has exited, or until, after the time since,
    a call of it has returned and its latest event is a call (of calls)
    that waits again (for a client, not for its children to end): either
    way, what it does next is known without waiting for a timeout.
    Returns its exit status, or None while it runs."""
    def known():
        mine = lab.events(proc=server, event=None)
        # A server that forked waits for its children as it stops: a wait
        # in waitpid is part of stopping, not a wait for the next client.
        return mine and mine[-1]["event"] == "wait" and \
            mine[-1]["call"] != "waitpid" and mine[-1]["ts"] > since and \
            (calls is None or mine[-1]["call"] in calls) and \
            [e for e in mine if e["event"] == "return" and e["ts"] > since]
    lab.wait_until(known, proc=server)
    return server.wait() if server.has_exited() else None


def waiting(lab, server):
    """Returns once the server sleeps in the call that waits for a client:
    accept, whose trace announces the wait, or one the trace does not show
    (ppoll, select), for which the wait below ends by its timeout."""
    lab.wait_until(lambda: [e for e in lab.events(proc=server, event=None)
                            [-1:] if e["event"] == "wait"], proc=server)
    server.asleep()


def test_the_server_serves_n_clients_then_exits(lab):
    server = lab.serving("-n", "2")
    fd = listening_fd(lab, server)
    clients = [lab.client("lab.sock", word) for word in ("one", "two")]
    # Exited, or back in accept for a third client.
    last = max([e["ts"] for e in lab.events("accept", proc=server)],
               default=0)
    status = ended_or_waiting_again(lab, server, last, ("accept",))
    accepts = lab.events("accept", proc=server)
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
               f"lab.sock (unlink) after a client, and the next client's "
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


def test_the_socket_file_is_removed_on_exit(lab):
    server = lab.serving("-n", "1")
    lab.client("lab.sock", "hi")
    server.wait()
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


def test_the_server_removes_the_path_it_was_given(lab):
    name = "another.sock"
    server = lab.serving("-n", "1", name)
    lab.client(name, "hi")
    server.wait()
    removed = [e["args"]["path"] for e in lab.events("unlink", proc=server)]
    lab.expect(not (lab.dir / name).exists(),
               f"`server -n 1 {name}` to remove {name}, the path from its "
               f"command line, when it stops: unlink(path), not the default "
               f"name; it called unlink on {removed}",
               "Why the socket file outlives close")


def test_every_connected_socket_is_closed(lab):
    server = lab.serving("-n", "2")
    clients = [lab.client("lab.sock", w) for w in ("one", "two")]
    server.wait()
    accepted = [e["ret"] for e in lab.events("accept", proc=server)
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
    # The reply is cut short: a server that closes early.
    listener = lab.listen()
    client = lab.start("client", "lab.sock", "hello, socket")
    conn = lab.accept(listener)
    lab.expect(conn is not None, "the client to connect to lab.sock",
               "Your task")
    receive(conn, len(b"hello, socket"))
    conn.sendall(b"HEL")
    conn.close()
    client.wait()
    made = lab.events("socket", proc=client)
    lab.expect(made and lab.events("close", proc=client, ret=0),
               "the client to close its socket when the reply is cut short "
               "too (the server closed the connection after 3 of 13 bytes), "
               "before it exits with an error: every fd it opens, it "
               f"closes, on every path; {client.describe()}", "Your task")


def test_a_client_that_leaves_early_costs_the_server_no_fd(lab):
    server = lab.serving("-n", "2")
    side = lab.family(server)
    first, _ = lab.connect()
    lab.require(SERVING_WAITS, "the server to wait in read(2) for its "
                "client", "Your task", proc=side, event="wait")
    labrun.settle(lab, server)
    # The second client sends and leaves while the server (and what it
    # forked) is stopped: before any reply, however the server serves.
    with frozen(server):
        leaver, _ = lab.connect()
        leaver.sendall(b"nobody will read this reply")
        leaver.close()
    first.close()
    failed = lab.require(WRITES, "the reply to the client that left to fail "
                         "with EPIPE", "What to look for in the trace",
                         proc=side, ret=-1)
    server.wait()
    fd = failed["args"]["fd"]
    lab.expect([e for e in lab.events("close", proc=side, ret=0)
                if e["args"]["fd"] == fd and e["ts"] > failed["ts"] and
                e["pid"] == failed["pid"]],
               f"the server to close fd {fd} of the client that left, after "
               f"its write failed with EPIPE: close a client's fd on every "
               "path, not only at end of file, or each such client costs "
               "the server one fd", "What to look for in the trace")


def stopped(lab, server, sig, since):
    """Fails the check, naming the cause, unless the server ended cleanly
    after sig, sent after the time since: handler installed, waiting call
    interrupted, flag seen."""
    ended_or_waiting_again(lab, server, since)
    killed = server.has_exited() and server.wait() is not None and \
        server.returncode < 0
    lab.expect(not killed,
               f"{sig.name} to be caught: install on_stop_signal for SIGINT "
               f"and SIGTERM with sigaction(2), or the default action ends "
               f"the server at once, with no cleanup; {server.describe()}",
               "Cleaning up on a signal")
    if not server.has_exited():
        after = [e for e in lab.events(proc=server, event=None)
                 if e.get("errno") == "EINTR"]
        lab.expect(after,
                   f"after {sig.name} the call the server waits in to "
                   "return -1 with EINTR: it went on waiting, restarted by "
                   "the kernel, because the handler was installed with "
                   "SA_RESTART; leave sa_flags 0", "Cleaning up on a signal")
        lab.expect(False,
                   f"after {sig.name} and the EINTR it caused, the server to "
                   "stop: it went back to wait again; look at the flag "
                   "stop_requested after EINTR and before each accept",
                   "Cleaning up on a signal")
    lab.expect(not ended_inside_a_handler(lab, server),
               f"after {sig.name} the waiting call to return -1 with EINTR, "
               "and the cleanup to run in main: the server ended while the "
               "call still waited, so it ended inside the signal handler; "
               "a handler may call only async-signal-safe functions: let it "
               "only set the flag", "Cleaning up on a signal")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_signal_stops_the_server_cleanly(lab, sig):
    server = lab.serving()
    waiting(lab, server)
    since = max(e["ts"] for e in lab.events(event=None))
    server.signal(sig)
    stopped(lab, server, sig, since)
    lab.expect(server.returncode == 0,
               f"after {sig.name} the server to leave accept (EINTR), clean "
               f"up and exit with 0: a stop that was asked for is not a "
               f"failure; {server.describe()}", "Cleaning up on a signal")
    lab.expect(not (lab.dir / "lab.sock").exists() and
               lab.events("unlink", proc=server, ret=0),
               f"lab.sock removed by unlink(2) after {sig.name}",
               "Cleaning up on a signal")


def test_a_signal_while_serving_a_client_stops_the_server_quietly(lab):
    server = lab.serving()
    client, error = lab.connect()
    lab.expect(client is not None, f"a client to connect; it failed: {error}",
               "Your task")
    # The wait for this client, after its accept: a server that polls
    # waits in poll before the accept too.
    accepted = lab.require("accept", "the server to accept its client",
                           "Your task", proc=server,
                           where=lambda e: e["ret"] >= 0)
    waits = lab.require(SERVING_WAITS, "the server to wait in read(2) for "
                        "its client", "Your task", proc=lab.family(server),
                        event="wait", where=lambda e: e["ts"] > accepted["ts"])
    labrun.settle(lab, server)
    since = max(e["ts"] for e in lab.events(event=None))
    server.signal(signal.SIGINT)
    status = ended_or_waiting_again(lab, server, max(since, waits["ts"]))
    if status is None:
        back = [e for e in lab.events("accept", proc=server, event="wait")
                if e["ts"] > since]
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


def test_the_server_leaves_alone_a_file_that_replaced_its_socket(lab):
    server = lab.serving()
    waiting(lab, server)
    path = lab.dir / "lab.sock"
    path.unlink(missing_ok=True)
    path.write_text("someone else's file\n")
    lab.stop(server)
    lab.expect(lab.read_text("lab.sock") == "someone else's file\n" and
               not lab.events("unlink", proc=server, ret=0),
               "on exit, the server removes lab.sock only if it is still "
               "the socket file its bind made (is_our_socket_file): here "
               "someone replaced it with a regular file, which must stay",
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


# -- bad paths ----------------------------------------------------------------

# Each bad path: the words the program's message must contain, and whether
# the program may call bind or connect at all (an empty path or one too
# long for sun_path must be refused before).
BAD_PATHS = {
    "empty": ("", "empty", False),
    "too long": ("p" * 120 + ".sock", "sun_path", False),
    "missing directory": ("no-such-dir/lab.sock", None, True),
    "not a socket": ("notes.txt", "not a socket", True),
}
SERVER_SAYS = {"missing directory": "directory does not exist"}
CLIENT_SAYS = {"missing directory": "no socket file"}


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

def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def run_tool(lab, argv, stdin=b""):
    return subprocess.run(argv, cwd=lab.dir, input=stdin, capture_output=True,
                          timeout=labrun.WAIT * 2)


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
