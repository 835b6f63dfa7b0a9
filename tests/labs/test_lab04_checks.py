"""Lab 04's diagnoses without a cluster: states that can never converge FAIL at once, with their cause.

The recorded evidence (test_lab_evidence.py) proves the known-wrong and the
alternative solutions of lab.yaml on real clusters. These cases add states
that lab.yaml does not replay: one replica, a named or undeclared targetPort,
a readiness probe on a closed port, sessionAffinity, a selector broken after
the step that checks it; and they pin, through the engine with each check's
timeout from lab.yaml, that a state waiting cannot fix is reported after one
attempt (a `final` FAIL) while a converging one is asked again.
"""

from __future__ import annotations

import time

import pytest

from datetime import datetime, timedelta, timezone

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.checks.kinds import kind_of
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok

NS = "lab04-test"
LABELS = {"name": "webserver", "environment": "production", "tier": "front-end"}
CLUSTER_IP = "10.96.120.5"


@pytest.fixture(scope="module")
def checks():
    return load_lab_functions(find_lab("04").folder)


PROBE = {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 1, "failureThreshold": 1}


def pod(name, ip, *, ready=True, labels=LABELS, ports=(80,), created="2026-11-21T10:00:00Z",
        started="2026-11-21T10:00:01Z", probe=PROBE):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": dict(labels), "creationTimestamp": created},
        "spec": {"nodeName": "netlabs-multi-worker",
                 "containers": [{"name": "nginx", "ports": [{"containerPort": p} for p in ports],
                                 "readinessProbe": probe}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "nginx", "ready": ready,
                                          "state": {"running": {"startedAt": started}}}]},
    }


def seconds_ago(seconds: float = 0) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def service(selector=None, target_port=80, **spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "webserver", "namespace": NS},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP, "selector": selector or {"name": "webserver"},
                     "ports": [{"port": 80, "targetPort": target_port, "protocol": "TCP"}], **spec}}


def endpoint_slice(pods, port=80):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "webserver-abcde", "namespace": NS,
                         "labels": {"kubernetes.io/service-name": "webserver"}},
            "ports": [{"port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [p["status"]["podIP"]], "targetRef": {"name": p["metadata"]["name"]},
                           "conditions": {"ready": p["status"]["conditions"][0]["status"] == "True"}}
                          for p in pods]}


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


PODS = [pod("webserver-7d9-aaaaa", "10.244.1.2"), pod("webserver-7d9-bbbbb", "10.244.2.3"),
        pod("webserver-7d9-ccccc", "10.244.2.4")]


def run(checks, function, objects, reply=lambda where, command: ok(), **args):
    ctx = CheckContext(cluster=FakeCluster(objects, exec_answer=reply), namespace=NS)
    started = time.monotonic()
    outcome = checks[function](ctx, **args)
    return outcome, time.monotonic() - started


def text(outcome):
    return " ".join(filter(None, [outcome.summary, outcome.expected, outcome.observed, outcome.cause]))


def graded(step_id, check_id, objects, reply=lambda where, command: ok(), wait=None):
    """The check as `labcheck` runs it: through the engine, with its timeout (or `wait`) and args from lab.yaml."""
    lab = find_lab("04")
    check = next(c for c in lab.step(step_id).checks if c.id == check_id)
    ctx = CheckContext(cluster=FakeCluster(objects, exec_answer=reply), namespace=NS)
    return run_check(check, ctx, lab.folder, wait=wait)


def evaluated(step_id, check_id, objects, reply=lambda where, command: ok()):
    """One attempt of a check of any kind, as its Outcome (which says whether it is final)."""
    lab = find_lab("04")
    check = next(c for c in lab.step(step_id).checks if c.id == check_id)
    ctx = CheckContext(cluster=FakeCluster(objects, exec_answer=reply), namespace=NS)
    return kind_of(check).evaluate(check.spec, ctx, lab.folder)


def reported_at_once(result):
    """A FAIL the engine did not re-try: the check said waiting cannot fix it."""
    return result.status == Status.FAIL and result.attempts == 1 and result.duration < 1


def deployment(ready=3):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "webserver", "namespace": NS},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"name": "webserver"}}},
            "status": {"replicas": 3, "readyReplicas": ready}}


def test_replicas_serving_the_same_page_are_anonymous(checks):
    def welcome(where, command):
        return ok("<html><head><title>Welcome to nginx!</title></head></html>\n")

    result = graded("deploy-replicas", "replicas-name-themselves", [deployment(), *PODS], reply=welcome)
    assert reported_at_once(result), result
    assert "does not name the Pod that served it" in result.summary and "$hostname" in result.cause


