"""Lab 05's checks on made-up clusters: what each way in from outside needs, and why it is missing.

The recorded evidence (test_lab_evidence.py) proves lab.yaml's wrong and
alternative solutions on a real cluster; these cases add states it does not
replay (a named targetPort resolved elsewhere, node port 30080 held by another
Service) and pin that a state waiting cannot fix is reported after one attempt.
"""

from __future__ import annotations

import re
import sys

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
from labcheck.errors import ClusterUnavailable
from tests.conftest import FakeCluster, ok

LAB = find_lab("05")
FN = load_lab_functions(LAB.folder)
CHECKS = sys.modules["labcheck_lab_" + LAB.folder.name.replace("-", "_")]
NS = "lab05-test"
NODES = {"netlabs-multi-control-plane": "172.18.0.5", "netlabs-multi-worker": "172.18.0.3",
         "netlabs-multi-worker2": "172.18.0.4"}


def service(name: str, namespace: str = NS, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def alias(external_name: str) -> dict:
    return service("api-alias", type="ExternalName", externalName=external_name)


def run(name: str, cluster: FakeCluster, **args):
    return FN[name](CheckContext(cluster=cluster, namespace=NS), **args)


def graded(step_id: str, check_id: str, objects: list[dict], reply=lambda where, command: ok(), wait=None):
    """The check as `labcheck` runs it: through the engine, with its timeout (or `wait`) and args from lab.yaml."""
    check = next(c for c in LAB.step(step_id).checks if c.id == check_id)
    return run_check(check, CheckContext(cluster=FakeCluster(objects, exec_answer=reply), namespace=NS), LAB.folder,
                     wait=wait)


def reported_at_once(result) -> bool:
    return result.status == Status.FAIL and result.attempts == 1 and result.duration < 1


def webserver(name: str, node: str, ip: str, port_name: str | None = None, listens: int = 80) -> dict:
    port = {"containerPort": listens, **({"name": port_name} if port_name else {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"name": "webserver"}},
            "spec": {"nodeName": node, "containers": [{"name": "nginx", "ports": [port]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}}


def nodes() -> list[dict]:
    return [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
             "status": {"addresses": [{"type": "InternalIP", "address": ip}]}} for name, ip in NODES.items()]


def nodeport(target=80, node_port=31500, **spec) -> dict:
    return service("webserver-nodeport", type="NodePort", selector={"name": "webserver"},
                   ports=[{"port": 80, "targetPort": target, "nodePort": node_port}], **spec)


def endpoints(pods: list[dict], service_name: str = "webserver-nodeport") -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service_name}-x", "namespace": NS,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "ports": [{"port": 80}],
            "endpoints": [{"addresses": [p["status"]["podIP"]], "nodeName": p["spec"]["nodeName"],
                           "conditions": {"ready": True}, "targetRef": {"name": p["metadata"]["name"]}} for p in pods]}


PODS = [webserver("webserver-5f-aaaaa", "netlabs-multi-worker", "10.244.1.5"),
        webserver("webserver-5f-bbbbb", "netlabs-multi-worker2", "10.244.2.6")]


def from_host(answering: set[str]):
    """This machine's GETs: the nodes in `answering` are served by a webserver Pod, the others time out."""
    def reply(where, command):
        assert command[0] != "od", "a node-port check needs no request mark"
        node = next(name for name, ip in NODES.items() if f"//{ip}:" in command[-1])
        if node in answering:
            return ok("Served by webserver-5f-aaaaa (10.244.1.5)\n")
        return ok("", returncode=28, stderr="curl: (28) Connection timed out after 5001 milliseconds")
    return reply


# --- step 1: every node answers ---------------------------------------------------------------


def test_every_node_answering_passes_and_names_the_nodes_without_a_pod():
    result = graded("nodeport", "every-node-answers", [nodeport(), *PODS, endpoints(PODS), *nodes()],
                    reply=from_host(set(NODES)))
    assert result.status == Status.PASS, result
    assert "netlabs-multi-control-plane run(s) no webserver Pod and answered all the same" in result.summary


def test_traffic_policy_local_is_said_and_final():
    # Issue 17: the control plane, which runs none of the Pods, drops node-port traffic under
    # externalTrafficPolicy: Local. This was "kube-proxy may still be writing the rules", re-tried for 30 s.
    objects = [nodeport(externalTrafficPolicy="Local"), *PODS, endpoints(PODS), *nodes()]
    result = graded("nodeport", "every-node-answers", objects,
                    reply=from_host({"netlabs-multi-worker", "netlabs-multi-worker2"}))
    assert reported_at_once(result), result
    assert "netlabs-multi-control-plane did not answer" in result.summary
    assert "externalTrafficPolicy: Local" in result.summary and "kube-proxy" not in result.cause
    assert "netlabs-multi-worker, netlabs-multi-worker2" in result.cause and "Cluster, the default" in result.cause


