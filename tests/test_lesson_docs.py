"""The lab's documents agree with the lab.

A failed check sends the learner to a README section by name, so every
section the checks cite must exist; every lesson README has the standard
sections; every `make` command the documents show exists; every man page
they cite is on the system (when man pages are installed); the
top-level lesson map lists the lessons of lessons/lessons.json; and every
excerpt of a run the documents quote is what a real run prints now
(tests/excerpts.py).
"""
import ast
import json
import os
import re
import shutil
import subprocess

import pytest

import excerpts
import labrun

ROOT = labrun.ROOT
LESSONS = [lesson["id"] for lesson in json.loads(
    (ROOT / "lessons" / "lessons.json").read_text())["lessons"]]
STANDARD_SECTIONS = ["What this stage does", "Predict", "Run it",
                     "What to look for in the trace", "Your task", "Read",
                     "Exercise"]
DOCS = [ROOT / "README.md", ROOT / "trace" / "TRACE.md",
        *(ROOT / "lessons" / lesson / "README.md" for lesson in LESSONS)]
CHECKS = sorted((ROOT / "tests").glob("test_[0-9][0-9]_*.py"))


def readme(lesson):
    return ROOT / "lessons" / lesson / "README.md"


def headings(path):
    """The `## ` headings of a Markdown file, outside code blocks."""
    found, in_code = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("## "):
            found.append(line[3:].strip())
    return found


def code_of(path):
    """The text of the code blocks and `code spans` of a Markdown file."""
    text = path.read_text()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text,
                                              flags=re.M | re.S))
    return blocks + spans


