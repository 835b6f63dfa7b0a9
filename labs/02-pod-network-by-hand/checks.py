"""Python checks of lab 02: network namespaces, veth pairs and a bridge built by hand on a node.

Everything here is read on the kind node (docker exec): `ip -j` for namespaces,
links, addresses and routes, `ss` for listening sockets, and reachability
probes run inside a namespace with bash's /dev/tcp. The learner may choose any
interface names and addresses; only the names the steps give (mypodns, the Pod
mypod) are fixed.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field
from labcheck.lab import CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, register


NAMESPACE = "mypodns"
POD = "mypod"
ROOT = "root"
ANSWER = "answer-mypod"
#: Namespaces the container runtime made for real Pods; the learner's are all others.
RUNTIME_PREFIX = "cni-"
#: A port that listens on every kind node's own address: the kubelet's.
KUBELET_PORT = 10250

# One look at the node: every namespace the learner may have made, with its
# links (ip -d: veth peers, bridge ports), addresses, routes and listeners.
# `links` keeps only the fields the checks read, so evidence stays readable.
_LINKS = r"""links() {
  out=$(ip "$@" -j -d addr show 2>&1) || { echo "$out"; return; }
  echo "$out" | jq -c '[.[] | {ifname, ifindex, flags, operstate, link, link_index, link_netnsid, master,
    kind: .linkinfo.info_kind, addr: [.addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"]}]'
}
"""
_SNAPSHOT = _LINKS + r"""
# The runtime's own namespaces (cni-*) and the node ends of their veths belong to real Pods: left out.
cni=$(ip -j netns list | jq -c '[.[] | select(.name | startswith("cni-")) | .id]')
echo "@@netns"; ip -j netns list | jq -c '[.[] | select(.name | startswith("cni-") | not)]'
echo "@@paths"; for p in /run/netns/*; do
  case "$p" in */cni-*) ;; *) [ -e "$p" ] && stat -c '%n|%F' "$p";; esac; done
echo "@@nsfs"; findmnt -rn -t nsfs -o TARGET | grep -v '/cni-' | sort -u
echo "@@rootns"; readlink /proc/self/ns/net
echo "@@addr root"; links | jq -c --argjson cni "$cni" \
  '[.[] | select(.link_netnsid as $id | $id == null or ([$cni[] | select(. == $id)] | length) == 0)]'
