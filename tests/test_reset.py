"""make reset: the starter code again, the learner's version kept; from
the hand-out's pristine copy, or from git in a checkout."""
import os
import shutil
import subprocess

import pytest

import labrun


def test_reset_puts_back_the_starter_and_keeps_a_backup(lab_copy):
    lesson = lab_copy.lesson("04-accept-connect")
    starter = (lesson / "client.c").read_bytes()
    server = (lesson / "server.c").read_bytes()
    lab_copy.edit("04-accept-connect", "client.c", "/* my attempt */\n")
    mine = (lesson / "client.c").read_bytes()
    done = lab_copy.make("reset", "N=04")
    assert done.returncode == 0, done.stderr
    assert (lesson / "client.c").read_bytes() == starter
    assert (lesson / "server.c").read_bytes() == server
    backups = list((lesson / "backup").iterdir())
    assert len(backups) == 1
    assert [p.name for p in backups[0].iterdir()] == ["client.c"]
    assert (backups[0] / "client.c").read_bytes() == mine
    kept = backups[0].relative_to(lab_copy.path)
    assert f"your version is kept in {kept}/ (client.c)" in done.stdout
    # Nothing to do the second time, and nothing backed up.
    again = lab_copy.make("reset", "N=04")
    assert "already holds the starter code" in again.stdout
    assert len(list((lesson / "backup").iterdir())) == 1
    # The backup is not part of the lesson: progress sees a fresh start.
    assert "04-accept-connect    not started" in lab_copy.make("progress").stdout


def test_reset_in_a_git_checkout_takes_the_committed_starter(lab_copy):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    shutil.rmtree(lab_copy.path / "lessons" / ".starters")

    def run(*args):
        # The repository holds the lab in a folder, as a course's would.
        return subprocess.run([git, "-c", "user.name=lab", "-c",
                               "user.email=lab@example.invalid", *args],
                              cwd=lab_copy.path.parent, capture_output=True,
                              check=True, timeout=30 * labrun.SCALE)
    run("init", "-q")
    run("add", f"{lab_copy.path.name}/lessons")
    run("commit", "-q", "-m", "the starters")
    source = lab_copy.lesson("02-bind") / "server.c"
    starter = source.read_bytes()
    source.write_text("int main(void) { return 0; }\n")
    done = lab_copy.make("reset", "N=02")
    assert done.returncode == 0, done.stderr
    assert source.read_bytes() == starter
    assert "from git" in done.stdout


def test_reset_needs_a_lesson(lab_copy):
    done = lab_copy.make("reset")
    assert done.returncode != 0 and "make reset N=04" in done.stdout


def test_reset_leaves_what_is_in_its_way_and_says_why(lab_copy, tmp_path):
    """A backup that is a file, a source that is a directory or a
    symbolic link: reset changes nothing, and says what to move away."""
    lesson = lab_copy.lesson("04-accept-connect")
    lab_copy.edit("04-accept-connect", "client.c", "/* my attempt */\n")
    mine = (lesson / "client.c").read_bytes()
    (lesson / "backup").write_text("my notes\n")
    done = lab_copy.make("reset", "N=04")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "reset: nothing was changed: lessons/04-accept-connect/backup, " \
        "where reset keeps your version, is not a directory" in done.stderr
    assert (lesson / "backup").read_text() == "my notes\n"
    assert (lesson / "client.c").read_bytes() == mine
    (lesson / "backup").unlink()
    (lesson / "server.c").unlink()
    (lesson / "server.c").mkdir()
    (lesson / "server.c" / "kept.c").write_text("/* mine */\n")
    done = lab_copy.make("reset", "N=04")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "lessons/04-accept-connect/server.c is a directory, not a file" \
        in done.stderr and "make reset N=04 again" in done.stderr
    assert (lesson / "server.c" / "kept.c").read_text() == "/* mine */\n"
    assert (lesson / "client.c").read_bytes() == mine
    assert not (lesson / "backup").exists()
    shutil.rmtree(lesson / "server.c")
    elsewhere = tmp_path / "server.c"
    elsewhere.write_text("/* elsewhere */\n")
    (lesson / "server.c").symlink_to(elsewhere)
    done = lab_copy.make("reset", "N=04")
    assert done.returncode != 0 and "is a symbolic link, not a file" in \
        done.stderr
    assert elsewhere.read_text() == "/* elsewhere */\n"


