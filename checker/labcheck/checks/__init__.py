"""Running checks. What each kind of check is and does is in `kinds/` (one module per
key a lab.yaml can use: `assert:` -> kinds/assert_.py, `probe:` -> kinds/probe.py, ...);
this module runs one check of any kind, re-trying a FAIL until the check's timeout
while the cluster converges, and turns what goes wrong into a result.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ClusterUnavailable, NotGradableHere, TargetUnavailable
from .context import CheckContext
from .kinds import kind_of
from .outcome import CheckResult, Outcome, Status

_INTERVAL = 0.5  # seconds between attempts while a check waits for the cluster to converge


def _attempt(check, ctx: CheckContext, lab_folder: Path) -> Outcome:
    ctx.evidence = []
    ctx.reached = set()
    kind = kind_of(check)
    try:
        outcome = kind.evaluate(check.spec, ctx, lab_folder)
    except NotGradableHere as exc:
        outcome = Outcome.not_gradable(str(exc))
    except TargetUnavailable as exc:
        outcome = Outcome.failed(str(exc), cause=exc.cause or "it must exist and run before it can be probed",
                                 final=exc.final)
    except ClusterUnavailable as exc:
        outcome = Outcome.error(str(exc))
    except Exception as exc:  # a bug in a lab's check function: the grader cannot judge
        outcome = Outcome.error(f"check raised {type(exc).__name__}: {exc}")
    outcome.evidence = ctx.evidence + outcome.evidence
    undeclared = ctx.reached - set(kind.needs(check.spec, lab_folder))
    if undeclared:  # graders that cannot reach a node or the host must be able to tell beforehand
        where = " and ".join(sorted(undeclared))
        outcome = Outcome.error(f"check {check.id} ran a command on a {where} without declaring it: "
                                f"its function needs @register(needs=({', '.join(map(repr, sorted(undeclared)))},))",
                                evidence=outcome.evidence)
    return outcome


def run_check(check, ctx: CheckContext, lab_folder: Path, *, wait: float | None = None) -> CheckResult:
    """Run one check, re-trying a FAIL until its timeout (never when replaying evidence).

    A FAIL marked `final` is reported at once: the state cannot converge without the learner.
    """
    kind = kind_of(check)
    if ctx.cluster.replay:
        timeout = 0.0
    elif wait is not None:
        timeout = wait
    else:
        timeout = check.timeout if check.timeout is not None else kind.default_timeout
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        outcome = _attempt(check, ctx, lab_folder)
        elapsed = time.monotonic() - started
        if outcome.status != Status.FAIL or outcome.final or elapsed + _INTERVAL > timeout:
            break
        time.sleep(_INTERVAL)
        ctx.refresh()
    if outcome.status == Status.FAIL and check.cause and (not outcome.cause or outcome.cause_generic):
        outcome.cause = check.cause
    return CheckResult.from_outcome(check.id, check.title, kind.name, outcome,
                                    duration=round(time.monotonic() - started, 3), attempts=attempts)


__all__ = ["CheckContext", "CheckResult", "Outcome", "Status", "run_check"]
