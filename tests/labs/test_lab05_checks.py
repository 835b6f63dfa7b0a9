"""Lab 05's python checks on made-up clusters: what each way in from outside needs, and why it is missing."""

from __future__ import annotations

import sys

from labcheck.checks import CheckContext
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok

LAB = find_lab("05")
FN = load_lab_functions(LAB.folder)
CHECKS = sys.modules["labcheck_lab_" + LAB.folder.name.replace("-", "_")]
NS = "lab05-test"


def service(name: str, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def alias(external_name: str) -> dict:
    return service("api-alias", type="ExternalName", externalName=external_name)


def run(name: str, cluster: FakeCluster, **args):
    return FN[name](CheckContext(cluster=cluster, namespace=NS), **args)


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
    assert run("alias_is_externalname", FakeCluster([alias("db.example.com")]), service="api-alias").status == Status.PASS
    for wrong, said in (("https://db.example.com/", "is a URL"), ("10.96.0.1", "is an IP address")):
        outcome = run("alias_is_externalname", FakeCluster([alias(wrong)]), service="api-alias")
        assert outcome.status == Status.FAIL and said in outcome.summary and outcome.final


def test_a_cname_whose_target_does_not_resolve_is_explained():
    answer = "Server:\t10.96.0.10\nAddress:\t10.96.0.10:53\n\napi-alias\tcanonical name = kubernetes.default\n\n"
    cluster = FakeCluster([alias("kubernetes.default")], exec_answer=lambda where, cmd: ok(answer))
    outcome = run("dns_shows_cname", cluster, service="api-alias", pod="client")
    assert outcome.status == Status.FAIL and "does not resolve" in outcome.summary and "search domains" in outcome.cause


def test_a_pending_address_outside_the_pool_is_final_and_names_the_pool():
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "netlabs-pool", "namespace": "metallb-system"},
            "spec": {"addresses": ["172.18.255.239-172.18.255.254"]}}
    controller = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "controller", "namespace": "metallb-system"}, "status": {"readyReplicas": 1}}
    speaker = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "speaker", "namespace": "metallb-system"},
               "status": {"desiredNumberScheduled": 3, "numberReady": 3}}
    lb = service("webserver-lb", type="LoadBalancer", ports=[{"port": 80, "nodePort": 30911}])
    lb["metadata"]["annotations"] = {"metallb.io/loadBalancerIPs": "192.168.1.240"}
    outcome = run("external_ip_assigned", FakeCluster([pool, controller, speaker, lb]), service="webserver-lb")
    assert outcome.status == Status.FAIL and outcome.final
    assert "192.168.1.240" in outcome.cause and "172.18.255.239-172.18.255.254" in outcome.cause
    lb["metadata"]["annotations"] = {}
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.255.240"}]}}
    passed = run("external_ip_assigned", FakeCluster([pool, controller, speaker, lb]), service="webserver-lb")
    assert passed.status == Status.PASS and "netlabs-pool" in passed.summary and "30911" in passed.summary


def test_without_metallb_a_load_balancer_waits_forever_and_says_so():
    lb = service("webserver-lb", type="LoadBalancer", ports=[{"port": 80}])
    outcome = run("external_ip_assigned", FakeCluster([lb]), service="webserver-lb")
    assert outcome.status == Status.FAIL and outcome.final and "labcheck start 05" in outcome.cause


def test_a_node_port_someone_chose_is_told_apart_from_one_kubernetes_picked():
    chosen = run("node_port_published", FakeCluster([service("w", ports=[{"port": 80, "nodePort": 30081}])]),
                 service="w", published=30080)
    picked = run("node_port_published", FakeCluster([service("w", ports=[{"port": 80, "nodePort": 31194}])]),
                 service="w", published=30080)
    assert "does not publish node port 30081" in chosen.cause and "Kubernetes picked 31194" in picked.cause
