"""Troubleshooting challenges on real clusters: a learner's whole way through one object fault and
one node fault with the CLI, and every challenge's proof (it works, breaks, the fix and its
alternatives pass, each workaround fails or is refused)."""

from __future__ import annotations

import json
import subprocess

import pytest

from labcheck.errors import ExitStatus
from labcheck.loader import all_challenges, find_lab
from labcheck.toolchain import cluster_config, kube_context
from tests.e2e.conftest import labcheck

CHALLENGES = all_challenges()


def kubectl(env, context, *args):
    return subprocess.run(["kubectl", "--context", context, *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def learner(e2e_env, cleanup_clusters, tmp_path):
    """A learner of their own: a private progress file, and an id the faults' details come from."""
    return {**e2e_env, "LABCHECK_STATE_DIR": str(tmp_path / "learner-state"), "LABCHECK_LEARNER": "e2e-learner"}


def test_an_object_fault_through_the_cli(learner):
    challenge = next(c for c in CHALLENGES if c.id == "04-silent-shop")
    context = kube_context(cluster_config(find_lab(challenge.lab_id).cluster)[1])
    started = labcheck(learner, "challenge", "start", challenge.id)
    assert started.returncode == ExitStatus.PASSED, started.stderr
    assert challenge.symptom.split()[0] in started.stdout
    assert "selector" not in started.stdout.lower()  # the symptom, not the fault
    try:
        broken = labcheck(learner, "challenge", "check")
        assert broken.returncode == ExitStatus.FAILED and "FAIL  shop-answers" in broken.stdout
        hinted = labcheck(learner, "challenge", "hint")
        assert "hint 1/3" in hinted.stdout and "hint 2/3" not in hinted.stdout
        # The learner bends the Pods to the broken selector: the symptom goes, the check says why it is no fix.
        selector = json.loads(kubectl(learner, context, "-n", challenge.namespace, "get", "service", "shop",
                                      "-o", "jsonpath={.spec.selector}").stdout)
        for pod in kubectl(learner, context, "-n", challenge.namespace, "get", "pods", "-l", "app=shop",
                           "-o", "name").stdout.split():
            kubectl(learner, context, "-n", challenge.namespace, "label", pod, "--overwrite",
                    *(f"{k}={v}" for k, v in selector.items()))
        bent = labcheck(learner, "challenge", "check")
        assert bent.returncode == ExitStatus.FAILED and "not the Pods of Deployment shop" in bent.stdout
        # Then the real fix: the selector back to the Pods' labels.
        kubectl(learner, context, "-n", challenge.namespace, "patch", "service", "shop", "--type", "json", "-p",
                '[{"op": "replace", "path": "/spec/selector", "value": {"app": "shop"}}]')
        fixed = labcheck(learner, "challenge", "check")
        assert fixed.returncode == ExitStatus.PASSED, fixed.stdout
        assert "Fixed in" in fixed.stdout and "with 1 hint(s)" in fixed.stdout
        status = labcheck(learner, "challenge", "status")
        assert challenge.id in status.stdout and "fixed" in status.stdout and "1/3" in status.stdout
    finally:
        assert labcheck(learner, "challenge", "reset", challenge.id).returncode == ExitStatus.PASSED
    gone = kubectl(learner, context, "get", "namespace", challenge.namespace)
    assert gone.returncode != 0  # the namespace went with the challenge


def test_a_node_fault_through_the_cli(learner):
    challenge = next(c for c in CHALLENGES if c.id == "05-one-node-hangs")
    lab = find_lab(challenge.lab_id)
    _config, cluster = cluster_config(lab.cluster)
    started = labcheck(learner, "challenge", "start", challenge.id)
    assert started.returncode == ExitStatus.PASSED, started.stderr
    node = f"{cluster}-{challenge.variables('e2e-learner')['VARIANT_NODE']}"
    try:
        broken = labcheck(learner, "challenge", "check")
        assert broken.returncode == ExitStatus.FAILED and "do not answer on node port" in broken.stdout
        given_up = labcheck(learner, "challenge", "give-up")
        assert "raw table" in given_up.stdout and "VARIANT_NODE=" in given_up.stdout
        rules = subprocess.run(["docker", "exec", node, "iptables-save", "-t", "raw"], capture_output=True,
                               text=True).stdout
        fault = next(line for line in rules.splitlines() if "shop-maintenance" in line)
        subprocess.run(["docker", "exec", node, "sh", "-c", f"iptables -t raw {fault.replace('-A ', '-D ', 1)}"],
                       check=True)
        fixed = labcheck(learner, "challenge", "check")
        assert fixed.returncode == ExitStatus.PASSED, fixed.stdout
    finally:
        assert labcheck(learner, "challenge", "reset", challenge.id).returncode == ExitStatus.PASSED
    left = subprocess.run(["docker", "exec", node, "iptables-save", "-t", "raw"], capture_output=True, text=True)
    assert "shop-" not in left.stdout  # reset took the challenge's rules off the node


@pytest.mark.parametrize("challenge", CHALLENGES, ids=lambda c: c.id)
def test_each_challenge_breaks_and_only_its_fixes_pass(challenge, e2e_env, cleanup_clusters):
    assert labcheck(e2e_env, "start", challenge.lab_id).returncode == ExitStatus.PASSED
    proof = labcheck(e2e_env, "selftest", challenge.id, timeout=900)
    assert proof.returncode == ExitStatus.PASSED, proof.stdout
    cases = 1 + len(challenge.workarounds) + len(challenge.alternative_fixes)
    assert proof.stdout.count("ok    ") == cases
