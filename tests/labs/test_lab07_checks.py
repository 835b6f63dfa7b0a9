"""Lab 07's checks without a cluster: crictl's image list, the app's answers and the count in
Redis, and states lab.yaml does not replay, graded through the engine with each check's timeout
from lab.yaml (settings left to the app's defaults or kept in a ConfigMap, a named targetPort,
short image IDs, an image the node has but a pull policy that asks a registry)."""

from __future__ import annotations

import json
import sys

from labcheck.checks import CheckContext, run_check
from labcheck.checks.kinds.python import load_lab_functions
from labcheck.checks.outcome import Status
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, ok, pod

LAB = find_lab("07")
load_lab_functions(LAB.folder)
checks = sys.modules["labcheck_lab_07_own_two_container_app"]
NS = "lab07"
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netlabs-control-plane"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}
WEB_ID = "sha256:" + "ab12" * 16
LISTING = json.dumps({"images": [{"id": WEB_ID, "repoTags": ["docker.io/myrepo/web-app:latest"]},
                                 {"id": "sha256:" + "cd34" * 16, "repoTags": ["docker.io/myrepo/redis:latest"]}]})
STARTED = "web-app listens on port 3000, counts visits in Redis at {}:6379\n"


def graded(check_id: str, objects: list[dict], reply=None, logs=None):
    check = next(c for step in LAB.steps for c in step.checks if c.id == check_id)
    return run_check(check, CheckContext(FakeCluster([NODE, *objects], reply, logs), namespace=NS), LAB.folder)


def app_pod(env=None, port_name=None, **status):
    found = pod("multi-container-pod", NS, ("web-app", "redis"), labels={"app": "multi-container-app"}, **status)
    found["status"]["conditions"] = [{"type": "Ready", "status": "True" if status.get("ready", True) else "False"}]
    web = found["spec"]["containers"][0]
    web.update(image="myrepo/web-app:latest", ports=[{"containerPort": 3000, **({"name": port_name} if port_name else {})}])
    if env is not None:
        web["env"] = env
    return found


def configmap(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": data}


def service(target_port=3000, selector=None):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-app-service", "namespace": NS},
            "spec": {"type": "NodePort", "selector": selector or {"app": "multi-container-app"},
                     "ports": [{"port": 80, "targetPort": target_port, "nodePort": 31555}]}}


class App:
    """The Pod as the checks see it: Redis's counter, and the app adding one per request."""

    LISTENING = "  sl  local_address rem_address   st\n   0: 00000000:0BB8 00000000:0000 0A\n"

    def __init__(self, redis_host="localhost"):
        self.visits, self.redis_host = 4, redis_host

    def __call__(self, where, command):
        if command[0] == "redis-cli":
            return ok(f"{self.visits}\n")
        if command[0] == "cat":
            return ok(self.LISTENING)
        if self.redis_host != "localhost":
            failed = f"503 cannot reach Redis at {self.redis_host}:6379: getaddrinfo ENOTFOUND {self.redis_host}\n"
            return ok(failed * 2)
        lines = []
        for _ in range(2):
            self.visits += 1
            lines.append(f"200 Hello from multi-container-pod: visit number {self.visits}, counted in Redis at localhost:6379")
        return ok("\n".join(lines) + "\n")


# --- step 1: the images ------------------------------------------------------------------------


def test_image_names_as_containerd_lists_them():
    assert checks._reference("myrepo/web-app:latest") == "docker.io/myrepo/web-app:latest"
    assert checks._reference("redis:6.0") == "docker.io/library/redis:6.0"
    assert checks._reference("myrepo/redis") == "docker.io/myrepo/redis:latest"
    assert checks._reference("localhost:5000/app:1") == "localhost:5000/app:1"


def test_crictl_listing_maps_every_tag_to_its_id():
    listing = json.dumps({"images": [{"id": "sha256:abc", "repoTags": ["docker.io/myrepo/web-app:latest"]},
                                     {"id": "sha256:def", "repoTags": []}]})
    assert checks.node_images(listing) == {"docker.io/myrepo/web-app:latest": "sha256:abc"}
    assert checks.node_images("not json") == {}


