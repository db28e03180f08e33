"""Lesson 01: socket() creates an endpoint and returns a file descriptor."""
LESSON = "01-socket"


def test_socket_creates_a_unix_domain_stream_socket(lab):
    server = lab.server()
    event = lab.require("socket", "the server to call socket(2)",
                        "Your task", proc=server)
    lab.expect(event["args"] == {"domain": "AF_UNIX", "type": "SOCK_STREAM",
                                 "protocol": 0},
               "socket(AF_UNIX, SOCK_STREAM, 0): the Unix domain, a byte "
               "stream, the default protocol", "What this stage does")


def test_socket_returns_a_file_descriptor(lab):
    server = lab.server()
    event = lab.require("socket", "the server to call socket(2)",
                        "Your task", proc=server)
    lab.expect(event["ret"] >= 0,
               "socket() to return a file descriptor (a number >= 0)",
               "What to look for in the trace")


def test_the_descriptor_is_the_lowest_free_number(lab):
    server = lab.server()
    event = lab.require("socket", "the server to call socket(2)",
                        "Your task", proc=server)
    lab.expect(event["ret"] == 3,
               "fd 3: descriptors 0, 1 and 2 are standard input, output and "
               "error, and the kernel hands out the lowest free number",
               "What to look for in the trace")
