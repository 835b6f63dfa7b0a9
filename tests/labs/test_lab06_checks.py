"""Lab 06's checks on states its lab.yaml does not replay, graded through the engine with each
check's timeout from lab.yaml: a node port another Service holds, a named targetPort, a Service
that selects nothing, a proxy_pass written with an IPv6 address, more replicas than asked."""

from __future__ import annotations

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok

LAB = find_lab("06")
NS = "lab06"
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netlabs-control-plane"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}
APP_PAGE = "<h1>the app</h1>"


def graded(check_id: str, objects: list[dict], reply=None):
    check = next(c for step in LAB.steps for c in step.checks if c.id == check_id)
    return run_check(check, CheckContext(FakeCluster([NODE, *objects], reply), namespace=NS), LAB.folder)


def service(node_port=30081, target_port=80, selector=None, namespace=NS, name="tut-deployment"):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
            "spec": {"type": "NodePort", "selector": selector or {"app": "tut"},
                     "ports": [{"port": 80, "targetPort": target_port, "nodePort": node_port}]}}


def deployment(replicas=2, port_names=("blog", "proxy")):
    containers = [{"name": "ghost", "ports": [{"name": port_names[0], "containerPort": 2368}]},
                  {"name": "nginx", "ports": [{"name": port_names[1], "containerPort": 80}]}]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "tut-deployment", "namespace": NS, "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchExpressions": [
                         {"key": "app", "operator": "In", "values": ["tut"]}]},
                     "template": {"metadata": {"labels": {"app": "tut"}}, "spec": {"containers": containers}}},
            "status": {"readyReplicas": replicas, "updatedReplicas": replicas, "observedGeneration": 1}}


def replica(index: int, template: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"tut-deployment-5f6-{index}", "namespace": NS, "labels": {"app": "tut"}},
            "spec": {"nodeName": "netlabs-control-plane", **template["spec"]["template"]["spec"]},
            "status": {"phase": "Running", "podIP": f"10.244.0.{10 + index}",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": c, "ready": True, "state": {"running": {}}}
                                             for c in ("ghost", "nginx")]}}


def http(status: int, body: str = APP_PAGE, server: str | None = None):
    head = f"HTTP/1.1 {status} OK\r\n" + (f"Server: {server}\r\n" if server else "")
    return ok(f"{head}\r\n{body}")


# --- step 2: which node port, and whether it leads to nginx -------------------------------------------


def test_a_node_port_held_elsewhere_is_not_advised_and_its_holder_is_named():
    held = service(30081, namespace="lab06-old", name="web")
    result = graded("host-reachable-port", [service(31234), held])
    assert result.status == Status.FAIL and result.attempts == 1
    assert "30081 is held by Service lab06-old/web" in result.cause
    assert "set `nodePort: 30082`" in result.cause and "nodePort: 30081" not in result.cause


def test_both_published_ports_held_says_to_free_one():
    held = [service(port, namespace="other", name=f"web{port}") for port in (30081, 30082)]
    result = graded("host-reachable-port", [service(31234), *held])
    assert result.status == Status.FAIL and "both are taken" in result.cause
    assert "kubectl delete service" in result.cause


def test_the_services_own_node_port_is_not_counted_as_held():
    assert graded("host-reachable-port", [service(30081)]).status == Status.PASS


def test_a_named_target_port_that_leads_to_the_app_bypasses_nginx():
    template = deployment()
    pods = [replica(i, template) for i in range(2)]
    result = graded("nodeport-through-nginx", [service(target_port="blog"), template, *pods],
                    reply=lambda where, command: http(200))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "targetPort blog (port 2368) is not nginx's port: the Service bypasses nginx" in result.cause


def test_a_named_target_port_that_leads_to_nginx_passes():
    template = deployment()
    pods = [replica(i, template) for i in range(2)]
    result = graded("nodeport-through-nginx", [service(target_port="proxy"), template, *pods],
                    reply=lambda where, command: http(200, server="nginx/1.27.5"))
    assert result.status == Status.PASS, result


def test_a_service_that_selects_no_pod_says_so_at_once():
    template = deployment()
    pods = [replica(i, template) for i in range(2)]
    result = graded("nodeport-through-nginx", [service(selector={"app": "tut-deployment"}), template, *pods],
                    reply=lambda where, command: ok("", returncode=7, stderr="curl: (7) Connection refused"))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "selector app=tut-deployment matches no Pod" in result.cause


# --- step 1: the proxy --------------------------------------------------------------------------------


def test_proxy_pass_to_an_ipv6_address_is_read_for_its_port():
    template = deployment()
    pods = [replica(i, template) for i in range(2)]
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx-config", "namespace": NS},
              "data": {"nginx.conf": "http { server { listen 80; location / { proxy_pass http://[::1]:2369; } } }"}}
    listening = "  sl  local_address rem_address   st\n   0: 00000000:0050 00000000:0000 0A\n" \
                "   1: 00000000:0940 00000000:0000 0A\n"

    def reply(where, command):
        if command[0] == "cat":
            return ok(listening)
        return http(502, "Bad Gateway", server="nginx") if command[-1].endswith(":80/") else http(200)

    result = graded("each-pod-proxies", [template, *pods, config], reply)
    assert result.status == Status.FAIL and result.attempts == 1
    assert "it proxies to [::1]:2369, but nothing listens on 2369 in the Pod" in result.cause


def test_more_replicas_than_asked_are_also_right():
    template = deployment(replicas=3)
    result = graded("replicas-ready", [template, *(replica(i, template) for i in range(3))])
    assert result.status == Status.PASS, result
