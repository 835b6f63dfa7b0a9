"""Python checks of lab 03 (named by `python: {function: ...}` in lab.yaml): where Pods run, nodes'
Pod CIDRs and routes, and what nginx saw. Nodes are found from the Pods and the Node objects, never named.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from labcheck.lab import (CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, objects, pod_cause,
                          register)

SERVER = "webserver"
LOG_LINES = 5000  # of nginx's log: the readiness probe adds a line every 5 s, so this reaches back hours
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
# "10.244.1.1 - - [22/Nov/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "Wget" "-""
_ACCESS = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "[^"]*" \d{3} \S+ "[^"]*" "([^"]*)"')
_NO_DNS_FOR_PODS = (
    "a bare Pod gets no DNS name, so its name does not resolve inside the cluster (Services get names, "
    "lab 04); give wget webserver's IP: `kubectl get pod webserver -o jsonpath='{.status.podIP}'`"
)


@dataclass
class Request:
    client: str
    agent: str

    @property
    def is_probe(self) -> bool:
        return self.agent.startswith("kube-probe/")


def _nginx_requests(ctx: CheckContext) -> list[Request]:
    """nginx's access log of webserver, parsed; the first field is the client's address."""
    text = ctx.logs(SERVER, None, tail_lines=LOG_LINES, what="nginx access log")
    return [Request(*m.groups()) for line in text.splitlines() if (m := _ACCESS.match(line.strip()))]


def _within(ip: str | None, networks: list) -> bool:
    try:
        return any(ipaddress.ip_address(ip or "") in n for n in networks)
    except ValueError:
        return False


def _node_addresses(ctx: CheckContext, node: str) -> set[str]:
    """Every IPv4 address configured on the node, whatever the device (eth0, a bridge, veths, a tunnel)."""
    shown = ctx.exec_on_node(node, ["ip", "-4", "-o", "addr", "show"])
    if shown.returncode != 0:
        # The grader's own tool failed: it cannot judge (ERROR), the learner did nothing wrong.
        raise ClusterUnavailable(f"`ip -4 -o addr show` failed on node {node}: {shown.stderr.strip()[:200]}")
    return set(re.findall(r"\binet (\d+\.\d+\.\d+\.\d+)/", shown.stdout))


def _command_words(pod: dict) -> str:
    """The Pod's command and args, with the variables its containers set filled in."""
    words = []
    for container in pod.get("spec", {}).get("containers", []):
        env = {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "name" in e}
        for word in (container.get("command") or []) + (container.get("args") or []):
            words.append(re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m[1], m[0]), str(word)))
    return " ".join(words)


# --- steps 2 and 3: clients ----------------------------------------------------------


@register
def client_reached_webserver(ctx: CheckContext, pod: str) -> Outcome:
    """Judged by the effect: nginx logged a request from the client's own Pod IP, however the
    client was given the address and whatever it does afterwards. If not, its command and what it
    printed say why."""
    client = objects.pod(ctx, pod)
    server = objects.pod(ctx, SERVER, running=True)
    server_ip, host_ip = server["status"].get("podIP"), server["status"].get("hostIP")
    status = client.get("status", {})
    client_ips = ({e.get("ip") for e in status.get("podIPs") or []} | {status.get("podIP")}) - {None, ""}
    if not client_ips:
        why = pod_cause(client, ctx)
        raise TargetUnavailable(f"Pod {pod} has not started yet", cause=why.text or "wait", final=why.final)
    requests = [r for r in _nginx_requests(ctx) if not r.is_probe]
    theirs = [r for r in requests if r.client in client_ips]
    if theirs:
        return Outcome.passed(f"nginx logged {pod}'s request ({theirs[-1].agent}) from {theirs[-1].client}, "
                              f"{pod}'s own IP: it reached webserver at its Pod IP {server_ip}")
    words = _command_words(client)
    said = ctx.logs(pod, None, tail_lines=50)
    asked = _IPV4.findall(f"{words} {said}")
    finished = status.get("phase") in ("Succeeded", "Failed")  # a finished client asks nothing more
    observed = f"{pod} runs: {words or '(the image default)'}; it printed: {said.strip()[-200:] or '(nothing)'}"
    expected = f"a request from {pod}'s IP {', '.join(sorted(client_ips))} in nginx's log"
    if "bad address" in said.lower() or re.search(r"(^|[\s/@])webserver([.:/\s]|$)", words):
        return Outcome.failed(f"{pod} asks for webserver by its name, not its IP", expected=expected,
                              observed=observed, cause=_NO_DNS_FOR_PODS, final=finished)
    if host_ip in asked:
        cause = (f"{host_ip} is the IP of the node webserver runs on (status.hostIP); nginx listens in the "
                 f"Pod's own network namespace, at its Pod IP {server_ip}")
    elif any(ip != server_ip for ip in asked) and server_ip not in asked:
        cause = (f"webserver's IP is now {server_ip}; a Pod gets a new IP whenever it is created again, so "
                 f"delete {pod} and run it again with the current IP")
    elif server_ip in asked:
        cause = (f"{pod} asked webserver's IP {server_ip}, but nginx has no request from {pod}'s IP yet: "
                 f"if it logged a node's address instead ({', '.join(sorted({r.client for r in requests})) or 'none'}"
                 "), something translates Pod traffic, which the Kubernetes network model forbids")
    else:
        cause = f"give wget webserver's Pod IP: `wget -qO- http://{server_ip}`"
    return Outcome.failed(f"nginx has no request from {pod}" + (f"; it asks {', '.join(asked)}" if asked else ""),
                          expected=expected, observed=observed, cause=cause, final=finished)


