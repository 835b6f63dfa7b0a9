"""Bulk grading: submissions, outputs read back by their own readers, resume, shards, hostile files."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from junitparser import Error, Failure, JUnitXml

from labcheck.checks.outcome import Status
from labcheck.cluster.recorded import RecordingCluster
from labcheck.errors import ExitStatus, UsageError
from labcheck.grading import batch, outputs, records, report, roster, store, submission
from labcheck.grading.pool import run_pool
from labcheck.loader import find_lab
from tests.conftest import ARTICLE_LOGS, REPO, FakeCluster, pod, run_labcheck
from tests.grading_data import make_class, make_submission

LAB = find_lab("01")
KEY = submission.CourseKey(b"a course key for the unit tests, 32+ bytes")


@pytest.fixture(scope="module")
def signed_class(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class") / "submissions"
    make_class(folder, 14, key=KEY)
    return folder


def grade(folder: Path, out: Path, **extra) -> batch.Outcome:
    options = batch.Options(lab=LAB, steps=list(LAB.steps), out=out, formats=list(outputs.FORMATS),
                            course_key=KEY, jobs=4, **extra)
    return batch.run(options, batch.file_tasks([folder])[0])


@pytest.fixture(scope="module")
def graded(signed_class, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return grade(signed_class, out), out


# --- each output against its own reader -------------------------------------------------


def test_every_learner_is_graded_from_evidence_and_verified(graded):
    outcome, _out = graded
    assert len(outcome.records) == 14
    assert {r["integrity"] for r in outcome.records.values()} == {"verified"}
    totals = sorted(r["total"] for r in outcome.records.values())
    assert totals[0] == 0 and totals[-1] >= 4  # a spread, from nothing done to most of the lab
    assert outcome.count("FAIL") and not outcome.count("ERROR")


def test_csv_gradebook_reads_back(graded):
    outcome, out = graded
    rows = list(csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline="")))
    columns = [f"{n}-{s.id}" for n, s in enumerate(LAB.steps, 1)]
    assert list(rows[0].keys()) == ["learner", "name", "status", *columns, "total", "max", "integrity", "late",
                                    "same_cluster_as", "not_gradable", "source", "note"]
    assert len(rows) == 14
    by_learner = {r["learner"]: r for r in outcome.records.values()}
    for row in rows:
        record = by_learner[row["learner"]]
        assert float(row["total"]) == sum(float(row[c]) for c in columns) == record["total"]
        assert float(row["max"]) == len(LAB.steps)
        assert row["status"] == record["status"]


def test_junit_has_a_suite_per_learner_and_reads_back(graded):
    outcome, out = graded
    xml = JUnitXml.fromfile(str(out / "grades.junit.xml"))
    suites = list(xml)
    assert sorted(s.name for s in suites) == sorted(r["learner"] for r in outcome.records.values())
    by_learner = {r["learner"]: r for r in outcome.records.values()}
    for suite in suites:
        record = by_learner[suite.name]
        cases = list(suite)
        assert [c.name for c in cases] == [f"{n:02d}-{s.id}" for n, s in enumerate(LAB.steps, 1)]
        failed = [c.name for c in cases if any(isinstance(r, Failure) for r in c.result)]
        assert len(failed) == sum(1 for s in record["steps"] if s["status"] == "FAIL")
        assert not any(isinstance(r, Error) for c in cases for r in c.result)
        assert suite.failures == len(failed)


GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                  "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                   "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_results_use_the_documented_keys(graded):
    outcome, out = graded
    files = sorted((out / "gradescope").glob("*/results.json"))
    assert len(files) == 14
    for path in files:
        document = json.loads(path.read_text(encoding="utf-8"))
        assert set(document) <= GRADESCOPE_TOP
        assert isinstance(document["score"], (int, float))
        assert document["visibility"] in VISIBILITY and document["stdout_visibility"] in VISIBILITY
        assert len(document["tests"]) == len(LAB.steps)
        for test in document["tests"]:
            assert set(test) <= GRADESCOPE_TEST
            assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
            assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITY
            assert 0 <= test["score"] <= test["max_score"]
        assert document["score"] == sum(t["score"] for t in document["tests"])


def test_one_learner_writes_results_json_where_gradescope_looks(signed_class, tmp_path):
    one = tmp_path / "submission"
    one.mkdir()
    (one / "mine.json").write_bytes((signed_class / "learner004.json").read_bytes())
    grade(one, tmp_path / "results")
    document = json.loads((tmp_path / "results" / "results.json").read_text())
    assert document["score"] == 4 and len(document["tests"]) == 6


def test_json_output_holds_every_learner_and_the_steps(graded):
    outcome, out = graded
    document = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert document["lab"] == "01" and document["lab_digest"] == submission.lab_digest(LAB)
    assert [s["id"] for s in document["steps"]] == [s.id for s in LAB.steps]
    assert len(document["learners"]) == 14
    assert all("graded_at" not in r for r in document["learners"])  # same bytes when graded again


def test_points_come_from_lab_yaml(signed_class, tmp_path):
    lab = LAB.model_copy(deep=True)
    lab._folder = LAB.folder
    lab.steps[0].points = 5
    options = batch.Options(lab=lab, steps=list(lab.steps), out=tmp_path, formats=["csv"], course_key=KEY)
    outcome = batch.run(options, batch.file_tasks([signed_class / "learner001.json"])[0])
    (record,) = outcome.records.values()
    assert record["steps"][0]["status"] == "PASS" and record["steps"][0]["points"] == 5
    assert record["max_total"] == 10
    row = next(csv.DictReader((tmp_path / "grades.csv").open()))
    assert row["1-create-pod"] == "5" and row["max"] == "10"


# --- the class report ------------------------------------------------------------


def test_report_names_the_most_common_failing_check_and_its_cause(graded, tmp_path):
    outcome, out = graded
    text = (out / "report.txt").read_text()
    stats = report.class_stats(LAB, list(LAB.steps), outcome.records)
    step5 = next(s for s in stats if s.id == "shared-volume")
    check, count, cause = step5.top()
    assert f"step 5 shared-volume: {step5.passed}/{step5.graded} passed" in text
    assert f"most often stopped at: {check} ({count} learners)" in text
    assert cause and cause in text
    page = report.render_html(LAB, list(LAB.steps), outcome.book)
    assert page.count('class="bar"') == len(LAB.steps) and "<script" not in page


def test_report_counts_one_mistake_once_across_namespaces():
    def record(namespace):
        step = {"id": "create-pod", "status": "FAIL", "checks": [
            {"id": "pod-exists", "status": "FAIL", "summary": "x",
             "cause": f"nothing of kind Pod exists in namespace {namespace} yet"}]}
        return {"namespace": namespace, "status": "FAIL", "steps": [step], "total": 0, "max_total": 1}

    records_ = {"a": record("lab01-alice"), "b": record("lab01-bob")}
    (stats, *_rest) = report.class_stats(LAB, list(LAB.steps), records_)
    assert stats.top() == ("pod-exists", 2, "nothing of kind Pod exists in namespace <namespace> yet")


# --- tamper evidence, other labs, other versions --------------------------------------


def _edited(source: Path, target: Path, change) -> Path:
    document = json.loads(source.read_text())
    change(document)
    target.write_text(json.dumps(document))
    return target


def _only_record(path: Path, out: Path, key=KEY, **extra) -> dict:
    options = batch.Options(lab=LAB, steps=list(LAB.steps), out=out, formats=["csv"], course_key=key, **extra)
    (record,) = batch.run(options, batch.file_tasks([path])[0]).records.values()
    return record


def test_a_tampered_submission_is_flagged(signed_class, tmp_path):
    def add_readiness_probe(document):  # what a learner stuck at step 2 would wish the cluster had said
        edits = 0
        for call in document["evidence"]["calls"]:
            # The Pod is read by name or, as a step reads each kind once, in its namespace's list.
            found = [call.get("result")] if call["op"] == "get" else (
                call.get("result") or [] if call["op"] == "list" else [])
            for obj in found:
                if obj and obj.get("metadata", {}).get("name") == "multicontainerpod":
                    for container in obj["spec"]["containers"]:
                        container["readinessProbe"] = {"httpGet": {"path": "/", "port": 80}}
                        edits += 1
        assert edits

    edited = _edited(signed_class / "learner001.json", tmp_path / "learner001.json", add_readiness_probe)
    record = _only_record(edited, tmp_path / "out")
    assert record["status"] == "ERROR" and record["total"] == 0
    assert "signature does not match: the file was changed after labcheck wrote it" in record["error"]
    assert record["integrity"] == "rejected"
    untouched = _only_record(signed_class / "learner001.json", tmp_path / "out2")
    assert untouched["integrity"] == "verified" and untouched["total"] == 1


def test_unsigned_and_other_course_key_are_named(tmp_path):
    unsigned = make_submission(tmp_path, "unsigned", 2)
    assert "not signed with the course key" in _only_record(unsigned, tmp_path / "a")["error"]
    other = submission.CourseKey(b"the key of another course, long enough")
    foreign = make_submission(tmp_path, "foreign", 2, key=other)
    error = _only_record(foreign, tmp_path / "b")["error"]
    assert f"another course key (key {other.key_id}, yours is {KEY.key_id})" in error
    # Without a key the grade stands, and says it was not checked.
    assert _only_record(foreign, tmp_path / "c", key=None)["integrity"] == "not checked"


def test_the_evidence_decides_not_a_verdict_in_the_file(signed_class, tmp_path):
    edited = _edited(signed_class / "learner000.json", tmp_path / "claims.json",
                     lambda d: d.update(steps=["create-pod"], claimed={"create-pod": "PASS"}))
    record = _only_record(edited, tmp_path / "out", key=None)
    assert record["status"] == "ERROR" and "claimed" in record["error"]  # unknown fields are refused
    record = _only_record(signed_class / "learner000.json", tmp_path / "out2", key=None)
    assert record["steps"][0]["status"] == "FAIL"


def test_a_submission_for_another_lab_is_refused_with_one_line(signed_class, tmp_path):
    edited = _edited(signed_class / "learner003.json", tmp_path / "lab02.json", lambda d: d.update(lab="02"))
    done = run_labcheck("grade", "01", str(edited), "-o", str(tmp_path / "out"))
    assert done.returncode == ExitStatus.CANNOT_GRADE and "Traceback" not in done.stderr
    row = next(csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text())))
    assert row["status"] == "ERROR" and row["note"] == "this is a submission for lab 02, not lab 01"


def test_an_unknown_lab_version_is_refused_and_can_be_accepted(signed_class, tmp_path):
    old = "sha256:" + "ab" * 32
    edited = _edited(signed_class / "learner003.json", tmp_path / "old.json", lambda d: d.update(lab_digest=old))
    record = _only_record(edited, tmp_path / "a", key=None)
    assert record["status"] == "ERROR"
    assert "another version of lab 01 (definition abababababab" in record["error"]
    assert "--accept-lab-digest abababababab" in record["error"]
    accepted = _only_record(edited, tmp_path / "b", key=None, accepted=frozenset({"abababababab"}))
    assert accepted["status"] == "FAIL" and accepted["total"] == 3


# --- hostile files --------------------------------------------------------------------


def _hostile(folder: Path) -> dict[str, str]:
    """file name -> the words its ERROR row must contain."""
    good = json.loads((REPO / "labs/01-pod-shared-network/evidence/01-create-pod.solved.json").read_text())
    base = {"format": "labcheck-submission", "version": 1, "lab": "01", "lab_digest": submission.lab_digest(LAB),
            "labcheck": "0.1.0", "learner": {"id": "mallory", "name": "M"}, "submitted_at": "2026-01-01T00:00:00Z",
            "namespace": "lab01", "steps": [], "evidence": {"format": "labcheck-evidence", "version": 1,
                                                            "calls": good["calls"]}}
    cases = {
        "huge.json": (b"{" + b" " * (2 * 1024 * 1024) + b"}", "at most 1 MB"),
        "deep.json": (b"[" * 10_000 + b"]" * 10_000, "nested deeper"),
        "wide.json": (b"[" + b"[]," * 60_000 + b"[]]", "more than 50000 JSON objects and arrays"),
        "deep-but-parses.json": (json.dumps({**base, "x": json.loads("[" * 500 + "]" * 500)}).encode(),
                                 "nested deeper"),
        "garbage.json": (os.urandom(2000), "not"),
        "empty.json": (b"", "not valid JSON"),
        "array.json": (b"[1, 2, 3]", "not a labcheck submission"),
        "nan.json": (json.dumps({**base, "lab": float("nan")}).encode(), "not valid JSON"),
        "bigint.json": (json.dumps(base).replace('"version": 1', '"version": ' + "9" * 5000).encode(),
                        "not valid JSON"),
        "lab-path.json": (json.dumps({**base, "lab": "../../../etc"}).encode(), "lab: String should match pattern"),
        "learner-path.json": (json.dumps({**base, "learner": {"id": "../../evil"}}).encode(), "learner.id"),
        "learner-type.json": (json.dumps({**base, "learner": {"id": 7}}).encode(),
                              "learner.id: Input should be a valid string"),
        "calls-type.json": (json.dumps({**base, "evidence": {**base["evidence"], "calls": "rm -rf /"}}).encode(),
                            "evidence.calls"),
        "op.json": (json.dumps({**base, "evidence": {**base["evidence"], "calls": [
            {"op": "delete", "args": {}, "result": None}]}}).encode(), "evidence.calls.0.op"),
        "exec-type.json": (json.dumps({**base, "evidence": {**base["evidence"], "calls": [
            {"op": "exec_in_pod", "args": {"pod": "p"}, "result": {"args": [], "returncode": "0", "stdout": ""}}]}}
        ).encode(), "returncode: wrong type"),
        "exec-extra.json": (json.dumps({**base, "evidence": {**base["evidence"], "calls": [
            {"op": "exec_in_pod", "args": {"pod": "p"}, "result": {"args": [], "returncode": 0, "stdout": "",
                                                                  "__class__": "os.system"}}]}}).encode(),
                            "unknown field"),
        "list-type.json": (json.dumps({**base, "evidence": {**base["evidence"], "calls": [
            {"op": "list", "args": {"kind": "Pod"}, "result": {"items": []}}]}}).encode(), "a list answers"),
        "namespace.json": (json.dumps({**base, "namespace": "../kube-system"}).encode(), "namespace"),
    }
    for name, (content, _words) in cases.items():
        (folder / name).write_bytes(content)
    return {name: words for name, (_content, words) in cases.items()}


def test_hostile_files_become_error_rows_never_a_crash_or_a_write_outside(tmp_path):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    expected = _hostile(submissions)
    (submissions / "link.json").symlink_to("/etc/passwd")  # a link is read as the file it names: data only
    expected["link.json"] = "not valid JSON"
    out = tmp_path / "out"
    before = {p for p in tmp_path.rglob("*")}
    done = run_labcheck("grade", "01", str(submissions), "-o", str(out), "--max-submission-mb", "1",
                        "--format", "csv,json,junit,gradescope", timeout=120)
    assert done.returncode == ExitStatus.CANNOT_GRADE, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "internal error" not in done.stderr
    # Each file's result; files that say they are mallory's are one learner in the gradebook.
    results = {Path(r["source"]).name: r for r in store.ResultStore(out / "results.jsonl").read().values()}
    assert set(results) == set(expected)
    for name, words in expected.items():
        assert results[name]["status"] == "ERROR", name
        assert words in results[name]["error"], (name, results[name]["error"])
        assert "\n" not in results[name]["error"]
    table = list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))
    assert {r["status"] for r in table} == {"ERROR"} and "\n" not in "".join(r["note"] for r in table)
    assert sum(1 for r in table if r["learner"] == "mallory") == 1
    assert "mallory: counted" in (out / "report.txt").read_text()  # the others listed as superseded
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(out in p.parents or p == out for p in written)
    JUnitXml.fromfile(str(out / "grades.junit.xml"))  # still well-formed XML


def test_names_from_learners_are_safe_everywhere(tmp_path):
    sneaky = make_submission(tmp_path, "evil", 1, name="=HYPERLINK(\"http://x\")\x1b[31m")
    document = json.loads(sneaky.read_text())
    assert document["learner"]["name"].startswith("=HYPERLINK") and "\x1b" not in document["learner"]["name"]
    outcome = batch.run(batch.Options(lab=LAB, steps=list(LAB.steps), out=tmp_path / "out",
                                      formats=list(outputs.FORMATS)), batch.file_tasks([sneaky])[0])
    row = next(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert row["name"].startswith("'=HYPERLINK")  # text, not a formula, in a spreadsheet
    assert outputs.safe_name("../../etc/passwd") not in ("..", "") and "/" not in outputs.safe_name("../../x")
    with pytest.raises(ValueError):
        outputs.inside(tmp_path, "../outside")
    assert len(outcome.records) == 1


# --- durable results, resume, kill at random points --------------------------------------


def _stable_outputs(out: Path) -> tuple[str, list]:
    document = json.loads((out / "grades.json").read_text())
    return (out / "grades.csv").read_text(), document["learners"]


def test_resume_after_kills_at_random_points_gives_the_same_results(tmp_path):
    folder = tmp_path / "submissions"
    make_class(folder, 70, key=KEY)
    key_file = tmp_path / "course.key"
    key_file.write_bytes(KEY.secret)
    command = [sys.executable, "-m", "labcheck", "grade", "01", str(folder), "--format", "csv,json", "--jobs", "2",
               "--course-key", str(key_file)]
    started = time.monotonic()
    clean = subprocess.run(command + ["-o", str(tmp_path / "clean")], capture_output=True, text=True, timeout=300)
    duration = time.monotonic() - started
    assert clean.returncode == ExitStatus.PASSED, clean.stderr
    expected = _stable_outputs(tmp_path / "clean")

    rng = random.Random(int(os.environ.get("LABCHECK_TEST_SEED", time.time())))
    out = tmp_path / "killed"
    kills = 0
    for _attempt in range(30):
        run = subprocess.Popen(command + ["-o", str(out), "--resume"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.1, duration))
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=60)
            kills += 1
            continue
        assert run.returncode == ExitStatus.PASSED, run.stderr.read()
        if kills:
            break
        shutil.rmtree(out)  # it finished before any kill landed: start over
    else:
        final = subprocess.run(command + ["-o", str(out), "--resume"], capture_output=True, text=True, timeout=300)
        assert final.returncode == ExitStatus.PASSED, final.stderr
    assert kills >= 1
    assert _stable_outputs(out) == expected
    kept = store.ResultStore(out / "results.jsonl").read()
    assert len(kept) == 70


def test_a_line_cut_short_is_skipped_and_graded_again(signed_class, tmp_path):
    out = tmp_path / "out"
    grade(signed_class, out)
    path = out / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5]) + lines[5][: len(lines[5]) // 2])  # killed mid-write
    resumed = grade(signed_class, out, resume=True)
    assert resumed.kept == 5 and resumed.graded_now == 9
    assert any("incomplete line" in n for n in resumed.notes)
    assert len(store.ResultStore(path).read()) == 14


def test_results_already_there_need_resume(signed_class, tmp_path):
    grade(signed_class, tmp_path)
    with pytest.raises(UsageError, match="add --resume"):
        grade(signed_class, tmp_path)


# --- shards and merge --------------------------------------------------------------------


def test_shards_are_disjoint_and_merge_into_the_same_gradebook(signed_class, tmp_path):
    whole = grade(signed_class, tmp_path / "whole")
    shared = tmp_path / "shards"
    seen: list[str] = []
    for index in range(3):
        part = grade(signed_class, shared, shard=(index, 3))
        seen += list(part.records)
        assert not (shared / "grades.csv").exists()  # a shard only keeps its results
    assert sorted(seen) == sorted(whole.records)
    done = run_labcheck("grade", "01", "--merge", str(shared), "-o", str(tmp_path / "merged"),
                        "--format", "csv,json")
    assert done.returncode == ExitStatus.PASSED, done.stderr
    assert (tmp_path / "merged" / "grades.csv").read_text() == (tmp_path / "whole" / "grades.csv").read_text()


def test_merge_says_which_shard_is_missing(signed_class, tmp_path):
    grade(signed_class, tmp_path, shard=(0, 3))
    grade(signed_class, tmp_path, shard=(2, 3))
    done = run_labcheck("grade", "01", "--merge", str(tmp_path), "-o", str(tmp_path / "m"))
    assert "no results from shard(s) 1 of 3" in done.stderr
    with pytest.raises(UsageError, match="0 to 2"):
        store.parse_shard("3/3")


# --- the pool -----------------------------------------------------------------------------


def test_a_learner_past_the_time_limit_is_an_error_and_the_batch_goes_on():
    got: dict[str, str] = {}
    hang = threading.Event()

    def work(task):
        if task == "hung":
            hang.wait(30)
        if task == "buggy":
            raise RuntimeError("boom")
        return "graded"

    started = time.monotonic()
    run_pool(["a", "hung", "b", "buggy", "c"], work, jobs=2, timeout=0.5, on_result=got.__setitem__,
             on_timeout=lambda t, s: f"timed out after {s}", on_crash=lambda t, e: f"crashed: {e}")
    hang.set()
    assert time.monotonic() - started < 5
    assert got == {"a": "graded", "hung": "timed out after 0.5", "b": "graded", "buggy": "crashed: boom",
                   "c": "graded"}


def _silent_server() -> tuple[socket.socket, int]:
    """Accepts connections and never answers: a hung API server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    def accept_forever() -> None:
        try:
            while True:
                held.append(server.accept()[0])
        except OSError:  # the test closed the server
            return

    threading.Thread(target=accept_forever, daemon=True).start()
    return server, server.getsockname()[1]


