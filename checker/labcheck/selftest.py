"""A lab's proof on a real cluster: every step FAILS before its solution and PASSES after.

For each step, in order, on a namespace emptied first:
  1. grade the step as it stands (the previous steps solved): it must FAIL on `unsolved_fails`;
  2. for each known-wrong solution: apply it, grade, expect FAIL on its checks with its
     diagnosis, then rebuild the namespace up to this step;
  3. apply the reference solution, grade: it must PASS.
With `record`, each grading's evidence is saved under the lab's evidence/ folder,
which the fast test tier grades again without a cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import actions
from .checks.outcome import Status, StepResult
from .cluster.live import LiveCluster
from .cluster.recorded import RecordingCluster
from .engine import run_step
from .model import Lab, Step
from .toolchain import cluster_config, kube_context

SETTLE_TIMEOUT = 90.0


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def evidence_path(lab: Lab, step: Step, case: str) -> Path:
    return lab.folder / "evidence" / f"{lab.step_number(step):02d}-{step.id}.{case}.json"


def _message(result: StepResult, check_id: str) -> str:
    check = next((c for c in result.checks if c.check_id == check_id), None)
    if check is None:
        return ""
    return " ".join(filter(None, [check.summary, check.expected, check.observed, check.cause]))


def judge(result: StepResult, want: str, fails: list[str] = (), diagnosis: str | None = None) -> list[str]:
    """What is wrong with a step result against the expectation (empty: as expected)."""
    problems = []
    statuses = {c.check_id: c.status for c in result.checks}
    if want == "PASS":
        if result.status != Status.PASS:
            bad = [f"{c.check_id}={c.status.value}: {c.summary}" for c in result.checks if c.status != Status.PASS]
            problems.append("expected PASS, got " + "; ".join(bad))
        return problems
    errors = [f"{c.check_id}: {c.summary}" for c in result.checks if c.status == Status.ERROR]
    if errors:
        problems.append("ERROR: " + "; ".join(errors))
    for check_id in fails:
        if statuses.get(check_id) != Status.FAIL:
            failing = [c for c, s in statuses.items() if s == Status.FAIL]
            problems.append(f"expected {check_id} to FAIL; it is {statuses.get(check_id)} (failing: {failing or 'none'})")
        elif diagnosis and diagnosis.lower() not in _message(result, check_id).lower():
            problems.append(f"{check_id} failed without the diagnosis {diagnosis!r}: {_message(result, check_id)}")
    return problems


def settle(cluster: LiveCluster, namespace: str, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until no Pod in the namespace is still being created or deleted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for pod in cluster.list("v1", "Pod", namespace):
            if pod["metadata"].get("deletionTimestamp"):
                busy = True
            statuses = pod.get("status", {}).get("containerStatuses") or []
            if len(statuses) < len(pod.get("spec", {}).get("containers", [])):
                busy = True
            for status in statuses:
                waiting = status.get("state", {}).get("waiting")
                if waiting and waiting.get("reason") in (None, "ContainerCreating", "PodInitializing"):
                    busy = True
        if not busy:
            time.sleep(2)  # let freshly started containers do their first bit of work
            return
        time.sleep(1)


def run_selftest(lab: Lab, *, record: bool = False, log: Callable[[str], None] = print) -> Report:
    config, name = cluster_config(lab.cluster)
    context = kube_context(name)
    live = LiveCluster(context)
    report = Report()

    def grade(step: Step, case: str) -> StepResult:
        settle(live, lab.namespace)
        cluster = RecordingCluster(live) if record else live
        wait = 0.0 if case == "unsolved" else None
        result = run_step(lab, step, cluster, wait=wait)
        if record:
            cluster.save(evidence_path(lab, step, case), {"lab": lab.id, "steps": [step.id], "case": case})
        return result

    def rebuild(upto: int) -> None:
        actions.delete_namespace(context, lab.namespace)
        actions.ensure_namespace(context, lab.namespace)
        actions.perform(lab, lab.setup, context=context, cluster_name=name)
        for earlier in lab.steps[:upto]:
            actions.perform(lab, earlier.solution, context=context, cluster_name=name)
            settle(live, lab.namespace)

    def verdict(label: str, problems: list[str], seconds: float) -> None:
        if problems:
            report.failures.append(f"{label}: {'; '.join(problems)}")
            report.lines.append(f"FAIL  {label} ({seconds:.1f} s): {'; '.join(problems)}")
        else:
            report.lines.append(f"ok    {label} ({seconds:.1f} s)")
        log(report.lines[-1])

    rebuild(0)
    for index, step in enumerate(lab.steps):
        number = index + 1
        started = time.monotonic()
        result = grade(step, "unsolved")
        verdict(f"step {number} {step.id}: fails before its solution", judge(result, "FAIL", step.unsolved_fails),
                time.monotonic() - started)
        for wrong in step.wrong_solutions:
            started = time.monotonic()
            actions.perform(lab, wrong, context=context, cluster_name=name)
            result = grade(step, f"wrong-{wrong.id}")
            verdict(f"step {number} {step.id}: wrong solution {wrong.id} is diagnosed",
                    judge(result, "FAIL", wrong.fails, wrong.diagnosis), time.monotonic() - started)
            rebuild(index)
        started = time.monotonic()
        actions.perform(lab, step.solution, context=context, cluster_name=name)
        result = grade(step, "solved")
        verdict(f"step {number} {step.id}: passes after its solution", judge(result, "PASS"),
                time.monotonic() - started)
    return report
