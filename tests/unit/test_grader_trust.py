"""Issue 6: no false PASS, no false FAIL, causes that point the right way.

Each test here fails on a88ff55 (the grader before this work) and names the
hole it closes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from labcheck.checks.matching import mismatches
from labcheck.checks.outcome import Status
from labcheck.checks.kinds.probe import Probe
from tests.conftest import FakeCluster, grade_checks, make_lab, ok, pod

ANSWER = {"id": "answer", "title": "answer", "cause": "record it with kubectl create configmap answer ...",
          "assert": {"kind": "ConfigMap", "metadata": {"name": "answer"}, "data": {"address": {"$exists": True}}}}


def configmap(name, namespace="lab01", **meta):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, **meta},
            "data": {}}


# --- 1. causes point the right way ------------------------------------------------------


def test_author_cause_wins_when_the_object_is_simply_not_made_yet():
    # kube-root-ca.crt exists in every namespace: it must not trigger "check metadata.name".
    check = grade_checks([ANSWER], FakeCluster([configmap("kube-root-ca.crt")])).checks[0]
    assert check.status == Status.FAIL
    assert check.cause == ANSWER["cause"]


def test_similar_name_gets_the_metadata_name_advice():
    check = grade_checks([ANSWER], FakeCluster([configmap("answers")])).checks[0]
    assert "'answers'" in check.cause and "metadata.name" in check.cause


def test_pod_made_by_a_deployment_is_told_a_bare_pod_is_wanted():
    made = pod("web-7d9f8-x2x", labels={"app": "web"})
    made["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-7d9f8"}]
    check = grade_checks([{"id": "pod", "title": "pod", "assert": {"kind": "Pod", "metadata": {"name": "web"}}}],
                FakeCluster([made])).checks[0]
    assert "made by ReplicaSet web-7d9f8" in check.cause and "kind: Pod" in check.cause
    assert "metadata.name" not in check.cause


# --- fail fast: states that cannot converge ----------------------------------------------


def test_missing_object_the_learner_makes_is_reported_without_waiting():
    lab_check = grade_checks([ANSWER], FakeCluster([]))  # wait=0 in `grade_checks`; use a real wait below
    assert lab_check.checks[0].status == Status.FAIL
    from labcheck.engine import run_step

    lab = make_lab([ANSWER])
    result = run_step(lab, lab.steps[0], FakeCluster([]), wait=5)
    assert result.checks[0].attempts == 1 and result.checks[0].duration < 1


def test_image_that_cannot_be_pulled_fails_at_once():
    from labcheck.engine import run_step

    stuck = pod("web", running=False, waiting_reason="ImagePullBackOff")
    lab = make_lab([{"id": "up", "title": "up",
                     "assert": {"kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": "Running"}}}])
    result = run_step(lab, lab.steps[0], FakeCluster([stuck]), wait=5)
    assert result.checks[0].attempts == 1 and "kind load" in result.checks[0].cause


PROC_NET_TCP = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
                "   0: 00000000:{port:04X} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
                "   1: 0100007F:C350 0100007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 2\n")


def _unready_with(message: str, times: int, listening: int | None, uid: str = "uid-web"):
    """pod_cause for a Pod whose readiness probe asks 8080, failed `times` times saying `message`,
    while the Pod listens on `listening` (None: /proc/net/tcp cannot be read)."""
    from labcheck.checks.context import CheckContext
    from labcheck.checks.diagnose import pod_cause

    unready = pod("web", ready=False)
    unready["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"port": 8080}, "periodSeconds": 2}
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"e{times}", "namespace": "lab01"},
             "involvedObject": {"kind": "Pod", "name": "web", "uid": uid, "fieldPath": "spec.containers{app}"},
             "reason": "Unhealthy", "message": f"Readiness probe failed: {message}", "count": times}

    def answer(where, command):
        if listening is None:
            return ok(stderr="cat: not found", returncode=127)
        return ok(PROC_NET_TCP.format(port=listening))

    return pod_cause(unready, CheckContext(FakeCluster([unready, event], exec_answer=answer), "lab01"))


REFUSED = 'Get "http://10.244.1.5:8080/": dial tcp 10.244.1.5:8080: connect: connection refused'


def test_readiness_is_final_only_when_its_port_refuses_while_the_pod_listens_elsewhere():
    final = _unready_with(REFUSED, 3, listening=80)
    assert final.final and "fail 3 times or more (nothing listens on port 8080)" in final.text
    # A container still starting fails its first probes too: nothing listens yet, so it may still come.
    assert not _unready_with(REFUSED, 3, listening=None).final
    assert not _unready_with(REFUSED, 30, listening=8080).final  # it listens there now: the next probe may pass
    assert not _unready_with(REFUSED, 1, listening=80).final  # not yet judged failing by the kubelet
    # An HTTP answer on the probe's port: the server is up and says so itself.
    assert _unready_with("HTTP probe failed with statuscode: 404", 3, listening=None).final
    # A timeout may be a loaded node: waited for.
    assert not _unready_with('Get "http://10.244.1.5:8080/": context deadline exceeded', 9, listening=80).final
    # An Event about an earlier Pod of the same name does not count for this one.
    assert not _unready_with(REFUSED, 5, listening=80, uid="uid-earlier-web").final
    assert "port 8080" in final.text


def test_service_selecting_nothing_says_zero_endpoints():
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "lab01"},
               "spec": {"selector": {"app": "wbe"}, "ports": [{"port": 80}]}}
    check = grade_checks([{"id": "svc", "title": "svc",
                  "assert": {"kind": "Service", "metadata": {"name": "web"}, "spec": {"clusterIP": "1.2.3.4"}}}],
                FakeCluster([service, pod("web-1", labels={"app": "web"})])).checks[0]
    assert "0 endpoints" in check.cause and "app=wbe matches no Pod" in check.cause and "app=web" in check.cause


# --- 2. a command missing from the image is a clear FAIL -----------------------------------


def test_command_missing_from_image_is_fail_not_error_or_success():
    probe = {"id": "p", "title": "p", "probe": {"exec": {"pod": "web", "container": "app",
                                                          "command": ["readlink", "/proc/self/ns/net"]}}}
    missing = ok(stderr="`readlink` is not in container app's image", returncode=127)
    missing.extra["not_started"] = True
    check = grade_checks([probe], FakeCluster([pod("web")], exec_answer=lambda w, c: missing)).checks[0]
    assert check.status == Status.FAIL
    assert "`readlink` is not in the image" in check.summary


# --- 3. blocked means blocked ----------------------------------------------------------------

BLOCKED = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://db"},
                                             "expect": {"blocked": True}, "control": {"pod": "admin"}}}


def _blocked_with(target_answer, control_answer=None):
    def answer(where, cmd):
        if where.startswith("admin/"):
            return control_answer or ok("hi\nLABCHECK-HTTP-STATUS 200\n")
        return target_answer
    return grade_checks([BLOCKED], FakeCluster([pod("web"), pod("admin")], exec_answer=answer)).checks[0]


def test_missing_client_is_not_blocked():
    check = _blocked_with(ok(stderr="neither curl nor wget is in this container's image", returncode=127))
    assert check.status == Status.ERROR


def test_dns_failure_is_not_blocked():
    check = _blocked_with(ok(stderr="curl: (6) Could not resolve host: db", returncode=6))
    assert check.status == Status.FAIL and "does not resolve" in check.cause


def test_crashed_server_is_not_blocked():
    refused = ok(stderr="curl: (7) Failed to connect to db port 80: Connection refused", returncode=7)
    check = _blocked_with(refused, control_answer=refused)
    assert check.status == Status.FAIL and "answers nobody" in check.cause


def test_http_error_status_got_through():
    check = _blocked_with(ok("oops\nLABCHECK-HTTP-STATUS 503\n"))
    assert check.status == Status.FAIL and "HTTP 503" in check.observed


def test_blocked_without_a_control_is_an_invalid_lab():
    with pytest.raises(ValidationError, match="needs `control:`"):
        Probe.model_validate({"http": {"pod": "web", "url": "http://db"}, "expect": {"blocked": True}})


def test_probe_with_two_targets_is_an_invalid_lab():
    with pytest.raises(ValidationError, match="exactly one of"):
        Probe.model_validate({"http": {"pod": "web", "url": "http://db"}, "dns": {"pod": "web", "name": "db"}})


# --- 4. HTTP status decides, whichever client the image has ----------------------------------

HTTP = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://localhost/missing"}}}


def _http(result, probe=HTTP):
    return grade_checks([probe], FakeCluster([pod("web")], exec_answer=lambda w, c: result)).checks[0]


def test_curl_404_fails():
    check = _http(ok("<h1>404 Not Found</h1>\nLABCHECK-HTTP-STATUS 404\n"))  # curl exits 0 on a 404
    assert check.status == Status.FAIL and "HTTP 404" in check.summary


def test_wget_404_fails_the_same_way():
    check = _http(ok(stderr="  HTTP/1.1 404 Not Found\nwget: server returned error: HTTP/1.1 404 Not Found",
                     returncode=1))
    assert check.status == Status.FAIL and "HTTP 404" in check.summary


def test_wget_200_passes():
    assert _http(ok("hello", stderr="  HTTP/1.1 200 OK\n")).status == Status.PASS


def test_expected_status_can_be_an_error_code():
    probe = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://localhost/missing"},
                                               "expect": {"status": 404}}}
    assert _http(ok("nope\nLABCHECK-HTTP-STATUS 404\n"), probe).status == Status.PASS
    assert _http(ok("yes\nLABCHECK-HTTP-STATUS 200\n"), probe).status == Status.FAIL


def test_body_checks_ignore_the_status_marker():
    probe = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://localhost/"},
                                               "expect": {"not_contains": "LABCHECK"}}}
    assert _http(ok("page\nLABCHECK-HTTP-STATUS 200\n"), probe).status == Status.PASS


# --- 9. list matching is an assignment; $contains on a list is membership ---------------------


def test_list_matching_finds_an_assignment_greedy_first_fit_misses():
    containers = [{"name": "nginx", "ready": True}, {"name": "sidecar", "ready": True}]
    assert mismatches([{"ready": True}, {"name": "sidecar"}], containers) == []


def test_contains_on_a_list_is_membership_not_substring():
    assert mismatches({"$contains": 80}, [8080, 443]) != []
    assert mismatches({"$contains": "80"}, ["8080"]) != []
    assert mismatches({"$contains": 80}, [8080, 80]) == []
    assert mismatches({"$contains": {"port": 80}}, [{"port": 80, "protocol": "TCP"}]) == []


def test_probe_targets_follow_the_graded_namespace():
    probe = {"id": "p", "title": "p", "probe": {"dns": {"pod": "web", "name": "db.$LAB_NAMESPACE.svc"},
                                               "expect": {"contains": "db"}}}
    cluster = FakeCluster([pod("web")], exec_answer=lambda w, c: ok("10.96.0.9 db.lab01.svc.cluster.local"))
    assert grade_checks([probe], cluster).status == Status.PASS
    command = next(call for call in cluster.calls if call[0] == "exec")[3]
    assert "db.lab01.svc" in command[-1] and "$LAB_NAMESPACE" not in command[-1]


@pytest.mark.parametrize("reason,restarts,final", [
    ("CrashLoopBackOff", 1, False),  # a crash on start that the next restart may get past
    ("CrashLoopBackOff", 2, True),
    ("CreateContainerConfigError", 5, False),  # the ConfigMap or Secret may be applied a moment later
    ("RunContainerError", 0, True),
])
def test_a_container_that_cannot_run_is_final_only_once_it_cannot_come_right_by_itself(reason, restarts, final):
    from labcheck.checks.diagnose import pod_cause

    stuck = pod("web", running=False, waiting_reason=reason)
    stuck["status"]["containerStatuses"][0]["restartCount"] = restarts
    cause = pod_cause(stuck)
    assert f"cannot run ({reason})" in cause.text and cause.final is final
