"""objects.settled_pods: a Deployment's Pods once its rollout has settled (challenges whose fix rolls
a Deployment out judge only the new Pods: an old one may still answer for a moment)."""

from __future__ import annotations

import pytest

from labcheck.checks import CheckContext
from labcheck.checks.objects import settled_pods
from labcheck.errors import TargetUnavailable
from tests.conftest import FakeCluster, pod

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "counter", "namespace": "lab01"},
              "spec": {"selector": {"matchLabels": {"app": "counter"}}}}


def ready(name: str) -> dict:
    found = pod(name, labels={"app": "counter"})
    found["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return found


def settled(*objects):
    return settled_pods(CheckContext(cluster=FakeCluster(list(objects)), namespace="lab01"), "counter")


def test_the_ready_pods_of_a_settled_rollout():
    new = ready("counter-b")
    assert settled(DEPLOYMENT, new, pod("other", labels={"app": "other"})) == [new]


def test_a_pod_still_going_away_is_a_rollout_under_way():
    old = ready("counter-a")
    old["metadata"]["deletionTimestamp"] = "2026-11-21T10:00:00Z"
    with pytest.raises(TargetUnavailable, match="counter-a of Deployment counter is still going away") as raised:
        settled(DEPLOYMENT, old, ready("counter-b"))
    assert not raised.value.final


def test_a_pod_not_ready_yet():
    with pytest.raises(TargetUnavailable, match="not every Pod of Deployment counter is ready"):
        settled(DEPLOYMENT, pod("counter-b", labels={"app": "counter"}, ready=False))


def test_no_deployment_is_final():
    with pytest.raises(TargetUnavailable, match="Deployment counter does not exist") as raised:
        settled(ready("counter-b"))
    assert raised.value.final
