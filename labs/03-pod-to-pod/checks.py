"""Python checks of lab 03: Pod IPs, nodes' Pod CIDRs and routes, and what nginx saw.

Each function is named by a `python: {function: ...}` check in lab.yaml. Node
names and the namespace are never written here: nodes are found from the
Pods' spec.nodeName and the Node objects, the namespace is the context's.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from labcheck.lab import CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, pod_cause, register


SERVER = "webserver"
#: nginx's log lines kept to find a client's request. The readiness probe adds
#: one line every 5 s, so this reaches back several hours.
LOG_LINES = 5000
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
# "10.244.1.1 - - [22/Nov/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "Wget" "-""
_ACCESS = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "[^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"')
_NO_DNS_FOR_PODS = (
    "a bare Pod gets no DNS name, so its name does not resolve inside the cluster (Services get names, "
    "lab 04); give wget webserver's IP: `kubectl get pod webserver -o jsonpath='{.status.podIP}'`"
)


# --- reading the cluster ------------------------------------------------------


def _pod(ctx: CheckContext, name: str) -> dict:
    pod = ctx.get("Pod", name)
    if pod is None:
        raise TargetUnavailable(f"Pod {name} does not exist in namespace {ctx.namespace}")
    return pod


def _node_of(ctx: CheckContext, pod: dict) -> str:
    node = pod.get("spec", {}).get("nodeName")
    if not node:
        raise TargetUnavailable(f"Pod {pod['metadata']['name']} is not scheduled to a node yet")
    return node


def _nodes(ctx: CheckContext) -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in ctx.list("Node")}


def _internal_ip(node: dict) -> str | None:
    for address in node.get("status", {}).get("addresses", []) or []:
        if address.get("type") == "InternalIP" and ":" not in address.get("address", ""):
            return address["address"]
    return None


def _pod_cidrs(node: dict) -> list[ipaddress.IPv4Network]:
    spec = node.get("spec", {})
    cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return [n for n in networks if n.version == 4]


def _within(ip: str | None, networks: list[ipaddress.IPv4Network]) -> bool:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in n for n in networks)


def _node_addresses(ctx: CheckContext, node: str) -> set[str]:
    """Every IPv4 address configured on the node, whatever the device (eth0, a bridge, veths, a tunnel)."""
    shown = ctx.exec_on_node(node, ["ip", "-4", "-o", "addr", "show"])
    if shown.returncode != 0:
        # The grader's own tool failed: it cannot judge (ERROR), the learner did nothing wrong.
        raise ClusterUnavailable(f"`ip -4 -o addr show` failed on node {node}: {shown.stderr.strip()[:200]}")
    return set(re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", shown.stdout))


def _answer(ctx: CheckContext, name: str) -> dict[str, str]:
    data = (ctx.get("ConfigMap", name) or {}).get("data") or {}
    return {k: str(v).strip() for k, v in data.items()}


@dataclass
class Request:
    client: str
    status: str
    agent: str


def _nginx_requests(ctx: CheckContext) -> list[Request]:
    """nginx's access log of webserver, parsed; the first field is the client's address."""
    text = ctx.logs(SERVER, None, tail_lines=LOG_LINES, what="nginx access log")
    requests = []
    for line in text.splitlines():
        match = _ACCESS.match(line.strip())
        if match:
            requests.append(Request(*match.groups()))
    return requests


def _tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else f"... ({len(text)} characters in all)\n" + text[-limit:]


def _is_probe(request: Request) -> bool:
    return request.agent.startswith("kube-probe/")


def _command_words(pod: dict) -> str:
    words: list[str] = []
    for container in pod.get("spec", {}).get("containers", []):
        words += (container.get("command") or []) + (container.get("args") or [])
    return " ".join(words)


# --- step 1: webserver -----------------------------------------------------------


@register
def webserver_has_own_ip(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, SERVER)
    status = pod.get("status", {})
    pod_ip, host_ip = status.get("podIP"), status.get("hostIP")
    node_name = _node_of(ctx, pod)
    if pod.get("spec", {}).get("hostNetwork"):
        return Outcome.failed(
            f"webserver runs with hostNetwork: its IP {pod_ip} is node {node_name}'s own address",
            expected="an IP of the Pod's own, from the node's Pod CIDR",
            observed=f"hostNetwork: true, podIP {pod_ip} = hostIP {host_ip}",
            cause="remove `hostNetwork: true`; every Pod gets its own network namespace and IP, which is "
                  "what lets Pods talk to each other without sharing ports. Delete webserver and apply it again",
        )
    if not pod_ip:
        return Outcome.failed("webserver has no IP yet", cause="wait until it runs (`kubectl get pod webserver -o wide`)")
    node = _nodes(ctx).get(node_name, {})
    cidrs = _pod_cidrs(node)
    if _within(pod_ip, cidrs):
        return Outcome.passed(f"webserver has IP {pod_ip}, from node {node_name}'s Pod CIDR "
                              f"{', '.join(map(str, cidrs))}")
    return Outcome.failed(
        f"webserver's IP {pod_ip} is outside node {node_name}'s Pod CIDR",
        expected=f"an address in {', '.join(map(str, cidrs)) or '(the node has no spec.podCIDR)'}",
        observed=f"podIP {pod_ip}, hostIP {host_ip}",
        cause="the network plugin did not give the Pod an address from its node's range: is the cluster healthy "
              "(`labcheck doctor`)?",
    )


# --- steps 2 and 3: clients ----------------------------------------------------------


@register
def client_exists(ctx: CheckContext, pod: str) -> Outcome:
    found = ctx.get("Pod", pod)
    if found is not None:
        return Outcome.passed(f"Pod {pod} exists (phase {found.get('status', {}).get('phase')})")
    others = sorted(p["metadata"]["name"] for p in ctx.list("Pod"))
    return Outcome.failed(
        f"Pod {pod} does not exist in namespace {ctx.namespace}",
        expected=f"Pod {pod}, finished or running",
        observed=f"Pods: {', '.join(others) or 'none'}",
        cause=f"create {pod} as the lab page shows, without `--rm -it`: `--rm` deletes the Pod as soon as wget "
              f"ends, and its output with it, leaving nothing to check (`kubectl logs {pod}` reads it afterwards)",
    )


@register
def client_asked_pod_ip(ctx: CheckContext, pod: str) -> Outcome:
    client = _pod(ctx, pod)
    server = _pod(ctx, SERVER)
    server_ip = server.get("status", {}).get("podIP")
    words = _command_words(client)
    asked = _IPV4.findall(words)
    if server_ip and server_ip in asked:
        return Outcome.passed(f"{pod} asks {server_ip}, webserver's Pod IP")
    observed = f"{pod} runs: {words or '(the image default, no command)'}"
    if re.search(r"(^|[\s/@])webserver([.:/\s]|$)", words):
        return Outcome.failed(
            f"{pod} asks for webserver by its name, not its IP",
            expected=f"wget with webserver's IP {server_ip}",
            observed=observed,
            cause=_NO_DNS_FOR_PODS,
        )
    if asked:
        host_ip = server.get("status", {}).get("hostIP")
        if host_ip in asked:
            cause = (f"{host_ip} is the IP of the node webserver runs on (status.hostIP); nginx listens in the "
                     f"Pod's own network namespace, at its Pod IP {server_ip}")
        else:
            cause = (f"webserver's IP is now {server_ip}; a Pod gets a new IP whenever it is created again, so "
                     f"delete {pod} and run it again with the current IP")
        return Outcome.failed(
            f"{pod} asks {', '.join(asked)}, which is not webserver's Pod IP",
            expected=f"wget with webserver's IP {server_ip}", observed=observed, cause=cause,
        )
    return Outcome.failed(
        f"{pod}'s command names no IP address",
        expected=f"wget with webserver's IP {server_ip}", observed=observed,
        cause=f"give wget webserver's Pod IP: `wget -qO- http://{server_ip}`",
    )


def _wget_cause(text: str, target: str) -> str:
    lowered = text.lower()
    if "bad address" in lowered:
        return "the name does not resolve: " + _NO_DNS_FOR_PODS
    if "refused" in lowered:
        return f"nothing listens at {target}: nginx serves on port 80 of webserver's IP"
    if "timed out" in lowered or "no route" in lowered or "unreachable" in lowered:
        return f"no answer from {target}: is that webserver's current IP?"
    if "404" in lowered or "server returned error" in lowered:
        return "nginx answered with an error: ask for / (just http://<IP>)"
    return f"see `kubectl logs {target}` for what wget printed"


@register
def client_fetched_page(ctx: CheckContext, pod: str) -> Outcome:
    client = _pod(ctx, pod)
    status = client.get("status", {})
    phase = status.get("phase")
    if phase in ("Pending", None):
        return Outcome.failed(f"{pod} has not run yet (phase {phase})",
                              cause=pod_cause(client, ctx).text or f"wait a few seconds (`kubectl get pod {pod}`)")
    text = ctx.logs(pod, None)
    if phase == "Running":
        return Outcome.failed(
            f"{pod} is still running: wget has had no answer yet",
            observed=text.strip()[-300:] or "(no output yet)",
            cause="an address nothing answers at makes wget wait; check the IP it asks",
        )
    if phase == "Succeeded":
        if "Welcome to nginx" in text or re.search(r"saved|saving to", text):
            shown = "nginx's welcome page" if "Welcome to nginx" in text else "wget saving the page"
            return Outcome.passed(f"{pod} finished and its output shows {shown}")
        return Outcome.failed(
            f"{pod} finished, but its output shows no page from nginx",
            expected="'Welcome to nginx' in `kubectl logs " + pod + "`",
            observed=text.strip()[-300:] or "(empty log)",
            cause="the Pod ran something other than wget against webserver; run wget -qO- http://<webserver's IP>",
        )
    return Outcome.failed(
        f"{pod} ended in phase {phase}: wget did not get the page",
        expected="phase Succeeded and nginx's page in its output",
        observed=text.strip()[-300:] or "(empty log)",
        cause=_wget_cause(text, pod),
    )


@register
def pods_on_different_nodes(ctx: CheckContext, pod: str, server: str) -> Outcome:
    client_node = _node_of(ctx, _pod(ctx, pod))
    server_node = _node_of(ctx, _pod(ctx, server))
    if client_node != server_node:
        return Outcome.passed(f"{pod} runs on {client_node}, {server} on {server_node}")
    return Outcome.failed(
        f"{pod} and {server} run on the same node, {server_node}",
        expected=f"{pod} on a node other than {server_node}",
        observed=f"both on {server_node}",
        cause=f"this step is about crossing from one node to another: delete {pod} and create it again, kept off "
              f"{server}'s node with podAntiAffinity on name=webserver (topologyKey kubernetes.io/hostname), "
              f"or with nodeName / a nodeSelector naming another node",
    )


# --- step 4: Pod CIDRs and routes -------------------------------------------------------


@register
def pod_ips_in_node_cidrs(ctx: CheckContext) -> Outcome:
    nodes = _nodes(ctx)
    cidrs = {name: _pod_cidrs(node) for name, node in nodes.items()}
    lacking = sorted(name for name, nets in cidrs.items() if not nets)
    if lacking:
        return Outcome.failed(f"node(s) {', '.join(lacking)} have no spec.podCIDR",
                              cause="the controller manager allocates Pod CIDRs (--allocate-node-cidrs); "
                                    "the cluster is not set up as the lab expects")
    flat = [(name, net) for name, nets in cidrs.items() for net in nets]
    for i, (first, a) in enumerate(flat):
        for second, b in flat[i + 1:]:
            if a.overlaps(b):
                return Outcome.failed(f"Pod CIDRs of {first} ({a}) and {second} ({b}) overlap",
                                      cause="two nodes would hand out the same Pod IPs")
    table = "; ".join(f"{name} {', '.join(map(str, nets))}" for name, nets in sorted(cidrs.items()))
    strays = []
    placed = []
    for pod in ctx.list("Pod"):
        name = pod["metadata"]["name"]
        ip, node = pod.get("status", {}).get("podIP"), pod.get("spec", {}).get("nodeName")
        if not ip or not node or pod.get("spec", {}).get("hostNetwork"):
            continue
        if _within(ip, cidrs.get(node, [])):
            placed.append(f"{name} {ip} on {node}")
        else:
            strays.append(f"{name} {ip} on {node}")
    if strays:
        return Outcome.failed(
            f"Pod IPs outside their node's Pod CIDR: {', '.join(strays)}",
            expected="each Pod's IP inside its node's spec.podCIDR", observed=table,
            cause="the network plugin does not allocate from the node's Pod CIDR",
        )
    return Outcome.passed(f"Pod CIDRs: {table}", observed="; ".join(placed) or None)


_ROUTE = re.compile(r"^(\S+)\s+(?:via\s+(\S+)\s+)?dev\s+(\S+)")


def _route_get(ctx: CheckContext, node: str, address: str) -> tuple[str | None, str | None, str]:
    """(next hop, device, raw output) of the route the node's kernel picks for an address."""
    found = ctx.exec_on_node(node, ["ip", "-4", "-o", "route", "get", address])
    if found.returncode != 0:
        return None, None, (found.stderr or found.stdout).strip()
    match = _ROUTE.match(found.stdout.strip())
    if not match:
        return None, None, found.stdout.strip()
    shown = re.sub(r"\s+uid \d+", "", found.stdout.strip().split("\\")[0]).strip()
    return match.group(2), match.group(3), shown


