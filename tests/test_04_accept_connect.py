"""Lesson 04: connect() reaches the server; accept() gives each client a
new socket, while the listening socket stays open."""
import re
import socket

import labrun
import peers
from conftest import (FAR_TOO_LONG, accept_failure_reported,
                      address_lengths_set, as_run,
                      code_lesson,
                      closed_once, connected_to_the_whole_path,
                      errno_changed, exited_with_success,
                      explained_without_a_crash, faults,
                      first_fds,
                      line_names_the_default_path,
                      line_names_the_path, line_on_stdout, refuses_an_option,
                      one_after_another, says, says_it_listens,
                      failed_socket, listen_failure_reported, stream_socket,
                      survived_a_path_far_too_long)
from tracetext import call_text, cut

LESSON = "04-accept-connect"


def test_the_client_connects_to_the_server_path(lab):
    server = lab.serving()
    listening = lab.require("socket", "the server to create its socket",
                            "Your task", proc=server)
    stream_socket(lab, listening, "server", "Your task")
    client = lab.client()
    made = lab.require("socket", "the client to create its own socket",
                       "Your task", proc=client)
    connected = lab.wait_for("connect", proc=client, timeout=0)
    stream_socket(lab, made, "client", "Your task",
                  f", and connect failed: {call_text(connected)}"
                  if connected and connected["ret"] == -1 else "")
    binds = lab.events("bind", proc=client)
    lab.expect(not binds,
               "the client to connect(2) its socket without bind(2): bind "
               "names a server's socket, a client needs no name; it called "
               f"{call_text(binds[0]) if binds else ''}",
               "What this stage does")
    event = lab.require("connect", "the client to call connect(2)",
                        "Your task", proc=client)
    connected_to_the_whole_path(lab, client, "lab.sock")
    lab.expect(event["ret"] == 0 and event["args"]["fd"] == made["ret"] and
               (event["args"]["addr"] or {}).get("path") == "lab.sock",
               "connect(fd, {AF_UNIX, \"lab.sock\"}, sizeof addr) = 0 on "
               f"the client's own socket; it called {call_text(event)}",
               "What this stage does")
    if code_lesson(lab) == LESSON:  # later clients print their reply
        line_on_stdout(lab, client, "client: connected to lab.sock",
                       lambda line: "lab.sock" in line or
                       "connected" in line,
                       "once connect has returned 0", "Your task")
        line_names_the_default_path(lab, client,
                                    "client: connected to lab.sock",
                                    lambda line: "connected" in line,
                                    "Your task")
        exited_with_success(lab, client, "connect has succeeded and it has "
                            "said so", "Your task")


def test_the_client_connects_to_the_path_on_its_command_line(lab):
    # Longer than the 14 bytes that sizeof(struct sockaddr) would keep.
    name = "a-socket-with-a-longer-name.sock"
    lab.serving(name)
    client = lab.client(name)
    event = lab.require("connect", f"`client {name}` to call connect(2)",
                        "Your task", proc=client)
    path = (event["args"].get("addr") or {}).get("path") or ""
    connected_to_the_whole_path(lab, client, name)
    lab.expect(path == name and event["ret"] == 0,
               f"`client {name}` connects to the path given on its command "
               f"line, where the server listens; it called "
               f"{call_text(event)}", "What this stage does")
    if code_lesson(lab) == LESSON:  # later clients print their reply
        line_names_the_path(lab, client, "client: connected to PATH",
                            lambda line: "connected" in line, name,
                            "Your task")


def test_the_client_reaches_the_longest_path(lab):
    # 107 bytes, the most sun_path holds with its '\0': a length that
    # leaves out the end of the address (sizeof addr.sun_path, 108, loses
    # the last 2 bytes) cuts only so long a path.
    name = "s" * 102 + ".sock"
    shown = f"{name[:8]}...{name[-8:]}"
    server = lab.serving(name)
    bound = lab.require("bind", "the server to bind(2) the path (lesson 02)",
                        "What this stage does", proc=server, ret=0)
    lab.expect(bound["args"].get("bound") == name,
               f"the server to bind the whole path of {len(name)} bytes, "
               "the longest that sun_path holds with its '\\0' (lesson "
               f"02): pass bind sizeof addr; it called {call_text(bound)}",
               "What this stage does")
    client = lab.client(name)
    event = lab.require("connect", f"`client {shown}` ({len(name)} bytes) "
                        "to call connect(2)", "Your task", proc=client)
    path = (event["args"].get("addr") or {}).get("path") or ""
    length = event["args"].get("addrlen")
    lab.expect(path == name and event["ret"] == 0,
               f"`client {shown}`, a path of {len(name)} bytes (the "
               "longest that sun_path holds), to connect to that whole "
               "path: pass connect the length of the whole address, "
               f"sizeof addr (110 bytes); it called {call_text(event)}"
               + (f": the length {length} cut the path to its first "
                  f"{len(path)} bytes, a name with no file (sizeof "
                  "addr.sun_path, 108, leaves out the 2 bytes of "
                  "sun_family)" if path != name and name.startswith(path)
                  else ""), "What this stage does")