def prose_of(path):
    """A Markdown file without its code blocks and code spans."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    return re.sub(r"`[^`\n]+`", "", text)


def cited_sections(check_file):
    """(lesson, section, line) for each lab.expect/lab.require of a check.

    The section is the third positional argument, or section=.
    """
    tree = ast.parse(check_file.read_text(), str(check_file))
    lesson = next(node.value.value for node in tree.body
                  if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "LESSON"
                          for t in node.targets))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and
                isinstance(node.func, ast.Attribute) and
                node.func.attr in ("expect", "require")):
            continue
        section = node.args[2] if len(node.args) > 2 else next(
            (k.value for k in node.keywords if k.arg == "section"), None)
        assert isinstance(section, ast.Constant), (
            f"{check_file.name}:{node.lineno}: the section of a "
            f"{node.func.attr}() must be a plain string, so that this test "
            "can check that the README has it")
        yield lesson, section.value, node.lineno


@pytest.mark.parametrize("check_file", CHECKS, ids=lambda p: p.name)
def test_every_section_a_check_cites_exists(check_file):
    cited = list(cited_sections(check_file))
    assert cited, f"{check_file.name} cites no README section at all"
    for lesson, section, line in cited:
        assert readme(lesson).exists(), f"lessons/{lesson}/README.md is missing"
        assert section in headings(readme(lesson)), (
            f"{check_file.name}:{line} sends the learner to the section "
            f'"{section}" of lessons/{lesson}/README.md, which has no '
            f"such ## heading; it has: {headings(readme(lesson))}")


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_readme_has_the_standard_sections(lesson):
    assert readme(lesson).exists(), f"lessons/{lesson}/README.md is missing"
    have = headings(readme(lesson))
    missing = [s for s in STANDARD_SECTIONS if s not in have]
    assert not missing, f"lessons/{lesson}/README.md lacks {missing}"


@pytest.mark.parametrize("lesson", LESSONS)
def test_your_task_names_every_todo_of_the_starter_code(lesson):
    tags = set()
    for source in (ROOT / "lessons" / lesson).glob("*.c"):
        tags |= set(re.findall(r"TODO\(([\w-]+)\)", source.read_text()))
    text = readme(lesson).read_text()
    task = text.split("## Your task", 1)[-1].split("\n## ", 1)[0]
    for tag in tags:
        assert f"TODO({tag})" in task, (
            f'the "Your task" section of lessons/{lesson}/README.md does '
            f"not name TODO({tag}), which lessons/{lesson}/*.c contains")


def make_targets():
    """The targets `make help` lists, and the targets the Makefile defines."""
    help_text = subprocess.run(
        ["make", "-s", "--no-print-directory", "help"], cwd=ROOT,
        capture_output=True, text=True, timeout=30, check=True).stdout
    listed = {first_target(words) for words in
              re.findall(r"^\s*make((?: \S+)*)", help_text, re.M)}
    makefile = (ROOT / "Makefile").read_text()
    defined = set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", makefile, re.M))
    return (listed | defined) - {None}


def first_target(words):
    """The target in the words after `make`: not an option, not VAR=value.

    The words are separated by single spaces: two or more spaces start a
    description, as in `make help`.
    """
    return next((w.rstrip(":,.") for w in words.split()
                 if not w.startswith("-") and "=" not in w), None)


def shown_make_targets(path):
    """The target of each `make ...` command in the code of a document."""
    for code in code_of(path):
        for words in re.findall(r"(?:^|[\s;&|(])make((?: [^\s;&|)#]+)*)",
                                code, re.M):
            if first_target(words):
                yield first_target(words)


@pytest.fixture(scope="module")
def targets():
    return make_targets()


# A program the pattern rule builds: make build/lessons/05-read-write/NAME.
PROGRAM_TARGET = re.compile(r"build/(lessons|solutions)/\d\d-[a-z-]+/"
                            r"(errors/)?[A-Za-z0-9_]+")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_command_shown_exists(doc, targets):
    shown = {t for t in shown_make_targets(doc)
             if not PROGRAM_TARGET.fullmatch(t)}
    unknown = sorted(shown - targets)
    assert not unknown, (
        f"{doc.relative_to(ROOT)} shows `make {unknown[0]}`, but neither "
        f"`make help` nor the Makefile has that target (known: "
        f"{sorted(targets)})")


def test_the_make_commands_are_found():
    # Guards the parser above: a README that shows nothing would pass.
    shown = set(shown_make_targets(readme(LESSONS[0])))
    assert {"lesson", "solution", "check"} <= shown, shown


MAN_PAGE = re.compile(r"\b([a-z][a-z0-9_.-]*)\(([1-8])\)")


def cited_man_pages():
    pages = set()
    for lesson in LESSONS:
        pages |= set(MAN_PAGE.findall(prose_of(readme(lesson))))
    return sorted(pages)


def man_page_exists(name, section):
    found = subprocess.run(["man", "-w", section, name],
                           capture_output=True, timeout=30)
    return found.returncode == 0


def test_every_man_page_cited_exists():
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    if not (man_page_exists("socket", "2") and man_page_exists("unix", "7")):
        pytest.skip("the Linux man pages are not installed "
                    "(apt-get install manpages manpages-dev)")
    pages = cited_man_pages()
    assert ("unix", "7") in pages and ("bind", "2") in pages, pages
    # Sections 1 and 8 document programs; their pages come with them.
    wanted = [(n, s) for n, s in pages
              if s not in ("1", "8") or shutil.which(n)]
    names = [f"{n}.{s}" for n, s in wanted]
    every = subprocess.run(["man", "-w", *names], capture_output=True,
                           timeout=30)
    if every.returncode != 0:
        missing = [f"{n}({s})" for n, s in wanted
                   if not man_page_exists(n, s)]
        assert not missing, (f"the lesson READMEs cite {missing}, which "
                             "`man -w` does not find")


def test_the_lesson_map_lists_every_lesson():
    lessons = json.loads((ROOT / "lessons" / "lessons.json").read_text())
    text = (ROOT / "README.md").read_text()
    for lesson in lessons["lessons"]:
        row = next((line for line in text.splitlines()
                    if line.startswith(f"| [{lesson['id']}]")), None)
        assert row is not None, (f"README.md's lesson map has no row for "
                                 f"{lesson['id']}")
        assert lesson["see"] in row and \
            f"(lessons/{lesson['id']}/README.md)" in row, (
                f"README.md's row for {lesson['id']} should link its README "
                f"and say what lessons.json says you will see: "
                f"{lesson['see']!r}")


NUMBERS = {"One": 1, "Two": 2, "Three": 3, "Four": 4, "Five": 5, "Six": 6,
           "Seven": 7, "Eight": 8}


@pytest.mark.parametrize("lesson", LESSONS)
def test_your_task_counts_the_todos_right(lesson):
    count = sum(len(re.findall(r"TODO\(", source.read_text()))
                for source in (ROOT / "lessons" / lesson).glob("*.c"))
    task = readme(lesson).read_text().split("## Your task", 1)[-1]
    said = re.match(r"\s*(\w+) TODOs?\b", task)
    if said and said.group(1) in NUMBERS:
        assert NUMBERS[said.group(1)] == count, (
            f'lessons/{lesson}/README.md says "{said.group(0).strip()}", '
            f"but the starter code has {count}")


def explanation_texts():
    """Every why and fix text of trace/explanations.def."""
    table = (ROOT / "trace" / "explanations.def").read_text()
    texts = set()
    for row in re.findall(r"EXPLAIN\((.*?)\)\s*$", table, re.S | re.M):
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', row)
        texts.update(strings[1:3])
    return texts


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_explanation_a_document_quotes_is_the_table_s(doc):
    texts = explanation_texts()
    quoted = re.findall(r"^ +(?:why|fix): (.+)$", doc.read_text(), re.M)
    stale = [q for q in quoted if q not in texts]
    assert not stale, (
        f"{doc.relative_to(ROOT)} quotes explanations that "
        f"trace/explanations.def no longer has (run the example again and "
        f"paste its output): {stale}")


# -- excerpts of real runs ----------------------------------------------------

HAS_SOLUTIONS = (ROOT / "solutions").is_dir()  # not in a hand-out
REGENERATE = ("After a change to the code or to the trace's format, rewrite "
              "them from fresh runs: make, then LAB_BUILD=build "
              "/usr/bin/python3 tests/excerpts.py --update, and read the "
              "diff.")


@pytest.fixture(scope="module")
def real_runs():
    """The real runs of each lesson's solution, made once for this file."""
    if not HAS_SOLUTIONS:
        pytest.skip("a hand-out has no solutions to run")
    return {}


def test_the_documents_quote_runs_that_the_check_finds():
    # Guards the finder: a document whose excerpts it missed would pass.
    found = excerpts.excerpts()
    kinds = {kind: [e for e in found if e.kind == kind]
             for kind in ("trace", "json", "position")}
    assert len(kinds["trace"]) >= 30 and kinds["json"] and \
        kinds["position"], {k: len(v) for k, v in kinds.items()}
    for lesson in LESSONS:
        quoted = {e.doc for e in kinds["trace"]}
        assert readme(lesson) in quoted, (
            f"lessons/{lesson}/README.md quotes no trace line that "
            f"tests/excerpts.py finds")
    assert all(e.lesson for e in found), [
        e.where() for e in found if not e.lesson]


def test_every_excerpt_of_a_run_is_what_a_run_prints_now(real_runs):
    stale = excerpts.stale(real_runs)
    assert not stale, "\n\n".join(
        [e.report() for e in stale] + [REGENERATE])


