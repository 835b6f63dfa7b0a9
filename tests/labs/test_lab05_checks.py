"""Lab 05's checks on made-up clusters: what each way in from outside needs, and why it is missing.

The recorded evidence (test_lab_evidence.py) proves lab.yaml's wrong and
alternative solutions on a real cluster; these cases add states it does not
replay (a named targetPort resolved elsewhere, node port 30080 held by another
Service) and pin that a state waiting cannot fix is reported after one attempt.
"""

from __future__ import annotations

import sys

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
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


def graded(step_id: str, check_id: str, objects: list[dict], reply=lambda where, command: ok()):
    """The check as `labcheck` runs it: through the engine, with its timeout and args from lab.yaml."""
    check = next(c for c in LAB.step(step_id).checks if c.id == check_id)
    return run_check(check, CheckContext(cluster=FakeCluster(objects, exec_answer=reply), namespace=NS), LAB.folder)


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


def endpoints(pods: list[dict]) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "webserver-nodeport-x", "namespace": NS,
                         "labels": {"kubernetes.io/service-name": "webserver-nodeport"}},
            "ports": [{"port": 80}],
            "endpoints": [{"addresses": [p["status"]["podIP"]], "nodeName": p["spec"]["nodeName"],
                           "conditions": {"ready": True}, "targetRef": {"name": p["metadata"]["name"]}} for p in pods]}


PODS = [webserver("webserver-5f-aaaaa", "netlabs-multi-worker", "10.244.1.5"),
        webserver("webserver-5f-bbbbb", "netlabs-multi-worker2", "10.244.2.6")]


def from_host(answering: set[str]):
    """This machine's GETs: the nodes in `answering` are served by a webserver Pod, the others time out."""
    def reply(where, command):
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


# --- step 3: ExternalName --------------------------------------------------------------------


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


# --- step 4: node port 30080 ------------------------------------------------------------------


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
