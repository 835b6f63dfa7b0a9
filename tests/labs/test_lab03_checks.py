"""Lab 03's checks on made-up clusters: judged by what nginx and the clients saw, lenient about
the form, strict about the lesson, final when waiting cannot help (issue 17)."""

from __future__ import annotations

import pytest

from labcheck.checks import CheckContext, run_check
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.checks.outcome import Status
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
    web = pod("webserver", NS, ("nginx",), node="n-a", ip="10.244.1.2", labels={"name": "webserver"}, **extra)
    web["status"]["hostIP"] = "172.18.0.3"
    return web


def client(name: str, command: list[str], *, phase="Succeeded", node_name="n-b", ip="10.244.2.3", **extra) -> dict:
    c = pod(name, NS, (name,), node=node_name, ip=ip, **extra)
    c["spec"]["containers"][0]["command"] = command
    c["status"]["phase"] = phase
    c["status"]["hostIP"] = "172.18.0.4" if node_name == "n-b" else "172.18.0.3"
    return c


def configmap(name: str, **data) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


PROBE_LINE = '10.244.1.1 - - [22/Nov/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.34" "-"\n'


def request(ip: str, agent: str = "Wget") -> str:
    return f'{ip} - - [22/Nov/2025:10:00:01 +0000] "GET / HTTP/1.1" 200 615 "-" "{agent}" "-"\n'


NGINX_LOG = PROBE_LINE + request("10.244.2.3")


def run(name: str, objects: list[dict], exec_answer=None, logs=None, **args):
    cluster = FakeCluster(NODES + objects, exec_answer=exec_answer, logs=logs)
    return FN[name](CheckContext(cluster=cluster, namespace=NS), **args)


def check(step: str, check_id: str, objects: list[dict], logs=None, exec_answer=None, wait=0.0):
    """One check of the lab as the engine runs it (its kind, its cause, its retries)."""
    found = next(c for c in LAB.step(step).checks if c.id == check_id)
    ctx = CheckContext(cluster=FakeCluster(NODES + objects, exec_answer=exec_answer, logs=logs), namespace=NS)
    return run_check(found, ctx, LAB.folder, wait=wait)


# --- steps 2 and 3: the client reached webserver, judged by nginx's log ---------------------------


@pytest.mark.parametrize("command, env", [
    (["wget", "-qO-", "http://10.244.1.2"], None),
    (["sh", "-c", "wget -q -O - http://10.244.1.2:80/; sleep 3600"], None),
    # forms no reading of the command can follow: the IP in a variable, in a file
    (["sh", "-c", 'wget -qO- "http://$WEB_IP"'], [{"name": "WEB_IP", "value": "10.244.1.2"}]),
    (["sh", "-c", "wget -qO- http://$(cat /config/ip)"], None),
])
def test_a_client_whose_request_nginx_logged_passes_whatever_its_command(command, env):
    busybox = client("busybox", command)
    if env:
        busybox["spec"]["containers"][0]["env"] = env
    outcome = run("client_reached_webserver", [webserver(), busybox], logs={("webserver", None): NGINX_LOG},
                  pod="busybox")
    assert outcome.status == Status.PASS, (outcome.summary, outcome.cause)


@pytest.mark.parametrize("target", ["webserver", "http://webserver", "webserver:80", f"webserver.{NS}"])
def test_asking_by_pod_name_is_diagnosed_and_final_once_the_client_ended(target):
    busybox = client("busybox", ["wget", "-qO-", target], phase="Failed")
    logs = {("webserver", None): PROBE_LINE, ("busybox", None): f"wget: bad address '{target}'\n"}
    outcome = run("client_reached_webserver", [webserver(), busybox], logs=logs, pod="busybox")
    assert outcome.status == Status.FAIL and "by its name" in outcome.summary and outcome.final
    assert "no DNS name" in outcome.cause


def test_asking_the_node_ip_or_a_stale_ip_says_which():
    logs = {("webserver", None): PROBE_LINE, ("busybox", None): ""}
    by_node = run("client_reached_webserver", [webserver(), client("busybox", ["wget", "172.18.0.3"])], logs=logs,
                  pod="busybox")
    assert by_node.status == Status.FAIL and "hostIP" in by_node.cause
    stale = run("client_reached_webserver", [webserver(), client("busybox", ["wget", "10.244.1.9"])], logs=logs,
                pod="busybox")
    assert stale.status == Status.FAIL and "new IP" in stale.cause


