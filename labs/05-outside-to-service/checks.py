"""Python checks of lab 05 (named by `python: {function: ...}` in lab.yaml): traffic from outside,
i.e. from the machine labcheck runs on (`ctx.exec_on_host`), on kind's Docker network with the nodes
and MetalLB's addresses. A FAIL waiting may fix (kube-proxy or MetalLB catching up) is re-tried
within the check's timeout; one it cannot fix (an address outside the pool, externalTrafficPolicy:
Local where every node must answer, or Cluster where the client's address must be kept, an IP
address as a DNS alias) is final."""

from __future__ import annotations

import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor

from labcheck.lab import (CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, http_answer, http_command,
                         interpret, objects, register)

METALLB_NAMESPACE = "metallb-system"
METALLB_POOLS = ("metallb.io/v1beta1", "IPAddressPool")
# the annotations MetalLB reads for a Service that asks for particular addresses, or a pool
REQUESTED_IP_ANNOTATIONS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
POOL_ANNOTATIONS = ("metallb.io/address-pool", "metallb.universe.tf/address-pool")
REQUEST_SECONDS = 4
UNREACHABLE_NETWORK = (". If it stays so, this machine may not reach kind's Docker network at all (Docker Desktop "
                       "keeps it inside its VM: there only localhost:30080 reaches the cluster)")
# Kubernetes picks node ports from the upper part of 30000-32767 first and keeps the lowest
# (30000-30085) for Services that name one: a port down there was chosen by a person.
CHOSEN_BAND_END = 30086


# --- shared --------------------------------------------------------------------------------------
def _first_port(svc: dict) -> dict:
    return (svc.get("spec", {}).get("ports") or [{}])[0]


def _ask_from_host(ctx: CheckContext, url: str) -> tuple[int | None, str, str | None]:
    """(HTTP status or None, body, likely cause of a failure) of a GET sent from this machine."""
    result = ctx.exec_on_host(http_command(url, REQUEST_SECONDS + 1), timeout=REQUEST_SECONDS + 2)
    if result.returncode in (126, 127):
        raise ClusterUnavailable("this machine has neither curl nor wget: labcheck cannot send a request from "
                                 "outside the cluster (install curl)")
    answer = http_answer(result)
    return answer.status, answer.body.strip(), None if answer.status else interpret(result)


def _ask_every_node(ctx: CheckContext, node_port: int) -> tuple[dict[str, str], dict[str, tuple[str | None, str]]]:
    """({node: its InternalIP}, {node: (the webserver Pod that answered or None, what was seen)}) of a GET
    from this machine to every node's InternalIP and the node port."""
    nodes = {name: objects.internal_ip(node) or "" for name, node in sorted(objects.nodes(ctx).items())}
    if not nodes or not all(nodes.values()):  # not the learner's doing: the grader cannot judge
        raise ClusterUnavailable("the cluster lists no nodes, or a node without an InternalIP")
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:  # a silent node costs its timeout once, not in turn
        asked = list(pool.map(lambda ip: _ask_from_host(ctx, f"http://{ip}:{node_port}/"), nodes.values()))
    seen: dict[str, tuple[str | None, str]] = {}
    for node, (status, body, why) in zip(nodes, asked):
        pod = _served_by(status, body)
        seen[node] = (pod, pod or (f"HTTP {status}" if status else why or "no answer"))
    return nodes, seen


def _served_by(status: int | None, body: str) -> str | None:
    """The Pod named in the webserver's answer ("Served by <pod> (<ip>)")."""
    return next(iter(re.findall(r"Served by (\S+)", body)), None) if status == 200 else None


def _target_problem(ctx: CheckContext, svc: dict) -> tuple[str, str] | None:
    """(summary, cause) when the Service sends to a targetPort (a name resolved in the Pods) where they
    do not listen, or selects no Pod any more (lab.yaml's endpoints check says why, before)."""
    pods, name = objects.selected_pods(ctx, svc), objects.name_of(svc)
    if not pods:
        return f"Service {name} selects no Pod", "fix its selector: the webserver Pods carry name=webserver"
    port = _first_port(svc)
    written, targets = port.get("targetPort", port.get("port")), objects.target_ports(port, pods)
    listening = {c["name"]: [p["containerPort"] for p in c.get("ports") or [] if p.get("containerPort")]
                 for c in objects.containers_of(pods[0])}
    if not targets:
        return (f"Service {name}'s targetPort {written!r} names no port of its Pods' containers",
                "a named targetPort must match `ports[].name` in the Pods' containers")
    if not any(listening.values()) or targets & {p for ports in listening.values() for p in ports}:
        return None
    shown = f"{written!r} ({', '.join(map(str, sorted(targets)))})" if isinstance(written, str) else written
    where = ", ".join(f"{c} listens on {', '.join(map(str, p))}" for c, p in listening.items() if p)
    return (f"Service {name} sends to targetPort {shown}, where its Pods do not listen",
            f"{where}: targetPort must be that port")


