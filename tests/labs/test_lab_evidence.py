"""Tier 2, the lab self-tests: every lab lints, and its recorded evidence grades as it should.

Evidence files are recorded from real clusters by `labcheck selftest LAB
--record-evidence` (see tests/e2e). For every step: the "unsolved" recording
FAILS on the step's `unsolved_fails`, the "solved" one PASSES, and each known
wrong solution FAILS on its checks with its diagnosis.
"""

import pytest

from labcheck.checks.outcome import Status
from labcheck.cluster.recorded import RecordedCluster
from labcheck.engine import run_step
from labcheck.loader import all_labs, lint, lab_files
from labcheck.selftest import evidence_path, judge


def cases():
    for lab in all_labs():
        for step in lab.steps:
            yield pytest.param(lab, step, "unsolved", step.unsolved_fails, None, id=f"{lab.id}-{step.id}-unsolved")
            yield pytest.param(lab, step, "solved", [], None, id=f"{lab.id}-{step.id}-solved")
            for wrong in step.wrong_solutions:
                yield pytest.param(lab, step, f"wrong-{wrong.id}", wrong.fails, wrong.diagnosis,
                                   id=f"{lab.id}-{step.id}-wrong-{wrong.id}")
            for alternative in step.alternative_solutions:
                yield pytest.param(lab, step, f"alt-{alternative.id}", [], None,
                                   id=f"{lab.id}-{step.id}-alt-{alternative.id}")


def test_every_lab_lints_clean():
    assert [str(p) for p in lint(lab_files()) if p.severity == "error"] == []


def test_every_lab_proves_its_alternative_solutions():
    # lint warns below three: a lab whose checks compare one literal form would fail correct answers
    assert [str(p) for p in lint(lab_files()) if p.severity == "warning"] == []


@pytest.mark.parametrize("lab, step, case, fails, diagnosis", list(cases()))
def test_recorded_evidence_grades_as_expected(lab, step, case, fails, diagnosis):
    path = evidence_path(lab, step, case)
    assert path.is_file(), f"missing {path.relative_to(lab.folder.parent.parent)}: run `labcheck selftest {lab.id} --record-evidence` on a cluster"
    cluster = RecordedCluster(path)
    assert cluster.meta.get("steps") == [step.id]
    result = run_step(lab, step, cluster, namespace=cluster.meta.get("namespace"))
    want = "PASS" if case == "solved" or case.startswith("alt-") else "FAIL"
    assert judge(result, want, fails, diagnosis) == []
    if want == "FAIL":
        assert result.status == Status.FAIL


def _graded(lab, step, case):
    cluster = RecordedCluster(evidence_path(lab, step, case))
    return run_step(lab, step, cluster, namespace=cluster.meta.get("namespace"))


def diagnosis_cases():
    for lab in all_labs():
        for step in lab.steps:
            for wrong in step.wrong_solutions:
                yield pytest.param(lab, step, wrong, id=f"{lab.id}-{step.id}-{wrong.id}")


@pytest.mark.parametrize("lab, step, wrong", list(diagnosis_cases()))
def test_each_diagnosis_is_specific_to_its_mistake(lab, step, wrong):
    """A diagnosis that also shows up when the step passes, or in the plain unsolved state,
    proves nothing about the mistake: the assertion could not fail."""
    for other in ("solved", "unsolved"):
        if not evidence_path(lab, step, other).is_file():
            continue
        result = _graded(lab, step, other)
        for check in result.checks:
            if check.check_id in wrong.fails:
                text = " ".join(filter(None, [check.summary, check.expected, check.observed, check.cause]))
                assert wrong.diagnosis.lower() not in text.lower(), (
                    f"diagnosis {wrong.diagnosis!r} of {wrong.id} also appears in the {other} state's "
                    f"{check.check_id}: {text}")
