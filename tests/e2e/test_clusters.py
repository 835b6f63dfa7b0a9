"""The clusters themselves behave like stock kind: nodes and CoreDNS Ready, Pod traffic across
nodes, Service DNS and load balancing, a NodePort answering from the host, `kind load`."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from labcheck.loader import clusters_dir
from tests.e2e.cluster_apps import echo_app, run

NAMESPACE = "cluster-test"
ECHO = echo_app(node_port=30090)


@pytest.fixture(scope="module")
def multi_node(toolchain, e2e_env, cleanup_clusters):
    kind = toolchain["KIND"]
    name = "netlabs-multi"
    run([kind, "delete", "cluster", "--name", name], e2e_env, check=False)
    started = time.monotonic()
    run([kind, "create", "cluster", "--config", str(clusters_dir() / "multi-node.yaml"),
         "--image", toolchain["NODE_IMAGE"], "--wait", "180s"], e2e_env, timeout=900)
    print(f"three-node cluster created in {time.monotonic() - started:.0f} s")
    env = {**e2e_env}
    kubectl = ["kubectl", "--context", f"kind-{name}"]
    run([kind, "load", "docker-image", "busybox:1.36", "--name", name], env, timeout=600)
    yield name, kubectl, env
    run([kind, "delete", "cluster", "--name", name], env, check=False)


def test_nodes_and_coredns_ready(multi_node):
    _name, kubectl, env = multi_node
    run(kubectl + ["wait", "--for=condition=Ready", "nodes", "--all", "--timeout=180s"], env)
    nodes = json.loads(run(kubectl + ["get", "nodes", "-o", "json"], env).stdout)["items"]
    assert len(nodes) == 3
    cidrs = {n["spec"].get("podCIDR") for n in nodes}
    assert len(cidrs) == 3 and None not in cidrs, "each node has its own Pod CIDR"
    run(kubectl + ["-n", "kube-system", "wait", "--for=condition=Ready", "pod", "-l", "k8s-app=kube-dns",
                   "--timeout=180s"], env)


def test_pods_services_and_nodeport(multi_node):
    name, kubectl, env = multi_node
    ns = kubectl + ["-n", NAMESPACE]
    run(kubectl + ["create", "namespace", NAMESPACE], env, check=False)
    run(ns + ["apply", "-f", "-"], env, input_text=ECHO)
    run(ns + ["rollout", "status", "deployment/echo", "--timeout=180s"], env)
    run(ns + ["wait", "--for=condition=Ready", "pod/client", "--timeout=180s"], env)
    pods = json.loads(run(ns + ["get", "pods", "-o", "json"], env).stdout)["items"]
    client = next(p for p in pods if p["metadata"]["name"] == "client")
    echoes = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "echo"]
    assert len({p["spec"]["nodeName"] for p in echoes}) == 2, "the two replicas run on different nodes"
    remote = [p for p in echoes if p["spec"]["nodeName"] != client["spec"]["nodeName"]]
    assert remote, "one replica is on another node than the client"
    for pod in echoes:
        got = run(ns + ["exec", "client", "--", "wget", "-qO-", "-T", "5", f"http://{pod['status']['podIP']}:8080"], env)
        assert got.stdout.strip() == pod["metadata"]["name"]
    lookup = run(ns + ["exec", "client", "--", "nslookup", f"echo.{NAMESPACE}.svc.cluster.local"], env)
    cluster_ip = json.loads(run(ns + ["get", "service", "echo", "-o", "json"], env).stdout)["spec"]["clusterIP"]
    assert cluster_ip in lookup.stdout
    answers = set()
    for _ in range(30):
        answers.add(run(ns + ["exec", "client", "--", "wget", "-qO-", "-T", "5", "http://echo"], env).stdout.strip())
        if len(answers) == 2:
            break
    assert answers == {p["metadata"]["name"] for p in echoes}, "the Service spreads requests over both replicas"
    node_ip = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                   f"{name}-worker"], env).stdout.strip()
    with urllib.request.urlopen(f"http://{node_ip}:30090/", timeout=10) as response:
        assert response.read().decode().strip() in answers
