"""Grading a class: an upload is found wherever the learner's archive put
its lessons, an upload with nothing to grade is refused in words and with
a status of its own, a grader that fails is never taken for a grade, a
lesson that does not compile says so with the compiler's first messages,
and a program of the learner's own beside a lesson's changes nothing."""
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest

import classroom
import labrun
from conftest import LabCopy

ROOT = labrun.ROOT
LISTED = json.loads((ROOT / "lessons" / "lessons.json").read_text())
POINTS = {lesson["id"]: lesson["points"] for lesson in LISTED["lessons"]}
HAS_SOLUTIONS = (ROOT / "solutions").is_dir()
needs_solutions = pytest.mark.skipif(not HAS_SOLUTIONS,
                                     reason="a hand-out has no solutions")
BROKEN = "int broken(void) { return }\n"


def solved_lessons(folder, lesson_ids):
    for lesson_id in lesson_ids:
        (folder / lesson_id).mkdir(parents=True, exist_ok=True)
        for source in (ROOT / "solutions" / lesson_id).glob("*.c"):
            (folder / lesson_id / source.name).write_bytes(
                source.read_bytes())


def tool(copy, *args):
    """tools/grade in the copy, as a teacher's script runs it."""
    argv, env = copy.make_command()
    return subprocess.run([str(copy.path / "tools" / "grade"), *map(str, args)],
                          env=env, capture_output=True, text=True,
                          timeout=60 * labrun.SCALE)


def make_errors(done):
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("make: ***")]


@pytest.mark.parametrize("layout", [
    "DIR", "DIR/lessons", "DIR/unix-sockets-lab/lessons",
    "DIR/unix-sockets-lab", "DIR/my-work"])
def test_an_upload_is_found_wherever_its_lessons_are(layout, tmp_path):
    where = tmp_path / layout.replace("DIR", "upload")
    found = where / "lessons" if layout.endswith("unix-sockets-lab") \
        else where
    (found / "01-socket").mkdir(parents=True)
    (found / "01-socket" / "server.c").write_text("/* mine */\n")
    # What archivers leave beside the one folder does not count as another.
    (tmp_path / "upload" / "__MACOSX").mkdir(exist_ok=True)
    (tmp_path / "upload" / ".DS_Store").write_text("")
    lessons_in, _ = classroom.find_upload(tmp_path / "upload")
    assert lessons_in == found


def test_two_folders_are_not_one_upload(tmp_path):
    for name in ("alice", "bob"):
        (tmp_path / name / "lessons" / "01-socket").mkdir(parents=True)
        (tmp_path / name / "lessons" / "01-socket" / "server.c").write_text(
            "/* mine */\n")
    lessons_in, places = classroom.find_upload(tmp_path)
    assert lessons_in is None
    assert places == [tmp_path, tmp_path / "lessons"]


@needs_solutions
def test_the_teaching_page_s_recipe_is_graded(lab_copy, tmp_path):
    """tar czf NAME.tar.gz unix-sockets-lab/lessons, unpacked in a folder
    of its own: the lessons are found one folder down."""
    learner = tmp_path / "learner" / "unix-sockets-lab"
    solved_lessons(learner / "lessons", ["01-socket", "02-bind"])
    with tarfile.open(tmp_path / "alice.tar.gz", "w:gz") as tar:
        tar.add(learner / "lessons", "unix-sockets-lab/lessons")
    unpacked = tmp_path / "submissions" / "alice"
    unpacked.mkdir(parents=True)
    with tarfile.open(tmp_path / "alice.tar.gz") as tar:
        tar.extractall(unpacked, **({"filter": "data"}
                                    if hasattr(tarfile, "data_filter")
                                    else {}))
    results = tmp_path / "alice.json"
    done = tool(lab_copy, f"{unpacked}/", results)
    graded = json.loads(results.read_text())
    assert graded["score"] == POINTS["01-socket"] + POINTS["02-bind"], \
        done.stdout + done.stderr
    assert done.returncode == classroom.INCOMPLETE
    assert graded["status"] == "incomplete"
    # The tool's own words end it (make grade SUBMISSION= shows them, with
    # make's status 0: test_grade.py).
    assert done.stdout.rstrip().splitlines()[-2].startswith("Incomplete: ")
    assert "    a path too long for sun_path is refused clearly " in done.stdout


