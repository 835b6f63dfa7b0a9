"""Likely causes: turning what a cluster shows into the sentence a learner needs.

A cause comes with `final` when waiting cannot change the state (an image that
cannot be pulled, a readiness probe the kubelet has seen fail past its threshold, an object the
learner has not made): the check then reports at once instead of polling.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
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


def pod_cause(pod: dict[str, Any], ctx: CheckContext | None = None) -> Cause:
    """Why a Pod is not running as asked, from its status; with `ctx`, also from the Pod's Events
    (read only when the status alone cannot tell, e.g. how often a readiness probe has failed)."""
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
                return _image_cause(pod, name, images.get(name), reason, ctx)
            if reason in ("CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError",
                          "RunContainerError"):
                # Not final while it may still come right by itself: a missing ConfigMap or Secret
                # applied a moment later, a crash on start that a restart gets past.
                settled = {"CrashLoopBackOff": cs.get("restartCount", 0) >= 2,
                           "CreateContainerConfigError": False}.get(reason, True)
                return Cause(f"container {name} cannot run ({reason}): see "
                             f"`kubectl logs {pod['metadata']['name']} -c {name}` and "
                             f"`kubectl describe pod {pod['metadata']['name']}`", final=settled)
            if reason and reason not in ("ContainerCreating", "PodInitializing"):
                return Cause(f"container {name} is waiting: {reason} {waiting.get('message', '')}".strip())
            return Cause(f"container {name} is still being created: wait a few seconds and check again")
        terminated = state.get("terminated")
        if terminated and cs in (status.get("containerStatuses") or []):
            return Cause(f"container {name} has exited ({terminated.get('reason')}, "
                         f"exit code {terminated.get('exitCode')})", final=spec.get("restartPolicy") == "Never")
        if cs.get("ready") is False and "running" in state:
            return _not_ready(pod, name, ctx)
    if status.get("phase") == "Pending":
        return Cause("the Pod is still Pending: wait a few seconds and check again")
    return Cause(None)


def pull_policy(container: dict[str, Any]) -> str:
    """The container's imagePullPolicy, or the default the API gives it: Always for a `:latest`
    or untagged image, IfNotPresent otherwise."""
    if container.get("imagePullPolicy"):
        return container["imagePullPolicy"]
    image = container.get("image") or ""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    return "Always" if ":" not in last or last.endswith(":latest") else "IfNotPresent"


def _reference(image: str) -> str:
    """An image name as containerd lists it: docker.io/library/ added, a tag always."""
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in name.split("/")[0] and ":" not in name.split("/")[0] and name.split("/")[0] != "localhost":
        name = f"docker.io/{name}"
    return f"{name}:{tag}"


def _node_has_image(ctx: CheckContext | None, node: str | None, image: str) -> bool | None:
    """Whether the node's runtime holds the image (crictl), or None when this grader cannot look."""
    if ctx is None or not node or not image:
        return None
    listed = ctx.peek_on_node(node, ["crictl", "images", "-o", "json"])
    if listed is None or listed.returncode != 0:
        return None
    import json

    try:
        held = {tag for entry in json.loads(listed.stdout).get("images", []) for tag in entry.get("repoTags") or []}
    except (ValueError, AttributeError):
        return None
    return _reference(image) in held


