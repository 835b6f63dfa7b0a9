"""Lab 01's checks on made-up clusters: judged by what nginx and the containers saw, strict
about the lesson, lenient about the form (issue 6, items 5-7; issue 17)."""

from __future__ import annotations

import pytest

from labcheck.checks.outcome import Status
from labcheck.engine import run_step
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok, pod

LAB = find_lab("01")
LABELS = {"name": "multi-container-pod", "environment": "production", "tier": "front-end"}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netlabs-control-plane"},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}

# nginx's "main" log format, as the nginx image logs: X-Forwarded-For follows the user agent.
PROBE = '10.244.0.1 - - [21/Nov/2026:10:00:{s:02d} +0000] "GET / HTTP/1.1" 200 615 "-" "kube-probe/1.34" "-"'
REQUEST = '{ip} - - [21/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" 200 615 "-" "{agent}" "-"'


def nginx_log(*lines):
    # Many readiness-probe lines first: a short tail would miss the sidecar's one request.
    return "\n".join([PROBE.format(s=s % 60) for s in range(400)] + list(lines)) + "\n"


def curl_from(ip, agent="curl/8.11.1"):
    return REQUEST.format(ip=ip, agent=agent)


def sidecar_pod(command, native=False, image="img:1"):
    obj = pod("multicontainerpod", containers=("nginx-container", "sidecar"), labels=LABELS)
    sidecar = obj["spec"]["containers"][1]
    sidecar["command"], sidecar["image"] = command, image
    if native:
        obj["spec"]["containers"].pop()
        obj["spec"]["initContainers"] = [{**sidecar, "restartPolicy": "Always"}]
        statuses = obj["status"]["containerStatuses"]
        obj["status"]["initContainerStatuses"] = [statuses.pop()]
    return obj


def step(name, cluster, wait=0):
    return run_step(LAB, LAB.step(name), cluster, wait=wait)


def step1(obj, nginx, sidecar_said="", wait=0):
    return step("create-pod", FakeCluster([obj, NODE], logs={("multicontainerpod", "nginx-container"): nginx,
                                                             ("multicontainerpod", "sidecar"): sidecar_said}), wait)


# --- step 1: the sidecar's request, judged by what nginx logged ----------------------------------


@pytest.mark.parametrize("command, client, agent", [
    (["sh", "-c", "while true; do curl localhost:80; sleep 300; done"], "127.0.0.1", "curl/8.11.1"),
    (["sh", "-c", "while true; do curl -s http://[::1]:80/; sleep 300; done"], "::1", "curl/8.11.1"),
    (["sh", "-c", "while true; do wget -qO- http://localhost/; sleep 300; done"], "127.0.0.1", "Wget"),
    # forms no reading of the command could follow: the URL in a file, a script of its own
    (["sh", "-c", 'while true; do curl -s "$(cat /config/url)"; sleep 300; done'], "127.0.0.1", "curl/7.88.1"),
    (["/scripts/poll.sh"], "127.0.0.1", "curl/8.11.1"),
])
def test_the_sidecar_passes_whatever_its_command_looks_like_when_nginx_saw_it_over_loopback(command, client,
                                                                                              agent):
    result = step1(sidecar_pod(command), nginx_log(curl_from(client, agent)))
    assert result.status == Status.PASS, [(c.check_id, c.summary, c.cause) for c in result.checks]
    assert client in result.checks[2].summary


def test_native_sidecar_counts_as_a_container_of_the_pod():
    obj = sidecar_pod(["sh", "-c", "while true; do curl -s localhost:80; sleep 5; done"], native=True)
    assert step1(obj, nginx_log(curl_from("127.0.0.1"))).status == Status.PASS


def test_lenient_about_image_tag_and_container_port():
    article = sidecar_pod(["sh", "-c", "while true; do curl localhost; sleep 300; done"])
    article["spec"]["containers"][0]["image"] = "nginx:latest"  # not the pinned tag, and no ports at all
    assert step1(article, nginx_log(curl_from("127.0.0.1"))).status == Status.PASS


def test_requests_from_the_pods_ip_are_named_and_final():
    obj = sidecar_pod(["sh", "-c", "while true; do curl 10.244.0.7:80; sleep 300; done"])
    check = step1(obj, nginx_log(curl_from("10.244.0.7")), wait=5).checks[2]
    assert check.status == Status.FAIL and check.attempts == 1
    assert "10.244.0.7 (Pod multicontainerpod's IP (status.podIP)), never from a loopback address" in check.summary
    assert "curl 10.244.0.7:80" in check.observed and "ask localhost:80" in check.cause


def test_a_request_that_came_before_nginx_listened_is_told_so_and_waited_for():
    said = "curl: (7) Failed to connect to localhost port 80 after 0 ms: Couldn't connect to server\n"
    check = step1(sidecar_pod(["sh", "-c", "while true; do curl localhost:80; sleep 300; done"]), nginx_log(),
                  said).checks[2]
    assert check.status == Status.FAIL and "before nginx listened" in check.cause
    assert "kubectl exec multicontainerpod -c sidecar -- curl -s localhost:80" in check.cause


