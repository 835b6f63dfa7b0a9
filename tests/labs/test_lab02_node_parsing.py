"""Lab 02 reads the node with `ip -j`, `ss` and a server's log: its parsers, on outputs seen on kind
nodes, and its checks on node states built from them (FakeCluster answers the snapshot script)."""

import json
import sys
from pathlib import Path

import pytest

from labcheck.checks.context import CheckContext
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.checks.outcome import Status
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok


@pytest.fixture(scope="module")
def lab02():
    load_lab_functions(Path(find_lab("02").folder))
    return sys.modules["labcheck_lab_02_pod_network_by_hand"]


def link(name, index, addr=(), *, kind="veth", up=True, peer_index=None, nsid=None, peer=None, master=None):
    """One link as `links` (ip -j -d addr show through jq) prints it."""
    flags = ["BROADCAST", "UP", "LOWER_UP"] if up else ["BROADCAST"]
    return {"ifname": name, "ifindex": index, "flags": flags, "operstate": "UP" if up else "DOWN", "link": peer,
            "link_index": peer_index, "link_netnsid": nsid, "master": master, "kind": kind, "addr": list(addr)}


LO_DOWN = {**link("lo", 1, kind=None, up=False), "flags": ["LOOPBACK"]}
# A pair with one end moved into mypodns (nsid 5 as the root namespace sees it).
ROOT = [
    {**link("lo", 1, ["127.0.0.1/8"], kind=None), "flags": ["LOOPBACK", "UP", "LOWER_UP"]},
    link("eth0", 23, ["172.18.0.5/16"], peer_index=24, nsid=0),  # the node's own: its peer is Docker's
    link("veth-host", 7, ["10.200.0.1/24"], peer_index=2, nsid=5),
]
INSIDE = [LO_DOWN, link("veth-pod", 2, ["10.200.0.2/24"], peer_index=7, nsid=0)]


def node_output(root=ROOT, inside=INSIDE, *, root_routes=(), routes=(), listen=""):
    """What the snapshot script prints for a node with mypodns."""
    return "\n".join([
        "@@netns", json.dumps([{"name": "mypodns", "id": 5}]),
        "@@addr root", json.dumps(root), "@@route root", json.dumps(list(root_routes)), "@@listen root",
        "@@addr mypodns", json.dumps(inside), "@@route mypodns", json.dumps(list(routes)), "@@listen mypodns", listen,
    ])


def judge(lab02, function, output):
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netlabs-control-plane"}}
    cluster = FakeCluster([node], exec_answer=lambda where, command: ok(output))
    return getattr(lab02, function)(CheckContext(cluster=cluster, namespace="lab02"))


def test_the_peer_in_the_root_namespace_is_found_by_nsid_and_ifindex(lab02):
    listen = 'LISTEN 0      5            0.0.0.0:8080      0.0.0.0:*    users:(("python3",pid=4242,fd=3))'
    sections = lab02._sections(node_output(listen=listen))
    root, inside = lab02._links(json.loads(sections["addr root"])), lab02._links(json.loads(sections["addr mypodns"]))
    snap = lab02.Snapshot("node", {"root": lab02.Namespace("root", root), "mypodns": lab02.Namespace("mypodns", inside)},
                          {"mypodns": 5})
    assert snap.root_peer("mypodns", inside["veth-pod"]).name == "veth-host"
    assert snap.namespace_of_peer(root["veth-host"]) == "mypodns"
    assert snap.namespace_of_peer(root["eth0"]) is None  # the node's own eth0 leads out of the node
    assert not inside["lo"].admin_up and inside["veth-pod"].admin_up
    [server] = lab02._listeners(sections["listen mypodns"])
    assert (server.process, server.pid, server.port, server.loopback_only) == ("python3", 4242, 8080, False)


def test_a_pair_left_in_the_root_namespace_names_its_peer(lab02):
    links = lab02._links([{"ifname": "veth-host", "ifindex": 7, "link": "veth-pod", "kind": "veth", "addr": []}])
    assert links["veth-host"].peer_name == "veth-pod" and links["veth-host"].peer_index is None


@pytest.mark.parametrize("line, client", [
    ('127.0.0.1 - - [22/Nov/2026 03:00:00] "GET / HTTP/1.1" 200 -', "127.0.0.1"),
    ('::ffff:127.0.0.1 - - [22/Nov/2026 03:00:00] "GET / HTTP/1.1" 200 -', "127.0.0.1"),
    ("10.200.0.1:40210: response:200", "10.200.0.1"),
    ("[::1]:40210: response:200", "::1"),
    ("Serving HTTP on 0.0.0.0 port 8080", None),
    ("", None),
])
def test_client_addresses_are_read_from_server_logs(lab02, line, client):
    assert lab02.client_address(line) == client


@pytest.mark.parametrize("address, loopback_only", [
    ("127.0.0.1", True), ("[::1]", True), ("0.0.0.0", False), ("*", False), ("[::]", False), ("10.200.0.2", False),
])
def test_a_listener_on_loopback_only_is_told_apart(lab02, address, loopback_only):
    assert lab02.Listener(address, 8080, "python3", 1).loopback_only is loopback_only