def test_a_stale_excerpt_is_named_with_the_real_line(real_runs, tmp_path,
                                                     monkeypatch):
    # Guards the comparison: a line number that moved is caught.
    doc = tmp_path / "README.md"
    doc.write_text("```\n[server 1] socket(AF_UNIX, SOCK_STREAM, 0) = 3  "
                   "solutions/01-socket/server.c:1\n    -> new socket, fd "
                   "3: an endpoint with no address yet\n```\n")
    monkeypatch.setattr(excerpts, "DOCS", [doc])
    monkeypatch.setattr(excerpts, "ROOT", tmp_path)
    stale = excerpts.stale(real_runs)
    assert len(stale) == 1 and stale[0].real, stale
    assert "solutions/01-socket/server.c:1\n" in stale[0].report()
    assert excerpts.update(stale) == []
    assert excerpts.stale(real_runs) == []


# A pid an excerpt names in a call or its note: what fork and waitpid
# return, whom kill and waitpid name, "child PID", "process PID" (not the
# sender of a signal, which the excerpt need not show).
PID_NAMED = re.compile(r"\b(?:fork|waitpid)\([^)]*\) = ([1-9]\d*)"
                       r"|\b(?:kill|waitpid)\(([1-9]\d*)"
                       r"|(?<!sent by )(?<!/)\b(?:process|child) ([1-9]\d*)")


def pids_named_nowhere_else(text):
    """The pids a document's trace lines name, that are no process of the
    document: no role's pid, and named in no other words ("served by child
    PID", "pid PID"). The real run names the same process everywhere;
    the pids of an excerpt pieced together from two runs do not."""
    named = {}
    for number, line in enumerate(text.splitlines(), 1):
        if excerpts.TRACE_LINE.match(line) or excerpts.UNDER.match(line):
            for found in PID_NAMED.finditer(line):
                named.setdefault(next(g for g in found.groups() if g),
                                 number)
    rest = PID_NAMED.sub(" ", text)
    return [(number, pid) for pid, number in named.items()
            if not re.search(rf"\b{pid}\b", rest)]


@pytest.mark.parametrize("doc", excerpts.DOCS,
                         ids=lambda d: str(d.relative_to(labrun.ROOT)))
def test_every_pid_an_excerpt_names_is_a_process_of_the_document(doc):
    wrong = pids_named_nowhere_else(doc.read_text(encoding="utf-8"))
    assert not wrong, (
        f"{doc.relative_to(labrun.ROOT)} names these pids in its trace "
        f"lines, and no process of the excerpt has them: "
        + ", ".join(f"line {n}: {pid}" for n, pid in wrong)
        + ". Give each the pid of the process the excerpt shows: the "
        "fork() = PID of a child is the pid of its [role/child PID] lines")


def test_the_parent_of_a_forking_server_is_found_by_the_oldest_pid():
    # The children of lesson 07's server have its command line: the newest
    # process of that name is a child, the oldest the parent.
    text = readme("07-fork").read_text()
    found = re.findall(r"pgrep( -[a-z]+)* -f 07-fork/server", text)
    assert found and all("-o" in f for f in
                         re.findall(r"pgrep[^)]*07-fork/server", text)), \
        "lessons/07-fork/README.md: find the server with pgrep -o -f"


def test_a_pid_of_another_run_is_found():
    # Guards the finder: the parent forks 20, and 30 serves.
    text = ("served by child 20\n[server 1] fork() = 30  x.c:1\n"
            "[server/child 20] fork() = 0  x.c:1\n"
            "[server 1] signal SIGTERM delivered  x.c:2\n"
            "    -> sent by process 40; the handler runs now\n")
    assert pids_named_nowhere_else(text) == [(2, "30")]


# -- what the documents say the man pages say ---------------------------------

def no_man_pages():
    """Why the man pages cannot be read here, or None."""
    if shutil.which("man") is None:
        return "man is not installed"
    if not (man_page_exists("socket", "2") and man_page_exists("unix", "7")):
        return ("the Linux man pages are not installed (apt-get install "
                "manpages manpages-dev)")
    return None


_pages = {}


