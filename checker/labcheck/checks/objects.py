"""Reading what labs ask about: Pods, Deployments, Services and their endpoints, nodes, and the
answers learners record in ConfigMaps.

One convention for "it is not there": the helper raises `TargetUnavailable`
with the likely cause (and `final` when waiting cannot make it appear), which
the engine turns into a FAIL. References are resolved, never compared as
written: a Service's named targetPort is looked up in the Pods it selects.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ClusterUnavailable, TargetUnavailable
from .context import CheckContext
from .commands import in_namespace
from .diagnose import missing_object, pod_cause, service_selects_nothing
from .spec import Reference

# --- plain reading of objects ---------------------------------------------------------


def name_of(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


def labels_of(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_running(pod: dict[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") == "Running"


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (a Service's plain map, or a LabelSelector's matchLabels and
    matchExpressions) against an object's labels; an empty selector matches nothing here."""
    if "matchLabels" in selector or "matchExpressions" in selector:
        plain = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        plain, expressions = selector, []
    if not plain and not expressions:
        return False
    if any(labels.get(k) != v for k, v in plain.items()):
        return False
    for expression in expressions:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def live_pods(ctx: CheckContext) -> list[dict[str, Any]]:
    """Pods of the graded namespace that are not being deleted."""
    return [p for p in ctx.list("Pod") if not p["metadata"].get("deletionTimestamp")]


# --- Pods ---------------------------------------------------------------------------------


def pod(ctx: CheckContext, name: str, *, running: bool = False) -> dict[str, Any]:
    """The named Pod; with `running`, also running. Missing or not running: TargetUnavailable
    saying why (made by a ReplicaSet under another name, in another namespace, cannot start)."""
    found = ctx.get("Pod", name)
    if found is None:
        _observed, cause = missing_object(ctx, "v1", "Pod", name)
        raise TargetUnavailable(f"Pod {name} does not exist in namespace {ctx.namespace}",
                                cause=None if cause.generic else cause.text, final=cause.final)
    if running and not is_running(found):
        why = pod_cause(found, ctx)
        raise TargetUnavailable(f"Pod {name} is not running (phase {found.get('status', {}).get('phase', '?')})",
                                cause=why.text, final=why.final)
    return found


def node_of(pod: dict[str, Any]) -> str:
    node = pod.get("spec", {}).get("nodeName")
    if not node:
        raise TargetUnavailable(f"Pod {name_of(pod)} is not scheduled to a node yet")
    return node