# --- step 1: NodePort ----------------------------------------------------------------------------
@register(needs=("host",))
def every_node_answers(ctx: CheckContext, service: str) -> Outcome:
    """A GET from this machine to each node's InternalIP and the node port reaches a webserver Pod."""
    svc = objects.service(ctx, service, made_by=f"{service}.yaml")
    node_port = _first_port(svc).get("nodePort")
    if not node_port:
        raise TargetUnavailable(f"Service {service} has no node port", cause="make it `type: NodePort`", final=True)
    nodes, seen = _ask_every_node(ctx, node_port)
    answers, silent = [], {}
    for node, (pod, what) in seen.items():
        if pod:
            answers.append(f"{node} ({nodes[node]}) -> {pod}")
        else:
            silent.setdefault(what, []).append(node)
    found, _ports = objects.endpoints(ctx, service)
    hosts = {e.node for e in found if e.ready and e.node}  # where the ready endpoints run
    if not silent:
        without = [node for node in nodes if node not in hosts]
        note = f"; {', '.join(without)} run(s) no webserver Pod and answered all the same" if without else ""
        return Outcome.passed(f"all {len(nodes)} nodes answered on node port {node_port}{note}",
                              observed="; ".join(answers))
    observed = "; ".join(f"{', '.join(f'{n} ({nodes[n]})' for n in where)}: {what}" for what, where in silent.items())
    expected = f"every node's port {node_port} reaches a webserver Pod"
    problem = _target_problem(ctx, svc)
    if problem:
        return Outcome.failed(problem[0], expected=expected, observed=observed, cause=problem[1], final=True)
    quiet = [node for where in silent.values() for node in where]
    if svc["spec"].get("externalTrafficPolicy") == "Local" and hosts and not hosts & set(quiet):
        # kube-proxy drops node-port traffic on a node without a local endpoint: waiting changes nothing.
        return Outcome.failed(
            f"{', '.join(quiet)} did not answer on node port {node_port}: Service {service} has "
            "externalTrafficPolicy: Local, and none of its ready Pods runs there",
            expected=expected, observed=observed, final=True,
            cause=f"with externalTrafficPolicy: Local a node hands node-port traffic only to Pods on that node "
                  f"(so the Pod sees the client's own address) and drops it where there is none; the Pods run on "
                  f"{', '.join(sorted(hosts))}. Leave externalTrafficPolicy out (Cluster, the default) and every "
                  "node answers")
    return Outcome.failed(f"{len(quiet)} of {len(nodes)} nodes did not answer on node port {node_port}",
                          expected="an answer 'Served by <pod>' from every node", observed=observed,
                          cause="kube-proxy may still be writing the rules for the new Service: check again"
                                + (UNREACHABLE_NETWORK if len(quiet) == len(nodes) else ""))


# --- step 2: LoadBalancer ------------------------------------------------------------------------
def _pools(ctx: CheckContext) -> list[dict] | None:
    """MetalLB's address pools, or None when the cluster has no MetalLB API at all."""
    try:
        return ctx.list(METALLB_POOLS[1], METALLB_POOLS[0], namespace=METALLB_NAMESPACE)
    except ClusterUnavailable as exc:
        if "serves no" in str(exc):
            return None
        raise


def _pool_of(pools: list[dict], address: str) -> str | None:
    """The pool holding an address (MetalLB's webhook has validated each entry: a CIDR or first-last)."""
    for pool in pools if _is_ip(address) else []:
        for first, _, last in (entry.partition("-") for entry in pool.get("spec", {}).get("addresses") or []):
            ip, network = ipaddress.ip_address(address), ipaddress.ip_network(first.strip(), strict=False)
            high = ipaddress.ip_address(last.strip()) if last else network[-1]
            if network[0].version == ip.version and network[0] <= ip <= high:
                return objects.name_of(pool)
    return None


