"""The declarative kinds that replace labs' repeated Python: answer, replicas, containers,
endpoints, logs. Each is graded through the engine (run_check) on a fake cluster, for the
right answer, the right answer in another form, and the mistakes each one names."""

from __future__ import annotations

import pytest

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.model import Step
from tests.conftest import FakeCluster, pod

NS = "lab01"


def check(spec: dict):
    step = Step.model_validate({"id": "s", "title": "s", "checks": [{"id": "c", "title": "c", **spec}],
                                "hints": ["h"], "solution": {"commands": ["true"]}, "unsolved_fails": ["c"]})
    return step.checks[0]


def grade(spec: dict, objects: list[dict], logs=None):
    ctx = CheckContext(cluster=FakeCluster(objects, logs=logs), namespace=NS)
    return run_check(check(spec), ctx, None, wait=0)


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


def with_ip(p, ip, host="172.18.0.3"):
    p["status"]["podIP"], p["status"]["hostIP"] = ip, host
    p["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return p


# --- answer ----------------------------------------------------------------------------------

WEB = with_ip(pod("web", NS, ("nginx", "sidecar")), "10.244.1.7")
POD_IP = {"answer": {"configmap": "answer-pod-ip", "keys": ["nginx", "sidecar"],
                     "equals": {"kind": "Pod", "name": "web", "field": "status.podIP"}}}


def test_an_answer_read_from_this_cluster_passes():
    result = grade(POD_IP, [WEB, configmap("answer-pod-ip", nginx="10.244.1.7", sidecar=" 10.244.1.7\n")])
    assert result.status == Status.PASS, result


def test_a_wrong_answer_that_is_something_else_is_named_and_final():
    result = grade(POD_IP, [WEB, configmap("answer-pod-ip", nginx="10.244.1.7", sidecar="172.18.0.3")])
    assert result.status == Status.FAIL and result.attempts == 1
    assert "172.18.0.3 is the IP of node netlabs-control-plane (status.hostIP of Pod web)" in result.cause


def test_an_address_copied_with_its_prefix_length_passes():
    """`ip addr` prints 10.244.1.7/24: the address, as a learner means it."""
    result = grade(POD_IP, [WEB, configmap("answer-pod-ip", nginx="10.244.1.7/24", sidecar="10.244.1.7")])
    assert result.status == Status.PASS, result


def test_a_missing_answer_says_how_to_record_it():
    result = grade(POD_IP, [WEB])
    assert result.status == Status.FAIL and "kubectl create configmap answer-pod-ip" in result.cause


@pytest.mark.parametrize("recorded", ["127.0.0.1", "::1", "0:0:0:0:0:0:0:1", "localhost"])
def test_equivalent_forms_of_an_address_pass(recorded):
    spec = {"answer": {"configmap": "a", "key": "address", "one_of": ["127.0.0.1", "::1", "localhost"]}}
    assert grade(spec, [configmap("a", address=recorded)]).status == Status.PASS


@pytest.mark.parametrize("separator", [" ", ",", ", ", "\n", ";"])
def test_a_recorded_list_passes_however_it_is_separated(separator):
    pods = [with_ip(pod(n, NS, labels={"name": "webserver"}), f"10.244.0.{i}") for i, n in enumerate("abc")]
    spec = {"answer": {"configmap": "served", "key": "pods",
                       "items": {"kind": "Pod", "selector": "name=webserver", "field": "metadata.name", "ready": True}}}
    assert grade(spec, [*pods, configmap("served", pods=separator.join("cab"))]).status == Status.PASS
    missing = grade(spec, [*pods, configmap("served", pods="a b")])
    assert missing.status == Status.FAIL and "missing: c" in missing.cause


def test_an_answer_may_name_the_graded_namespace():
    spec = {"answer": {"configmap": "a", "key": "host", "equals": "web.$LAB_NAMESPACE"}}
    assert grade(spec, [configmap("a", host=f"web.{NS}")]).status == Status.PASS
    web = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS}, "spec": {}}
    other = grade(spec, [web, configmap("a", host="web.default")])
    assert other.status == Status.FAIL and f"(but Service web is in namespace {NS})" in other.cause


