"""Running a lab step's checks against a cluster."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .checks import CheckContext, run_check
from .checks.outcome import CheckResult, Regression, Status, StepResult
from .cluster.base import Cluster
from .cluster.cached import StepReads
from .checks.kinds import kind_of
from .model import Lab, Step, check_kind

#: Checks of parallel kinds (probes) run side by side: each waits on the network, not on the CPU.
MAX_PARALLEL_CHECKS = 8


def _groups(step: Step) -> list[list]:
    """Checks in order; consecutive checks of kinds that may run side by side form one group."""
    groups: list[list] = []
    for check in step.checks:
        if kind_of(check).parallel and groups and kind_of(groups[-1][0]).parallel:
            groups[-1].append(check)
        else:
            groups.append([check])
    return groups


def run_step(
    lab: Lab,
    step: Step,
    cluster: Cluster,
    *,
    wait: float | None = None,
    on_check: Callable[[CheckResult], None] | None = None,
    namespace: str | None = None,
    recheck_earlier: bool = False,
) -> StepResult:
    """Checks run in order; once one does not pass, the rest are SKIPped.

    A step's checks build on each other (a probe into a Pod means nothing when
    the Pod is missing), so the first failure is the one worth reading. Each
    kind of object is read once for the step (`StepReads`), and consecutive
    checks of parallel kinds run side by side; their results are still reported in order.
    `namespace` grades the step in another namespace than the lab's own.
    `recheck_earlier`: when the step fails, the earlier steps' state-only checks are
    graded again (at once, from the same reads); the first that fails is reported as
    the step's `regression`, the likely root of this failure.
    """
    started = time.monotonic()
    reads = StepReads(cluster)
    namespace = namespace or lab.namespace
    results: list[CheckResult] = []
    blocker: CheckResult | None = None

    def run(check) -> CheckResult:
        return run_check(check, CheckContext(cluster=reads, namespace=namespace), lab.folder, wait=wait)

    def skipped(check) -> CheckResult:
        return CheckResult(check.id, check.title, check_kind(check), Status.SKIP,
                           f"not run: {blocker.check_id} did not pass")

    for group in _groups(step):
        if blocker is not None:
            outcomes = [skipped(check) for check in group]
        elif len(group) == 1:
            outcomes = [run(group[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(len(group), MAX_PARALLEL_CHECKS)) as pool:
                outcomes = list(pool.map(run, group))
        for check, result in zip(group, outcomes):
            if blocker is not None and result.status != Status.SKIP:
                result = skipped(check)  # ran in parallel with the check that failed first
            elif result.status in (Status.FAIL, Status.ERROR):
                blocker = result
            results.append(result)
            if on_check:
                on_check(result)
    regression = None
    if recheck_earlier and blocker is not None and blocker.status == Status.FAIL:
        regression = _regression(lab, step, reads, namespace)
    return StepResult(lab.id, step.id, lab.step_number(step), step.title, results,
                      duration=time.monotonic() - started, regression=regression)


def _regression(lab: Lab, step: Step, reads: StepReads, namespace: str) -> Regression | None:
    """The first check of an earlier step that judges only objects and fails now."""
    for earlier in lab.steps[: lab.step_number(step) - 1]:
        for check in earlier.checks:
            if not kind_of(check).state_only:
                continue
            result = run_check(check, CheckContext(cluster=reads, namespace=namespace), lab.folder, wait=0)
            if result.status == Status.FAIL:
                return Regression(lab.step_number(earlier), earlier.id, check.id, result.summary, result.cause)
            if result.status != Status.PASS:
                break  # the grader could not judge it: say nothing rather than guess
    return None
