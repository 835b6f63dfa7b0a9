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
class TableCell:
    text: str
    ok: bool | None = None  # True: as expected, False: not, None: nothing to judge


@dataclass
class TableRow:
    label: str
    cells: list[TableCell]


@dataclass
class Table:
    """A grid a check shows under its verdict (a connectivity matrix, one answer per node):
    plain data, so every renderer can draw it without knowing the check's kind."""

    title: str
    corner: str  # the heading of the row labels' column
    columns: list[str]
    rows: list[TableRow]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Table":
        return cls(data["title"], data["corner"], list(data["columns"]),
                   [TableRow(r["label"], [TableCell(**c) for c in r["cells"]]) for r in data["rows"]])


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
    #: A grid to show under the verdict, for what one line cannot say.
    table: Table | None = None

    @classmethod
    def passed(cls, summary: str, observed: str | None = None, evidence=None, table: Table | None = None) -> "Outcome":
        return cls(Status.PASS, summary, observed=observed, evidence=evidence or [], table=table)

    @classmethod
    def failed(cls, summary: str, *, expected=None, observed=None, cause=None, evidence=None,
               final: bool = False, cause_generic: bool = False, table: Table | None = None) -> "Outcome":
        return cls(Status.FAIL, summary, expected, observed, cause, evidence or [], final, cause_generic, table)

    @classmethod
    def error(cls, summary: str, evidence=None, table: Table | None = None) -> "Outcome":
        return cls(Status.ERROR, summary, evidence=evidence or [], table=table)

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
    table: Table | None = None

    @classmethod
    def from_outcome(cls, check_id: str, title: str, kind: str, outcome: Outcome, *,
                     duration: float = 0.0, attempts: int = 1) -> "CheckResult":
        fields = {name: getattr(outcome, name) for name in
                  ("status", "summary", "expected", "observed", "cause", "evidence", "table")}
        # final and cause_generic say how the result was reached, not what it is
        return cls(check_id, title, kind, duration=duration, attempts=attempts, **fields)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class Regression:
    """An earlier step that passed and no longer does: the likely root of a later step's FAIL."""

    step_number: int
    step_id: str
    check_id: str
    summary: str
    cause: str | None = None

    def __str__(self) -> str:
        cause = f" (likely cause: {self.cause})" if self.cause else ""
        return f"step {self.step_number} {self.step_id} no longer passes: {self.check_id}: {self.summary}{cause}"


@dataclass
class StepResult:
    lab_id: str
    step_id: str
    step_number: int
    step_title: str
    checks: list[CheckResult]
    duration: float = 0.0
    #: Set when this step fails and an earlier step's check no longer passes.
    regression: Regression | None = None

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
            "regression": asdict(self.regression) if self.regression else None,
            "checks": [c.to_dict() for c in self.checks],
        }
