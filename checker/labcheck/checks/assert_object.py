"""`assert:` — a partial object that must exist in the lab namespace."""

from __future__ import annotations

from ..model import ObjectPattern
from .context import CheckContext
from .diagnose import missing_object, object_cause
from .matching import mismatches
from .outcome import Outcome

_SHOWN = 4  # mismatches listed in a message; the rest are counted


def header(pattern: ObjectPattern, name: str | None = None) -> str:
    return f"{pattern.kind} {name or pattern.name}"


def describe_mismatches(found) -> str:
    lines = [f"{m.path} = {'<missing>' if m.missing else repr(m.actual)}" for m in found[:_SHOWN]]
    if len(found) > _SHOWN:
        lines.append(f"... and {len(found) - _SHOWN} more")
    return "; ".join(lines)


def evaluate(pattern: ObjectPattern, ctx: CheckContext) -> Outcome:
    fields = pattern.fields()
    if pattern.name:
        obj = ctx.cluster.get(pattern.apiVersion, pattern.kind, ctx.namespace, pattern.name)
        if obj is None:
            observed, cause = missing_object(ctx, pattern.apiVersion, pattern.kind, pattern.name)
            return Outcome.failed(
                f"{header(pattern)} does not exist in namespace {ctx.namespace}",
                expected=f"{header(pattern)} in namespace {ctx.namespace}",
                observed=observed,
                cause=cause,
            )
        found = mismatches(fields, obj)
        if not found:
            return Outcome.passed(f"{header(pattern)} matches")
        return Outcome.failed(
            f"{header(pattern)} does not match: {found[0]}",
            expected="; ".join(f"{m.path} = {m.expected!r}" for m in found[:_SHOWN]),
            observed=describe_mismatches(found),
            cause=object_cause(obj),
        )

    candidates = ctx.cluster.list(pattern.apiVersion, pattern.kind, ctx.namespace)
    for obj in candidates:
        if not mismatches(fields, obj):
            return Outcome.passed(f"{pattern.kind} {obj['metadata']['name']} matches")
    if not candidates:
        return Outcome.failed(
            f"no {pattern.kind} exists in namespace {ctx.namespace}",
            expected=f"a {pattern.kind} matching the lab's description",
            observed="none",
            cause="has the manifest been applied, in the lab's namespace?",
        )
    closest = min(candidates, key=lambda o: len(mismatches(fields, o)))
    found = mismatches(fields, closest)
    return Outcome.failed(
        f"no {pattern.kind} in namespace {ctx.namespace} matches; closest is {closest['metadata']['name']}: {found[0]}",
        observed=describe_mismatches(found),
        cause=object_cause(closest),
    )
