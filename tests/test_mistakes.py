"""The lesson checks judge learner programs as the corpus says.

tests/mistakes.json holds learner programs, each a small edit of a
solution: mistakes, each with what the first failure of its lesson's
checks must name, and correct programs written differently from the
solution, which every check must accept.  Each entry is judged here as
`make check` judges a learner (tests/mistakes.py: the first failure only);
the entries that need what the trace cannot do yet ("needs") are left out,
with the reason.  The programs are compiled once, in one parallel make,
and kept in build/mistakes/ by what they are made of, so that a second run
compiles nothing.  Not in a hand-out: it edits the solutions.
"""
import json
import shutil

import pytest

import labrun
import mistakes

CORPUS = json.loads(mistakes.CORPUS.read_text())
JUDGED = [(i, e) for i, e in enumerate(CORPUS) if mistakes.runnable(e)]
WANTS = {"fail": "caught, and named by its first failure", "pass": "accepted"}


def test_every_entry_of_the_corpus_is_well_formed():
    seen, bad = set(), []
    for entry in CORPUS:
        found = mistakes.problems(entry, seen)
        if not found:
            try:
                mistakes.edited(entry)
            except ValueError as e:
                found.append(str(e))
        bad += [f"{entry.get('lesson')}/{entry.get('name')}: {problem}"
                for problem in found]
    assert not bad, "\n".join(bad)


@pytest.fixture(scope="module")
def built():
    where = labrun.scratch_dir("lab-mistakes-")
    try:
        yield mistakes.build(JUDGED, where)
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.parametrize("index, entry", JUDGED,
                         ids=[f"{e['lesson']}/{e['name']}" for _, e in JUDGED])
def test_each_mistake_is_named_first_and_each_correct_program_accepted(
        built, index, entry):
    code_dir, messages = built[index]
    assert messages is None, f"it does not build:\n{messages}"
    found = mistakes.first_failure(code_dir, entry["lesson"])
    result = mistakes.judge(entry, found)
    assert mistakes.as_it_should_be(entry, result), (
        f"{entry['why']}\nWanted: {WANTS[entry['verdict']]}; it was "
        f"{result}" + (f" (the names wanted: {entry.get('names')})"
                       if entry["verdict"] == "fail" else "") +
        (f". The first failure:\n{found[0]}" if found else "."))


def test_the_entries_left_out_say_why():
    left = [e for e in CORPUS if not mistakes.runnable(e)]
    assert all(e.get("needs") in mistakes.NEEDS for e in left)
