"""Python checks of lab 08. The connectivity itself is graded by `matrix:` checks (the
engine's connectivity module); what is left here is a fact about the namespace."""

from __future__ import annotations
from labcheck.lab import CheckContext, Outcome, register



@register
def namespace_labelled(ctx: CheckContext, suffix: str, labels: dict[str, str]) -> Outcome:
    """The namespace named after the graded one (`<namespace><suffix>`) has these labels."""
    name = f"{ctx.namespace}{suffix}"
    namespace = ctx.get("Namespace", name)
    wanted = ", ".join(f"{k}={v}" for k, v in labels.items())
    if namespace is None:
        return Outcome.failed(
            f"namespace {name} does not exist", expected=f"namespace {name} with {wanted}",
            cause="`labcheck start 08` makes it (with monitor and debug in it); run it again", final=True)
    have = namespace.get("metadata", {}).get("labels") or {}
    missing = {k: v for k, v in labels.items() if have.get(k) != v}
    if missing:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(have.items())) or "none"
        return Outcome.failed(
            f"namespace {name} lacks {', '.join(f'{k}={v}' for k, v in missing.items())}",
            expected=wanted, observed=f"labels: {shown}",
            cause=f"a namespaceSelector can only select a namespace by its labels: "
                  f"`kubectl label namespace {name} {' '.join(f'{k}={v}' for k, v in missing.items())}`",
            final=True)
    return Outcome.passed(f"namespace {name} has {wanted}")
