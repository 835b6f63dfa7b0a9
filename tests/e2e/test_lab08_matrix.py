"""Lab 08's connectivity matrix on a real kube-router cluster: `blocked` means blocked.

All 9 cells of the default-deny matrix are blocked, graded in one attempt (how long
that takes is printed by `scripts/benchmark.py --matrix-step`, not asserted here); a
rejected connection counts as blocked only while the server's node gets
through: with the server not listening, the same rejection is "server down", and a
deleted policy opens the cells again.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from labcheck.errors import ExitStatus
from labcheck.loader import all_labs
from labcheck.toolchain import cluster_config, kube_context
from tests.e2e.conftest import drop_namespace, labcheck


@pytest.fixture(scope="module")
def lab08(e2e_env, cleanup_clusters):
    lab = next(lab for lab in all_labs() if lab.id == "08")
    drop_namespace(e2e_env, lab)
    started = labcheck(e2e_env, "start", "08")
    assert started.returncode == ExitStatus.PASSED, started.stderr
    for step in ("open-baseline", "default-deny"):
        solved = labcheck(e2e_env, "solve", "08", "--step", step)
        assert solved.returncode == ExitStatus.PASSED, solved.stderr
    _config, name = cluster_config(lab.cluster)
    yield lab, e2e_env, kube_context(name)
    drop_namespace(e2e_env, lab)


def _kubectl(env, context, *args):
    done = subprocess.run(["kubectl", "--context", context, "-n", "lab08", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _wait_for_endpoint(env, context, service: str, seconds: float = 60) -> None:
    """Until the Service's EndpointSlice lists the Pod of that name (kube-proxy follows it)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        ip = _kubectl(env, context, "get", "pod", service, "-o", "jsonpath={.status.podIP}").stdout.strip()
        listed = _kubectl(env, context, "get", "endpointslices", "-l", f"kubernetes.io/service-name={service}",
                          "-o", "jsonpath={.items[*].endpoints[*].addresses[*]}").stdout.split()
        if ip and ip in listed:
            return
        assert time.monotonic() < deadline, f"Service {service} does not list Pod {service} ({ip}): {listed}"
        time.sleep(0.5)


def _check(env, step: str, wait: str | None = None) -> dict:
    args = ["check", "08", "--step", step, "--output", "json"] + (["--wait", wait] if wait else [])
    done = labcheck(env, *args)
    assert done.returncode in (ExitStatus.PASSED, ExitStatus.FAILED), done.stderr
    document = json.loads(done.stdout)
    steps = document["steps"] if isinstance(document, dict) and "steps" in document else document
    return (steps[0] if isinstance(steps, list) else steps)["checks"][0]


def _cells(check: dict) -> dict[tuple[str, str], str]:
    item = next(e for e in check["evidence"] if e["kind"] == "matrix")
    return {(c["client"], c["target"]): c["observed"] for c in item["cells"]}


def test_nine_cells_are_blocked_in_one_attempt(lab08):
    _lab, env, _context = lab08
    assert _check(env, "default-deny")["status"] == "PASS"  # kube-router has the policy in place
    check = _check(env, "default-deny", wait="0")  # one attempt
    assert check["status"] == "PASS", check
    assert len(_cells(check)) == 9 and set(_cells(check).values()) == {"blocked"}
    print(f"9-cell matrix graded in {check['duration']} s")


def test_a_server_that_does_not_listen_is_down_not_blocked(lab08):
    _lab, env, context = lab08
    # db runs, but nothing in it listens on 6379: the node's control is refused as well.
    _kubectl(env, context, "delete", "pod", "db", "--wait=true")
    silent = ("apiVersion: v1\nkind: Pod\nmetadata: {name: db, labels: {app: db}}\nspec:\n"
              "  terminationGracePeriodSeconds: 0\n"
              "  containers: [{name: redis, image: 'nginx:1.27', command: [sleep, '3600']}]\n")
    done = subprocess.run(["kubectl", "--context", context, "-n", "lab08", "apply", "-f", "-"], input=silent,
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    _kubectl(env, context, "wait", "--for=condition=Ready", "pod/db", "--timeout=120s")
    _wait_for_endpoint(env, context, "db")
    try:
        # Retries allowed: kube-proxy and kube-router catch up with the new Pod a moment after it is Ready.
        check = _check(env, "default-deny", wait="15")
        assert check["status"] == "FAIL", check
        cells = _cells(check)
        assert cells[("backend", "db:6379")] == "server down"
        assert cells[("frontend", "backend:8080")] == "blocked"
        assert "answers nobody" in check["cause"]
    finally:
        _kubectl(env, context, "delete", "pod", "db", "--wait=true")
        solved = labcheck(env, "solve", "08", "--step", "open-baseline")
        assert solved.returncode == ExitStatus.PASSED, solved.stderr
        _kubectl(env, context, "wait", "--for=condition=Ready", "pod/db", "--timeout=120s")


def test_deleting_the_policy_opens_the_cells_again(lab08):
    _lab, env, context = lab08
    _kubectl(env, context, "delete", "networkpolicy", "default-deny-ingress")
    try:
        check = _check(env, "open-baseline")
        assert check["status"] == "PASS", check  # retried while kube-router drops its rules
    finally:
        solved = labcheck(env, "solve", "08", "--step", "default-deny")
        assert solved.returncode == ExitStatus.PASSED, solved.stderr