def test_a_failed_connect_is_not_announced(lab):
    # connect fails, as with no server (LAB_FAULTS, trace/TRACE.md): the
    # client must say so, never that it is connected.
    rules = "connect=ECONNREFUSED"
    client = lab.client(env=faults(rules))
    event = lab.require("connect", "the client to call connect(2)",
                        "Your task", proc=client)
    how = f"{call_text(event)}, failed by LAB_FAULTS " \
        f"(`{as_run(lab, 'client', rules)}` does it again)"
    lab.expect((client.returncode or 0) > 0 and client.stderr.strip(),
               f"the client to check connect's result for -1, and when "
               f"connect fails ({how}) to say why on standard error and "
               "exit with a non-zero status; "
               f"{client.describe()}", "Your task")
    said = [line for line in client.stdout.splitlines()
            if "connected" in line]
    lab.expect(not said,
               "the client to print `client: connected to lab.sock` only "
               "after connect has succeeded: check connect's result for -1 "
               "first, and on -1 explain the failure and exit, before any "
               f"line that says it is connected; here {how}, and it printed "
               f"{cut(said[0].encode() if said else b'', 60)}", "Your task")


def test_accept_s_address_length_has_a_value_before_each_call(lab):
    # First: a length that holds whatever the stack held may make accept
    # fail (EINVAL), and the checks below would name that instead.
    address_lengths_set(lab, "A new socket for each client")


def waits_for_a_client(e, fd):
    """Whether event e is the server waiting for a client: in accept on
    the listening fd, or in poll with the listening fd in its set (a
    server that serves every client in one loop, lesson 08)."""
    if e["call"] in labrun.ACCEPTS:
        return True
    return e["call"] == "poll" and any(
        entry.get("fd") == fd and "POLLIN" in str(entry.get("events"))
        for entry in e["args"].get("fds") or [])


def test_accept_waits_for_a_client(lab):
    server = lab.serving()
    fd = lab.events("listen", proc=server)[0]["args"]["fd"]

    def waiting():
        return lab.events((*labrun.ACCEPTS, "poll"), proc=server,
                          event="wait",
                          where=lambda e: waits_for_a_client(e, fd))
    # A server asleep in pause(2), which no signal will end here, never
    # reaches accept: said at once, not after a wait for nothing.
    found = lab.wait_until(lambda: waiting() or peers.paused(server.pid),
                           proc=server, every=0.02)
    lab.expect(waiting() or found is not True,
               "the server to reach accept(2): it sleeps in pause(2) "
               "after listen, as lesson 03's server did, and only a "
               "signal ends that sleep. Replace the pause() with the "
               "accept loop (the TODO says so)", "Your task")
    lab.expect(waiting(), "accept(2) to be waiting for a client "
               "(the trace shows `accept(3) ... waiting`)", "Your task")


def test_accept_returns_a_new_socket_for_the_client(lab):
    server = lab.serving()
    listen = lab.events("listen", proc=server)[0]
    lab.client()
    event = lab.require(labrun.ACCEPTS,
                        "accept(2) to return once the client has "
                        "connected", "Your task", proc=server)
    fd = listen["args"]["fd"]
    lab.expect(event["ret"] >= 0 and event["ret"] != fd and
               event["args"]["fd"] == fd,
               f"accept({fd}) on the listening socket to return a NEW fd "
               f"for the client, not -1 and not {fd}",
               "A new socket for each client")


