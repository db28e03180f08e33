"""make handout: a tarball without the solutions that works on its own."""
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

import labrun
from conftest import LESSONS, LabCopy


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


def test_a_file_of_the_lab_that_is_gone_is_never_left_out_silently(
        lab_copy):
    """A starter deleted from lessons/ is carried from the pristine copy;
    any other file of the lab that is gone stops the hand-out and the
    autograder zip, with nothing written: a copy without it is broken."""
    (lab_copy.lesson("02-bind") / "server.c").unlink()
    tarball = lab_copy.path / "again.tar.gz"
    done = lab_copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    assert "lessons/02-bind/server.c is not there" in done.stdout
    with tarfile.open(tarball) as tar:
        assert tar.extractfile("unix-sockets-lab/lessons/02-bind/server.c"
                               ).read() == (lab_copy.path / "lessons" /
                                            ".starters" / "02-bind" /
                                            "server.c").read_bytes()
    tarball.unlink()
    (lab_copy.path / "pictures" / "README.md").unlink()
    for command, name, out in [("handout", "HANDOUT", tarball),
                               ("autograder", "AUTOGRADER",
                                lab_copy.path / "a.zip")]:
        done = lab_copy.make(command, f"{name}={out}")
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert f"{command}: nothing written: files of the lab that its " \
            ".handout-files lists are not there: pictures/README.md" in \
            done.stderr, done.stderr
        assert not out.exists()


def test_without_git_or_pristine_copy_lessons_are_taken_as_they_are(
        lab_copy):
    shutil.rmtree(lab_copy.path / "lessons" / ".starters")
    tarball = lab_copy.path / "again.tar.gz"
    done = lab_copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    assert "the starters are taken from lessons/ as they are now" in \
        done.stderr
    assert "lessons/.starters/01-socket/server.c" in names(tarball)


def places_that_are_not_an_archive(tmp_path):
    """{name: path} of outputs that make handout and make autograder must
    leave as they are, each made in tmp_path: another file, a directory, a
    FIFO, symbolic links, a missing directory, a path under a file, and
    the archive of the other kind."""
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo.tar.gz")
    (tmp_path / "link.tar.gz").symlink_to(notes)
    (tmp_path / "dangling.tar.gz").symlink_to(tmp_path / "nowhere")
    with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tar:
        tar.add(notes, "unix-sockets-lab/notes.txt")  # no .handout-files
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("setup.sh", "echo not the lab's\n")
    return {"another file": notes, "a directory": tmp_path / "folder",
            "a FIFO": tmp_path / "fifo.tar.gz",
            "a link to a file": tmp_path / "link.tar.gz",
            "a dangling link": tmp_path / "dangling.tar.gz",
            "another tarball": tmp_path / "other.tar.gz",
            "another zip": tmp_path / "other.zip",
            "a missing directory": tmp_path / "missing" / "lab.tar.gz",
            "a path under a file": notes / "lab.tar.gz", "no name": ""}


def state_of(folder):
    return {p.name: (p.is_symlink(), p.is_dir(), os.path.lexists(p) and
                     p.is_file() and not p.is_symlink() and p.read_bytes())
            for p in folder.iterdir()}


@pytest.mark.parametrize("command, variable, kind", [
    ("handout", "HANDOUT", "a hand-out of this lab"),
    ("autograder", "AUTOGRADER", "an autograder zip of this lab")])
