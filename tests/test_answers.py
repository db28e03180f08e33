"""The teachers' answer key keeps step with the lesson READMEs.

Every numbered question of a README's Predict and Exercise sections has an
entry in solutions/ANSWERS.md (`### Predict N` or `### Exercise N` under
the lesson's `## NN-name`) that quotes the question word for word, and the
key has no entry the READMEs lack.
"""
import json
import re

import pytest

import labrun

ROOT = labrun.ROOT
KEY = ROOT / "solutions" / "ANSWERS.md"
LESSONS = [lesson["id"] for lesson in json.loads(
    (ROOT / "lessons" / "lessons.json").read_text())["lessons"]]
# A hand-out has no solutions/, so no key to check.
pytestmark = pytest.mark.skipif(not KEY.exists(), reason="no solutions/ here")


def words(text):
    return " ".join(text.split())


def readme_questions(lesson):
    """{(section, number): question text} of a lesson README."""
    text = (ROOT / "lessons" / lesson / "README.md").read_text()
    found = {}
    for section in ("Predict", "Exercise"):
        body = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % section, text,
                         re.M | re.S).group(1)
        for number, question in re.findall(
                r"^(\d+)\. (.*?)(?=^\d+\. |^\s*$|\Z)", body, re.M | re.S):
            found[(section, int(number))] = words(question)
    return found


def key_entries():
    """{(lesson, section, number): (quoted question, answer)} of the key."""
    found = {}
    for part in re.split(r"^## ", KEY.read_text(), flags=re.M)[1:]:
        lesson = part.split("\n", 1)[0].strip()
        for section, number, body in re.findall(
                r"^### (Predict|Exercise) (\d+)\n(.*?)(?=^### |\Z)", part,
                re.M | re.S):
            quote = " ".join(line[2:] for line in body.splitlines()
                             if line.startswith("> "))
            answer = "\n".join(line for line in body.splitlines()
                               if line.strip() and not line.startswith(">"))
            found[(lesson, section, int(number))] = (words(quote), answer)
    return found


def test_every_question_has_an_answer_quoting_it():
    entries = key_entries()
    expected = set()
    for lesson in LESSONS:
        for (section, number), question in readme_questions(lesson).items():
            expected.add((lesson, section, number))
            assert (lesson, section, number) in entries, (
                f"solutions/ANSWERS.md has no '### {section} {number}' "
                f"under '## {lesson}'")
            quote, answer = entries[(lesson, section, number)]
            assert quote == question, (
                f"{lesson} {section} {number}: the key quotes\n  {quote}\n"
                f"but the README asks\n  {question}")
            assert answer, f"{lesson} {section} {number}: no answer"
    assert set(entries) == expected, (
        f"entries with no question in the READMEs: "
        f"{sorted(set(entries) - expected)}")


def test_the_key_says_it_is_for_teachers_and_left_out_of_the_handout():
    head = KEY.read_text()[:600]
    assert "for teachers" in head and "make handout" in head