def _placement(spec: dict, node: str) -> str:
    """What put a Pod on `node`, in the learner's words (spec.nodeName is set for every scheduled Pod,
    so it says nothing by itself)."""
    affinity = spec.get("affinity") or {}
    anti = affinity.get("podAntiAffinity") or {}
    if affinity.get("podAffinity"):
        return "its podAffinity rule places it next to webserver (podAntiAffinity keeps it away)"
    if spec.get("nodeSelector"):
        return f"its nodeSelector {spec['nodeSelector']} picks {node}"
    if anti and not anti.get("requiredDuringSchedulingIgnoredDuringExecution"):
        return "its podAntiAffinity is only preferred, so the scheduler may still choose webserver's node"
    if anti:
        return "its podAntiAffinity rule does not select webserver (check its labelSelector and topologyKey)"
    return f"nothing keeps it off {node}: the scheduler chose it, or spec.nodeName names it"


@register
def pods_on_different_nodes(ctx: CheckContext, pod: str, server: str) -> Outcome:
    client, web = objects.pod(ctx, pod), objects.pod(ctx, server)
    if not client.get("spec", {}).get("nodeName"):
        why = pod_cause(client, ctx)
        raise TargetUnavailable(f"Pod {pod} is not scheduled to a node yet", cause=why.text or "wait a few seconds")
    client_node, server_node = objects.node_of(client), objects.node_of(web)
    if client_node != server_node:
        return Outcome.passed(f"{pod} runs on {client_node}, {server} on {server_node}")
    return Outcome.failed(
        f"{pod} and {server} run on the same node, {server_node}",
        expected=f"{pod} on a node other than {server_node}", observed=f"both on {server_node}",
        cause=f"{_placement(client['spec'], server_node)}. This step is about crossing from one node to another: "
              f"delete {pod} and create it again, kept off {server}'s node with podAntiAffinity on name=webserver "
              f"(topologyKey kubernetes.io/hostname), or with nodeName / a nodeSelector naming another node",
        final=True)  # a Pod never moves: waiting cannot change where it runs


# --- step 4: Pod CIDRs and routes -------------------------------------------------------

_ROUTE = re.compile(r"^(\S+)\s+(?:via\s+(\S+)\s+)?dev\s+\S+")


def _route_get(ctx: CheckContext, node: str, address: str) -> tuple[str | None, str]:
    """(next hop, the route as shown) that the node's kernel picks for an address."""
    found = ctx.exec_on_node(node, ["ip", "-4", "-o", "route", "get", address])
    match = _ROUTE.match(found.stdout.strip()) if found.returncode == 0 else None
    if not match:
        return None, (found.stderr or found.stdout).strip()
    return match.group(2), re.sub(r"\s+uid \d+", "", found.stdout.strip().split("\\")[0]).strip()


