"""Python checks of lab 02: network namespaces, veth pairs and a bridge built by hand on a node.

What one command and one pattern show (a namespace's own loopback, links up, a
bridge, the node answering) is a `probe: {node: ...}` in lab.yaml; what needs
the learner's own names and addresses is here. Everything is read on the kind
node (docker exec): `ip -j` for namespaces, links, addresses and routes, `ss`
for listening sockets, bash's /dev/tcp for reachability. The learner may choose
any interface names and addresses; only mypodns and the Pod mypod are fixed.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass, field

from labcheck.lab import CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, objects, register

NAMESPACE, POD, ROOT, ANSWER = "mypodns", "mypod", "root", "answer-mypod"
RUNTIME_PREFIX = "cni-"  # the container runtime's namespaces, made for real Pods; the learner's are all others
#: The Pod network's own bridges (kube-router's, the bridge plugin's default): the node's, not the learner's.
POD_NETWORK_BRIDGES = frozenset({"kube-bridge", "cni0"})
on_node = register(needs=("node",))  # every check here reads the node

# One look at the node: every namespace the learner may have made, with its links (ip -d:
# veth peers, bridge ports), addresses, routes and listeners. `links` keeps only the fields
# the checks read, so evidence stays readable.
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
echo "@@addr root"; links | jq -c --argjson cni "$cni" \
  '[.[] | select(.link_netnsid as $id | $id == null or ([$cni[] | select(. == $id)] | length) == 0)]'
echo "@@route root"; ip -j route show
echo "@@listen root"; ss -Hltnp
for ns in $(ip netns list | awk '$1 !~ /^cni-/ {print $1}'); do
  echo "@@addr $ns"; links -n "$ns"
  echo "@@route $ns"; ip -n "$ns" -j route show 2>&1
  echo "@@listen $ns"; ip netns exec "$ns" ss -Hltnp 2>&1
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
    peer_index: int | None  # the peer's ifindex and namespace id, when it lives in another namespace
    peer_nsid: int | None
    peer_name: str | None  # the peer's name, when it lives in the same namespace
    master: str | None
    ipv4: list[str]

    @property
    def admin_up(self) -> bool:
        return "UP" in self.flags

    def networks(self) -> list[ipaddress.IPv4Interface]:
        return [ipaddress.IPv4Interface(a) for a in self.ipv4]

    def addresses(self) -> list[str]:
        return [str(n.ip) for n in self.networks()]


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
    error: str | None = None

    def veths(self) -> list[Link]:
        return [link for link in self.links.values() if link.kind == "veth"]

    def on_link(self, link: Link, address: str) -> bool:
        """Whether packets to `address` leave straight out of `link`, with no gateway: it is in one
        of the link's subnets, or a route through the link without a gateway covers it (a /32
        address with a route to its peer, as Calico does)."""
        ip = ipaddress.ip_address(address)
        if any(ip in net.network for net in link.networks()):
            return True
        for route in self.routes:
            dst = route.get("dst") or ""
            dst = "0.0.0.0/0" if dst == "default" else dst if "/" in dst else f"{dst}/32"
            if route.get("dev") == link.name and not route.get("gateway") and dst != "/32" \
                    and ip in ipaddress.ip_network(dst, strict=False):
                return True
        return False


@dataclass
class Snapshot:
    node: str
    namespaces: dict[str, Namespace]
    nsids: dict[str, int]  # named namespace -> its id as the root namespace sees it

    @property
    def root(self) -> Namespace:
        return self.namespaces[ROOT]

    def learner_namespaces(self) -> list[str]:
        return sorted(n for n in self.namespaces if n != ROOT)

    def root_peer(self, namespace: str, link: Link) -> Link | None:
        """The root-namespace end of a veth whose other end is `link` in `namespace`."""
        nsid = self.nsids.get(namespace)
        return next((c for c in self.root.veths() if nsid is not None and c.peer_nsid == nsid
                     and c.peer_index == link.index), None)

    def namespace_of_peer(self, link: Link) -> str | None:
        """For a root veth: the named namespace its peer lives in."""
        return next((name for name, nsid in self.nsids.items() if link.peer_nsid is not None
                     and nsid == link.peer_nsid), None)

    def free_address(self, network: ipaddress.IPv4Interface) -> str | None:
        """An address of `network` that no interface on the node has (one to suggest), if any."""
        used = {a for ns in self.namespaces.values() for link in ns.links.values() for a in link.addresses()}
        host = next((str(h) for h in network.network.hosts() if str(h) not in used), None)
        return host and f"{host}/{network.network.prefixlen}"


def _sections(text: str) -> dict[str, str]:
    """A script's output by the `@@name` lines that head its parts."""
    parts = re.split(r"^@@(.*)$", text, flags=re.MULTILINE)
    return {name.strip(): body.strip() for name, body in zip(parts[1::2], parts[2::2])}


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
            item["ifname"], item.get("ifindex") or 0, item.get("kind"), item.get("flags") or [],
            item.get("link_index") if other_ns else None, item.get("link_netnsid"),
            item.get("link") if not other_ns else None, item.get("master"), list(item.get("addr") or []))
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


