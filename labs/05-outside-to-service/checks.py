"""Python checks of lab 05: traffic from outside the cluster to a Service.

Each function is named by a `python: {function: ...}` check in lab.yaml.

Requests that prove "from outside" are sent from the machine labcheck runs on
(`ctx.exec_on_host`): kind's nodes and MetalLB's addresses sit on kind's Docker
network, which that machine is on. A FAIL that waiting may fix (Pods starting,
kube-proxy or MetalLB catching up) is not final, and the engine asks again
within the check's timeout; a FAIL waiting cannot fix (a selector that matches
no Pod, an address outside the pool, an IP address as a DNS alias) is final.
"""

from __future__ import annotations

import ipaddress
import re
from labcheck.lab import (
    CheckContext,
    ClusterUnavailable,
    Outcome,
    http_answer,
    http_command,
    interpret,
    pod_cause,
    register,
)


METALLB_NAMESPACE = "metallb-system"
METALLB_POOLS = ("metallb.io/v1beta1", "IPAddressPool")
# the annotations MetalLB reads for a Service that asks for particular addresses
REQUESTED_IP_ANNOTATIONS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
POOL_ANNOTATIONS = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
SERVED_BY = "Served by "
REQUEST_SECONDS = 4
UNREACHABLE_NETWORK = (". If it stays so, this machine may not reach kind's Docker network at all (Docker Desktop "
                       "keeps it inside its VM: there only localhost:30080 reaches the cluster)")
# Kubernetes picks automatic node ports from the upper part of 30000-32767 first and keeps the
# lowest ports (30000-30085 for the default range) for Services that name one: a port down
# there was chosen by a person.
CHOSEN_BAND_END = 30086


# --- reading the cluster ---------------------------------------------------------------------