def test_replicas_that_name_themselves(checks):
    def own_name(where, command):
        return ok(f"Served by {where.split('/')[0]} (10.244.1.2)\n")

    outcome, _ = run(checks, "replicas_name_themselves", [deployment(), *PODS], reply=own_name)
    assert outcome.status == Status.PASS, text(outcome)


def test_one_replica_is_not_several(checks):
    single = {**deployment(ready=1), "spec": {"replicas": 1, "selector": {"matchLabels": {"name": "webserver"}}}}
    result = graded("deploy-replicas", "replicas-ready", [single, PODS[0]])
    assert reported_at_once(result), result
    assert "replicas: 3" in result.cause and "kubectl scale deployment webserver --replicas 3" in result.cause


def unhealthy(p, count, message="Readiness probe failed: Get \"http://10.244.1.2:8080/ready\": dial tcp "
              "10.244.1.2:8080: connect: connection refused"):
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{p['metadata']['name']}.unhealthy", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": p["metadata"]["name"], "fieldPath": "spec.containers{nginx}"},
            "reason": "Unhealthy", "type": "Warning", "message": message, "count": count,
            "lastTimestamp": "2026-11-21T10:00:30Z"}


CLOSED = {**PROBE, "httpGet": {"path": "/ready", "port": 8080}, "failureThreshold": 3}


