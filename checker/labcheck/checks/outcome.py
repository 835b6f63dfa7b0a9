"""What a check found: its status, the message parts and the evidence behind them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"  # the learner's cluster is not right yet
    ERROR = "ERROR"  # the grader could not judge
    SKIP = "SKIP"
    NOT_GRADABLE = "NOT_GRADABLE"  # the grader cannot look from where it runs (a node, the learner's machine)

    def __str__(self) -> str:
        return self.value


@dataclass
class Outcome:
    status: Status
    summary: str
    expected: str | None = None
    observed: str | None = None
    cause: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    #: A FAIL that waiting cannot fix (image cannot be pulled, nothing applied yet, a readiness
    #: probe failing past its threshold): the check stops re-trying and reports it at once.
    final: bool = False
    #: The cause is a generic guess; a cause the lab author wrote for this check wins over it.
    cause_generic: bool = False

    @classmethod
    def passed(cls, summary: str, observed: str | None = None, evidence=None) -> "Outcome":
        return cls(Status.PASS, summary, observed=observed, evidence=evidence or [])

    @classmethod
    def failed(cls, summary: str, *, expected=None, observed=None, cause=None, evidence=None,
               final: bool = False, cause_generic: bool = False) -> "Outcome":
        return cls(Status.FAIL, summary, expected, observed, cause, evidence or [], final, cause_generic)

    @classmethod
    def error(cls, summary: str, evidence=None) -> "Outcome":
        return cls(Status.ERROR, summary, evidence=evidence or [])

    @classmethod
    def not_gradable(cls, summary: str) -> "Outcome":
        return cls(Status.NOT_GRADABLE, summary)


@dataclass
class CheckResult:
    check_id: str
    title: str
    kind: str
    status: Status
    summary: str
    expected: str | None = None
    observed: str | None = None
    cause: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0
    attempts: int = 1

    @classmethod
    def from_outcome(cls, check_id: str, title: str, kind: str, outcome: Outcome, *,
                     duration: float = 0.0, attempts: int = 1) -> "CheckResult":
        fields = asdict(outcome)
        for internal in ("final", "cause_generic"):  # how the result was reached, not part of it
            fields.pop(internal)
        return cls(check_id, title, kind, duration=duration, attempts=attempts, **fields)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class StepResult:
    lab_id: str
    step_id: str
    step_number: int
    step_title: str
    checks: list[CheckResult]
    duration: float = 0.0

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        if Status.ERROR in statuses:
            return Status.ERROR
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.NOT_GRADABLE in statuses:  # what could be checked passed; the rest could not be looked at
            return Status.NOT_GRADABLE
        if Status.PASS in statuses:
            return Status.PASS
        return Status.SKIP

    def to_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab_id,
            "step": self.step_id,
            "number": self.step_number,
            "title": self.step_title,
            "status": self.status.value,
            "duration": round(self.duration, 3),
            "checks": [c.to_dict() for c in self.checks],
        }