def _nodes(ctx: CheckContext) -> list[tuple[str, str | None]]:
    """(name, InternalIP) of every node, by name."""
    found = []
    for node in ctx.list("Node"):
        address = next((a.get("address") for a in node.get("status", {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), None)
        found.append((node["metadata"]["name"], address))
    return sorted(found)


def _is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _live_pods(ctx: CheckContext, selector: dict) -> list[dict]:
    if not selector:
        return []
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return [p for p in ctx.list("Pod", label_selector=labels) if not p["metadata"].get("deletionTimestamp")]


def _service(ctx: CheckContext, name: str, manifest: str) -> tuple[dict | None, Outcome | None]:
    svc = ctx.get("Service", name)
    if svc is None:
        return None, Outcome.failed(f"no Service {name} in namespace {ctx.namespace}", expected=f"Service {name}",
                                    observed="nothing", cause=f"save {manifest} and `kubectl apply -f {manifest}`",
                                    final=True)
    return svc, None


def _first_port(svc: dict) -> dict:
    ports = svc.get("spec", {}).get("ports") or []
    return ports[0] if ports else {}


def _node_port(ctx: CheckContext, service: str) -> tuple[dict | None, int | None, Outcome | None]:
    """The Service and the node port of its first port (None when it has none)."""
    svc, failed = _service(ctx, service, f"{service}.yaml")
    return svc, (_first_port(svc).get("nodePort") if svc else None), failed


def _ask_from_host(ctx: CheckContext, url: str) -> tuple[int | None, str, str | None]:
    """(HTTP status or None, body, likely cause of a failure) of a GET sent from this machine."""
    result = ctx.exec_on_host(http_command(url, REQUEST_SECONDS + 1), timeout=REQUEST_SECONDS + 2)
    if result.returncode in (126, 127):
        raise ClusterUnavailable("this machine has neither curl nor wget: labcheck cannot send a request from "
                                 "outside the cluster (install curl)")
    answer = http_answer(result)
    return answer.status, answer.body.strip(), None if answer.status else interpret(result)


def _served_by(body: str) -> str | None:
    """The Pod named in the webserver's answer ("Served by <pod> (<ip>)")."""
    match = re.search(r"Served by (\S+)", body)
    return match.group(1) if match else None


def _backend_problem(ctx: CheckContext, svc: dict) -> tuple[str, str, bool] | None:
    """(summary, cause, final) when the Service cannot reach a serving Pod, or None when it should."""
    name = svc["metadata"]["name"]
    selector = svc.get("spec", {}).get("selector") or {}
    pods = _live_pods(ctx, selector)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(selector.items())) or "none"
    if not pods:
        others = {", ".join(f"{k}={v}" for k, v in sorted((p["metadata"].get("labels") or {}).items()))
                  for p in ctx.list("Pod") if not p["metadata"].get("deletionTimestamp")}
        labelled = "; ".join(sorted(others)) or "there are no Pods"
        return (f"Service {name} selects no Pod (selector {shown})",
                f"the selector must match the webserver Pods' labels (they carry: {labelled}); "
                "without a Pod behind it, every node refuses the connection", True)
    ready = [p for p in pods if _is_ready(p)]
    if not ready:
        cause = pod_cause(pods[0], ctx)
        return (f"none of the {len(pods)} Pod(s) Service {name} selects is ready",
                cause.text or "wait until the Pods are ready", cause.final)
    target = _first_port(svc).get("targetPort")
    if isinstance(target, int):
        listening = {}
        for container in pods[0].get("spec", {}).get("containers") or []:
            ports = [p.get("containerPort") for p in container.get("ports") or []]
            if ports:
                listening[container["name"]] = ports
        if listening and not any(target in ports for ports in listening.values()):
            where = ", ".join(f"{c} listens on {', '.join(map(str, p))}" for c, p in listening.items())
            return (f"Service {name} sends to targetPort {target}, where its Pods do not listen",
                    f"{where}: targetPort must be that port", True)
    return None


# --- step 1: NodePort ------------------------------------------------------------------------


@register
def replicas_ready(ctx: CheckContext, deployment: str, replicas: int) -> Outcome:
    obj = ctx.get("Deployment", deployment, api_version="apps/v1")
    if obj is None:
        return Outcome.failed(f"no Deployment {deployment} in namespace {ctx.namespace}", observed="nothing",
                              cause="save webserver.yaml and `kubectl apply -f webserver.yaml`", final=True)
    pods = _live_pods(ctx, obj["spec"]["selector"].get("matchLabels") or {})
    ready = [p for p in pods if _is_ready(p)]
    if len(ready) < replicas:
        waiting = next((p for p in pods if not _is_ready(p)), None)
        cause = pod_cause(waiting, ctx) if waiting else None
        return Outcome.failed(f"{len(ready)} of {replicas} replicas of {deployment} are ready",
                              expected=f"{replicas} ready Pods", observed=f"{len(pods)} Pods, {len(ready)} ready",
                              cause=(cause.text if cause and cause.text else "wait a few seconds and check again"),
                              final=bool(cause and cause.final))
    placed = ", ".join(f"{p['metadata']['name']} on {p['spec'].get('nodeName')}" for p in ready)
    return Outcome.passed(f"{len(ready)} replicas of {deployment} are ready", observed=placed)


@register(needs=('host',))
def every_node_answers(ctx: CheckContext, service: str, deployment: str) -> Outcome:
    """A GET from this machine to each node's InternalIP and the node port reaches a webserver Pod."""
    svc, node_port, failed = _node_port(ctx, service)
    if failed:
        return failed
    if not node_port:
        return Outcome.failed(f"Service {service} has no node port", observed=f"type {svc['spec'].get('type')}",
                              cause="make it `type: NodePort`", final=True)
    nodes = _nodes(ctx)
    if not nodes:
        raise ClusterUnavailable("the cluster lists no nodes")
    answers, silent = [], {}
    for node, address in nodes:
        if not address:
            raise ClusterUnavailable(f"node {node} has no InternalIP")
        status, body, why = _ask_from_host(ctx, f"http://{address}:{node_port}/")
        pod = _served_by(body) if status == 200 else None
        if pod:
            answers.append(f"{node} ({address}) -> {pod}")
        else:
            silent.setdefault(f"HTTP {status}" if status else why or "no answer", []).append(f"{node} ({address})")
    if not silent:
        hosts = {p["spec"].get("nodeName") for p in _live_pods(ctx, svc["spec"].get("selector") or {})}
        without = [node for node, _ in nodes if node not in hosts]
        note = f"; {', '.join(without)} run(s) no webserver Pod and answered all the same" if without else ""
        return Outcome.passed(f"all {len(nodes)} nodes answered on node port {node_port}{note}",
                              observed="; ".join(answers))
    observed = "; ".join(f"{', '.join(where)}: {what}" for what, where in silent.items())
    problem = _backend_problem(ctx, svc)
    if problem:
        summary, cause, final = problem
        return Outcome.failed(summary, expected=f"every node's port {node_port} reaches a webserver Pod",
                              observed=observed, cause=cause, final=final)
    count = sum(len(where) for where in silent.values())
    return Outcome.failed(f"{count} of {len(nodes)} nodes did not answer on node port {node_port}",
                          expected="an answer 'Served by <pod>' from every node", observed=observed,
                          cause="kube-proxy may still be writing the rules for the new Service: check again"
                                + (UNREACHABLE_NETWORK if count == len(nodes) else ""))


# --- step 2: LoadBalancer --------------------------------------------------------------------


def _pools(ctx: CheckContext) -> list[dict] | None:
    """MetalLB's address pools, or None when the cluster has no MetalLB API at all."""
    try:
        return ctx.list(METALLB_POOLS[1], METALLB_POOLS[0], namespace=METALLB_NAMESPACE)
    except ClusterUnavailable as exc:
        if "serves no" in str(exc):
            return None
        raise


def _pool_ranges(pool: dict) -> list[tuple[ipaddress._BaseAddress, ipaddress._BaseAddress]]:
    ranges = []
    for entry in pool.get("spec", {}).get("addresses") or []:
        try:
            if "-" in entry:
                first, last = (ipaddress.ip_address(part.strip()) for part in entry.split("-", 1))
            else:
                network = ipaddress.ip_network(entry, strict=False)
                first, last = network[0], network[-1]
        except ValueError:
            continue
        ranges.append((first, last))
    return ranges


def _pool_of(pools: list[dict], address: str) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    for pool in pools:
        if any(first.version == ip.version and first <= ip <= last for first, last in _pool_ranges(pool)):
            return pool["metadata"]["name"]
    return None


def _pools_shown(pools: list[dict]) -> str:
    return "; ".join(f"{p['metadata']['name']}: {', '.join(p.get('spec', {}).get('addresses') or [])}"
                     for p in pools) or "no pool"


def _metallb_state(ctx: CheckContext) -> tuple[list[dict] | None, str | None]:
    """(pools, problem): what stops MetalLB from assigning addresses, or None when it can."""
    pools = _pools(ctx)
    controller = ctx.get("Deployment", "controller", "apps/v1", namespace=METALLB_NAMESPACE)
    speaker = ctx.get("DaemonSet", "speaker", "apps/v1", namespace=METALLB_NAMESPACE)
    if pools is None or controller is None or speaker is None:
        return None, "MetalLB is not installed in this cluster"
    if not pools:
        return pools, "MetalLB has no IPAddressPool, so it has no address to give"
    if (controller.get("status", {}).get("readyReplicas") or 0) < 1:
        return pools, "MetalLB's controller (namespace metallb-system) is not ready"
    status = speaker.get("status", {})
    if not status.get("desiredNumberScheduled") or status.get("numberReady", 0) < status["desiredNumberScheduled"]:
        return pools, (f"{status.get('numberReady', 0)} of {status.get('desiredNumberScheduled', 0)} MetalLB "
                       "speakers are ready")
    return pools, None


@register
def metallb_running(ctx: CheckContext) -> Outcome:
    pools, problem = _metallb_state(ctx)
    if problem:
        return Outcome.failed(problem, expected="MetalLB's controller and speakers ready, with an address pool",
                              observed=_pools_shown(pools or []),
                              cause="`labcheck start 05` installs MetalLB and its pool (run it again; it keeps "
                                    "your work); `kubectl -n metallb-system get pods` shows how it is doing",
                              final=pools is None or not pools)
    return Outcome.passed("MetalLB's controller and speakers are ready", observed=_pools_shown(pools))


def _requested(svc: dict) -> list[str]:
    annotations = svc["metadata"].get("annotations") or {}
    wanted = [ip.strip() for key in REQUESTED_IP_ANNOTATIONS for ip in (annotations.get(key) or "").split(",")
              if ip.strip()]
    if svc.get("spec", {}).get("loadBalancerIP"):
        wanted.append(svc["spec"]["loadBalancerIP"])
    return wanted


def _allocation_events(ctx: CheckContext, service: str) -> list[str]:
    return [e.get("message", "") for e in ctx.list("Event")
            if (e.get("involvedObject") or {}).get("kind") == "Service"
            and (e.get("involvedObject") or {}).get("name") == service and e.get("reason") == "AllocationFailed"]


def _why_pending(ctx: CheckContext, svc: dict) -> tuple[str, bool]:
    """Why a LoadBalancer Service has no address yet, and whether waiting can change it."""
    spec = svc.get("spec", {})
    if spec.get("loadBalancerClass"):
        return (f"the Service sets loadBalancerClass {spec['loadBalancerClass']!r}, so MetalLB leaves it to another "
                "implementation, and there is none: drop loadBalancerClass", True)
    pools, problem = _metallb_state(ctx)
    if problem:
        return (f"{problem}: nothing can assign the address. `labcheck start 05` installs MetalLB and its pool",
                pools is None or not pools)
    outside = [ip for ip in _requested(svc) if _pool_of(pools, ip) is None]
    if outside:
        return (f"the Service asks for {', '.join(outside)}, which is not in MetalLB's address pool "
                f"({_pools_shown(pools)}): ask for an address in the pool, or for none and let MetalLB choose", True)
    annotations = svc["metadata"].get("annotations") or {}
    names = {p["metadata"]["name"] for p in pools}
    for key in POOL_ANNOTATIONS:
        if annotations.get(key) and annotations[key] not in names:
            return (f"annotation {key} names pool {annotations[key]!r}; MetalLB's pools are {', '.join(sorted(names))}",
                    True)
    failures = _allocation_events(ctx, svc["metadata"]["name"])
    if failures:
        return f"MetalLB could not assign an address: {failures[-1]}", True
    return "MetalLB has not assigned an address yet: check again in a moment", False


def _external_ips(svc: dict) -> list[str]:
    ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return [entry.get("ip") for entry in ingress if entry.get("ip")]


def _load_balancer(ctx: CheckContext, service: str) -> tuple[dict | None, str | None, Outcome | None]:
    svc, failed = _service(ctx, service, f"{service}.yaml")
    if failed:
        return None, None, failed
    kind = svc.get("spec", {}).get("type")
    if kind != "LoadBalancer":
        return svc, None, Outcome.failed(f"Service {service} is of type {kind}", expected="type LoadBalancer",
                                         observed=f"type {kind}", final=True,
                                         cause="only a LoadBalancer Service gets an external address")
    ips = _external_ips(svc)
    if not ips:
        cause, final = _why_pending(ctx, svc)
        return svc, None, Outcome.failed(f"Service {service} has no external address (EXTERNAL-IP <pending>)",
                                         expected="an address in status.loadBalancer.ingress",
                                         observed="status.loadBalancer is empty", cause=cause, final=final)
    return svc, ips[0], None


@register
def external_ip_assigned(ctx: CheckContext, service: str) -> Outcome:
    svc, ip, failed = _load_balancer(ctx, service)
    if failed:
        return failed
    pools = _pools(ctx) or []
    pool = _pool_of(pools, ip)
    if pool is None:
        return Outcome.failed(f"Service {service}'s external address {ip} is not in MetalLB's address pool",
                              expected=_pools_shown(pools), observed=ip, final=True,
                              cause="something other than MetalLB set the address; remove it and let MetalLB assign one")
    node_port = _first_port(svc).get("nodePort")
    also = f" (and node port {node_port}: a LoadBalancer Service is a NodePort Service too)" if node_port else ""
    return Outcome.passed(f"Service {service} got {ip} from MetalLB's pool {pool}{also}", observed=ip)


@register(needs=('host',))
def external_ip_answers(ctx: CheckContext, service: str) -> Outcome:
    svc, ip, failed = _load_balancer(ctx, service)
    if failed:
        return failed
    port = _first_port(svc).get("port", 80)
    url = f"http://{ip}/" if port == 80 else f"http://{ip}:{port}/"
    status, body, why = _ask_from_host(ctx, url)
    pod = _served_by(body) if status == 200 else None
    if pod:
        return Outcome.passed(f"GET {url} from this machine was served by {pod}", observed=body[:200])
    problem = _backend_problem(ctx, svc)
    if problem:
        summary, cause, final = problem
        return Outcome.failed(summary, expected=f"GET {url} answered by a webserver Pod",
                              observed=f"HTTP {status}" if status else why or "no answer", cause=cause, final=final)
    return Outcome.failed(f"GET {url} from this machine got no answer from a webserver Pod",
                          expected="'Served by <pod>'", observed=f"HTTP {status}: {body[:120]}" if status else
                          why or "no answer",
                          cause="MetalLB's speaker announces the address over ARP a moment after assigning it, "
                                "and kube-proxy needs a moment for its rules: check again" + UNREACHABLE_NETWORK)


# --- step 3: ExternalName --------------------------------------------------------------------


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _alias(ctx: CheckContext, service: str) -> tuple[dict | None, Outcome | None]:
    svc, failed = _service(ctx, service, f"{service}.yaml")
    if failed:
        return None, failed
    kind = svc.get("spec", {}).get("type")
    if kind != "ExternalName":
        return svc, Outcome.failed(f"Service {service} is of type {kind}", expected="type ExternalName",
                                   observed=f"type {kind}", final=True,
                                   cause="set `type: ExternalName` and `externalName: <DNS name>`, with no selector "
                                         "and no ports needed (delete the Service first if it had a ClusterIP)")
    return svc, None


@register
def alias_is_externalname(ctx: CheckContext, service: str) -> Outcome:
    svc, failed = _alias(ctx, service)
    if failed:
        return failed
    name = (svc["spec"].get("externalName") or "").strip()
    if "://" in name or "/" in name:
        return Outcome.failed(f"externalName {name!r} is a URL", expected="a DNS name", observed=name, final=True,
                              cause="externalName is what DNS aliases: a host name only, no scheme, path or port")
    if _is_ip(name):
        return Outcome.failed(f"externalName {name} is an IP address", expected="a DNS name", observed=name,
                              final=True,
                              cause="a CNAME record can only point at a name, so the cluster's DNS has nothing to "
                                    "answer; give a DNS name (an IP address needs a Service without selector "
                                    "and an EndpointSlice of your own)")
    cluster_ip = svc["spec"].get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        return Outcome.failed(f"Service {service} has ClusterIP {cluster_ip}", expected="no ClusterIP",
                              observed=cluster_ip, final=True,
                              cause="an ExternalName Service has no virtual IP: delete the Service and apply it again")
    return Outcome.passed(f"Service {service} is a DNS alias for {name}, with no ClusterIP",
                          observed=f"type ExternalName, externalName {name}")


@register
def alias_has_no_endpoints(ctx: CheckContext, service: str) -> Outcome:
    svc, failed = _alias(ctx, service)
    if failed:
        return failed
    slices = ctx.list("EndpointSlice", api_version="discovery.k8s.io/v1",
                      label_selector=f"kubernetes.io/service-name={service}")
    if slices:
        names = ", ".join(s["metadata"]["name"] for s in slices)
        return Outcome.failed(f"EndpointSlices belong to Service {service}", expected="none",
                              observed=names, cause="an ExternalName Service has no endpoints; these are left over "
                                                    "or made by hand: delete them", final=True)
    return Outcome.passed(f"no EndpointSlice belongs to Service {service}: no Pod, no proxying, only DNS",
                          observed="no EndpointSlices")


def _lookup(output: str) -> tuple[list[str], list[str]]:
    """(CNAME targets, addresses of the answer) from busybox's or bind's nslookup output."""
    canonical = [m.rstrip(".") for m in re.findall(r"canonical name = (\S+)", output)]
    # the first block names the DNS server (Server:/Address: <ip>#53 or <ip>:53); answers follow
    answer = output.split("\n\n", 1)[1] if "\n\n" in output else ""
    addresses = re.findall(r"^Address(?: \d+)?:\s*([0-9A-Fa-f.:]+)\s*$", answer, re.MULTILINE)
    return canonical, addresses


@register
def dns_shows_cname(ctx: CheckContext, service: str, pod: str) -> Outcome:
    svc, failed = _alias(ctx, service)
    if failed:
        return failed
    target = (svc["spec"].get("externalName") or "").strip().rstrip(".")
    fqdn = f"{service}.{ctx.namespace}.svc.cluster.local"
    result = ctx.exec(pod, None, ["nslookup", fqdn], timeout=10)
    if result.returncode in (126, 127):
        return Outcome.failed(f"Pod {pod} has no nslookup", observed=(result.stderr or result.stdout)[:200],
                              cause="use the busybox:1.36 image, as client.yaml does", final=True)
    canonical, addresses = _lookup(result.stdout)
    observed = " ".join(result.stdout.split())[:300]
    if target.lower() in (c.lower() for c in canonical):
        if addresses:
            return Outcome.passed(f"{fqdn} is a CNAME for {target}, which resolves to {', '.join(addresses)}",
                                  observed=observed)
        return Outcome.failed(f"{fqdn} is a CNAME for {target}, but {target} does not resolve",
                              expected=f"an address for {target}", observed=observed, final=True,
                              cause=f"the cluster's DNS looks up {target!r} exactly as written: search domains "
                                    "complete the names a client asks for, never a CNAME's target. Give the full "
                                    "name (for a Service: <name>.<namespace>.svc.cluster.local)")
    if _is_ip(target):
        return Outcome.failed(f"{fqdn} does not resolve: externalName {target} is an IP address",
                              expected=f"a CNAME for {target}", observed=observed, final=True,
                              cause="a CNAME can only point at a name; give a DNS name")
    return Outcome.failed(f"{fqdn} has no CNAME for {target} yet", expected=f"canonical name = {target}",
                          observed=observed, cause="CoreDNS picks up a new Service within seconds: check again")


# --- step 4: a node port published on localhost ------------------------------------------------


@register
def node_port_published(ctx: CheckContext, service: str, published: int) -> Outcome:
    _svc, node_port, failed = _node_port(ctx, service)
    if failed:
        return failed
    if node_port != published:
        where = "(extraPortMappings in clusters/multi-node.yaml)"
        if isinstance(node_port, int) and node_port < CHOSEN_BAND_END:
            cause = (f"kind does not publish node port {node_port} of this cluster: it maps only {published} "
                     f"to your machine's localhost {where}. Set `nodePort: {published}`")
        else:
            cause = (f"the Service names no node port, so Kubernetes picked {node_port}; kind maps only "
                     f"{published} to your machine's localhost {where}. Set `nodePort: {published}` on its port")
        return Outcome.failed(f"Service {service} uses node port {node_port}", expected=f"nodePort: {published}",
                              observed=f"nodePort {node_port}", final=True, cause=cause)
    return Outcome.passed(f"Service {service} uses node port {published}, which kind maps to 127.0.0.1:{published}",
                          observed=f"nodePort {node_port}")