def test_nothing_to_grade_is_said_with_a_status_of_its_own(lab_copy,
                                                           tmp_path):
    empty = tmp_path / "bob"
    (empty / "unix-sockets-lab" / "lessons" / "01-socket").mkdir(
        parents=True)  # the folders, but no source in them
    (empty / "bob.tar.gz").write_bytes(b"")
    results = tmp_path / "bob.json"
    done = tool(lab_copy, empty, results)
    assert done.returncode == classroom.NOTHING_TO_GRADE == 3
    said = " ".join(done.stderr.split())
    for place in (empty, empty / "lessons", empty / "unix-sockets-lab",
                  empty / "unix-sockets-lab" / "lessons"):
        assert f"{place}," in said or f"{place}." in said, said
    names = sorted({name for lesson in classroom.lesson_ids()
                    for name in classroom.program_files(lesson)})
    assert f"holding {' or '.join(names)})" in said
    assert "It holds bob.tar.gz: unpack it there first" in said
    graded = json.loads(results.read_text())
    assert graded["status"] == "nothing to grade" and graded["score"] == 0
    assert graded["tests"] == [] and "no lesson source" in graded["message"]
    # make cannot carry that status: it fails, with one line of its own.
    done = lab_copy.make("grade", f"SUBMISSION={empty}")
    assert done.returncode == 2 and len(make_errors(done)) == 1, \
        done.stdout + done.stderr
    assert "nothing to grade" in done.stderr


def test_a_grader_that_fails_is_no_grade(lab_copy):
    # The checks themselves cannot run: that is the grader's failure.
    (lab_copy.path / "tests" / "conftest.py").write_text("this is not Python\n")
    done = lab_copy.make("grade")
    assert done.returncode == 2 and len(make_errors(done)) == 1, \
        done.stdout + done.stderr
    assert "grade: the grader failed, so this is no grade" in done.stderr
    assert "Total" not in done.stdout
    argv, env = lab_copy.make_command()
    done = subprocess.run(
        ["/usr/bin/python3", str(lab_copy.path / "tools" / "classroom.py"),
         "grade"], env={**env, "LAB_BUILD": str(lab_copy.path / "build")},
        capture_output=True, text=True, timeout=60 * labrun.SCALE)
    assert done.returncode == classroom.GRADER_ERROR == 4, done.stderr


def test_a_lesson_that_does_not_compile_says_so_with_the_compiler_s_words(
        lab_copy):
    lab_copy.edit("03-listen", text=BROKEN)
    results = lab_copy.path / "results.json"
    done = lab_copy.make("grade", f"JSON={results}", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines()
               if line.startswith("03-listen "))
    assert row.rstrip().endswith("does not compile (server.c)"), row
    error = "lessons/03-listen/server.c:"
    report = done.stdout.split("Total", 1)[1]
    assert "03-listen does not compile: the compiler's first messages " \
        "about lessons/03-listen/server.c:" in report
    assert error in report and "error:" in report
    graded = json.loads(results.read_text())
    lesson = next(r for r in graded["lessons"] if r["lesson"] == "03-listen")
    assert lesson["state"] == "does not compile" and lesson["points"] == 0
    assert error in lesson["compiler"]["server.c"]
    for entry in graded["tests"]:
        if entry["name"].startswith("03-listen"):
            assert entry["outcome"] == "does not compile", entry
            assert entry["status"] == "failed" and error in entry["output"]
    # The check says the same, and so does make progress.
    check = lab_copy.make("check", "N=03")
    assert "server.c does not compile. The compiler's first messages:" in \
        check.stdout and error in check.stdout, check.stdout
    progress = lab_copy.make("progress")
    assert "03-listen does not compile: the compiler's first messages " \
        "about lessons/03-listen/server.c:" in progress.stdout
    assert error in progress.stdout


