"""Lab 08 without a cluster: the namespace-label check (an `assert` on a cluster-scoped Namespace
whose name follows the graded namespace), and the lab's matrices as data (every step's matrix probes
what its title says, and the wrong solutions' diagnoses name what the policies do)."""

from __future__ import annotations

from labcheck.checks import run_check
from labcheck.checks.context import CheckContext
from labcheck.checks.outcome import Status
from labcheck.loader import find_lab
from labcheck.model import check_kind
from tests.conftest import FakeCluster

LAB = find_lab("08")
LABELLED = next(c for step in LAB.steps for c in step.checks if c.id == "namespace-labelled")


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def judge(*objects, graded="lab08"):
    cluster = FakeCluster(list(objects))
    return run_check(LABELLED, CheckContext(cluster=cluster, namespace=graded), LAB.folder, wait=0), cluster


def test_the_label_check_is_declarative():
    assert check_kind(LABELLED) == "assert" and not (LAB.folder / "checks.py").exists()


def test_labelled_namespace_passes_whatever_the_graded_namespace_is_called():
    result, cluster = judge(namespace("lab08-st1234-main-monitoring", {"purpose": "monitoring", "x": "y"}),
                            graded="lab08-st1234-main")
    assert result.status == Status.PASS
    # a Namespace is read without a namespace: it has none
    assert ("get", "Namespace", None, "lab08-st1234-main-monitoring") in cluster.calls


def test_missing_label_names_the_command_at_once():
    result, _ = judge(namespace("lab08-monitoring", {"purpose": "metrics"}))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "metadata.labels.purpose" in result.summary and "'metrics'" in result.observed
    assert "kubectl label namespace lab08-monitoring purpose=monitoring" in result.cause


def test_missing_namespace_says_how_it_is_made():
    result, _ = judge(namespace("kube-system"))
    assert result.status == Status.FAIL and "Namespace lab08-monitoring does not exist" in result.summary
    assert "labcheck start 08" in result.cause


def test_every_step_is_graded_by_a_matrix_with_both_kinds_of_cell_after_the_baseline():
    for step in LAB.steps:
        matrices = [c.spec for c in step.checks if check_kind(c) == "matrix"]
        assert len(matrices) == 1, step.id
        values = {v for row in matrices[0].expect.values() for v in row.values()}
        assert values == ({"open"} if step.id == "open-baseline" else
                          {"blocked"} if step.id == "default-deny" else {"open", "blocked"}), step.id


def test_the_monitoring_clients_live_in_a_namespace_derived_from_the_graded_one():
    spec = LAB.steps[0].checks[0].spec
    assert spec.clients["monitor"].namespace == "$LAB_NAMESPACE-monitoring"
    assert "monitor" in spec.expect


def test_each_wrong_diagnosis_names_a_policy_a_pod_or_the_dns_gotcha():
    for step in LAB.steps:
        for wrong in step.wrong_solutions:
            assert any(word in wrong.diagnosis for word in ("NetworkPolicy", "Pod ", "admits", "resolve")), wrong.id
        assert len(step.alternative_solutions) >= 1 or step.id == "open-baseline", step.id