@register(needs=('node',))
def nodes_route_pod_cidrs(ctx: CheckContext) -> Outcome:
    nodes = _nodes(ctx)
    names = sorted(nodes)
    addresses = {name: _node_addresses(ctx, name) for name in names}
    good, bad = [], []
    for here in names:
        for there in names:
            if there == here:
                continue
            for cidr in _pod_cidrs(nodes[there]):
                sample = str(cidr.network_address + 1)
                via, dev, raw = _route_get(ctx, here, sample)
                if via and via in addresses[there]:
                    good.append(f"{here}: {cidr} via {via} ({there})")
                else:
                    bad.append(f"{here}: {cidr} of {there} -> {raw or 'no route'}")
    if not good and not bad:
        return Outcome.failed("the cluster has a single node: nothing to route between nodes",
                              cause="this lab needs the multi-node cluster (labcheck start 03)")
    if bad:
        return Outcome.failed(
            "some node does not send another node's Pod CIDR to that node",
            expected="on every node, a route for each other node's Pod CIDR via an address of that node",
            observed="; ".join(bad),
            cause="the network plugin installs these routes; it may still be starting (check its Pods in "
                  "kube-system), or the cluster is not the lab's",
        )
    return Outcome.passed(f"{len(good)} routes lead to the right nodes", observed="; ".join(good))


