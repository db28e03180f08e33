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


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_command_shown_exists(doc, targets):
    shown = set(shown_make_targets(doc))
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


# -- excerpts of real runs ------------------------------------------------------

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
