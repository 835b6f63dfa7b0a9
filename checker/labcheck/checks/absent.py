"""`absent:` — no object matching the partial object may exist."""

from __future__ import annotations

from pathlib import Path

from ..model import ObjectPattern
from .context import CheckContext
from .matching import mismatches
from .outcome import Outcome


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