# --- replicas --------------------------------------------------------------------------------


def deployment(name="webserver", replicas=3, containers=("nginx",)):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"spec": {"containers": [{"name": c} for c in containers]}}},
            "status": {"readyReplicas": replicas}}


def replica(name, ready=True, app="webserver"):
    return with_ip(pod(name, NS, labels={"app": app}, ready=ready), "10.244.0.9") if ready else pod(
        name, NS, labels={"app": app}, ready=False)


def test_more_replicas_than_asked_is_also_right():
    spec = {"replicas": {"deployment": "webserver", "replicas": 2}}
    result = grade(spec, [deployment(replicas=3), *(replica(f"w{i}") for i in range(3))])
    assert result.status == Status.PASS, result


def test_too_few_replicas_asked_is_final_and_says_how_to_scale():
    result = grade({"replicas": {"replicas": 3}}, [deployment(replicas=1), replica("w0")])
    assert result.status == Status.FAIL and result.attempts == 1
    assert "kubectl scale deployment webserver --replicas 3" in result.cause


def test_a_container_missing_from_the_template_is_final():
    spec = {"replicas": {"deployment": "webserver", "replicas": 1, "containers": ["nginx", "app"]}}
    result = grade(spec, [deployment(replicas=1), replica("w0")])
    assert result.status == Status.FAIL and "lacks container(s) app" in result.summary and result.attempts == 1


def test_a_deployment_made_under_another_name_is_named():
    spec = {"replicas": {"deployment": "webserver", "replicas": 1}}
    result = grade(spec, [deployment(name="web-server", replicas=1)])
    assert result.status == Status.FAIL and "'web-server'" in result.cause


# --- containers ------------------------------------------------------------------------------


def test_containers_in_two_pods_are_named_as_the_mistake():
    spec = {"containers": {"pod": "web", "names": ["nginx", "sidecar"]}}
    result = grade(spec, [pod("web", NS, ("nginx",)), pod("sidecar-pod", NS, ("sidecar",))])
    assert result.status == Status.FAIL and result.attempts == 1
    assert "sidecar runs in Pod sidecar-pod, not in Pod web" in result.cause


def test_a_native_sidecar_counts_as_a_container():
    native = pod("web", NS, ("nginx",))
    native["spec"]["initContainers"] = [{"name": "sidecar", "restartPolicy": "Always"}]
    native["status"]["initContainerStatuses"] = [{"name": "sidecar", "ready": True, "state": {"running": {}}}]
    result = grade({"containers": {"pod": "web", "names": ["nginx", "sidecar"]}}, [native])
    assert result.status == Status.PASS, result


def test_a_pod_made_by_a_deployment_is_told_apart_from_a_bare_one():
    owned = pod("webserver-7d9f-abcde", NS, ("nginx",))
    owned["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "webserver-7d9f"}]
    result = grade({"containers": {"pod": "webserver", "names": ["nginx"]}}, [owned])
    assert result.status == Status.FAIL and "was made by ReplicaSet webserver-7d9f" in result.cause


# --- endpoints -------------------------------------------------------------------------------


def service(selector):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": "http"}]}}


def slice_of(*ips):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-x", "namespace": NS, "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"port": 8080}], "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def test_a_selector_matching_no_pod_shows_the_labels_pods_carry():
    result = grade({"endpoints": {"service": "web"}}, [service({"app": "wbe"}), replica("w0", app="web")])
    assert result.status == Status.FAIL and result.attempts == 1
    assert "0 endpoints: selector app=wbe matches no Pod" in result.summary and "app=web" in result.observed


def test_ready_pods_listed_pass_whatever_the_target_port_is_called():
    result = grade({"endpoints": {"service": "web"}}, [service({"app": "web"}), replica("w0", app="web"),
                                                       slice_of("10.244.0.9")])
    assert result.status == Status.PASS, result