@register(needs=('node',))
def route_answer_matches(ctx: CheckContext, client: str, server: str) -> Outcome:
    answer = _answer(ctx, "answer-route")
    destination, via = answer.get("destination", ""), answer.get("via", "")
    client_pod, server_pod = _pod(ctx, client), _pod(ctx, server)
    client_node, server_node = _node_of(ctx, client_pod), _node_of(ctx, server_pod)
    nodes = _nodes(ctx)
    client_ip = client_pod.get("status", {}).get("podIP")
    if not client_ip:
        return Outcome.failed(f"{client} has no Pod IP to route to", cause=f"create {client} again (step 3)")
    hop, _dev, raw = _route_get(ctx, server_node, client_ip)
    if hop is None:
        return Outcome.error(f"node {server_node} has no route with a next hop to {client_ip}: {raw}")
    want_cidrs = _pod_cidrs(nodes.get(client_node, {}))
    try:
        recorded = ipaddress.ip_network(destination, strict=True)
    except ValueError:
        recorded = None
    expected = f"destination={', '.join(map(str, want_cidrs))}, via={hop}"
    observed = f"destination={destination!r}, via={via!r}"
    if recorded in want_cidrs and via == hop:
        return Outcome.passed(f"{server_node} sends {recorded} ({client_node}'s Pods, {client} among them) via {hop}",
                              observed=raw)
    server_cidrs = _pod_cidrs(nodes.get(server_node, {}))
    server_addresses = {_internal_ip(nodes.get(server_node, {})), server_pod.get("status", {}).get("hostIP")}
    if recorded in server_cidrs or via in server_addresses:
        return Outcome.failed(
            f"the recorded route is for the wrong node: {server_node}, where {server} itself runs",
            expected=expected, observed=observed,
            cause=f"{client}'s IP {client_ip} lies in {client_node}'s Pod CIDR; {server_node} reaches it by "
                  f"sending packets to {client_node} ({raw}). Record that CIDR and that next hop",
        )
    if recorded in want_cidrs and (not via or _within(via, want_cidrs)):
        # On the client's own node its Pod CIDR is local: `ip route get` shows `dev kube-bridge src <bridge
        # address>` and no `via`. That is the route on the other end of the path.
        return Outcome.failed(
            f"the recorded route was read on the wrong node: {client_node}, where {client} itself runs",
            expected=expected, observed=observed,
            cause=f"on {client_node} {client}'s IP is local (its Pod CIDR sits on the node's bridge, with no next "
                  f"hop{f'; {via} is the bridge address there' if via else ''}); the route that crosses to another "
                  f"node is on webserver's node {server_node}: `ip route get {client_ip}` there shows `via {hop}`",
        )
    if recorded is None:
        cause = f"destination must be a CIDR such as {want_cidrs[0] if want_cidrs else '10.244.1.0/24'}"
    elif not _within(client_ip, [recorded]):
        cause = f"{recorded} does not contain {client}'s IP {client_ip}"
    elif recorded not in want_cidrs:
        cause = f"record the whole Pod CIDR of {client_node} (spec.podCIDR), not a part of it"
    else:
        cause = f"`ip route get {client_ip}` on {server_node} names the next hop after `via`: {hop}"
    return Outcome.failed("the recorded route is not the one webserver's node uses to reach " + client,
                          expected=expected, observed=observed, cause=cause)