def man_text(page):
    """The installed page ("bind.2") as plain text, its whitespace
    collapsed, as the tests compare quotes."""
    if page not in _pages:
        name, section = page.rsplit(".", 1)
        env = {"PATH": "/usr/bin:/bin", "MANWIDTH": "2000",
               "LC_ALL": "C.UTF-8"}
        out = subprocess.run(["man", "-P", "cat", section, name], env=env,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"man {section} {name}: {out.stderr}"
        _pages[page] = out.stdout.replace("\u2010", "-").replace(
            "\u2019", "'")
    return _pages[page]


def words_of(text):
    return " ".join(text.split())


def man_errors(page, after=None):
    """The errnos the ERRORS section of a page lists; after: only those
    listed after the line that contains it."""
    section = re.search(r"^ERRORS\n(.*?)^\S", man_text(page),
                        re.M | re.S).group(1)
    if after is not None:
        section = section.split(after, 1)[1]
    listed = set()
    for names in re.findall(r"^ {7}(E[A-Z0-9]+(?:(?:, | or )E[A-Z0-9]+)*)",
                            section, re.M):
        listed.update(re.split(r", | or ", names))
    return listed


def lists(page, errno):
    return ("lists", page, errno)


def omits(page, errno):
    return ("omits", page, errno)


def says(page, text):
    return ("says", page, text)


def never_says(page, text):
    return ("never says", page, text)


UNIX_ONLY = "specific to UNIX domain"

# What the documents say the man pages list, or do not, or say: in which
# place (a document, a variant or a row of the catalogue, a row of the
# explanation table), in which words, and what the installed page must
# show for those words to be true. test_every_man_page_claim_is_in_this_list
# finds the sentences of that form and sends each here.
MAN_CLAIMS = [
    ("trace/TRACE.md", "signal-safety(7) does not list is waitid(2)",
     [never_says("signal-safety.7", "waitid"),
      says("signal-safety.7", "waitpid")]),
    ("lessons/02-bind/README.md",
     "bind(2) lists ENAMETOOLONG for an address that is too long",
     [lists("bind.2", "ENAMETOOLONG"), says("bind.2", "addr is too long")]),
    ("lessons/02-bind/README.md", "the errno that connect(2) lists",
     [lists("connect.2", "EAFNOSUPPORT")]),
    ("lessons/02-bind/README.md", "as bind(2) says",
     [says("bind.2", "addr is not a valid address for this socket's "
           "domain")]),
    ("lessons/02-bind/README.md", "bind(2) lists no EAFNOSUPPORT",
     [omits("bind.2", "EAFNOSUPPORT")]),
    ("lessons/02-bind/README.md", "where connect(2) lists EAFNOSUPPORT",
     [lists("connect.2", "EAFNOSUPPORT")]),
    ("lessons/03-listen/README.md", "listen(2) does not list this case",
     [omits("listen.2", "EINVAL")]),
    ("lessons/03-listen/README.md", "listen(2) says the client",
     [says("listen.2", "may receive an error with an indication of "
           "ECONNREFUSED")]),
    ("lessons/03-listen/README.md", "listen(2) lists no EINVAL",
     [omits("listen.2", "EINVAL")]),
    ("lessons/03-listen/README.md",
     "(4096 since Linux 5.4) is silently cut down to it (listen(2), NOTES)",
     [says("listen.2", "then it is silently capped to that value"),
      says("listen.2", "Since Linux 5.4, the default in this file is 4096")]),
    ("trace/TRACE.md", "lands whole at the end, never mixed with another "
     "process's write",
     [says("open.2", "The modification of the file offset and the write "
           "operation are performed as a single atomic step")]),
    ("trace/TRACE.md", "PIPE_BUF (4096) bytes is atomic (pipe(7))",
     [says("pipe.7", "must be atomic"),
      says("pipe.7", "On Linux, PIPE_BUF is 4096 bytes")]),
    ("lessons/04-accept-connect/README.md",
     "Does connect(2) list them? (path_resolution(7) does.)",
     [omits("connect.2", "ENOTDIR"), omits("connect.2", "ELOOP"),
      omits("connect.2", "ENAMETOOLONG"), says("path_resolution.7",
                                               "an ENOTDIR error"),
      says("path_resolution.7", "ELOOP"),
      says("path_resolution.7", "an ENAMETOOLONG error")]),
    ("lessons/04-accept-connect/README.md", "connect(2) lists EAFNOSUPPORT",
     [lists("connect.2", "EAFNOSUPPORT")]),
    ("lessons/04-accept-connect/README.md",
     "(ENOTDIR, ELOOP, ENAMETOOLONG), which connect(2) does not list",
     [omits("connect.2", "ENOTDIR"), omits("connect.2", "ELOOP"),
      omits("connect.2", "ENAMETOOLONG")]),
    ("lessons/05-read-write/README.md",
     'unix(7) lists it as "Remote socket was unexpectedly closed"',
     [lists("unix.7", "ECONNRESET")]),
    ("lessons/05-read-write/README.md", "send(2) lists ECONNRESET",
     [lists("send.2", "ECONNRESET")]),
    ("lessons/05-read-write/README.md", "ENOTCONN, which recv(2) lists",
     [lists("recv.2", "ENOTCONN")]),
    ("lessons/05-read-write/README.md", "one of the errnos read(2) lists",
     []),  # a question
    ("lessons/05-read-write/README.md", "ECONNRESET, as send(2) lists",
     [lists("send.2", "ECONNRESET")]),
    ("lessons/06-close/README.md", "shutdown(2) lists ENOTCONN",
     [lists("shutdown.2", "ENOTCONN")]),
    ("lessons/07-fork/README.md", "signal-safety(7) lists it",
     [says("signal-safety.7", "waitpid(2)")]),
    ("lessons/08-poll/README.md",
     "signal(7) lists poll among the calls \"never restarted\"",
     [says("signal.7", "The following interfaces are never restarted after "
           "being interrupted by a signal handler, regardless of the use of "
           "SA_RESTART"),
      says("signal.7", "File descriptor multiplexing interfaces: "
           "epoll_wait(2), epoll_pwait(2), poll(2)")]),
    ("lessons/09-full-duplex/README.md",
     'shutdown(2) says what it does in its name line: it shuts down "part of '
     'a full-duplex connection"',
     [says("shutdown.2", "shut down part of a full-duplex connection")]),
    ("lessons/10-datagram/README.md",
     "recv(2) says that an empty datagram is left pending by read(2)",
     [says("recv.2", "read(2) has no effect (the datagram remains "
           "pending), while recv() consumes the pending datagram")]),
    ("lessons/10-datagram/README.md",
     'unix(7) says "When the address of an unnamed socket is returned, its '
     'length is sizeof(sa_family_t)"',
     [says("unix.7", "When the address of an unnamed socket is returned, "
           "its length is sizeof(sa_family_t)")]),
    ("lessons/10-datagram/README.md",
     "No man page lists EPERM for this: unix(7) gives EPERM only for bad "
     "credentials, connect(2) only for broadcasts and firewalls, and send(2) "
     "does not list it",
     [says("unix.7", "EPERM The sender passed invalid credentials in the "
           "struct ucred"),
      says("connect.2", "EACCES, EPERM The user tried to connect to a "
           "broadcast address"),
      says("connect.2", "failed because of a local firewall rule"),
      omits("send.2", "EPERM")]),
    ("lessons/errors.json datagram-too-big",
     "the send buffer (SO_SNDBUF, 212992 bytes here) less 32, as unix(7) says",
     [says("unix.7", "This limit is calculated as the doubled (see "
           "socket(7)) option value less 32 bytes used for overhead")]),
    ("lessons/errors.json reply-to-unbound-sender",
     "(unix(7) says sizeof(sa_family_t))",
     [says("unix.7", "When the address of an unnamed socket is returned, "
           "its length is sizeof(sa_family_t)")]),
    ("lessons/errors.json send-to-connected-socket",
     "where no man page lists EPERM for this",
     [says("unix.7", "EPERM The sender passed invalid credentials in the "
           "struct ucred"),
      says("connect.2", "EACCES, EPERM The user tried to connect to a "
           "broadcast address"), omits("send.2", "EPERM")]),
    ("trace/explanations.def sendto EPERM",
     "No man page lists EPERM for this: unix(7) gives it only for bad "
     "credentials",
     [says("unix.7", "EPERM The sender passed invalid credentials in the "
           "struct ucred"), omits("send.2", "EPERM")]),
    ("trace/explanations.def connect EPERM",
     "connect(2) gives EPERM only for broadcasts and firewalls",
     [says("connect.2", "EACCES, EPERM The user tried to connect to a "
           "broadcast address"),
      says("connect.2", "failed because of a local firewall rule")]),
    ("lessons/errors.json socket-bad-type",
     "ESOCKTNOSUPPORT, which socket(2) does not list but unix(7) does",
     [omits("socket.2", "ESOCKTNOSUPPORT"),
      lists("unix.7", "ESOCKTNOSUPPORT")]),
    ("lessons/errors.json bind-path-too-long",
     "where bind(2) lists ENAMETOOLONG", [lists("bind.2", "ENAMETOOLONG")]),
    ("lessons/errors.json bind-wrong-family",
     "EINVAL, which bind(2) lists for an address not valid in the socket's "
     "domain",
     [lists("bind.2", "EINVAL"),
      says("bind.2", "addr is not a valid address for this socket's "
           "domain")]),
    ("lessons/errors.json bind-wrong-family",
     "connect(2) lists EAFNOSUPPORT", [lists("connect.2", "EAFNOSUPPORT")]),
    ("lessons/errors.json listen-unbound", "listen(2) lists no EINVAL",
     [omits("listen.2", "EINVAL")]),
    ("lessons/errors.json connect-not-a-socket", "refused, as unix(7) says",
     [says("unix.7", "This error can also occur if the target pathname "
           "is not a socket")]),
    ("lessons/errors.json connect-wrong-family",
     "connect(2) lists EAFNOSUPPORT", [lists("connect.2", "EAFNOSUPPORT")]),
    ("lessons/errors.json connect-symlink-loop",
     "ELOOP, which connect(2) does not list", [omits("connect.2", "ELOOP")]),
    ("lessons/errors.json connect-not-a-directory",
     "ENOTDIR, which connect(2) does not list",
     [omits("connect.2", "ENOTDIR")]),
    ("lessons/errors.json connect-long-symlink",
     "ENAMETOOLONG, which connect(2) does not list",
     [omits("connect.2", "ENAMETOOLONG")]),
    ("lessons/errors.json write-after-reset",
     "ECONNRESET, which send(2) lists",
     [lists("send.2", "ECONNRESET")]),
    ("lessons/errors.json read-unconnected",
     "EINVAL, which read(2) lists for an fd unsuitable for reading",
     [lists("read.2", "EINVAL"),
      says("read.2", "fd is attached to an object which is unsuitable for "
           "reading")]),
    ("lessons/errors.json read-unconnected", "recv(2) lists ENOTCONN",
     [lists("recv.2", "ENOTCONN")]),
    ("lessons/errors.json write-unconnected",
     "ENOTCONN, which send(2) lists (write(2) does not)",
     [lists("send.2", "ENOTCONN"), omits("write.2", "ENOTCONN")]),
    ("lessons/errors.json shutdown-unconnected", "shutdown(2) lists ENOTCONN",
     [lists("shutdown.2", "ENOTCONN")]),
    ("lessons/errors.json bind EADDRNOTAVAIL",
     "bind(2) prints EADDRNOTAVAIL among the errors specific to UNIX domain "
     "sockets, but its text is about network interfaces",
     [("lists after", "bind.2", "EADDRNOTAVAIL", UNIX_ONLY),
      says("bind.2", "EADDRNOTAVAIL A nonexistent interface was requested")]),
    ("lessons/errors.json bind EPERM", "bind(2) does not list it",
     [omits("bind.2", "EPERM")]),
    ("lessons/errors.json connect EINPROGRESS",
     "where socket(7) announces EINPROGRESS",
     [says("socket.7", "EINPROGRESS (for connect(2))")]),
    ("lessons/errors.json connect EROFS", "connect(2) does not list it",
     [omits("connect.2", "EROFS")]),
    ("lessons/errors.json recv ENOTCONN",
     "recv(2) lists it for an unconnected socket (read(2) does not)",
     [lists("recv.2", "ENOTCONN"), omits("read.2", "ENOTCONN")]),
    ("lessons/errors.json send ECONNRESET", "send(2) lists it",
     [lists("send.2", "ECONNRESET")]),
    ("lessons/errors.json send EISCONN",
     "EISCONN when it is connected, as send(2) lists",
     [lists("send.2", "EISCONN")]),
    ("lessons/errors.json send EISCONN",
     "send(2) lists EOPNOTSUPP only for flags the socket type does not "
     "support",
     [lists("send.2", "EOPNOTSUPP"),
      says("send.2", "EOPNOTSUPP Some bit in the flags argument is "
           "inappropriate for the socket type")]),
    ("lessons/errors.json close EINTR", "close(2) names NFS",
     [says("close.2", "On NFS, these errors are not normally reported")]),
    ("trace/explanations.def socket EPROTONOSUPPORT", "as unix(7) hints",
     [says("unix.7", "EPROTONOSUPPORT Passed protocol is not AF_UNIX")]),
    ("trace/explanations.def socket ESOCKTNOSUPPORT",
     "socket(2) does not list this errno; unix(7) does",
     [omits("socket.2", "ESOCKTNOSUPPORT"),
      lists("unix.7", "ESOCKTNOSUPPORT")]),
    ("trace/explanations.def socketpair ESOCKTNOSUPPORT",
     "socketpair(2) does not list this errno; unix(7) does",
     [omits("socketpair.2", "ESOCKTNOSUPPORT"),
      lists("unix.7", "ESOCKTNOSUPPORT")]),
    ("trace/explanations.def socketpair EINVAL",
     "socketpair(2) does not list this errno; socket(2) does",
     [omits("socketpair.2", "EINVAL"), lists("socket.2", "EINVAL")]),
    ("trace/explanations.def bind EACCES",
     "For a Unix domain path bind(2) lists only missing search permission",
     [("lists after", "bind.2", "EACCES", UNIX_ONLY),
      says("bind.2", "EACCES Search permission is denied on a component of "
           "the path prefix")]),
    ("trace/explanations.def bind EINVAL",
     "bind(2) lists ENAMETOOLONG for an address that is too long",
     [lists("bind.2", "ENAMETOOLONG"), says("bind.2", "addr is too long")]),
    ("trace/explanations.def bind EPERM", "bind(2) does not list EPERM",
     [omits("bind.2", "EPERM")]),
    ("trace/explanations.def listen EINVAL", "listen(2) lists no EINVAL",
     [omits("listen.2", "EINVAL")]),
    ("trace/explanations.def connect EAGAIN",
     "connect(2) lists EAGAIN for a non-blocking Unix domain socket, and "
     "says so again under EINPROGRESS",
     [lists("connect.2", "EAGAIN"),
      says("connect.2", "For nonblocking UNIX domain sockets, the socket "
           "is nonblocking"),
      says("connect.2", "(UNIX domain sockets failed with EAGAIN "
           "instead.)")]),
    ("trace/explanations.def connect EINVAL",
     "connect(2) lists EAFNOSUPPORT for a wrong family",
     [lists("connect.2", "EAFNOSUPPORT")]),
    ("trace/explanations.def connect EINVAL",
     "answers EINVAL, as unix(7) says",
     [says("unix.7", "EINVAL Invalid argument passed. A common cause is "
           "that the value AF_UNIX was not specified")]),
    ("trace/explanations.def connect ENOTDIR",
     "connect(2) does not list this errno; path_resolution(7) explains it",
     [omits("connect.2", "ENOTDIR"),
      says("path_resolution.7", "an ENOTDIR error")]),
    ("trace/explanations.def connect ELOOP",
     "connect(2) does not list this errno; path_resolution(7) explains it",
     [omits("connect.2", "ELOOP"), says("path_resolution.7", "ELOOP")]),
    ("trace/explanations.def connect ENAMETOOLONG",
     "connect(2) does not list this errno; path_resolution(7) explains it",
     [omits("connect.2", "ENAMETOOLONG"),
      says("path_resolution.7", "an ENAMETOOLONG error")]),
    ("trace/explanations.def connect EROFS",
     "connect(2) does not list this errno; open(2) lists it for the same "
     "refusal",
     [omits("connect.2", "EROFS"), lists("open.2", "EROFS"),
      says("open.2", "EROFS pathname refers to a file on a read-only "
           "filesystem and write access was requested")]),
    ("trace/explanations.def read ENOTCONN", "ENOTCONN here, as recv(2) lists",
     [lists("recv.2", "ENOTCONN")]),
    ("trace/explanations.def read ENOTCONN", "read(2) does not list ENOTCONN",
     [omits("read.2", "ENOTCONN")]),
    ("trace/explanations.def read EINVAL",
     "read(2) lists EINVAL for an fd attached to an object unsuitable for "
     "reading",
     [lists("read.2", "EINVAL"),
      says("read.2", "fd is attached to an object which is unsuitable for "
           "reading")]),
    ("trace/explanations.def read EINVAL", "only recv(2) lists ENOTCONN",
     [lists("recv.2", "ENOTCONN"), omits("read.2", "ENOTCONN")]),
    ("trace/explanations.def recv EINVAL",
     "recv(2) lists ENOTCONN for an unconnected socket",
     [lists("recv.2", "ENOTCONN")]),
    ("trace/explanations.def read EAGAIN",
     "(recv(2) says so; read(2) does not)",
     [says("recv.2", "a receive timeout had been set and the timeout "
           "expired"), never_says("read.2", "timeout")]),
    ("trace/explanations.def read EINTR",
     "even SA_RESTART does not restart the call (signal(7))",
     [says("signal.7", "regardless of the use of SA_RESTART; they always "
           "fail with the error EINTR"),
      says("signal.7", "when a timeout (SO_RCVTIMEO) has been set on the "
           "socket using setsockopt(2): accept(2), recv(2)")]),
    ("trace/explanations.def accept EINTR",
     "even SA_RESTART does not restart it: signal(7)",
     [says("signal.7", "when a timeout (SO_RCVTIMEO) has been set on the "
           "socket using setsockopt(2): accept(2)")]),
    ("trace/explanations.def connect EINTR",
     "even SA_RESTART does not restart it: signal(7)",
     [says("signal.7", "setsockopt(2): connect(2), send(2), sendto(2), and "
           "sendmsg(2)")]),
    ("trace/explanations.def ppoll EINTR",
     "ppoll is never restarted after a handler, SA_RESTART or not "
     "(signal(7))",
     [says("signal.7", "regardless of the use of SA_RESTART; they always "
           "fail with the error EINTR"),
      says("signal.7", "epoll_pwait(2), poll(2), ppoll(2), select(2), and "
           "pselect(2)")]),
    ("lessons/07-fork/README.md",
     "ppoll is never restarted after a handler: signal(7)",
     [says("signal.7", "regardless of the use of SA_RESTART; they always "
           "fail with the error EINTR"),
      says("signal.7", "epoll_pwait(2), poll(2), ppoll(2), select(2), and "
           "pselect(2)")]),
    ("trace/explanations.def write ENOTCONN",
     "(write(2) does not list ENOTCONN; send(2) does.)",
     [omits("write.2", "ENOTCONN"), lists("send.2", "ENOTCONN")]),
]

# A sentence that says what a page lists, says or names: the page, then
# one of these verbs.
MAN_CLAIM = re.compile(r"\b[a-z_]+\([1-8]\)(?: also| only)? (?:lists|list|"
                       r"does not list|does not|does|prints|says|hints|"
                       r"names|announces)\b")


def claim_places():
    """(place, text) of everything the claims may be in: the prose of each
    document, each variant's meaning and each row of the catalogue, each
    row of the explanation table; whitespace collapsed."""
    for doc in [*DOCS, ROOT / "lessons" / "TEACHING.md"]:
        text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.M | re.S)
        text = re.sub(r"`[^`]+`", "", text)  # code, which quotes no page
        yield str(doc.relative_to(ROOT)), words_of(text)
    catalogue = json.loads((ROOT / "lessons" / "errors.json").read_text())
    for v in catalogue["variants"]:
        yield f"lessons/errors.json {v['name']}", words_of(v["meaning"])
    for u in catalogue["not_provokable"]:
        yield f"lessons/errors.json {u['call']} {u['errno']}", \
            words_of(u["why"])
    table = (ROOT / "trace" / "explanations.def").read_text()
    for call, name, why, fix in re.findall(
            r'EXPLAIN\("([^"]*)", (\w+),\s*"([^"]*)",\s*"([^"]*)"', table):
        yield f"trace/explanations.def {call} {name}", \
            words_of(why + " " + fix)