@register(needs=("node",))
def nodes_route_pod_cidrs(ctx: CheckContext) -> Outcome:
    """Every node has a Pod CIDR of its own that its Pods' IPs come from, and sends every other
    node's Pod CIDR to that node (a next hop among that node's addresses)."""
    nodes = objects.nodes(ctx)
    cidrs = {name: objects.pod_cidrs(node) for name, node in nodes.items()}
    lacking = sorted(name for name, nets in cidrs.items() if not nets)
    if lacking:
        return Outcome.failed(f"node(s) {', '.join(lacking)} have no spec.podCIDR",
                              cause="the controller manager allocates Pod CIDRs (--allocate-node-cidrs); "
                                    "the cluster is not set up as the lab expects")
    table = "; ".join(f"{name} {', '.join(map(str, nets))}" for name, nets in sorted(cidrs.items()))
    strays = [f"{objects.name_of(p)} {p['status']['podIP']} on {p['spec']['nodeName']}" for p in ctx.list("Pod")
              if p.get("status", {}).get("podIP") and p.get("spec", {}).get("nodeName")
              and not p["spec"].get("hostNetwork") and not _within(p["status"]["podIP"], cidrs.get(p["spec"]["nodeName"], []))]
    if strays:
        return Outcome.failed(f"Pod IPs outside their node's Pod CIDR: {', '.join(strays)}",
                              expected="each Pod's IP inside its node's spec.podCIDR", observed=table,
                              cause="the network plugin does not allocate from the node's Pod CIDR")
    names = sorted(nodes)
    addresses = {name: _node_addresses(ctx, name) for name in names}
    good, bad = [], []
    for here in names:
        for there in (n for n in names if n != here):
            for cidr in cidrs[there]:
                via, raw = _route_get(ctx, here, str(cidr.network_address + 1))
                if via and via in addresses[there]:
                    good.append(f"{here}: {cidr} via {via} ({there})")
                else:
                    bad.append(f"{here}: {cidr} of {there} -> {raw or 'no route'}")
    if not good and not bad:
        return Outcome.failed("the cluster has a single node: nothing to route between nodes",
                              cause="this lab needs the multi-node cluster (labcheck start 03)", final=True)
    if bad:
        return Outcome.failed(
            "some node does not send another node's Pod CIDR to that node",
            expected="on every node, a route for each other node's Pod CIDR via an address of that node",
            observed="; ".join(bad),
            cause="the network plugin installs these routes; it may still be starting (check its Pods in "
                  "kube-system), or the cluster is not the lab's")
    return Outcome.passed(f"Pod CIDRs {table}; {len(good)} routes lead to the right nodes", observed="; ".join(good))


@register(needs=("node",))
def route_answer_matches(ctx: CheckContext, client: str, server: str) -> Outcome:
    destination, via = (objects.answer(ctx, "answer-route", key) for key in ("destination", "via"))
    client_pod, server_pod = objects.pod(ctx, client), objects.pod(ctx, server)
    client_node, server_node = objects.node_of(client_pod), objects.node_of(server_pod)
    nodes = objects.nodes(ctx)
    client_ip = client_pod.get("status", {}).get("podIP")
    if not client_ip:
        return Outcome.failed(f"{client} has no Pod IP to route to", cause=f"create {client} again (step 3)")
    hop, raw = _route_get(ctx, server_node, client_ip)
    if hop is None:
        return Outcome.error(f"node {server_node} has no route with a next hop to {client_ip}: {raw}")
    want_cidrs = objects.pod_cidrs(nodes.get(client_node, {}))
    try:
        recorded = ipaddress.ip_network(destination, strict=True)
    except ValueError:
        recorded = None
    expected = f"destination={', '.join(map(str, want_cidrs))}, via={hop}"
    observed = f"destination={destination!r}, via={via!r}"
    if recorded in want_cidrs and objects.same_value(via, hop):
        return Outcome.passed(f"{server_node} sends {recorded} ({client_node}'s Pods, {client} among them) via {hop}",
                              observed=raw)
    server_addresses = {objects.internal_ip(nodes.get(server_node, {})), server_pod.get("status", {}).get("hostIP")}
    if recorded in objects.pod_cidrs(nodes.get(server_node, {})) or via in server_addresses:
        return Outcome.failed(
            f"the recorded route is for the wrong node: {server_node}, where {server} itself runs",
            expected=expected, observed=observed, final=True,
            cause=f"{client}'s IP {client_ip} lies in {client_node}'s Pod CIDR; {server_node} reaches it by "
                  f"sending packets to {client_node} ({raw}). Record that CIDR and that next hop")
    if recorded in want_cidrs and (not via or _within(via, want_cidrs)):
        # On the client's own node its Pod CIDR is local: `ip route get` shows `dev kube-bridge src <bridge
        # address>` and no `via`. That is the route on the other end of the path.
        return Outcome.failed(
            f"the recorded route was read on the wrong node: {client_node}, where {client} itself runs",
            expected=expected, observed=observed, final=True,
            cause=f"on {client_node} {client}'s IP is local (its Pod CIDR sits on the node's bridge, with no next "
                  f"hop{f'; {via} is the bridge address there' if via else ''}); the route that crosses to another "
                  f"node is on webserver's node {server_node}: `ip route get {client_ip}` there shows `via {hop}`")
    if recorded is None:
        cause = f"destination must be a CIDR such as {want_cidrs[0] if want_cidrs else '10.244.1.0/24'}"
    elif not _within(client_ip, [recorded]):
        cause = f"{recorded} does not contain {client}'s IP {client_ip}"
    elif recorded not in want_cidrs:
        cause = f"record the whole Pod CIDR of {client_node} (spec.podCIDR), not a part of it"
    else:
        cause = f"`ip route get {client_ip}` on {server_node} names the next hop after `via`: {hop}"
    return Outcome.failed("the recorded route is not the one webserver's node uses to reach " + client,
                          expected=expected, observed=observed, cause=cause, final=True)