def test_a_sidecar_asking_the_wrong_port_is_shown_what_it_printed_and_final():
    said = "curl: (7) Failed to connect to localhost port 8080 after 0 ms: Couldn't connect to server\n"
    check = step1(sidecar_pod(["sh", "-c", "while true; do curl localhost:8080; sleep 300; done"]), nginx_log(),
                  said, wait=5).checks[2]
    assert check.status == Status.FAIL and check.attempts == 1
    assert "port 8080" in check.observed and "ask localhost:80" in check.cause


def test_a_sidecar_that_asks_nothing_shows_its_command():
    check = step1(sidecar_pod(["sleep", "infinity"]), nginx_log()).checks[2]
    assert check.status == Status.FAIL and "sleep infinity" in check.observed and "curl localhost:80" in check.cause


def test_two_pods_are_named():
    nginx = pod("multicontainerpod", containers=("nginx-container",), labels=LABELS)
    result = step("create-pod", FakeCluster([nginx, pod("sidecar", containers=("sidecar",))]))
    check = result.checks[1]
    assert check.status == Status.FAIL and "sidecar runs in Pod sidecar, not in Pod multicontainerpod" in check.cause


def test_deployment_made_pod_is_told_to_be_a_bare_pod():
    made = sidecar_pod(["sh", "-c", "curl localhost"])
    made["metadata"]["name"] = "multicontainerpod-5d4f9c-abcde"
    made["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "multicontainerpod-5d4f9c"}]
    check = step("create-pod", FakeCluster([made])).checks[0]
    assert check.status == Status.FAIL and "made by ReplicaSet" in check.cause


# --- step 3: nginx's log and the recorded answer ------------------------------------------------------


def step3(log, answer="127.0.0.1"):
    obj = sidecar_pod(["sh", "-c", "while true; do curl localhost:80; sleep 300; done"])
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "answer-client-address", "namespace": "lab01"}, "data": {"address": answer}}
    page = ok("<h1>Welcome to nginx!</h1>\nLABCHECK-HTTP-STATUS 200\n")
    return step("sidecar-reaches-nginx", FakeCluster(
        [obj, configmap, NODE], exec_answer=lambda w, c: page,
        logs={("multicontainerpod", "nginx-container"): log}))


def test_sidecar_request_is_found_among_probe_lines_and_strangers_are_ignored():
    result = step3(nginx_log(curl_from("10.244.0.9"), curl_from("127.0.0.1")))
    assert result.status == Status.PASS, [(c.check_id, c.summary) for c in result.checks]


def test_only_non_loopback_requests_fail_with_the_reason():
    check = step3(nginx_log(curl_from("10.244.0.9"))).checks[1]
    assert check.status == Status.FAIL and "none from 127.0.0.1 or ::1" in check.summary


@pytest.mark.parametrize("answer", ["localhost", "::1", "127.0.0.1\n"])
def test_any_form_of_the_loopback_address_is_accepted(answer):
    assert step3(nginx_log(curl_from("127.0.0.1")), answer=answer).status == Status.PASS


def test_answer_with_the_probe_address_is_named_as_the_kubelets():
    check = step3(nginx_log(curl_from("127.0.0.1")), answer="10.244.0.1").checks[3]
    assert check.status == Status.FAIL and "kube-probe" in check.cause and "node netlabs-control-plane" in check.cause


def test_answer_with_the_pod_ip_is_named():
    check = step3(nginx_log(curl_from("127.0.0.1")), answer="10.244.0.7").checks[3]
    assert check.status == Status.FAIL and "is Pod multicontainerpod's IP" in check.cause


def test_an_answer_the_grader_cannot_name_gets_the_labs_lesson():
    check = step3(nginx_log(curl_from("127.0.0.1")), answer="192.0.2.1").checks[3]
    assert check.status == Status.FAIL and "never leaves the Pod" in check.cause


# --- step 5: one volume, and data across it ---------------------------------------------------------


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
    check = step("shared-volume", FakeCluster([elsewhere], exec_answer=lambda w, c: listing(0))).checks[1]
    assert check.status == Status.FAIL and "writes outside the shared volume" in check.cause


def test_writer_data_seen_by_reader_through_the_same_inode_passes():
    shared = volume_pod("while true; do echo hi >> /data/log.txt; sleep 5; done")
    result = step("shared-volume", FakeCluster([shared], exec_answer=lambda w, c: listing(120)))
    assert result.status == Status.PASS and "inode 1234" in result.checks[1].summary


def test_empty_file_in_the_volume_is_not_data():
    shared = volume_pod("while true; do echo hi >> /data/log.txt; sleep 5; done")
    check = step("shared-volume", FakeCluster([shared], exec_answer=lambda w, c: listing(0))).checks[1]
    assert check.status == Status.FAIL and "no file with data" in check.summary