def listening_on(port):
    """A container's answer to `cat /proc/net/tcp /proc/net/tcp6`: one socket listening on `port`."""
    def reply(where, command):
        return ok("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                  f"   0: 00000000:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0 1\n")
    return reply


@pytest.mark.parametrize("started", ["long-ago", "just-now"])
def test_readiness_probe_the_kubelet_has_judged_failing_fails_at_once(checks, started):
    # The kubelet's judgement and what the Pod listens on decide, not the Pods' age: the same
    # verdict on a fast and on a slow machine.
    when = seconds_ago(3600) if started == "long-ago" else seconds_ago(0)
    pods = [pod(p["metadata"]["name"], p["status"]["podIP"], ready=False, probe=CLOSED, started=when) for p in PODS]
    result = graded("deploy-replicas", "replicas-ready", [deployment(ready=0), *pods, *(unhealthy(p, 3) for p in pods)],
                    reply=listening_on(80))
    assert reported_at_once(result), result
    assert "readiness probe (HTTP GET port 8080 path /ready) has not passed" in result.cause
    assert "it declares port 80" in result.cause and "nothing listens on port 8080" in result.cause


def test_readiness_refused_while_nginx_is_not_listening_yet_is_waited_for(checks):
    # A loaded node: the kubelet probed before nginx was up, enough times to call it failing.
    pods = [pod(p["metadata"]["name"], p["status"]["podIP"], ready=False, probe=CLOSED) for p in PODS]
    outcome = evaluated("deploy-replicas", "replicas-ready", [deployment(ready=0), *pods,
                                                               *(unhealthy(p, 3) for p in pods)])
    assert outcome.status == Status.FAIL and not outcome.final, text(outcome)
    assert "readiness probe (HTTP GET port 8080 path /ready) has not passed" in outcome.cause


@pytest.mark.parametrize("started", ["long-ago", "just-now"])
def test_readiness_probe_failing_fewer_times_than_its_threshold_is_waited_for(checks, started):
    when = seconds_ago(3600) if started == "long-ago" else seconds_ago(0)
    pods = [pod(p["metadata"]["name"], p["status"]["podIP"], ready=False, probe=CLOSED, started=when) for p in PODS]
    outcome = evaluated("deploy-replicas", "replicas-ready", [deployment(ready=0), *pods,
                                                               *(unhealthy(p, 2) for p in pods)])
    assert outcome.status == Status.FAIL and not outcome.final, text(outcome)
    assert "has not passed" in outcome.cause and "kubelet" not in outcome.cause


def test_replicas_that_just_started_are_waited_for(checks):
    pods = [pod(p["metadata"]["name"], p["status"]["podIP"], ready=False, started=seconds_ago(0)) for p in PODS]
    outcome = evaluated("deploy-replicas", "replicas-ready", [deployment(ready=0), *pods])
    assert outcome.status == Status.FAIL and not outcome.final, text(outcome)


def test_two_ready_and_one_made_unready_long_ago_are_enough(checks):
    pods = [*PODS[:2], pod("webserver-7d9-ccccc", "10.244.2.4", ready=False)]
    made_unready = unhealthy(pods[2], 1, "Readiness probe failed: HTTP probe failed with statuscode: 503")
    outcome = graded("deploy-replicas", "replicas-ready", [deployment(ready=2), *pods, made_unready])
    assert outcome.status == Status.PASS, text(outcome)


def test_selector_matching_no_pod_fails_at_once(checks):
    result = graded("create-service", "endpoints-ready", [service({"app": "webserver"}), *PODS])
    assert reported_at_once(result), result
    assert "0 endpoints: selector app=webserver matches no Pod" in result.summary
    assert "name=webserver" in result.cause


def test_selector_is_waited_for_while_no_pod_exists_yet(checks):
    outcome = evaluated("create-service", "endpoints-ready", [service({"app": "webserver"})])
    assert outcome.status == Status.FAIL and not outcome.final
    assert "0 endpoints: selector app=webserver matches no Pod" in outcome.summary


def test_endpoints_not_listed_yet_are_waited_for(checks):
    outcome = evaluated("create-service", "endpoints-ready", [service(), *PODS, endpoint_slice(PODS[:2])])
    assert outcome.status == Status.FAIL and not outcome.final
    assert "do not list its ready Pods yet" in outcome.summary


def test_endpoints_pass_when_the_slice_lists_every_ready_pod(checks):
    outcome = evaluated("create-service", "endpoints-ready", [service(), *PODS, endpoint_slice(PODS)])
    assert outcome.status == Status.PASS, text(outcome)


def refused(where, command):
    return ok("", returncode=7, stderr="curl: (7) Failed to connect: Connection refused")


def test_target_port_nobody_listens_on_fails_at_once(checks):
    objects = [service(target_port=8080), *PODS, endpoint_slice(PODS, port=8080)]
    result = graded("create-service", "clusterip-answers", objects, reply=refused)
    assert reported_at_once(result), result
    assert "forwards to targetPort 8080, but the Pods listen on 80" in result.summary


def test_service_port_without_target_port_is_the_same_mistake(checks):
    # `port: 8080` alone: targetPort defaults to the port, where nginx does not listen.
    svc = service(target_port=8080)
    svc["spec"]["ports"][0]["port"] = 8080
    result = graded("create-service", "clusterip-answers", [svc, *PODS, endpoint_slice(PODS, port=8080)],
                    reply=refused)
    assert reported_at_once(result), result
    assert "Service port 8080 forwards to targetPort 8080, but the Pods listen on 80" in result.summary


def test_target_port_without_declared_ports_is_judged_by_what_answers(checks):
    bare = [pod(p["metadata"]["name"], p["status"]["podIP"], ports=()) for p in PODS]
    objects = [service(target_port=8080), *bare, endpoint_slice(bare, port=8080)]
    result = graded("create-service", "clusterip-answers", objects, reply=refused)
    assert reported_at_once(result), result
    assert "targetPort 8080" in result.summary and "10.244.1.2:8080" in result.observed


def test_clusterip_not_programmed_yet_is_waited_for(checks):
    def clusterip_refused(where, command):
        return refused(where, command) if CLUSTER_IP in command[-1] else ok("Served by webserver-7d9-aaaaa\n")

    outcome, _ = run(checks, "clusterip_answers", [service(), *PODS, endpoint_slice(PODS)], reply=clusterip_refused,
                     service="webserver", client="client")
    assert outcome.status == Status.FAIL and not outcome.final, text(outcome)


def test_named_target_port_that_names_nothing(checks):
    objects = [service(target_port="http"), *PODS]
    outcome, _ = run(checks, "clusterip_answers", objects, reply=refused, service="webserver", client="client")
    assert outcome.status == Status.FAIL and "names no port" in outcome.summary


def named(p, name="http", number=80):
    p = {**p, "spec": {**p["spec"], "containers": [{**p["spec"]["containers"][0],
                                                     "ports": [{"name": name, "containerPort": number}]}]}}
    return p


def test_named_target_port_that_resolves_to_the_listening_port_is_waited_for(checks):
    # Issue 17: a named targetPort was compared as written ("http" is no port) and failed at once,
    # though it resolves in every Pod to 80, where nginx listens; only kube-proxy had not caught up.
    def clusterip_refused(where, command):
        return refused(where, command) if CLUSTER_IP in command[-1] else ok("Served by webserver-7d9-aaaaa\n")

    pods = [named(p) for p in PODS]
    outcome, _ = run(checks, "clusterip_answers", [service(target_port="http"), *pods], reply=clusterip_refused,
                     service="webserver", client="client")
    assert outcome.status == Status.FAIL and not outcome.final, text(outcome)
    assert "names no port" not in outcome.summary and "10.244.1.2:80" in outcome.observed


def test_named_target_port_that_resolves_elsewhere_names_both(checks):
    pods = [named(p, "http", 8080) for p in PODS]
    for p in pods:
        p["spec"]["containers"][0]["ports"].append({"name": "web", "containerPort": 80})
    result = graded("create-service", "clusterip-answers", [service(target_port="http"), *pods], reply=refused)
    assert reported_at_once(result), result
    assert "forwards to targetPort 'http' (8080)" in result.summary and "10.244.1.2:8080" in result.observed


def test_clusterip_answered_by_a_pod_passes(checks):
    def answer(where, command):
        return ok("Served by webserver-7d9-bbbbb (10.244.2.3)\n")

    outcome, _ = run(checks, "clusterip_answers", [service(), *PODS], reply=answer, service="webserver",
                     client="client")
    assert outcome.status == Status.PASS and "webserver-7d9-bbbbb" in outcome.summary


def test_dns_names_in_another_namespace(checks):
    answer = configmap("answer-dns-names", short="webserver", namespaced="webserver.default",
                       fqdn="webserver.default.svc.cluster.local")
    result = graded("dns-names", "namespaced-name-recorded", [service(), *PODS, answer])
    assert reported_at_once(result), result
    assert f"Service webserver's name in namespace default (but Service webserver is in namespace {NS})" in result.cause


@pytest.mark.parametrize("fqdn", [f"webserver.{NS}.svc.cluster.local", f"webserver.{NS}.svc.cluster.local.",
                                  f" webserver.{NS}.svc.cluster.local\n"])
def test_dns_names_of_the_right_namespace_pass_in_any_form(checks, fqdn):
    answer = configmap("answer-dns-names", short="webserver\n", namespaced=f"webserver.{NS}", fqdn=fqdn)
    for check_id in ("short-name-recorded", "namespaced-name-recorded", "fqdn-recorded"):
        result = graded("dns-names", check_id, [service(), *PODS, answer])
        assert result.status == Status.PASS, result


def test_names_recorded_under_each_others_keys_are_named(checks):
    answer = configmap("answer-dns-names", short=f"webserver.{NS}", namespaced="webserver", fqdn="webserver")
    result = graded("dns-names", "short-name-recorded", [service(), *PODS, answer])
    assert result.status == Status.FAIL and "is one of Service webserver's DNS names, not webserver" in result.cause


def test_requests_answered_by_one_pod_name_session_affinity(checks):
    def answer(where, command):
        return ok("Served by webserver-7d9-aaaaa (10.244.1.2)\n\n" * 30)

    result = graded("load-balancing", "requests-spread", [service(sessionAffinity="ClientIP"), *PODS], reply=answer)
    assert reported_at_once(result), result
    assert "sessionAffinity" in result.cause


def test_recorded_pods_from_one_pod_ip(checks):
    answer = configmap("answer-served-by", pods="webserver-7d9-aaaaa ")
    result = graded("load-balancing", "answer-names-replicas", [service(), *PODS, answer])
    assert reported_at_once(result) and "not to one Pod's IP" in result.cause


def test_recorded_pod_ip_instead_of_a_name_is_named_for_what_it_is(checks):
    answer = configmap("answer-served-by", pods="webserver-7d9-aaaaa,webserver-7d9-bbbbb,10.244.2.4")
    result = graded("load-balancing", "answer-names-replicas", [service(), *PODS, answer])
    assert reported_at_once(result) and "10.244.2.4 (Pod webserver-7d9-ccccc's IP (status.podIP))" in result.cause


@pytest.mark.parametrize("separator", [" ", ",", "\n", ", "])
def test_recorded_pods_may_keep_one_made_unready_later(checks, separator):
    pods = [*PODS[:2], pod("webserver-7d9-ccccc", "10.244.2.4", ready=False)]
    answer = configmap("answer-served-by", pods=separator.join(p["metadata"]["name"] for p in PODS))
    result = graded("load-balancing", "answer-names-replicas", [service(), *pods, answer])
    assert result.status == Status.PASS, result


def owned(p, replica_set="webserver-7d9"):
    p = {**p, "metadata": {**p["metadata"], "ownerReferences": [
        {"kind": "ReplicaSet", "name": replica_set, "controller": True}]}}
    return p


def rs_event(message, at="2026-11-21T10:00:00Z", replica_set="webserver-7d9"):
    reason = "SuccessfulCreate" if message.startswith("Created") else "SuccessfulDelete"
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"ev-{message[-5:]}-{at}", "namespace": NS},
            "involvedObject": {"kind": "ReplicaSet", "name": replica_set}, "reason": reason, "message": message,
            "lastTimestamp": at}


