"""Every lab program builds warning-free under gcc and clang, and the final
programs run clean under AddressSanitizer/UBSan and valgrind."""
import random
import shutil
import string
import subprocess

import pytest

import labrun
from conftest import LessonLab

ROOT = labrun.ROOT
FINAL = sorted(p.name for p in (ROOT / "solutions").glob("[0-9][0-9]-*"))[-1]
FLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
         "-D_POSIX_C_SOURCE=200809L", "-Itrace", "-include",
         "trace/lab_trace.h"]


def lab_sources():
    found = sorted(ROOT.glob("lessons/*/*.c")) + \
        sorted(ROOT.glob("lessons/*/errors/*.c")) + \
        sorted(ROOT.glob("solutions/*/*.c"))
    return [str(p.relative_to(ROOT)) for p in found]


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_every_program_compiles_warning_free(compiler):
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    done = subprocess.run(
        [compiler, *FLAGS, "-fsyntax-only", *lab_sources()], cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    trace = subprocess.run(
        [compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
         "-fsyntax-only", "trace/trace.c"], cwd=ROOT, capture_output=True,
        text=True, timeout=60)
    assert trace.returncode == 0, trace.stderr


def exercise(lab, under=(), env=None):
    """The final server with three clients: short, large, and from stdin."""
    server = lab.start("server", "-n", "3", under=under, env=env)
    assert lab.wait_for("listen", proc=server, ret=0,
                        timeout=labrun.WAIT * 10), lab.events(event=None)
    big = "".join(random.choices(string.ascii_letters, k=70_000)).encode()
    replies = [
        lab.run("client", "lab.sock", "hello", under=under,
                env=env, timeout=labrun.WAIT * 10),
        lab.run("client", "lab.sock", stdin=big[:60_000], under=under,
                env=env, timeout=labrun.WAIT * 10),
        lab.run("client", "lab.sock", stdin=big, under=under,
                env=env, timeout=labrun.WAIT * 10),  # too long: refused cleanly
    ]
    assert replies[0].stdout == "HELLO\n"
    assert replies[1].stdout_bytes == big[:60_000].upper()
    assert replies[2].returncode == 1 and "longer than" in replies[2].stderr
    # The refused client never connected: stop the server with a signal.
    lab.stop(server, timeout=labrun.WAIT * 10)
    return [server, *replies]


def test_the_final_programs_are_clean_under_sanitizers():
    build = labrun.BUILD / "sanitize"
    flags = "-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer " \
            "-fno-sanitize-recover=all"
    targets = [f"{build}/solutions/{FINAL}/{n}" for n in ("server", "client")]
    made = subprocess.run(["make", "--no-print-directory", f"B={build}",
                           f"CFLAGS={flags}", f"LDFLAGS={flags}", *targets],
                          cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert made.returncode == 0, made.stderr
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    with LessonLab(build / "solutions" / FINAL, FINAL) as lab:
        for proc in exercise(lab, env=env):
            assert "Sanitizer" not in proc.stderr and \
                "runtime error" not in proc.stderr, proc.stderr
            assert proc.returncode != 99, proc.stderr


def test_the_final_programs_are_clean_under_valgrind():
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind is not installed")
    under = [valgrind, "-q", "--error-exitcode=99", "--leak-check=full",
             "--errors-for-leak-kinds=definite,indirect"]
    with LessonLab(labrun.BUILD / "solutions" / FINAL, FINAL) as lab:
        for proc in exercise(lab, under):
            assert proc.returncode != 99 and "==" not in proc.stderr, \
                proc.stderr
