"""`absent:` — no object matching the partial object may exist (kind `absent`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ..context import CheckContext
from ..matching import ObjectPattern, mismatches, pattern_watches
from ..outcome import Outcome
from ..spec import CheckBase
from ...lint.patterns import lint_pattern
from .base import CheckKind


class AbsentCheck(CheckBase):
    kind: ClassVar[str] = "absent"
    spec: ObjectPattern = Field(alias="absent")


def evaluate(pattern: ObjectPattern, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    fields = pattern.fields()
    if pattern.name:
        obj = ctx.cluster.get(pattern.apiVersion, pattern.kind, ctx.namespace, pattern.name)
        present = [obj] if obj is not None and not mismatches(fields, obj) else []
    else:
        present = [o for o in ctx.cluster.list(pattern.apiVersion, pattern.kind, ctx.namespace)
                   if not mismatches(fields, o)]
    if not present:
        return Outcome.passed(f"no matching {pattern.kind} exists")
    names = ", ".join(o["metadata"]["name"] for o in present)
    deleting = any(o["metadata"].get("deletionTimestamp") for o in present)
    return Outcome.failed(
        f"{pattern.kind} {names} still exists in namespace {ctx.namespace}",
        expected=f"no {pattern.kind} matching the description",
        observed=names,
        cause="it is being deleted: wait for it to go" if deleting else f"delete it: kubectl delete {pattern.kind.lower()} {names.split(', ')[0]}",
    )


KIND = CheckKind("absent", AbsentCheck, evaluate, default_timeout=20.0, state_only=True, lint=lint_pattern, watches=pattern_watches)
