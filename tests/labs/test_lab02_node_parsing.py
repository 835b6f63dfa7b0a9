"""Lab 02 reads the node with `ip -j`, `ss` and a server's log: its parsers, on outputs seen on kind nodes."""

import json
import sys
from pathlib import Path

import pytest

from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab


@pytest.fixture(scope="module")
def lab02():
    load_lab_functions(Path(find_lab("02").folder))
    return sys.modules["labcheck_lab_02_pod_network_by_hand"]


# What `links` (ip -j -d addr show through jq) printed for a pair with one end moved into mypodns.
ROOT = [
    {"ifname": "lo", "ifindex": 1, "flags": ["LOOPBACK", "UP", "LOWER_UP"], "operstate": "UNKNOWN", "link": None,
     "link_index": None, "link_netnsid": None, "master": None, "kind": None, "addr": ["127.0.0.1/8"]},
    {"ifname": "eth0", "ifindex": 23, "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP", "link": None,
     "link_index": 24, "link_netnsid": 0, "master": None, "kind": "veth", "addr": ["172.18.0.5/16"]},
    {"ifname": "veth-host", "ifindex": 7, "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP", "link": None,
     "link_index": 2, "link_netnsid": 5, "master": None, "kind": "veth", "addr": ["10.200.0.1/24"]},
]
INSIDE = [
    {"ifname": "lo", "ifindex": 1, "flags": ["LOOPBACK"], "operstate": "DOWN", "link": None, "link_index": None,
     "link_netnsid": None, "master": None, "kind": None, "addr": []},
    {"ifname": "veth-pod", "ifindex": 2, "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP", "link": None,
     "link_index": 7, "link_netnsid": 0, "master": None, "kind": "veth", "addr": ["10.200.0.2/24"]},
]


def test_the_peer_in_the_root_namespace_is_found_by_nsid_and_ifindex(lab02):
    text = "\n".join([
        "@@netns", json.dumps([{"name": "mypodns", "id": 5}]),
        "@@addr root", json.dumps(ROOT),
        "@@addr mypodns", json.dumps(INSIDE),
        "@@listen mypodns",
        'LISTEN 0      5            0.0.0.0:8080      0.0.0.0:*    users:(("python3",pid=4242,fd=3))',
    ])
    sections = lab02._sections(text)
    root, inside = lab02._links(json.loads(sections["addr root"])), lab02._links(json.loads(sections["addr mypodns"]))
    snap = lab02.Snapshot("node", {"root": lab02.Namespace("root", root), "mypodns": lab02.Namespace("mypodns", inside)},
                          {"mypodns": 5}, {}, {"mypodns"})
    assert snap.root_peer("mypodns", inside["veth-pod"]).name == "veth-host"
    assert snap.namespace_of_peer(root["veth-host"]) == "mypodns"
    assert snap.namespace_of_peer(root["eth0"]) is None  # the node's own eth0 leads out of the node
    assert not inside["lo"].admin_up and inside["veth-pod"].running
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
    bridge = {"ifname": "kube-bridge", "ifindex": 3, "flags": ["BROADCAST", "UP", "LOWER_UP"], "operstate": "UP",
              "link": None, "link_index": None, "link_netnsid": None, "master": None, "kind": "bridge",
              "addr": ["10.244.0.1/24"]}
    mine = {**bridge, "ifname": "docker0", "ifindex": 40, "addr": ["10.201.0.1/24"]}
    text = "\n".join(["@@addr root", json.dumps(ROOT + [bridge, mine]), "@@cnibridges", "kube-bridge"])
    sections = lab02._sections(text)
    root = lab02._links(json.loads(sections["addr root"]))
    cni = {line for line in sections["cnibridges"].splitlines() if line}
    snap = lab02.Snapshot("node", {"root": lab02.Namespace("root", root)}, {}, {}, set(), cni)
    assert [b.name for b in lab02._bridges(snap)] == ["docker0"]
    del root["docker0"]
    assert lab02._bridges(snap) == []
    assert "kube-bridge" in lab02._cni_bridges_note(snap)
