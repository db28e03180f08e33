"""Lesson 03: listen() makes the bound socket passive, ready for clients."""
import os
import socket

LESSON = "03-listen"


def listening(lab):
    server = lab.server()
    bound = lab.require("bind", "the server to bind its socket (lesson 02)",
                        "What this stage does", proc=server, ret=0)
    event = lab.require("listen", "the server to call listen(2) after bind",
                        "Your task", proc=server)
    return server, bound, event


def connect_to(lab, name="lab.sock"):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(lab.dir / name))
        return client, None
    except OSError as e:
        client.close()
        return None, e


def test_listen_makes_the_bound_socket_passive(lab):
    _, bound, event = listening(lab)
    fd = bound["args"]["fd"]
    lab.expect(event["ret"] == 0 and event["args"]["fd"] == fd and
               event["args"]["backlog"] > 0,
               f"listen({fd}, BACKLOG) = 0 on the bound socket, with a "
               "backlog above 0", "What this stage does")


def test_the_server_says_it_listens(lab):
    server, _, _ = listening(lab)
    server.asleep()  # it prints, then waits: for a signal, or a client
    lab.expect("listening on lab.sock" in server.stdout,
               "the line \"server: listening on lab.sock ...\" on standard "
               "output while the server waits: without fflush(stdout) it "
               "stays in the buffer", "Your task")


def test_the_kernel_lists_the_socket_as_listening(lab):
    server, bound, _ = listening(lab)
    # fd 3 of the server is "socket:[INODE]"; /proc/net/unix has its flags.
    link = os.readlink(f"/proc/{server.pid}/fd/{bound['args']['fd']}")
    inode = link.removeprefix("socket:[").removesuffix("]")
    flags = None
    with open("/proc/net/unix") as table:
        for row in table:
            fields = row.split()
            if len(fields) >= 7 and fields[6] == inode:
                flags = int(fields[3], 16)
    lab.expect(flags is not None and flags & 0x10000,
               "the kernel's table of Unix sockets (/proc/net/unix, or "
               "`ss -xl`) to show the socket as listening",
               "What to look for in the trace")


def test_a_client_can_connect_once_the_server_listens(lab):
    listening(lab)
    client, error = connect_to(lab)
    lab.expect(client is not None,
               f"a client's connect to lab.sock to succeed after listen; it "
               f"failed: {error}", "What this stage does")
    client.close()


def test_the_backlog_holds_several_clients(lab):
    listening(lab)
    clients = [connect_to(lab) for _ in range(2)]
    ok = [c for c, _ in clients if c is not None]
    errors = [str(e) for _, e in clients if e is not None]
    for c in ok:
        c.close()
    lab.expect(len(ok) == 2,
               f"two clients to connect one after the other; errors: "
               f"{errors}", "What this stage does")
