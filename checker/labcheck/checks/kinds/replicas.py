"""`replicas:` — a Deployment runs enough ready replicas (kind `replicas`).

    replicas: {deployment: webserver, replicas: 3, ready: 2, containers: [nginx, app]}

Without `deployment`, any Deployment of the namespace that asks for enough
replicas counts. A FAIL says which of the things in the way it is, final when
waiting cannot fix it: no Deployment, too few replicas asked, a container
missing from the Pod template, Pods that cannot become ready (the kubelet has
judged their readiness probe failing, the image cannot be had); Pods still
starting are waited for.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from ..commands import in_namespace
from ..context import CheckContext
from ..diagnose import missing_object
from ..objects import containers_of, deployment_pods, is_ready, name_of, why_not_ready
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import POD, ApiKind, CheckKind

DEPLOYMENT = ("apps/v1", "Deployment")


class Replicas(Strict):
    deployment: str | None = Field(None, description="the Deployment's name; default: any that asks for enough")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")
    replicas: int = Field(1, ge=1, description="spec.replicas must ask for at least this many")
    ready: int | None = Field(None, ge=1, description="at least this many must be ready; default: `replicas`")
    containers: list[str] = Field(default_factory=list,
                                  description="containers every replica runs (one Pod template, one network)")

    @model_validator(mode="after")
    def _ready_within(self) -> "Replicas":
        if self.ready is not None and self.ready > self.replicas:
            raise ValueError(f"ready ({self.ready}) cannot exceed replicas ({self.replicas})")
        return self


class ReplicasCheck(CheckBase):
    kind: ClassVar[str] = "replicas"
    spec: Replicas = Field(alias="replicas")


def _asked(deployment: dict) -> int:
    return deployment.get("spec", {}).get("replicas", 1)


def evaluate(spec: Replicas, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    namespace = in_namespace(spec.namespace, ctx.namespace) if spec.namespace else ctx.namespace
    here = CheckContext(ctx.cluster, namespace, ctx.evidence, ctx.reached)
    wanted_ready = spec.ready or spec.replicas
    if spec.deployment:
        deployment = here.get("Deployment", spec.deployment, "apps/v1")
        if deployment is None:
            observed, cause = missing_object(here, *DEPLOYMENT, spec.deployment)
            return Outcome.failed(f"Deployment {spec.deployment} does not exist in namespace {namespace}",
                                  expected=f"Deployment {spec.deployment} with {spec.replicas} replica(s)",
                                  observed=observed, cause=cause.text, final=cause.final,
                                  cause_generic=cause.generic)
        candidates = [deployment]
    else:
        candidates = here.list("Deployment", "apps/v1")
        if not candidates:
            return Outcome.failed(f"no Deployment exists in namespace {namespace}",
                                  expected=f"a Deployment with {spec.replicas} replica(s)", observed="none",
                                  cause="apply the Deployment's manifest", cause_generic=True, final=True)
    observed = "; ".join(f"{name_of(d)}: {d.get('status', {}).get('readyReplicas') or 0}/{_asked(d)} ready"
                         for d in candidates)
    wide = [d for d in candidates if _asked(d) >= spec.replicas]
    if not wide:
        shown = name_of(candidates[0]) if len(candidates) == 1 else "<name>"
        return Outcome.failed(
            f"no Deployment asks for {spec.replicas} or more replicas" if not spec.deployment
            else f"Deployment {spec.deployment} asks for {_asked(candidates[0])} replica(s)",
            expected=f"spec.replicas >= {spec.replicas}", observed=observed,
            cause=f"set `replicas: {spec.replicas}` in the manifest and apply it again "
                  f"(or `kubectl scale deployment {shown} --replicas {spec.replicas}`)",
            final=True)
    deployment = max(wide, key=lambda d: d.get("status", {}).get("readyReplicas") or 0)
    template = {"spec": deployment.get("spec", {}).get("template", {}).get("spec", {})}
    running = [c.get("name") for c in containers_of(template)]
    missing = [c for c in spec.containers if c not in running]
    if missing:
        return Outcome.failed(
            f"the Pod template of Deployment {name_of(deployment)} lacks container(s) {', '.join(missing)}",
            expected=f"containers {', '.join(spec.containers)} in one Pod template",
            observed=f"containers {', '.join(running) or 'none'}",
            cause="put every container under the one spec.template.spec.containers list: only containers of one "
                  "Pod share its network (localhost)",
            final=True)
    pods = deployment_pods(here, deployment)
    ready = [p for p in pods if is_ready(p)]
    cause, stuck = why_not_ready(here, pods)
    # Pods not ready and not stuck are starting: wait for them unless enough are ready anyway.
    starting = (not stuck and len(ready) < len(pods)) or len(pods) < spec.replicas
    if len(ready) >= wanted_ready and not (starting and len(ready) < spec.replicas):
        nodes = sorted({p.get("spec", {}).get("nodeName", "?") for p in ready})
        return Outcome.passed(
            f"Deployment {name_of(deployment)} has {len(ready)} ready replica(s) on node(s) {', '.join(nodes)}",
            observed=", ".join(f"{name_of(p)} {p.get('status', {}).get('podIP')}" for p in ready))
    return Outcome.failed(
        f"Deployment {name_of(deployment)} has {len(ready)} ready replica(s); at least {wanted_ready} must be ready",
        expected=f"{spec.replicas} replicas, at least {wanted_ready} of them ready",
        observed=observed,
        cause=cause or "its Pods are still being created: wait a few seconds",
        final=not starting)


def watches(spec: Replicas, lab_folder: Path) -> tuple[ApiKind, ...]:
    return (POD, DEPLOYMENT)


KIND = CheckKind("replicas", ReplicasCheck, evaluate, default_timeout=45.0, state_only=True, watches=watches)
