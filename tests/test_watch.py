"""make watch: the lesson's check now, and again after every change, until
Ctrl-C."""
import os
import queue
import signal
import subprocess
import threading
import time

import labrun
import test_01_socket
from conftest import as_at_a_terminal


class Output:
    """The lines a process prints, waited for one pattern at a time."""

    def __init__(self, stream):
        self.lines, self.seen = queue.Queue(), []
        threading.Thread(target=self._read, args=(stream,),
                         daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def until(self, text, timeout=20 * labrun.SCALE):
        """Everything printed up to the first line containing text."""
        deadline, got = time.monotonic() + timeout, []
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, "ended before printing " + text + \
                ":\n" + "".join(got)
            got.append(line)
            if text in line:
                return "".join(got)


def test_watch_checks_again_after_each_change_until_interrupted(lab_copy):
    # An editor's lock beside the source (Emacs: a link to nowhere) is no
    # source to watch.
    (lab_copy.lesson("01-socket") / ".#server.c").symlink_to(
        "learner@host.1234:1700000000")
    argv, env = lab_copy.make_command("watch", "N=01")
    watch = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             start_new_session=True,
                             preexec_fn=as_at_a_terminal)
    try:
        out = Output(watch.stdout)
        first = out.until("waiting for a change")
        assert "first check: make check N=01" in first
        assert "01-socket            not started" in first
        lab_copy.solve("01-socket")
        second = out.until("waiting for a change")
        assert "server.c changed: make check N=01" in second
        checks = sum(name.startswith("test_") for name in
                     vars(test_01_socket))
        assert f"01-socket            done ({checks} checks pass)" in second
        os.killpg(watch.pid, signal.SIGINT)  # Ctrl-C
        out.until("watch: stopped.")
        assert watch.wait(timeout=10 * labrun.SCALE) is not None
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGKILL)
        watch.wait()
        watch.stdout.close()


NOISE = ("Traceback", "KeyboardInterrupt", "make: ***", "make[1]: ***",
         "Interrupt")


def test_ctrl_c_in_the_middle_of_a_check_stops_watch_quietly(lab_copy):
    """Lesson 03's starter never listens: its first check is still
    waiting for the listen when Ctrl-C comes."""
    argv, env = lab_copy.make_command("watch", "N=03")
    watch = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             start_new_session=True,
                             preexec_fn=as_at_a_terminal)
    try:
        out = Output(watch.stdout)
        out.until("first check: make check N=03")
        os.killpg(watch.pid, signal.SIGINT)  # Ctrl-C, to the terminal's group
        rest = out.until("watch: stopped.")
        assert watch.wait(timeout=20 * labrun.SCALE) in (0, -signal.SIGINT)
        rest += "".join(iter(lambda: out.lines.get(timeout=10) or "", ""))
        assert not [word for word in NOISE if word in rest], rest
        assert rest.rstrip().endswith("watch: stopped.")
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGKILL)
        watch.wait()
        watch.stdout.close()