@needs_solutions
def test_a_program_of_the_learner_s_own_changes_nothing(lab_copy):
    """NAME.c beside a lesson's programs, even one that does not compile, is
    built only when asked for: the lesson's grade, progress and check are
    those of its own programs."""
    lab_copy.solve("05-read-write")
    folder = lab_copy.lesson("05-read-write")
    (folder / "broken.c").write_text(BROKEN)
    (folder / "hello.c").write_text(
        '#include <stdio.h>\nint main(void)\n{\n    puts("hello");\n'
        '    return 0;\n}\n')
    (lab_copy.lesson("04-accept-connect") / "mine.c").write_text(BROKEN)
    results = lab_copy.path / "results.json"
    done = lab_copy.make("grade", f"JSON={results}", timeout=60)
    lessons = {r["lesson"]: r for r in json.loads(results.read_text())[
        "lessons"]}
    assert lessons["05-read-write"]["points"] == POINTS["05-read-write"], \
        done.stdout
    assert lessons["04-accept-connect"]["state"] == "not started"
    progress = lab_copy.make("progress").stdout
    assert "05-read-write        done" in progress, progress
    assert "04-accept-connect    not started" in progress
    check = lab_copy.make("check", "N=05")
    assert check.returncode == 0, check.stdout + check.stderr
    # Asked for, it is built like the lesson's programs, with the trace.
    built = lab_copy.make("-s", "build/lessons/05-read-write/hello")
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(lab_copy.path / "build" / "lessons" /
                              "05-read-write" / "hello")],
                         capture_output=True, text=True, timeout=10)
    assert ran.stdout == "hello\n"


def test_the_statuses_and_the_layouts_are_documented():
    page = (ROOT / "lessons" / "TEACHING.md").read_text()
    table = dict(re.findall(r"^\| (\d) \| ([a-z ]+?)[:(|]", page, re.M))
    assert {int(n) for n in table} == set(classroom.STATUS_WORDS)
    for status, words in classroom.STATUS_WORDS.items():
        if status != classroom.GRADER_ERROR:
            assert table[str(status)].strip() == words, table
    header = (ROOT / "tools" / "grade").read_text()
    for status, words in classroom.STATUS_WORDS.items():
        if status != classroom.GRADER_ERROR:
            assert f"#   {status}  {words}" in header
    assert "#   4  the grader failed" in header
    for said in ("DIR/lessons", "tar czf NAME.tar.gz", "## Grading on "
                 "Gradescope", "## Grading on GitHub Classroom",
                 "make autograder", "AUTOGRADER_ROOT"):
        assert said in page, said


def test_check_names_keep_their_c_identifiers():
    """A check is named in words, but sun_path stays sun_path."""
    assert classroom.readable(
        "test_a_path_too_long_for_sun_path_is_refused_clearly") == \
        "a path too long for sun_path is refused clearly"
    assert classroom.readable("test_af_unix_and_so_rcvtimeo_stay") == \
        "AF_UNIX and SO_RCVTIMEO stay"
    assert classroom.readable("test_the_server_serves_n_clients") == \
        "the server serves n clients"