# --- step 5: no NAT ------------------------------------------------------------------------


def _node_ips(nodes: dict[str, dict]) -> dict[str, str]:
    return {ip: name for name, node in nodes.items() if (ip := _internal_ip(node))}


@register
def server_saw_client_pod_ip(ctx: CheckContext, client: str) -> Outcome:
    client_pod = _pod(ctx, client)
    client_ip = client_pod.get("status", {}).get("podIP")
    requests = [r for r in _nginx_requests(ctx) if not _is_probe(r)]
    if client_ip and any(r.client == client_ip for r in requests):
        return Outcome.passed(f"nginx logged {client}'s request from {client_ip}, {client}'s own Pod IP: "
                              "no address translation on the way")
    seen = sorted({r.client for r in requests})
    node_ips = _node_ips(_nodes(ctx))
    translated = [f"{ip} ({node_ips[ip]})" for ip in seen if ip in node_ips]
    if translated:
        cause = (f"requests arrived from node addresses ({', '.join(translated)}): something masquerades Pod "
                 "traffic between nodes, which breaks the Kubernetes network model; the network plugin must "
                 "leave Pod-to-Pod traffic untranslated")
    else:
        cause = f"nginx has no request from {client}: run {client} again (step 3), then check"
    return Outcome.failed(
        f"nginx's log shows no request from {client}'s IP {client_ip}",
        expected=f"a request from {client_ip}", observed=f"clients nginx logged: {', '.join(seen) or 'none'}",
        cause=cause,
    )