def snapshot(ctx: CheckContext) -> Snapshot:
    """The node the lab's steps work on (the first by name: `kubectl get nodes -o name | head -1`), read."""
    node = min(objects.nodes(ctx), default=None)
    if node is None:
        raise ClusterUnavailable("the cluster lists no nodes")
    result = ctx.exec_on_node(node, ["bash", "-c", _SNAPSHOT])
    if result.returncode != 0 or "@@addr root" not in result.stdout:
        raise ClusterUnavailable(f"cannot read network namespaces on node {node}: "
                                 f"{(result.stderr or result.stdout).strip()[:200]}")
    sections = _sections(result.stdout)
    nsids = {e["name"]: e["id"] for e in _json(sections.get("netns", "")) or [] if "id" in e}
    namespaces: dict[str, Namespace] = {}
    for key, text in sections.items():
        what, _, name = key.partition(" ")
        if what not in ("addr", "route", "listen") or not name:
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
        else:
            ns.listeners = _listeners(text)
    return Snapshot(node, namespaces, nsids)


#: What a failed connection attempt says, by the words bash printed; the verdict when none matches.
_REACH_WORDS = {
    "connection refused": ("refused", "the address answered but nothing accepts on that port"),
    "network is unreachable": ("unreachable", "network is unreachable: the namespace has no route to that address"),
    "no route to host": ("no-route", "no route to host: nothing answered ARP for the next hop"),
}


def connect(ctx: CheckContext, node: str, namespace: str, address: str, port: int) -> tuple[str, str, str, str]:
    """A TCP connection attempt from a namespace: (verdict, what it means, the last line printed, the command);
    verdict: connected, refused (an answer too: the packet got there and back), unreachable, no-route, timeout, error."""
    attempt = f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}'"
    command = attempt if namespace == ROOT else f"ip netns exec {namespace} {attempt}"
    result = ctx.exec_on_node(node, ["bash", "-c", f"{command} 2>&1 && echo CONNECTED"])
    text = (result.stdout + result.stderr).strip()
    timed_out = result.returncode == 124 or result.timed_out
    verdict, meaning = next((v for words, v in _REACH_WORDS.items() if words in text.lower()),
                            ("timeout", "no answer within 3 s") if timed_out else ("error", "the attempt failed"))
    verdict, meaning = ("connected", "connected") if "CONNECTED" in text else (verdict, meaning)
    return verdict, meaning, text.splitlines()[-1] if text else f"exit code {result.returncode}", command


def _need_namespace(snap: Snapshot) -> Namespace:
    ns = snap.namespaces.get(NAMESPACE)
    if ns is None or ns.error:
        raise TargetUnavailable(f"network namespace {NAMESPACE} is missing on node {snap.node} (step 1 creates it)")
    return ns


# --- step 2: the veth pair --------------------------------------------------------------