def _image_cause(pod: dict[str, Any], name: str, image: str | None, reason: str, ctx: CheckContext | None) -> Cause:
    container = _container_spec(pod, name)
    policy = pull_policy(container)
    held = _node_has_image(ctx, pod.get("spec", {}).get("nodeName"), image or "")
    if policy == "Always" and reason != "InvalidImageName":
        implied = "" if container.get("imagePullPolicy") else " (a `:latest` or untagged image gets it by default)"
        where = {True: "The node does have the image: ", False: "The node does not have it either: load it with "
                 "`kind load docker-image` and ", None: ""}[held]
        return Cause(f"container {name}'s image {image!r} has imagePullPolicy Always{implied}, so the kubelet asks "
                     f"a registry for it every time and never uses an image loaded into the node ({reason}). "
                     f"{where}set `imagePullPolicy: IfNotPresent` (or Never) on the container", final=True)
    if reason == "ErrImageNeverPull":
        return Cause(f"container {name}'s image {image!r} has imagePullPolicy Never and the node does not have it: "
                     "load it with `kind load docker-image`", final=True)
    if held:
        return Cause(f"container {name} cannot get its image {image!r} ({reason}), though the node has it: check "
                     "the pull policy and the image name as the Pod spells it", final=True)
    return Cause(f"container {name} cannot get its image {image!r} ({reason}): check the image name and tag; "
                 "on an offline cluster it must be loaded with `kind load docker-image`", final=True)


