"""Checks of challenge 08-allowed-but-blocked. Who reaches whom is a `matrix:` check; what is left
here is that the Pods and the namespace keep the labels the app was deployed with."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, register

#: Labels Kubernetes and labcheck set themselves: not the app's own.
_SYSTEM = ("kubernetes.io/", "labcheck.io/")


def _shown(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(none)"


@register(watches=(("v1", "Namespace"),))
def labels_as_deployed(ctx: CheckContext, deployed: list[dict]) -> Outcome:
    """Each object (`kind`, `name`, `namespace` if not the graded one; `$LAB_NAMESPACE` allowed) carries
    exactly the `labels` it was deployed with, beside the ones Kubernetes sets."""
    changed = []
    for item in deployed:
        name = commands.in_namespace(item["name"], ctx.namespace)
        where = commands.in_namespace(item.get("namespace") or ctx.namespace, ctx.namespace)
        found = ctx.get(item["kind"], name, namespace=where)
        if found is None:
            raise TargetUnavailable(f"{item['kind']} {name} does not exist", final=True,
                                    cause=f"{item['kind']} {name} is part of the app: keep it")
        labels = {k: v for k, v in (found["metadata"].get("labels") or {}).items()
                  if not any(mark in k for mark in _SYSTEM)}
        if labels != item["labels"]:
            changed.append(f"{item['kind']} {name}: {_shown(labels)} (deployed with {_shown(item['labels'])})")
    if not changed:
        return Outcome.passed("the Pods and the namespace carry the labels they were deployed with")
    return Outcome.failed(
        f"labels changed since the deploy: {'; '.join(changed)}",
        expected="the labels the app was deployed with", observed="; ".join(changed), final=True,
        cause="the labels are what every Service, policy and tool selects the app by: bending them to fit a "
              "policy's selector breaks what selects them as they were; fix the selector instead")
