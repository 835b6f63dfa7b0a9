"""Lab 03's python checks on made-up clusters: lenient about the form, strict about the lesson."""

from __future__ import annotations

import pytest

from labcheck.checks import CheckContext
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok, pod

LAB = find_lab("03")
FN = load_lab_functions(LAB.folder)
NS = "lab03-test"


def node(name: str, ip: str, cidr: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}


NODES = [node("n-a", "172.18.0.3", "10.244.1.0/24"), node("n-b", "172.18.0.4", "10.244.2.0/24")]


def webserver(**extra) -> dict:
    web = pod("webserver", NS, ("nginx",), node="n-a", ip="10.244.1.2", **extra)
    web["status"]["hostIP"] = "172.18.0.3"
    return web


def client(name: str, command: list[str], *, phase="Succeeded", node_name="n-b", ip="10.244.2.3") -> dict:
    c = pod(name, NS, (name,), node=node_name, ip=ip)
    c["spec"]["containers"][0]["command"] = command
    c["status"]["phase"] = phase
    c["status"]["hostIP"] = "172.18.0.4" if node_name == "n-b" else "172.18.0.3"
    return c


def run(name: str, objects: list[dict], exec_answer=None, logs=None, **args):
    cluster = FakeCluster(NODES + objects, exec_answer=exec_answer, logs=logs)
    return FN[name](CheckContext(cluster=cluster, namespace=NS), **args)


@pytest.mark.parametrize("command", [
    ["wget", "-qO-", "http://10.244.1.2"],
    ["wget", "10.244.1.2"],  # the seed's own form: no scheme, saves index.html
    ["sh", "-c", "wget -q -O - http://10.244.1.2:80/"],
])
def test_any_wget_form_that_asks_the_pod_ip_passes(command):
    outcome = run("client_asked_pod_ip", [webserver(), client("busybox", command)], pod="busybox")
    assert outcome.status == Status.PASS, outcome.summary


@pytest.mark.parametrize("target", ["webserver", "http://webserver", "webserver:80", f"webserver.{NS}"])
def test_asking_by_pod_name_is_diagnosed(target):
    outcome = run("client_asked_pod_ip", [webserver(), client("busybox", ["wget", "-qO-", target])], pod="busybox")
    assert outcome.status == Status.FAIL and "name" in outcome.summary
    assert "no DNS name" in outcome.cause


def test_asking_the_node_ip_or_a_stale_ip_says_which():
    by_node = run("client_asked_pod_ip", [webserver(), client("busybox", ["wget", "172.18.0.3"])], pod="busybox")
    assert by_node.status == Status.FAIL and "hostIP" in by_node.cause
    stale = run("client_asked_pod_ip", [webserver(), client("busybox", ["wget", "10.244.1.9"])], pod="busybox")
    assert stale.status == Status.FAIL and "new IP" in stale.cause


def test_saved_page_counts_as_fetched():
    busybox = client("busybox", ["wget", "10.244.1.2"])
    saved = "Connecting to 10.244.1.2 (10.244.1.2:80)\nsaving to 'index.html'\n'index.html' saved\n"
    outcome = run("client_fetched_page", [busybox], logs={("busybox", None): saved}, pod="busybox")
    assert outcome.status == Status.PASS


def test_failed_wget_by_name_explains_pod_names():
    busybox = client("busybox", ["wget", "webserver"], phase="Failed")
    outcome = run("client_fetched_page", [busybox], logs={("busybox", None): "wget: bad address 'webserver'\n"},
                  pod="busybox")
    assert outcome.status == Status.FAIL and "no DNS name" in outcome.cause


def test_host_network_webserver_has_no_ip_of_its_own():
    web = webserver(hostNetwork=True)
    web["status"]["podIP"] = "172.18.0.3"
    outcome = run("webserver_has_own_ip", [web])
    assert outcome.status == Status.FAIL and "hostNetwork" in outcome.summary
    assert run("webserver_has_own_ip", [webserver()]).status == Status.PASS


