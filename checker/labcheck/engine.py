"""Running a lab step's checks against a cluster."""

from __future__ import annotations

import time
from typing import Callable

from .checks import CheckContext, run_check
from .checks.outcome import CheckResult, Status, StepResult
from .cluster.base import Cluster
from .model import Lab, Step, check_kind


def run_step(
    lab: Lab,
    step: Step,
    cluster: Cluster,
    *,
    wait: float | None = None,
    on_check: Callable[[CheckResult], None] | None = None,
    namespace: str | None = None,
) -> StepResult:
    """Checks run in order; once one does not pass, the rest are SKIPped.

    A step's checks build on each other (a probe into a Pod means nothing when
    the Pod is missing), so the first failure is the one worth reading.
    `namespace` grades the step in another namespace than the lab's own
    (a classroom cluster gives each learner one).
    """
    started = time.monotonic()
    results: list[CheckResult] = []
    blocker: CheckResult | None = None
    for check in step.checks:
        if blocker is not None:
            result = CheckResult(check.id, check.title, check_kind(check), Status.SKIP,
                                 f"not run: {blocker.check_id} did not pass")
        else:
            ctx = CheckContext(cluster=cluster, namespace=namespace or lab.namespace)
            result = run_check(check, ctx, lab.folder, wait=wait)
            if result.status in (Status.FAIL, Status.ERROR):
                blocker = result
        results.append(result)
        if on_check:
            on_check(result)
    return StepResult(lab.id, step.id, lab.step_number(step), step.title, results,
                      duration=time.monotonic() - started)