# --- step 5: no NAT ------------------------------------------------------------------------


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
    pod_ip = objects.pod(ctx, SERVER, running=True).get("status", {}).get("podIP")
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
        cause="a Pod sees itself at the IP the cluster gives it; this cluster's network breaks that rule")


# --- step 6: the kubelet and other nodes -------------------------------------------------------


def _other_node_sources(ctx: CheckContext) -> tuple[str, dict[str, str], set[str], list[Request]]:
    """(webserver's node, address -> other node, webserver's node's addresses, nginx's requests)."""
    server_node = objects.node_of(objects.pod(ctx, SERVER))
    held = {name: _node_addresses(ctx, name) for name in sorted(objects.nodes(ctx))}
    owner = {address: name for name, addresses in held.items() if name != server_node for address in addresses}
    return server_node, owner, held.get(server_node, set()), _nginx_requests(ctx)


@register(needs=("node",))
def nodes_reached_pod(ctx: CheckContext) -> Outcome:
    """The kubelet's probes came from an address of webserver's own node, and a request from
    another node came from that node's own address: nodes reach Pods directly, untranslated."""
    server_node, owner, own, logged = _other_node_sources(ctx)
    probes = {r.client for r in logged if r.is_probe}
    if not probes:
        return Outcome.failed(
            "nginx logged no request from the kubelet (user agent kube-probe)",
            cause="webserver needs its HTTP readiness probe (step 1's webserver.yaml); delete and apply it again")
    if probes - own:
        return Outcome.failed(
            f"kubelet probes came from {', '.join(sorted(probes - own))}, which node {server_node} does not hold",
            expected=f"probe requests from an address of {server_node}", observed=f"{server_node} holds "
            f"{', '.join(sorted(own))}", cause="something translates the kubelet's traffic on its way to the Pod")
    requests = [r for r in logged if not r.is_probe]
    from_others = [r for r in requests if r.client in owner]
    if from_others:
        r = from_others[-1]
        return Outcome.passed(f"the kubelet's probes came from {', '.join(sorted(probes))} (node {server_node} "
                              f"itself), and a request ({r.agent}) from {r.client}, node {owner[r.client]}'s own "
                              "address: nodes reach the Pod with no translation")
    clients = ", ".join(sorted({r.client for r in requests})) or "none"
    from_own = [r for r in requests if r.client in own]
    if from_own:
        return Outcome.failed(
            f"the requests from a node came from webserver's own node {server_node} ({from_own[-1].client})",
            expected="a request from a node other than " + server_node, observed=clients,
            cause=f"run curl on another node, e.g. remote-client's: "
                  f"`docker exec <node> curl -s http://<webserver's IP>`; not on {server_node}")
    return Outcome.failed(
        "nginx logged no request from another node",
        expected="a request whose client address belongs to a node other than " + server_node,
        observed="clients nginx logged: " + clients,
        cause="run `docker exec <another node> curl -s http://<webserver's IP>`")


@register(needs=("node",))
def node_agent_answers(ctx: CheckContext) -> Outcome:
    said = {key: objects.answer(ctx, "answer-node-agents", key) for key in ("kubelet", "other-node")}
    server_node, owner, own, logged = _other_node_sources(ctx)
    logged_by = {"kubelet": sorted({r.client for r in logged if r.is_probe}),
                 "other-node": sorted({r.client for r in logged if not r.is_probe and r.client in owner})}
    wrong = {k: v for k, v in said.items() if not any(objects.same_value(v, seen) for seen in logged_by[k])}
    shown = ", ".join(f"{k}={v!r}" for k, v in said.items())
    if not wrong:
        return Outcome.passed(f"the kubelet came from {said['kubelet']} (node {server_node}), the other node from "
                              f"{said['other-node']} ({owner.get(said['other-node'], '?')})")
    causes = [f"{v} is an address of {server_node}, webserver's own node" if k == "other-node" and v in own else
              f"nginx logged the {'kube-probe' if k == 'kubelet' else 'other node'}'s requests from "
              f"{', '.join(logged_by[k]) or '(none yet)'}" for k, v in wrong.items()]
    return Outcome.failed("recorded " + ", ".join(f"{k}={v!r}" for k, v in wrong.items()) + ": not what nginx logged",
                          expected=", ".join(f"{k} in {v}" for k, v in logged_by.items()), observed=shown,
                          cause="; ".join(causes), final=True)