def namespace_events(ctx: CheckContext, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The Events of the object's namespace (one read per step: the engine shares lists)."""
    return ctx.cluster.list("v1", "Event", obj.get("metadata", {}).get("namespace") or ctx.namespace)


def object_cause(obj: dict[str, Any], ctx: CheckContext | None = None) -> Cause:
    if obj.get("kind") == "Pod":
        return pod_cause(obj, ctx)
    return Cause(None)


def _container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec", {})
    every = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    return next((c for c in every if c.get("name") == name), {})


def _failure_count(event: dict[str, Any]) -> int:
    # core/v1 Events count repeats in `count`; ones written through events.k8s.io/v1 in `series.count`.
    return int(event.get("count") or (event.get("series") or {}).get("count") or 1)


def _about(event: dict[str, Any]) -> dict[str, Any]:
    return event.get("involvedObject") or event.get("regarding") or {}


def readiness_failures(events: list[dict[str, Any]], pod: dict[str, Any], container: str) -> tuple[int, str]:
    """How often the kubelet has reported the container's readiness probe failing, and what it said last.

    The kubelet's own count is the signal that does not depend on how fast the
    machine is: a loaded node probes later, but it still has to see the probe
    fail `failureThreshold` times before it calls it failing.
    """
    uid = pod.get("metadata", {}).get("uid")
    name = pod.get("metadata", {}).get("name")
    count, last, last_at = 0, "", ""
    for event in events:
        about = _about(event)
        if about.get("kind") != "Pod" or about.get("name") != name or event.get("reason") != "Unhealthy":
            continue
        if uid and about.get("uid") and about["uid"] != uid:
            continue  # an earlier Pod of the same name
        if about.get("fieldPath") and about["fieldPath"] != f"spec.containers{{{container}}}":
            continue
        message = event.get("message") or event.get("note") or ""
        if not message.startswith("Readiness probe failed"):
            continue
        count += _failure_count(event)
        at = event.get("lastTimestamp") or event.get("eventTime") or ""
        if at >= last_at:
            last, last_at = message, at
    return count, last


def _probe_answer(message: str, target_port: Any) -> str:
    """What a readiness probe's failure message says, in the learner's words."""
    if "connection refused" in message:
        return f"nothing listens on port {target_port}"
    found = re.search(r"statuscode: (\d+)", message)
    if found:
        return f"it answers HTTP {found[1]}"
    if "timeout" in message or "deadline exceeded" in message:
        return "it does not answer in time"
    return message.removeprefix("Readiness probe failed:").strip()[:160]


def _not_ready(pod: dict[str, Any], container: str, ctx: CheckContext | None) -> Cause:
    spec = _container_spec(pod, container)
    probe = spec.get("readinessProbe")
    if not probe:
        return Cause(f"container {container} runs but is not ready: it has no readiness probe, "
                     "so it should be ready once started; wait a moment")
    port: Any = None
    if "httpGet" in probe:
        get = probe["httpGet"]
        port = get.get("port")
        target = f"HTTP GET port {port} path {get.get('path', '/')}"
    elif "tcpSocket" in probe:
        port = probe["tcpSocket"].get("port")
        target = f"TCP connect to port {port}"
    else:
        target = "its exec command"
    ports = [str(p.get("containerPort")) for p in spec.get("ports", []) or []]
    listening = f" (it declares port {', '.join(ports)})" if ports else ""
    threshold = probe.get("failureThreshold", 3)
    failures, said = readiness_failures(namespace_events(ctx, pod) if ctx else [], pod, container)
    # Failing probes alone prove nothing final: a container starting slowly fails its first ones.
    # Final is when the kubelet has judged the probe failing (failureThreshold) and the server is
    # up: it answered the probe with an HTTP status (it says "not ready" itself), or the probe's
    # port refused while the Pod already listens on another one.
    final = False
    if failures >= threshold and "statuscode:" in said:
        final = True
    elif failures >= threshold and "connection refused" in said and ctx is not None:
        number = _port_number(spec, port)
        open_ports = listening_ports(ctx, pod, container)
        final = bool(number and open_ports and number not in open_ports)
    # No count in the text: graded again from evidence, the sentence must read the same.
    failing = (f", and the kubelet has seen it fail {threshold} time{'s' if threshold != 1 else ''} "
               f"or more ({_probe_answer(said, port)})") if final else ""
    return Cause(f"container {container} runs but is not ready: its readiness probe ({target}) has not "
                 f"passed{failing}: does the container answer there?{listening}", final=final)


def _port_number(spec: dict[str, Any], port: Any) -> int | None:
    """A probe's port as a number: itself, or the containerPort of that name."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    named = [p.get("containerPort") for p in spec.get("ports") or [] if p.get("name") == port]
    return int(named[0]) if named and named[0] else None


def listening_ports(ctx: CheckContext, pod: dict[str, Any], container: str) -> set[int] | None:
    """The TCP ports something in the Pod listens on (its containers share one network namespace),
    from /proc/net/tcp and tcp6 read in `container`; None where they cannot be read (no `cat` in
    the image, no exec allowed, a recording without the answer)."""
    done = ctx.peek(pod["metadata"]["name"], container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"], timeout=10,
                    namespace=pod["metadata"].get("namespace") or ctx.namespace)
    if done is None or "local_address" not in done.stdout:
        return None
    found = set()
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:  # 0A: TCP_LISTEN
            found.add(int(fields[1].rsplit(":", 1)[1], 16))
    return found


def replaced_pods(pods: list[dict[str, Any]], events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Pods deleted from under their ReplicaSet, and the Pods it made in their place: (deleted, replacements).

    Read from the ReplicaSet's own events ("Created pod: X", "Deleted pod: X"),
    not from the Pods' ages: a Pod it created that is gone, and that it did not
    delete itself (scaling down), was deleted by someone else and replaced.
    """
    deleted: list[str] = []
    replacements: list[str] = []
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        for ref in pod.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet" and ref.get("controller", True):
                by_owner.setdefault(ref.get("name"), []).append(pod)
    for owner, owned in sorted(by_owner.items()):
        created: set[str] = set()
        removed: set[str] = set()
        for event in events:
            about = _about(event)
            if about.get("kind") != "ReplicaSet" or about.get("name") != owner:
                continue
            message = event.get("message") or event.get("note") or ""
            if "combined from similar events" in message:
                return [], []  # the names were folded together: nothing certain can be said
            said = re.fullmatch(r"(Created|Deleted) pod: (\S+)", message.strip())
            if said:
                (created if said[1] == "Created" else removed).add(said[2])
        present = {p["metadata"]["name"] for p in owned}
        gone = sorted(created - present - removed)
        if gone:
            deleted.extend(gone)
            newest = sorted(owned, key=lambda p: p["metadata"].get("creationTimestamp") or "", reverse=True)
            replacements.extend(p["metadata"]["name"] for p in newest[:len(gone)])
    return deleted, sorted(replacements)


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
