"""Lesson 01: socket() creates an endpoint and returns a file descriptor."""
import re

from conftest import (FD_3_TAKEN, STREAM_TYPES, code_lesson,
                      exited_with_success, failed_socket, fd_3_taken,
                      first_fds, line_on_stdout)
from tracetext import call_text, cut

LESSON = "01-socket"


def made(lab):
    server = lab.server()
    return server, lab.require("socket", "the server to call socket(2)",
                               "Your task", proc=server)


def test_socket_creates_a_unix_domain_stream_socket(lab):
    _, event = made(lab)
    args = event["args"]
    lab.expect(args.get("domain") == "AF_UNIX" and
               args.get("type") in STREAM_TYPES and
               args.get("protocol") == 0 and len(args) == 3,
               "socket(AF_UNIX, SOCK_STREAM, 0): the Unix domain, a byte "
               "stream, the default protocol (SOCK_STREAM | SOCK_CLOEXEC "
               "is the same socket; no other flag); it called "
               f"{call_text(event)}", "What this stage does")


def test_socket_returns_a_file_descriptor(lab):
    _, event = made(lab)
    lab.expect(event["ret"] >= 0,
               "socket() to return a file descriptor (a number >= 0)",
               "What to look for in the trace")


def test_the_descriptor_is_the_lowest_free_number(lab):
    _, event = made(lab)
    lab.expect(event["ret"] == 3,
               "fd 3: descriptors 0, 1 and 2 are standard input, output and "
               "error, and the kernel hands out the lowest free number",
               "What to look for in the trace")


def test_the_server_prints_the_descriptor_socket_returned(lab):
    server = lab.start("server", under=FD_3_TAKEN)
    event = lab.require("socket", "the server to call socket(2)",
                        "Your task", proc=server)
    server.asleep()  # it has exited, or (a later lesson) waits for clients
    fd = event["ret"]
    if code_lesson(lab) == LESSON:  # later lessons print other lines
        line_on_stdout(lab, server, f"server: created socket fd {fd}",
                       lambda line: re.search(r"\bfd -?\d+", line),
                       "once socket has returned", "Your task")
    # Later lessons print other lines: the fd a line names first must be
    # this one.
    lab.expect(all(n == fd for n in first_fds(server)),
               f"the line `server: created socket fd {fd}`, the fd that "
               "socket() returned (print the variable that holds it, not "
               f"a constant), printed after the call; here "
               f"{fd_3_taken(lab, 'server')}, so socket returned {fd}; it "
               f"printed {cut(server.stdout_bytes, 80)}", "Your task")
    if code_lesson(lab) == LESSON:  # later servers go on running
        exited_with_success(lab, server, "it has made its socket and said "
                            "so", "Your task")


def test_a_failed_socket_is_reported_with_a_non_zero_status(lab):
    # socket() fails with EMFILE, as it does for a process that has run out
    # of descriptors: LAB_FAULTS makes it fail every time (trace/TRACE.md).
    failed_socket(lab, "server")
