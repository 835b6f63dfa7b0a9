"""The live seam's container lookup: exec needs a running container, logs stay readable after it ends."""

import pytest

from labcheck.cluster.live import LiveCluster
from labcheck.errors import TargetUnavailable
from tests.conftest import pod


def cluster_with(obj):
    live = LiveCluster.__new__(LiveCluster)  # no kubeconfig: only the lookup is under test
    live.get = lambda api_version, kind, namespace, name: obj
    return live


def test_a_finished_container_has_logs_but_takes_no_exec():
    done = pod("busybox", containers=("busybox",))
    done["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "Completed", "exitCode": 0}}
    live = cluster_with(done)
    assert live._running_container("lab03", "busybox", None, finished_ok=True) == "busybox"
    with pytest.raises(TargetUnavailable, match="not running \\(Completed\\)"):
        live._running_container("lab03", "busybox", None)


def test_a_container_that_never_started_has_no_logs_either():
    waiting = pod("busybox", containers=("busybox",), running=False)
    with pytest.raises(TargetUnavailable, match="ContainerCreating"):
        cluster_with(waiting)._running_container("lab03", "busybox", None, finished_ok=True)
