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

LESSON = "06-close"


def test_the_server_serves_n_clients_then_exits(lab):
    server = lab.serving("-n", "2")
    for word in ("one", "two"):
        lab.client("lab.sock", word)
    lab.expect(server.wait() == 0,
               "`server -n 2` to exit with status 0 by itself after two "
               "clients", "Your task")


def test_the_socket_file_is_removed_on_exit(lab):
    server = lab.serving("-n", "1")
    lab.client("lab.sock", "hi")
    server.wait()
    fd = lab.events("listen", proc=server)[0]["args"]["fd"]
    closed = [e for e in lab.events("close", proc=server, ret=0)
              if e["args"]["fd"] == fd]
    removed = lab.events("unlink", proc=server, ret=0)
    lab.expect(closed and removed and removed[0]["args"]["path"] == "lab.sock"
               and removed[0]["ts"] > closed[0]["ts"],
               f"close({fd}) of the listening socket, then "
               "unlink(\"lab.sock\") = 0", "Why the socket file outlives close")
    lab.expect(not (lab.dir / "lab.sock").exists(),
               "no lab.sock left once the server has exited",
               "Why the socket file outlives close")


def test_every_connected_socket_is_closed(lab):
    server = lab.serving("-n", "2")
    clients = [lab.client("lab.sock", w) for w in ("one", "two")]
    server.wait()
    accepted = [e["ret"] for e in lab.events("accept", proc=server)
                if e["ret"] >= 0]
    closed = [e["args"]["fd"] for e in lab.events("close", proc=server,
                                                  ret=0)]
    lab.expect(len(accepted) == 2 and all(fd in closed for fd in accepted),
               f"close(fd) = 0 for each fd that accept returned "
               f"({accepted})", "Your task")
    for client in clients:
        made = lab.events("socket", proc=client)[0]["ret"]
        lab.expect(lab.events("close", proc=client, ret=0) and
                   lab.events("close", proc=client)[-1]["args"]["fd"] == made,
                   f"the client (pid {client.pid}) to close its socket fd "
                   f"{made} itself", "Your task")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)"])
def test_a_signal_stops_the_server_cleanly(lab, sig):
    server = lab.serving()
    lab.require("accept", "the server to wait in accept(2)", "Your task",
                proc=server, event="wait")
    server.asleep()
    server.signal(sig)
    status = server.wait()
    lab.expect(status == 0,
               f"after {sig.name} the server to leave accept (EINTR), clean "
               f"up and exit with 0; it {'is still running' if status is None else f'ended with {status}'}",
               "Cleaning up on a signal")
    lab.expect(not (lab.dir / "lab.sock").exists() and
               lab.events("unlink", proc=server, ret=0),
               f"lab.sock removed by unlink(2) after {sig.name}",
               "Cleaning up on a signal")


def test_a_signal_while_serving_a_client_stops_the_server_quietly(lab):
    server = lab.serving()
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with client:
        client.connect(str(lab.dir / "lab.sock"))
        lab.require("read", "the server to wait in read(2) for its client",
                    "Your task", proc=server, event="wait")
        server.asleep()
        server.signal(signal.SIGINT)
        status = server.wait()
    lab.expect(status == 0 and "Interrupted" not in server.stderr and
               not (lab.dir / "lab.sock").exists(),
               "Ctrl-C while a client is connected: the read is interrupted, "
               "the server leaves that client without an error message, "
               "cleans up and exits with 0", "Cleaning up on a signal")


def test_the_server_leaves_alone_a_file_that_replaced_its_socket(lab):
    server = lab.serving()
    lab.require("accept", "the server to wait in accept(2)", "Your task",
                proc=server, event="wait")
    path = lab.dir / "lab.sock"
    path.unlink()
    path.write_text("someone else's file\n")
    lab.stop(server)
    lab.expect(path.read_text() == "someone else's file\n" and
               not lab.events("unlink", proc=server, ret=0),
               "on exit, the server removes lab.sock only if it is still "
               "the socket file its bind made: here someone replaced it "
               "with a regular file, which must stay",
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
               f"{done.stdout!r}", "Talking to standard tools")


def test_socat_is_a_client_of_the_server(lab):
    socat = tool("socat")
    lab.serving("-n", "1")
    done = run_tool(lab, [socat, "-", "UNIX-CONNECT:lab.sock"],
                    b"hello from socat\n")
    lab.expect(done.stdout == b"HELLO FROM SOCAT\n",
               f"`socat - UNIX-CONNECT:lab.sock` to get HELLO FROM SOCAT "
               f"back; it got {done.stdout!r}", "Talking to standard tools")


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
                   f"socat to listen on lab.sock; it said {said!r}",
                   "Talking to standard tools")
        client = lab.client("lab.sock", "echo me")
        lab.expect(client.returncode == 0 and client.stdout == "echo me\n",
                   "the client to print what a socat echo server "
                   f"(EXEC:cat) sent back; it printed {client.stdout!r}",
                   "Talking to standard tools")
    finally:
        server.kill()
        server.wait(timeout=10)
        server.stderr.close()