def test_an_output_only_replaces_an_archive_of_its_own_kind(
        command, variable, kind, tmp_path):
    """make handout and make autograder make a new file, or replace their
    own earlier archive; anything else that is there is left as it is,
    with one line that says why, and a status that is not 0."""
    places = places_that_are_not_an_archive(tmp_path)
    before = state_of(tmp_path)
    for what, path in places.items():
        done = LabCopy(labrun.ROOT).make(command, f"B={labrun.BUILD}",
                                         f"{variable}={path}")
        said = [line for line in done.stderr.splitlines()
                if line.startswith(f"{command}: ")]
        assert done.returncode != 0 and len(said) == 1, (what, done.stderr)
        assert f"{command}: nothing written: " in said[0], (what, said)
        assert "Traceback" not in done.stderr, (what, done.stderr)
        assert state_of(tmp_path) == before, what  # no temporary file left
    assert "does not exist" in LabCopy(labrun.ROOT).make(
        command, f"B={labrun.BUILD}",
        f"{variable}={places['a missing directory']}").stderr
    # Its own earlier archive is replaced, and nothing else is left.
    mine = tmp_path / "mine" / ("lab.tar.gz" if command == "handout"
                                else "autograder.zip")
    mine.parent.mkdir()
    for _ in range(2):
        done = LabCopy(labrun.ROOT).make(command, f"B={labrun.BUILD}",
                                         f"{variable}={mine}", timeout=60)
        assert done.returncode == 0, done.stderr
        assert [p.name for p in mine.parent.iterdir()] == [mine.name]
    # The other command's archive is not its own kind.
    other = tmp_path / "mine" / "other"
    mine.rename(other)
    done = LabCopy(labrun.ROOT).make(
        "autograder" if command == "handout" else "handout",
        f"B={labrun.BUILD}",
        f"{'AUTOGRADER' if command == 'handout' else 'HANDOUT'}={other}")
    assert done.returncode != 0 and "nothing written" in done.stderr
    assert kind in LabCopy(labrun.ROOT).make(
        command, f"B={labrun.BUILD}", f"{variable}={places['another file']}"
    ).stderr
    page = (labrun.ROOT / "lessons" / "TEACHING.md").read_text()
    assert f"`{variable}" in page and "is\nleft as it is and refused" in page


def test_a_link_of_the_lab_is_handed_out_as_the_file_it_leads_to(
        lab_copy, tmp_path):
    """A hand-out is self-contained: a symbolic link of the lab goes in as
    the content of the file it leads to; a link to nothing, to a directory
    or out of the lab is refused, naming it, and nothing is written."""
    readme = lab_copy.path / "pictures" / "README.md"
    content = readme.read_bytes()
    readme.rename(readme.with_name("notes.md"))
    readme.symlink_to("notes.md")
    tarball = lab_copy.path / "again.tar.gz"
    done = lab_copy.make("handout", f"HANDOUT={tarball}")
    assert done.returncode == 0, done.stderr
    with tarfile.open(tarball) as tar:
        member = tar.getmember("unix-sockets-lab/pictures/README.md")
        assert member.isfile(), member.type
        assert tar.extractfile(member).read() == content
    tarball.unlink()
    outside = tmp_path / "notes.md"
    outside.write_bytes(content)
    for target, why in [(outside, "out of the lab"),
                        ("nowhere.md", "which is not there"),
                        ("..", "which is not a file")]:
        readme.unlink()
        readme.symlink_to(target)
        for command, name, out in [("handout", "HANDOUT", tarball),
                                   ("autograder", "AUTOGRADER",
                                    lab_copy.path / "a.zip")]:
            done = lab_copy.make(command, f"{name}={out}")
            assert done.returncode != 0 and "Traceback" not in done.stderr
            assert f"{command}: nothing written: pictures/README.md is a " \
                f"symbolic link to {target}, {why}. " in done.stderr, \
                done.stderr
            assert not out.exists()


def test_a_file_name_not_in_utf8_is_refused_naming_it(lab_copy):
    """A file of the lab whose name is not UTF-8 (its listing holds the
    bytes as they are): the hand-out and the zip are not made, and the
    message names it, the bytes that are not UTF-8 shown as \ufffd."""
    odd = os.fsdecode(b"tools/notes-\xe9t\xe9.txt")
    (lab_copy.path / odd).write_text("notes\n")
    with open(lab_copy.path / ".handout-files", "ab") as listing:
        listing.write(os.fsencode(odd) + b"\n")
    tarball = lab_copy.path / "again.tar.gz"
    for command, name, out in [("handout", "HANDOUT", tarball),
                               ("autograder", "AUTOGRADER",
                                lab_copy.path / "a.zip")]:
        done = lab_copy.make(command, f"{name}={out}")
        assert done.returncode != 0 and "Traceback" not in done.stderr, \
            done.stderr
        assert f"{command}: nothing written: file names that are not " \
            "UTF-8: tools/notes-\ufffdt\ufffd.txt" in done.stderr, done.stderr
        assert not out.exists()