def test_hung_and_unreachable_clusters_are_error_rows(isolated_env, tmp_path):
    server, port = _silent_server()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "hung", "clusters": [], "contexts": [],
              "users": [{"name": "u", "user": {"token": "sekrit-token"}}]}
    for name, port_ in (("hung", port), ("down", refused_port)):
        config["clusters"].append({"name": name, "cluster": {"server": f"http://127.0.0.1:{port_}"}})
        config["contexts"].append({"name": name, "context": {"cluster": name, "user": "u"}})
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("learner,name,context\nhana,Hana,hung\ndov,Dov,down\nmia,Mia,missing-context\n")
    started = time.monotonic()
    done = run_labcheck("grade", "01", "--roster", str(roster_file), "--timeout", "3", "-o", str(tmp_path / "out"),
                        env={**isolated_env, "KUBECONFIG": str(kubeconfig)})
    assert time.monotonic() - started < 60
    server.close()
    assert done.returncode == ExitStatus.CANNOT_GRADE and "Traceback" not in done.stderr
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO((tmp_path / "out" / "grades.csv").read_text()))}
    assert rows["hana"]["status"] == "ERROR" and "not finished within 3 s" in rows["hana"]["note"]
    assert rows["dov"]["status"] == "ERROR" and "unreachable" in rows["dov"]["note"]
    assert "no context 'missing-context'" in rows["mia"]["note"]
    assert "sekrit-token" not in (tmp_path / "out" / "results.jsonl").read_text() + done.stderr + done.stdout


