"""The check vocabulary. A check's `kind` in lab.yaml names its module here:

    assert -> assert_object.py    absent -> absent.py
    probe  -> probe.py            python -> python_check.py (+ the lab's checks.py)
"""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import ClusterUnavailable, TargetUnavailable
from ..model import AbsentCheck, AssertCheck, ProbeCheck, PythonCheck, check_kind
from . import absent, assert_object, probe, python_check
from .context import CheckContext
from .outcome import CheckResult, Outcome, Status

#: Seconds a check keeps re-trying a FAIL while the cluster converges.
DEFAULT_TIMEOUTS = {"assert": 10.0, "absent": 20.0, "probe": 5.0, "python": 5.0}
_INTERVAL = 1.0


def _attempt(check, ctx: CheckContext, lab_folder: Path) -> Outcome:
    ctx.evidence = []
    try:
        if isinstance(check, AssertCheck):
            outcome = assert_object.evaluate(check.assert_, ctx)
        elif isinstance(check, AbsentCheck):
            outcome = absent.evaluate(check.absent, ctx)
        elif isinstance(check, ProbeCheck):
            outcome = probe.evaluate(check.probe, ctx)
        elif isinstance(check, PythonCheck):
            outcome = python_check.evaluate(check.python, ctx, lab_folder)
        else:  # pragma: no cover - the model admits no other kind
            raise TypeError(type(check))
    except TargetUnavailable as exc:
        outcome = Outcome.failed(str(exc), cause="it must exist and run before it can be probed")
    except ClusterUnavailable as exc:
        outcome = Outcome.error(str(exc))
    except Exception as exc:  # a bug in a lab's check function: the grader cannot judge
        outcome = Outcome.error(f"check raised {type(exc).__name__}: {exc}")
    outcome.evidence = ctx.evidence + outcome.evidence
    return outcome


def run_check(check, ctx: CheckContext, lab_folder: Path, *, wait: float | None = None) -> CheckResult:
    """Run one check, re-trying a FAIL until its timeout (never when replaying evidence)."""
    kind = check_kind(check)
    if ctx.cluster.replay:
        timeout = 0.0
    elif wait is not None:
        timeout = wait
    else:
        timeout = check.timeout if check.timeout is not None else DEFAULT_TIMEOUTS[kind]
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        outcome = _attempt(check, ctx, lab_folder)
        elapsed = time.monotonic() - started
        if outcome.status != Status.FAIL or elapsed + _INTERVAL > timeout:
            break
        time.sleep(_INTERVAL)
    if outcome.status == Status.FAIL and check.cause and not outcome.cause:
        outcome.cause = check.cause
    return CheckResult.from_outcome(check.id, check.title, kind, outcome,
                                    duration=round(time.monotonic() - started, 3), attempts=attempts)


__all__ = ["CheckContext", "CheckResult", "Outcome", "Status", "run_check", "DEFAULT_TIMEOUTS"]
