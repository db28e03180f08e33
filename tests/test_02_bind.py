"""Lesson 02: bind() names the socket, which creates the socket file."""
import re
import socket

from conftest import (FAR_TOO_LONG, FD_3_TAKEN, asked_path,
                      bind_failure_reported,
                      code_lesson, errno_changed, exited_with_success,
                      explained_without_a_crash,
                      failed_socket, fd_3_taken,
                      first_fds, line_names_the_default_path,
                      line_names_the_path, line_on_stdout, refuses_an_option,
                      says, says_to_remove, socket_file_kept,
                      stopped_by_itself, survived_a_path_far_too_long,
                      whole_name_bound)
from tracetext import call_text, cut

LESSON = "02-bind"


def bound(lab, *args):
    server = lab.server(*args)
    made = lab.require("socket", "the server to create its socket first",
                       "Your task", proc=server, ret=3)
    event = lab.require("bind", "the server to call bind(2) on its socket",
                        "Your task", proc=server)
    whole_name_bound(lab, server, asked_path(args))
    return server, made, event


def test_bind_names_the_socket_with_the_path(lab):
    _, made, event = bound(lab)
    addr = event["args"].get("addr") or {}
    lab.expect("abstract" not in addr,
               f"bind to the path lab.sock, which creates a socket file; it "
               f"called {call_text(event)}: the @ marks an abstract name, "
               "which creates no socket file, because sun_path began with "
               "a '\\0' byte: copy the path to the start of sun_path",
               "What this stage does")
    lab.expect(event["ret"] == 0 and event["args"]["fd"] == made["ret"] and
               addr == {"family": "AF_UNIX", "path": "lab.sock"},
               f"bind({made['ret']}, {{AF_UNIX, \"lab.sock\"}}, sizeof addr) "
               "= 0: the socket from socket(2), named lab.sock; it called "
               f"{call_text(event)}", "What this stage does")


def test_bind_creates_the_socket_file(lab):
    server, _, _ = bound(lab)
    socket_file_kept(lab, server, "lab.sock", "What to look for in the trace")
    lab.expect(lab.is_socket("lab.sock"),
               "after bind, a file lab.sock of type socket (ls -l: s)",
               "What to look for in the trace")


def test_the_server_says_which_fd_it_bound(lab):
    # With fd 3 taken, socket returns 4: a line that prints a number of
    # its own never names it.
    server = lab.start("server", under=FD_3_TAKEN)
    event = lab.require("bind", "the server to call bind(2) on its socket",
                        "Your task", proc=server)
    stopped_by_itself(lab, server)
    fd = event["args"]["fd"]
    if code_lesson(lab) == LESSON:  # later lessons print other lines
        line_on_stdout(lab, server,
                       f"server: bound fd {fd} to lab.sock (ls -l shows it)",
                       lambda line: re.search(r"\bfd -?\d+", line),
                       "once bind has returned 0", "Your task")
    lab.expect(all(n == fd for n in first_fds(server)),
               f"the line `server: bound fd {fd} to lab.sock (ls -l shows "
               f"it)`, with the fd that was bound ({fd}: print the variable "
               f"that holds it, not a constant); here "
               f"{fd_3_taken(lab, 'server')}, so socket returned {fd}; it "
               f"printed {cut(server.stdout_bytes, 80)}", "Your task")
    if code_lesson(lab) == LESSON:
        line_names_the_default_path(
            lab, server, "server: bound fd N to lab.sock (ls -l shows it)",
            lambda line: "bound" in line, "Your task")
        exited_with_success(lab, server, "bind has named its socket and it "
                            "has said so", "Your task")


def not_cut_short(lab, event, name, asked):
    """Fails the check, naming the address length, if bind named the
    socket with only the first bytes of name: the length passed to bind
    was too small for the path (asked: what the check ran, in words)."""
    path = (event["args"].get("addr") or {}).get("path") or ""
    cut_short = path != name and name.startswith(path)
    lab.expect(not cut_short,
               f"{asked} binds that whole path, {len(name)} bytes; it "
               f"called {call_text(event)}: the path is cut short, to "
               f"{len(path)} bytes, because the length passed to bind, "
               f"{event['args'].get('addrlen')}, is too small: pass sizeof "
               "addr, the size of the whole struct sockaddr_un (110 bytes: "
               "sun_family, then the 108 of sun_path)",
               "What this stage does")