# --- live grading over the seam -----------------------------------------------------------


class Namespaced(FakeCluster):
    def __init__(self, objects, namespaces):
        super().__init__(objects + [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, **extra}}
                                    for n, extra in namespaces.items()])


def _classroom(cluster) -> roster.Classroom:
    classroom = roster.Classroom(context="kind-netlabs")
    classroom.cluster_for = lambda learner: cluster
    return classroom


def test_live_grading_reads_each_kind_once_per_learner():
    solved = pod("multicontainerpod", namespace="lab01-ann", containers=("nginx-container", "sidecar"),
                 labels={"name": "multi-container-pod", "environment": "production", "tier": "front-end"})
    solved["spec"]["containers"][1]["command"] = ["sh", "-c", "while true; do curl localhost:80; sleep 300; done"]
    cluster = Namespaced([solved], {"lab01-ann": {}})
    cluster.log_texts = ARTICLE_LOGS
    learner = roster.Learner("ann", namespace="lab01-ann")
    record = roster.grade_learner(LAB, [LAB.step("create-pod")], learner, _classroom(cluster), digest="sha256:x")
    assert record["status"] == "PASS" and record["steps"][0]["points"] == 1
    reads = [c for c in cluster.calls if c[0] in ("get", "list") and c[1] == "Pod"]
    assert reads == [("list", "Pod", "lab01-ann")]