CREATED = [rs_event(f"Created pod: {p['metadata']['name']}") for p in PODS]


@pytest.mark.parametrize("replaced_after", [2, 600], ids=["replaced-2s-later", "replaced-10min-later"])
@pytest.mark.parametrize("order", ["oldest-first", "newest-first"])
def test_a_replaced_pod_is_not_an_unready_one(checks, replaced_after, order):
    # Whatever the machine's speed (the replacement 2 s or 10 min younger) and the order the API lists
    # the Events in, the ReplicaSet's own record says a Pod it made is gone and another took its place.
    later = f"2026-11-21T10:{replaced_after // 60:02d}:{replaced_after % 60:02d}Z"
    replacement = owned(pod("webserver-7d9-ddddd", "10.244.2.9", created=later))
    events = [*CREATED, rs_event("Created pod: webserver-7d9-ddddd", at=later)]
    if order == "newest-first":
        events.reverse()
    pods = [owned(PODS[0]), owned(PODS[1]), replacement]
    outcome, _ = run(checks, "one_replica_unready", [service(), *pods, *events], service="webserver")
    assert outcome.status == Status.FAIL
    assert "none is unready" in outcome.summary and "deleting a Pod does not make it unready" in outcome.cause
    assert "webserver-7d9-ddddd replaced webserver-7d9-ccccc" in outcome.cause