def _pools_shown(pools: list[dict]) -> str:
    return "; ".join(f"{objects.name_of(p)}: {', '.join(p.get('spec', {}).get('addresses') or [])}"
                     for p in pools) or "no pool"


def _metallb_problem(ctx: CheckContext) -> tuple[list[dict] | None, str | None]:
    """(pools, problem): what stops MetalLB from assigning and announcing addresses (controller: lab.yaml)."""
    pools = _pools(ctx)
    speaker = ctx.get("DaemonSet", "speaker", "apps/v1", namespace=METALLB_NAMESPACE)
    if pools is None or speaker is None:
        return None, "MetalLB is not installed in this cluster"
    status = speaker.get("status", {})
    if not pools:
        return pools, "MetalLB has no IPAddressPool, so it has no address to give"
    ready, wanted = status.get("numberReady", 0), status.get("desiredNumberScheduled", 0)
    if not wanted or ready < wanted:
        return pools, f"{ready} of {wanted} MetalLB speakers are ready"
    return pools, None


def _why_pending(ctx: CheckContext, svc: dict) -> tuple[str, bool]:
    """Why a LoadBalancer Service has no address yet, and whether waiting can change it."""
    spec, annotations = svc.get("spec", {}), svc["metadata"].get("annotations") or {}
    if spec.get("loadBalancerClass"):
        return (f"the Service sets loadBalancerClass {spec['loadBalancerClass']!r}, so MetalLB leaves it to another "
                "implementation, and there is none: drop loadBalancerClass", True)
    pools, problem = _metallb_problem(ctx)
    if problem:
        return (f"{problem}: nothing can assign the address. `labcheck start 05` installs MetalLB and its pool",
                pools is None or not pools)
    requested = [ip.strip() for key in REQUESTED_IP_ANNOTATIONS for ip in (annotations.get(key) or "").split(",")
                 if ip.strip()] + ([spec["loadBalancerIP"]] if spec.get("loadBalancerIP") else [])
    outside = [ip for ip in requested if _pool_of(pools, ip) is None]
    if outside:
        return (f"the Service asks for {', '.join(outside)}, which is not in MetalLB's address pool "
                f"({_pools_shown(pools)}): ask for an address in the pool, or for none and let MetalLB choose", True)
    names = sorted(objects.name_of(p) for p in pools)
    for key in (k for k in POOL_ANNOTATIONS if annotations.get(k) and annotations[k] not in names):
        return f"annotation {key} names pool {annotations[key]!r}; MetalLB's pools are {', '.join(names)}", True
    failures = [e.get("message", "") for e in ctx.list("Event") if e.get("reason") == "AllocationFailed"
                and (e.get("involvedObject") or {}).get("kind") == "Service"
                and (e.get("involvedObject") or {}).get("name") == objects.name_of(svc)]
    if failures:
        return f"MetalLB could not assign an address: {failures[-1]}", True
    return "MetalLB has not assigned an address yet: check again in a moment", False


def _load_balancer(ctx: CheckContext, service: str) -> tuple[dict, str]:
    """The LoadBalancer Service and its external address, or TargetUnavailable saying why there is none."""
    svc = objects.service(ctx, service, made_by=f"{service}.yaml")
    kind = svc.get("spec", {}).get("type")
    if kind != "LoadBalancer":
        raise TargetUnavailable(f"Service {service} is of type {kind}, not LoadBalancer", final=True,
                                cause="only a LoadBalancer Service gets an external address: set `type: LoadBalancer`")
    ips = [e.get("ip") for e in svc.get("status", {}).get("loadBalancer", {}).get("ingress") or [] if e.get("ip")]
    if not ips:
        cause, final = _why_pending(ctx, svc)
        raise TargetUnavailable(f"Service {service} has no external address (EXTERNAL-IP <pending>)", cause=cause,
                                final=final)
    return svc, ips[0]