def test_the_pod_networks_own_bridge_is_not_the_learners(lab02):
    """kube-bridge (every Pod's veth is its port) is on the node before step 5; only other bridges count."""
    bridge = link("kube-bridge", 3, ["10.244.0.1/24"], kind="bridge")
    mine = link("docker0", 40, ["10.201.0.1/24"], kind="bridge")
    sections = lab02._sections("\n".join(["@@addr root", json.dumps(ROOT + [bridge, mine])]))
    snap = lab02.Snapshot("node", {"root": lab02.Namespace("root", lab02._links(json.loads(sections["addr root"])))}, {})
    assert lab02._bridge_groups(snap)[0] == ["docker0"]
    del snap.root.links["docker0"]
    assert lab02._bridge_groups(snap)[0] == []


# --- the veth pair's addresses and route (issue 17: a cause must not advise what the kernel refuses) ---


APART = [LO_DOWN, link("veth-pod", 2, ["10.200.0.2/24"], peer_index=7, nsid=0)]
ROOT_APART = ROOT[:2] + [link("veth-host", 7, ["10.200.1.1/24"], peer_index=2, nsid=5)]


def test_ends_in_different_subnets_fail_the_addressing_check_naming_both(lab02):
    outcome = judge(lab02, "addresses_on_both_ends", node_output(ROOT_APART, APART))
    assert outcome.status == Status.FAIL and outcome.final
    assert "10.200.0.2/24 and 10.200.1.1/24 are in different subnets" in outcome.cause
    assert "Nexthop has invalid gateway" in outcome.cause
    # the address proposed is in the root end's subnet and used by no interface
    assert "addr add 10.200.1.2/24 dev veth-pod" in outcome.cause


def test_the_route_cause_says_the_subnets_differ_instead_of_advising_a_refused_gateway(lab02):
    outcome = judge(lab02, "default_route", node_output(ROOT_APART, APART))
    assert outcome.status == Status.FAIL
    assert outcome.cause.startswith("10.200.0.2/24 and 10.200.1.1/24 are in different subnets")
    assert "put both ends in one subnet" in outcome.cause and "Nexthop has invalid gateway" in outcome.cause


def test_one_subnet_without_a_route_is_told_to_add_the_route(lab02):
    outcome = judge(lab02, "default_route", node_output())
    assert outcome.status == Status.FAIL and "different subnets" not in outcome.cause
    assert "`ip -n mypodns route add default via 10.200.0.1`" in outcome.cause


def test_point_to_point_addresses_with_link_routes_reach_each_other(lab02):
    """Calico's way: /32 on both ends and a route to the peer through the link; different subnets, yet linked."""
    root = ROOT[:2] + [link("veth-host", 7, ["10.200.0.1/32"], peer_index=2, nsid=5)]
    inside = [LO_DOWN, link("veth-pod", 2, ["10.200.0.2/32"], peer_index=7, nsid=0)]
    routes = [{"dst": "default", "gateway": "10.200.0.1", "dev": "veth-pod"},
              {"dst": "10.200.0.1", "dev": "veth-pod", "scope": "link"}]
    output = node_output(root, inside, root_routes=[{"dst": "10.200.0.2", "dev": "veth-host", "scope": "link"}],
                         routes=routes)
    assert judge(lab02, "addresses_on_both_ends", output).status == Status.PASS
    assert judge(lab02, "default_route", output).status == Status.PASS
    # without the root's route back, the root end cannot answer
    assert judge(lab02, "addresses_on_both_ends", node_output(root, inside, routes=routes)).status == Status.FAIL


def test_a_default_route_by_device_alone_passes(lab02):
    output = node_output(routes=[{"dst": "default", "dev": "veth-pod", "scope": "link"}])
    assert judge(lab02, "default_route", output).status == Status.PASS


def test_a_gateway_no_interface_has_is_named(lab02):
    output = node_output(routes=[{"dst": "default", "gateway": "10.200.0.9", "dev": "veth-pod"}])
    outcome = judge(lab02, "default_route", output)
    assert outcome.status == Status.FAIL and "via 10.200.0.9, which no interface" in outcome.summary
    assert "route replace default via 10.200.0.1" in outcome.cause


def test_a_half_made_point_to_point_link_is_told_to_add_the_missing_route(lab02):
    root = ROOT[:2] + [link("veth-host", 7, ["10.200.0.1/32"], peer_index=2, nsid=5)]
    inside = [LO_DOWN, link("veth-pod", 2, ["10.200.0.2/32"], peer_index=7, nsid=0)]
    outcome = judge(lab02, "addresses_on_both_ends", node_output(root, inside))
    assert outcome.status == Status.FAIL
    assert "`ip route add 10.200.0.2/32 dev veth-host`" in outcome.cause  # no free address in a /32 to propose