@needs_solutions
def test_a_grading_copy_builds_only_what_the_upload_changed(tmp_path):
    """A grading copy starts with the trace library and with the programs
    this lab has built from the same sources at the same paths (a lesson
    left as the starter); make builds the others.  A solved lesson is
    built in the copy: the trace names the file a program was built from,
    and the lab's build of a solution names solutions/."""
    from conftest import LabCopy
    upload = tmp_path / "upload"
    solved_lessons(upload, ["01-socket"])
    (upload / "02-bind").mkdir()
    (upload / "02-bind" / "server.c").write_bytes(
        (ROOT / "lessons" / "02-bind" / "server.c").read_bytes() +
        b"/* mine */\n")
    pristine, _ = classroom.starters_to_hand_out("grade")
    copy = LabCopy(tmp_path / "copy" / classroom.HANDOUT_TOP)
    classroom.make_grading_copy(upload, copy.path, pristine)

    def up_to_date(target):
        argv, env = copy.make_command("-q", target)
        return subprocess.run(argv, env=env, capture_output=True,
                              timeout=60).returncode == 0
    assert up_to_date("build/trace/trace.o")
    assert up_to_date("build/lessons/03-listen/server")  # the starter
    assert not (copy.path / "build" / "lessons" / "01-socket" /
                "server").exists()  # solved: built in the copy
    given = [p for p in (copy.path / "build" / "lessons").rglob("*")
             if p.is_file() and not p.suffix]
    assert given and not [p for p in given if b"solutions/" in
                          p.read_bytes()], given
    assert not (copy.path / "build" / "lessons" / "02-bind" /
                "server").exists()
    assert not up_to_date("build/lessons/02-bind/server")
    # What it was given is what make builds from those sources.
    made = copy.make("-s", "build/lessons/02-bind/server")
    assert made.returncode == 0, made.stderr
    assert up_to_date("build/lessons/02-bind/server")
    # Python finds the lab's own modules compiled, and takes them: it
    # writes none.
    modules = classroom.compiled_modules(copy.path / "build", copy.path)

    def compiled():
        return {p: p.stat().st_mtime_ns for p in modules.rglob("*.pyc")
                if "-pytest-" not in p.name}
    before = compiled()
    assert any(p.name.startswith("labrun.") for p in before), before
    progress = copy.make("progress")
    assert progress.returncode in (0, 1), progress.stderr
    assert compiled() == before


def grade_here(*args, tmp_path):
    """tools/grade of this lab, its temporary copies made in tmp_path."""
    argv, env = LabCopy(ROOT).make_command()
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.update(LAB_BUILD=str(labrun.BUILD), TMPDIR=str(tmp_path / "tmp"))
    return subprocess.run([str(ROOT / "tools" / "grade"), *map(str, args)],
                          env=env, capture_output=True, text=True,
                          timeout=60 * labrun.SCALE)