def test_a_lesson_removed_whole_is_missing_and_reset_puts_it_back(lab_copy):
    """A lesson folder (or a source) deleted: make progress says it is
    missing and how to get it back, and make reset N=.. takes the lesson
    still, since lessons.json lists it, not the folders that are left."""
    lesson = lab_copy.lesson("02-bind")
    starter = (lesson / "server.c").read_bytes()
    shutil.rmtree(lesson)
    progress = lab_copy.make("progress")
    assert "02-bind              missing" in progress.stdout, progress.stdout
    check = lab_copy.make("check", "N=02")
    assert "is not a lesson" not in check.stdout + check.stderr, check.stdout
    done = lab_copy.make("reset", "N=02")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (lesson / "server.c").read_bytes() == starter
    assert "02-bind              not started" in \
        lab_copy.make("progress").stdout
    # Code that did not compile, then deleted: no old compiler message.
    lab_copy.edit("05-read-write", "client.c", "int broken(void) { return }\n")
    assert "does not compile" in lab_copy.make("check", "N=05").stdout
    (lab_copy.lesson("05-read-write") / "client.c").unlink()
    check = lab_copy.make("check", "N=05")
    assert "lessons/05-read-write/client.c is not there: make reset N=05 " \
        "puts back the starter code" in check.stdout and \
        "does not compile" not in check.stdout, check.stdout
    progress = lab_copy.make("progress")
    assert "05-read-write        missing" in progress.stdout
    assert "lessons/05-read-write/client.c is not there: make reset N=05 " \
        "puts back the starter code" in " ".join(progress.stdout.split())


def test_reset_keeps_every_file_it_puts_back(lab_copy):
    """Lesson 10 gives lesson 09's server.c and client.c beside its own
    programs: reset puts them back too, so an edit of them is kept in the
    backup, and a lesson left as it was is said to be so."""
    lesson = lab_copy.lesson("10-datagram")
    done = lab_copy.make("reset", "N=10")
    assert done.returncode == 0, done.stderr
    assert "already holds the starter code" in done.stdout, done.stdout
    starter = (lesson / "server.c").read_bytes()
    lab_copy.edit("10-datagram", "server.c", "/* my notes */\n")
    mine = (lesson / "server.c").read_bytes()
    done = lab_copy.make("reset", "N=10")
    assert done.returncode == 0, done.stderr
    assert (lesson / "server.c").read_bytes() == starter
    backups = list((lesson / "backup").iterdir())
    assert [p.name for p in backups[0].iterdir()] == ["server.c"]
    assert (backups[0] / "server.c").read_bytes() == mine
    assert "your version is kept in" in done.stdout


NOBODY = 65534


def as_learner(copy, *args):
    """make in the copy as a learner who owns it: as root, the copy is
    given to the user nobody, who runs make (root may write anything);
    not a program linked from the built hand-out, which stays as it is."""
    argv, env = copy.make_command(*args)
    user = {}
    if os.geteuid() == 0:
        for path in [copy.path.parent, *copy.path.parent.rglob("*")]:
            if path.is_dir() or os.lstat(path).st_nlink == 1:
                os.lchown(path, NOBODY, NOBODY)
        user = dict(user=NOBODY, group=NOBODY, extra_groups=[])
        env["HOME"] = str(copy.path)
    return subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=30 * labrun.SCALE, **user)


@pytest.mark.parametrize("read_only", ["the file", "the folder"])
def test_reset_of_a_lesson_it_may_not_write_changes_nothing(lab_copy,
                                                             read_only):
    """A source or a lesson folder the learner may not write: reset
    changes nothing, keeps nothing, and says what to make writable in one
    line, with status 1 and no traceback."""
    lesson = lab_copy.lesson("02-bind")
    lab_copy.edit("02-bind")
    mine = (lesson / "server.c").read_bytes()
    locked = lesson / "server.c" if read_only == "the file" else lesson
    mode = locked.stat().st_mode
    locked.chmod(0o444 if read_only == "the file" else 0o555)
    try:
        done = as_learner(lab_copy, "reset", "N=02")
    finally:
        locked.chmod(mode)
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    said = f"lessons/02-bind/{'server.c' if read_only == 'the file' else ''}"
    assert f"reset: nothing was changed: you may not read and write {said}." \
        in done.stderr, done.stderr
    assert (lesson / "server.c").read_bytes() == mine
    assert not (lesson / "backup").exists()
    done = as_learner(lab_copy, "reset", "N=02")
    assert done.returncode == 0, done.stderr
    assert (lesson / "backup").is_dir()


def test_a_lesson_folder_that_is_a_file_is_named_and_left(lab_copy):
    """lessons/NN-name as a file (an archive unpacked wrong, notes saved
    under its name): reset leaves it, and says to move it away."""
    lesson = lab_copy.lesson("02-bind")
    shutil.rmtree(lesson)
    lesson.write_text("my notes\n")
    done = lab_copy.make("reset", "N=02")
    assert done.returncode != 0 and "Traceback" not in done.stderr, \
        done.stderr
    assert "reset: nothing was changed: lessons/02-bind is not a directory."\
        " Move it away, then make reset N=02 again." in done.stderr, \
        done.stderr
    assert lesson.read_text() == "my notes\n"
