"""Recording evidence and grading it again without a cluster."""

import json

import pytest

from labcheck.checks.outcome import Status
from labcheck.cluster.recorded import RecordedCluster, RecordingCluster
from labcheck.engine import run_step
from labcheck.errors import EvidenceError, TargetUnavailable
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok, pod


def test_round_trip_gives_the_same_results(tmp_path):
    lab = find_lab("01")
    step = lab.step("same-network")
    live = FakeCluster(
        [pod("multicontainerpod", containers=("nginx-container", "sidecar"), ip="10.244.0.5"),
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answer-pod-ip", "namespace": "lab01"},
          "data": {"nginx-container": "10.244.0.5", "sidecar": "10.244.0.5"}}],
        exec_answer=lambda where, cmd: ok("net:[4026532]\n---\nlo: 0 0\neth0: 1 2\n"),
    )
    recording = RecordingCluster(live)
    first = run_step(lab, step, recording, wait=0)
    assert first.status == Status.PASS
    path = tmp_path / "evidence.json"
    recording.save(path, {"lab": "01", "steps": [step.id]})
    replayed = run_step(lab, step, RecordedCluster(path), wait=0)
    assert [(c.check_id, c.status) for c in replayed.checks] == [(c.check_id, c.status) for c in first.checks]
    assert replayed.checks[0].evidence == first.checks[0].evidence


def test_recorded_target_unavailable_replays_as_fail(tmp_path):
    live = FakeCluster([])
    recording = RecordingCluster(live)
    with pytest.raises(TargetUnavailable):
        recording.exec_in_pod("lab01", "web", None, ["true"], 5)
    recording.save(tmp_path / "e.json", {})
    with pytest.raises(TargetUnavailable, match="does not exist"):
        RecordedCluster(tmp_path / "e.json").exec_in_pod("lab01", "web", None, ["true"], 1)


def test_question_without_recorded_answer_is_error(tmp_path):
    lab = find_lab("01")
    RecordingCluster(FakeCluster([])).save(tmp_path / "empty.json", {"lab": "01"})
    result = run_step(lab, lab.steps[0], RecordedCluster(tmp_path / "empty.json"))
    assert result.status == Status.ERROR
    assert "holds no answer" in result.checks[0].summary


def test_secrets_are_redacted(tmp_path):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "lab01"},
              "data": {"password": "c2VjcmV0"}}
    recording = RecordingCluster(FakeCluster([secret]))
    assert recording.get("v1", "Secret", "lab01", "s")["data"]["password"] == "c2VjcmV0"
    recording.list("v1", "Secret", "lab01")
    recording.save(tmp_path / "e.json", {})
    assert "c2VjcmV0" not in (tmp_path / "e.json").read_text()


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"format": "something-else"}', "not a labcheck evidence file"),
    ('{"format": "labcheck-evidence", "version": 99, "calls": []}', "version 99"),
    ('{"format": "labcheck-evidence", "version": 1, "calls": [1]}', "must be a list"),
])
def test_corrupt_evidence_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(EvidenceError, match=message):
        RecordedCluster(path)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    recording = RecordingCluster(FakeCluster([]))
    recording.save(tmp_path / "e.json", {"lab": "01"})
    assert [p.name for p in tmp_path.iterdir()] == ["e.json"]
    assert json.loads((tmp_path / "e.json").read_text())["format"] == "labcheck-evidence"