def test_the_path_comes_from_the_command_line(lab):
    # Longer than the 14 bytes that sizeof(struct sockaddr) would keep.
    name = "a-socket-with-a-longer-name.sock"
    server, _, event = bound(lab, name)
    not_cut_short(lab, event, name, f"`server {name}`")
    socket_file_kept(lab, server, name, "What this stage does")
    path = (event["args"].get("addr") or {}).get("path") or ""
    lab.expect(path == name and lab.is_socket(name),
               f"`server {name}` binds to the path given on its command "
               f"line, {name}, and creates it; it called {call_text(event)}",
               "What this stage does")
    if code_lesson(lab) == LESSON:  # later lessons print other lines
        stopped_by_itself(lab, server)
        line_names_the_path(lab, server,
                            "server: bound fd N to PATH (ls -l shows it)",
                            lambda line: "bound" in line, name, "Your task")


def test_a_path_too_long_for_sun_path_is_refused_clearly(lab):
    long_path = "d" * 120 + ".sock"
    server = lab.run("server", long_path)
    lab.expect(server.returncode is not None and server.returncode > 0,
               "the server to exit by itself with a non-zero status",
               "Bad paths")
    lab.expect("sun_path" in server.stderr,
               "a message that says the path does not fit in sun_path",
               "Bad paths")
    lab.expect(not lab.events("bind"),
               "no bind at all: a path that does not fit must not be cut "
               "short silently", "Bad paths")
    far = lab.run("server", FAR_TOO_LONG)
    survived_a_path_far_too_long(lab, far, "Bad paths")
    lab.expect((far.returncode or 0) > 0 and "sun_path" in far.stderr and
               not lab.events("bind", proc=far),
               f"the server given a path of {len(FAR_TOO_LONG)} bytes to "
               "say that it does not fit in sun_path and exit with a "
               f"non-zero status, without bind; {far.describe()}",
               "Bad paths")


def test_an_empty_path_is_refused_clearly(lab):
    server = lab.run("server", "")
    lab.expect(server.returncode is not None and server.returncode > 0 and
               says(server.stderr, "empty"),
               "`server \"\"` to say that the socket path is empty and exit "
               f"with a non-zero status; it {server.describe()}", "Bad paths")
    lab.expect(not lab.events("bind"),
               "no bind at all for an empty path: an empty sun_path names "
               "no file but a Linux abstract name made of zero bytes, which "
               "nobody would find", "Bad paths")


def test_a_path_of_108_bytes_leaves_no_room_for_the_final_nul(lab):
    # sun_path holds 108 bytes: 107 of path and the '\0' that ends it.
    longest = "e" * 102 + ".sock"
    server = lab.start("server", longest)
    event = lab.require("bind", "a path of 107 bytes, the longest sun_path "
                        "holds with its final '\\0', to be bound",
                        "What this stage does", proc=server)
    # Every byte of it counts: an address length a little too small
    # (sizeof addr.sun_path, 108) cuts only such a long path.
    not_cut_short(lab, event, longest, "a path of 107 bytes")
    socket_file_kept(lab, server, longest, "What this stage does")
    lab.expect(event["ret"] == 0 and lab.is_socket(longest),
               "a path of 107 bytes, the longest sun_path holds with its "
               f"final '\\0', to be bound, which creates that file; it "
               f"called {call_text(event)}", "What this stage does")
    lab.stop(server)
    too_long = "f" * 103 + ".sock"
    refused = lab.run("server", too_long)
    lab.expect(not lab.events("bind", proc=refused) and
               refused.returncode is not None and refused.returncode > 0 and
               "sun_path" in refused.stderr,
               "a path of 108 bytes to be refused before bind, saying it "
               "does not fit in sun_path: 108 bytes of path leave no room "
               "for the final '\\0' (the length check is strlen(path) >= "
               "sizeof sun_path)", "Bad paths")


def test_an_option_is_not_taken_for_a_path(lab):
    refuses_an_option(lab, "server", "bind", "Bad paths")


