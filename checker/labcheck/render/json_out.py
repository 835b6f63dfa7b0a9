"""Machine output: one JSON document for a whole run."""

from __future__ import annotations

import json

from .. import __version__
from ..checks.outcome import StepResult


def render_json(steps: list[StepResult], *, source: str) -> str:
    overall = _overall(steps)
    return json.dumps(
        {"labcheck": __version__, "source": source, "status": overall, "steps": [s.to_dict() for s in steps]},
        indent=2,
    )


def _overall(steps: list[StepResult]) -> str:
    statuses = [s.status.value for s in steps]
    for word in ("ERROR", "FAIL", "PASS"):
        if word in statuses:
            return word
    return "SKIP"