def claims_of(place):
    """The claims of MAN_CLAIMS that are about a place."""
    return [(phrase, checks) for where, phrase, checks in MAN_CLAIMS
            if place == where or place.startswith(where + " ")
            or place.startswith(where + ",")]


def test_every_man_page_claim_is_in_this_list():
    unlisted = []
    for place, text in claim_places():
        covered = []
        for phrase, _ in claims_of(place):
            covered += [(m.start(), m.end()) for m in
                        re.finditer(re.escape(words_of(phrase)), text)]
        for m in MAN_CLAIM.finditer(text):
            if not any(a <= m.start() < b for a, b in covered):
                around = text[max(0, m.start() - 60):m.end() + 60]
                unlisted.append(f"{place}: ...{around}...")
    assert not unlisted, (
        "sentences that say what a man page lists or says, with no entry in "
        "MAN_CLAIMS (tests/test_lesson_docs.py) to check them against the "
        "installed page:\n" + "\n".join(unlisted))


def test_every_claim_of_the_list_is_still_in_the_documents():
    places = dict(claim_places())
    gone = [f"{where}: {phrase!r}" for where, phrase, _ in MAN_CLAIMS
            if not any(words_of(phrase) in text for place, text in
                       places.items() if place == where or
                       place.startswith(where + " ") or
                       place.startswith(where + ","))]
    assert not gone, "MAN_CLAIMS entries the documents no longer say: " + \
        "; ".join(gone)