@register
def external_ip_assigned(ctx: CheckContext, service: str) -> Outcome:
    svc, ip = _load_balancer(ctx, service)
    pools = _pools(ctx) or []
    pool = _pool_of(pools, ip)
    if pool is None:
        return Outcome.failed(f"Service {service}'s external address {ip} is not in MetalLB's address pool "
                              f"({_pools_shown(pools)})", final=True, observed=ip,
                              cause="something other than MetalLB set it; remove it and let MetalLB assign one")
    node_port = _first_port(svc).get("nodePort")
    also = f" (and node port {node_port}: a LoadBalancer Service is a NodePort Service too)" if node_port else ""
    return Outcome.passed(f"Service {service} got {ip} from MetalLB's pool {pool}{also}", observed=ip)


@register(needs=("host",))
def external_ip_answers(ctx: CheckContext, service: str) -> Outcome:
    svc, ip = _load_balancer(ctx, service)
    port = _first_port(svc).get("port", 80)
    url = f"http://{ip}/" if port == 80 else f"http://{ip}:{port}/"
    status, body, why = _ask_from_host(ctx, url)
    pod = _served_by(status, body)
    if pod:
        return Outcome.passed(f"GET {url} from this machine was served by {pod}", observed=body[:200])
    seen = f"HTTP {status}: {body[:120]}" if status else why or "no answer"
    problem = _target_problem(ctx, svc)
    if problem:
        return Outcome.failed(problem[0], expected=f"GET {url} answered by a webserver Pod", observed=seen,
                              cause=problem[1], final=True)
    _pools_found, metallb = _metallb_problem(ctx)
    return Outcome.failed(f"GET {url} from this machine got no answer from a webserver Pod",
                          expected="'Served by <pod>'", observed=seen,
                          cause=f"{metallb}: nothing announces the address" if metallb else
                          "MetalLB's speaker announces the address over ARP a moment after assigning it, "
                          "and kube-proxy needs a moment for its rules: check again" + UNREACHABLE_NETWORK)


# --- step 3: the client's own address, externalTrafficPolicy: Local ----------------------------------
#: Prints six random bytes on this machine: the mark of one attempt's request (see _request_mark).
MARK_COMMAND = ["od", "-An", "-N6", "-tx1", "/dev/urandom"]
PATCH_LOCAL = "kubectl patch service {} -p '{{\"spec\":{{\"externalTrafficPolicy\":\"Local\"}}}}'"


def _request_mark(ctx: CheckContext) -> str:
    """A mark for the request's path, new for every attempt, so that a line in nginx's log is this
    attempt's request and no earlier one's. It is read on this machine rather than drawn here: a
    recorded run then replays the very request it sent."""
    result = ctx.exec_on_host(MARK_COMMAND, timeout=5)
    mark = "".join(result.stdout.split())
    if result.returncode != 0 or not re.fullmatch(r"[0-9a-f]{12}", mark):
        raise ClusterUnavailable(f"cannot read random bytes on this machine ({' '.join(MARK_COMMAND)}): "
                                 f"{(result.stderr or result.stdout).strip()[:120] or f'exit {result.returncode}'}")
    return mark


@register
def external_policy_local(ctx: CheckContext, service: str) -> Outcome:
    """The Service hands outside traffic only to Pods on the node it arrives at; a FAIL names the usual
    mix-up, internalTrafficPolicy (traffic from Pods to the ClusterIP)."""
    spec = objects.service(ctx, service, made_by=f"{service}.yaml").get("spec", {})
    external, internal = spec.get("externalTrafficPolicy") or "Cluster", spec.get("internalTrafficPolicy") or "Cluster"
    observed = f"externalTrafficPolicy: {external}, internalTrafficPolicy: {internal}"
    if external == "Local":
        return Outcome.passed(f"Service {service} has externalTrafficPolicy: Local", observed=observed)
    if spec.get("type") not in ("LoadBalancer", "NodePort"):
        return Outcome.failed(f"Service {service} is of type {spec.get('type')}: it takes no traffic from outside",
                              expected="type: LoadBalancer", observed=spec.get("type"), final=True,
                              cause=f"apply webserver-lb.yaml again (step 2), then `{PATCH_LOCAL.format(service)}`")
    cause = f"`{PATCH_LOCAL.format(service)}`"
    if internal == "Local":
        cause = ("internalTrafficPolicy is for traffic from Pods to the ClusterIP; traffic from outside (the load "
                 f"balancer's address, the node port) follows externalTrafficPolicy: {cause}")
    return Outcome.failed(f"Service {service} has externalTrafficPolicy: {external}", expected="externalTrafficPolicy: Local",
                          observed=observed, cause=cause, final=True)