def test_a_webserver_made_by_a_deployment_is_told_so():
    made = webserver()
    made["metadata"]["name"] = "webserver-7c9d8-x2x4q"
    made["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "webserver-7c9d8"}]
    busybox = client("busybox", ["wget", "-qO-", "http://10.244.1.2"])
    result = check("client-by-ip", "asked-pod-ip", [made, busybox], logs={("webserver", None): NGINX_LOG})
    assert result.status == Status.FAIL and "made by ReplicaSet webserver-7c9d8" in result.cause


def test_a_host_network_webserver_is_told_at_once():
    web = webserver(hostNetwork=True)
    result = check("webserver", "own-ip", [web], wait=None)  # the check's own timeout: 0
    assert result.status == Status.FAIL and result.attempts == 1 and "runs with hostNetwork" in result.cause
    assert check("webserver", "own-ip", [webserver()]).status == Status.PASS


# --- the client's output, not its phase ------------------------------------------------------------


def test_a_client_that_got_the_page_and_keeps_running_passes():
    running = client("busybox", ["sh", "-c", "wget -qO- http://10.244.1.2; sleep 3600"], phase="Running")
    result = check("client-by-ip", "got-page", [running],
                   logs={("busybox", None): "<html><h1>Welcome to nginx!</h1></html>\n"})
    assert result.status == Status.PASS, (result.summary, result.cause)


def test_saved_page_counts_as_fetched():
    saved = "Connecting to 10.244.1.2 (10.244.1.2:80)\nsaving to 'index.html'\n'index.html' saved\n"
    result = check("client-by-ip", "got-page", [client("busybox", ["wget", "10.244.1.2"])],
                   logs={("busybox", None): saved})
    assert result.status == Status.PASS


def test_a_client_without_the_page_is_told_to_print_it():
    result = check("across-nodes", "got-page", [client("remote-client", ["wget", "-q", "-O", "/dev/null", "x"])],
                   logs={("remote-client", None): ""})
    assert result.status == Status.FAIL and "wget -qO-" in result.cause


# --- step 3: placement -------------------------------------------------------------------------------


def test_placement_by_any_means_only_the_nodes_count():
    remote = client("remote-client", ["wget", "10.244.1.2"])
    remote["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "n-b"}
    assert run("pods_on_different_nodes", [webserver(), remote], pod="remote-client",
               server="webserver").status == Status.PASS


def test_two_pods_on_one_node_by_an_affinity_rule_fail_at_once_naming_the_rule():
    rule = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"name": "webserver"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    together = client("remote-client", ["wget", "10.244.1.2"], node_name="n-a", ip="10.244.1.5", affinity=rule)
    result = check("across-nodes", "different-nodes", [webserver(), together], wait=5)
    assert result.status == Status.FAIL and result.attempts == 1 and result.duration < 1
    assert "same node" in result.summary and "podAffinity rule places it next to webserver" in result.cause


# --- step 4: Pod CIDRs and routes -------------------------------------------------------------------

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
    assert run("nodes_route_pod_cidrs", [webserver()], exec_answer=node_answers(direct)).status == Status.PASS
    # An overlay's next hop is the other node's tunnel address: still that node, any device name.
    overlay = dict(direct)
    overlay[("n-a", "10.244.2.1")] = "10.244.2.1 via 10.244.2.0 dev flannel.1 src 10.244.1.0 uid 0 \\    cache "
    assert run("nodes_route_pod_cidrs", [], exec_answer=node_answers(overlay)).status == Status.PASS
    wrong = dict(direct)
    wrong[("n-a", "10.244.2.1")] = "10.244.2.1 via 172.18.0.1 dev eth0 src 172.18.0.3 uid 0 \\    cache "
    outcome = run("nodes_route_pod_cidrs", [], exec_answer=node_answers(wrong))
    assert outcome.status == Status.FAIL and "n-a: 10.244.2.0/24 of n-b" in outcome.observed


def test_a_pod_ip_outside_its_nodes_cidr_is_named():
    stray = client("remote-client", ["wget", "10.244.1.2"], ip="10.244.1.9")
    outcome = run("nodes_route_pod_cidrs", [stray], exec_answer=node_answers({}))
    assert outcome.status == Status.FAIL and "remote-client 10.244.1.9 on n-b" in outcome.summary


ROUTE_TO_CLIENT = {("n-a", "10.244.2.3"): "10.244.2.3 via 172.18.0.4 dev eth0 src 172.18.0.3 uid 0 \\    cache "}


def test_route_recorded_for_webservers_own_node_is_the_wrong_node():
    answer = configmap("answer-route", destination="10.244.1.0/24", via="172.18.0.3")
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    outcome = run("route_answer_matches", objects, exec_answer=node_answers(ROUTE_TO_CLIENT),
                  client="remote-client", server="webserver")
    assert outcome.status == Status.FAIL and "wrong node" in outcome.summary
    answer["data"] = {"destination": "10.244.2.0/24", "via": "172.18.0.4"}
    assert run("route_answer_matches", objects, exec_answer=node_answers(ROUTE_TO_CLIENT), client="remote-client",
               server="webserver").status == Status.PASS


@pytest.mark.parametrize("via", ["10.244.2.1", ""])
def test_route_read_on_the_clients_own_node_is_the_wrong_node(via):
    # There `ip route get` shows "dev kube-bridge src 10.244.2.1" and no next hop.
    answer = configmap("answer-route", destination="10.244.2.0/24", via=via)
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    outcome = run("route_answer_matches", objects, exec_answer=node_answers(ROUTE_TO_CLIENT),
                  client="remote-client", server="webserver")
    assert outcome.status == Status.FAIL
    assert "read on the wrong node: n-b, where remote-client itself runs" in outcome.summary
    assert "via 172.18.0.4" in outcome.cause


# --- step 5: no NAT ----------------------------------------------------------------------------------


def test_no_nat_answer_naming_the_node_is_diagnosed():
    answer = configmap("answer-no-nat", client="172.18.0.4", server="10.244.1.2")
    objects = [webserver(), client("remote-client", ["wget", "10.244.1.2"]), answer]
    result = check("no-nat", "answers-are-pod-ips", objects)
    assert result.status == Status.FAIL and "is the IP of node n-b" in result.cause
    answer["data"]["client"] = "10.244.2.3"
    assert check("no-nat", "answers-are-pod-ips", objects).status == Status.PASS
    assert check("no-nat", "server-answer", objects).status == Status.PASS


def test_server_saw_a_node_address_means_masquerading():
    logs = {("webserver", None): NGINX_LOG.replace("10.244.2.3 -", "172.18.0.4 -")}
    result = check("no-nat", "server-saw-pod-ip", [webserver(), client("remote-client", ["wget", "10.244.1.2"])],
                   logs=logs)
    assert result.status == Status.FAIL and "172.18.0.4 (the IP of node n-b" in result.observed
    assert "masquerades" in result.cause


def test_pod_sees_its_own_ip_from_fib_trie():
    trie = ("Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.2\n        /32 host LOCAL\n"
            "     |-- 127.0.0.1\n        /32 host LOCAL\n")
    outcome = run("server_sees_own_ip", [webserver()], exec_answer=lambda where, cmd: ok(trie))
    assert outcome.status == Status.PASS


# --- step 6: the kubelet and other nodes -----------------------------------------------------------


def test_curl_from_webservers_own_node_is_not_another_node():
    log = NGINX_LOG + request("10.244.1.1", "curl/7.88.1")
    outcome = run("nodes_reached_pod", [webserver()], exec_answer=node_answers({}), logs={("webserver", None): log})
    assert outcome.status == Status.FAIL and "own node" in outcome.summary
    log += request("172.18.0.4", "curl/7.88.1")
    outcome = run("nodes_reached_pod", [webserver()], exec_answer=node_answers({}), logs={("webserver", None): log})
    assert outcome.status == Status.PASS and "10.244.1.1 (node n-a itself)" in outcome.summary


def test_kubelet_probes_from_an_address_the_node_lacks_are_translation():
    log = PROBE_LINE.replace("10.244.1.1", "10.96.0.9") + request("172.18.0.4", "curl/7.88.1")
    outcome = run("nodes_reached_pod", [webserver()], exec_answer=node_answers({}), logs={("webserver", None): log})
    assert outcome.status == Status.FAIL and "10.96.0.9" in outcome.summary