def test_a_silent_node_that_runs_a_pod_is_not_blamed_on_the_traffic_policy():
    objects = [nodeport(externalTrafficPolicy="Local"), *PODS, endpoints(PODS), *nodes()]
    outcome = run("every_node_answers", FakeCluster(objects, exec_answer=from_host({"netlabs-multi-worker"})),
                  service="webserver-nodeport")
    assert outcome.status == Status.FAIL and not outcome.final and "kube-proxy" in outcome.cause


def test_a_named_target_port_is_resolved_in_the_pods():
    # Issue 17: a targetPort is judged by what it resolves to in the Pods, not as written. A name that
    # resolves nowhere was "kube-proxy may still be writing the rules", re-tried for 30 s.
    named = [webserver(p["metadata"]["name"], p["spec"]["nodeName"], p["status"]["podIP"], "http") for p in PODS]
    right = [nodeport(target="http"), *named, endpoints(named), *nodes()]
    assert graded("nodeport", "every-node-answers", right, reply=from_host(set(NODES))).status == Status.PASS
    nothing = graded("nodeport", "every-node-answers", [nodeport(target="web"), *named, endpoints(named), *nodes()],
                     reply=from_host(set()))
    assert reported_at_once(nothing) and "targetPort 'web' names no port of its Pods' containers" in nothing.summary


def test_a_target_port_where_no_container_listens_names_what_they_declare():
    result = graded("nodeport", "every-node-answers", [nodeport(target=8080), *PODS, endpoints(PODS), *nodes()],
                    reply=from_host(set()))
    assert reported_at_once(result), result
    assert "sends to targetPort 8080, where its Pods do not listen" in result.summary
    assert "nginx listens on 80: targetPort must be that port" in result.cause


# --- step 4: ExternalName --------------------------------------------------------------------


BUSYBOX_CNAME = """Server:\t\t10.96.0.10
Address:\t10.96.0.10:53

api-alias.lab05-test.svc.cluster.local\tcanonical name = kubernetes.default.svc.cluster.local
Name:\tkubernetes.default.svc.cluster.local
Address: 10.96.0.1

"""
BIND_CNAME = """Server:\t\t10.96.0.10
Address:\t10.96.0.10#53

api-alias.lab05-test.svc.cluster.local\tcanonical name = kubernetes.default.svc.cluster.local.
Name:\tkubernetes.default.svc.cluster.local
Address: 10.96.0.1
"""


def test_lookup_reads_busybox_and_bind_output_without_the_servers_address():
    for output in (BUSYBOX_CNAME, BIND_CNAME):
        assert CHECKS._lookup(output) == (["kubernetes.default.svc.cluster.local"], ["10.96.0.1"])


def test_externalname_must_be_a_name_not_a_url_or_an_address():
    for name in ("kubernetes.default.svc.cluster.local", "kubernetes.default.svc.cluster.local."):
        cluster = FakeCluster([alias(name)], exec_answer=lambda where, cmd: ok(BUSYBOX_CNAME))
        assert run("dns_shows_cname", cluster, service="api-alias", pod="client").status == Status.PASS
    for wrong, said in (("https://db.example.com/", "is a URL"), ("10.96.0.1", "is an IP address")):
        result = graded("externalname", "dns-shows-cname", [alias(wrong)])
        assert reported_at_once(result) and said in result.summary, result


def test_a_cname_whose_target_does_not_resolve_is_explained():
    answer = "Server:\t10.96.0.10\nAddress:\t10.96.0.10:53\n\napi-alias\tcanonical name = kubernetes.default\n\n"
    cluster = FakeCluster([alias("kubernetes.default")], exec_answer=lambda where, cmd: ok(answer))
    outcome = run("dns_shows_cname", cluster, service="api-alias", pod="client")
    assert outcome.status == Status.FAIL and "does not resolve" in outcome.summary and "search domains" in outcome.cause


# --- step 2: LoadBalancer --------------------------------------------------------------------


POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "netlabs-pool", "namespace": "metallb-system"},
        "spec": {"addresses": ["172.18.255.239-172.18.255.254"]}}
