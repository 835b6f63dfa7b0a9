"""The lab clusters' Pod network, kube-router, on a copy of clusters/multi-node.yaml: Pods reach each
other across nodes over routes learned by iBGP, Services (ClusterIP, DNS, NodePort, hairpin) work
through kube-proxy, and a NetworkPolicy really blocks traffic until it is deleted.

The copy has another cluster name and no host ports, so it runs beside the shared netlabs-multi
(which publishes 127.0.0.1:30080) and deleting it afterwards touches nobody else's cluster."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from labcheck.loader import clusters_dir
from labcheck.toolchain import Kind, cluster_addons
from tests.e2e.cluster_apps import copy_of_config, echo_app, require_prepared_images, run

NAMESPACE = "kube-router-test"
APPS = echo_app(node_port=30091) + """---
# the only endpoint of its Service: reaching the Service from this Pod must come back to itself
apiVersion: v1
kind: Pod
metadata: {name: hairpin, labels: {app: hairpin}}
spec:
  containers:
  - name: web
    image: busybox:1.36
    command: ["sh", "-c", "mkdir -p /www && echo hairpin > /www/index.html && httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: hairpin}
spec:
  selector: {app: hairpin}
  ports: [{port: 80, targetPort: 8080}]
---
# the positive control of the policy test: the one client the policy lets in
apiVersion: v1
kind: Pod
metadata: {name: allowed, labels: {access: allowed}}
spec:
  containers:
  - {name: client, image: busybox:1.36, command: ["sleep", "3600"]}
"""
POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: echo-only-allowed}
spec:
  podSelector: {matchLabels: {app: echo}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {access: allowed}}}]
"""


@pytest.fixture(scope="module")
def kube_router_image(toolchain):
    """The kube-router image prepare.sh's kube-router phase builds; loud when it is missing."""
    require_prepared_images(toolchain, {"KUBE_ROUTER_IMAGE": "kube-router"})


@pytest.fixture(scope="module")
def lab_cluster(toolchain, kube_router_image, e2e_env, cleanup_clusters, tmp_path_factory):
    """A three-node cluster from multi-node.yaml, created the way `labcheck start` creates it (kind, then
    multi-node.addons/), under its own name."""
    name = "netlabs-e2e-multi"
    config = copy_of_config("multi-node", name, tmp_path_factory.mktemp("kind"))
    addons = cluster_addons(clusters_dir() / "multi-node.yaml")
    assert addons is not None, "multi-node.yaml has no add-ons: who installs its CNI?"
    kind = Kind(toolchain["KIND"], toolchain["NODE_IMAGE"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", e2e_env["KUBECONFIG"])
        run([kind.binary, "delete", "cluster", "--name", name], e2e_env, check=False)
        started = time.monotonic()
        kind.create(config, name, addons=addons)
        print(f"three-node kube-router cluster created, nodes and CoreDNS Ready, in {time.monotonic() - started:.0f} s")
    kubectl = ["kubectl", "--context", f"kind-{name}"]
    run([kind.binary, "load", "docker-image", "busybox:1.36", "--name", name], e2e_env, timeout=600)
    ns = kubectl + ["-n", NAMESPACE]
    run(kubectl + ["create", "namespace", NAMESPACE], e2e_env)
    run(ns + ["apply", "-f", "-"], e2e_env, input_text=APPS)
    run(ns + ["rollout", "status", "deployment/echo", "--timeout=180s"], e2e_env)
    run(ns + ["wait", "--for=condition=Ready", "pod/client", "pod/allowed", "pod/hairpin", "--timeout=180s"], e2e_env)
    yield name, kubectl, e2e_env
    run([kind.binary, "delete", "cluster", "--name", name], e2e_env, check=False)


def pods(lab_cluster) -> dict[str, dict]:
    _name, kubectl, env = lab_cluster
    items = json.loads(run(kubectl + ["-n", NAMESPACE, "get", "pods", "-o", "json"], env).stdout)["items"]
    return {p["metadata"]["name"]: p for p in items}


def fetch(lab_cluster, pod: str, url: str, check=True):
    _name, kubectl, env = lab_cluster
    return run(kubectl + ["-n", NAMESPACE, "exec", pod, "--", "wget", "-qO-", "-T", "3", url], env, check=check)


def test_kube_router_is_the_cni_on_every_node(lab_cluster):
    name, kubectl, env = lab_cluster
    nodes = json.loads(run(kubectl + ["get", "nodes", "-o", "json"], env).stdout)["items"]
    assert len(nodes) == 3
    cidrs = {n["spec"].get("podCIDR") for n in nodes}
    assert len(cidrs) == 3 and None not in cidrs, "each node has its own Pod CIDR"
    routers = json.loads(run(kubectl + ["-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-router", "-o", "json"],
                             env).stdout)["items"]
    assert {p["spec"]["nodeName"] for p in routers} == {n["metadata"]["name"] for n in nodes}
    for node in nodes:
        node_name = node["metadata"]["name"]
        conf = run(["docker", "exec", node_name, "cat", "/etc/cni/net.d/10-kuberouter.conflist"], env).stdout
        assert '"kube-bridge"' in conf and node["spec"]["podCIDR"] in conf, "bridge + host-local from the podCIDR"
        run(["docker", "exec", node_name, "test", "-x", "/opt/cni/bin/bridge"], env)
        routes = run(["docker", "exec", node_name, "ip", "route"], env).stdout
        for other in nodes:
            if other is node:
                continue
            address = next(a["address"] for a in other["status"]["addresses"] if a["type"] == "InternalIP")
            assert f"{other['spec']['podCIDR']} via {address}" in routes, \
                f"{node_name} routes {other['metadata']['name']}'s Pod CIDR to it (learned over iBGP):\n{routes}"


def test_pod_traffic_crosses_nodes(lab_cluster):
    everyone = pods(lab_cluster)
    client = everyone["client"]
    echoes = [p for p in everyone.values() if p["metadata"].get("labels", {}).get("app") == "echo"]
    assert len({p["spec"]["nodeName"] for p in echoes}) == 2, "the two replicas run on different nodes"
    assert any(p["spec"]["nodeName"] != client["spec"]["nodeName"] for p in echoes)
    for pod in echoes:
        got = fetch(lab_cluster, "client", f"http://{pod['status']['podIP']}:8080")
        assert got.stdout.strip() == pod["metadata"]["name"]


def test_service_by_cluster_ip_and_dns(lab_cluster):
    _name, kubectl, env = lab_cluster
    ns = kubectl + ["-n", NAMESPACE]
    cluster_ip = json.loads(run(ns + ["get", "service", "echo", "-o", "json"], env).stdout)["spec"]["clusterIP"]
    lookup = run(ns + ["exec", "client", "--", "nslookup", f"echo.{NAMESPACE}.svc.cluster.local"], env)
    assert cluster_ip in lookup.stdout
    names = {p for p in pods(lab_cluster) if p.startswith("echo-")}
    answers = set()
    for _ in range(30):
        answers.add(fetch(lab_cluster, "client", f"http://{cluster_ip}").stdout.strip())
        answers.add(fetch(lab_cluster, "client", "http://echo").stdout.strip())
        if answers == names:
            break
    assert answers == names, "the Service spreads requests over both replicas"


def test_nodeport_from_the_host(lab_cluster):
    name, _kubectl, env = lab_cluster
    node_ip = run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                   f"{name}-worker"], env).stdout.strip()
    with urllib.request.urlopen(f"http://{node_ip}:30091/", timeout=10) as response:
        assert response.read().decode().strip().startswith("echo-")


def test_hairpin_a_pod_reaches_itself_through_its_service(lab_cluster):
    got = fetch(lab_cluster, "hairpin", f"http://hairpin.{NAMESPACE}.svc.cluster.local")
    assert got.stdout.strip() == "hairpin"


def test_network_policy_blocks_traffic_until_deleted(lab_cluster):
    _name, kubectl, env = lab_cluster
    ns = kubectl + ["-n", NAMESPACE]
    everyone = pods(lab_cluster)
    targets = [p["status"]["podIP"] for p in everyone.values() if p["metadata"].get("labels", {}).get("app") == "echo"]
    for ip in targets:  # both clients get in before the policy
        fetch(lab_cluster, "client", f"http://{ip}:8080")
        fetch(lab_cluster, "allowed", f"http://{ip}:8080")
    run(ns + ["apply", "-f", "-"], env, input_text=POLICY)
    try:
        deadline = time.monotonic() + 30
        while True:  # kube-router syncs policies on events, within seconds
            blocked = [fetch(lab_cluster, "client", f"http://{ip}:8080", check=False) for ip in targets]
            if all(b.returncode != 0 for b in blocked) or time.monotonic() > deadline:
                break
            time.sleep(1)
        for ip, probe in zip(targets, blocked):
            assert probe.returncode != 0, f"{ip} still answers the client the policy does not allow: {probe.stdout}"
            # kube-router ends its per-Pod firewall chain with REJECT (ICMP port unreachable), which
            # busybox wget reports as "Connection refused"; a DROP would show as a timeout
            assert "Connection refused" in probe.stderr or "timed out" in probe.stderr, probe.stderr
            print(f"blocked {ip}: {probe.stderr.strip().splitlines()[0]}")
        for ip in targets:  # the positive control: same targets, same moment, allowed label
            fetch(lab_cluster, "allowed", f"http://{ip}:8080")
        # and the refusal is kube-router's rule on the Pods' nodes, not the server's doing
        for node in {p["spec"]["nodeName"] for p in everyone.values() if p["status"].get("podIP") in targets}:
            rules = run(["docker", "exec", node, "iptables", "-S"], env).stdout.splitlines()
            assert any(r.startswith("-A KUBE-POD-FW-") and "-j REJECT" in r for r in rules), \
                f"no kube-router REJECT rule on {node}"
    finally:
        run(ns + ["delete", "networkpolicy", "echo-only-allowed", "--ignore-not-found"], env)
    deadline = time.monotonic() + 30
    while True:
        reopened = [fetch(lab_cluster, "client", f"http://{ip}:8080", check=False) for ip in targets]
        if all(r.returncode == 0 for r in reopened) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert all(r.returncode == 0 for r in reopened), [r.stderr for r in reopened]