def test_the_listening_socket_keeps_accepting(lab):
    server = lab.serving()
    fd = lab.events("listen", proc=server)[0]["args"]["fd"]
    lab.client()
    first = lab.require(labrun.ACCEPTS,
                        "accept(2) to return for the first client",
                        "Your task", proc=server, where=lambda e: e["ret"] >= 0)
    lab.client()
    second = lab.require(labrun.ACCEPTS,
                         "a second accept(2) for a second client: "
                         "the server accepts in a loop",
                         "A new socket for each client", proc=server,
                         where=lambda e: e["ts"] > first["ts"])
    closed = [e for e in lab.events("close", proc=server)
              if e["args"]["fd"] == fd]
    lab.expect(second["ret"] >= 0 and second["args"]["fd"] == fd and
               not closed,
               f"both clients accepted on listening fd {fd}, which stays "
               "open", "A new socket for each client")


def test_the_server_still_says_it_listens(lab):
    # What lesson 03 asked still holds: the line, once the server waits.
    server = lab.serving()
    says_it_listens(lab, server)


# fds 3 and 5 open when the server starts: the listening fd is 4, and the
# client's 6, neither the first free fd nor the listening fd + 1.
FDS_3_AND_5_TAKEN = ("/bin/sh", "-c", 'exec "$@" 3</dev/null 5</dev/null',
                     "sh")


def test_the_server_says_which_fd_each_client_got(lab):
    # With fds 3 and 5 taken, the listening fd is 4 and the client's 6: a
    # line that prints a number of its own (a constant, the listening fd,
    # or a sum of it) never names the right one.
    server = lab.serving(under=FDS_3_AND_5_TAKEN)
    lab.client()
    got = lab.require(labrun.ACCEPTS, "accept(2) to return for the client",
                      "Your task", proc=server, where=lambda e: e["ret"] >= 0)
    # Back in accept for the next client: what it printed for this one is
    # out by now, unless it is still in stdio's buffer.
    fd = lab.events("listen", proc=server)[0]["args"]["fd"]
    lab.require((*labrun.ACCEPTS, "poll"),
                "the server to wait in accept(2) again "
                "for the next client", "A new socket for each client",
                proc=server, event="wait", where=lambda e: e["ts"] >
                got["ts"] and waits_for_a_client(e, fd))
    labrun.settle(lab, server)
    line_on_stdout(lab, server,
                   f"server: client connected on fd {got['ret']}",
                   lambda line: "listening on" not in line and
                   re.search(r"\bfd -?\d+", line), "while the server "
                   "waits for the next client", "Your task")
    lines = [line for line in server.stdout.splitlines()
             if "listening on" not in line]
    lab.expect(all(n == got["ret"] for n in first_fds(server, lines)),
               f"the line `server: client connected on fd {got['ret']}`, "
               f"with the fd that accept returned ({got['ret']}: print the "
               "variable that holds it), not the listening fd nor a "
               "number made from it nor a constant; here fds 3 and 5 were "
               "already open when the server started (`build/lessons/"
               f"{lab.lesson}/server 3</dev/null 5</dev/null` does it "
               f"again), so the listening fd is {fd}; it printed "
               f"{cut(server.stdout_bytes, 100)}",
               "A new socket for each client")


def test_each_client_socket_is_closed_when_done(lab):
    server = lab.serving()
    lab.client()
    first = lab.require(labrun.ACCEPTS, "accept(2) to return for the client",
                        "Your task", proc=server, where=lambda e: e["ret"] >= 0)
    # Its close, or the next accept without it.
    closed = lab.wait_for(("close", *labrun.ACCEPTS), proc=server, event=None,
                          where=lambda e: e["ts"] > first["ts"] and (
                              e["call"] in labrun.ACCEPTS or
                              e["args"]["fd"] == first["ret"]))
    lab.expect(closed is not None and closed["call"] == "close",
               f"close({first['ret']}) once the server is done with this "
               "client, before the next accept: every fd accept returns is "
               "closed when its client is done, or each client costs one fd",
               "A new socket for each client")
    lab.expect(closed["ret"] == 0,
               f"close({first['ret']}) = 0: every fd accept returns is closed "
               "when its client is done, or each client costs one fd",
               "A new socket for each client")
    # Back in accept for the next client: every close of this one is made.
    fd = lab.events("listen", proc=server)[0]["args"]["fd"]
    lab.wait_for((*labrun.ACCEPTS, "poll"), proc=server, event="wait",
                 where=lambda e: e["ts"] > closed["ts"] and
                 waits_for_a_client(e, fd))
    closed_once(lab, "A new socket for each client")