def _veth_pair(snap: Snapshot) -> tuple[Link, Link] | Outcome:
    ns = _need_namespace(snap)
    for link in ns.veths():
        peer = snap.root_peer(NAMESPACE, link)
        if peer is not None:
            return link, peer
    # Why not: classify the learner's veths.
    both_inside = [v for v in ns.veths() if v.peer_name]
    root_pairs = [v for v in snap.root.veths() if v.peer_name and v.peer_name in snap.root.links]
    elsewhere = [(v, n) for v in snap.root.veths() if (n := snap.namespace_of_peer(v)) not in (None, NAMESPACE)]
    if both_inside:
        v = both_inside[0]
        return Outcome.failed(
            f"both ends of veth pair {v.name}/{v.peer_name} are inside {NAMESPACE}",
            expected=f"one end in {NAMESPACE}, its peer in the node's root namespace",
            observed=f"{NAMESPACE} holds {v.name} and {v.peer_name}",
            cause=f"move one end back to the root namespace: `ip -n {NAMESPACE} link set {v.peer_name} netns 1`")
    if root_pairs:
        v = root_pairs[0]
        # The message moves v's peer: make that the end not named as the host's.
        if "host" in (v.peer_name or "") and "host" not in v.name:
            v = snap.root.links[v.peer_name]
        return Outcome.failed(
            f"veth pair {v.name}/{v.peer_name} exists, but both ends are still in the root namespace",
            expected=f"one end moved into {NAMESPACE}",
            observed=f"{v.name} and {v.peer_name} both in the root namespace of {snap.node}; "
                     f"{NAMESPACE} has only {', '.join(sorted(ns.links))}",
            cause=f"a new veth pair starts with both ends in the root namespace: "
                  f"`ip link set {v.peer_name} netns {NAMESPACE}` moves one end into the Pod's namespace")
    if elsewhere:
        v, other = elsewhere[0]
        return Outcome.failed(
            f"veth {v.name}'s peer is in namespace {other}, not in {NAMESPACE}", expected=f"a veth end in {NAMESPACE}",
            observed=f"{v.name} (root) <-> namespace {other}",
            cause=f"move the end into {NAMESPACE}: it is the namespace this step links to the root namespace")
    return Outcome.failed(
        f"{NAMESPACE} has no veth link to the root namespace", expected=f"a veth pair with one end in {NAMESPACE}",
        observed=f"{NAMESPACE} has {', '.join(sorted(ns.links)) or 'no interfaces'}",
        cause=("create a pair (`ip link add veth-host type veth peer name veth-pod`) and move one end "
               f"into the namespace (`ip link set veth-pod netns {NAMESPACE}`)"))


def _on_pair(check):
    """Give a check the node snapshot and mypodns's veth pair; without the pair, that failure is the outcome."""

    @functools.wraps(check)
    def run(ctx: CheckContext) -> Outcome:
        snap = snapshot(ctx)
        pair = _veth_pair(snap)
        return pair if isinstance(pair, Outcome) else check(ctx, snap, *pair)

    return run