@pytest.mark.parametrize("where, phrase, checks", MAN_CLAIMS,
                         ids=[f"{w}: {p}" for w, p, _ in MAN_CLAIMS])
def test_what_the_documents_say_a_man_page_says_it_says(where, phrase,
                                                        checks):
    why_not = no_man_pages()
    if why_not:
        pytest.skip(why_not)
    for kind, page, *what in checks:
        if kind in ("lists", "omits"):
            listed = what[0] in man_errors(page)
            assert listed == (kind == "lists"), (
                f"{where} says {phrase!r}, but {page} "
                f"{'does not list' if kind == 'lists' else 'lists'} "
                f"{what[0]}")
        elif kind == "lists after":
            assert what[0] in man_errors(page, what[1]), (
                f"{where} says {phrase!r}, but {page} does not list "
                f"{what[0]} after {what[1]!r}")
        else:
            found = words_of(what[0]) in words_of(man_text(page))
            assert found == (kind == "says"), (
                f"{where} says {phrase!r}, but {page} "
                f"{'does not say' if kind == 'says' else 'says'} "
                f"{what[0]!r}")


# Quotes: a page, then within a few words a "quoted passage", which must be
# in the installed page word for word.
QUOTE = re.compile(r'\b([a-z_][a-z0-9_-]*)\(([1-8])\)([^".]{0,80}?)"([^"]+)"')