def _local_addresses(fib_trie: str) -> set[str]:
    """Addresses the kernel lists as LOCAL in /proc/net/fib_trie: the interfaces' own addresses."""
    found, last = set(), None
    for line in fib_trie.splitlines():
        match = re.search(r"\|--\s+(\d+\.\d+\.\d+\.\d+)", line)
        if match:
            last = match.group(1)
        elif "/32 host LOCAL" in line and last:
            found.add(last)
    return found


@register
def server_sees_own_ip(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, SERVER)
    pod_ip = pod.get("status", {}).get("podIP")
    # /proc/net/fib_trie is there in every image; tools like ip or hostname are not.
    shown = ctx.exec(SERVER, None, ["cat", "/proc/net/fib_trie"])
    if shown.returncode != 0:
        return Outcome.error(f"cannot read webserver's addresses: {shown.stderr.strip()[:200]}")
    own = _local_addresses(shown.stdout) - {"127.0.0.1"}
    if pod_ip in own:
        return Outcome.passed(f"inside webserver the interface holds {pod_ip}, the IP others dial")
    return Outcome.failed(
        f"inside webserver the addresses are {', '.join(sorted(own)) or 'none'}, not {pod_ip}",
        expected=f"{pod_ip} on webserver's own interface", observed=", ".join(sorted(own)),
        cause="a Pod sees itself at the IP the cluster gives it; this cluster's network breaks that rule",
    )


