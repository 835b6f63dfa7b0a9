"""`assert:` — a partial object that must exist in the lab namespace (kind `assert`).

Fields given must match (`checks/matching.py`: values, lists without order, `$`
operators); fields not given are ignored. A FAIL says which fields differ and,
from the object's state, why (a Pod that cannot start, a Service selecting nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ...lint.patterns import lint_pattern
from ..commands import in_namespace
from ..context import CLUSTER_SCOPED, CheckContext
from ..diagnose import Cause, missing_object, object_cause, service_selects_nothing
from ..matching import ObjectPattern, mismatches, pattern_watches
from ..outcome import Outcome
from ..spec import CheckBase
from .base import CheckKind


class AssertCheck(CheckBase):
    kind: ClassVar[str] = "assert"
    spec: ObjectPattern = Field(alias="assert")

_SHOWN = 4  # mismatches listed in a message; the rest are counted


def header(pattern: ObjectPattern, name: str | None = None) -> str:
    return f"{pattern.kind} {name or pattern.name}"


def describe_mismatches(found) -> str:
    lines = [f"{m.path} = {'<missing>' if m.missing else repr(m.actual)}" for m in found[:_SHOWN]]
    if len(found) > _SHOWN:
        lines.append(f"... and {len(found) - _SHOWN} more")
    return "; ".join(lines)


def _cause(ctx: CheckContext, obj: dict) -> Cause:
    if obj.get("kind") == "Service":
        return service_selects_nothing(ctx, obj) or Cause(None)
    return object_cause(obj, ctx)


def evaluate(pattern: ObjectPattern, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    fields = pattern.fields()
    if pattern.name:
        # a cluster-scoped kind (a Namespace) is read without a namespace; its name may be derived
        # from the graded namespace ($LAB_NAMESPACE-monitoring)
        name = in_namespace(pattern.name, ctx.namespace)
        where = "" if pattern.kind in CLUSTER_SCOPED else f" in namespace {ctx.namespace}"
        obj = ctx.get(pattern.kind, name, pattern.apiVersion)
        if obj is None:
            observed, cause = missing_object(ctx, pattern.apiVersion, pattern.kind, name)
            return Outcome.failed(
                f"{header(pattern, name)} does not exist{where}",
                expected=f"{header(pattern, name)}{where}",
                observed=observed,
                cause=cause.text,
                final=cause.final,
                cause_generic=cause.generic,
            )
        found = mismatches({**fields, "metadata": {**fields.get("metadata", {}), "name": name}}, obj)
        if not found:
            return Outcome.passed(f"{header(pattern, name)} matches")
        cause = _cause(ctx, obj)
        return Outcome.failed(
            f"{header(pattern, name)} does not match: {found[0]}",
            expected="; ".join(f"{m.path} = {m.expected!r}" for m in found[:_SHOWN]),
            observed=describe_mismatches(found),
            cause=cause.text,
            final=cause.final,
        )

    candidates = ctx.list(pattern.kind, pattern.apiVersion)
    for obj in candidates:
        if not mismatches(fields, obj):
            return Outcome.passed(f"{pattern.kind} {obj['metadata']['name']} matches")
    if not candidates:
        return Outcome.failed(
            f"no {pattern.kind} exists in namespace {ctx.namespace}",
            expected=f"a {pattern.kind} matching the lab's description",
            observed="none",
            cause="has the manifest been applied, in the lab's namespace?",
            cause_generic=True,
        )
    closest = min(candidates, key=lambda o: len(mismatches(fields, o)))
    found = mismatches(fields, closest)
    cause = _cause(ctx, closest)
    return Outcome.failed(
        f"no {pattern.kind} in namespace {ctx.namespace} matches; closest is {closest['metadata']['name']}: {found[0]}",
        observed=describe_mismatches(found),
        cause=cause.text,
        final=cause.final,
    )


KIND = CheckKind("assert", AssertCheck, evaluate, default_timeout=10.0, state_only=True, lint=lint_pattern, watches=pattern_watches)
