"""What a course needs from the gradebook (issue 18): expected learners, one submission per learner, due
dates, regrading one learner, anonymised export, LMS import files, Gradescope visibility, and a class
report that is safe to open whatever learners typed."""

from __future__ import annotations

import csv
import html.parser
import io
import json
import re
from pathlib import Path

import pytest

from labcheck.grading import batch, course, outputs, report, submission
from labcheck.loader import find_lab
from tests.conftest import run_labcheck
from tests.grading_data import make_submission, resign

LAB = find_lab("01")
KEY = submission.CourseKey(b"the course key of the course tests, 32+")
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def key_file(tmp_path) -> Path:
    path = tmp_path / "course.key"
    path.write_bytes(KEY.secret)
    return path


def made_at(path: Path, when: str) -> Path:
    return resign(path, KEY, lambda d: d.update(submitted_at=when))


def table(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def by_learner(path: Path) -> dict[str, dict[str, str]]:
    return {r["learner"]: r for r in table(path)}


def grade(*args: str, timeout: float = 120):
    return run_labcheck("grade", "01", *args, timeout=timeout)


@pytest.fixture()
def three(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    made_at(make_submission(folder, "ana", 6, key=KEY, name="Ana Lima"), "2026-12-01T10:00:00+00:00")
    made_at(make_submission(folder, "ben", 3, key=KEY, name="Ben Ode"), "2026-12-01T23:00:00+00:00")
    made_at(make_submission(folder, "cy", 2, key=KEY, name="Cy Twombly"), "2026-12-03T09:30:00+00:00")
    return folder


# --- expected learners -----------------------------------------------------------------------------


def test_every_expected_learner_has_a_row_and_strangers_are_named(tmp_path, three, key_file):
    expected = tmp_path / "learners.csv"
    expected.write_text("learner,name\nana,Ana Lima\nben,\ndee,Dee Dee\n")
    done = grade(str(three), "--course-key", str(key_file), "--expected", str(expected), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr  # a missing submission is the learner's, not the grader's
    rows = by_learner(tmp_path / "out" / "grades.csv")
    assert set(rows) == {"ana", "ben", "cy", "dee"}
    assert rows["dee"]["status"] == "MISSING" and rows["dee"]["note"] == "no submission"
    assert rows["dee"]["total"] == "0" and rows["dee"]["max"] == "6" and rows["dee"]["name"] == "Dee Dee"
    text = (tmp_path / "out" / "report.txt").read_text()
    assert "No submission (1):\n    dee" in text and "Not on the expected list (1):\n    cy" in text
    assert "1 handed in nothing" in done.stdout


def test_an_expected_list_with_a_bad_line_is_a_usage_error_naming_it(tmp_path, three):
    expected = tmp_path / "learners.csv"
    expected.write_text("learner\nana\nana\n")
    done = grade(str(three), "--expected", str(expected), "-o", str(tmp_path / "out"))
    assert done.returncode == 2 and f"{expected}:3: learner ana is also on line 2" in done.stderr


# --- several submissions of one learner ----------------------------------------------------------------


def test_the_latest_signed_submission_counts_and_the_others_are_listed(tmp_path, three, key_file):
    made_at(make_submission(three, "ana", 1, key=KEY, file_name="ana-early.json"), "2026-11-30T08:00:00+00:00")
    forged = made_at(make_submission(three, "ben", 6, key=KEY, file_name="ben-late.json"),
                     "2026-12-02T08:00:00+00:00")
    document = json.loads(forged.read_text())
    document["learner"]["name"] = "Ben (edited after signing)"
    forged.write_text(json.dumps(document))  # later, but its signature no longer matches
    done = grade(str(three), "--course-key", str(key_file), "-o", str(tmp_path / "out"))
    rows = by_learner(tmp_path / "out" / "grades.csv")
    assert len(rows) == 3
    assert rows["ana"]["total"] == "6" and "supersedes" in rows["ana"]["note"] and "ana-early.json" in rows["ana"]["note"]
    assert rows["ben"]["total"] == "3" and rows["ben"]["status"] == "FAIL"  # the tampered file does not win
    text = (tmp_path / "out" / "report.txt").read_text()
    assert "Superseded submissions (the latest signed submitted_at counts):" in text
    assert re.search(r"ben: counted .*ben\.json .*superseded .*ben-late\.json .*signature does not match", text)
    assert done.returncode == 0, done.stderr  # the tampered file is listed, not the learner's grade


# --- due dates -------------------------------------------------------------------------------------------


def test_late_submissions_are_flagged_and_lose_the_penalty(tmp_path, three, key_file):
    done = grade(str(three), "--course-key", str(key_file), "--due", "2026-12-01T23:59:00+00:00",
                 "--late-penalty", "25/day", "-o", str(tmp_path / "out"), "--format", "csv,canvas")
    assert done.returncode == 0, done.stderr
    rows = by_learner(tmp_path / "out" / "grades.csv")
    assert rows["ana"]["late"] == "no" and rows["ben"]["late"] == "no"
    assert rows["cy"]["late"] == "yes (33 h 31 min)"
    assert rows["cy"]["total"] == "1"  # 2 points, two days (or part of one) late at 25% a day
    assert "late by 33 h 31 min: -1 of 2" in rows["cy"]["note"]
    assert "Late (due 2026-12-01T23:59:00+00:00, penalty 25% per day): 1" in (tmp_path / "out" / "report.txt").read_text()
    canvas = {r["SIS Login ID"]: r for r in table(tmp_path / "out" / "canvas.csv")[1:]}
    assert canvas["cy"][f"Lab 01: {LAB.title}"] == "1"


def test_a_flat_penalty_and_bad_due_options(tmp_path, three, key_file):
    grade(str(three), "--course-key", str(key_file), "--due", "2026-12-01", "--late-penalty", "50",
          "-o", str(tmp_path / "out"))
    rows = by_learner(tmp_path / "out" / "grades.csv")
    assert [rows[l]["late"][:3] for l in ("ana", "ben", "cy")] == ["yes", "yes", "yes"]  # midnight UTC
    assert rows["ana"]["total"] == "3"
    for args, words in ((["--late-penalty", "10"], "--late-penalty needs --due"),
                        (["--due", "next friday"], "--due 'next friday': give a date and time"),
                        (["--due", "2026-12-01", "--late-penalty", "120%"], "at most 100")):
        done = grade(str(three), *args, "-o", str(tmp_path / "bad"))
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


# --- regrade one learner -------------------------------------------------------------------------------------


def test_only_regrades_one_learner_and_keeps_everyone_else(tmp_path, three, key_file):
    out = tmp_path / "out"
    assert grade(str(three), "--course-key", str(key_file), "-o", str(out)).returncode == 0
    before = by_learner(out / "grades.csv")
    made_at(make_submission(three, "ben", 5, key=KEY, name="Ben Ode"), "2026-12-01T23:30:00+00:00")
    made_at(make_submission(three, "cy", 6, key=KEY, name="Cy Twombly"), "2026-12-03T09:30:00+00:00")
    done = grade(str(three), "--course-key", str(key_file), "-o", str(out), "--only", "ben")
    assert done.returncode == 0, done.stderr
    after = by_learner(out / "grades.csv")
    assert after["ben"]["total"] == "5" and after["cy"] == before["cy"] and after["ana"] == before["ana"]
    assert "regraded learner ben: 1 submission(s)" in done.stderr
    assert "1 other result(s) are out of date (changed since they were graded): kept as they are" in done.stderr
    nobody = grade(str(three), "-o", str(out), "--only", "zed", "--course-key", str(key_file))
    assert nobody.returncode == 2 and "--only zed: no submission or roster row of that learner" in nobody.stderr


# --- anonymised export -----------------------------------------------------------------------------------------


def test_anonymized_outputs_hold_stable_pseudonyms_and_nothing_that_names_a_learner(tmp_path, three, key_file):
    salt = tmp_path / "salt"
    salt.write_text("a salt for this term, kept by the instructor")
    formats = "csv,json,junit,gradescope,canvas,moodle"
    first = grade(str(three), "--anonymize", "--salt", str(salt), "--format", formats, "-o", str(tmp_path / "a"),
                  "--html", str(tmp_path / "a.html"))
    assert first.returncode == 0, first.stderr
    grade(str(three), "--anonymize", "--salt", str(salt), "-o", str(tmp_path / "b"))
    grade(str(three), "--anonymize", "--course-key", str(key_file), "-o", str(tmp_path / "c"))
    ids_a = sorted(by_learner(tmp_path / "a" / "grades.csv"))
    assert ids_a == sorted(by_learner(tmp_path / "b" / "grades.csv"))  # stable for one salt
    assert not set(ids_a) & set(by_learner(tmp_path / "c" / "grades.csv"))  # another salt, other ids
    assert all(re.fullmatch(r"anon-[0-9a-f]{10}", learner) for learner in ids_a)
    # results.jsonl is the grader's own store (what --resume reads): it keeps who is who.
    written = [p for p in (tmp_path / "a").rglob("*") if p.is_file() and p.name != "results.jsonl"]
    texts = {path.name: path.read_text(encoding="utf-8") for path in written + [tmp_path / "a.html"]}
    texts["the report printed"] = first.stdout
    for name, text in texts.items():
        for private in ("ana", "ben", "cy", "Ana Lima", "Ben Ode", "Twombly", "lab01-", str(three), "cy.json"):
            assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(private)}(?![A-Za-z0-9])", text), (name, private)
    missing = grade(str(three), "--anonymize", "-o", str(tmp_path / "d"))
    assert missing.returncode == 2 and "--anonymize needs a secret salt" in missing.stderr


# --- LMS import files -------------------------------------------------------------------------------------------


def test_canvas_and_moodle_import_files(tmp_path, three, key_file):
    broken = three / "dan.json"
    broken.write_text("{not json")
    done = grade(str(three), "--course-key", str(key_file), "--format", "canvas,moodle", "-o", str(tmp_path / "out"))
    assert done.returncode == 3
    canvas = table(tmp_path / "out" / "canvas.csv")
    column = f"Lab 01: {LAB.title}"
    assert list(canvas[0]) == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]
    assert canvas[0]["Student"] == "Points Possible" and canvas[0][column] == "6"
    scores = {r["SIS Login ID"]: (r["Student"], r[column]) for r in canvas[1:]}
    assert scores == {"ana": ("Ana Lima", "6"), "ben": ("Ben Ode", "3"), "cy": ("Cy Twombly", "2"), "dan": ("", "")}
    moodle = {r["username"]: r for r in table(tmp_path / "out" / "moodle.csv")}
    assert moodle["ben"][column] == "3" and moodle["ben"]["feedback"].startswith("FAIL: 3/6")
    assert moodle["dan"][column] == "" and "could not be graded" in moodle["dan"]["feedback"]
    assert str(tmp_path) not in (tmp_path / "out" / "moodle.csv").read_text()  # learners read feedback


# --- Gradescope --------------------------------------------------------------------------------------------------


def test_gradescope_visibility_per_step_comes_from_lab_yaml_and_no_grader_path_shows(tmp_path, three):
    lab = LAB.model_copy(deep=True)
    lab._folder = LAB.folder
    lab.steps[5].visibility = "after_published"
    lab.steps[0].visibility = "hidden"
    broken = three / "dan.json"
    broken.write_text(json.dumps({"format": "labcheck-submission", "version": 1, "lab": "07"}))
    options = batch.Options(lab=lab, steps=list(lab.steps), out=tmp_path / "out", formats=["gradescope"])
    batch.run(options, batch.file_tasks([three])[0])
    documents = {p.parent.name: json.loads(p.read_text()) for p in (tmp_path / "out" / "gradescope").glob("*/results.json")}
    assert [t["visibility"] for t in documents["ana"]["tests"]] == ["hidden"] + ["visible"] * 4 + ["after_published"]
    everything = json.dumps(documents)
    assert str(tmp_path) not in everything and "/in/" not in everything
    assert documents["dan"]["score"] == 0 and "Could not be graded" in documents["dan"]["output"]


def test_the_visibility_field_is_validated_in_lab_yaml():
    from pydantic import ValidationError

    from labcheck.model import Step

    data = LAB.steps[0].model_dump(by_alias=True)
    with pytest.raises(ValidationError):
        Step.model_validate({**data, "visibility": "sometimes"})


# --- the report: safe whatever learners typed --------------------------------------------------------------------


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _value in attrs]

    def handle_data(self, data):
        self.text.append(data)


