"""Checks of challenge 03-wrong-figures: what the reporter logs, where it takes the address from,
and whom that address leads to."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, objects, register


@register
def reporter_gets_inventory(ctx: CheckContext, deployment: str, expect: str) -> Outcome:
    """The latest line every running reporter Pod logged holds the inventory's figures."""
    wrong = []
    for pod in objects.running_pods(ctx, deployment):
        lines = [line for line in ctx.logs(objects.name_of(pod), tail_lines=3, what="its latest report").splitlines()
                 if line.strip()]
        if not lines or expect not in lines[-1]:
            wrong.append(f"{objects.name_of(pod)}: {lines[-1].strip() if lines else '(nothing logged yet)'}")
    if not wrong:
        return Outcome.passed(f"the {deployment} logs {expect!r}")
    return Outcome.failed(f"the {deployment} does not log the inventory's figures",
                          expected=f"its latest line holds {expect!r}", observed="; ".join(wrong),
                          cause="it gets an answer, so something answers at the address it asks: is that the "
                                "inventory?")


@register
def env_from_configmap(ctx: CheckContext, deployment: str, env: str, configmap: str, key: str) -> Outcome:
    """The Deployment's Pods (template and running ones) take $env from the ConfigMap's key."""
    found = objects.deployment(ctx, deployment)
    specs = [("its Pod template", found.get("spec", {}).get("template", {}).get("spec", {}))]
    specs += [(f"Pod {objects.name_of(p)}", p.get("spec", {})) for p in objects.running_pods(ctx, deployment)]
    elsewhere = []
    for where, spec in specs:
        for container in spec.get("containers") or []:
            entry = next((e for e in container.get("env") or [] if e.get("name") == env), None)
            ref = ((entry or {}).get("valueFrom") or {}).get("configMapKeyRef") or {}
            if entry is None:
                elsewhere.append(f"{where}: container {container.get('name')} has no ${env}")
            elif (ref.get("name"), ref.get("key")) != (configmap, key):
                given = f"the value {entry['value']!r}" if "value" in entry else "another source"
                elsewhere.append(f"{where}: ${env} is hard-coded as {given}")
    if not elsewhere:
        return Outcome.passed(f"{deployment} takes ${env} from ConfigMap {configmap} (key {key})")
    return Outcome.failed(f"{deployment} does not take ${env} from ConfigMap {configmap}: {'; '.join(elsewhere)}",
                          expected=f"${env} from configMapKeyRef {configmap}/{key}", observed="; ".join(elsewhere),
                          final=True,
                          cause=f"ConfigMap {configmap} is where the address is kept for every client: an address "
                                "written into one Deployment goes stale unseen when the inventory's Pod (and its "
                                "IP) is replaced")


@register
def address_leads_to(ctx: CheckContext, configmap: str, key: str, deployment: str) -> Outcome:
    """The address in the ConfigMap is a ready Pod of the Deployment, or the ClusterIP of a Service
    that selects its Pods."""
    address = str(((ctx.get("ConfigMap", configmap) or {}).get("data") or {}).get(key) or "").strip()
    if not address:
        raise TargetUnavailable(f"ConfigMap {configmap} gives no {key}", final=True,
                                cause=f"ConfigMap {configmap} is where the clients find the inventory: keep it, "
                                      f"with the address under {key}")
    found = objects.deployment(ctx, deployment)
    for pod in objects.deployment_pods(ctx, found):
        if objects.same_value(address, pod.get("status", {}).get("podIP") or ""):
            if objects.is_ready(pod):
                return Outcome.passed(f"ConfigMap {configmap} gives {address}, the IP of Pod {objects.name_of(pod)} "
                                      f"of Deployment {deployment}")
            raise TargetUnavailable(f"Pod {objects.name_of(pod)} at {address} is not ready yet")
    labels = found.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
    for svc in ctx.list("Service"):
        spec = svc.get("spec", {})
        if objects.same_value(address, spec.get("clusterIP") or "") and objects.selector_matches(
                spec.get("selector") or {}, labels):
            return Outcome.passed(f"ConfigMap {configmap} gives {address}, the ClusterIP of Service "
                                  f"{objects.name_of(svc)}, which selects the Pods of Deployment {deployment}")
    what = objects.identify(ctx, address) or "nothing in this namespace"
    return Outcome.failed(f"ConfigMap {configmap} gives {key}={address}: {what}, not a Pod of Deployment {deployment}",
                          expected=f"the IP of a Pod of Deployment {deployment} (or of a Service in front of them)",
                          observed=f"{address} is {what}", final=True,
                          cause="a Pod's IP belongs to that Pod only while it lives: `kubectl get pods -o wide` "
                                "shows which Pod has which IP now")
