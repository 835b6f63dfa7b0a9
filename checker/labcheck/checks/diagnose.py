"""Likely causes: turning what a cluster shows into the sentence a learner needs."""

from __future__ import annotations

from typing import Any

from .context import CheckContext


def missing_object(ctx: CheckContext, api_version: str, kind: str, name: str) -> tuple[str, str]:
    """(observed, cause) for an object that is not where the lab expects it."""
    others = [o["metadata"]["name"] for o in ctx.cluster.list(api_version, kind, ctx.namespace)]
    observed = f"{kind}s in namespace {ctx.namespace}: {', '.join(others) if others else 'none'}"
    if ctx.namespace != "default" and kind not in ("Node", "Namespace"):
        elsewhere = ctx.cluster.get(api_version, kind, "default", name)
        if elsewhere is not None:
            return observed, (
                f"{kind} {name} exists in namespace default, not {ctx.namespace}: "
                f"run `kubectl config set-context --current --namespace {ctx.namespace}` and apply it again"
            )
    if others:
        return observed, f"no {kind} is named {name!r}: check metadata.name in your manifest"
    return observed, f"nothing of kind {kind} exists in namespace {ctx.namespace} yet: has the manifest been applied?"


def pod_cause(pod: dict[str, Any]) -> str | None:
    """Why a Pod is not running as asked, from its status."""
    status = pod.get("status", {})
    for cond in status.get("conditions", []) or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return f"the Pod is not scheduled: {cond.get('message') or cond.get('reason')}"
    images = {c["name"]: c.get("image") for c in pod.get("spec", {}).get("containers", [])}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state", {})
        name = cs.get("name")
        waiting = state.get("waiting")
        if waiting:
            reason = waiting.get("reason", "")
            if reason in ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"):
                return (
                    f"container {name} cannot get its image {images.get(name)!r} ({reason}): check the image "
                    "name and tag; on an offline cluster it must be loaded with `kind load docker-image`"
                )
            if reason == "CrashLoopBackOff":
                return f"container {name} keeps exiting (CrashLoopBackOff): see `kubectl logs {pod['metadata']['name']} -c {name}`"
            if reason and reason != "ContainerCreating":
                return f"container {name} is waiting: {reason} {waiting.get('message', '')}".strip()
            return f"container {name} is still being created: wait a few seconds and check again"
        terminated = state.get("terminated")
        if terminated:
            return f"container {name} has exited ({terminated.get('reason')}, exit code {terminated.get('exitCode')})"
        if cs.get("ready") is False and "running" in state:
            return f"container {name} runs but is not ready: {_readiness(pod, name)}"
    if status.get("phase") == "Pending":
        return "the Pod is still Pending: wait a few seconds and check again"
    return None


def object_cause(obj: dict[str, Any]) -> str | None:
    if obj.get("kind") == "Pod":
        return pod_cause(obj)
    return None


def _readiness(pod: dict[str, Any], container: str) -> str:
    spec = next((c for c in pod.get("spec", {}).get("containers", []) if c.get("name") == container), {})
    probe = spec.get("readinessProbe")
    if not probe:
        return "it has no readiness probe, so it should be ready once started; wait a moment"
    if "httpGet" in probe:
        get = probe["httpGet"]
        target = f"HTTP GET port {get.get('port')} path {get.get('path', '/')}"
    elif "tcpSocket" in probe:
        target = f"TCP connect to port {probe['tcpSocket'].get('port')}"
    else:
        target = "its exec command"
    ports = [str(p.get("containerPort")) for p in spec.get("ports", []) or []]
    listening = f" (it declares port {', '.join(ports)})" if ports else ""
    return f"its readiness probe ({target}) has not passed: does the container answer there?{listening}"
