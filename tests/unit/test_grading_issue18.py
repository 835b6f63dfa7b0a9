"""Issue 18's bugs in bulk grading, each shown fixed. Every test here fails on 8e634f4 (before this work).

1. --resume kept results by path only: a changed file, or a course key given on resume, kept old rows.
2. Gradescope files per learner id overwrote each other; several learners wrote no results.json at the top.
3. --merge with a shard missing exited 0 with rows missing.
4. Folder mode dropped links to submissions and *.JSON; a missing path aborted the batch.
5. /dev/zero ran out of memory; memory grew with the number of workers, not the bytes being graded.
6. Wrongly shaped objects in signed evidence crashed a check ("check raised TypeError").
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from labcheck.grading import submission
from labcheck.loader import find_lab
from tests.conftest import run_labcheck
from tests.grading_data import make_hostile, make_submission, resign

LAB = find_lab("01")
KEY = submission.CourseKey(b"issue 18's course key, long enough to sign")


@pytest.fixture()
def key_file(tmp_path) -> Path:
    path = tmp_path / "course.key"
    path.write_bytes(KEY.secret)
    return path


def rows(out: Path) -> dict[str, dict[str, str]]:
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8")))}


def grade(*args: str, timeout: float = 120):
    return run_labcheck("grade", "01", *args, timeout=timeout)


# --- 1. resume: content and key, not the path ------------------------------------------------


def test_resume_grades_a_changed_submission_again_and_says_how_many(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    for learner, level in (("ana", 1), ("ben", 2), ("cy", 3)):
        make_submission(folder, learner, level, key=KEY)
    out = tmp_path / "out"
    assert grade(str(folder), "--course-key", str(key_file), "-o", str(out)).returncode == 0
    assert rows(out)["ben"]["total"] == "2"
    make_submission(folder, "ben", 5, key=KEY)  # ben hands in again, same file name
    resumed = grade(str(folder), "--course-key", str(key_file), "-o", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out)["ben"]["total"] == "5"
    assert "1 kept result(s) changed since they were graded: graded again" in resumed.stderr
    assert "(graded 1, kept 2 from before)" in resumed.stderr


def test_resume_with_a_course_key_after_a_run_without_one_checks_every_signature(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(3):
        make_submission(folder, f"unsigned{n}", 2)  # made without --course-key
    out = tmp_path / "out"
    assert grade(str(folder), "-o", str(out)).returncode == 0
    resumed = grade(str(folder), "--course-key", str(key_file), "-o", str(out), "--resume")
    fresh = grade(str(folder), "--course-key", str(key_file), "-o", str(tmp_path / "fresh"))
    assert resumed.returncode == fresh.returncode == 3
    assert {r["status"] for r in rows(out).values()} == {"ERROR"}
    assert rows(out) == rows(tmp_path / "fresh")
    assert "3 kept result(s) graded with another course key (or none): graded again" in resumed.stderr


# --- 2. Gradescope: one file per learner, and results.json where Gradescope looks --------------


def _at(document: dict, when: str) -> None:
    document["submitted_at"] = when


def test_two_submissions_of_one_learner_give_one_result_where_gradescope_looks(tmp_path, key_file):
    upload = tmp_path / "submission"
    upload.mkdir()
    resign(make_submission(upload, "ana", 2, key=KEY, file_name="first.json"), KEY,
           lambda d: _at(d, "2026-11-30T10:00:00+00:00"))
    resign(make_submission(upload, "ana", 4, key=KEY, file_name="second.json"), KEY,
           lambda d: _at(d, "2026-11-30T12:00:00+00:00"))
    done = grade(str(upload), "--course-key", str(key_file), "--format", "gradescope", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["score"] == 4  # the later submission counts
    assert not (tmp_path / "out" / "gradescope").exists()


def test_learners_ids_alike_but_for_case_get_files_of_their_own_and_a_notice_at_the_top(tmp_path, key_file):
    upload = tmp_path / "submission"
    upload.mkdir()
    make_submission(upload, "Ann", 2, key=KEY)
    make_submission(upload, "ann", 3, key=KEY, file_name="ann-lower.json")
    done = grade(str(upload), "--course-key", str(key_file), "--format", "gradescope", "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "out" / "gradescope").glob("*/results.json"))
    assert len(files) == 2 and len({p.parent.name.lower() for p in files}) == 2  # apart on any file system
    assert sorted(json.loads(p.read_text())["score"] for p in files) == [2, 3]
    top = json.loads((tmp_path / "out" / "results.json").read_text())
    assert top["score"] == 0 and "submissions of 2 learners (Ann, ann)" in top["output"]


# --- 3. merge: a missing shard is never a silently shorter gradebook -----------------------------


def test_merge_refuses_when_a_shard_left_nothing_and_nothing_says_who_was_in_it(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(6):
        make_submission(folder, f"learner{n}", n % 4, key=KEY)
    shards = tmp_path / "shards"
    for index in (0, 2):
        done = grade(str(folder), "--course-key", str(key_file), "--shard", f"{index}/3", "-o", str(shards))
        assert done.returncode == 0, done.stderr
    merged = grade("--merge", str(shards), "-o", str(tmp_path / "merged"))
    assert merged.returncode == 3
    assert "no results from shard(s) 1 of 3" in merged.stderr and "Traceback" not in merged.stderr
    assert not (tmp_path / "merged" / "grades.csv").exists()


def test_a_shard_cut_short_leaves_an_error_row_for_each_learner_it_did_not_grade(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(6):
        make_submission(folder, f"learner{n}", n % 4, key=KEY)
    shards = tmp_path / "shards"
    for index in range(3):
        assert grade(str(folder), "--course-key", str(key_file), "--shard", f"{index}/3", "-o",
                     str(shards)).returncode == 0
    results = shards / "results.shard-1-of-3.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0])  # shard 1 was killed after its first learner
    merged = grade("--merge", str(shards), "-o", str(tmp_path / "merged"))
    assert merged.returncode == 3
    graded = rows(tmp_path / "merged")
    assert len(graded) == 6
    errors = [r for r in graded.values() if r["status"] == "ERROR"]
    assert len(errors) == 1 and "shard 1 of 3 did not finish" in errors[0]["note"]


# --- 4. folder mode: no learner vanishes ----------------------------------------------------------


def test_a_link_to_a_submission_and_an_upper_case_name_are_graded(tmp_path, key_file):
    folder = tmp_path / "in"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "ana.json").symlink_to(make_submission(elsewhere, "ana", 3, key=KEY))
    make_submission(folder, "ben", 2, key=KEY, file_name="BEN.JSON")
    (folder / "notes.txt").write_text("not a submission")
    done = grade(str(folder), "--course-key", str(key_file), "-o", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    graded = rows(tmp_path / "out")
    assert graded["ana"]["total"] == "3" and graded["ben"]["total"] == "2"
    assert "1 file(s) not named *.json were not graded: notes.txt" in done.stderr


def test_a_missing_path_is_a_row_and_the_rest_is_graded(tmp_path, key_file):
    present = make_submission(tmp_path, "ana", 3, key=KEY)
    done = grade(str(present), str(tmp_path / "bob.json"), "--course-key", str(key_file), "-o", str(tmp_path / "out"))
    assert done.returncode == 3 and "Traceback" not in done.stderr
    graded = rows(tmp_path / "out")
    assert graded["ana"]["total"] == "3"
    assert graded["bob"]["status"] == "ERROR" and graded["bob"]["note"] == "no such file or folder"


# --- 5. devices, pipes, and memory by the bytes in flight ----------------------------------------


def test_devices_and_pipes_are_refused_without_reading_them(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.json")  # opening it for reading would wait for a writer forever
    started = time.monotonic()
    done = grade(str(folder), "/dev/zero", "-o", str(tmp_path / "out"), timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 3 and "internal error" not in done.stderr and "Traceback" not in done.stderr
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    notes = {Path(r["source"]).name: r["note"] for r in table}
    assert len(table) == 3  # two files named zero: two rows, neither taken for the other
    assert set(notes) == {"zero.json", "pipe.json", "zero"}
    assert all("not a regular file" in note for note in notes.values())


def test_the_budget_holds_bytes_in_flight_not_workers():
    from labcheck.grading.pool import Budget

    budget = Budget(100)
    held, most = [], [0]
    lock = threading.Lock()

    def work(amount: int) -> None:
        with budget.reserve(10) as reservation:
            reservation.grow(amount)  # what the file turned out to hold, once read
            with lock:
                held.append(amount)
                most[0] = max(most[0], sum(held))
            time.sleep(0.02)
            with lock:
                held.remove(amount)

    threads = [threading.Thread(target=work, args=(amount,)) for amount in [60] * 4 + [30] * 6 + [250]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)  # no deadlock between growing reservations
    assert most[0] <= 250 and budget.peak <= 250 and budget.held == 0
    assert max(budget.peak for _ in [0]) >= 60  # things did run side by side when they fitted


@pytest.mark.parametrize("kind", ["real", "many Pods", "unknown fields", "long strings"])
def test_what_a_file_reserves_covers_what_grading_it_takes(tmp_path, kind):
    """The memory budget is only as good as the estimate: measure grading each kind of file."""
    from labcheck.checks.kinds.python import load_lab_functions
    from labcheck.grading.pool import Budget

    load_lab_functions(LAB.folder)
    path = {"real": lambda: make_submission(tmp_path, "real", 6, key=KEY),
            "many Pods": lambda: make_hostile(tmp_path, "pods", key=KEY, pods=19_000, objects=49_000),
            "unknown fields": lambda: make_hostile(tmp_path, "fields", key=KEY, pods=1_000, objects=49_000),
            "long strings": lambda: resign(make_submission(tmp_path, "long", 6), KEY,
                                           lambda d: d.update(lab_title="é" * 3_000_000))}[kind]()
    digest = submission.lab_digest(LAB)
    submission.grade_file(LAB, list(LAB.steps), make_submission(tmp_path, "warm", 1, key=KEY), key_text="w",
                          digest=digest, course_key=KEY)  # first-use costs (schemas, imports) are not a file's
    budget = Budget(1 << 40)
    tracemalloc.start()
    record = submission.grade_file(LAB, list(LAB.steps), path, key_text="k", digest=digest, course_key=KEY,
                                   budget=budget)
    _now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert record["status"] != "ERROR", record["error"]
    assert peak <= budget.peak, f"{kind}: took {peak / 1e6:.1f} MB, reserved {budget.peak / 1e6:.1f} MB"


# --- 6. evidence of a shape no API server gives -----------------------------------------------------


def _first_pod(document: dict) -> dict:
    for call in document["evidence"]["calls"]:
        if call["op"] == "list" and call["args"]["kind"] == "Pod" and call["result"]:
            return call["result"][0]
    raise AssertionError("no Pod in the evidence")


@pytest.mark.parametrize("change, field", [
    (lambda pod: pod.update(status="Running"), "status: should be an object, not a string"),
    (lambda pod: pod["spec"].update(containers=["nginx", "sidecar"]), "spec.containers.0: should be an object"),
    (lambda pod: pod["metadata"].update(labels=["tier=front-end"]), "metadata.labels: should be an object"),
    (lambda pod: pod["status"].update(containerStatuses=[{"name": "nginx", "ready": "yes"}]),
     "status.containerStatuses.0.ready: should be true or false"),
])
def test_wrongly_shaped_objects_in_signed_evidence_are_refused_naming_the_field(tmp_path, key_file, change, field):
    path = resign(make_submission(tmp_path, "mallory", 6, key=KEY), KEY, lambda d: change(_first_pod(d)))
    done = grade(str(path), "--course-key", str(key_file), "-o", str(tmp_path / "out"))
    assert done.returncode == 3
    (row,) = rows(tmp_path / "out").values()
    assert row["status"] == "ERROR" and row["integrity"] == "verified"
    assert field in row["note"] and "no API server answers that" in row["note"], row["note"]
    assert "check raised" not in (tmp_path / "out" / "results.jsonl").read_text()
