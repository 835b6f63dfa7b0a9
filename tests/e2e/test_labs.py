"""Every lab on a real cluster: the learner's journey, and the lab's fail-before / pass-after proof."""

from __future__ import annotations

import json
import subprocess

import pytest

from labcheck.errors import ExitStatus
from labcheck.loader import all_labs
from labcheck.toolchain import cluster_config, kube_context
from tests.e2e.conftest import drop_namespace, labcheck


@pytest.fixture
def lab01(e2e_env, cleanup_clusters, tmp_path):
    # A new learner: no progress of their own yet (other tests of the tier ran lab 01 on this
    # cluster), and an empty lab namespace.
    e2e_env = {**e2e_env, "LABCHECK_STATE_DIR": str(tmp_path / "learner-state")}
    lab = next(lab for lab in all_labs() if lab.id == "01")
    drop_namespace(e2e_env, lab)
    started = labcheck(e2e_env, "start", "01")
    assert started.returncode == ExitStatus.PASSED, started.stderr
    yield lab, e2e_env
    drop_namespace(e2e_env, lab)


def test_learner_journey_lab01(lab01, tmp_path):
    _lab, e2e_env = lab01
    # Before anything is applied, the current step fails and says why.
    before = labcheck(e2e_env, "check", "--wait", "0")
    assert before.returncode == ExitStatus.FAILED
    assert "FAIL  pod-exists" in before.stdout and "likely cause" in before.stdout

    assert labcheck(e2e_env, "solve", "01", "--step", "create-pod").returncode == ExitStatus.PASSED
    after = labcheck(e2e_env)  # bare `labcheck`: checks the current step, advances on PASS
    assert after.returncode == ExitStatus.PASSED, after.stdout
    assert "step 2/6" in after.stdout

    status = labcheck(e2e_env, "status")
    assert "PASS" in status.stdout

    evidence = tmp_path / "evidence.json"
    recorded = labcheck(e2e_env, "check", "01", "--step", "1", "--record", str(evidence), "--output", "json")
    assert recorded.returncode == ExitStatus.PASSED
    assert json.loads(recorded.stdout)["status"] == "PASS"
    regraded = labcheck(e2e_env, "check", "--from", str(evidence))
    assert regraded.returncode == ExitStatus.PASSED


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_each_step_fails_before_and_passes_after_its_solution(lab, e2e_env, cleanup_clusters):
    assert labcheck(e2e_env, "start", lab.id).returncode == ExitStatus.PASSED
    try:
        proof = labcheck(e2e_env, "selftest", lab.id, timeout=2400)
        assert proof.returncode == ExitStatus.PASSED, proof.stdout
        assert proof.stdout.count("ok    ") >= 2 * len(lab.steps)
    finally:
        drop_namespace(e2e_env, lab)


def test_a_lab_left_half_done_on_coredns_is_undone_by_the_next_labs_start(e2e_env, cleanup_clusters, tmp_path):
    """Lab 10 changes CoreDNS, which every lab on the cluster shares: left half-done (the log
    plugin on, a zone added), it is put back by the start of another lab, and that lab passes."""
    env = {**e2e_env, "LABCHECK_STATE_DIR": str(tmp_path / "state")}
    lab10 = next(lab for lab in all_labs() if lab.id == "10")
    context = kube_context(cluster_config(lab10.cluster)[1])

    def corefile() -> str:
        return subprocess.run(["kubectl", "--context", context, "-n", "kube-system", "get", "configmap", "coredns",
                               "-o", "jsonpath={.data.Corefile}"], capture_output=True, text=True, env=env).stdout

    assert labcheck(env, "start", "01").returncode == ExitStatus.PASSED  # any lab 10 leftovers undone first
    original = corefile()
    assert labcheck(env, "start", "10").returncode == ExitStatus.PASSED
    try:
        for step in ("resolv-conf", "own-zone"):
            assert labcheck(env, "solve", "10", "--step", step).returncode == ExitStatus.PASSED
        changed = corefile()
        assert changed != original and "    log" in changed and "lab10.internal:53" in changed
        assert labcheck(env, "start", "01").returncode == ExitStatus.PASSED
        assert corefile() == original
        proof = labcheck(env, "selftest", "01", timeout=1200)
        assert proof.returncode == ExitStatus.PASSED, proof.stdout
    finally:
        drop_namespace(env, lab10)
        labcheck(env, "start", "01")


def test_lab05_passes_with_requests_from_outside_sent_from_a_container(e2e_env, cleanup_clusters):
    """Where this machine cannot reach kind's network (Docker Desktop), host probes go through a
    container on it: forced here, lab 05 still proves every step, and the evidence says so."""
    env = {**e2e_env, "LABCHECK_HOST_PATH": "container"}
    lab = next(lab for lab in all_labs() if lab.id == "05")
    assert labcheck(env, "start", "05").returncode == ExitStatus.PASSED
    try:
        proof = labcheck(env, "selftest", "05", timeout=2400)
        assert proof.returncode == ExitStatus.PASSED, proof.stdout
        assert labcheck(env, "solve", "05", "--step", "nodeport").returncode == ExitStatus.PASSED
        checked = labcheck(env, "check", "05", "--step", "nodeport", "-v")
        assert checked.returncode == ExitStatus.PASSED, checked.stdout
        assert "a container on Docker network" in checked.stdout
    finally:
        drop_namespace(env, lab)
