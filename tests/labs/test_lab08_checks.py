"""Lab 08 without a cluster: the namespace-label check, and the lab's matrices as data
(every step's matrix probes what its title says, and the wrong solutions' diagnoses name cells)."""

from __future__ import annotations

import sys

from labcheck.checks.context import CheckContext
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
from labcheck.model import check_kind
from tests.conftest import FakeCluster

LAB = find_lab("08")
load_lab_functions(LAB.folder)
checks = sys.modules["labcheck_lab_08_network_policy"]


def namespace(name, labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def judge(*objects):
    ctx = CheckContext(cluster=FakeCluster(list(objects)), namespace="lab08")
    return checks.namespace_labelled(ctx, suffix="-monitoring", labels={"purpose": "monitoring"})


def test_labelled_namespace_passes():
    assert judge(namespace("lab08-monitoring", {"purpose": "monitoring", "x": "y"})).status == Status.PASS


def test_missing_label_names_the_command():
    outcome = judge(namespace("lab08-monitoring", {"purpose": "metrics"}))
    assert outcome.status == Status.FAIL
    assert "kubectl label namespace lab08-monitoring purpose=monitoring" in outcome.cause
    assert "purpose=metrics" in outcome.observed


def test_missing_namespace_says_how_it_is_made():
    outcome = judge(namespace("lab08-monitor", {"purpose": "monitoring"}))
    assert outcome.status == Status.FAIL and "labcheck start 08" in outcome.cause


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


def test_each_wrong_diagnosis_names_a_cell_or_the_dns_gotcha():
    for step in LAB.steps:
        for wrong in step.wrong_solutions:
            assert "→" in wrong.diagnosis or "resolve" in wrong.diagnosis, wrong.id
