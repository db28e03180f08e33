"""make handout: a tarball without the solutions that works on its own."""
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import labrun
from conftest import LESSONS


def names(tarball):
    with tarfile.open(tarball) as tar:
        return {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}


def test_the_hand_out_has_everything_but_the_solutions(built_handout):
    inside = names(built_handout / "lab.tar.gz")
    assert not [n for n in inside if n.startswith("solutions")]
    for needed in ("Makefile", "lessons/lessons.json", "lessons/hints.json",
                   "tests/conftest.py", "trace/trace.c", "tools/labrun.py",
                   "tools/classroom.py", "tools/setup",
                   "pictures/lifecycle.svg"):
        assert needed in inside, needed
    for lesson in LESSONS:
        for source in (labrun.ROOT / "lessons" / lesson).glob("*.c"):
            assert f"lessons/{lesson}/{source.name}" in inside
            # The pristine copy that make reset and make progress use.
            assert f"lessons/.starters/{lesson}/{source.name}" in inside
    assert not [n for n in inside if "__pycache__" in n or "/backup/" in n]
    # Nor pieces of the solutions: the corpus of learner programs.
    assert not [n for n in inside if n.startswith("tests/mistakes") or
                n.startswith("tests/test_mistakes")]


def test_the_hand_out_s_programs_compile_from_its_own_files(built_handout):
    """The built hand-out took the programs this suite built from the same
    files (conftest.seed_from_this_build): its sources must also compile
    from what the tarball holds, with the lab's flags, as its make runs
    the compiler (from the top of the tree)."""
    tree = built_handout / "unpacked" / "unix-sockets-lab"
    sources = sorted(str(p.relative_to(tree)) for p in [
        *tree.glob("lessons/*/*.c"), *tree.glob("lessons/*/errors/*.c"),
        tree / "trace" / "silent.c"])
    assert len(sources) > 100, sources
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic",
             "-Itrace/include", "-fsyntax-only"]
    for argv in ([*flags, *sources], ["-Itrace", *flags, "trace/trace.c"]):
        done = subprocess.run([os.environ.get("CC", "cc"), *argv], cwd=tree,
                              capture_output=True, text=True,
                              timeout=120 * labrun.SCALE)
        assert done.returncode == 0, done.stderr[-2000:]


JUNK = ["lessons/01-socket/.server.c.swp", "lessons/01-socket/server.c~",
        "lessons/02-bind/a.out", "lessons/02-bind/core", "tests/notes.txt"]


def junk_left_in(copy):
    for junk in JUNK:
        (copy.path / junk).write_text("junk\n")
    tarball = copy.path / "again.tar.gz"
    done = copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    inside = names(tarball)
    assert "lessons/01-socket/server.c" in inside
    return [junk for junk in JUNK if junk in inside]


def test_a_hand_out_made_from_a_hand_out_takes_only_its_files(lab_copy):
    """Never an editor's swap file, a.out or core: the files it came with."""
    assert not junk_left_in(lab_copy)


def test_a_hand_out_made_in_a_git_checkout_takes_only_tracked_files(
        lab_copy):
    (lab_copy.path / ".handout-files").unlink()
    git = ["git", "-C", str(lab_copy.path), "-c", "user.name=lab",
           "-c", "user.email=lab@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "lab"]):
        subprocess.run(git + command, check=True, capture_output=True,
                       timeout=30 * labrun.SCALE)
    if os.geteuid() == 0:
        # A teacher, as root, in a checkout a learner owns: git must still
        # be read, though it distrusts a repository of another owner.
        for path in [lab_copy.path, *lab_copy.path.rglob("*")]:
            os.lchown(path, 65534, 65534)
    assert not junk_left_in(lab_copy)


def test_the_hand_out_works_on_its_own(lab_copy):
    check = lab_copy.make("check", "N=01")
    assert check.returncode != 0 and \
        "01-socket            not started" in check.stdout
    lesson = lab_copy.make("lesson", "N=02")
    assert "socket(AF_UNIX, SOCK_STREAM, 0) = 3" in lesson.stderr, \
        lesson.stdout + lesson.stderr
    assert "not started" in lab_copy.make("progress").stdout
    errors = lab_copy.make("errors", "V=bind-twice")
    assert errors.returncode == 0, errors.stdout + errors.stderr
    assert "= -1 EINVAL" in errors.stdout + errors.stderr
    # make test runs the solutions, which a hand-out does not have.
    test = lab_copy.make("test")
    assert test.returncode != 0
    assert "the solutions are not included" in test.stdout


def test_the_hand_out_s_readmes_say_the_solutions_are_not_there(lab_copy):
    readmes = [Path("README.md"), *(Path("lessons") / lesson / "README.md"
                                    for lesson in LESSONS)]
    for readme in readmes:
        theirs = (lab_copy.path / readme).read_text()
        ours = (labrun.ROOT / readme).read_text()
        title, rest = ours.split("\n", 1)
        # The title, the note, then the README as it is.
        assert theirs.startswith(title + "\n\n> **This copy of the lab is a "
                                 "hand-out: it has no solutions.**"), readme
        assert theirs.endswith(rest) and "make solution" in theirs, readme
        assert "This copy of the lab is a hand-out" not in ours
    # A hand-out made from a hand-out says it once.
    tarball = lab_copy.path / "again.tar.gz"
    assert lab_copy.make("handout", f"HANDOUT={tarball}").returncode == 0
    with tarfile.open(tarball) as tar:
        again = tar.extractfile("unix-sockets-lab/README.md").read().decode()
    assert again == (lab_copy.path / "README.md").read_text()


def test_a_hand_out_carries_the_starters_not_a_solved_lesson(lab_copy):
    # A hand-out made from a hand-out whose lesson 01 is solved.
    lab_copy.solve("01-socket")
    tarball = lab_copy.path / "again.tar.gz"
    done = lab_copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    assert "lessons/01-socket/server.c differs from its starter" in done.stdout
    with tarfile.open(tarball) as tar:
        carried = tar.extractfile("unix-sockets-lab/lessons/01-socket/"
                                  "server.c").read()
    assert carried == (lab_copy.path / "lessons" / ".starters" / "01-socket" /
                       "server.c").read_bytes()
    assert carried != (lab_copy.lesson("01-socket") / "server.c").read_bytes()


def test_without_git_or_pristine_copy_lessons_are_taken_as_they_are(
        lab_copy):
    shutil.rmtree(lab_copy.path / "lessons" / ".starters")
    tarball = lab_copy.path / "again.tar.gz"
    done = lab_copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    assert "the starters are taken from lessons/ as they are now" in \
        done.stderr
    assert "lessons/.starters/01-socket/server.c" in names(tarball)
