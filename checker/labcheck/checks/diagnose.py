"""Likely causes: turning what a cluster shows into the sentence a learner needs.

A cause comes with `final` when waiting cannot change the state (an image that
cannot be pulled, a readiness probe failing past its threshold, an object the
learner has not made): the check then reports at once instead of polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .context import CheckContext

#: Kinds that controllers make: their absence right after an apply may only mean "not yet".
CONTROLLER_MADE = {"EndpointSlice", "Endpoints", "ReplicaSet", "Event", "Lease"}


@dataclass
class Cause:
    text: str | None
    final: bool = False
    generic: bool = False


def missing_object(ctx: CheckContext, api_version: str, kind: str, name: str) -> tuple[str, Cause]:
    """(observed, cause) for an object that is not where the lab expects it.

    The generic "check metadata.name" advice is given only when something of a
    similar name exists; a plain "not made yet" leaves room for the lab author's
    own cause, which knows what the step asks for.
    """
    objects = ctx.cluster.list(api_version, kind, ctx.namespace)
    others = [o["metadata"]["name"] for o in objects]
    observed = f"{kind}s in namespace {ctx.namespace}: {', '.join(others) if others else 'none'}"
    direct = kind not in CONTROLLER_MADE
    owned = [o for o in objects if o["metadata"]["name"].startswith(name + "-")
             and o["metadata"].get("ownerReferences")]
    if owned:
        owner = owned[0]["metadata"]["ownerReferences"][0]
        return observed, Cause(
            f"{kind} {owned[0]['metadata']['name']} was made by {owner.get('kind')} {owner.get('name')}; "
            f"this step wants a {kind} of its own named {name} (a manifest with `kind: {kind}`)",
            final=direct)
    if ctx.namespace != "default" and kind not in ("Node", "Namespace"):
        elsewhere = ctx.cluster.get(api_version, kind, "default", name)
        if elsewhere is not None:
            return observed, Cause(
                f"{kind} {name} exists in namespace default, not {ctx.namespace}: "
                f"run `kubectl config set-context --current --namespace {ctx.namespace}` and apply it again",
                final=direct)
    import difflib  # only when a name is missing: a passing check never pays for it

    similar = difflib.get_close_matches(name, others, n=1, cutoff=0.6)
    if similar:
        return observed, Cause(f"there is a {kind} named {similar[0]!r}, not {name!r}: "
                               f"check metadata.name in your manifest", final=direct)
    return observed, Cause(f"no {kind} named {name} exists yet in namespace {ctx.namespace}: "
                           "has its manifest been applied?", final=direct, generic=True)


def pod_cause(pod: dict[str, Any], now: datetime | None = None) -> Cause:
    """Why a Pod is not running as asked, from its status."""
    status = pod.get("status", {})
    for cond in status.get("conditions", []) or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return Cause(f"the Pod is not scheduled: {cond.get('message') or cond.get('reason')}")
    spec = pod.get("spec", {})
    images = {c["name"]: c.get("image") for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state", {})
        name = cs.get("name")
        waiting = state.get("waiting")
        if waiting:
            reason = waiting.get("reason", "")
            if reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"):
                return Cause(
                    f"container {name} cannot get its image {images.get(name)!r} ({reason}): check the image "
                    "name and tag; on an offline cluster it must be loaded with `kind load docker-image`",
                    final=True)
            if reason in ("CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
                          "RunContainerError"):
                return Cause(f"container {name} cannot run ({reason}): see "
                             f"`kubectl logs {pod['metadata']['name']} -c {name}` and "
                             f"`kubectl describe pod {pod['metadata']['name']}`", final=True)
            if reason and reason not in ("ContainerCreating", "PodInitializing"):
                return Cause(f"container {name} is waiting: {reason} {waiting.get('message', '')}".strip())
            return Cause(f"container {name} is still being created: wait a few seconds and check again")
        terminated = state.get("terminated")
        if terminated and cs in (status.get("containerStatuses") or []):
            return Cause(f"container {name} has exited ({terminated.get('reason')}, "
                         f"exit code {terminated.get('exitCode')})", final=spec.get("restartPolicy") == "Never")
        if cs.get("ready") is False and "running" in state:
            return _not_ready(pod, name, state["running"].get("startedAt"), now)
    if status.get("phase") == "Pending":
        return Cause("the Pod is still Pending: wait a few seconds and check again")
    return Cause(None)


def object_cause(obj: dict[str, Any]) -> Cause:
    if obj.get("kind") == "Pod":
        return pod_cause(obj)
    return Cause(None)


def _container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec", {})
    every = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    return next((c for c in every if c.get("name") == name), {})


_PROBE_SLACK_SECONDS = 10


def _not_ready(pod: dict[str, Any], container: str, started_at: str | None, now: datetime | None) -> Cause:
    spec = _container_spec(pod, container)
    probe = spec.get("readinessProbe")
    if not probe:
        return Cause(f"container {container} runs but is not ready: it has no readiness probe, "
                     "so it should be ready once started; wait a moment")
    if "httpGet" in probe:
        get = probe["httpGet"]
        target = f"HTTP GET port {get.get('port')} path {get.get('path', '/')}"
    elif "tcpSocket" in probe:
        target = f"TCP connect to port {probe['tcpSocket'].get('port')}"
    else:
        target = "its exec command"
    ports = [str(p.get("containerPort")) for p in spec.get("ports", []) or []]
    listening = f" (it declares port {', '.join(ports)})" if ports else ""
    # Past initialDelay + period x failureThreshold the kubelet has already judged the probe
    # failing; with nothing changed in the Pod it will keep failing.
    threshold = (probe.get("initialDelaySeconds", 0) + probe.get("periodSeconds", 10)
                 * probe.get("failureThreshold", 3) + probe.get("timeoutSeconds", 1))
    running_for = _age(started_at, now)
    # Some slack past it: on a loaded node the kubelet probes late and a slow app binds late.
    final = running_for is not None and running_for > threshold + _PROBE_SLACK_SECONDS
    # No elapsed seconds in the text: graded again from evidence, the sentence must read the same.
    failing = f", and has kept failing past its threshold ({threshold} s)" if final else ""
    return Cause(f"container {container} runs but is not ready: its readiness probe ({target}) has not "
                 f"passed{failing}: does the container answer there?{listening}", final=final)


def _age(timestamp: str | None, now: datetime | None) -> float | None:
    if not timestamp:
        return None
    try:
        then = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ((now or datetime.now(timezone.utc)) - then).total_seconds()


def selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def service_selects_nothing(ctx: CheckContext, service: dict[str, Any]) -> Cause | None:
    """A Service whose selector matches no Pod: it will have 0 endpoints however long one waits."""
    selector = service.get("spec", {}).get("selector") or {}
    if not selector:
        return None
    pods = ctx.cluster.list("v1", "Pod", ctx.namespace)
    if any(all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items()) for p in pods):
        return None
    labels = sorted({selector_text(p["metadata"].get("labels") or {}) for p in pods if p["metadata"].get("labels")})
    seen = f"; the Pods here carry {' | '.join(labels[:3])}" if labels else "; there are no Pods in the namespace"
    return Cause(f"0 endpoints: Service {service['metadata']['name']}'s selector "
                 f"{selector_text(selector)} matches no Pod{seen}", final=bool(pods))