def _rewritten_by(ctx: CheckContext, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str] | None:
    """(node, what the address is to it) when a node's source NAT shows in the address: the node's
    InternalIP, or an address of its Pod CIDR (the node's own on its Pod bridge, when the Pod runs there)."""
    for name, node in sorted(objects.nodes(ctx).items()):
        if objects.internal_ip(node) == str(address):
            return name, f"node {name}'s InternalIP"
        for cidr in objects.pod_cidrs(node):
            if address.version == cidr.version and address in cidr:
                own = " (the node's own address on its Pod bridge)" if address == cidr.network_address + 1 else ""
                return name, f"in node {name}'s Pod CIDR {cidr}{own}"
    return None


@register(needs=("host",))
def client_address_kept(ctx: CheckContext, service: str) -> Outcome:
    """A GET from this machine to the load balancer's address, marked in its path, is logged by nginx
    with a client address no node rewrote: neither a node's InternalIP nor in a node's Pod CIDR."""
    svc, ip = _load_balancer(ctx, service)
    port = _first_port(svc).get("port", 80)
    path = f"/labcheck-{_request_mark(ctx)}"
    url = f"http://{ip}{path}" if port == 80 else f"http://{ip}:{port}{path}"
    status, body, why = _ask_from_host(ctx, url)
    pod = _served_by(status, body)
    local = svc["spec"].get("externalTrafficPolicy") == "Local"
    if not pod:
        problem = _target_problem(ctx, svc)
        seen = f"HTTP {status}: {body[:120]}" if status else why or "no answer"
        if problem:
            return Outcome.failed(problem[0], expected=f"GET {url} answered by a webserver Pod", observed=seen,
                                  cause=problem[1], final=True)
        return Outcome.failed(f"GET {url} from this machine got no answer from a webserver Pod",
                              expected="'Served by <pod>'", observed=seen,
                              cause="with externalTrafficPolicy: Local only a node that runs a ready webserver Pod "
                                    "may announce the address, and MetalLB moves it there a moment after the change: "
                                    "check again" + UNREACHABLE_NETWORK)
    lines = [line for line in ctx.logs(pod, tail_lines=200, what=f"the line for GET {path}").splitlines()
             if f" {path} " in line]
    if not lines:  # nginx writes the line once the answer is out: the next attempt sends another request
        return Outcome.failed(f"{pod} answered GET {path}, but its log shows no line for it yet",
                              expected=f"a line for GET {path} in {pod}'s log", observed="no such line",
                              cause="nginx logs each request to its standard output (the nginx image's access log) "
                                    "as it finishes: check again. If it stays so, nginx's access log is turned off")
    first = lines[-1].split(maxsplit=1)[0] if lines[-1].strip() else ""
    try:
        client = ipaddress.ip_address(first)
    except ValueError:  # a log format that does not start with the client: the grader cannot tell who asked
        return Outcome.error(f"cannot read the client address in {pod}'s log line for GET {path}: {lines[-1][:160]}")
    rewritten = _rewritten_by(ctx, client)
    if rewritten is None:
        return Outcome.passed(f"nginx ({pod}) logged {client} as the client of GET {url}: neither a node's "
                              "InternalIP nor in a node's Pod CIDR, so no node rewrote the source",
                              observed=lines[-1][:200])
    node, what = rewritten
    expected = "the address of this machine (or of the container labcheck asks from) on kind's Docker network"
    if not local:
        return Outcome.failed(
            f"nginx ({pod}) logged {client} as the client of GET {path}, {what}: node {node} rewrote the source",
            expected=expected, observed=lines[-1][:200], final=True,
            cause=f"Service {service} has externalTrafficPolicy: {svc['spec'].get('externalTrafficPolicy') or 'Cluster'}"
                  ", so the node that takes the request may send it on to a Pod on another node, and rewrites its "
                  "source to its own address (source NAT) for the answer to come back through it. Set "
                  f"externalTrafficPolicy: Local: `{PATCH_LOCAL.format(service)}`")
    return Outcome.failed(
        f"nginx ({pod}) logged {client} as the client of GET {path}, {what}: node {node} still rewrote the source",
        expected=expected, observed=lines[-1][:200],
        cause=f"Service {service} has externalTrafficPolicy: Local, but kube-proxy on {node} had not applied it yet: "
              "check again")