echo "@@listen root"; ss -Hltnp
# The Pod network's own bridge (kube-bridge, cni0, ...): the master of Pod veths, or named by a CNI
# config's bridge plugin (whose default name is cni0). It is the node's, not the learner's.
echo "@@cnibridges"; {
  ip -j link show | jq -r --argjson cni "$cni" \
    '.[] | select(.link_netnsid as $id | $id != null and ([$cni[] | select(. == $id)] | length) > 0) | .master // empty'
  cat /etc/cni/net.d/*.conf /etc/cni/net.d/*.conflist 2>/dev/null |
    jq -r '.. | objects | select(.type? == "bridge") | .bridge // "cni0"' 2>/dev/null
} | sort -u
for ns in $(ip netns list | awk '$1 !~ /^cni-/ {print $1}'); do
  echo "@@addr $ns"; links -n "$ns"
  echo "@@route $ns"; ip -n "$ns" -j route show 2>&1
  echo "@@listen $ns"; ip netns exec "$ns" ss -Hltnp 2>&1
  echo "@@inode $ns"; ip netns exec "$ns" readlink /proc/self/ns/net 2>&1
done
exit 0
"""


# --- reading the node --------------------------------------------------------------


@dataclass
class Link:
    name: str
    index: int
    kind: str | None
    flags: list[str]
    operstate: str
    peer_index: int | None  # the peer's ifindex, when it lives in another namespace
    peer_nsid: int | None
    peer_name: str | None  # the peer's name, when it lives in the same namespace
    master: str | None
    ipv4: list[str]

    @property
    def admin_up(self) -> bool:
        return "UP" in self.flags

    @property
    def running(self) -> bool:
        # A veth carries traffic only when both ends are up: then it reports LOWER_UP.
        return self.admin_up and "LOWER_UP" in self.flags

    def networks(self) -> list[ipaddress.IPv4Interface]:
        return [ipaddress.IPv4Interface(a) for a in self.ipv4]


@dataclass
class Listener:
    address: str
    port: int
    process: str
    pid: int | None

    @property
    def loopback_only(self) -> bool:
        host = self.address.strip("[]").split("%")[0]
        return host not in ("*", "0.0.0.0", "::") and ipaddress.ip_address(host).is_loopback


@dataclass
class Namespace:
    name: str
    links: dict[str, Link] = field(default_factory=dict)
    routes: list[dict] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    inode: str = ""
    error: str | None = None

    def veths(self) -> list[Link]:
        return [link for link in self.links.values() if link.kind == "veth"]


@dataclass
class Snapshot:
    node: str
    namespaces: dict[str, Namespace]
    nsids: dict[str, int]  # named namespace -> its id as the root namespace sees it
    paths: dict[str, str]  # name under /run/netns -> file type
    mounted: set[str]  # names under /run/netns with a namespace mounted on them
    cni_bridges: set[str] = field(default_factory=set)  # the Pod network's bridges on the node

    @property
    def root(self) -> Namespace:
        return self.namespaces[ROOT]

    def learner_namespaces(self) -> list[str]:
        return sorted(n for n in self.namespaces if n != ROOT)

    def root_peer(self, namespace: str, link: Link) -> Link | None:
        """The root-namespace end of a veth whose other end is `link` in `namespace`."""
        nsid = self.nsids.get(namespace)
        if nsid is None:
            return None
        for candidate in self.root.veths():
            if candidate.peer_nsid == nsid and candidate.peer_index == link.index:
                return candidate
        return None

    def namespace_of_peer(self, link: Link) -> str | None:
        """For a root veth: the named namespace its peer lives in."""
        for name, nsid in self.nsids.items():
            if link.peer_nsid is not None and nsid == link.peer_nsid:
                return name
        return None


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = line[2:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def _json(text: str) -> list | None:
    try:
        value = json.loads(text) if text else []
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _links(items: list) -> dict[str, Link]:
    """Links from the compact JSON of `links` (see _LINKS)."""
    links = {}
    for item in items:
        other_ns = item.get("link_netnsid") is not None
        links[item["ifname"]] = Link(
            name=item["ifname"],
            index=item.get("ifindex") or 0,
            kind=item.get("kind"),
            flags=item.get("flags") or [],
            operstate=item.get("operstate") or "UNKNOWN",
            peer_index=item.get("link_index") if other_ns else None,
            peer_nsid=item.get("link_netnsid"),
            peer_name=item.get("link") if not other_ns else None,
            master=item.get("master"),
            ipv4=list(item.get("addr") or []),
        )
    return links


_SS_PROCESS = re.compile(r'\("([^"]+)",pid=(\d+)')


def _listeners(text: str) -> list[Listener]:
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] != "LISTEN":
            continue
        address, _, port = parts[3].rpartition(":")
        process = _SS_PROCESS.search(line)
        found.append(Listener(address, int(port) if port.isdigit() else 0,
                              process.group(1) if process else "?", int(process.group(2)) if process else None))
    return found


def snapshot(ctx: CheckContext, node: str) -> Snapshot:
    result = ctx.exec_on_node(node, ["bash", "-c", _SNAPSHOT])
    if result.returncode != 0 or "@@addr root" not in result.stdout:
        raise ClusterUnavailable(f"cannot read network namespaces on node {node}: "
                                 f"{(result.stderr or result.stdout).strip()[:200]}")
    sections = _sections(result.stdout)
    nsids = {e["name"]: e["id"] for e in _json(sections.get("netns", "")) or [] if "id" in e}
    paths = {}
    for line in sections.get("paths", "").splitlines():
        path, _, kind = line.partition("|")
        paths[path.rsplit("/", 1)[-1]] = kind
    mounted = {line.rsplit("/", 1)[-1] for line in sections.get("nsfs", "").splitlines() if "/netns/" in line}
    namespaces: dict[str, Namespace] = {}
    for key, text in sections.items():
        what, _, name = key.partition(" ")
        if what not in ("addr", "route", "listen", "inode") or not name:
            continue
        ns = namespaces.setdefault(name, Namespace(name))
        if what == "addr":
            items = _json(text)
            if items is None:
                ns.error = text.splitlines()[0] if text else "no answer"
            else:
                ns.links = _links(items)
        elif what == "route":
            ns.routes = _json(text) or []
        elif what == "listen":
            ns.listeners = _listeners(text)
        elif what == "inode":
            ns.inode = text
    namespaces[ROOT].inode = sections.get("rootns", "")
    cni_bridges = {line.strip() for line in sections.get("cnibridges", "").splitlines() if line.strip()}
    return Snapshot(node, namespaces, nsids, paths, mounted, cni_bridges)


def lab_node(ctx: CheckContext) -> str:
    """The node the lab's steps work on: the first node by name (`kubectl get nodes -o name | head -1`)."""
    nodes = sorted(n["metadata"]["name"] for n in ctx.list("Node"))
    if not nodes:
        raise ClusterUnavailable("the cluster lists no nodes")
    return nodes[0]


def node_address(ctx: CheckContext, node: str) -> str:
    obj = ctx.get("Node", node) or {}
    for address in obj.get("status", {}).get("addresses", []):
        if address.get("type") == "InternalIP" and ":" not in address.get("address", ""):
            return address["address"]
    raise ClusterUnavailable(f"node {node} reports no IPv4 InternalIP")


@dataclass
class Reach:
    """What a TCP connection attempt from one namespace to an address found."""

    verdict: str  # connected | refused | unreachable | no-route | timeout | error
    detail: str
    command: str

    @property
    def answered(self) -> bool:
        # A refusal is an answer too: the packet got there and the reply came back.
        return self.verdict in ("connected", "refused")


def connect(ctx: CheckContext, node: str, namespace: str, address: str, port: int) -> Reach:
    attempt = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}' 2>&1 && echo CONNECTED"
    command = attempt if namespace == ROOT else f"ip netns exec {namespace} {attempt}"
    result = ctx.exec_on_node(node, ["bash", "-c", command])
    text = (result.stdout + result.stderr).strip()
    lowered = text.lower()
    if "CONNECTED" in text:
        verdict = "connected"
    elif "connection refused" in lowered:
        verdict = "refused"
    elif "network is unreachable" in lowered:
        verdict = "unreachable"
    elif "no route to host" in lowered:
        verdict = "no-route"
    elif result.returncode == 124 or result.timed_out:
        verdict = "timeout"
    else:
        verdict = "error"
    shown = command.replace(" 2>&1 && echo CONNECTED", "")
    return Reach(verdict, text.splitlines()[-1] if text else f"exit code {result.returncode}", shown)


_REACH_WORDS = {
    "unreachable": "network is unreachable: the namespace has no route to that address",
    "no-route": "no route to host: nothing answered ARP for the next hop",
    "timeout": "no answer within 3 s",
    "error": "the attempt failed",
}


def _peer_outside(snap: Snapshot, namespace: str) -> tuple[Link, Link] | None:
    """The first veth of `namespace` with its root-namespace peer."""
    for link in snap.namespaces[namespace].veths():
        peer = snap.root_peer(namespace, link)
        if peer is not None:
            return link, peer
    return None


def _need_namespace(snap: Snapshot, name: str = NAMESPACE) -> Namespace:
    ns = snap.namespaces.get(name)
    if ns is None or ns.error:
        raise TargetUnavailable(f"network namespace {name} is missing on node {snap.node} "
                                f"(step 1 creates it with `ip netns add {name}`)")
    return ns


def _failed(summary: str, **kwargs) -> Outcome:
    return Outcome.failed(summary, **kwargs)


# --- step 1: the namespace ------------------------------------------------------------


@register(needs=('node',))
def namespace_mounted(ctx: CheckContext) -> Outcome:
    node = lab_node(ctx)
    snap = snapshot(ctx, node)
    path = f"/run/netns/{NAMESPACE}"
    if NAMESPACE in snap.mounted and NAMESPACE in snap.namespaces:
        return Outcome.passed(f"{path} on node {node} is a network namespace (ip netns list shows {NAMESPACE})")
    others = [n for n in snap.learner_namespaces() if n in snap.mounted]
    if NAMESPACE in snap.paths:
        return _failed(
            f"{path} on node {node} is a {snap.paths[NAMESPACE]}, not a network namespace",
            expected=f"a network namespace mounted at {path}",
            observed=f"a plain {snap.paths[NAMESPACE]} with nothing mounted on it",
            cause=(f"a path alone is not a network namespace: `ip netns add {NAMESPACE}` creates the namespace "
                   f"and bind-mounts it there; remove the {snap.paths[NAMESPACE]} (rm -r {path}) and run "
                   f"`ip netns add {NAMESPACE}` on the node"),
        )
    if others:
        cause = (f"you created {', '.join(others)}; this lab's steps use the name {NAMESPACE}: "
                 f"`ip netns add {NAMESPACE}`")
    else:
        cause = (f"run `ip netns add {NAMESPACE}` on the node itself (docker exec {node} ...): "
                 "a namespace made on your own machine is not on the node")
    return _failed(
        f"node {node} has no network namespace {NAMESPACE}",
        expected=f"{NAMESPACE} in `ip netns list` on {node}",
        observed=", ".join(snap.learner_namespaces()) or "no named namespaces (only the runtime's cni-*)",
        cause=cause,
    )


@register(needs=('node',))
def namespace_isolated(ctx: CheckContext) -> Outcome:
    node = lab_node(ctx)
    snap = snapshot(ctx, node)
    ns = _need_namespace(snap)
    root = snap.root.inode
    if ns.inode.startswith("net:[") and ns.inode != root and "lo" in ns.links:
        return Outcome.passed(
            f"{NAMESPACE} is its own network stack ({ns.inode}, the node's is {root}) "
            f"with its own interfaces: {', '.join(sorted(ns.links))}")
    return _failed(
        f"{NAMESPACE} is not a network stack of its own",
        expected=f"a namespace other than the node's ({root}) with its own lo",
        observed=f"{ns.inode or 'unknown'}; interfaces {', '.join(sorted(ns.links)) or 'none'}",
        cause=(f"what is mounted at /run/netns/{NAMESPACE} is the node's own namespace; "
               f"`ip netns del {NAMESPACE}` and create a new one with `ip netns add {NAMESPACE}`"),
    )


# --- step 2: the veth pair --------------------------------------------------------------


def _veth_pair(snap: Snapshot) -> tuple[Link, Link] | Outcome:
    ns = _need_namespace(snap)
    pair = _peer_outside(snap, NAMESPACE)
    if pair:
        return pair
    # Why not: classify the learner's veths.
    inside = ns.veths()
    both_inside = [v for v in inside if v.peer_name]
    root_pairs = [v for v in snap.root.veths() if v.peer_name and v.peer_name in snap.root.links]
    elsewhere = [(v, snap.namespace_of_peer(v)) for v in snap.root.veths() if v.peer_nsid is not None]
    elsewhere = [(v, n) for v, n in elsewhere if n and n != NAMESPACE and not n.startswith(RUNTIME_PREFIX)]
    if both_inside:
        v = both_inside[0]
        return _failed(
            f"both ends of veth pair {v.name}/{v.peer_name} are inside {NAMESPACE}",
            expected=f"one end in {NAMESPACE}, its peer in the node's root namespace",
            observed=f"{NAMESPACE} holds {v.name} and {v.peer_name}",
            cause=f"move one end back to the root namespace: `ip -n {NAMESPACE} link set {v.peer_name} netns 1`",
        )
    if root_pairs:
        v = root_pairs[0]
        # The message moves v's peer: make that the end not named as the host's.
        if "host" in (v.peer_name or "") and "host" not in v.name:
            v = snap.root.links[v.peer_name]
        return _failed(
            f"veth pair {v.name}/{v.peer_name} exists, but both ends are still in the root namespace",
            expected=f"one end moved into {NAMESPACE}",
            observed=f"{v.name} and {v.peer_name} both in the root namespace of {snap.node}; "
                     f"{NAMESPACE} has only {', '.join(sorted(ns.links))}",
            cause=f"a new veth pair starts with both ends in the root namespace: "
                  f"`ip link set {v.peer_name} netns {NAMESPACE}` moves one end into the Pod's namespace",
        )
    if elsewhere:
        v, other = elsewhere[0]
        return _failed(
            f"veth {v.name}'s peer is in namespace {other}, not in {NAMESPACE}",
            expected=f"a veth end in {NAMESPACE}",
            observed=f"{v.name} (root) <-> namespace {other}",
            cause=f"move the end into {NAMESPACE}: it is the namespace this step links to the root namespace",
        )
    return _failed(
        f"{NAMESPACE} has no veth link to the root namespace",
        expected=f"a veth pair with one end in {NAMESPACE}",
        observed=f"{NAMESPACE} has {', '.join(sorted(ns.links)) or 'no interfaces'}",
        cause=("create a pair (`ip link add veth-host type veth peer name veth-pod`) and move one end "
               f"into the namespace (`ip link set veth-pod netns {NAMESPACE}`)"),
    )


def _on_pair(check):
    """Give a check the node snapshot and mypodns's veth pair; without the pair, that failure is the outcome."""

    @functools.wraps(check)
    def run(ctx: CheckContext) -> Outcome:
        snap = snapshot(ctx, lab_node(ctx))
        pair = _veth_pair(snap)
        if isinstance(pair, Outcome):
            return pair
        return check(ctx, snap, *pair)

    return run


@register(needs=('node',))
@_on_pair
def veth_into_namespace(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    return Outcome.passed(f"{inside.name} in {NAMESPACE} is paired with {outside.name} in the root namespace "
                          f"(ifindex {inside.index} <-> {outside.index})")


@register(needs=('node',))
@_on_pair
def addresses_on_both_ends(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    missing = [(end, where) for end, where in ((inside, NAMESPACE), (outside, "the root namespace")) if not end.ipv4]
    if missing:
        named = " and ".join(f"{end.name} (in {where})" for end, where in missing)
        other = inside if missing[0][0] is outside else outside
        example = "10.200.0.1/24" if missing[0][0] is outside else "10.200.0.2/24"
        netns = "" if missing[0][0] is outside else f"-n {NAMESPACE} "
        return _failed(
            f"{named} has no IPv4 address",
            expected="an address on each end of the pair",
            observed=f"{inside.name}: {', '.join(inside.ipv4) or 'none'}; {outside.name}: {', '.join(outside.ipv4) or 'none'}",
            cause=(f"each end of a veth is an interface in its own namespace and needs its own address: "
                   f"`ip {netns}addr add {example} dev {missing[0][0].name}`"
                   + (f", in the same subnet as {other.ipv4[0]}" if other.ipv4 else "")),
        )
    return Outcome.passed(f"{inside.name} has {', '.join(inside.ipv4)}, {outside.name} has {', '.join(outside.ipv4)}")


@register(needs=('node',))
@_on_pair
def links_up(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    down = [(end, where) for end, where in ((inside, NAMESPACE), (outside, "root")) if not end.admin_up]
    if not down:
        return Outcome.passed(f"{inside.name} and {outside.name} are both UP")
    commands = " and ".join(
        f"`ip {'-n ' + NAMESPACE + ' ' if where == NAMESPACE else ''}link set {end.name} up`" for end, where in down)
    return _failed(
        " and ".join(f"{end.name} ({'in ' + NAMESPACE if where == NAMESPACE else 'root end'}) is DOWN"
                     for end, where in down),
        expected="both ends of the veth pair UP",
        observed=f"{inside.name}: {inside.operstate}, flags {','.join(inside.flags)}; "
                 f"{outside.name}: {outside.operstate}, flags {','.join(outside.flags)}",
        cause=f"a new link starts down and a veth carries nothing until both ends are up: {commands}",
    )


def _default_route(ns: Namespace) -> dict | None:
    return next((r for r in ns.routes if r.get("dst") == "default"), None)


@register(needs=('node',))
@_on_pair
def default_route(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    ns = snap.namespaces[NAMESPACE]
    route = _default_route(ns)
    gateway = outside.ipv4[0].split("/")[0] if outside.ipv4 else "<root end's address>"
    if route is None:
        return _failed(
            f"{NAMESPACE} has no default route",
            expected=f"default via {gateway} dev {inside.name}",
            observed="; ".join(f"{r.get('dst')} dev {r.get('dev')}" for r in ns.routes) or "no routes",
            cause=(f"without a default route {NAMESPACE} reaches only its own subnet; like a Pod, send everything "
                   f"else to the root end: `ip -n {NAMESPACE} route add default via {gateway}`"),
        )
    if route.get("dev") != inside.name:
        return _failed(
            f"{NAMESPACE}'s default route leaves through {route.get('dev')}, not the veth {inside.name}",
            expected=f"default via {gateway} dev {inside.name}",
            observed=json.dumps(route),
            cause=f"the root namespace is reached through the veth: `ip -n {NAMESPACE} route replace default via {gateway}`",
        )
    via = route.get("gateway")
    return Outcome.passed(f"{NAMESPACE}: default {'via ' + via + ' ' if via else ''}dev {inside.name}")


@register(needs=('node',))
@_on_pair
def namespace_reaches_node(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    node = snap.node
    target = node_address(ctx, node)
    reach = connect(ctx, node, NAMESPACE, target, KUBELET_PORT)
    if reach.answered:
        return Outcome.passed(f"from inside {NAMESPACE}, the node's address {target} answered ({reach.verdict}, "
                              f"port {KUBELET_PORT} is the kubelet's)")
    same_subnet = any(
        b.ip in a.network or a.ip in b.network for a in inside.networks() for b in outside.networks())
    route = _default_route(snap.namespaces[NAMESPACE]) or {}
    if not same_subnet:
        cause = (f"{inside.name} ({', '.join(inside.ipv4)}) and {outside.name} ({', '.join(outside.ipv4)}) are in "
                 "different subnets, so neither end has a route to the other: put both addresses in one subnet")
    elif route.get("gateway") and not any(str(b.ip) == route["gateway"] for b in outside.networks()):
        cause = (f"the default route goes via {route['gateway']}, but the root end {outside.name} has "
                 f"{', '.join(outside.ipv4)}: route via the root end's address")
    else:
        cause = _REACH_WORDS.get(reach.verdict, "no answer") + (
            "; is the namespace's address also used elsewhere on the node?" if reach.verdict == "timeout" else "")
    return _failed(
        f"from inside {NAMESPACE}, the node's address {target} did not answer ({reach.verdict})",
        expected=f"a TCP answer from {target}:{KUBELET_PORT} (connected or refused)",
        observed=f"`{reach.command}`: {reach.detail}",
        cause=cause,
    )


# --- step 3: a server inside the namespace ----------------------------------------------------


_NODE_PROGRAMS = {"kubelet", "containerd", "kube-apiserver", "etcd", "kube-controller", "kube-scheduler",
                  "kube-proxy", "coredns", "kindnetd", "kube-router", "local-path-prov", "systemd", "systemd-resolve",
                  "rpcbind", "sshd", "containerd-shim", "?"}


def _server(ns: Namespace) -> Listener | None:
    tcp = [lst for lst in ns.listeners if lst.port]
    reachable = [lst for lst in tcp if not lst.loopback_only]
    return (reachable or tcp or [None])[0]


@register(needs=('node',))
def server_in_namespace(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx, lab_node(ctx))
    ns = _need_namespace(snap)
    server = _server(ns)
    if server is not None:
        return Outcome.passed(f"{server.process} (pid {server.pid}) listens on {server.address}:{server.port} "
                              f"inside {NAMESPACE}")
    strays = [lst for lst in snap.root.listeners if lst.process not in _NODE_PROGRAMS]
    if strays:
        stray = strays[0]
        return _failed(
            f"nothing listens inside {NAMESPACE}, but {stray.process} (pid {stray.pid}) listens on "
            f"{stray.address}:{stray.port} in the node's root namespace",
            expected=f"a listening TCP socket inside {NAMESPACE} (`ip netns exec {NAMESPACE} ss -ltnp`)",
            observed=f"root namespace: {stray.process} on {stray.address}:{stray.port}",
            cause=(f"a process starts in the namespace of whoever started it: start the server with "
                   f"`ip netns exec {NAMESPACE} ...` so it lives in the Pod's namespace, and stop the one in "
                   f"the root namespace (kill {stray.pid})"),
        )
    return _failed(
        f"nothing listens inside {NAMESPACE}",
        expected=f"a listening TCP socket inside {NAMESPACE} (`ip netns exec {NAMESPACE} ss -ltnp`)",
        observed="no listening TCP sockets there",
        cause=(f"start a server inside the namespace, e.g. `ip netns exec {NAMESPACE} python3 -m http.server 8080 "
               f"--bind 0.0.0.0` in the background; if you started one, it may have exited: see its log"),
    )


@register(needs=('node',))
@_on_pair
def server_reachable_from_root(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    node = snap.node
    ns = snap.namespaces[NAMESPACE]
    server = _server(ns)
    if server is None:
        raise TargetUnavailable(f"nothing listens inside {NAMESPACE} (see the previous check)")
    if not inside.ipv4:
        raise TargetUnavailable(f"{inside.name} has no address (step 2)")
    address = inside.ipv4[0].split("/")[0]
    reach = connect(ctx, node, ROOT, address, server.port)
    if reach.verdict == "connected":
        return Outcome.passed(f"from the root namespace, {address}:{server.port} ({server.process} inside "
                              f"{NAMESPACE}) accepted a connection")
    if server.loopback_only:
        cause = (f"{server.process} listens only on {server.address}, the loopback of {NAMESPACE}: each namespace "
                 "has its own loopback, which no other namespace can reach; listen on 0.0.0.0 (every address "
                 f"of the namespace) or on {address}")
    elif reach.verdict == "refused":
        cause = f"{address} answered but nothing accepts on port {server.port} there"
    else:
        cause = _REACH_WORDS.get(reach.verdict, "no answer") + " (check step 2 again)"
    return _failed(
        f"from the root namespace, {address}:{server.port} did not accept a connection ({reach.verdict})",
        expected=f"a TCP connection to {server.process} inside {NAMESPACE} through {inside.name}",
        observed=f"`{reach.command}`: {reach.detail}; the server listens on {server.address}:{server.port}",
        cause=cause,
    )


# --- step 4: a second process joins the namespace ----------------------------------------------


@register(needs=('node',))
def loopback_up(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx, lab_node(ctx))
    ns = _need_namespace(snap)
    lo = ns.links.get("lo")
    if lo is not None and lo.admin_up:
        return Outcome.passed(f"lo in {NAMESPACE} is UP ({', '.join(lo.ipv4) or 'no IPv4'})")
    return _failed(
        f"lo in {NAMESPACE} is DOWN",
        expected=f"lo UP inside {NAMESPACE}, so localhost works there",
        observed=f"lo: {lo.operstate + ', flags ' + ','.join(lo.flags) if lo else 'missing'}",
        cause=(f"a new namespace's loopback starts down, and localhost goes nowhere until it is up: "
               f"`ip -n {NAMESPACE} link set lo up` (for a real Pod, the runtime's CNI loopback plugin does this)"),
    )


def client_address(line: str) -> str | None:
    """The client address a server's log line starts with ("127.0.0.1 - - [...]", "10.0.0.1:4242: ...")."""
    words = line.split()
    token = words[0].rstrip(":") if words else ""
    candidates = [token]
    if token.startswith("["):
        candidates.append(token[1:].split("]")[0])
    if token.count(":") == 1:
        candidates.append(token.split(":")[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped  # a dual-stack server logs IPv4 clients as ::ffff:a.b.c.d
        return str(address)
    return None


def _log_clients(text: str) -> list[str]:
    return [c for c in (client_address(line) for line in text.splitlines()) if c]


@register(needs=('node',))
def client_over_localhost(ctx: CheckContext) -> Outcome:
    node = lab_node(ctx)
    snap = snapshot(ctx, node)
    ns = _need_namespace(snap)
    server = _server(ns)
    if server is None or server.pid is None:
        raise TargetUnavailable(f"no server listens inside {NAMESPACE} (step 3)")
    read = ctx.exec_on_node(node, ["bash", "-c", f'log=$(readlink /proc/{server.pid}/fd/2); echo "$log"; '
                                                 f'[ -f "$log" ] && tail -n 200 "$log"'])
    lines = read.stdout.splitlines()
    log = lines[0] if lines else ""
    if read.returncode != 0 or not log.startswith("/"):
        return _failed(
            f"cannot read the log of {server.process} (pid {server.pid}): its stderr is {log or 'gone'}",
            expected="the server's log in a file (its stderr)",
            observed=log or read.stderr.strip()[:200],
            cause=(f"start the server with its log going to a file, e.g. `ip netns exec {NAMESPACE} python3 -m http.server "
                   f"8080 --bind 0.0.0.0 2>>/var/log/{NAMESPACE}-http.log &`"),
        )
    clients = _log_clients("\n".join(lines[1:]))
    loopback = [c for c in clients if ipaddress.ip_address(c).is_loopback]
    if loopback:
        return Outcome.passed(f"{server.process} logged a request from {loopback[-1]}: a second process inside "
                              f"{NAMESPACE} reached it over localhost", observed=f"log {log}")
    pair = _peer_outside(snap, NAMESPACE)
    own = {str(n.ip) for n in pair[0].networks()} if pair else set()
    root_end = {str(n.ip) for n in pair[1].networks()} if pair else set()
    seen = sorted(set(clients))
    if own & set(clients):
        cause = (f"a request came from {', '.join(sorted(own & set(clients)))}, {NAMESPACE}'s own veth address: "
                 f"the client was inside, but asked the veth address; ask localhost "
                 f"(`ip netns exec {NAMESPACE} curl -s localhost:{server.port}`)")
    elif seen and set(seen) <= root_end:
        cause = (f"only the root namespace ({', '.join(seen)}) has called the server; `curl localhost:{server.port}` "
                 f"in the root namespace reaches the root namespace's own loopback, not {NAMESPACE}'s: run the "
                 f"client with `ip netns exec {NAMESPACE}`")
    else:
        cause = (f"run a second process inside {NAMESPACE} that asks localhost:{server.port} "
                 f"(`ip netns exec {NAMESPACE} curl -s localhost:{server.port}`); lo must be up")
    return _failed(
        f"{server.process}'s log shows no request from a loopback address",
        expected=f"a request from 127.0.0.1 (or ::1) in {log}",
        observed=f"clients logged: {', '.join(seen) or 'none'}",
        cause=cause,
    )


# --- step 5: a bridge with two namespaces --------------------------------------------------------


@dataclass
class Attachment:
    namespace: str
    inside: Link
    port: Link  # the root-namespace end


def _attachments(snap: Snapshot) -> list[Attachment]:
    found = []
    for name in snap.learner_namespaces():
        for link in snap.namespaces[name].veths():
            peer = snap.root_peer(name, link)
            if peer is not None:
                found.append(Attachment(name, link, peer))
    return found


def _bridges(snap: Snapshot) -> list[Link]:
    """The bridges the learner made: every bridge on the node but the Pod network's own."""
    return [link for link in snap.root.links.values() if link.kind == "bridge" and link.name not in snap.cni_bridges]


def _cni_bridges_note(snap: Snapshot) -> str:
    if not snap.cni_bridges:
        return ""
    return f" but {', '.join(sorted(snap.cni_bridges))}, the Pod network's own bridge, whose ports are the Pods'"


@register(needs=('node',))
def bridge_exists(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx, lab_node(ctx))
    bridges = _bridges(snap)
    up = [b for b in bridges if b.admin_up]
    if up:
        names = ", ".join(f"{b.name} ({', '.join(b.ipv4) or 'no address'})" for b in up)
        return Outcome.passed(f"bridge {names} is UP in the root namespace")
    if bridges:
        b = bridges[0]
        return _failed(
            f"bridge {b.name} is DOWN",
            expected="a bridge that is UP",
            observed=f"{b.name}: flags {','.join(b.flags)}",
            cause=f"a bridge forwards nothing while it is down: `ip link set {b.name} up`",
        )
    return _failed(
        f"node {snap.node} has no bridge" + (" of your own" if snap.cni_bridges else ""),
        expected="a Linux bridge in the node's root namespace (like Docker's docker0)",
        observed="no link of type bridge (`ip -d link show type bridge`)" + _cni_bridges_note(snap),
        cause="create one: `ip link add docker0 type bridge` and `ip link set docker0 up`",
    )


def _bridge_groups(snap: Snapshot) -> tuple[dict[str, list[Attachment]], list[Attachment]]:
    bridges = {b.name for b in _bridges(snap)}
    groups: dict[str, list[Attachment]] = {}
    loose = []
    for att in _attachments(snap):
        if att.port.master in bridges:
            groups.setdefault(att.port.master, []).append(att)
        elif att.namespace != NAMESPACE:
            loose.append(att)
    return groups, loose


@register(needs=('node',))
def namespaces_on_bridge(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx, lab_node(ctx))
    groups, loose = _bridge_groups(snap)
    best = max(groups.items(), key=lambda kv: len({a.namespace for a in kv[1]}), default=(None, []))
    bridge, members = best
    namespaces = sorted({a.namespace for a in members})
    broken = [a for a in members if not (a.port.admin_up and a.inside.admin_up)]
    if len(namespaces) >= 2 and not broken:
        return Outcome.passed(
            f"bridge {bridge} joins {len(namespaces)} namespaces: "
            + ", ".join(f"{a.namespace} ({a.inside.name} <-> port {a.port.name})" for a in members))
    observed = "; ".join(
        f"{a.namespace}: {a.inside.name} <-> {a.port.name} (master {a.port.master or 'none'}, "
        f"port {'UP' if a.port.admin_up else 'DOWN'}, inside {'UP' if a.inside.admin_up else 'DOWN'})"
        for a in members + loose) or "no namespace has a veth into the root namespace"
    if broken:
        a = broken[0]
        if not a.port.admin_up:
            summary = f"{a.port.name}, the bridge port of {a.namespace}, is DOWN"
            cause = f"a bridge port forwards nothing while it is down: `ip link set {a.port.name} up`"
        else:
            summary = f"{a.inside.name} inside {a.namespace} is DOWN"
            cause = f"bring the namespace's end up: `ip -n {a.namespace} link set {a.inside.name} up`"
        return _failed(summary, expected="every bridge port and its namespace end UP", observed=observed, cause=cause)
    if loose:
        a = loose[0]
        target = bridge or (_bridges(snap)[0].name if _bridges(snap) else "docker0")
        return _failed(
            f"{a.port.name}, the root end of {a.namespace}'s {a.inside.name}, is not attached to bridge {target}",
            expected=f"the root ends of two namespaces' veths as ports of one bridge",
            observed=observed,
            cause=(f"a veth end in the root namespace joins a bridge only when made its port: "
                   f"`ip link set {a.port.name} master {target}`"),
        )
    return _failed(
        f"fewer than two namespaces are attached to a bridge ({', '.join(namespaces) or 'none'})",
        expected="two namespaces, each with a veth whose root end is a port of the same bridge",
        observed=observed,
        cause=("for each namespace: `ip netns add container1`, `ip link add veth1 type veth peer name eth0 netns "
               "container1`, `ip link set veth1 master docker0 up`"),
    )


@register(needs=('node',))
def namespaces_reach_each_other(ctx: CheckContext) -> Outcome:
    node = lab_node(ctx)
    snap = snapshot(ctx, node)
    groups, _loose = _bridge_groups(snap)
    for bridge, members in sorted(groups.items()):
        by_ns: dict[str, Attachment] = {}
        for att in members:
            by_ns.setdefault(att.namespace, att)
        if len(by_ns) >= 2:
            break
    else:
        raise TargetUnavailable("no bridge joins two namespaces yet (see the previous check)")
    first, second = list(by_ns.values())[:2]
    if not second.inside.ipv4 or not first.inside.ipv4:
        bare = first if not first.inside.ipv4 else second
        return _failed(
            f"{bare.inside.name} in {bare.namespace} has no IPv4 address",
            expected="an address from the bridge's subnet on each namespace's end",
            observed=f"{first.namespace}: {', '.join(first.inside.ipv4) or 'none'}; "
                     f"{second.namespace}: {', '.join(second.inside.ipv4) or 'none'}",
            cause=f"`ip -n {bare.namespace} addr add <address>/24 dev {bare.inside.name}`, one subnet for both",
        )
    target = second.inside.ipv4[0].split("/")[0]
    reach = connect(ctx, node, first.namespace, target, 80)
    if reach.answered:
        return Outcome.passed(f"from {first.namespace}, {second.namespace}'s address {target} answered "
                              f"({reach.verdict}) through bridge {bridge}")
    nets_a, nets_b = first.inside.networks(), second.inside.networks()
    if not any(b.ip in a.network for a in nets_a for b in nets_b):
        cause = (f"{first.inside.ipv4[0]} and {second.inside.ipv4[0]} are in different subnets: give both "
                 "namespaces addresses from one subnet (the bridge's)")
    else:
        cause = _REACH_WORDS.get(reach.verdict, "no answer")
    return _failed(
        f"from {first.namespace}, {target} in {second.namespace} did not answer ({reach.verdict})",
        expected=f"a TCP answer from {target} (connected, or refused: nothing listens, but the host replied)",
        observed=f"`{reach.command}`: {reach.detail}",
        cause=cause,
    )


# --- step 6: the real thing ----------------------------------------------------------------------


@dataclass
class Sandbox:
    node: str
    sandbox_id: str
    pid: int
    netns: str  # name under /run/netns
    pod_ip: str
    eth: Link | None  # the Pod's end, inside the sandbox namespace
    veth: Link | None  # the node's end
    container_pids: dict[int, str]  # pid -> container name


_SANDBOX = _LINKS + r"""
id=$(crictl pods --name '^@POD@$' --namespace '@NAMESPACE@' --state ready -q | head -n 1)
[ -n "$id" ] || { echo "no ready sandbox"; exit 3; }
echo "@@id"; echo "$id"
echo "@@inspect"; crictl inspectp -o json "$id" | jq -c '{pid: .info.pid, ip: .status.network.ip,
  netns: ([.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path] | first)}'
netns=$(crictl inspectp -o json "$id" | jq -r '[.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path] | first')
nsid=$(ip -j netns list | jq --arg name "$(basename "$netns")" '.[] | select(.name == $name) | .id')
echo "@@inside"; links -n "$(basename "$netns")"
echo "@@root"; links | jq -c --argjson id "${nsid:-null}" '[.[] | select(.link_netnsid == $id)]'
echo "@@containers"; for c in $(crictl ps --pod "$id" -q); do
  crictl inspect -o json "$c" | jq -r '"\(.info.pid) \(.status.metadata.name)"'; done
"""


def _sandbox(ctx: CheckContext) -> Sandbox:
    pod = ctx.get("Pod", POD)
    node = (pod or {}).get("spec", {}).get("nodeName")
    if not node:
        raise TargetUnavailable(f"Pod {POD} does not exist or is not on a node yet")
    result = ctx.exec_on_node(node, ["bash", "-c", _SANDBOX.replace("@POD@", POD).replace("@NAMESPACE@", ctx.namespace)])
    if result.returncode == 3:
        raise TargetUnavailable(f"Pod {POD} has no ready sandbox on node {node}")
    if result.returncode != 0:
        raise ClusterUnavailable(f"cannot inspect {POD}'s sandbox on {node}: {result.stderr.strip()[:200]}")
    sections = _sections(result.stdout)
    info = json.loads(sections["inspect"])
    netns = (info.get("netns") or "").rsplit("/", 1)[-1]
    inside = _links(_json(sections.get("inside", "")) or [])
    eth = inside.get("eth0") or next((l for l in inside.values() if l.kind == "veth"), None)
    veth = None
    if eth is not None:  # the root section holds only veths whose peer is in the sandbox's namespace
        veth = next((l for l in _links(_json(sections.get("root", "")) or []).values()
                     if l.peer_index == eth.index), None)
    containers = {}
    for line in sections.get("containers", "").splitlines():
        pid, _, name = line.partition(" ")
        if pid.isdigit():
            containers[int(pid)] = name
    return Sandbox(node, sections["id"].strip(), int(info.get("pid") or 0), netns, info.get("ip") or "",
                   eth, veth, containers)


def _answer(ctx: CheckContext, key: str) -> str:
    return ((ctx.get("ConfigMap", ANSWER) or {}).get("data") or {}).get(key, "").strip()


def _wrong_answer(key: str, answer: str, truth: str, found: str, cause: str) -> Outcome:
    """A recorded fact that differs from what the node shows."""
    return _failed(f"you recorded {key}={answer!r}; {found}",
                   expected=f"{key}={truth}", observed=f"{key}={answer!r}", cause=cause)


@register(needs=('node',))
def answer_netns(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    answer = _answer(ctx, "netns").rsplit("/", 1)[-1]
    if answer == box.netns:
        return Outcome.passed(f"{POD}'s sandbox namespace is {box.netns} (/run/netns/{box.netns}), as you recorded")
    if answer == NAMESPACE or not answer.startswith(RUNTIME_PREFIX):
        cause = (f"{answer or 'that'} is not the runtime's namespace for {POD}: `crictl inspectp` on the sandbox "
                 "shows the network namespace path the runtime made (a cni-... name under /run/netns)")
    else:
        cause = (f"{answer} belongs to another Pod's sandbox; find {POD}'s with "
                 f"`crictl pods --name {POD} --state ready -q` and `crictl inspectp`")
    return _wrong_answer("netns", answer, box.netns, f"{POD}'s sandbox uses {box.netns}", cause)


@register(needs=('node',))
def answer_veth(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    answer = _answer(ctx, "veth").split("@")[0]
    if box.veth is None or box.eth is None:
        return Outcome.error(f"could not find the node's end of {POD}'s veth on {box.node}")
    if answer == box.veth.name:
        return Outcome.passed(f"{box.veth.name} (ifindex {box.veth.index}) on the node is the peer of {POD}'s "
                              f"{box.eth.name}, as you recorded")
    if answer == box.eth.name:
        cause = (f"{box.eth.name} is the Pod's end, inside {box.netns}; record its peer in the node's root namespace: "
                 f"`ip -n {box.netns} link show {box.eth.name}` shows {box.eth.name}@if{box.veth.index}, "
                 f"and ifindex {box.veth.index} on the node is the veth you want")
    else:
        cause = (f"{answer or 'that'} is not the peer of {POD}'s {box.eth.name}: "
                 f"its peer's ifindex on the node is {box.veth.index} (`ip -o link | grep '^{box.veth.index}:'`)")
    return _wrong_answer("veth", answer, box.veth.name, f"the node's end of {POD}'s veth is {box.veth.name}", cause)


@register(needs=('node',))
def answer_pod_ip(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    answer = _answer(ctx, "pod-ip").split("/")[0]
    inside = [a.split("/")[0] for a in (box.eth.ipv4 if box.eth else [])]
    if answer and answer == box.pod_ip and answer in inside:
        return Outcome.passed(f"{answer} is on {box.eth.name} inside {box.netns} and is {POD}'s IP")
    pod = ctx.get("Pod", POD) or {}
    host_ip = pod.get("status", {}).get("hostIP")
    cause = (f"{answer} is the node's address (status.hostIP); the Pod's address is on {box.eth.name if box.eth else 'eth0'} "
             f"inside {box.netns}" if answer and answer == host_ip else
             f"read the address on {box.eth.name if box.eth else 'eth0'} inside the sandbox namespace: "
             f"`ip -n {box.netns} addr show`")
    eth = box.eth.name if box.eth else "eth0"
    return _wrong_answer("pod-ip", answer, box.pod_ip, f"{eth} in {box.netns} has {', '.join(inside) or 'no address'}",
                         cause)


@register(needs=('node',))
def answer_pause_pid(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    answer = _answer(ctx, "pause-pid")
    if answer == str(box.pid):
        comm = ctx.exec_on_node(box.node, ["cat", f"/proc/{box.pid}/comm"]).stdout.strip()
        return Outcome.passed(f"pid {box.pid} ({comm}) is the sandbox's process, holding {box.netns} open")
    if answer.isdigit() and int(answer) in box.container_pids:
        cause = (f"pid {answer} is container {box.container_pids[int(answer)]}'s process, not the pause process: "
                 "containers join the namespace, the sandbox's pause process holds it open; "
                 "`crictl inspectp <sandbox id>` shows that process as info.pid")
    else:
        cause = (f"`crictl inspectp <sandbox id>` shows the pause process as info.pid; "
                 f"`ip netns identify <pid>` on the node then prints {box.netns}")
    return _wrong_answer("pause-pid", answer, str(box.pid), f"{POD}'s sandbox process is pid {box.pid}", cause)