@needs_solutions
def test_a_tmpdir_that_is_not_there_is_named(tmp_path):
    """The grading copy is made in TMPDIR: one that is missing is said as
    such, no grade, not an error of the grader's own words only."""
    upload = tmp_path / "upload"
    solved_lessons(upload, ["01-socket"])
    argv, env = LabCopy(ROOT).make_command()
    env.update(LAB_BUILD=str(labrun.BUILD), TMPDIR=str(tmp_path / "gone"))
    done = subprocess.run([str(ROOT / "tools" / "grade"), str(upload)],
                          env=env, capture_output=True, text=True,
                          timeout=60 * labrun.SCALE)
    assert done.returncode == classroom.GRADER_ERROR, done.stderr
    assert "grade: the grader failed, so this is no grade: TMPDIR=" \
        f"{tmp_path / 'gone'}: No such file or directory: a copy of the lab " \
        "is made there" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_the_results_only_replace_an_earlier_grade_s_results(tmp_path):
    """The JSON file may be new, or an earlier grade's results; a source
    file, a directory, a missing folder is refused before any grading."""
    empty = tmp_path / "empty"
    empty.mkdir()
    source = tmp_path / "server.c"
    source.write_bytes((ROOT / "lessons" / "02-bind" / "server.c")
                       .read_bytes())
    os.mkfifo(tmp_path / "fifo.json")
    for target, why in [(source, "exists and is not a grade's results"),
                        (tmp_path, "is a directory"),
                        (tmp_path / "fifo.json", "is not a regular file"),
                        (tmp_path / "no" / "r.json", "does not exist")]:
        done = grade_here(empty, target, tmp_path=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("grade: nothing written: ") and \
            why in done.stderr and len(done.stderr.splitlines()) == 1, \
            done.stderr
    assert source.read_bytes() == (ROOT / "lessons" / "02-bind" /
                                   "server.c").read_bytes()
    assert not (tmp_path / "no").exists()
    # make grade JSON=... refuses it the same way.
    done = subprocess.run([sys.executable, str(ROOT / "tools" /
                                               "classroom.py"), "grade",
                           str(source)], capture_output=True, text=True,
                          timeout=60 * labrun.SCALE)
    assert done.returncode == 2 and "nothing written" in done.stderr
    results = tmp_path / "r.json"
    for _ in range(2):  # new, then the earlier results replaced
        done = grade_here(empty, results, tmp_path=tmp_path)
        assert done.returncode == classroom.NOTHING_TO_GRADE, done.stderr
        assert json.loads(results.read_text())["status"] == \
            "nothing to grade"
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["empty", "fifo.json", "r.json", "server.c", "tmp"]


def test_an_upload_s_links_fifos_and_devices_are_never_read(tmp_path):
    """Only an upload's regular files are read: a symbolic link (to a
    private file, to a device, dangling, or a lesson folder that is one)
    and a FIFO are named, not graded, and nothing of theirs is shown."""
    secret = tmp_path / "private.txt"
    secret.write_text("the teacher's private words\n")
    upload = tmp_path / "upload" / "lessons"
    for lesson in ("01-socket", "02-bind", "03-listen", "06-close",
                   "07-fork"):
        (upload / lesson).mkdir(parents=True)
    # A source of gigabytes (sparse: it costs no disk) is not read either.
    with open(upload / "07-fork" / "server.c", "wb") as huge:
        huge.truncate(4 << 30)
    (upload / "02-bind" / "server.c").symlink_to(secret)
    (upload / "03-listen" / "server.c").symlink_to("/dev/zero")
    (upload / "06-close" / "server.c").symlink_to(tmp_path / "nowhere")
    os.mkfifo(upload / "01-socket" / "server.c")
    elsewhere = tmp_path / "elsewhere" / "05-read-write"
    elsewhere.mkdir(parents=True)
    (elsewhere / "server.c").write_text("/* not in the upload */\n")
    (upload / "05-read-write").symlink_to(elsewhere)
    assert classroom.find_upload(tmp_path / "upload")[0] is None
    results = tmp_path / "results.json"
    done = grade_here(tmp_path / "upload", results, tmp_path=tmp_path)
    assert done.returncode == classroom.NOTHING_TO_GRADE, done.stderr
    said = " ".join(done.stderr.split())
    for named in ("01-socket/server.c is a FIFO",
                  "02-bind/server.c is a symbolic link: not graded",
                  "03-listen/server.c is a symbolic link",
                  "06-close/server.c is a symbolic link",
                  "05-read-write is a symbolic link",
                  "07-fork/server.c is a file of 4,294,967,296 bytes, more "
                  "than a lesson source may be (1 MiB): not graded",
                  "No other lesson source"):
        assert named in said, said
    assert "private words" not in done.stdout + done.stderr + \
        results.read_text()
    # Beside a regular source, they are named and the rest is graded.
    (upload / "04-accept-connect").mkdir()
    (upload / "04-accept-connect" / "server.c").write_bytes(
        (ROOT / "lessons" / "04-accept-connect" / "server.c").read_bytes())
    done = grade_here(tmp_path / "upload", results, tmp_path=tmp_path)
    assert done.returncode == classroom.INCOMPLETE, done.stdout + done.stderr
    assert "grade: lessons/02-bind/server.c is a symbolic link: not graded" \
        in done.stdout
    assert "private words" not in done.stdout + done.stderr + \
        results.read_text()
    assert "Only the upload's regular files" in (
        ROOT / "lessons" / "TEACHING.md").read_text()


def test_an_upload_that_cannot_be_graded_says_what_is_wrong(tmp_path):
    missing = grade_here(tmp_path / "missing", tmp_path=tmp_path)
    assert missing.returncode == classroom.NOTHING_TO_GRADE
    assert f"{tmp_path / 'missing'} does not exist" in missing.stderr
    empty_name = grade_here("", tmp_path=tmp_path)
    assert empty_name.returncode == 2 and \
        "the upload's folder is an empty name" in empty_name.stderr
    for name in ("alice", "bob"):
        (tmp_path / "two" / name / "lessons" / "01-socket").mkdir(
            parents=True)
        (tmp_path / "two" / name / "lessons" / "01-socket" /
         "server.c").write_text("/* mine */\n")
    two = grade_here(tmp_path / "two", tmp_path=tmp_path)
    assert two.returncode == classroom.NOTHING_TO_GRADE
    said = " ".join(two.stderr.split())
    assert "2 folders with lessons (alice, bob)" in said, said
    assert "one folder holding either" in said and \
        f"tools/grade {tmp_path / 'two' / 'alice'}" in said


def test_make_grade_passes_paths_with_spaces_whole(tmp_path):
    upload = tmp_path / "my upload"
    upload.mkdir()
    results = tmp_path / "my results.json"
    done = LabCopy(ROOT).make("grade", f"B={labrun.BUILD}",
                              f"SUBMISSION={upload}", f"JSON={results}")
    assert done.returncode == 2 and f"nothing to grade in {upload}:" in \
        done.stderr, done.stderr
    assert json.loads(results.read_text())["status"] == "nothing to grade"


@needs_solutions
def test_a_grader_stopped_by_a_signal_leaves_nothing_and_no_grade(tmp_path):
    """SIGTERM (a script's timeout) while the checks run: the grading copy
    is removed, its processes are ended, no results are written, and the
    status says the grader failed, never a grade."""
    upload = tmp_path / "upload"
    solved_lessons(upload, POINTS)
    results = tmp_path / "results.json"
    argv, env = LabCopy(ROOT).make_command()
    (tmp_path / "tmp").mkdir()
    env.update(LAB_BUILD=str(labrun.BUILD), TMPDIR=str(tmp_path / "tmp"))
    with subprocess.Popen([str(ROOT / "tools" / "grade"), str(upload),
                           str(results)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as grader:
        first = grader.stdout.readline()  # said once the copy is made
        grader.terminate()
        _, stderr = grader.communicate(timeout=60 * labrun.SCALE)
    assert "graded with this lab's checks in a fresh copy" in first, first
    assert grader.returncode == classroom.GRADER_ERROR, stderr
    assert "no grade: stopped by SIGTERM" in stderr, stderr
    assert list((tmp_path / "tmp").iterdir()) == [] and \
        not results.exists()
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and
            str(tmp_path).encode() in (labrun.read_if_there(
                f"/proc/{pid}/cmdline") or b"")]
    assert left == [], left


@pytest.mark.parametrize("name, command", [
    ("alice.tar.gz", "tar xf {} -C DIR"), ("alice.zip", "unzip {} -d DIR")])
def test_an_upload_that_is_an_archive_is_to_be_unpacked_first(
        tmp_path, name, command):
    """SUBMISSION= an archive, not the folder it unpacks to: nothing to
    grade, and the message says how to unpack it."""
    archive = tmp_path / name
    archive.write_bytes(b"not unpacked")
    done = grade_here(archive, tmp_path=tmp_path)
    assert done.returncode == classroom.NOTHING_TO_GRADE, done.stderr
    assert f"grade: nothing to grade: {archive} is an archive, not a " \
        f"directory: unpack it in a directory of its own first (mkdir DIR " \
        f"&& {command.format(archive)}), then grade DIR." in done.stderr, \
        done.stderr
    assert "Traceback" not in done.stderr


@needs_solutions
def test_a_relative_tmpdir_is_taken_from_where_the_grader_runs(tmp_path):
    """TMPDIR=tmp names tmp in the directory the grader is run from: the
    grading copy is made there, run from its own directory all the same,
    and removed."""
    upload = tmp_path / "upload"
    solved_lessons(upload, ["01-socket"])
    (tmp_path / "tmp").mkdir()
    argv, env = LabCopy(ROOT).make_command()
    env.update(LAB_BUILD=str(labrun.BUILD), TMPDIR="tmp")
    done = subprocess.run([str(ROOT / "tools" / "grade"), str(upload)],
                          env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120 * labrun.SCALE)
    assert done.returncode == classroom.INCOMPLETE, done.stdout + done.stderr
    assert "Incomplete: 5 of 200 points." in done.stdout, done.stdout
    assert list((tmp_path / "tmp").iterdir()) == []