def test_pods_the_replica_set_scaled_down_itself_were_not_deleted_by_hand(checks):
    pods = [owned(PODS[0]), owned(PODS[1]), owned(PODS[2])]
    events = [*CREATED, rs_event("Created pod: webserver-7d9-zzzzz"), rs_event("Deleted pod: webserver-7d9-zzzzz")]
    outcome, _ = run(checks, "one_replica_unready", [service(), *pods, *events], service="webserver")
    assert outcome.status == Status.FAIL and "deleting a Pod" not in outcome.cause
    assert "make one replica unready" in outcome.cause


def test_pods_of_the_same_age_with_no_deletion_get_the_plain_advice(checks):
    pods = [owned(p) for p in PODS]
    outcome, _ = run(checks, "one_replica_unready", [service(), *pods, *CREATED], service="webserver")
    assert outcome.status == Status.FAIL and "deleting a Pod" not in outcome.cause


NAT = f"""\
-A KUBE-SERVICES -d {CLUSTER_IP}/32 -p tcp -m comment --comment "{NS}/webserver cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEB
-A KUBE-SVC-WEB ! -s 10.244.0.0/16 -d {CLUSTER_IP}/32 -p tcp -m comment --comment "{NS}/webserver cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-WEB -m comment --comment "{NS}/webserver -> 10.244.1.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-AAA
-A KUBE-SVC-WEB -m comment --comment "{NS}/webserver -> 10.244.2.3:80" -j KUBE-SEP-BBB
-A KUBE-SEP-AAA -s 10.244.1.2/32 -m comment --comment "{NS}/webserver" -j KUBE-MARK-MASQ
-A KUBE-SEP-AAA -p tcp -m comment --comment "{NS}/webserver" -m tcp -j DNAT --to-destination 10.244.1.2:80
-A KUBE-SEP-BBB -s 10.244.2.3/32 -m comment --comment "{NS}/webserver" -j KUBE-MARK-MASQ
-A KUBE-SEP-BBB -p tcp -m comment --comment "{NS}/webserver" -m tcp -j DNAT --to-destination 10.244.2.3:80
"""
NODES = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": n}}
         for n in ("netlabs-multi-control-plane", "netlabs-multi-worker", "netlabs-multi-worker2")]


def kube_proxy(chain, pods):
    objects = [service(), *pods, endpoint_slice(pods), configmap("answer-kube-proxy", **{"svc-chain": chain}), *NODES]
    return objects