def test_placement_by_any_means_only_the_nodes_count():
    remote = client("remote-client", ["wget", "10.244.1.2"])
    remote["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "n-b"}
    assert run("pods_on_different_nodes", [webserver(), remote], pod="remote-client",
               server="webserver").status == Status.PASS
    same = client("remote-client", ["wget", "10.244.1.2"], node_name="n-a", ip="10.244.1.5")
    outcome = run("pods_on_different_nodes", [webserver(), same], pod="remote-client", server="webserver")
    assert outcome.status == Status.FAIL and "same node" in outcome.summary


ADDRS = {
    "n-a": "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 172.18.0.3/16 scope global eth0\n"
           "5: veth1    inet 10.244.1.1/32 scope global veth1\n",
    "n-b": "1: lo    inet 127.0.0.1/8 scope host lo\n2: eth0    inet 172.18.0.4/16 scope global eth0\n"
           "7: flannel.1    inet 10.244.2.0/32 scope global flannel.1\n",
}


def node_answers(routes: dict[tuple[str, str], str]):
    def answer(where, command):
        name = where.split("/", 1)[1]
        if command[:3] == ["ip", "-4", "-o"] and command[3] == "addr":
            return ok(ADDRS[name])
        if command[3:5] == ["route", "get"]:
            return ok(routes[(name, command[5])])
        raise AssertionError(command)
    return answer


def test_routes_are_judged_by_the_next_hop_belonging_to_the_other_node():
    direct = {("n-a", "10.244.2.1"): "10.244.2.1 via 172.18.0.4 dev eth0 src 172.18.0.3 uid 0 \\    cache ",
              ("n-b", "10.244.1.1"): "10.244.1.1 via 172.18.0.3 dev eth0 src 172.18.0.4 uid 0 \\    cache "}
    assert run("nodes_route_pod_cidrs", [], exec_answer=node_answers(direct)).status == Status.PASS
    # An overlay's next hop is the other node's tunnel address: still that node, any device name.
    overlay = dict(direct)
    overlay[("n-a", "10.244.2.1")] = "10.244.2.1 via 10.244.2.0 dev flannel.1 src 10.244.1.0 uid 0 \\    cache "
    assert run("nodes_route_pod_cidrs", [], exec_answer=node_answers(overlay)).status == Status.PASS
    wrong = dict(direct)
    wrong[("n-a", "10.244.2.1")] = "10.244.2.1 via 172.18.0.1 dev eth0 src 172.18.0.3 uid 0 \\    cache "
    outcome = run("nodes_route_pod_cidrs", [], exec_answer=node_answers(wrong))
    assert outcome.status == Status.FAIL and "n-a: 10.244.2.0/24 of n-b" in outcome.observed


def test_route_recorded_for_webservers_own_node_is_the_wrong_node():
    routes = {("n-a", "10.244.2.3"): "10.244.2.3 via 172.18.0.4 dev eth0 src 172.18.0.3 uid 0 \\    cache "}
    answer = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answer-route", "namespace": NS},
              "data": {"destination": "10.244.1.0/24", "via": "172.18.0.3"}}
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    outcome = run("route_answer_matches", objects, exec_answer=node_answers(routes),
                  client="remote-client", server="webserver")
    assert outcome.status == Status.FAIL and "wrong node" in outcome.summary
    answer["data"] = {"destination": "10.244.2.0/24", "via": "172.18.0.4"}
    assert run("route_answer_matches", objects, exec_answer=node_answers(routes), client="remote-client",
               server="webserver").status == Status.PASS


@pytest.mark.parametrize("via", ["10.244.2.1", ""])
def test_route_read_on_the_clients_own_node_is_the_wrong_node(via):
    # There `ip route get` shows "dev kube-bridge src 10.244.2.1" and no next hop.
    routes = {("n-a", "10.244.2.3"): "10.244.2.3 via 172.18.0.4 dev eth0 src 172.18.0.3 uid 0 \\    cache "}
    answer = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answer-route", "namespace": NS},
              "data": {"destination": "10.244.2.0/24", "via": via}}
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    outcome = run("route_answer_matches", objects, exec_answer=node_answers(routes),
                  client="remote-client", server="webserver")
    assert outcome.status == Status.FAIL
    assert "read on the wrong node: n-b, where remote-client itself runs" in outcome.summary
    assert "via 172.18.0.4" in outcome.cause


NGINX_LOG = (
    '10.244.1.1 - - [22/Nov/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.34" "-"\n'
    '10.244.2.3 - - [22/Nov/2025:10:00:01 +0000] "GET / HTTP/1.1" 200 615 "-" "Wget" "-"\n'
)


def test_no_nat_answer_naming_the_node_is_diagnosed():
    answer = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answer-no-nat", "namespace": NS},
              "data": {"client": "172.18.0.4", "server": "10.244.1.2"}}
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    logs = {("webserver", None): NGINX_LOG}
    outcome = run("no_nat_answers", objects, logs=logs, client="remote-client")
    assert outcome.status == Status.FAIL and "node n-b" in outcome.cause
    answer["data"]["client"] = "10.244.2.3"
    assert run("no_nat_answers", objects, logs=logs, client="remote-client").status == Status.PASS


def test_server_saw_a_node_address_means_masquerading():
    logs = {("webserver", None): NGINX_LOG.replace("10.244.2.3 -", "172.18.0.4 -")}
    outcome = run("server_saw_client_pod_ip", [webserver(), client("remote-client", ["wget", "10.244.1.2"])],
                  logs=logs, client="remote-client")
    assert outcome.status == Status.FAIL and "masquerades" in outcome.cause


def test_pod_sees_its_own_ip_from_fib_trie():
    trie = ("Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.2\n        /32 host LOCAL\n"
            "     |-- 127.0.0.1\n        /32 host LOCAL\n")
    outcome = run("server_sees_own_ip", [webserver()], exec_answer=lambda where, cmd: ok(trie))
    assert outcome.status == Status.PASS


def test_curl_from_webservers_own_node_is_not_another_node():
    log = NGINX_LOG + '10.244.1.1 - - [22/Nov/2025:10:00:02 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/7.88.1" "-"\n'
    outcome = run("other_node_reached_pod", [webserver()], exec_answer=node_answers({}),
                  logs={("webserver", None): log})
    assert outcome.status == Status.FAIL and "own node" in outcome.summary
    log += '172.18.0.4 - - [22/Nov/2025:10:00:03 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/7.88.1" "-"\n'
    assert run("other_node_reached_pod", [webserver()], exec_answer=node_answers({}),
               logs={("webserver", None): log}).status == Status.PASS
