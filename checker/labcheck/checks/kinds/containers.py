"""`containers:` — a Pod runs the named containers, ready (kind `containers`).

    containers: {pod: multicontainerpod, names: [nginx-container, sidecar]}

Native sidecars (init containers with `restartPolicy: Always`) count as
containers. A FAIL says what is in the way: the Pod is missing (or a
ReplicaSet made it under another name), a container runs in another Pod than
this one (containers share a network only inside one Pod), a container cannot
start or is not ready (from its status and the kubelet's Events).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from ..context import CheckContext
from ..diagnose import missing_object, pod_cause
from ..objects import containers_of, live_pods, name_of
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import POD, ApiKind, CheckKind


class Containers(Strict):
    pod: str = Field(description="the Pod's name")
    names: list[str] = Field(min_length=1, description="containers (or native sidecars) it must run")
    ready: bool = Field(True, description="each must also be ready (running is enough with false)")


class ContainersCheck(CheckBase):
    kind: ClassVar[str] = "containers"
    spec: Containers = Field(alias="containers")


def _statuses(pod: dict) -> dict[str, dict]:
    status = pod.get("status", {})
    return {s["name"]: s for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])}


def evaluate(spec: Containers, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    pod = ctx.get("Pod", spec.pod)
    if pod is None:
        observed, cause = missing_object(ctx, "v1", "Pod", spec.pod)
        return Outcome.failed(f"Pod {spec.pod} does not exist in namespace {ctx.namespace}",
                              expected=f"Pod {spec.pod} running {', '.join(spec.names)}", observed=observed,
                              cause=cause.text, final=cause.final, cause_generic=cause.generic)
    running = [c.get("name") for c in containers_of(pod)]
    missing = [n for n in spec.names if n not in running]
    if missing:
        elsewhere = {n: name_of(p) for p in live_pods(ctx) if name_of(p) != spec.pod
                     for n in [c.get("name") for c in containers_of(p)] if n in missing}
        if elsewhere:
            where = ", ".join(f"{n} runs in Pod {p}" for n, p in elsewhere.items())
            cause = (f"{where}, not in Pod {spec.pod}: containers share a network (and localhost) only inside "
                     f"one Pod, so put {', '.join(spec.names)} in the one Pod's spec.containers")
        else:
            cause = (f"add {', '.join(missing)} to Pod {spec.pod}'s spec.containers; a Pod's containers cannot "
                     "change once it exists: delete it and apply the manifest again")
        return Outcome.failed(f"Pod {spec.pod} does not run {', '.join(missing)}",
                              expected=f"containers {', '.join(spec.names)}",
                              observed=f"containers {', '.join(running) or 'none'}", cause=cause, final=True)
    statuses = _statuses(pod)
    state = {n: statuses.get(n, {}) for n in spec.names}
    wrong = [n for n, s in state.items()
             if "running" not in (s.get("state") or {}) or (spec.ready and not s.get("ready"))]
    shown = ", ".join(f"{n}: {next(iter(s.get('state') or {'not started': 0}))}"
                      f"{', ready' if s.get('ready') else ', not ready'}" for n, s in state.items())
    if not wrong:
        return Outcome.passed(f"Pod {spec.pod} runs {', '.join(spec.names)}" + (", all ready" if spec.ready else ""),
                              observed=shown)
    cause = pod_cause(pod, ctx)
    return Outcome.failed(
        f"{', '.join(wrong)} of Pod {spec.pod} not running{' and ready' if spec.ready else ''}",
        expected=", ".join(f"{n}: running{', ready' if spec.ready else ''}" for n in spec.names),
        observed=shown, cause=cause.text or "wait a few seconds: the containers are starting", final=cause.final)


def watches(spec: Containers, lab_folder: Path) -> tuple[ApiKind, ...]:
    return (POD,)


KIND = CheckKind("containers", ContainersCheck, evaluate, default_timeout=30.0, state_only=True, watches=watches)