SPEAKER = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "speaker", "namespace": "metallb-system"},
           "status": {"desiredNumberScheduled": 3, "numberReady": 3}}


def test_a_pending_address_outside_the_pool_is_final_and_names_the_pool():
    lb = service("webserver-lb", type="LoadBalancer", ports=[{"port": 80, "nodePort": 30911}])
    lb["metadata"]["annotations"] = {"metallb.io/loadBalancerIPs": "192.168.1.240"}
    result = graded("loadbalancer", "external-ip-assigned", [POOL, SPEAKER, lb])
    assert reported_at_once(result), result
    assert "192.168.1.240" in result.cause and "172.18.255.239-172.18.255.254" in result.cause
    lb["metadata"]["annotations"] = {"metallb.io/address-pool": "netlabs-pool"}
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.255.240"}]}}
    passed = graded("loadbalancer", "external-ip-assigned", [POOL, SPEAKER, lb])
    assert passed.status == Status.PASS and "netlabs-pool" in passed.summary and "30911" in passed.summary


def test_without_metallb_a_load_balancer_waits_forever_and_says_so():
    lb = service("webserver-lb", type="LoadBalancer", ports=[{"port": 80}])
    result = graded("loadbalancer", "external-ip-assigned", [lb])
    assert reported_at_once(result) and "labcheck start 05" in result.cause
    missing = graded("loadbalancer", "metallb-running", [])
    assert reported_at_once(missing) and "labcheck start 05" in missing.cause


# --- step 3: the client's address, externalTrafficPolicy: Local ------------------------------


LB_IP = "172.18.255.240"
CIDRS = {"netlabs-multi-control-plane": "10.244.0.0/24", "netlabs-multi-worker": "10.244.1.0/24",
         "netlabs-multi-worker2": "10.244.2.0/24"}
SERVED = "webserver-5f-aaaaa"


def lb_local(policy: str | None = "Local") -> dict:
    lb = service("webserver-lb", type="LoadBalancer", selector={"name": "webserver"},
                 ports=[{"port": 80, "targetPort": 80, "nodePort": 31188}],
                 **({"externalTrafficPolicy": policy} if policy else {}))
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": LB_IP}]}}
    return lb


def nodes_with_cidrs() -> list[dict]:
    return [{**node, "spec": {"podCIDR": CIDRS[node["metadata"]["name"]]}} for node in nodes()]


def marks(*drawn: str):
    """This machine's random bytes (od's output) and the load balancer answering every GET; the
    paths asked are kept in `asked`."""
    left, asked = list(drawn), []

    def reply(where, command):
        if command[0] == "od":
            mark = left.pop(0)
            return ok(" " + " ".join(mark[i:i + 2] for i in range(0, 12, 2)) + "\n")
        asked.append(re.search(rf"http://{re.escape(LB_IP)}/[\w-]*", command[-1]).group())
        return ok(f"Served by {SERVED} (10.244.1.5)\nLABCHECK-HTTP-STATUS 200\n")
    return reply, asked


def access_line(client: str, path: str) -> str:
    return f'{client} - - [05/Dec/2026:20:14:07 +0000] "GET {path} HTTP/1.1" 200 52 "-" "labcheck-probe" "-"'


def client_address(log: str, policy: str | None = "Local", mark: str = "a1b2c3d4e5f6", graded_as: str | None = None):
    reply, _asked = marks(mark)
    objects = [lb_local(policy), *PODS, endpoints(PODS, "webserver-lb"), *nodes_with_cidrs()]
    cluster = FakeCluster(objects, exec_answer=reply, logs={(SERVED, None): log})
    if graded_as:
        check = next(c for c in LAB.step("client-address").checks if c.id == graded_as)
        return run_check(check, CheckContext(cluster=cluster, namespace=NS), LAB.folder, wait=0)
    return run("client_address_kept", cluster, service="webserver-lb")


PROBE = access_line("10.244.1.1", "/").replace("labcheck-probe", "kube-probe/1.34")


def test_the_clients_own_address_in_nginx_log_passes_and_is_named():
    outcome = client_address(f"{PROBE}\n{access_line('172.18.0.1', '/labcheck-a1b2c3d4e5f6')}\n")
    assert outcome.status == Status.PASS, outcome
    assert outcome.summary.startswith(f"nginx ({SERVED}) logged 172.18.0.1 as the client of GET http://{LB_IP}/labcheck-")


