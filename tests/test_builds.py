"""Every lab program builds warning-free under gcc and clang, with glibc's
headers and with musl's, in the lab and outside it; a program asks for its
own features and is traced whatever it includes; the final programs run
clean under AddressSanitizer/UBSan and valgrind."""
import json
import os
import random
import shlex
import shutil
import string
import subprocess

import pytest

import labrun
from conftest import LessonLab

ROOT = labrun.ROOT
# Each test may run in any process of a parallel run (conftest.spread):
# the builds they share are made under labrun.build_lock.
SPREAD = True
SOLVED = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]-*"))
FINAL = SOLVED[-1]
# The programs run under the sanitizers and valgrind: part 1's final
# server, and each of part 2's, which fork, poll, and catch signals.
CHECKED = [lesson for lesson in SOLVED if lesson >= "06"]
WARNINGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
# The lab's flags (the Makefile's LAB_CFLAGS and LAB_CPPFLAGS): the wrapper
# headers of trace/include come before the system's.
FLAGS = [*WARNINGS, "-Itrace/include"]
COMPILERS = ["gcc", "clang", "musl-gcc"]


def compiler_or_skip(compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed"
                    + (" (apt-get install musl-tools)"
                       if compiler == "musl-gcc" else ""))


def lab_sources():
    found = sorted(ROOT.glob("lessons/*/*.c")) + \
        sorted(ROOT.glob("lessons/*/errors/*.c")) + \
        sorted(ROOT.glob("solutions/*/*.c")) + [ROOT / "trace" / "silent.c"]
    return [str(p.relative_to(ROOT)) for p in found]


