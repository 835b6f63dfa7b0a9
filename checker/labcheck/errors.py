"""Exit codes and the errors that map onto them.

Every failure a person can cause or meet (bad lab file, no cluster, corrupt
evidence file) is one of these; the CLI prints its message on one line.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What `labcheck` exits with; the numbers are part of its interface (README, CI scripts)."""

    PASSED = 0
    FAILED = 1  # the learner's cluster is not right yet
    USAGE = 2
    CANNOT_GRADE = 3  # no cluster, API unreachable, ERROR results
    INVALID_LAB = 4
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, what a shell reports for it


class LabcheckError(Exception):
    exit_code = ExitStatus.CANNOT_GRADE


class UsageError(LabcheckError):
    exit_code = ExitStatus.USAGE


class LabInvalid(LabcheckError):
    """A lab definition is broken; carries every problem found."""

    exit_code = ExitStatus.INVALID_LAB

    def __init__(self, problems: list["Problem"]):  # noqa: F821 (defined in loader)
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more; run labcheck lint)" if len(problems) > 1 else ""
        super().__init__(f"{first}{more}")


class ClusterUnavailable(LabcheckError):
    """The grader cannot look: no cluster, wrong context, API down, docker missing."""


class NotGradableHere(LabcheckError):
    """The grader cannot look from where it runs (a node or the learner's machine, from a Pod or a roster
    of other people's clusters): the check is "not gradable here", counted apart, never ERROR or FAIL."""


class EvidenceError(LabcheckError):
    """A recorded evidence file is missing, corrupt or of another version."""


class TargetUnavailable(Exception):
    """What a probe wanted to run in is not there (Pod missing, container not running).

    That is the learner's cluster not being right yet, so checks turn it into FAIL;
    `final` when waiting cannot change it (the container crashed, its image cannot be pulled).
    """

    def __init__(self, message: str, *, cause: str | None = None, final: bool = False):
        super().__init__(message)
        self.cause = cause
        self.final = final