def test_learner_text_is_escaped_in_the_html_report_and_neutral_in_csv(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    make_submission(folder, "ana", 6, key=KEY, name=XSS)
    make_submission(folder, "ben", 2, key=KEY, name="=HYPERLINK(\"http://x\")")
    hostile = make_submission(folder, "cy", 2, key=KEY, name="Cy")

    def evidence_says_xss(document):  # text a learner's cluster printed, shown as a check's observed output
        for call in document["evidence"]["calls"]:
            if call["op"] == "logs":
                call["result"] = XSS + "\n" + call["result"]

    resign(hostile, KEY, evidence_says_xss)
    done = grade(str(folder), "--course-key", str(key_file), "-o", str(tmp_path / "out"), "--html",
                 str(tmp_path / "report.html"), "--format", "csv,canvas,moodle")
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(page)
    assert "img" not in parsed.tags and "script" not in parsed.tags
    assert not [a for a in parsed.attributes if a.startswith("on")]
    assert XSS in "".join(parsed.text)  # shown as text, escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    for name in ("grades.csv", "canvas.csv", "moodle.csv"):
        cells = [c for row in csv.reader(io.StringIO((tmp_path / "out" / name).read_text())) for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], name
        assert name == "moodle.csv" or "'=HYPERLINK(\"http://x\")" in cells, name  # moodle.csv has no names


def test_the_html_report_has_a_row_per_learner_and_a_score_histogram(tmp_path, three, key_file):
    grade(str(three), "--course-key", str(key_file), "-o", str(tmp_path / "out"), "--html", str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text()
    learners = re.findall(r"<tr><td>([a-z]+)</td><td>", page)
    assert learners == ["ana", "ben", "cy"]
    assert page.count('class="bar"') == len(LAB.steps) and "<script" not in page
    heights = re.findall(r'<div style="height:(\d+)%" title="([^"]+): (\d+) learner', page)
    assert [label for _h, label, _n in heights] == [f"{i * 10}-{i * 10 + 10}%" for i in range(10)]
    assert {label: int(n) for _h, label, n in heights if int(n)} == {"30-40%": 1, "50-60%": 1, "90-100%": 1}


def test_the_histogram_puts_a_full_score_in_the_last_bucket():
    rows = {str(n): {"status": "PASS", "total": n, "max_total": 4} for n in range(5)}
    assert [count for _label, count in report.histogram(rows)] == [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]


def test_pseudonyms_do_not_leak_learners_through_other_words():
    record = {"key": "file:/x/ana.json", "learner": "ana", "name": "Ana", "source": "/x/ana.json",
              "namespace": "lab01-ana", "error": None, "note": None, "steps": [
                  {"id": "s", "checks": [{"summary": "banana in lab01-ana for ana", "expected": None,
                                          "observed": None, "cause": None}]}]}
    shown = course.anonymized(record, b"a salt of sixteen bytes or more")
    assert shown["steps"][0]["checks"][0]["summary"] == f"banana in <namespace> for {shown['learner']}"