def stopped_at_the_failed_bind(lab, server, event):
    """Fails the check, naming the test of bind's result, when the server
    went on after its bind failed: it printed that it is bound (or
    listening)."""
    if not event or event["ret"] != -1:
        return
    went_on = [line for line in server.stdout.splitlines()
               if "bound" in line or "listening" in line]
    lab.expect(not went_on,
               "the server to check bind's result for -1 (if (bind(...) == "
               "-1)) and then explain the failure and exit with a non-zero "
               f"status: it called {call_text(event)} and went on as if "
               f"bound: it printed {cut(went_on[0].encode(), 80)}; "
               f"{server.describe()}" if went_on else "", "Your task")


def test_a_missing_directory_is_reported(lab):
    server = lab.run("server", "no-such-dir/lab.sock")
    event = lab.require("bind", "bind(2) to fail with ENOENT", "Bad paths",
                        proc=server)
    stopped_at_the_failed_bind(lab, server, event)
    explained_without_a_crash(lab, server, event, "Bad paths")
    lab.expect(event["errno"] == "ENOENT" and (server.returncode or 0) > 0 and
               says(server.stderr, "directory"),
               "bind fails with ENOENT, the server says the directory does "
               "not exist, and exits with a non-zero status"
               f"{errno_changed(server, event)}", "Bad paths")


def test_a_file_in_the_way_is_left_untouched(lab):
    precious = lab.dir / "lab.sock"
    precious.write_text("not a socket\n")
    server = lab.run("server")
    event = lab.require("bind", "bind(2) to fail with EADDRINUSE",
                        "Bad paths", proc=server)
    stopped_at_the_failed_bind(lab, server, event)
    explained_without_a_crash(lab, server, event, "Bad paths")
    lab.expect(event["errno"] == "EADDRINUSE" and (server.returncode or 0) > 0 and
               says(server.stderr, "not a socket"),
               "bind fails with EADDRINUSE, the server says lab.sock is not "
               "a socket, and exits with a non-zero status"
               f"{errno_changed(server, event)}", "Bad paths")
    lab.expect(lab.read_text("lab.sock") == "not a socket\n",
               "the regular file lab.sock unchanged: never delete a file "
               "that is not your socket", "Bad paths")


def test_a_leftover_socket_file_is_reported(lab):
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(lab.dir / "lab.sock"))
    leftover.close()  # closing leaves the file behind, as a crash would
    server = lab.run("server")
    event = lab.require("bind", "bind(2) to fail with EADDRINUSE",
                        "Bad paths", proc=server)
    explained_without_a_crash(lab, server, event, "Bad paths")
    removed = lab.events("unlink", proc=server,
                         where=lambda e: e["ts"] < event["ts"])
    lab.expect(not removed,
               "the server to leave the socket file lab.sock alone and say "
               "how to remove it (rm lab.sock): it called "
               f"{call_text(removed[0]) if removed else 'unlink'} before "
               "bind, which removes any socket file at the path, a running "
               "server's too, whose clients then find nothing; the kernel "
               "cannot tell a leftover file from a live one, and a server "
               "removes only the file it created itself (lesson 06)",
               "Bad paths")
    lab.expect(says_to_remove(server.stderr, "lab.sock") or
               not says_to_remove(server.stdout, "lab.sock"),
               "the server to say how to remove the leftover socket file "
               "(rm lab.sock) on standard error, with fprintf(stderr, ...): "
               "it said so with printf, on standard output, where the "
               "server's normal lines go; "
               f"it printed {cut(server.stdout_bytes, 120)}", "Bad paths")
    lab.expect(event["errno"] == "EADDRINUSE" and (server.returncode or 0) > 0 and
               says_to_remove(server.stderr, "lab.sock"),
               "bind fails with EADDRINUSE and the server says how to remove "
               "the leftover socket file (rm lab.sock)"
               f"{errno_changed(server, event)}", "Bad paths")


def test_a_failed_bind_is_never_reported_as_bound(lab):
    # bind() fails with EACCES, as in a directory the server may not write
    # to: LAB_FAULTS makes it fail (trace/TRACE.md), on the same path.
    bind_failure_reported(lab)


def test_a_failed_call_of_an_earlier_stage_is_reported(lab):
    # What lesson 01 asked still holds: LAB_FAULTS makes socket fail.
    failed_socket(lab, "server", taught=", as lesson 01 asks")