def test_kube_proxy_chain_on_every_node_leads_to_ready_endpoints(checks):
    pods = [*PODS[:2], pod("webserver-7d9-ccccc", "10.244.2.4", ready=False)]
    outcome, _ = run(checks, "kube_proxy_chain", kube_proxy("KUBE-SVC-WEB", pods), reply=lambda w, c: ok(NAT),
                     service="webserver", answer="answer-kube-proxy", key="svc-chain")
    assert outcome.status == Status.PASS, text(outcome)
    assert "on all 3 nodes" in outcome.summary and "10.244.2.3:80" in outcome.summary


def test_kube_proxy_sep_chain_recorded(checks):
    pods = [*PODS[:2], pod("webserver-7d9-ccccc", "10.244.2.4", ready=False)]
    result = graded("kube-proxy-rules", "chain-on-every-node", kube_proxy("KUBE-SEP-AAA", pods),
                    reply=lambda w, c: ok(NAT))
    assert reported_at_once(result), result
    assert "the chain of one endpoint (it DNATs to 10.244.1.2:80)" in result.cause


def test_kube_proxy_rules_not_written_yet_are_waited_for(checks):
    outcome, _ = run(checks, "kube_proxy_chain", kube_proxy("KUBE-SVC-WEB", PODS),
                     reply=lambda w, c: ok("", returncode=1), service="webserver", answer="answer-kube-proxy",
                     key="svc-chain")
    assert outcome.status == Status.FAIL and not outcome.final
    assert "no KUBE-SERVICES rule" in outcome.summary


def test_a_selector_broken_after_step_2_is_said_as_such_and_step_2_leads(checks):
    # Issue 17: steps 1-4 passed, then a typo in the Service's selector. Step 5 used to say "all 0 Pods
    # of Service webserver are ready: none is unready ... make one replica unready".
    from labcheck.engine import run_step

    lab = find_lab("04")
    typo = service({"name": "webservr"})
    client = {**pod("client", "10.244.1.9", labels={}), "metadata": {"name": "client", "namespace": NS}}
    answers = [configmap("answer-dns-names", short="webserver", namespaced=f"webserver.{NS}",
                         fqdn=f"webserver.{NS}.svc.cluster.local"),
               configmap("answer-served-by", pods=" ".join(p["metadata"]["name"] for p in PODS))]
    objects = [deployment(), typo, client, *PODS, endpoint_slice([]), *answers, *NODES]
    result = run_step(lab, lab.step("readiness"), FakeCluster(objects, exec_answer=lambda w, c: ok()),
                      namespace=NS, recheck_earlier=True)
    first = result.checks[0]
    assert first.status == Status.FAIL and first.attempts == 1, first
    assert "Service webserver selects no Pod (selector name=webservr)" in first.summary
    assert "none is unready" not in first.summary and "make one replica unready" not in (first.cause or "")
    assert "step 2, create-service" in first.cause
    assert str(result.regression).startswith("step 2 create-service no longer passes: endpoints-ready: 0 endpoints")


def test_an_unready_pod_still_listed_ready_is_waited_for(checks):
    pods = [*PODS[:2], pod("webserver-7d9-ccccc", "10.244.2.4", ready=False)]
    stale = endpoint_slice(PODS)  # lists all three as ready
    outcome = evaluated("readiness", "slice-follows-readiness", [service(), *pods, stale])
    assert outcome.status == Status.FAIL and not outcome.final
    assert "still list 10.244.2.4 (webserver-7d9-ccccc) as ready" in outcome.summary
    assert evaluated("readiness", "slice-follows-readiness",
                     [service(), *pods, endpoint_slice(pods)]).status == Status.PASS


@pytest.mark.parametrize("answered, summary_says, cause_says", [
    # Right after a Deployment's template changes, kube-proxy may still send to a Pod of the old ReplicaSet.
    ("Served by webserver-5c1-zzzzz (10.244.1.9)\n", "webserver-5c1-zzzzz", "rollout"),
    # Before kube-proxy has a new Service's rules, its address is routed like any other: on a machine whose
    # network answers every port 80 (a proxy), that answer names no Pod.
    ("\nLABCHECK-HTTP-STATUS 404\n", "not with the name of a Pod of Service webserver", "kube-proxy"),
])
def test_a_clusterip_answer_naming_no_selected_pod_is_waited_for(checks, answered, summary_says, cause_says):
    """Moving states, not a wrong Service: a quiet, fast machine checks within them, so not final."""
    outcome, _ = run(checks, "clusterip_answers", [service(), *PODS], reply=lambda where, command: ok(answered),
                     service="webserver", client="client")
    assert outcome.status == Status.FAIL and not outcome.final
    assert summary_says in outcome.summary and cause_says in outcome.cause