def containers_of(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The Pod's containers, native sidecars (init containers that always restart) included."""
    spec = pod.get("spec", {})
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


# --- Deployments --------------------------------------------------------------------------


def deployment_pods(ctx: CheckContext, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The live Pods a Deployment's selector matches."""
    selector = deployment.get("spec", {}).get("selector") or {}
    return [p for p in live_pods(ctx) if selector_matches(selector, labels_of(p))]


def ready_replicas(ctx: CheckContext, deployment: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """(ready, not ready) Pods of a Deployment."""
    pods = deployment_pods(ctx, deployment)
    return [p for p in pods if is_ready(p)], [p for p in pods if not is_ready(p)]


def deployment(ctx: CheckContext, name: str) -> dict[str, Any]:
    """The named Deployment, or TargetUnavailable (final: it does not appear by waiting)."""
    found = ctx.get("Deployment", name, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {name} does not exist", final=True,
                                cause=f"the app runs as Deployment {name}: fix it in place, keep it")
    return found


def running_pods(ctx: CheckContext, name: str) -> list[dict[str, Any]]:
    """The running Pods of Deployment `name`, or TargetUnavailable while it has none."""
    pods = [p for p in deployment_pods(ctx, deployment(ctx, name)) if is_running(p)]
    if not pods:
        raise TargetUnavailable(f"Deployment {name} has no running Pod yet")
    return pods


def settled_pods(ctx: CheckContext, name: str) -> list[dict[str, Any]]:
    """The Pods of Deployment `name` once its rollout has settled: all ready and none going away (an
    old Pod may still answer through a Service for a moment). Else TargetUnavailable, final only when
    the Deployment is missing or a Pod cannot become ready."""
    found = deployment(ctx, name)
    selector = found.get("spec", {}).get("selector") or {}
    leaving = [p for p in ctx.list("Pod") if p["metadata"].get("deletionTimestamp")
               and selector_matches(selector, labels_of(p))]
    if leaving:
        raise TargetUnavailable(f"Pod {name_of(leaving[0])} of Deployment {name} is still going away "
                                "(a rollout under way)")
    ready, waiting = ready_replicas(ctx, found)
    if waiting or not ready:
        cause, final = why_not_ready(ctx, waiting) if waiting else ("it has no Pod yet", False)
        raise TargetUnavailable(f"not every Pod of Deployment {name} is ready (a rollout under way?)",
                                cause=cause, final=final)
    return ready


#: Causes from `pod_cause` that a Pod does not outgrow by waiting, though it does not say so.
_STUCK = ("has exited", "not scheduled", "is waiting")


def why_not_ready(ctx: CheckContext, pods: list[dict[str, Any]]) -> tuple[str, bool]:
    """The likely cause for the first Pod that is not ready, and whether it is final.

    Final when waiting cannot help: the kubelet has judged the readiness probe
    failing (its Events, not how long the Pod has run, which depends on the
    machine), the image cannot be had, the container keeps crashing.
    """
    for candidate in pods:
        if is_ready(candidate):
            continue
        found = pod_cause(candidate, ctx)
        cause = found.text or "it is not ready yet"
        return f"Pod {name_of(candidate)}: {cause}", found.final or any(word in cause for word in _STUCK)
    return "", False


# --- Services -----------------------------------------------------------------------------


def service(ctx: CheckContext, name: str, *, made_by: str | None = None) -> dict[str, Any]:
    """The named Service, or TargetUnavailable (final: it does not appear by waiting)."""
    found = ctx.get("Service", name)
    if found is None:
        how = f"apply {made_by}" if made_by else f"create Service {name} (the lab page shows how)"
        raise TargetUnavailable(f"Service {name} does not exist in namespace {ctx.namespace}", cause=how, final=True)
    return found


def node_port(ctx: CheckContext, name: str, *, made_by: str | None = None) -> tuple[dict[str, Any], int]:
    """The Service and the node port of its first port; TargetUnavailable (final) when it has none,
    or when it selects no Pod (then no node port can reach anything, whatever the ports say)."""
    svc = service(ctx, name, made_by=made_by)
    port = service_ports(svc)[0].get("nodePort")
    if not port:
        raise TargetUnavailable(f"Service {name} has no nodePort (type {svc.get('spec', {}).get('type')})",
                                cause="make it a NodePort Service", final=True)
    empty = service_selects_nothing(ctx, svc)
    if empty:
        raise TargetUnavailable(f"Service {name} selects no Pod", cause=empty.text, final=empty.final)
    return svc, int(port)


def service_ports(svc: dict[str, Any]) -> list[dict[str, Any]]:
    ports = svc.get("spec", {}).get("ports") or []
    if not ports:
        raise TargetUnavailable(f"Service {name_of(svc)} has no ports", final=True)
    return ports


def selected_pods(ctx: CheckContext, svc: dict[str, Any]) -> list[dict[str, Any]]:
    """The live Pods a Service's selector matches (none for a Service without a selector)."""
    selector = svc.get("spec", {}).get("selector") or {}
    return [p for p in live_pods(ctx) if selector_matches(selector, labels_of(p))]


def target_ports(svc_port: dict[str, Any], pods: list[dict[str, Any]]) -> set[int]:
    """The container port(s) a Service port forwards to, a named targetPort resolved in each Pod
    (Pods may number the same name differently); empty when a name resolves in no Pod."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return {int(target)}
    found = set()
    for p in pods:
        for container in containers_of(p):
            for port in container.get("ports") or []:
                if port.get("name") == target and port.get("containerPort") is not None:
                    found.add(int(port["containerPort"]))
    return found


@dataclass
class Endpoint:
    address: str
    ready: bool
    pod: str | None
    node: str | None


def endpoints(ctx: CheckContext, service_name: str) -> tuple[list[Endpoint], list[int]]:
    """A Service's endpoints from its EndpointSlices, and their port numbers."""
    slices = ctx.list("EndpointSlice", "discovery.k8s.io/v1", label_selector=f"kubernetes.io/service-name={service_name}")
    found: list[Endpoint] = []
    ports: set[int] = set()
    for endpoint_slice in slices:
        ports.update(p["port"] for p in endpoint_slice.get("ports") or [] if p.get("port") is not None)
        for ep in endpoint_slice.get("endpoints") or []:
            # The API's rule: an unknown readiness (no `ready` field) counts as ready.
            ready = (ep.get("conditions") or {}).get("ready") is not False
            ref = ep.get("targetRef") or {}
            for address in ep.get("addresses") or []:
                found.append(Endpoint(address, ready, ref.get("name"), ep.get("nodeName")))
    return found, sorted(ports)


# --- nodes --------------------------------------------------------------------------------


def nodes(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    """Every node, by name."""
    return {name_of(n): n for n in ctx.list("Node")}


def internal_ip(node: dict[str, Any]) -> str | None:
    """The node's IPv4 InternalIP: where other nodes and this machine reach it."""
    for address in node.get("status", {}).get("addresses", []) or []:
        if address.get("type") == "InternalIP" and ":" not in address.get("address", ""):
            return address["address"]
    return None


def pod_cidrs(node: dict[str, Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    spec = node.get("spec", {})
    return [ipaddress.ip_network(c) for c in (spec.get("podCIDRs") or [spec.get("podCIDR")]) if c]


# --- answers learners record --------------------------------------------------------------


def answer(ctx: CheckContext, configmap: str, key: str) -> str:
    """The value a learner recorded under `key` of a ConfigMap, stripped; TargetUnavailable
    (final: a recorded answer does not change by itself) when there is none."""
    found = ctx.get("ConfigMap", configmap)
    if found is None:
        raise TargetUnavailable(f"ConfigMap {configmap} does not exist in namespace {ctx.namespace}",
                                cause=f"record your answer: kubectl create configmap {configmap} "
                                      f"--from-literal={key}=...", final=True)
    data = found.get("data") or {}
    if key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise TargetUnavailable(f"ConfigMap {configmap} has no key {key} (its keys: {keys})",
                                cause=f"record the answer under the key {key}", final=True)
    return str(data[key]).strip()


def answer_items(value: str) -> list[str]:
    """The items of a recorded list, however the learner separated them (spaces, commas,
    semicolons, new lines), in order, without repeats."""
    seen: list[str] = []
    for item in re.split(r"[\s,;]+", value):
        if item and item not in seen:
            seen.append(item)
    return seen


# --- values read from the cluster ----------------------------------------------------------


def field_values(obj: dict[str, Any], path: str) -> list[Any]:
    """The values at a dotted path (`status.podIP`, `spec.ports[0].nodePort`, `spec.ports[*].port`)."""
    current: list[Any] = [obj]
    for part in re.findall(r"[^.\[\]]+|\[\*?\d*\]", path):
        following: list[Any] = []
        for value in current:
            if part.startswith("["):
                if isinstance(value, list):
                    index = part[1:-1]
                    following.extend(value if index in ("*", "") else value[int(index):int(index) + 1])
            elif isinstance(value, dict) and part in value:
                following.append(value[part])
        current = following
    return [v for v in current if v is not None and v != ""]


def same_value(recorded: str, actual: Any) -> bool:
    """Equal as a learner means it: IP addresses by value (`::1` is `0:0::1`; `10.244.0.5/24`, as
    `ip addr` prints it, is 10.244.0.5), a DNS name with or without its final dot, text regardless
    of case (names, status words)."""
    left, right = recorded.strip(), str(actual).strip()
    try:
        return ipaddress.ip_interface(left).ip == ipaddress.ip_address(right)
    except ValueError:
        return left.rstrip(".").casefold() == right.rstrip(".").casefold() if left and right else left == right


def identify(ctx: CheckContext, value: str) -> str | None:
    """What a value is in this cluster, when it is something else than asked: "the node's IP
    (status.hostIP of Pod web)", "Service web's ClusterIP". The usual mix-ups, named; None where
    the cluster (a recording made without these reads) cannot say: it only words a cause."""
    try:
        return _identify(ctx, value)
    except ClusterUnavailable:
        return None


def _identify(ctx: CheckContext, value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    for p in ctx.list("Pod"):
        status = p.get("status", {})
        if same_value(value, status.get("podIP") or ""):
            return f"Pod {name_of(p)}'s IP (status.podIP)"
        if same_value(value, status.get("hostIP") or ""):
            return f"the IP of node {p.get('spec', {}).get('nodeName', '?')} (status.hostIP of Pod {name_of(p)})"
    services = ctx.list("Service")
    for svc in services:
        if same_value(value, svc.get("spec", {}).get("clusterIP") or ""):
            return f"Service {name_of(svc)}'s ClusterIP"
    for n in ctx.list("Node"):
        if same_value(value, internal_ip(n) or ""):
            return f"node {name_of(n)}'s InternalIP"
    # <service>.<namespace>[.svc[.<cluster domain>]]: a Service's DNS name, maybe in another namespace
    dns = re.fullmatch(r"([a-z0-9-]+)\.([a-z0-9-]+)(?:\.svc(?:\.[a-z0-9.-]+)?)?\.?", value)
    if dns and dns[1] in {name_of(s) for s in services}:
        if dns[2] != ctx.namespace:
            return (f"Service {dns[1]}'s name in namespace {dns[2]} "
                    f"(but Service {dns[1]} is in namespace {ctx.namespace})")
        return f"one of Service {dns[1]}'s DNS names"
    for n in ctx.list("Node"):  # no Pod holds it (above): a bridge plugin gives the node this address
        for cidr in pod_cidrs(n):
            if same_value(value, str(cidr.network_address + 1)):
                return (f"node {name_of(n)}'s own address on its Pod network (the first of its Pod CIDR {cidr}, "
                        "held by no Pod): the node's kubelet sends its probes (kube-probe) from there")
    return None


def read_reference(ctx: CheckContext, ref: Reference) -> list[str]:
    """The values a reference points at now (a missing object is TargetUnavailable: not yet made)."""
    namespace = in_namespace(ref.namespace, ctx.namespace) if ref.namespace else None
    where = {"namespace": namespace} if namespace else {}
    if ref.name is not None:
        obj = ctx.get(ref.kind, ref.name, ref.apiVersion, **where)
        if obj is None:
            raise TargetUnavailable(f"{ref.kind} {ref.name} does not exist, so the answer cannot be compared",
                                    cause=f"{ref.kind} {ref.name} must exist (see the earlier steps)")
        objects = [obj]
    else:
        objects = [o for o in ctx.list(ref.kind, ref.apiVersion, label_selector=ref.selector, **where)
                   if not o.get("metadata", {}).get("deletionTimestamp")]
    if ref.ready:
        objects = [o for o in objects if is_ready(o)]
    return [str(v) for obj in objects for v in field_values(obj, ref.field)]