def test_image_ids_recorded_as_docker_images_shows_them_pass():
    short = configmap("answer-images", **{"web-app": WEB_ID[7:19], "redis": "CD34CD34CD34"})
    assert graded("node-has-your-build", [short], lambda where, command: ok(LISTING)).status == Status.PASS
    too_short = configmap("answer-images", **{"web-app": "ab12", "redis": "cd34cd34cd34"})
    result = graded("node-has-your-build", [too_short], lambda where, command: ok(LISTING))
    assert result.status == Status.FAIL and "is not the one you recorded" in result.summary


def test_two_ids_recorded_from_every_tag_of_the_repository_are_told_so():
    # `docker images -q myrepo/web-app` lists one line per tag (:latest and, say, :1.0)
    both = configmap("answer-images", **{"web-app": f"{WEB_ID[7:19]}\n{WEB_ID[7:19]}", "redis": "cd34cd34cd34"})
    result = graded("node-has-your-build", [both], lambda where, command: ok(LISTING))
    assert result.status == Status.FAIL and "you recorded 2 IDs under web-app" in result.cause
    assert "docker image inspect myrepo/web-app:latest" in result.cause


# --- step 2: the Pod ----------------------------------------------------------------------------


def test_an_image_the_node_has_with_a_pull_policy_that_asks_a_registry_is_told_so():
    waiting = app_pod(running=False, ready=False, waiting_reason="ErrImagePull")
    result = graded("pod-running", [waiting], lambda where, command: ok(LISTING))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "has imagePullPolicy Always (a `:latest` or untagged image gets it by default)" in result.cause
    assert "The node does have the image" in result.cause and "check the image name" not in result.cause


def test_growing_counts_that_redis_holds_pass():
    answers = checks._answers("200 Hello from p: visit number 4, counted\n200 Hello from p: visit number 5, counted\n")
    assert checks._judge_counts(answers, 3, 5, "the app", "GET visits").status == Status.PASS


def test_counts_redis_does_not_hold_fail():
    answers = checks._answers("200 visit number 1\n200 visit number 2\n")
    outcome = checks._judge_counts(answers, 7, 7, "the app", "GET visits")
    assert outcome.status == Status.FAIL and "does not follow" in outcome.summary


def test_no_answer_at_all_is_not_final():
    outcome = checks._judge_counts(checks._answers("000 \n000 \n"), 0, 0, "node", "GET visits")
    assert outcome.status == Status.FAIL and not outcome.final


def test_where_the_app_looked_for_redis_is_read_from_its_answer_not_the_pod_spec():
    # REDIS_HOST comes from a ConfigMap (envFrom): the Pod's env list holds nothing to read.
    result = graded("counts-in-redis", [app_pod()], App(redis_host="redis"))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "the name 'redis' in REDIS_HOST does not resolve" in result.cause


def test_redis_host_left_unset_passes_by_the_apps_own_default():
    logs = {("multi-container-pod", "web-app"): STARTED.format("localhost")}
    assert graded("redis-host-is-localhost", [app_pod()], logs=logs).status == Status.PASS
    assert graded("counts-in-redis", [app_pod()], App()).status == Status.PASS


def test_redis_reached_by_another_address_fails_at_once_saying_where_the_app_looks():
    pod_ip = [{"name": "REDIS_HOST", "value": "10.244.0.7"}]
    logs = {("multi-container-pod", "web-app"): STARTED.format("10.244.0.7")}
    result = graded("redis-host-is-localhost", [app_pod(pod_ip)], logs=logs)
    assert result.status == Status.FAIL and result.attempts == 1
    assert "Redis at 10.244.0.7:6379" in result.observed and "leave it unset" in result.cause


# --- step 3: the Service ------------------------------------------------------------------------


def test_a_named_target_port_is_resolved_in_the_pod():
    assert graded("service-ports", [service("http")]).status == Status.PASS
    result = graded("nodeport-counts", [app_pod(port_name="http"), service("http")], App())
    assert result.status == Status.PASS, result


def test_a_named_target_port_the_pod_does_not_have_fails_at_once():
    result = graded("nodeport-counts", [app_pod(), service("http")], App())
    assert result.status == Status.FAIL and result.attempts == 1 and "names no port" in result.summary


def test_a_service_that_selects_no_pod_says_so_at_once_not_kube_proxy():
    result = graded("nodeport-counts", [app_pod(), service(selector={"app": "web-app-service"})],
                    lambda where, command: ok("000 \n000 \n"))
    assert result.status == Status.FAIL and result.attempts == 1
    assert "selector app=web-app-service matches no Pod" in result.cause and "kube-proxy" not in result.cause