@register(needs=("host",))
def only_nodes_with_a_pod_answer(ctx: CheckContext, service: str) -> Outcome:
    """On the Service's node port, every node that runs a ready Pod of it answers and every other
    node does not: with externalTrafficPolicy: Local a node hands outside traffic only to its own Pods."""
    svc, node_port = objects.node_port(ctx, service, made_by=f"{service}.yaml")
    found, _ports = objects.endpoints(ctx, service)
    hosts = {e.node for e in found if e.ready and e.node}
    if not hosts:
        raise TargetUnavailable(f"Service {service} has no ready endpoint on any node",
                                cause="the webserver Pods must be ready: `kubectl get pods -l name=webserver -o wide`")
    everywhere = sorted(objects.nodes(ctx))
    if set(everywhere) <= hosts:  # nothing here could show a node dropping the traffic: no PASS without looking
        return Outcome.failed(
            f"every node ({', '.join(everywhere)}) runs a ready webserver Pod, so none can show that a node without "
            "one stays silent", final=True,
            expected="a node without a webserver Pod (in this lab the control-plane node, which kind keeps ordinary "
                     "Pods off)", observed=", ".join(sorted({f"{e.pod} on {e.node}" for e in found if e.ready})),
            cause="the lab's Deployment webserver runs two Pods, on the workers: apply webserver.yaml from step 1 as "
                  "it is (no toleration, no nodeName)")
    nodes, seen = _ask_every_node(ctx, node_port)
    shown = {n: f"{n} ({nodes[n]}): " + (f"answered, {pod}" if pod else what) for n, (pod, what) in seen.items()}
    observed = "; ".join(shown.values())
    should_answer = sorted(n for n in nodes if n in hosts)
    should_not = sorted(n for n in nodes if n not in hosts)
    expected = (f"{', '.join(should_answer)} (with a ready webserver Pod) answer; "
                f"{', '.join(should_not)} (without one) do(es) not")
    intruders = [n for n in should_not if seen[n][0]]
    missing = [n for n in should_answer if not seen[n][0]]
    if not intruders and not missing:
        return Outcome.passed(f"on node port {node_port}, {', '.join(should_answer)} (running a ready webserver Pod) "
                              f"answered and {', '.join(should_not)} (running none) did not", observed=observed)
    if intruders:
        policy = svc["spec"].get("externalTrafficPolicy") or "Cluster"
        runs = "it runs no webserver Pod" if len(intruders) == 1 else "they run no webserver Pod"
        summary = f"{', '.join(intruders)} answered on node port {node_port} though {runs}: externalTrafficPolicy is {policy}"
        if policy != "Local":
            return Outcome.failed(summary, expected=expected, observed=observed, final=True,
                                  cause="with Cluster every node hands node-port traffic on to a Pod on any node; with "
                                        f"Local only the nodes that run one take it: `{PATCH_LOCAL.format(service)}`")
        return Outcome.failed(summary, expected=expected, observed=observed,
                              cause=f"kube-proxy on {', '.join(intruders)} has not applied Local yet: check again")
    problem = _target_problem(ctx, svc)
    if problem:
        return Outcome.failed(problem[0], expected=expected, observed=observed, cause=problem[1], final=True)
    return Outcome.failed(f"{', '.join(missing)} run(s) a ready webserver Pod but did not answer on node port "
                          f"{node_port}", expected=expected, observed=observed,
                          cause="kube-proxy may still be writing the rules: check again"
                                + (UNREACHABLE_NETWORK if len(missing) == len(should_answer) else ""))


# --- step 4: ExternalName ------------------------------------------------------------------------
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _lookup(output: str) -> tuple[list[str], list[str]]:
    """(CNAME targets, addresses of the answer) from busybox's or bind's nslookup output."""
    canonical = [m.rstrip(".") for m in re.findall(r"canonical name = (\S+)", output)]
    answer = output.partition("\n\n")[2]  # the first block names the DNS server (Address: <ip>#53); answers follow
    addresses = re.findall(r"^Address(?: \d+)?:\s*([0-9A-Fa-f.:]+)\s*$", answer, re.MULTILINE)
    return canonical, addresses


