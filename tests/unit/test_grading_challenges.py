"""Challenges submitted and bulk-graded like labs (issue 20): the signed submission carries the
learner's challenge record, and the gradebook shows hints used and minutes from start to fix from it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from labcheck.errors import ExitStatus
from labcheck.grading import batch, challenge, outputs, roster, submission
from labcheck.loader import find_lab
from labcheck.state import Progress
from tests.conftest import call_main, run_labcheck
from tests.grading_data import (CHALLENGE, ClassroomCluster, LayeredCluster, challenge_lab, make_challenge_submission,
                                make_submission, resign)

KEY = submission.CourseKey(b"a course key for the challenge tests, 32+ bytes")
LAB = challenge_lab()
START = "2026-12-05T18:10:00+00:00"

# Three learners: one fixed it in 12.5 minutes with two hints, one gave up after every hint (the fault is
# still in), one bent the Pods to the broken selector (a workaround: it FAILS) with one hint.
LEARNERS = {
    "alice": ("fixed", {"started_at": START, "fixed_at": "2026-12-05T18:22:30+00:00", "hints": 2,
                        "gave_up": False, "seed": "alice", "cluster": "uid-a"}),
    "bob": ("broken", {"started_at": START, "fixed_at": None, "hints": 3, "gave_up": True,
                       "seed": "a-random-seed-of-bobs", "cluster": "uid-b"}),
    "carol": ("workaround-relabel-pods", {"started_at": START, "fixed_at": None, "hints": 1, "gave_up": False,
                                          "seed": "carol", "cluster": "uid-c"}),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    made = tmp_path_factory.mktemp("challenge") / "submissions"
    made.mkdir()
    for learner, (case, entry) in LEARNERS.items():
        make_challenge_submission(made, learner, case, entry, key=KEY)
    return made


def grade(folder: Path, out: Path, lab=LAB, key=KEY) -> batch.Outcome:
    options = batch.Options(lab=lab, steps=list(lab.steps), out=out, formats=list(outputs.FORMATS),
                            course_key=key, jobs=2, html=out / "report.html")
    return batch.run(options, batch.file_tasks([folder])[0])


@pytest.fixture(scope="module")
def graded(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("graded")
    return grade(folder, out), out


# --- the submission ---------------------------------------------------------------------------


def test_the_submission_carries_the_challenge_record_inside_the_signature(folder):
    text = (folder / "bob.json").read_text(encoding="utf-8")
    document = submission.read(folder / "bob.json")
    assert document["lab"] == CHALLENGE and document["steps"] == ["fixed"]
    assert document["challenge"] == {
        "started_at": START, "fixed_at": None, "hints": 3, "gave_up": True,
        "seed_digest": challenge.seed_digest(CHALLENGE, "a-random-seed-of-bobs")}
    assert "a-random-seed-of-bobs" not in text  # the seed's digest only
    assert submission.verify(document, KEY) == "verified"
    assert document["lab_digest"] == submission.lab_digest(LAB)


def test_a_challenge_digest_covers_its_challenge_yaml(tmp_path):
    copy = tmp_path / "silent-shop"
    shutil.copytree(LAB.folder, copy, ignore=shutil.ignore_patterns("evidence"))
    moved = challenge_lab()
    moved._folder = copy
    assert submission.lab_digest(moved) == submission.lab_digest(LAB)
    (copy / "challenge.yaml").write_text((copy / "challenge.yaml").read_text() + "# edited\n")
    assert submission.lab_digest(moved) != submission.lab_digest(LAB)


def test_a_passing_submission_with_no_passing_check_before_is_the_fix_time(tmp_path):
    entry = {"started_at": START, "fixed_at": None, "hints": 0, "gave_up": False, "seed": "dan"}
    document = submission.read(make_challenge_submission(tmp_path, "dan", "fixed", entry))
    assert document["challenge"]["fixed_at"] == document["submitted_at"]
    broken = submission.read(make_challenge_submission(tmp_path, "eve", "broken", entry))
    assert broken["challenge"]["fixed_at"] is None


# --- the gradebook ----------------------------------------------------------------------------


def test_challenge_submissions_grade_with_hints_and_time(graded):
    outcome, _out = graded
    by_learner = {r["learner"]: r for r in outcome.records.values()}
    assert {name: r["status"] for name, r in by_learner.items()} == {"alice": "PASS", "bob": "FAIL",
                                                                       "carol": "FAIL"}
    assert {r["integrity"] for r in by_learner.values()} == {"verified"}
    alice, bob, carol = (by_learner[name]["challenge"] for name in ("alice", "bob", "carol"))
    assert (alice["hints"], alice["hints_available"], alice["minutes_to_fix"], alice["gave_up"]) == (2, 3, 12.5, False)
    assert (bob["hints"], bob["minutes_to_fix"], bob["gave_up"]) == (3, None, True)
    assert (carol["hints"], carol["minutes_to_fix"], carol["gave_up"]) == (1, None, False)
    # alice and carol started with --learner (their id drew the fault's details); bob's seed was random
    assert (alice["seeded_by_learner"], bob["seeded_by_learner"], carol["seeded_by_learner"]) == (True, False, True)
    blocker = by_learner["carol"]["steps"][0]["checks"]
    assert [c["id"] for c in blocker if c["status"] == "FAIL"] == ["fronts-the-deployment"]


def test_the_csv_has_the_challenge_columns_after_max(graded):
    _outcome, out = graded
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline="")))
    assert list(rows[0]) == ["learner", "name", "status", "1-fixed", "total", "max", "hints", "minutes_to_fix",
                             "gave_up", "integrity", "late", "same_cluster_as", "not_gradable", "source", "note"]
    shown = {r["learner"]: (r["status"], r["1-fixed"], r["hints"], r["minutes_to_fix"], r["gave_up"]) for r in rows}
    assert shown == {"alice": ("PASS", "1", "2", "12.5", "no"), "bob": ("FAIL", "0", "3", "", "yes"),
                     "carol": ("FAIL", "0", "1", "", "no")}


def test_json_gradescope_junit_lms_and_reports_show_the_record(graded):
    _outcome, out = graded
    document = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert document["lab"] == CHALLENGE and document["challenge"] == {"hints_available": 3}
    assert {r["learner"]: r["challenge"]["minutes_to_fix"] for r in document["learners"]} == {
        "alice": 12.5, "bob": None, "carol": None}
    alice = json.loads((out / "gradescope" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert "Challenge 04-silent-shop (The shop answers nobody): 1/1 points" in alice["output"]
    assert "Your challenge record: fixed in 12.5 min with 2 of 3 hints." in alice["output"]
    bob = json.loads((out / "gradescope" / "bob" / "results.json").read_text(encoding="utf-8"))
    assert "Your challenge record: not fixed, 3 of 3 hints, gave up." in bob["output"]
    junit = (out / "grades.junit.xml").read_text(encoding="utf-8")
    assert 'name="minutes_to_fix" value="12.5"' in junit and 'name="gave_up" value="yes"' in junit
    canvas = next(csv.reader((out / "canvas.csv").open(encoding="utf-8")))
    assert canvas[-1] == "Challenge 04-silent-shop: The shop answers nobody"
    moodle = {r["username"]: r["feedback"] for r in csv.DictReader((out / "moodle.csv").open(encoding="utf-8"))}
    assert moodle["alice"].startswith("PASS: 1/1 (fixed in 12.5 min with 2 of 3 hints)")
    report = (out / "report.txt").read_text(encoding="utf-8")
    assert report.startswith("Challenge 04-silent-shop: The shop answers nobody\n")
    assert ("Challenge records of 3 learner(s): 1 fixed (median 12.5 min, fastest 12.5 min), 2.0 hint(s) used "
            "on average, 1 gave up.") in report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>challenge record</th>" in html and "<td>not fixed, 3 of 3 hints, gave up</td>" in html


def test_a_lab_gradebook_has_no_challenge_columns(tmp_path):
    lab = find_lab("01")
    make_submission(tmp_path / "in", "zoe", 3, key=KEY)
    options = batch.Options(lab=lab, steps=list(lab.steps), out=tmp_path / "out", formats=["csv", "json"],
                            course_key=KEY, jobs=1, html=tmp_path / "report.html")
    outcome = batch.run(options, batch.file_tasks([tmp_path / "in"])[0])
    assert "challenge" not in next(iter(outcome.records.values()))
    header = next(csv.reader((tmp_path / "out" / "grades.csv").open(encoding="utf-8")))
    assert not set(header) & set(outputs.CHALLENGE_COLUMNS)
    assert "challenge" not in json.loads((tmp_path / "out" / "grades.json").read_text(encoding="utf-8"))
    assert "challenge record" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_challenge_graded_live_has_no_record_to_show(tmp_path):
    fixed = LAB.folder / "evidence" / "fixed.json"
    namespace = LayeredCluster([fixed]).layers[0].meta["namespace"]
    classroom = roster.Classroom(context="kind-netlabs-multi")
    classroom.cluster_for = lambda learner: ClassroomCluster([fixed], seed=learner.learner)
    options = batch.Options(lab=LAB, steps=list(LAB.steps), out=tmp_path, formats=["csv"], classroom=classroom)
    outcome = batch.run(options, batch.roster_tasks([roster.Learner("ana", "Ana", namespace=namespace)]))
    (record,) = outcome.records.values()
    assert (record["status"], record["integrity"]) == ("PASS", "live") and "challenge" not in record
    row = next(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    assert (row["1-fixed"], row["hints"], row["minutes_to_fix"], row["gave_up"]) == ("1", "", "", "")


# --- what is refused --------------------------------------------------------------------------


def test_a_tampered_hint_count_breaks_the_signature(folder, tmp_path):
    document = json.loads((folder / "bob.json").read_text(encoding="utf-8"))
    document["challenge"]["hints"] = 0
    document["challenge"]["gave_up"] = False
    (tmp_path / "in").mkdir()
    submission.write(document, tmp_path / "in" / "bob.json")
    outcome = grade(tmp_path / "in", tmp_path / "out")
    record = next(iter(outcome.records.values()))
    assert (record["status"], record["integrity"]) == ("ERROR", "rejected")
    assert record["error"] == "the signature does not match: the file was changed after labcheck wrote it"
    assert "challenge" not in record  # nothing of a rejected file reaches the gradebook
    row = next(csv.DictReader((tmp_path / "out" / "grades.csv").open(encoding="utf-8")))
    assert (row["hints"], row["minutes_to_fix"], row["gave_up"]) == ("", "", "")


def test_a_challenge_submission_graded_as_another_is_refused_with_one_line(folder, tmp_path):
    done = run_labcheck("grade", "04-dark-after-deploy", str(folder / "alice.json"), "-o", str(tmp_path / "out"),
                        "--course-key", str(_key_file(tmp_path)))
    assert done.returncode == ExitStatus.CANNOT_GRADE, done.stderr
    assert "Traceback" not in done.stderr
    row = next(csv.DictReader((tmp_path / "out" / "grades.csv").open(encoding="utf-8")))
    assert (row["status"], row["note"]) == (
        "ERROR", "this is a submission for challenge 04-silent-shop, not challenge 04-dark-after-deploy")
    as_lab = grade(folder, tmp_path / "as-lab", lab=find_lab("04"))
    assert {r["error"] for r in as_lab.records.values()} == {
        "this is a submission for challenge 04-silent-shop, not lab 04"}


def test_a_lab_submission_graded_as_a_challenge_is_refused(tmp_path):
    make_submission(tmp_path / "in", "zoe", 6, key=KEY)
    outcome = grade(tmp_path / "in", tmp_path / "out")
    assert next(iter(outcome.records.values()))["error"] == (
        "this is a submission for lab 01, not challenge 04-silent-shop")


@pytest.mark.parametrize("change, error", [
    (lambda d: d.pop("challenge"), "a submission for challenge 04-silent-shop carries its challenge record"),
    (lambda d: d["challenge"].update(fixed_at="2026-12-05T18:00:00+00:00"),
     "challenge.fixed_at is before challenge.started_at"),
    (lambda d: d["challenge"].update(started_at="yesterday"), "challenge: not a time"),
    (lambda d: d["challenge"].update(hints=-1), "challenge.hints: Input should be greater than or equal to 0"),
    (lambda d: d["challenge"].pop("seed_digest"), "challenge.seed_digest: Field required"),
    (lambda d: d.update(lab="04-../../etc"), "lab: String should match pattern"),
])
def test_a_challenge_record_that_cannot_be_true_is_refused(folder, tmp_path, change, error):
    path = resign(folder / "alice.json", KEY, change, to=tmp_path / "alice.json")
    with pytest.raises(submission.SubmissionRejected) as caught:
        submission.read(path)
    assert str(caught.value).startswith(error)


def test_a_lab_submission_with_a_challenge_record_is_refused(folder, tmp_path):
    record = submission.read(folder / "alice.json")["challenge"]
    lab_file = make_submission(tmp_path, "zoe", 6, key=KEY)
    resign(lab_file, KEY, lambda d: d.update(challenge=record))
    with pytest.raises(submission.SubmissionRejected, match="a submission for lab 01 carries no challenge record"):
        submission.read(lab_file)


# --- `labcheck submit ID` ---------------------------------------------------------------------


def _key_file(folder: Path) -> Path:
    path = folder / "course.key"
    path.write_bytes(KEY.secret)
    return path


def test_submit_a_challenge_not_started_is_a_usage_error(isolated_env, tmp_path):
    done = run_labcheck("submit", CHALLENGE, "--learner", "ann", env=isolated_env)
    assert done.returncode == ExitStatus.USAGE
    assert done.stderr.strip().endswith(f"challenge {CHALLENGE} is not started here: `labcheck challenge start "
                                        f"{CHALLENGE}` starts it (your hints and time come from that start)")


def test_submit_a_challenge_signs_its_record_and_keeps_the_fix_time(isolated_env, tmp_path, monkeypatch, capsys):
    import labcheck.session

    progress = Progress.load()
    progress.challenges[CHALLENGE] = {"started_at": START, "seed": "ann", "hints": 1, "fixed_at": None,
                                      "gave_up": False, "cluster": "uid"}
    progress.save()
    fixed = LayeredCluster([LAB.folder / "evidence" / "fixed.json"], seed="ann")
    monkeypatch.setattr(labcheck.session, "live_cluster", lambda lab, context: fixed)
    out_path = tmp_path / "sub.json"
    code, out, err = call_main(capsys, "submit", CHALLENGE, "--learner", "ann", "--course-key",
                               str(_key_file(tmp_path)), "--namespace", fixed.layers[0].meta["namespace"],
                               "-o", str(out_path))
    assert code == ExitStatus.PASSED, err
    document = submission.read(out_path)
    assert submission.verify(document, KEY) == "verified"
    assert document["challenge"]["fixed_at"] == document["submitted_at"] and document["challenge"]["hints"] == 1
    assert Progress.load().challenges[CHALLENGE]["fixed_at"] == document["submitted_at"]
    assert f"Wrote {out_path}: passes (fixed in " in out and "with 1 of 3 hints), signed with course key" in out
