"""`endpoints:` — a Service's EndpointSlices list every ready Pod it selects as ready, and no
Pod that is not ready as ready (kind `endpoints`).

    endpoints: {service: webserver}

A FAIL says why the Service has no (ready) endpoints: no selector, a selector
that matches no Pod (with the labels the Pods do carry), Pods that are not
ready (and why), or the EndpointSlice controller still catching up.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ..context import CheckContext
from ..diagnose import selector_text
from ..objects import endpoints, is_ready, labels_of, live_pods, name_of, selected_pods, service, why_not_ready
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import NETWORK_PATH, ApiKind, CheckKind


class Endpoints(Strict):
    service: str = Field(description="the Service's name")
    made_by: str | None = Field(None, description="the manifest that makes the Service, for the cause when it is missing")


class EndpointsCheck(CheckBase):
    kind: ClassVar[str] = "endpoints"
    spec: Endpoints = Field(alias="endpoints")


def _own_labels(pod: dict) -> dict[str, str]:
    """A Pod's labels without the ones controllers add (pod-template-hash and the like)."""
    return {k: v for k, v in labels_of(pod).items() if not k.endswith("-hash") and "/" not in k}


def evaluate(spec: Endpoints, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    svc = service(ctx, spec.service, made_by=spec.made_by)
    selector = svc.get("spec", {}).get("selector") or {}
    if not selector:
        return Outcome.failed(
            f"Service {spec.service} has no selector, so Kubernetes manages no endpoints for it",
            expected="spec.selector with the Pods' labels", observed="spec.selector is empty",
            cause="add a selector; `kubectl expose deployment <name>` copies the Deployment's", final=True)
    pods = live_pods(ctx)
    selected = selected_pods(ctx, svc)
    if not selected:
        carried = sorted({selector_text(_own_labels(p)) for p in pods if _own_labels(p)})
        return Outcome.failed(
            f"0 endpoints: selector {selector_text(selector)} matches no Pod in namespace {ctx.namespace}",
            expected=f"Pods labelled {selector_text(selector)}",
            observed="Pod labels here: " + ("; ".join(carried[:4]) or "no Pods"),
            cause="a Service's selector must equal labels the Pods carry (see `kubectl get pods --show-labels`)",
            cause_generic=True,
            # With Pods here, none of which matches, waiting changes nothing; with none, they may be coming.
            final=bool(pods))
    ready = {p["status"]["podIP"]: name_of(p) for p in selected if is_ready(p) and p.get("status", {}).get("podIP")}
    if not ready:
        cause, stuck = why_not_ready(ctx, selected)
        return Outcome.failed(
            f"0 ready endpoints: none of the {len(selected)} Pods selector {selector_text(selector)} matches is ready",
            cause=cause, final=stuck)
    unready = {p["status"]["podIP"]: name_of(p) for p in selected
               if not is_ready(p) and p.get("status", {}).get("podIP")}
    found, ports = endpoints(ctx, spec.service)
    listed = {e.address for e in found if e.ready}
    shown = ", ".join(f"{ip} ({name})" for ip, name in sorted(ready.items()))
    stale = sorted(set(unready) & listed)
    if set(ready) <= listed and not stale:
        port = "/".join(str(p) for p in ports) or "?"
        besides = f"; not ready, so not served: {', '.join(f'{ip} ({n})' for ip, n in sorted(unready.items()))}"
        return Outcome.passed(f"Service {spec.service} has {len(ready)} ready endpoints on port {port}: {shown}"
                              + (besides if unready else ""))
    return Outcome.failed(
        f"Service {spec.service}'s EndpointSlices do not list its ready Pods yet" if not stale else
        f"Service {spec.service}'s EndpointSlices still list {', '.join(f'{ip} ({unready[ip]})' for ip in stale)} "
        "as ready, though the Pod is not ready",
        expected=f"ready endpoints {shown}",
        observed=f"ready endpoints {', '.join(sorted(listed)) or 'none'}",
        cause="the EndpointSlice controller updates slices within a second or two of a Pod's readiness changing")


def watches(spec: Endpoints, lab_folder: Path) -> tuple[ApiKind, ...]:
    return NETWORK_PATH


KIND = CheckKind("endpoints", EndpointsCheck, evaluate, default_timeout=20.0, state_only=True, watches=watches)