def test_a_pod_that_is_not_ready_but_still_listed_ready_is_waited_for():
    unready = replica("w1", ready=False, app="web")
    unready["status"]["podIP"] = "10.244.0.10"
    objects = [service({"app": "web"}), replica("w0", app="web"), unready, slice_of("10.244.0.9", "10.244.0.10")]
    result = grade({"endpoints": {"service": "web"}}, objects)
    assert result.status == Status.FAIL and "still list 10.244.0.10 (w1) as ready" in result.summary
    objects[-1] = slice_of("10.244.0.9")
    passed = grade({"endpoints": {"service": "web"}}, objects)
    assert passed.status == Status.PASS and "not ready, so not served: 10.244.0.10 (w1)" in passed.summary


# --- logs ------------------------------------------------------------------------------------

ACCESS = ('127.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "-"\n'
          '10.244.0.1 - - [05/Dec/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.34" "-"\n')


@pytest.mark.parametrize("loopback", ["127.0.0.1", "::1"])
def test_requests_from_the_client_pass(loopback):
    spec = {"logs": {"pod": "web", "container": "nginx", "matches": '"GET / [^"]*" 200 .*"curl/',
                     "client": {"one_of": ["127.0.0.1", "::1"]}}}
    web = with_ip(pod("web", NS, ("nginx",)), "10.244.0.7")
    logs = {("web", "nginx"): ACCESS.replace("127.0.0.1", loopback)}
    assert grade(spec, [web], logs=logs).status == Status.PASS


def test_requests_from_another_address_name_where_they_came_from():
    spec = {"logs": {"pod": "web", "container": "nginx", "matches": '"GET / ', "client": {"pod": "client"}}}
    web = with_ip(pod("web", NS, ("nginx",)), "10.244.0.7")
    client = with_ip(pod("client", NS, ("curl",)), "10.244.0.8")
    result = grade(spec, [web, client], logs={("web", "nginx"): ACCESS})
    assert result.status == Status.FAIL
    assert "127.0.0.1" in result.observed and "none from Pod client's IP (10.244.0.8)" in result.summary


# --- regressions lead ------------------------------------------------------------------------


def test_an_earlier_step_that_no_longer_holds_is_named_first(tmp_path):
    from labcheck.engine import run_step
    from labcheck.model import Lab

    lab = Lab.model_validate({
        "format": 1, "id": "99", "title": "t", "summary": "s", "cluster": "single-node", "namespace": NS,
        "steps": [
            {"id": "create-service", "title": "a Service with endpoints",
             "checks": [{"id": "endpoints-ready", "title": "e", "endpoints": {"service": "web"}}],
             "hints": ["h"], "solution": {"commands": ["true"]}, "unsolved_fails": ["endpoints-ready"]},
            {"id": "record", "title": "record the Pods",
             "checks": [{"id": "recorded", "title": "r", "answer": {"configmap": "a", "key": "k", "equals": "x"}}],
             "hints": ["h"], "solution": {"commands": ["true"]}, "unsolved_fails": ["recorded"]}]})
    lab._folder = tmp_path
    broken = [service({"app": "wbe"}), replica("w0", app="web"), configmap("a", k="y")]
    result = run_step(lab, lab.steps[1], FakeCluster(broken), namespace=NS, recheck_earlier=True)
    assert result.status == Status.FAIL and result.regression is not None
    assert str(result.regression).startswith("step 1 create-service no longer passes: endpoints-ready: 0 endpoints")
    fine = [service({"app": "web"}), replica("w0", app="web"), slice_of("10.244.0.9"), configmap("a", k="y")]
    assert run_step(lab, lab.steps[1], FakeCluster(fine), namespace=NS, recheck_earlier=True).regression is None


# --- the right root: an image the node has, but a pull policy that asks a registry --------


@pytest.mark.parametrize("image, policy, node_has, says", [
    ("web-app:latest", None, True, "The node does have the image: set `imagePullPolicy: IfNotPresent`"),
    ("web-app", None, False, "The node does not have it either: load it with `kind load docker-image`"),
    ("web-app:1.0", "Always", True, "has imagePullPolicy Always, so the kubelet asks"),
    ("web-app:1.0", None, False, "check the image name and tag"),
])
def test_an_image_that_cannot_be_pulled_is_told_by_its_pull_policy(image, policy, node_has, says):
    import json

    from tests.conftest import ok

    stuck = pod("app", NS, ("web",), running=False, waiting_reason="ErrImagePull")
    stuck["spec"]["containers"][0]["image"] = image
    if policy:
        stuck["spec"]["containers"][0]["imagePullPolicy"] = policy
    held = ["docker.io/library/web-app:latest", "docker.io/library/web-app:1.0"] if node_has else []
    answer = lambda where, command: ok(json.dumps({"images": [{"repoTags": held}]}))
    ctx = CheckContext(cluster=FakeCluster([stuck], exec_answer=answer), namespace=NS)
    result = run_check(check({"containers": {"pod": "app", "names": ["web"]}}), ctx, None, wait=0)
    assert result.status == Status.FAIL and result.attempts == 1
    assert says in result.cause, result.cause
    assert "node" not in ctx.reached  # a diagnosis may peek at the node; it is not a need of the check