def test_a_node_address_under_cluster_is_final_and_names_the_node_and_the_fix():
    for client, what in (("172.18.0.4", "node netlabs-multi-worker2's InternalIP"),
                         ("10.244.1.1", "in node netlabs-multi-worker's Pod CIDR 10.244.1.0/24 (the node's own "
                                        "address on its Pod bridge)")):
        result = client_address(access_line(client, "/labcheck-a1b2c3d4e5f6"), policy=None,
                                graded_as="client-address-kept")
        assert reported_at_once(result), result
        assert f"logged {client} as the client of GET /labcheck-a1b2c3d4e5f6, {what}: " in result.summary
        assert "rewrote the source" in result.summary and "externalTrafficPolicy: Cluster" in result.cause
        assert "kubectl patch service webserver-lb -p '{\"spec\":{\"externalTrafficPolicy\":\"Local\"}}'" \
            in result.cause


def test_a_node_address_under_local_is_waited_for():
    # kube-proxy applies a new policy a moment after the patch: re-tried, and said so.
    outcome = client_address(access_line("172.18.0.4", "/labcheck-a1b2c3d4e5f6"))
    assert outcome.status == Status.FAIL and not outcome.final and "had not applied it yet" in outcome.cause


def test_only_this_attempts_request_counts():
    # An earlier attempt's request (another mark) went through a node before the policy took effect.
    log = "\n".join([access_line("172.18.0.4", "/labcheck-000000000000"), access_line("172.18.0.1", "/labcheck-a1b2c3d4e5f6")])
    assert client_address(log).status == Status.PASS
    waiting = client_address(log, mark="ffffffffffff")
    assert waiting.status == Status.FAIL and not waiting.final and "no line for it yet" in waiting.summary


def test_each_attempt_sends_a_request_of_its_own():
    reply, asked = marks("a1b2c3d4e5f6", "0123456789ab")
    objects = [lb_local(), *PODS, endpoints(PODS, "webserver-lb"), *nodes_with_cidrs()]
    cluster = FakeCluster(objects, exec_answer=reply, logs={(SERVED, None): PROBE})
    for _attempt in range(2):
        run("client_address_kept", cluster, service="webserver-lb")
    assert asked == [f"http://{LB_IP}/labcheck-a1b2c3d4e5f6", f"http://{LB_IP}/labcheck-0123456789ab"]


def test_a_log_that_cannot_be_read_is_never_a_pass():
    unparsed = client_address('- - - [05/Dec/2026] "GET /labcheck-a1b2c3d4e5f6 HTTP/1.1" 200 52')
    assert unparsed.status == Status.ERROR and "cannot read the client address" in unparsed.summary

    class NoLogs(FakeCluster):
        def logs(self, namespace, pod, container, tail_lines=200):
            raise ClusterUnavailable("the API server refused access to logs (403 Forbidden)")

    reply, _asked = marks("a1b2c3d4e5f6")
    cluster = NoLogs([lb_local(), *PODS, *nodes_with_cidrs()], exec_answer=reply)
    check = next(c for c in LAB.step("client-address").checks if c.id == "client-address-kept")
    result = run_check(check, CheckContext(cluster=cluster, namespace=NS), LAB.folder, wait=0)
    assert result.status == Status.ERROR and "403" in result.summary


def nodes_answering(answering: set[str], pods=PODS, policy: str | None = "Local"):
    objects = [lb_local(policy), *pods, endpoints(pods, "webserver-lb"), *nodes()]
    cluster = FakeCluster(objects, exec_answer=from_host(answering))
    check = next(c for c in LAB.step("client-address").checks if c.id == "only-nodes-with-a-pod-answer")
    return run_check(check, CheckContext(cluster=cluster, namespace=NS), LAB.folder, wait=0), cluster


WORKERS = {"netlabs-multi-worker", "netlabs-multi-worker2"}


def test_the_nodes_with_a_pod_answering_and_the_others_silent_pass():
    result, _cluster = nodes_answering(WORKERS)
    assert result.status == Status.PASS, result
    assert ("on node port 31188, netlabs-multi-worker, netlabs-multi-worker2 (running a ready webserver Pod) answered "
            "and netlabs-multi-control-plane (running none) did not") == result.summary


def test_the_control_plane_answering_under_cluster_is_final():
    result, _cluster = nodes_answering(set(NODES), policy=None)
    assert reported_at_once(result), result
    assert result.summary == ("netlabs-multi-control-plane answered on node port 31188 though it runs no webserver "
                              "Pod: externalTrafficPolicy is Cluster")
    waiting, _cluster = nodes_answering(set(NODES))  # Local, and kube-proxy not there yet
    assert waiting.status == Status.FAIL and "has not applied Local yet" in waiting.cause