@register
def no_nat_answers(ctx: CheckContext, client: str) -> Outcome:
    answer = _answer(ctx, "answer-no-nat")
    said_client, said_server = answer.get("client", ""), answer.get("server", "")
    server_pod = _pod(ctx, SERVER)
    server_ip = server_pod.get("status", {}).get("podIP")
    pods = {p["metadata"]["name"]: p for p in ctx.list("Pod")}
    pod_ips = {p.get("status", {}).get("podIP"): name for name, p in pods.items() if p.get("status", {}).get("podIP")}
    logged = {r.client for r in _nginx_requests(ctx) if not _is_probe(r)}
    client_ip = pods.get(client, {}).get("status", {}).get("podIP")
    node_ips = _node_ips(_nodes(ctx))
    problems, causes = [], []
    if not (said_client in logged and said_client in pod_ips and said_client != server_ip):
        problems.append(f"client={said_client!r}")
        if said_client in node_ips:
            causes.append(f"{said_client} is the IP of node {node_ips[said_client]}, not of a Pod: traffic between "
                          f"Pods is not NATed, so nginx logged {client}'s own Pod IP {client_ip}")
        elif said_client == server_ip:
            causes.append(f"{said_client} is webserver's own IP; the client address is the first field of the "
                          "Wget line in `kubectl logs webserver`")
        else:
            causes.append(f"record the address nginx logged for {client}'s request (it is {client_ip})")
    if said_server != server_ip:
        problems.append(f"server={said_server!r}")
        if said_server in node_ips:
            causes.append(f"{said_server} is the IP of node {node_ips[said_server]}; inside webserver, "
                          f"`hostname -I` prints the Pod's own IP {server_ip}")
        else:
            causes.append(f"webserver sees itself at {server_ip} (`kubectl exec webserver -- hostname -I`)")
    if not problems:
        return Outcome.passed(f"nginx saw {pod_ips[said_client]} at its own IP {said_client}, and webserver sees "
                              f"itself at {server_ip}, the IP its clients dialled")
    return Outcome.failed(
        "recorded " + ", ".join(problems) + ": not the Pods' own IPs",
        expected=f"client={client_ip} (as nginx logged it), server={server_ip}",
        observed=", ".join(f"{k}={v}" for k, v in answer.items()) or "(empty)",
        cause="; ".join(causes),
    )


# --- step 6: the kubelet and other nodes -------------------------------------------------------


