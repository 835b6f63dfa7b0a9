"""LiveCluster.exec_on_node with a fake `docker` on PATH: what docker says vs what the command says.

The fake answers as docker does (the no-such-container and missing-command
messages and exit codes were checked against docker 20.10's `docker exec`): the
command's own exit code passes through, docker's own failures mean the grader
cannot look.
"""

from __future__ import annotations

import os
import stat

import pytest

from labcheck.cluster.live import LiveCluster
from labcheck.errors import ClusterUnavailable

FAKE_DOCKER = r"""#!/bin/sh
# Fake docker: records its arguments, then answers as $FAKE_DOCKER_MODE says.
printf '%s\n' "$@" > "$FAKE_DOCKER_ARGS"
case "$FAKE_DOCKER_MODE" in
  ok) echo "default via 172.18.0.1 dev eth0"; exit 0 ;;
  fails) echo "partial"; echo "grep: no match" >&2; exit 2 ;;
  no-container) echo "Error response from daemon: No such container: $2" >&2; exit 1 ;;
  not-running) echo "Error response from daemon: Container 3f2a is not running" >&2; exit 1 ;;
  no-daemon) echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
  no-permission) echo "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" >&2; exit 1 ;;
  docker-125) echo "docker: invalid reference format." >&2; exit 125 ;;
  not-found) echo 'OCI runtime exec failed: exec failed: unable to start container process: exec: "ipvsadm": executable file not found in $PATH: unknown'; exit 126 ;;
  denied) echo 'OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc/hosts": permission denied: unknown' >&2; exit 126 ;;
  hangs) echo "started"; exec sleep 30 ;;
esac
"""


@pytest.fixture
def node_cluster(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_ARGS", str(tmp_path / "args"))
    # exec_on_node needs no API: skip __init__'s kubeconfig reading.
    return LiveCluster.__new__(LiveCluster)


def run(cluster, monkeypatch, mode, command=("ip", "route"), timeout=5.0):
    monkeypatch.setenv("FAKE_DOCKER_MODE", mode)
    return cluster.exec_on_node("netlabs-worker", list(command), timeout=timeout)


def test_success_runs_docker_exec_in_the_node_container(node_cluster, monkeypatch, tmp_path):
    result = run(node_cluster, monkeypatch, "ok")
    assert (result.returncode, result.stdout, result.stderr) == (0, "default via 172.18.0.1 dev eth0\n", "")
    assert (tmp_path / "args").read_text().split() == ["exec", "netlabs-worker", "ip", "route"]
    assert result.where == "node netlabs-worker" and not result.timed_out


def test_the_commands_own_failure_is_its_exit_code(node_cluster, monkeypatch):
    result = run(node_cluster, monkeypatch, "fails")
    assert (result.returncode, result.stdout, result.stderr) == (2, "partial\n", "grep: no match\n")
    assert result.extra == {}


def test_no_such_node_container_is_cluster_unavailable(node_cluster, monkeypatch):
    with pytest.raises(ClusterUnavailable, match="no kind node container 'netlabs-worker'"):
        run(node_cluster, monkeypatch, "no-container")


@pytest.mark.parametrize("mode, says", [
    ("docker-125", "invalid reference format"),
    ("not-running", "Container 3f2a is not running"),
    ("no-daemon", "Cannot connect to the Docker daemon"),
    ("no-permission", "permission denied while trying to connect"),
])
def test_dockers_own_failures_are_cluster_unavailable(node_cluster, monkeypatch, mode, says):
    # Exit 1 from docker itself is not the command's exit 1: it never ran.
    with pytest.raises(ClusterUnavailable, match=f"docker exec on node netlabs-worker failed: .*{says}"):
        run(node_cluster, monkeypatch, mode)


def test_a_command_missing_on_the_node_is_127_not_started(node_cluster, monkeypatch):
    # docker 20.10 says so on stdout and exits 126; a Pod's exec says 127 for the same thing.
    result = run(node_cluster, monkeypatch, "not-found", command=("ipvsadm", "-Ln"))
    assert result.returncode == 127 and result.extra == {"not_started": True}
    assert result.stdout == ""  # docker's message is not the command's output
    assert result.stderr.splitlines()[0] == "`ipvsadm` is not on node netlabs-worker"


def test_a_command_that_cannot_start_on_the_node_is_126_not_started(node_cluster, monkeypatch):
    result = run(node_cluster, monkeypatch, "denied", command=("/etc/hosts",))
    assert result.returncode == 126 and result.extra == {"not_started": True}
    assert result.stderr.splitlines()[0] == "`/etc/hosts` could not start in node netlabs-worker"


def test_a_command_that_never_ends_times_out(node_cluster, monkeypatch):
    result = run(node_cluster, monkeypatch, "hangs", timeout=0.5)
    assert (result.returncode, result.timed_out) == (124, True)
    assert 0.5 <= result.duration < 5


def test_no_docker_at_all_is_cluster_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterUnavailable, match="docker is not installed"):
        LiveCluster.__new__(LiveCluster).exec_on_node("netlabs-worker", ["true"], timeout=5)