def test_a_missing_or_deleted_namespace_is_that_learners_error():
    cluster = Namespaced([], {"lab01-del": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})
    classroom = _classroom(cluster)
    gone = roster.grade_learner(LAB, list(LAB.steps), roster.Learner("gone", namespace="lab01-gone"), classroom,
                                digest="sha256:x")
    assert gone["status"] == "ERROR" and gone["error"] == "namespace lab01-gone does not exist"
    deleting = roster.grade_learner(LAB, list(LAB.steps), roster.Learner("del", namespace="lab01-del"), classroom,
                                    digest="sha256:x")
    assert deleting["error"] == "namespace lab01-del is being deleted"
    assert all(s["status"] == "ERROR" and s["points"] == 0 for s in deleting["steps"])


def test_roster_problems_name_file_and_line(tmp_path):
    path = tmp_path / "roster.csv"
    for text, words in (("name,context\n", ":1: the roster needs a header row with a 'learner' column"),
                        ("learner,namespace\nann,lab01-ann\nann,lab01-ann2\n", ":3: learner ann is also on line 2"),
                        ("learner,namespace\nann,Lab01_Ann\n", ":2: 'Lab01_Ann' is not a namespace name"),
                        ("learner,name\nann,Ann\n", ":2: give learner ann a context or a namespace"),
                        ("learner,namespace\n../x,lab01\n", ":2: learner id '../x'")):
        path.write_text(text)
        with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(")", r"\)")):
            roster.read_roster(path)
    path.write_text("\ufefflearner,Name,namespace,context,extra\nann,Ann,lab01-ann,,x\nbo,,,kind-b,\n")
    assert roster.read_roster(path) == [roster.Learner("ann", "Ann", None, "lab01-ann"),
                                        roster.Learner("bo", "", "kind-b", None)]


