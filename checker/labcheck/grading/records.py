"""One learner's result: what the durable store keeps and every output reads.

A record is a plain dict (it goes to JSON lines as it is):

    key          unique per run: "file:<path>" or "live:<learner id>"
    learner      the learner's id; name; source (file or namespace/context it was graded from)
    basis        what the grade depends on: lab id, lab digest, steps graded; for a file its content's
                 sha256 and the course key's id, for a live learner where it was graded from
    status       PASS (every gradable step), FAIL (some step failed), ERROR (could not judge something),
                 NOT_GRADABLE (no step could be looked at from where the grader runs)
    error        why the learner could not be graded at all (then every step is ERROR)
    integrity    "verified", "not checked" (no course key given), "rejected" or "live"
    steps        per step: id, number, title, status, points, max_points, checks
    total, max_total   points earned, and points of the steps that could be graded
    not_gradable ids of steps the grader could not look at from where it ran (not in max_total)
    submitted_at when the learner's file says it was made (files only)
    fingerprint  facts unique to the cluster the evidence came from (files only; sameness.py)
    learner_from "file name" when the file could not be read far enough to say who handed it in
    challenge    a challenge's submission only: hints, hints_available, started_at, fixed_at, minutes_to_fix,
                 gave_up, seeded_by_learner, from the signed submission (challenge.gradebook_fields)
    graded_at, duration, labcheck   informative only: outputs that must not change on a re-run skip them
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any, Iterable

from .. import __version__
from ..checks.outcome import Status, StepResult
from ..model import Lab, Step

RECORD_VERSION = 1
_TEXT_LIMIT = 1000  # a check's message built from hostile data stays readable
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: Any, limit: int = _TEXT_LIMIT) -> str | None:
    """Text safe for every output: no control characters, bounded length."""
    if text is None:
        return None
    text = _CONTROL.sub("?", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def basis(lab: Lab, steps: Iterable[Step], digest: str, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a kept result must match to be kept by --resume: the lab, its steps, and (`identity`) the
    submission's content and course key, or where a live learner was graded from."""
    return {"lab": lab.id, "lab_digest": digest, "steps": [s.id for s in steps], **(identity or {})}


NOT_GRADABLE = Status.NOT_GRADABLE.value


def overall(step_statuses: Iterable[str], error: str | None) -> str:
    statuses = set(step_statuses)
    graded_any = bool(statuses)
    if error or "ERROR" in statuses:
        return "ERROR"
    if "FAIL" in statuses or "SKIP" in statuses:
        return "FAIL"
    statuses.discard(NOT_GRADABLE)
    if not statuses:
        return NOT_GRADABLE if graded_any else "FAIL"
    return "PASS"


def _step_entry(lab: Lab, step: Step, result: StepResult) -> dict[str, Any]:
    status = result.status.value
    return {
        "id": step.id,
        "number": lab.step_number(step),
        "title": step.title,
        "status": status,
        "points": step.points if result.status == Status.PASS else 0,
        "max_points": step.points,
        "checks": [
            {"id": c.check_id, "status": c.status.value, "summary": clean(c.summary), "expected": clean(c.expected),
             "observed": clean(c.observed), "cause": clean(c.cause)}
            for c in result.checks
        ],
    }


def graded(lab: Lab, steps: list[Step], results: list[StepResult], *, key: str, learner: str, name: str,
           source: str, namespace: str, digest: str, integrity: str, started: float,
           identity: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    entries = [_step_entry(lab, step, result) for step, result in zip(steps, results)]
    return _record(key=key, learner=learner, name=name, source=source, namespace=namespace,
                   basis=basis(lab, steps, digest, identity), steps=entries, error=None, integrity=integrity,
                   started=started, extra=extra)


def failed(lab: Lab, steps: list[Step], *, key: str, learner: str, name: str, source: str, namespace: str,
           digest: str, integrity: str, error: str, started: float, identity: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    """A learner who could not be graded: every step ERROR with the reason, no points."""
    reason = clean(error)
    entries = [
        {"id": s.id, "number": lab.step_number(s), "title": s.title, "status": "ERROR", "points": 0,
         "max_points": s.points, "checks": [{"id": "-", "status": "ERROR", "summary": f"not graded: {reason}",
                                             "expected": None, "observed": None, "cause": None}]}
        for s in steps
    ]
    return _record(key=key, learner=learner, name=name, source=source, namespace=namespace,
                   basis=basis(lab, steps, digest, identity), steps=entries, error=reason, integrity=integrity,
                   started=started, extra=extra)


def _record(*, key, learner, name, source, namespace, basis, steps, error, integrity, started,
            extra) -> dict[str, Any]:
    gradable = [s for s in steps if s["status"] != NOT_GRADABLE]
    record = {
        "record": RECORD_VERSION,
        "key": key,
        "learner": clean(learner, 200),
        "name": clean(name, 200) or "",
        "source": clean(source, 500),
        "namespace": namespace,
        "basis": basis,
        "status": overall((s["status"] for s in steps), error),
        "error": error,
        "integrity": integrity,
        "steps": steps,
        "total": sum(s["points"] for s in gradable),
        "max_total": sum(s["max_points"] for s in gradable),
        "not_gradable": [s["id"] for s in steps if s["status"] == NOT_GRADABLE],
        "submitted_at": clean(extra.get("submitted_at"), 40),
        "fingerprint": extra.get("fingerprint") or [],
        "learner_from": extra.get("learner_from"),
        "labcheck": __version__,
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration": round(time.monotonic() - started, 3),
    }
    if extra.get("challenge") is not None:  # a challenge's signed record: a lab's record has no such key
        record["challenge"] = extra["challenge"]
    return record


#: Fields that say when and how fast, not what: left out where a re-run must give the same bytes.
VOLATILE = ("graded_at", "duration", "labcheck")


def stable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def is_record(value: Any) -> bool:
    """A line read back from a store is one of ours (and not half of one)."""
    return (isinstance(value, dict) and value.get("record") == RECORD_VERSION and isinstance(value.get("key"), str)
            and isinstance(value.get("steps"), list) and isinstance(value.get("basis"), dict))