# --- resolves -------------------------------------------------------------------------------

DIG_OK = """; <<>> DiG 9.18.33-1~deb12u2-Debian <<>> +search A web
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4242
;; ANSWER SECTION:
web.lab10.svc.cluster.local. 30 IN A 10.244.0.11
web.lab10.svc.cluster.local. 30 IN A 10.244.0.12
"""


def lookup_reply(text, code=0):
    from tests.conftest import ok

    return lambda where, command: ok(text, returncode=code)


@pytest.mark.parametrize("reply, fails, passes", [
    (";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n", "nxdomain", True),
    (";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n", "servfail", True),
    (";; communications error to 10.244.0.250#53: timed out\n;; no servers could be reached\n", "timeout", True),
    (";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n", "servfail", False),
])
def test_a_lookup_failure_is_told_apart(reply, fails, passes):
    client = with_ip(pod("client", NS, ("dnsutils",)), "10.244.0.9")
    ctx = CheckContext(cluster=FakeCluster([client], exec_answer=lookup_reply(reply, 9)), namespace=NS)
    result = run_check(check({"resolves": {"pod": "client", "name": "x", "fails": fails}}), ctx, None, wait=0)
    assert (result.status == Status.PASS) is passes, result


def test_a_headless_name_resolves_to_exactly_the_ready_pods():
    client = with_ip(pod("client", NS, ("dnsutils",)), "10.244.0.9")
    web = [with_ip(pod(f"web-{i}", NS, labels={"app": "web"}), f"10.244.0.1{i + 1}") for i in range(2)]
    spec = {"resolves": {"pod": "client", "name": "web",
                         "to": {"kind": "Pod", "selector": "app=web", "field": "status.podIP", "ready": True}}}
    ctx = CheckContext(cluster=FakeCluster([client, *web], exec_answer=lookup_reply(DIG_OK)), namespace=NS)
    assert run_check(check(spec), ctx, None, wait=0).status == Status.PASS
    unready = pod("web-2", NS, labels={"app": "web"}, ready=False)
    extra = DIG_OK + "web.lab10.svc.cluster.local. 30 IN A 10.244.0.13\n"
    ctx = CheckContext(cluster=FakeCluster([client, *web, unready], exec_answer=lookup_reply(extra)), namespace=NS)
    result = run_check(check(spec), ctx, None, wait=0)
    assert result.status == Status.FAIL and "not expected: 10.244.0.13" in result.cause


def test_logs_of_every_pod_a_selector_matches_with_the_address_where_the_server_puts_it():
    coredns = [pod(f"coredns-{i}", "kube-system", ("coredns",), labels={"k8s-app": "kube-dns"}) for i in range(2)]
    client = with_ip(pod("client", NS, ("dnsutils",)), "10.244.0.9")
    line = '[INFO] 10.244.0.9:40312 - 1 "A IN web.lab10.svc.cluster.local. udp 56 false 1232" NOERROR qr,aa,rd 98 0.0001s\n'
    logs = {("coredns-0", "coredns"): "", ("coredns-1", "coredns"): line}
    spec = {"logs": {"selector": "k8s-app=kube-dns", "namespace": "kube-system", "container": "coredns",
                     "matches": r'"A IN web\.', "address": r"^\[INFO\] \[?([0-9a-f.:]+?)\]?:[0-9]+ ",
                     "client": {"pod": "client"}}}
    assert grade(spec, [*coredns, client], logs=logs).status == Status.PASS
