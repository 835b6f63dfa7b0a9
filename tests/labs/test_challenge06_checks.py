"""Challenge 06-bad-gateway's node-port check without a cluster: nginx's 502 right after the Service was
sent past nginx is kube-proxy catching up (waited for), not the verdict (a quiet machine asks that soon)."""

from __future__ import annotations

from labcheck.checks import CheckContext
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_challenge
from tests.conftest import FakeCluster, ok

CHALLENGE = find_challenge("06-bad-gateway")
FUNCTIONS = load_lab_functions(CHALLENGE.folder)
NS = "ch06-bad-gateway"
BAD_GATEWAY = ("HTTP/1.1 502 Bad Gateway\r\nServer: nginx/1.27\r\n\r\n"
               "<html><head><title>502 Bad Gateway</title></head></html>\n")


def blog_pod(name: str, ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": "blog"},
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "blog-5d9", "controller": True}]},
            "spec": {"nodeName": "netlabs-control-plane",
                     "containers": [{"name": "blog", "ports": [{"containerPort": 2368}]},
                                    {"name": "proxy", "ports": [{"containerPort": 80}]}]},
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": n, "ready": True, "state": {"running": {}}}
                                             for n in ("blog", "proxy")]}}


def state(target_port: int) -> list[dict]:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "blog", "namespace": NS, "generation": 1},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "blog"}}},
                  "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "blog", "namespace": NS},
               "spec": {"type": "NodePort", "selector": {"app": "blog"},
                        "ports": [{"port": 80, "targetPort": target_port, "nodePort": 31668}]}}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netlabs-control-plane"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}
    return [deployment, service, node, blog_pod("blog-5d9-aaaaa", "10.244.0.8"), blog_pod("blog-5d9-bbbbb", "10.244.0.9")]


def node_port_check(target_port: int):
    def answer(where, command):
        return ok(BAD_GATEWAY) if command[0] == "curl" else ok("", returncode=1)

    ctx = CheckContext(cluster=FakeCluster(state(target_port), exec_answer=answer), namespace=NS)
    return FUNCTIONS["node_port_through_proxy"](ctx, service="blog", deployment="blog", proxy="proxy",
                                                configmap="proxy-config", contains="served by blog-",
                                                header="X-Proxied-By")


def test_a_502_while_the_service_already_sends_past_nginx_is_waited_for():
    outcome = node_port_check(2368)
    assert not outcome.final and "kube-proxy is still catching up" in outcome.cause


def test_a_502_while_the_service_sends_to_nginx_is_nginx_s_own_answer():
    outcome = node_port_check(80)
    assert outcome.final and "nginx answered 502: it got no answer" in outcome.cause