@register(needs=('node',))
def kubelet_reached_pod(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, SERVER)
    node = _node_of(ctx, pod)
    sources = {r.client for r in _nginx_requests(ctx) if _is_probe(r)}
    if not sources:
        return Outcome.failed(
            "nginx logged no request from the kubelet (user agent kube-probe)",
            cause="webserver needs its HTTP readiness probe (step 1's webserver.yaml); delete and apply it again",
        )
    local = _node_addresses(ctx, node)
    strangers = sorted(sources - local)
    if not strangers:
        return Outcome.passed(f"the kubelet's probes came from {', '.join(sorted(sources))}, an address of node "
                              f"{node} itself: the kubelet reaches the Pod directly from its node")
    return Outcome.failed(
        f"kubelet probes came from {', '.join(strangers)}, which node {node} does not hold",
        expected=f"probe requests from an address of {node}", observed=f"{node} holds {', '.join(sorted(local))}",
        cause="something translates the kubelet's traffic on its way to the Pod",
    )


def _other_node_sources(ctx: CheckContext) -> tuple[str, dict[str, str], set[str], list[Request]]:
    """(webserver's node, address -> other node, webserver's node's addresses, nginx's requests)."""
    server_node = _node_of(ctx, _pod(ctx, SERVER))
    owner: dict[str, str] = {}
    own: set[str] = set()
    for name in sorted(_nodes(ctx)):
        addresses = _node_addresses(ctx, name)
        if name == server_node:
            own = addresses
        else:
            owner.update({a: name for a in addresses})
    return server_node, owner, own, _nginx_requests(ctx)


@register(needs=('node',))
def other_node_reached_pod(ctx: CheckContext) -> Outcome:
    server_node, owner, own, logged = _other_node_sources(ctx)
    requests = [r for r in logged if not _is_probe(r)]
    from_others = [r for r in requests if r.client in owner]
    if from_others:
        r = from_others[-1]
        return Outcome.passed(f"nginx logged a request ({r.agent}) from {r.client}, node {owner[r.client]}'s own "
                              f"address: the node reached the Pod with no translation")
    from_own = [r for r in requests if r.client in own]
    if from_own:
        return Outcome.failed(
            f"the requests from a node came from webserver's own node {server_node} ({from_own[-1].client})",
            expected="a request from a node other than " + server_node,
            observed=", ".join(sorted({r.client for r in requests})),
            cause=f"run curl on another node, e.g. remote-client's: "
                  f"`docker exec <node> curl -s http://<webserver's IP>`; not on {server_node}",
        )
    return Outcome.failed(
        "nginx logged no request from another node",
        expected="a request whose client address belongs to a node other than " + server_node,
        observed="clients nginx logged: " + (", ".join(sorted({r.client for r in requests})) or "none"),
        cause="run `docker exec <another node> curl -s http://<webserver's IP>`",
    )


@register(needs=('node',))
def node_agent_answers(ctx: CheckContext) -> Outcome:
    answer = _answer(ctx, "answer-node-agents")
    kubelet, other = answer.get("kubelet", ""), answer.get("other-node", "")
    server_node, owner, own, logged = _other_node_sources(ctx)
    probes = {r.client for r in logged if _is_probe(r)}
    others = {r.client for r in logged if not _is_probe(r) and r.client in owner}
    problems, causes = [], []
    if kubelet not in probes:
        problems.append(f"kubelet={kubelet!r}")
        causes.append(f"the kube-probe lines in nginx's log come from {', '.join(sorted(probes)) or '(none yet)'}")
    if other not in others:
        problems.append(f"other-node={other!r}")
        if other in own:
            causes.append(f"{other} is an address of {server_node}, webserver's own node")
        else:
            causes.append(f"nginx logged the other node's request from {', '.join(sorted(others)) or '(none yet)'}")
    if not problems:
        return Outcome.passed(f"the kubelet came from {kubelet} (node {server_node}), the other node from {other} "
                              f"({owner[other]})")
    return Outcome.failed("recorded " + ", ".join(problems) + ": not what nginx logged",
                          expected=f"kubelet in {sorted(probes)}, other-node in {sorted(others)}",
                          observed=", ".join(f"{k}={v}" for k, v in answer.items()) or "(empty)",
                          cause="; ".join(causes))
