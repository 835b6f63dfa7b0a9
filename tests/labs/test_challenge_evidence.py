"""Tier 2 for challenges: every challenge lints, and its evidence (recorded on a real cluster by
`labcheck selftest <challenge> --record-evidence`) grades as the challenge says: the app
works, the fault breaks it, the fix and each alternative fix pass, each workaround fails
with the reason it is not a fix."""

from __future__ import annotations

import pytest

from labcheck.cluster.recorded import RecordedCluster
from labcheck.engine import run_step
from labcheck.loader import all_challenges, challenge_files, find_lab, lint
from labcheck.selftest import challenge_evidence_path, judge

CHALLENGES = all_challenges()


def cases():
    for challenge in CHALLENGES:
        yield pytest.param(challenge, "working", "PASS", [], None, id=f"{challenge.id}-working")
        yield pytest.param(challenge, "broken", "FAIL", challenge.broken_fails, None, id=f"{challenge.id}-broken")
        yield pytest.param(challenge, "fixed", "PASS", [], None, id=f"{challenge.id}-fixed")
        for fix in challenge.alternative_fixes:
            yield pytest.param(challenge, f"alt-{fix.id}", "PASS", [], None, id=f"{challenge.id}-alt-{fix.id}")
        for workaround in challenge.workarounds:
            if not workaround.refused:  # a refused one never reaches the cluster: selftest proves the refusal
                yield pytest.param(challenge, f"workaround-{workaround.id}", "FAIL", workaround.fails,
                                   workaround.diagnosis, id=f"{challenge.id}-workaround-{workaround.id}")


def test_there_are_challenges_and_they_lint_clean():
    assert CHALLENGES, "no challenge found under labs/*/challenges/"
    assert [str(p) for p in lint(challenge_files()) if p.severity == "error"] == []


@pytest.mark.parametrize("challenge, case, want, fails, diagnosis", list(cases()))
def test_recorded_challenge_evidence_grades_as_expected(challenge, case, want, fails, diagnosis):
    path = challenge_evidence_path(challenge, case)
    assert path.is_file(), f"missing {path}: run `labcheck selftest {challenge.id} --record-evidence` on a cluster"
    cluster = RecordedCluster(path)
    graded = challenge.as_lab(find_lab(challenge.lab_id))
    result = run_step(graded, graded.steps[0], cluster, namespace=cluster.meta.get("namespace"))
    assert judge(result, want, fails, diagnosis) == []


def test_each_workaround_diagnosis_is_specific():
    """A workaround's diagnosis must not show up once the challenge is fixed: it could not fail."""
    for challenge in CHALLENGES:
        graded = challenge.as_lab(find_lab(challenge.lab_id))
        cluster = RecordedCluster(challenge_evidence_path(challenge, "fixed"))
        fixed = run_step(graded, graded.steps[0], cluster, namespace=cluster.meta.get("namespace"))
        text = " ".join(" ".join(filter(None, [c.summary, c.cause])) for c in fixed.checks)
        for workaround in challenge.workarounds:
            assert workaround.diagnosis.lower() not in text.lower(), (challenge.id, workaround.id)