def quotes():
    for place, text in claim_places():
        if place.endswith(".md"):  # the tables' strings hold no quotes
            for m in QUOTE.finditer(text):
                yield place, f"{m.group(1)}.{m.group(2)}", m.group(4)


def test_the_documents_quote_man_pages():
    # Guards the finder: the lessons quote a dozen pages.
    assert len(list(quotes())) >= 15


def test_every_man_page_quote_is_in_the_installed_page():
    why_not = no_man_pages()
    if why_not:
        pytest.skip(why_not)
    wrong = [f"{place} quotes {page.replace('.', '(')}): {quote!r}"
             for place, page, quote in quotes()
             if words_of(quote) not in words_of(man_text(page))]
    assert not wrong, "quotes the installed man pages do not have:\n" + \
        "\n".join(wrong)


# -- predict before you see ----------------------------------------------------

KEY = ROOT / "solutions" / "ANSWERS.md"
# What shows a Predict question's answer: a traced call with its result, a
# line a program prints, a note of the trace.
TELLING = re.compile(r"\) = |^(server|client): |^-> |\.\.\. waiting$")


def predict_answers(lesson):
    """{question number: [regex of each telling part of its answer]}, from
    the teachers' key; "..." in an answer stands for anything."""
    import test_answers
    found = {}
    for (key_lesson, section, number), (_, answer) in \
            test_answers.key_entries().items():
        if key_lesson != lesson or section != "Predict":
            continue
        found[number] = [
            r"\s+".join(r".{0,60}?".join(re.escape(part) for part in
                                    word.split("...")) for word in
                        span.split())
            for span in re.findall(r"`([^`]+)`", answer)
            if len(span) >= 8 and TELLING.search(span)]
    return found


