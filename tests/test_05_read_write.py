"""Lesson 05: read() and write() move bytes over the connection; read()
returns 0 at end of file."""
import random
import socket
import string

LESSON = "05-read-write"


def test_the_reply_is_the_message_upper_cased(lab):
    lab.serving()
    client = lab.client("lab.sock", "hello, socket")
    lab.expect(client.returncode == 0 and
               client.stdout == "HELLO, SOCKET\n",
               "`client lab.sock \"hello, socket\"` prints HELLO, SOCKET and "
               f"exits with 0; it printed {client.stdout!r}", "Your task")


def test_the_bytes_cross_exactly(lab):
    server = lab.serving()
    client = lab.client("lab.sock", "ping")
    sent = lab.require("write", "the client to write(2) its message",
                       "Your task", proc=client, ret=4)
    got = lab.require("read", "the server to read(2) the client's bytes",
                      "Your task", proc=server,
                      where=lambda e: e["ret"] > 0)
    lab.expect(sent.get("data") == "ping" and got.get("data") == "ping",
               "the 4 bytes the client wrote (\"ping\") are the bytes the "
               "server read", "What to look for in the trace")


def test_a_large_message_arrives_whole(lab):
    server = lab.serving()
    message = "".join(random.choices(string.ascii_lowercase + " \n",
                                     k=50_000)).encode()
    client = lab.client(stdin=message)
    reads = lab.events("read", proc=server)
    lab.expect(client.returncode == 0 and
               client.stdout_bytes == message.upper(),
               f"all {len(message)} bytes sent from standard input to come "
               f"back upper-cased and printed by the client; it printed "
               f"{len(client.stdout_bytes)} (it prints the reply only once "
               f"all of it has arrived)",
               "Short reads and writes")
    lab.expect(len([e for e in reads if e["ret"] > 0]) > 1,
               "the server to need several reads for 50000 bytes: one "
               "read(2) returns at most what its buffer holds",
               "Short reads and writes")


def test_read_returns_0_when_the_client_is_done(lab):
    server = lab.serving()
    lab.client("lab.sock", "bye")
    lab.require("read", "the server's read(2) to return 0 (end of file) "
                "once the client has gone", "What to look for in the trace",
                proc=server, ret=0)


def test_the_server_survives_a_client_that_left(lab):
    server = lab.serving()
    # Keep the server busy with a first client, so that the second one can
    # send and leave before the server even accepts it.
    first = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    first.connect(str(lab.dir / "lab.sock"))
    lab.require("read", "the server to wait in read(2) for its client",
                "Your task", proc=server, event="wait")
    leaver = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leaver.connect(str(lab.dir / "lab.sock"))
    leaver.sendall(b"nobody will read this reply")
    leaver.close()
    first.close()
    failed = lab.require("write", "the reply to the client that left to fail "
                         "with EPIPE", "SIGPIPE", proc=server, ret=-1)
    client = lab.client("lab.sock", "still there?")
    lab.expect(failed["errno"] == "EPIPE" and
               client.stdout == "STILL THERE?\n",
               "write fails with EPIPE instead of SIGPIPE killing the "
               "server, and the server goes on to serve the next client",
               "SIGPIPE")