@on_node
@_on_pair
def veth_into_namespace(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    return Outcome.passed(f"{inside.name} in {NAMESPACE} is paired with {outside.name} in the root namespace "
                          f"(ifindex {inside.index} <-> {outside.index})")


def _linked(snap: Snapshot, inside: Link, outside: Link) -> bool:
    """Each end reaches an address of the other straight over the pair (one subnet, or link routes)."""
    return (any(snap.namespaces[NAMESPACE].on_link(inside, a) for a in outside.addresses())
            and any(snap.root.on_link(outside, a) for a in inside.addresses()))


def _subnets_differ(snap: Snapshot, inside: Link, outside: Link) -> str:
    """Why the ends cannot reach each other, and a fix the kernel accepts."""
    gateway, suggestion = outside.addresses()[0], snap.free_address(outside.networks()[0])
    refused = "" if snap.namespaces[NAMESPACE].on_link(inside, gateway) else \
        f", and the kernel refuses a route via {gateway} (\"Nexthop has invalid gateway\")"
    fix = (f"put both ends in one subnet, e.g. `ip -n {NAMESPACE} addr flush dev {inside.name}` and "
           f"`ip -n {NAMESPACE} addr add {suggestion} dev {inside.name}`") if suggestion else \
        (f"give each end a route to the other through the pair: `ip route add {inside.addresses()[0]}/32 dev "
         f"{outside.name}` and `ip -n {NAMESPACE} route add {gateway}/32 dev {inside.name}`")
    return (f"{', '.join(inside.ipv4)} and {', '.join(outside.ipv4)} are in different subnets, so the ends do not "
            f"reach each other over the pair{refused}: {fix}")


@on_node
@_on_pair
def addresses_on_both_ends(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    observed = f"{inside.name}: {', '.join(inside.ipv4) or 'none'}; {outside.name}: {', '.join(outside.ipv4) or 'none'}"
    missing = [end for end in (inside, outside) if not end.ipv4]
    if missing:
        end = missing[0]
        other = outside if end is inside else inside
        example = (snap.free_address(other.networks()[0]) if other.ipv4 else None) or \
            ("10.200.0.2/24" if end is inside else "10.200.0.1/24")
        return Outcome.failed(
            " and ".join(f"{e.name} (in {NAMESPACE if e is inside else 'the root namespace'})" for e in missing)
            + " has no IPv4 address",
            expected="an address on each end of the pair", observed=observed,
            cause=(f"each end of a veth is an interface in its own namespace and needs its own address: "
                   f"`ip {f'-n {NAMESPACE} ' if end is inside else ''}addr add {example} dev {end.name}`"
                   + (f", in the same subnet as {other.ipv4[0]}" if other.ipv4 else "")))
    if not _linked(snap, inside, outside):
        return Outcome.failed(
            f"{inside.name} and {outside.name} have addresses in different subnets",
            expected="both ends in one subnet (or a route through the pair to the other end)", observed=observed,
            cause=_subnets_differ(snap, inside, outside), final=True)
    return Outcome.passed(f"{inside.name} has {', '.join(inside.ipv4)}, {outside.name} has {', '.join(outside.ipv4)}: "
                          "each reaches the other over the pair")


@on_node
@_on_pair
def default_route(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    ns = snap.namespaces[NAMESPACE]
    route = next((r for r in ns.routes if r.get("dst") == "default"), None)
    gateway = (outside.addresses() or ["<root end's address>"])[0]
    expected = f"default via {gateway} dev {inside.name}"
    if route is None:
        if outside.ipv4 and not ns.on_link(inside, gateway):
            cause = _subnets_differ(snap, inside, outside) + f"; then `ip -n {NAMESPACE} route add default via {gateway}`"
        else:
            cause = (f"without a default route {NAMESPACE} reaches only its own subnet; like a Pod, send everything "
                     f"else to the root end: `ip -n {NAMESPACE} route add default via {gateway}`")
        return Outcome.failed(f"{NAMESPACE} has no default route", expected=expected, cause=cause,
                              observed="; ".join(f"{r.get('dst')} dev {r.get('dev')}" for r in ns.routes) or "no routes")
    if route.get("dev") != inside.name:
        return Outcome.failed(
            f"{NAMESPACE}'s default route leaves through {route.get('dev')}, not the veth {inside.name}",
            expected=expected, observed=json.dumps(route),
            cause=f"the root namespace is reached through the veth: `ip -n {NAMESPACE} route replace default via {gateway}`")
    via = route.get("gateway")
    root_addresses = {a for link in snap.root.links.values() for a in link.addresses()}
    if via and via not in root_addresses:
        return Outcome.failed(
            f"{NAMESPACE}'s default route goes via {via}, which no interface of the root namespace has",
            expected=expected, observed=json.dumps(route),
            cause=(f"nothing answers for {via}, so packets for the node go nowhere; the next hop is the root end "
                   f"{outside.name}: `ip -n {NAMESPACE} route replace default via {gateway}`"))
    return Outcome.passed(f"{NAMESPACE}: default {'via ' + via + ' ' if via else ''}dev {inside.name}")


# --- step 3: a server inside the namespace ----------------------------------------------------


_NODE_PROGRAMS = {"kubelet", "containerd", "kube-apiserver", "etcd", "kube-controller", "kube-scheduler",
                  "kube-proxy", "coredns", "kindnetd", "kube-router", "local-path-prov", "systemd", "systemd-resolve",
                  "rpcbind", "sshd", "containerd-shim", "?"}


def _server(ns: Namespace) -> Listener | None:
    tcp = [lst for lst in ns.listeners if lst.port]
    reachable = [lst for lst in tcp if not lst.loopback_only]
    return (reachable or tcp or [None])[0]


@on_node
def server_in_namespace(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx)
    server = _server(_need_namespace(snap))
    if server is not None:
        return Outcome.passed(f"{server.process} (pid {server.pid}) listens on {server.address}:{server.port} "
                              f"inside {NAMESPACE}")
    expected = f"a listening TCP socket inside {NAMESPACE} (`ip netns exec {NAMESPACE} ss -ltnp`)"
    stray = next((lst for lst in snap.root.listeners if lst.process not in _NODE_PROGRAMS), None)
    if stray:
        return Outcome.failed(
            f"nothing listens inside {NAMESPACE}, but {stray.process} (pid {stray.pid}) listens on "
            f"{stray.address}:{stray.port} in the node's root namespace",
            expected=expected, observed=f"root namespace: {stray.process} on {stray.address}:{stray.port}",
            cause=(f"a process starts in the namespace of whoever started it: start the server with "
                   f"`ip netns exec {NAMESPACE} ...` so it lives in the Pod's namespace, and stop the one in "
                   f"the root namespace (kill {stray.pid})"))
    return Outcome.failed(
        f"nothing listens inside {NAMESPACE}", expected=expected, observed="no listening TCP sockets there",
        cause=(f"start a server inside the namespace, e.g. `ip netns exec {NAMESPACE} python3 -m http.server 8080 "
               f"--bind 0.0.0.0` in the background; if you started one, it may have exited: see its log"))


@on_node
@_on_pair
def server_reachable_from_root(ctx: CheckContext, snap: Snapshot, inside: Link, outside: Link) -> Outcome:
    server = _server(snap.namespaces[NAMESPACE])
    if server is None:
        raise TargetUnavailable(f"nothing listens inside {NAMESPACE} (see the previous check)")
    if not inside.ipv4:
        raise TargetUnavailable(f"{inside.name} has no address (step 2)")
    address = inside.addresses()[0]
    verdict, meaning, detail, command = connect(ctx, snap.node, ROOT, address, server.port)
    if verdict == "connected":
        return Outcome.passed(f"from the root namespace, {address}:{server.port} ({server.process} inside "
                              f"{NAMESPACE}) accepted a connection")
    if server.loopback_only:
        cause = (f"{server.process} listens only on {server.address}, the loopback of {NAMESPACE}: each namespace "
                 "has its own loopback, which no other namespace can reach; listen on 0.0.0.0 (every address "
                 f"of the namespace) or on {address}")
    elif verdict == "refused":
        cause = f"{address} answered but nothing accepts on port {server.port} there"
    else:
        cause = f"{meaning} (check step 2 again)"
    return Outcome.failed(
        f"from the root namespace, {address}:{server.port} did not accept a connection ({verdict})",
        expected=f"a TCP connection to {server.process} inside {NAMESPACE} through {inside.name}",
        observed=f"`{command}`: {detail}; the server listens on {server.address}:{server.port}", cause=cause)


# --- step 4: a second process joins the namespace ----------------------------------------------


def client_address(line: str) -> str | None:
    """The client address a server's log line starts with ("127.0.0.1 - - [...]", "[::1]:4242: ...")."""
    token = (line.split() or [""])[0].rstrip(":")
    for candidate in (token, token[1:].split("]")[0], token.rsplit(":", 1)[0]):
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        # a dual-stack server logs IPv4 clients as ::ffff:a.b.c.d
        return str(address.ipv4_mapped or address if address.version == 6 else address)
    return None


@on_node
def client_over_localhost(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx)
    node = snap.node
    ns = _need_namespace(snap)
    server = _server(ns)
    if server is None or server.pid is None:
        raise TargetUnavailable(f"no server listens inside {NAMESPACE} (step 3)")
    read = ctx.exec_on_node(node, ["bash", "-c", f'log=$(readlink /proc/{server.pid}/fd/2); echo "$log"; '
                                                 f'[ -f "$log" ] && tail -n 200 "$log"'])
    lines = read.stdout.splitlines()
    log = lines[0] if lines else ""
    if read.returncode != 0 or not log.startswith("/"):
        return Outcome.failed(
            f"cannot read the log of {server.process} (pid {server.pid}): its stderr is {log or 'gone'}",
            expected="the server's log in a file (its stderr)", observed=log or read.stderr.strip()[:200],
            cause=(f"start the server with its log going to a file, e.g. `ip netns exec {NAMESPACE} python3 -m "
                   f"http.server 8080 --bind 0.0.0.0 2>>/var/log/{NAMESPACE}-http.log &`"))
    clients = [c for c in map(client_address, lines[1:]) if c]
    loopback = [c for c in clients if ipaddress.ip_address(c).is_loopback]
    if loopback:
        return Outcome.passed(f"{server.process} logged a request from {loopback[-1]}: a second process inside "
                              f"{NAMESPACE} reached it over localhost", observed=f"log {log}")
    pair = _veth_pair(snap)
    own, root_end = (set(pair[0].addresses()), set(pair[1].addresses())) if isinstance(pair, tuple) else (set(), set())
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
    return Outcome.failed(
        f"{server.process}'s log shows no request from a loopback address",
        expected=f"a request from 127.0.0.1 (or ::1) in {log}", observed=f"clients logged: {', '.join(seen) or 'none'}",
        cause=cause)


# --- step 5: a bridge with two namespaces --------------------------------------------------------


@dataclass
class Attachment:
    namespace: str
    inside: Link
    port: Link  # the root-namespace end


def _bridge_groups(snap: Snapshot) -> tuple[list[str], dict[str, list[Attachment]], list[Attachment]]:
    """The learner's bridges, the namespaces' veths attached to each, and those attached to none."""
    bridges = [n for n, link in snap.root.links.items() if link.kind == "bridge" and n not in POD_NETWORK_BRIDGES]
    groups: dict[str, list[Attachment]] = {}
    loose = []
    for name in snap.learner_namespaces():
        for link in snap.namespaces[name].veths():
            peer = snap.root_peer(name, link)
            if peer is not None and peer.master in bridges:
                groups.setdefault(peer.master, []).append(Attachment(name, link, peer))
            elif peer is not None and name != NAMESPACE:
                loose.append(Attachment(name, link, peer))
    return bridges, groups, loose


@on_node
def namespaces_on_bridge(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx)
    bridges, groups, loose = _bridge_groups(snap)
    bridge, members = max(groups.items(), key=lambda kv: len({a.namespace for a in kv[1]}), default=(None, []))
    namespaces = sorted({a.namespace for a in members})
    broken = [a for a in members if not (a.port.admin_up and a.inside.admin_up)]
    if len(namespaces) >= 2 and not broken:
        return Outcome.passed(f"bridge {bridge} joins {len(namespaces)} namespaces: "
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
        return Outcome.failed(summary, expected="every bridge port and its namespace end UP", observed=observed,
                              cause=cause)
    if loose:
        a = loose[0]
        target = bridge or (bridges[0] if bridges else "docker0")
        return Outcome.failed(
            f"{a.port.name}, the root end of {a.namespace}'s {a.inside.name}, is not attached to bridge {target}",
            expected="the root ends of two namespaces' veths as ports of one bridge", observed=observed,
            cause=(f"a veth end in the root namespace joins a bridge only when made its port: "
                   f"`ip link set {a.port.name} master {target}`"))
    return Outcome.failed(
        f"fewer than two namespaces are attached to a bridge ({', '.join(namespaces) or 'none'})",
        expected="two namespaces, each with a veth whose root end is a port of the same bridge", observed=observed,
        cause=("for each namespace: `ip netns add container1`, `ip link add veth1 type veth peer name eth0 netns "
               "container1`, `ip link set veth1 master docker0 up`"))


@on_node
def namespaces_reach_each_other(ctx: CheckContext) -> Outcome:
    snap = snapshot(ctx)
    node = snap.node
    # the first bridge joining two namespaces, and one attachment of each
    joined = [(bridge, list({a.namespace: a for a in members}.values()))
              for bridge, members in sorted(_bridge_groups(snap)[1].items())]
    bridge, (first, second, *_) = next(((b, m) for b, m in joined if len(m) >= 2), (None, (None, None)))
    if bridge is None:
        raise TargetUnavailable("no bridge joins two namespaces yet (see the previous check)")
    if not second.inside.ipv4 or not first.inside.ipv4:
        bare = first if not first.inside.ipv4 else second
        return Outcome.failed(
            f"{bare.inside.name} in {bare.namespace} has no IPv4 address",
            expected="an address from the bridge's subnet on each namespace's end",
            observed=f"{first.namespace}: {', '.join(first.inside.ipv4) or 'none'}; "
                     f"{second.namespace}: {', '.join(second.inside.ipv4) or 'none'}",
            cause=f"`ip -n {bare.namespace} addr add <address>/24 dev {bare.inside.name}`, one subnet for both")
    target = second.inside.addresses()[0]
    verdict, meaning, detail, command = connect(ctx, node, first.namespace, target, 80)
    if verdict in ("connected", "refused"):
        return Outcome.passed(f"from {first.namespace}, {second.namespace}'s address {target} answered "
                              f"({verdict}) through bridge {bridge}")
    if not snap.namespaces[first.namespace].on_link(first.inside, target):
        cause = (f"{first.inside.ipv4[0]} and {second.inside.ipv4[0]} are in different subnets: give both "
                 "namespaces addresses from one subnet (the bridge's)")
    else:
        cause = meaning
    return Outcome.failed(
        f"from {first.namespace}, {target} in {second.namespace} did not answer ({verdict})",
        expected=f"a TCP answer from {target} (connected, or refused: nothing listens, but the host replied)",
        observed=f"`{command}`: {detail}", cause=cause)


# --- step 6: the real thing ----------------------------------------------------------------------


# mypod's sandbox as the node sees it, in one JSON line: its pause process, network namespace,
# the Pod's end of the veth pair (eth0) and the node's end (the root link whose ifindex eth0 names).
_SANDBOX = r"""
id=$(crictl pods --name '^@POD@$' --namespace '@NAMESPACE@' --state ready -q | head -n 1)
[ -n "$id" ] || { echo "no ready sandbox"; exit 3; }
info=$(crictl inspectp -o json "$id")
netns=$(basename "$(echo "$info" | jq -r '[.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path] | first')")
eth=$(ip -n "$netns" -j link show eth0 | jq -c '.[0] | {name: .ifname, index: .ifindex, peer: .link_index}')
veth=$(ip -j link show | jq -c --argjson eth "$eth" '[.[] | select(.ifindex == $eth.peer) | {name: .ifname, index: .ifindex}] | first')
containers=$(for c in $(crictl ps --pod "$id" -q); do
  crictl inspect -o json "$c" | jq -c '{(.info.pid | tostring): .status.metadata.name}'; done | jq -sc 'add // {}')
echo "$info" | jq -c --arg netns "$netns" --argjson eth "$eth" --argjson veth "$veth" --argjson containers "$containers" \
  '{pid: .info.pid, netns: $netns, eth: $eth, veth: $veth, containers: $containers}'
"""


def _sandbox(ctx: CheckContext) -> dict:
    node = objects.node_of(objects.pod(ctx, POD, running=True))
    result = ctx.exec_on_node(node, ["bash", "-c", _SANDBOX.replace("@POD@", POD).replace("@NAMESPACE@", ctx.namespace)])
    if result.returncode == 3:
        raise TargetUnavailable(f"Pod {POD} has no ready sandbox on node {node}")
    try:
        box = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise ClusterUnavailable(f"cannot inspect {POD}'s sandbox on {node}: {result.stderr.strip()[:200]}") from None
    if not box.get("veth"):
        raise ClusterUnavailable(f"could not find the node's end of {POD}'s veth on {node}")
    return {**box, "node": node}


def _wrong_answer(key: str, answer: str, truth: str, found: str, cause: str) -> Outcome:
    """A recorded fact that differs from what the node shows: final, a recorded answer does not change by itself."""
    return Outcome.failed(f"you recorded {key}={answer!r}; {found}", expected=f"{key}={truth}",
                          observed=f"{key}={answer!r}", cause=cause, final=True)


@on_node
def answer_netns(ctx: CheckContext) -> Outcome:
    netns = _sandbox(ctx)["netns"]
    answer = objects.answer(ctx, ANSWER, "netns").rsplit("/", 1)[-1]
    if answer == netns:
        return Outcome.passed(f"{POD}'s sandbox namespace is {netns} (/run/netns/{netns}), as you recorded")
    if answer == NAMESPACE or not answer.startswith(RUNTIME_PREFIX):
        cause = (f"{answer or 'that'} is not the runtime's namespace for {POD}: `crictl inspectp` on the sandbox "
                 "shows the network namespace path the runtime made (a cni-... name under /run/netns)")
    else:
        cause = (f"{answer} belongs to another Pod's sandbox; find {POD}'s with "
                 f"`crictl pods --name {POD} --state ready -q` and `crictl inspectp`")
    return _wrong_answer("netns", answer, netns, f"{POD}'s sandbox uses {netns}", cause)


@on_node
def answer_veth(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    eth, veth, netns = box["eth"]["name"], box["veth"]["name"], box["netns"]
    index = box["veth"]["index"]
    answer = objects.answer(ctx, ANSWER, "veth").split("@")[0]
    if answer == veth:
        return Outcome.passed(f"{veth} (ifindex {index}) on the node is the peer of {POD}'s {eth}, as you recorded")
    if answer == eth:
        cause = (f"{eth} is the Pod's end, inside {netns}; record its peer in the node's root namespace: "
                 f"`ip -n {netns} link show {eth}` shows {eth}@if{index}, and ifindex {index} on the node is "
                 "the veth you want")
    else:
        cause = (f"{answer or 'that'} is not the peer of {POD}'s {eth}: its peer's ifindex on the node is {index} "
                 f"(`ip -o link | grep '^{index}:'`)")
    return _wrong_answer("veth", answer, veth, f"the node's end of {POD}'s veth is {veth}", cause)


@on_node
def answer_pause_pid(ctx: CheckContext) -> Outcome:
    box = _sandbox(ctx)
    pid, answer = str(box["pid"]), objects.answer(ctx, ANSWER, "pause-pid")
    if answer == pid:
        comm = ctx.exec_on_node(box["node"], ["cat", f"/proc/{pid}/comm"]).stdout.strip()
        return Outcome.passed(f"pid {pid} ({comm}) is the sandbox's process, holding {box['netns']} open")
    if answer in box["containers"]:
        cause = (f"pid {answer} is container {box['containers'][answer]}'s process, not the pause process: "
                 "containers join the namespace, the sandbox's pause process holds it open; "
                 "`crictl inspectp <sandbox id>` shows that process as info.pid")
    else:
        cause = (f"`crictl inspectp <sandbox id>` shows the pause process as info.pid; "
                 f"`ip netns identify <pid>` on the node then prints {box['netns']}")
    return _wrong_answer("pause-pid", answer, pid, f"{POD}'s sandbox process is pid {pid}", cause)