# --- submit ----------------------------------------------------------------------------


def test_a_submission_is_redacted_and_signed(tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "lab01", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"password":"aHVudGVyMg=="}}'},
        "managedFields": [{"manager": "kubectl"}]}, "data": {"password": "aHVudGVyMg=="}}
    recording = RecordingCluster(FakeCluster([secret]))
    recording.get("v1", "Secret", "lab01", "db")
    text = json.dumps(list(recording.calls.values()))
    assert "aHVudGVyMg" not in text
    document, results = submission.build(LAB, FakeCluster([]), learner="ann", name="Ann", key=KEY)
    assert document["signature"]["key_id"] == KEY.key_id and submission.verify(document, KEY) == "verified"
    assert len(results) == len(LAB.steps) and all(r.status == Status.FAIL for r in results)
    assert document["lab_digest"] == submission.lab_digest(LAB) and document["namespace"] == "lab01"
    with pytest.raises(UsageError):
        submission.build(LAB, FakeCluster([]), learner="../../x", name="")


def test_submit_needs_a_learner_id(isolated_env):
    done = run_labcheck("submit", "01", env=isolated_env)
    assert done.returncode == ExitStatus.USAGE and "--learner" in done.stderr


def test_only_chosen_steps_are_graded(signed_class, tmp_path):
    done = run_labcheck("grade", "01", str(signed_class), "--step", "2", "--step", "create-pod", "-o", str(tmp_path))
    assert done.returncode == ExitStatus.PASSED, done.stderr
    header = next(csv.reader((tmp_path / "grades.csv").open()))
    assert header[3:5] == ["1-create-pod", "2-containers-ready"] and header[5] == "total"


# --- progress: a bar on a terminal, nothing in CI ---------------------------------------------


@pytest.mark.parametrize("terminal, ci, shown", [(True, None, True), (True, "true", False), (False, None, False)])
def test_the_progress_bar_shows_on_a_terminal_and_never_in_ci(monkeypatch, terminal, ci, shown):
    from rich.console import Console

    from labcheck.grading import commands

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=terminal, width=100)
    monkeypatch.setattr(commands, "_consoles", lambda: (console, console))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    progress = commands._progress(verbose=False)
    progress.start(3, 0)
    for learner in ("ana", "ben", "cy"):
        progress.advance({"status": "PASS", "learner": learner, "total": 1, "max_total": 1})
    assert (progress.bar is not None) == shown
    progress.stop()
    assert ("grading" in screen.getvalue()) == shown
