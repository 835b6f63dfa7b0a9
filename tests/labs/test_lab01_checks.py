"""Lab 01's own checks: strict about the lesson, lenient about the rest (issue 6, items 5-7)."""

from __future__ import annotations

import pytest

from labcheck.checks.outcome import Status
from labcheck.engine import run_step
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok, pod

LAB = find_lab("01")
LABELS = {"name": "multi-container-pod", "environment": "production", "tier": "front-end"}


def sidecar_pod(command, env=None, native=False):
    obj = pod("multicontainerpod", containers=("nginx-container", "sidecar"), labels=LABELS)
    sidecar = obj["spec"]["containers"][1]
    sidecar["command"] = command
    if env:
        sidecar["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if native:
        obj["spec"]["containers"].pop()
        obj["spec"]["initContainers"] = [{**sidecar, "restartPolicy": "Always"}]
        statuses = obj["status"]["containerStatuses"]
        obj["status"]["initContainerStatuses"] = [statuses.pop()]
    return obj


def step(name, cluster):
    return run_step(LAB, LAB.step(name), cluster, wait=0)


@pytest.mark.parametrize("script", [
    "while true; do curl localhost:80; sleep 300; done",
    "while true; do curl -s http://[::1]:80/; sleep 300; done",
    "while true; do curl 127.0.0.1; sleep 300; done",
    "while true; do curl -sS $NGINX_URL; sleep 300; done",
    "while true; do wget -qO- http://localhost/; sleep 300; done",
])
def test_sidecar_may_ask_localhost_in_any_equivalent_way(script):
    obj = sidecar_pod(["sh", "-c", script], env={"NGINX_URL": "http://localhost:80"})
    result = step("create-pod", FakeCluster([obj]))
    assert result.status == Status.PASS, [c.summary for c in result.checks]


@pytest.mark.parametrize("script", [
    "echo localhost; curl web-svc",
    "while true; do curl localhost:8080; sleep 300; done",
    "while true; do curl 10.244.0.7:80; sleep 300; done",
    "sleep infinity",
])
def test_sidecar_that_does_not_ask_localhost_80_fails(script):
    result = step("create-pod", FakeCluster([sidecar_pod(["sh", "-c", script])]))
    check = result.checks[2]
    assert check.check_id == "sidecar-polls-localhost" and check.status == Status.FAIL


def test_native_sidecar_counts_as_a_container_of_the_pod():
    obj = sidecar_pod(["sh", "-c", "while true; do curl localhost:80; sleep 300; done"], native=True)
    assert step("create-pod", FakeCluster([obj])).status == Status.PASS


def test_deployment_made_pod_is_told_to_be_a_bare_pod():
    made = sidecar_pod(["sh", "-c", "curl localhost"])
    made["metadata"]["name"] = "multicontainerpod-5d4f9c-abcde"
    made["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "multicontainerpod-5d4f9c"}]
    check = step("create-pod", FakeCluster([made])).checks[0]
    assert check.status == Status.FAIL and "made by ReplicaSet" in check.cause


# nginx's "main" log format, as the nginx image logs: X-Forwarded-For follows the user agent.
PROBE = '10.244.0.1 - - [21/Nov/2026:10:00:{s:02d} +0000] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.34" "-"'
CURL = '{ip} - - [21/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "-"'


def nginx_log(*extra):
    # Many readiness-probe lines first: a short tail would miss the sidecar's one request.
    return "\n".join([PROBE.format(s=s % 60) for s in range(400)] + list(extra)) + "\n"


def step3(log, answer="127.0.0.1"):
    obj = sidecar_pod(["sh", "-c", "while true; do curl localhost:80; sleep 300; done"])
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "answer-client-address", "namespace": "lab01"}, "data": {"address": answer}}
    page = ok("<h1>Welcome to nginx!</h1>\nLABCHECK-HTTP-STATUS 200\n")
    return step("sidecar-reaches-nginx", FakeCluster(
        [obj, configmap], exec_answer=lambda w, c: page,
        logs={("multicontainerpod", "nginx-container"): log}))


def test_sidecar_request_is_found_among_probe_lines_and_strangers_are_ignored():
    result = step3(nginx_log(CURL.format(ip="10.244.0.9"), CURL.format(ip="127.0.0.1")))
    assert result.status == Status.PASS, [(c.check_id, c.summary) for c in result.checks]


def test_only_non_loopback_requests_fail_with_the_reason():
    check = step3(nginx_log(CURL.format(ip="10.244.0.9"))).checks[1]
    assert check.status == Status.FAIL and "never from a loopback address" in check.summary


def test_answer_localhost_is_accepted():
    assert step3(nginx_log(CURL.format(ip="127.0.0.1")), answer="localhost").status == Status.PASS


def test_answer_with_the_probe_address_is_taught_the_difference():
    check = step3(nginx_log(CURL.format(ip="127.0.0.1")), answer="10.244.0.1").checks[3]
    assert check.status == Status.FAIL and "kube-probe" in check.cause


def volume_pod(writer_command):
    obj = pod("shared-volume-pod", containers=("writer", "reader"))
    writer, reader = obj["spec"]["containers"]
    writer["command"] = ["sh", "-c", writer_command]
    writer["volumeMounts"] = [{"name": "shared-data", "mountPath": "/data"}]
    reader["command"] = ["sh", "-c", "touch /shared/log.txt; tail -f /shared/log.txt"]
    reader["volumeMounts"] = [{"name": "shared-data", "mountPath": "/shared"}]
    return obj


def listing(size):
    return ok(f"total 4\n 1234 -rw-r--r--    1 0        0             {size} Nov 21 10:00 log.txt\n")


def test_data_must_cross_the_volume_not_just_a_touched_file():
    elsewhere = volume_pod("while true; do echo hi >> /tmp/log.txt; sleep 5; done")
    result = step("shared-volume", FakeCluster([elsewhere], exec_answer=lambda w, c: listing(0)))
    check = result.checks[2]
    assert check.status == Status.FAIL and "writes outside the shared volume" in check.cause


def test_writer_data_seen_by_reader_through_the_same_inode_passes():
    shared = volume_pod("while true; do echo hi >> /data/log.txt; sleep 5; done")
    result = step("shared-volume", FakeCluster([shared], exec_answer=lambda w, c: listing(120)))
    assert result.status == Status.PASS and "inode 1234" in result.checks[2].summary


def test_empty_file_in_the_volume_is_not_data():
    shared = volume_pod("while true; do echo hi >> /data/log.txt; sleep 5; done")
    check = step("shared-volume", FakeCluster([shared], exec_answer=lambda w, c: listing(0))).checks[2]
    assert check.status == Status.FAIL and "no file with data" in check.summary
