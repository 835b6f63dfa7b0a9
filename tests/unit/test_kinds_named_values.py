"""What the answer and logs kinds say about values they can name (found porting labs 01 and 03):
a node's own address on its Pod network is named, a named cause is not replaced by a lab's
generic one, one wrong value is explained once, and a client that has finished still counts."""

from __future__ import annotations

from labcheck.checks import CheckContext, run_check
from labcheck.checks.objects import identify
from labcheck.checks.outcome import Status
from labcheck.model import Step
from tests.conftest import FakeCluster, pod

NS = "lab01"
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n-a"},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"}]}}
ACCESS = '{ip} - - [21/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" 200 615 "-" "Wget" "-"\n'


def grade(check: dict, objects: list[dict], logs=None):
    step = Step.model_validate({"id": "s", "title": "s", "checks": [{"id": "c", "title": "c", **check}],
                                "hints": ["h"], "solution": {"commands": ["true"]}, "unsolved_fails": ["c"]})
    return run_check(step.checks[0], CheckContext(cluster=FakeCluster(objects, logs=logs), namespace=NS), None, wait=0)


def configmap(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": NS}, "data": data}


LOOPBACK = {"answer": {"configmap": "a", "key": "address", "one_of": ["127.0.0.1", "::1"]},
            "cause": "the lab's own lesson"}


def test_a_nodes_first_pod_cidr_address_is_named_as_where_the_kubelet_probes_from():
    ctx = CheckContext(cluster=FakeCluster([NODE, pod("web", NS, ip="10.244.1.7")]), namespace=NS)
    assert "node n-a's own address on its Pod network" in identify(ctx, "10.244.1.1")
    assert "kube-probe" in identify(ctx, "10.244.1.1")
    assert identify(ctx, "10.244.1.9") is None  # in the CIDR, but not the node's: nothing to say


def test_a_named_wrong_answer_keeps_its_cause_and_an_unnamed_one_gets_the_labs():
    named = grade(LOOPBACK, [NODE, configmap(address="10.244.1.1")])
    assert named.status == Status.FAIL and "kube-probe" in named.cause and "lab's own" not in named.cause
    plain = grade(LOOPBACK, [NODE, configmap(address="192.0.2.1")])
    assert plain.status == Status.FAIL and plain.cause == "the lab's own lesson"


def test_one_wrong_value_under_two_keys_is_explained_once():
    web = pod("web", NS, ip="10.244.1.7")
    spec = {"answer": {"configmap": "a", "keys": ["x", "y"], "equals": {"kind": "Pod", "name": "web",
                                                                         "field": "status.podIP"}}}
    result = grade(spec, [web, configmap(x="172.18.0.2", y="172.18.0.2")])
    assert result.status == Status.FAIL and result.cause.count("172.18.0.2 is") == 1


def test_a_client_that_has_finished_is_still_known_by_its_ip():
    web = pod("web", NS, ("nginx",), ip="10.244.1.7")
    client = pod("client", NS, ip="10.244.1.8")
    client["status"]["phase"] = "Succeeded"  # wget got its page and exited
    spec = {"logs": {"pod": "web", "matches": '"Wget', "client": {"pod": "client"}}}
    assert grade(spec, [web, client], logs={("web", None): ACCESS.format(ip="10.244.1.8")}).status == Status.PASS