def test_the_client_explains_when_no_server_runs(lab):
    client = lab.client()
    event = lab.require("connect", "the client to try connect(2)",
                        "Your task", proc=client)
    explained_without_a_crash(lab, client, event, "Your task")
    lab.expect(says(client.stderr, "start the server") or
               not says(client.stdout, "start the server"),
               "the client to say to start the server first on standard "
               "error, with fprintf(stderr, ...): it said so with printf, "
               "on standard output, where the reply goes; it printed "
               f"{cut(client.stdout_bytes, 120)}", "Your task")
    lab.expect(event["errno"] == "ENOENT" and (client.returncode or 0) > 0 and
               says(client.stderr, "start the server"),
               "connect fails with ENOENT, the client says to start the "
               "server first (explain_connect_failure), and exits with a "
               f"non-zero status; {client.describe()}"
               f"{errno_changed(client, event)}", "Your task")


def test_the_client_explains_a_socket_of_another_type(lab):
    # A datagram socket, alive, at lab.sock: connect fails with
    # EPROTOTYPE, whose strerror says nothing of the path.
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    lab.peers.append(peer)
    peer.bind(str(lab.dir / "lab.sock"))
    client = lab.run("client")
    event = lab.wait_for("connect", proc=client, timeout=0)
    explained_without_a_crash(lab, client, event, "What this stage does")
    lab.expect((client.returncode or 0) > 0 and
               says(client.stderr, "another type"),
               "the client to say that lab.sock is a socket of another type "
               "(here a datagram socket: connect fails with EPROTOTYPE) and "
               f"exit with a non-zero status; it said "
               f"{cut(client.stderr_bytes, 200)} and {client.describe()}"
               f"{errno_changed(client, event)}", "What this stage does")


def test_the_client_refuses_a_path_too_long(lab):
    # 108 bytes first: they fill sun_path and leave no room for the final
    # '\0', which only a check of strlen(path) >= sizeof sun_path refuses.
    for path in ("c" * 103 + ".sock", "c" * 150, FAR_TOO_LONG):
        client = lab.run("client", path)
        if path == FAR_TOO_LONG:
            survived_a_path_far_too_long(lab, client, "What this stage does")
        lab.expect(client.returncode is not None and
                   (client.returncode or 0) > 0 and
                   "sun_path" in client.stderr and
                   not lab.events("connect", proc=client),
                   f"the client given a path of {len(path)} bytes to say "
                   "that it does not fit in sun_path and exit with a "
                   "non-zero status, without connecting: sun_path holds "
                   "108 bytes, 107 of path and the final '\\0' (the "
                   "length check is strlen(path) >= sizeof sun_path); it "
                   f"said {cut(client.stderr_bytes, 120)} and "
                   f"{client.describe()}", "What this stage does")


def test_the_client_refuses_an_empty_path(lab):
    client = lab.run("client", "")
    lab.expect(client.returncode is not None and client.returncode > 0 and
               says(client.stderr, "empty") and not lab.events("connect"),
               "`client \"\"` to say that the socket path is empty and exit "
               "with a non-zero status, without connecting: an empty "
               "sun_path names no file but a Linux abstract name; it "
               f"{client.describe()}", "What this stage does")


def test_the_client_takes_no_option_for_a_path(lab):
    if code_lesson(lab) != LESSON:  # later clients take a message too
        return
    refuses_an_option(lab, "client", "connect", "What this stage does")


def test_a_failed_accept_is_reported_with_a_non_zero_status(lab):
    # Every accept fails with EMFILE, as when the server has run out of
    # descriptors: LAB_FAULTS makes it (trace/TRACE.md).
    accept_failure_reported(
        lab, sections=("A new socket for each client", "Your task"))


def test_a_failed_call_of_an_earlier_stage_is_reported(lab):
    # What lessons 01 and 03 asked still holds: LAB_FAULTS makes socket
    # fail, in both programs, and listen.
    one_after_another(
        lab, (failed_socket, "client", "Your task",
              ", as the server does (lesson 01)"),
        (failed_socket, "server", "Your task", ", as lesson 01 asks"),
        (listen_failure_reported, "Your task", ", as lesson 03 asks"))