def before_the_run(lesson):
    """What a learner reads from the Predict questions until they have run
    the step, outside <details>: the Predict and Run it sections, and the
    Exercise section, whose steps they run after reading them."""
    text = readme(lesson).read_text()
    parts = [re.search(r"^## %s\n(.*?)(?=^## |\Z)" % name, text,
                       re.M | re.S).group(1)
             for name in ("Predict", "Run it", "Exercise")]
    shown = re.sub(r"<details>.*?</details>", "", "\n".join(parts),
                   flags=re.S)
    return " ".join(shown.split())


@pytest.mark.skipif(not KEY.exists(), reason="no answer key (solutions/) "
                    "here")
@pytest.mark.parametrize("lesson", LESSONS)
def test_no_readme_answers_its_predict_questions_before_the_run(lesson):
    answers = predict_answers(lesson)
    assert sum(map(len, answers.values())) >= 1, \
        f"{lesson}: no telling answer found in the key"
    shown = before_the_run(lesson)
    told = [(number, m.group(0)) for number, patterns in answers.items()
            for pattern in patterns
            for m in [re.search(pattern, shown)] if m]
    assert not told, (
        f"lessons/{lesson}/README.md answers Predict questions before the "
        f"learner has run the step (put what the run prints in a "
        f"<details> block after the command): {told}")


def test_the_predict_check_sees_an_answer():
    # Guards the check above: an answer shown in Run it is found.
    (pattern,) = predict_answers("01-socket")[4]
    assert re.search(pattern, "prints `server: created socket fd -1`")
    assert not re.search(pattern, before_the_run("01-socket"))


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_quiz_comes_before_the_commands_that_answer_it(lesson):
    """make errors prints every answer of the quiz: a README asks for the
    quiz first and shows the commands that run its variants only after
    it."""
    import classroom
    text = readme(lesson).read_text()
    before, quiz = (" ".join(part.split())
                    for part in text.split(classroom.QUIZ_SECTION, 1))
    quizzed = set(re.findall(r"make errors V=([a-z0-9-]+)", quiz))
    assert quizzed
    early = [m.group(0) for m in re.finditer(
        r"make errors(?: (?:N|V)=[a-z0-9-]+)?", before)
        if m.group(0) == "make errors" or "N=" in m.group(0)
        or m.group(0)[14:] in quizzed]
    assert not early, (f"lessons/{lesson}/README.md shows {early} before "
                       "its quiz, which they answer")
    assert f"make quiz N={lesson[:2]}" in before.split(
        "## Deliberate errors", 1)[1]
    assert f"make errors N={lesson[:2]}" in quiz


def test_the_checks_run_programs_where_the_teaching_page_says(monkeypatch):
    """/dev/shm/lab-XXXXXX where /dev/shm is a shared directory in memory
    with 1 GiB free, else /tmp/lab-XXXXXX; mode 0700; removed afterwards.
    A grading copy: in TMPDIR if set, else the same place if /dev/shm
    allows running programs."""
    from conftest import LessonLab
    teaching = (labrun.ROOT / "lessons" / "TEACHING.md").read_text()
    assert "/dev/shm/lab-XXXXXX (mode 0700" in teaching and \
        "where /dev/shm is not a shared directory in memory with 1 GiB " \
        "free" in " ".join(teaching.split())
    assert "made in `TMPDIR` if set (else in /dev/shm, where it is a " \
        "shared directory in memory with 1 GiB free that allows running " \
        "programs, else in /tmp)" in " ".join(teaching.split())
    mounted, options = {}, {}
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            mounted[fields[1]] = fields[2]
            options[fields[1]] = fields[3].split(",")
    space = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    in_memory = mounted.get("/dev/shm") == "tmpfs" and space and \
        space.f_bavail * space.f_frsize >= 1 << 30 and \
        os.stat("/dev/shm").st_mode & 0o1777 == 0o1777
    with LessonLab(labrun.BUILD / "solutions" / "01-socket",
                   "01-socket") as lab:
        where = lab.dir
        assert str(where.parent) == ("/dev/shm" if in_memory else "/tmp")
        assert where.name.startswith("lab-")
        assert where.stat().st_mode & 0o777 == 0o700
    assert not where.exists()
    runs_programs = in_memory and "noexec" not in options["/dev/shm"]
    monkeypatch.delenv("TMPDIR", raising=False)
    for tmpdir in (None, where.parent):
        if tmpdir:
            monkeypatch.setenv("TMPDIR", str(tmpdir))
        copy = labrun.work_dir("lab-grade-")
        copy.rmdir()
        assert str(copy.parent) == (str(tmpdir) if tmpdir else "/dev/shm"
                                    if runs_programs else "/tmp")


@pytest.mark.parametrize("real, said, rewritten", [
    ("[server 123] accept(3) = 4", "[server 9] accept(3) = 5",
     "[server 9] accept(3) = 4"),
    ("[server 123] signal SIGINT delivered",
     "[server 9] signal SIGTERM delivered",
     "[server 9] signal SIGINT delivered"),
])
def test_an_excerpt_rewritten_from_a_run_keeps_its_pid_and_its_shape(
        real, said, rewritten):
    assert excerpts.with_pid_of(real, said) == rewritten