def test_a_silent_node_that_runs_a_pod_is_waited_for():
    result, _cluster = nodes_answering({"netlabs-multi-worker"})
    assert result.status == Status.FAIL and "netlabs-multi-worker2 run(s) a ready webserver Pod" in result.summary
    assert "check again" in result.cause and "Docker Desktop" not in result.cause
    nothing, _cluster = nodes_answering(set())
    assert "Docker Desktop" in nothing.cause  # not one node answered: maybe this machine is not on kind's network


def test_with_a_pod_on_every_node_nothing_proves_the_silence():
    everywhere = [*PODS, webserver("webserver-5f-ccccc", "netlabs-multi-control-plane", "10.244.0.7")]
    result, cluster = nodes_answering(WORKERS, pods=everywhere)
    assert reported_at_once(result), result
    assert "so none can show that a node without one stays silent" in result.summary
    assert "webserver.yaml" in result.cause
    assert not [call for call in cluster.calls if call[0] == "host"]  # it did not ask, it could not have shown it


def test_the_policy_checks_name_the_service_to_change():
    lb = graded("client-address", "lb-policy-local", [lb_local(None), nodeport(), *PODS], wait=0)
    assert lb.status == Status.FAIL and "externalTrafficPolicy" in lb.summary
    assert reported_at_once(lb) and "kubectl patch service webserver-lb" in lb.cause
    assert "internalTrafficPolicy is for" not in lb.cause  # said only to those who set it
    internal = lb_local(None)
    internal["spec"]["internalTrafficPolicy"] = "Local"
    mixed_up = graded("client-address", "lb-policy-local", [internal, nodeport(), *PODS], wait=0)
    assert mixed_up.cause.startswith("internalTrafficPolicy is for traffic from Pods to the ClusterIP; traffic from "
                                     "outside (the load balancer's address, the node port) follows externalTrafficPolicy")
    node_port = graded("client-address", "nodeport-stays-cluster",
                       [lb_local(), nodeport(externalTrafficPolicy="Local"), *PODS], wait=0)
    assert node_port.status == Status.FAIL and "this step changes webserver-lb" in node_port.cause
    assert graded("client-address", "nodeport-stays-cluster",
                  [nodeport(externalTrafficPolicy="Cluster")]).status == Status.PASS


# --- step 5: node port 30080 ------------------------------------------------------------------


def test_a_node_port_someone_chose_is_told_apart_from_one_kubernetes_picked():
    chosen = run("node_port_published", FakeCluster([service("w", ports=[{"port": 80, "nodePort": 30081}])]),
                 service="w", published=30080)
    picked = run("node_port_published", FakeCluster([service("w", ports=[{"port": 80, "nodePort": 31194}])]),
                 service="w", published=30080)
    assert "does not publish node port 30081" in chosen.cause and "Kubernetes picked 31194" in picked.cause
    assert "holds node port" not in chosen.cause + picked.cause  # nobody holds 30080: the advice can be followed


def test_node_port_30080_held_by_another_service_is_named_with_a_free_way():
    # Issue 17: "set `nodePort: 30080`" while another Service holds it (the API refuses it).
    other = service("webserver-nodeport", namespace="lab05-alice", type="NodePort", selector={"name": "webserver"},
                    ports=[{"port": 80, "nodePort": 30080}])
    result = graded("published-port", "node-port-published", [nodeport(), *PODS, other])
    assert reported_at_once(result), result
    assert "Set `nodePort: 30080`" in result.cause
    assert "but Service webserver-nodeport in namespace lab05-alice holds node port 30080" in result.cause
    assert "kubectl -n lab05-alice delete service webserver-nodeport" in result.cause
    assert "kubectl port-forward service/webserver-nodeport 8080:80" in result.cause


def test_node_port_30080_held_by_a_second_service_of_the_same_pods_passes():
    second = service("webserver-published", type="NodePort", selector={"name": "webserver"},
                     ports=[{"port": 80, "nodePort": 30080}])
    result = graded("published-port", "node-port-published", [nodeport(), *PODS, second])
    assert result.status == Status.PASS and "webserver-published holds node port 30080" in result.summary
    unrelated = service("other", type="NodePort", selector={"app": "other"}, ports=[{"port": 80, "nodePort": 30080}])
    failed = graded("published-port", "node-port-published", [nodeport(), *PODS, unrelated])
    assert reported_at_once(failed) and f"Service other in namespace {NS} holds node port 30080" in failed.cause
