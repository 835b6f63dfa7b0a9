"""The check vocabulary. A check's `kind` in lab.yaml names its module here
(the table is `CHECK_REGISTRY` in model.py):

    assert -> assert_object.py    absent -> absent.py
    probe  -> probe.py            python -> python_check.py (+ the lab's checks.py)
    matrix -> connectivity.py

Every module has `evaluate(spec, ctx, lab_folder) -> Outcome`.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from ..errors import ClusterUnavailable, NotGradableHere, TargetUnavailable
from ..model import CHECK_REGISTRY, check_kind, check_spec
from .context import CheckContext
from .outcome import CheckResult, Outcome, Status

_INTERVAL = 0.5  # seconds between attempts while a check waits for the cluster to converge


def default_timeout(kind: str) -> float:
    return CHECK_REGISTRY[kind].default_timeout


def _evaluator(kind: str):
    module = importlib.import_module(f"{__name__}.{CHECK_REGISTRY[kind].module}")
    return module.evaluate


def _attempt(check, ctx: CheckContext, lab_folder: Path) -> Outcome:
    ctx.evidence = []
    try:
        outcome = _evaluator(check_kind(check))(check_spec(check), ctx, lab_folder)
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
    return outcome


def run_check(check, ctx: CheckContext, lab_folder: Path, *, wait: float | None = None) -> CheckResult:
    """Run one check, re-trying a FAIL until its timeout (never when replaying evidence).

    A FAIL marked `final` is reported at once: the state cannot converge without the learner.
    """
    kind = check_kind(check)
    if ctx.cluster.replay:
        timeout = 0.0
    elif wait is not None:
        timeout = wait
    else:
        timeout = check.timeout if check.timeout is not None else default_timeout(kind)
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
    return CheckResult.from_outcome(check.id, check.title, kind, outcome,
                                    duration=round(time.monotonic() - started, 3), attempts=attempts)


__all__ = ["CheckContext", "CheckResult", "Outcome", "Status", "run_check", "default_timeout"]