@register
def dns_shows_cname(ctx: CheckContext, service: str, pod: str) -> Outcome:
    """The alias resolves to a CNAME for externalName (a name: never a URL or an IP), and that to an address."""
    name = (objects.service(ctx, service, made_by=f"{service}.yaml")["spec"].get("externalName") or "").strip()
    form = "a URL" if "/" in name else "an IP address" if _is_ip(name) else None
    if form:
        return Outcome.failed(f"externalName {name} is {form}", expected="a DNS name", observed=name, final=True,
                              cause="a CNAME can only point at a DNS name (no scheme, path, port or IP address); an IP "
                                    "address needs a Service without selector and an EndpointSlice of your own")
    target = name.rstrip(".")
    fqdn = f"{service}.{ctx.namespace}.svc.cluster.local"
    result = ctx.exec(pod, None, ["nslookup", fqdn], timeout=10)
    if result.returncode in (126, 127):
        return Outcome.failed(f"Pod {pod} has no nslookup", observed=(result.stderr or result.stdout)[:200],
                              cause="use the busybox:1.36 image, as client.yaml does", final=True)
    canonical, addresses = _lookup(result.stdout)
    observed = " ".join(result.stdout.split())[:300]
    if target.lower() not in (c.lower() for c in canonical):
        return Outcome.failed(f"{fqdn} has no CNAME for {target} yet", expected=f"canonical name = {target}",
                              observed=observed, cause="CoreDNS picks up a new Service within seconds: check again")
    if addresses:
        return Outcome.passed(f"{fqdn} is a CNAME for {target}, which resolves to {', '.join(addresses)}",
                              observed=observed)
    return Outcome.failed(f"{fqdn} is a CNAME for {target}, but {target} does not resolve",
                          expected=f"an address for {target}", observed=observed, final=True,
                          cause=f"the cluster's DNS looks up {target!r} exactly as written: search domains "
                                "complete the names a client asks for, never a CNAME's target. Give the full "
                                "name (for a Service: <name>.<namespace>.svc.cluster.local)")


# --- step 5: a node port published on localhost --------------------------------------------------
def _holder(ctx: CheckContext, port: int) -> dict | None:
    """The Service anywhere in the cluster that holds a node port, if this grader may look."""
    try:
        services = ctx.list("Service", namespace=None)
    except ClusterUnavailable:  # a grader allowed one namespace only: the advice stays general
        return None
    return next((s for s in services if port in [p.get("nodePort") for p in s["spec"].get("ports") or []]), None)


@register
def node_port_published(ctx: CheckContext, service: str, published: int) -> Outcome:
    svc = objects.service(ctx, service, made_by=f"{service}.yaml")
    node_port = _first_port(svc).get("nodePort")
    if node_port == published:
        return Outcome.passed(f"Service {service} uses node port {published}, which kind maps to "
                              f"127.0.0.1:{published}", observed=f"nodePort {node_port}")
    maps = f"maps only {published} to your machine's localhost (extraPortMappings in clusters/multi-node.yaml)"
    cause = (f"kind does not publish node port {node_port} of this cluster: it {maps}. Set `nodePort: {published}`"
             if isinstance(node_port, int) and node_port < CHOSEN_BAND_END else
             f"the Service names no node port, so Kubernetes picked {node_port}; kind {maps}. "
             f"Set `nodePort: {published}` on its port")
    holder = _holder(ctx, published)
    if holder is not None:  # the API refuses a node port another Service holds: say which, and a way that is free
        name, namespace = objects.name_of(holder), holder["metadata"].get("namespace")
        theirs = {objects.name_of(p) for p in objects.selected_pods(ctx, holder)} if namespace == ctx.namespace else ()
        if theirs and theirs <= {objects.name_of(p) for p in objects.selected_pods(ctx, svc)}:
            return Outcome.passed(f"Service {name} holds node port {published} for the same Pods as {service}, and "
                                  f"kind maps it to 127.0.0.1:{published}", observed=f"{name}: nodePort {published}")
        cause += (f"; but Service {name} in namespace {namespace} holds node port {published}, and a node port "
                  "belongs to one Service in the whole cluster (the API refuses yours: \"provided port is already "
                  f"allocated\"). Free it if it is yours (`kubectl -n {namespace} delete service {name}`); if not, "
                  f"`kubectl port-forward service/{service} 8080:80` reaches the Service on localhost:8080 without it")
    return Outcome.failed(f"Service {service} uses node port {node_port}", expected=f"nodePort: {published}",
                          observed=f"nodePort {node_port}", final=True, cause=cause)
