"""Checks of challenge 04-silent-shop."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, objects, register


@register
def service_fronts_deployment(ctx: CheckContext, service: str, deployment: str) -> Outcome:
    svc = objects.service(ctx, service)
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"the app's Deployment {deployment} is part of the app: keep it")
    selector = svc.get("spec", {}).get("selector") or {}
    labels = found.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "(none)"
    carried = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    if selector and all(labels.get(k) == v for k, v in selector.items()):
        return Outcome.passed(f"Service {service} selects {shown}, labels every Pod of Deployment {deployment} carries")
    return Outcome.failed(
        f"Service {service} selects {shown}: not the Pods of Deployment {deployment}, which are labelled {carried}",
        expected=f"a selector made of labels the Deployment's Pod template has ({carried})",
        observed=f"selector {shown}",
        cause="the Service's selector must match the Deployment's Pods; Pods relabelled to fit it leave their "
              "ReplicaSet, which makes new ones the Service does not see",
        final=True)