def syntax_check(compiler, flags, sources):
    """compiler -fsyntax-only on every source.  clang's driver starts its
    front end (clang -cc1, which loads all of LLVM) once per file; the
    front end itself takes a list of inputs, each parsed apart: with the
    command the driver gives for the first file (clang -###), the whole
    list is checked by one process, with the same options."""
    command = [compiler, *flags, "-fsyntax-only"]
    if compiler == "clang":
        jobs = subprocess.run([*command, "-###", sources[0]], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        lines = [shlex.split(line) for line in jobs.stderr.splitlines()
                 if line.startswith(' "')]  # a command, quoted
        if len(lines) == 1 and "-cc1" in lines[0] and \
                lines[0][-1] == sources[0]:
            return subprocess.run([*lines[0][:-1], *sources], cwd=ROOT,
                                  capture_output=True, text=True,
                                  timeout=120)
    return subprocess.run([*command, *sources], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("compiler", COMPILERS)
def test_every_program_compiles_warning_free(compiler):
    compiler_or_skip(compiler)
    done = syntax_check(compiler, FLAGS, lab_sources())
    assert done.returncode == 0, done.stderr
    trace = subprocess.run(
        [compiler, *WARNINGS, "-Itrace", "-Itrace/include", "-fsyntax-only",
         "trace/trace.c"], cwd=ROOT, capture_output=True, text=True,
        timeout=60)
    assert trace.returncode == 0, trace.stderr


# Outside the lab, with each C library's headers: glibc's (gcc) and musl's
# (musl-gcc).  clang reads glibc's as gcc does, and its warnings are seen
# in the lab (test_every_program_compiles_warning_free).
@pytest.mark.parametrize("compiler", ["gcc", "musl-gcc"])
def test_every_program_builds_outside_the_lab_too(compiler):
    """Each program states its own feature macros: cc -std=c11 server.c
    builds it without the lab's flags (and without the trace)."""
    compiler_or_skip(compiler)
    done = subprocess.run(
        [compiler, *WARNINGS, "-fsyntax-only", *lab_sources()], cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


GNU_PROGRAM = """\
{feature}
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    int got = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return got == -1 && close(fd) == 0 ? 0 : 1;
}}
"""


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_a_program_asks_for_its_own_features(compiler, tmp_path):
    """_GNU_SOURCE at the top of a lab program has its effect (accept4 and
    its flags compile); without it, accept4 is not declared by glibc, so the
    program fails to compile in the lab as it would outside."""
    compiler_or_skip(compiler)
    source = tmp_path / "gnu.c"
    for feature, builds in (("#define _GNU_SOURCE", True),
                            ("#define _POSIX_C_SOURCE 200809L", False)):
        source.write_text(GNU_PROGRAM.format(feature=feature))
        done = subprocess.run(
            [compiler, *WARNINGS, f"-I{ROOT}/trace/include", "-fsyntax-only",
             str(source)], capture_output=True, text=True, timeout=60)
        assert (done.returncode == 0) == builds, (feature, done.stderr)
        if not builds:
            assert "accept4" in done.stderr


ORDER_PROGRAM = """\
#define _POSIX_C_SOURCE 200809L
{includes}

int main(void)
{{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd >= 0 && close(fd) == 0 && unlink("nothing-here") == -1 ? 0 : 1;
}}
"""


@pytest.mark.parametrize("order", [
    ["unistd.h", "sys/un.h", "sys/socket.h"],
    ["sys/types.h", "sys/socket.h", "unistd.h"],
    ["stdio.h", "sys/wait.h", "unistd.h", "sys/socket.h"]],
    ids=lambda order: ",".join(order))
def test_a_call_is_traced_whatever_the_program_includes_first(order,
                                                              tmp_path):
    built = labrun.BUILD / "trace" / "trace.o"
    if not built.exists():
        pytest.skip("the trace library is not built (make)")
    source, program = tmp_path / "order.c", tmp_path / "order"
    source.write_text(ORDER_PROGRAM.format(includes="\n".join(
        f"#include <{h}>" for h in order)))
    done = subprocess.run(
        ["cc", *FLAGS, str(source), str(built), "-o", str(program)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    trace = tmp_path / "trace.jsonl"
    ran = subprocess.run([str(program)], cwd=tmp_path, capture_output=True,
                         timeout=10, env=dict(os.environ, LAB_TRACE="0",
                                              LAB_TRACE_FILE=str(trace)))
    assert ran.returncode == 0, ran.stderr
    calls = [json.loads(line)["call"] for line in
             trace.read_text().splitlines()]
    assert calls == ["socket", "close", "unlink"]


def without_opening_comment(source):
    """A source's text after its opening comment (the lesson it belongs
    to): what the compiler makes of it."""
    text = source.read_text()
    if text.startswith("/*") and "*/" in text:
        return text.split("*/", 1)[1]
    return text


def checked_before(lesson):
    """The programs of a checked lesson whose source is, but for its
    opening comment, the one of the checked lesson before it: they ran
    under the sanitizers and valgrind there."""
    at = CHECKED.index(lesson)
    if at == 0:
        return set()
    before = ROOT / "solutions" / CHECKED[at - 1]
    return {p.stem for p in (ROOT / "solutions" / lesson).glob("*.c")
            if (before / p.name).is_file() and
            without_opening_comment(before / p.name) ==
            without_opening_comment(p)}


def exercise(lab, under=(), env=None):
    """The final server with three clients: short, large, and from stdin;
    then the lesson's other programs.  A lesson's server and client that
    are the lesson before's (checked_before) are not run again; a client
    that is the lesson before's only serves, outside valgrind."""
    again = checked_before(lab.code_dir.name)
    if {"server", "client"} <= again:
        ran = exercise_datagrams(lab, under, env)
        assert ran, f"{lab.code_dir.name}: no program of its own to run"
        return ran
    client_under = () if "client" in again else under
    server = lab.start("server", "-n", "3", under=under, env=env)
    assert lab.wait_for("listen", proc=server, ret=0,
                        timeout=labrun.WAIT * 10), lab.events(event=None)
    big = "".join(random.choices(string.ascii_letters, k=70_000)).encode()
    replies = [
        lab.run("client", "lab.sock", "hello", under=client_under,
                env=env, timeout=labrun.WAIT * 10),
        lab.run("client", "lab.sock", stdin=big[:60_000],
                under=client_under, env=env, timeout=labrun.WAIT * 10),
        lab.run("client", "lab.sock", stdin=big, under=client_under,
                env=env, timeout=labrun.WAIT * 10),
    ]
    assert replies[0].stdout == "HELLO\n"
    assert replies[1].stdout_bytes == big[:60_000].upper()
    if lab.code_dir.name >= "09":  # a full-duplex client: any size
        assert replies[2].returncode == 0 and \
            replies[2].stdout_bytes == big.upper(), replies[2].stderr
        assert server.wait(labrun.WAIT * 10) == 0, server.describe()
    else:  # too long: refused cleanly, before it connects
        assert replies[2].returncode == 1 and \
            "longer than" in replies[2].stderr
        # The refused client never connected: stop the server.
        lab.stop(server, timeout=labrun.WAIT * 10)
    return [server, *replies, *exercise_messages(lab, under, env),
            *exercise_datagrams(lab, under, env)]


def exercise_messages(lab, under=(), env=None):
    """From lesson 09: the server and the client with -m, messages cut
    into reads of 3 bytes (LAB_FAULTS), and a line too long for one."""
    if lab.code_dir.name < "09":
        return []
    wait = labrun.WAIT * 10
    faults = {**(env or {}), "LAB_FAULTS": "read<=3"}
    server = lab.start("server", "-m", "-n", "2", under=under, env=faults)
    assert lab.wait_for("listen", proc=server, ret=0, timeout=wait), \
        lab.events(event=None)
    lines = [b"one", b"", b"x" * 4096, b"last, without a newline"]
    clients = [
        lab.run("client", "-m", "lab.sock", stdin=b"\n".join(lines),
                under=under, env=faults, timeout=wait),
        lab.run("client", "-m", stdin=b"y" * 5000 + b"\n", under=under,
                env=env, timeout=wait),  # too long: refused cleanly
    ]
    assert clients[0].returncode == 0 and clients[0].stdout_bytes == \
        b"".join(m.upper() + b"\n" for m in lines), clients[0].stderr
    assert clients[1].returncode == 1 and "too long" in clients[1].stderr
    assert server.wait(wait) == 0, server.describe()
    return [server, *clients]


DATAGRAM_PROGRAMS = ("collector", "logger")


def exercise_datagrams(lab, under=(), env=None):
    """The final collector with three loggers: arguments; standard input
    with an empty line and a line the collector must cut; replies, after a
    connect."""
    if not (lab.code_dir / "collector").exists():
        return []  # a lesson before the datagrams
    wait = labrun.WAIT * 10
    collector = lab.start("collector", "-n", "5", under=under, env=env)
    assert lab.wait_for("bind", proc=collector, ret=0, timeout=wait), \
        lab.events(event=None)
    long_line = b"x" * 3000
    loggers = [
        lab.run("logger", "log.sock", "one", "two", under=under, env=env,
                timeout=wait),
        lab.run("logger", stdin=b"\n" + long_line + b"\n", under=under,
                env=env, timeout=wait),
        lab.run("logger", "-c", "-r", "log.sock", "with a reply",
                under=under, env=env, timeout=wait),
    ]
    assert collector.wait(wait) == 0, collector.describe()
    records = collector.stdout.splitlines()[1:-1]
    assert records[:4] == ["(unbound): one", "(unbound): two", "(unbound): ",
                           "(unbound): " + "x" * 2048 + " [cut: the datagram "
                           "was longer than 2048 bytes]"], records
    assert records[4].endswith(": with a reply"), records
    assert loggers[2].stdout == "logger: reply from log.sock: ok 12\n"
    assert [p.returncode for p in loggers] == [0, 0, 0]
    return [collector, *loggers]


def test_the_programs_and_the_trace_work_with_musl():
    """Built by musl-gcc (another C library) into a build directory of its
    own, the final programs serve, reply and exit cleanly, and the trace
    says glibc's words for an errno (musl's own differ)."""
    compiler_or_skip("musl-gcc")
    build = labrun.BUILD / "musl"
    targets = [f"{build}/solutions/{FINAL}/{n}" for n in
               ("server", "client", *DATAGRAM_PROGRAMS)]
    with labrun.build_lock("musl"):
        made = subprocess.run(["make", "--no-print-directory", f"B={build}",
                               "CC=musl-gcc", *targets], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    for target in targets:  # linked with musl, not glibc
        interpreter = subprocess.run(["readelf", "-l", target],
                                     capture_output=True, text=True)
        assert "ld-musl" in interpreter.stdout, interpreter.stdout
    with LessonLab(build / "solutions" / FINAL, FINAL) as lab:
        server = lab.start("server", "-n", "1")
        assert lab.wait_for("listen", proc=server, ret=0)
        client = lab.run("client", "lab.sock", "hello, musl")
        assert client.returncode == 0 and client.stdout == "HELLO, MUSL\n"
        assert server.wait() == 0 and not (lab.dir / "lab.sock").exists()
        assert lab.events("close", proc=client, ret=0)
        (lab.dir / "lab.sock").write_text("in the way\n")
        refused = lab.run("server", "-n", "1")
        bind = lab.wait_for("bind", proc=refused)
        assert refused.returncode == 1
        assert bind["errno"] == "EADDRINUSE" and \
            bind["error"] == "Address already in use"
        exercise_datagrams(lab)


@pytest.mark.parametrize("lesson", CHECKED)
def test_the_final_programs_are_clean_under_sanitizers(lesson):
    build = labrun.BUILD / "sanitize"
    flags = "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer " \
            "-fno-sanitize-recover=all"
    targets = [f"{build}/solutions/{lesson}/{p.stem}" for p in
               sorted((ROOT / "solutions" / lesson).glob("*.c"))]
    with labrun.build_lock("sanitize"):
        made = subprocess.run(["make", "--no-print-directory", f"B={build}",
                               f"CFLAGS={flags}", f"LDFLAGS={flags}",
                               *targets], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    with LessonLab(build / "solutions" / lesson, lesson) as lab:
        for proc in exercise(lab, env=env):
            assert "Sanitizer" not in proc.stderr and \
                "runtime error" not in proc.stderr, proc.stderr
            assert proc.returncode != 99, proc.stderr


@pytest.mark.parametrize("lesson", CHECKED)
def test_the_final_programs_are_clean_under_valgrind(lesson):
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed")
    # --vgdb=no: no gdbserver FIFOs in /tmp, which a valgrind ended by
    # SIGKILL would leave behind.
    under = [valgrind, "-q", "--vgdb=no", "--error-exitcode=99",
             "--leak-check=full", "--errors-for-leak-kinds=definite,indirect"]
    with LessonLab(labrun.BUILD / "solutions" / lesson, lesson) as lab:
        for proc in exercise(lab, under):
            assert proc.returncode != 99 and "==" not in proc.stderr, \
                proc.stderr
