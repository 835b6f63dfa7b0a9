"""Shared test helpers: an in-memory cluster speaking the seam, and CLI runners."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from labcheck.cluster.base import ExecResult
from labcheck.errors import TargetUnavailable

REPO = Path(__file__).resolve().parent.parent


def missing_tool(message: str, required_variable: str):
    """A tool a test needs is not installed: fail where tests/run.sh made it required, else skip loudly."""
    import os

    if os.environ.get(required_variable) == "1":
        pytest.fail(message)
    print(f"\nSKIPPING: {message}", file=sys.stderr)
    pytest.skip(message)


class FakeCluster:
    """Objects in a dict and exec answers from a function: the seam without a cluster."""

    replay = False

    def __init__(self, objects: list[dict[str, Any]] | None = None,
                 exec_answer: Callable[[str, list[str]], ExecResult] | None = None,
                 logs: dict[tuple[str, str], str] | None = None):
        self.objects = list(objects or [])
        self.exec_answer = exec_answer
        self.log_texts = logs or {}
        self.calls: list[tuple] = []

    def describe(self) -> str:
        return "fake cluster"

    def _matches(self, obj, api_version, kind, namespace):
        return (obj.get("apiVersion", "v1") == api_version and obj["kind"] == kind
                and (namespace is None or obj["metadata"].get("namespace", namespace) == namespace))

    def get(self, api_version, kind, namespace, name):
        self.calls.append(("get", kind, namespace, name))
        for obj in self.objects:
            if self._matches(obj, api_version, kind, namespace) and obj["metadata"]["name"] == name:
                return obj
        return None

    def list(self, api_version, kind, namespace, label_selector=None):
        self.calls.append(("list", kind, namespace))
        return [o for o in self.objects if self._matches(o, api_version, kind, namespace)]

    def logs(self, namespace, pod, container, tail_lines=200):
        self.calls.append(("logs", pod, container))
        if (pod, container) not in self.log_texts:
            raise TargetUnavailable(f"container {container} of Pod {pod} is not running")
        return self.log_texts[(pod, container)]

    def exec_in_pod(self, namespace, pod, container, command, timeout):
        self.calls.append(("exec", pod, container, tuple(command)))
        if self.exec_answer is None:
            raise TargetUnavailable(f"Pod {pod} does not exist in namespace {namespace}")
        result = self.exec_answer(f"{pod}/{container}", command)
        result.args = list(command)
        return result

    def exec_on_node(self, node, command, timeout):
        self.calls.append(("node", node, tuple(command)))
        result = self.exec_answer(f"node/{node}", command)
        result.args = list(command)
        return result

    def exec_on_host(self, command, timeout):
        self.calls.append(("host", tuple(command)))
        result = self.exec_answer("host", command)
        result.args = list(command)
        return result


def pod(name: str, namespace: str = "lab01", containers=("app",), *, running=True, ready=True,
        labels=None, node="netlabs-control-plane", ip="10.244.0.7", waiting_reason=None, **spec_extra):
    """A Pod shaped like the API's answer (the fields checks read)."""
    state = {"running": {"startedAt": "2026-11-21T10:00:00Z"}} if running else {
        "waiting": {"reason": waiting_reason or "ContainerCreating"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}, "uid": f"uid-{name}"},
        "spec": {"nodeName": node, "containers": [{"name": c, "image": "img:1"} for c in containers], **spec_extra},
        "status": {
            "phase": "Running" if running else "Pending",
            "podIP": ip,
            "hostIP": "172.18.0.2",
            "containerStatuses": [
                {"name": c, "ready": ready and running, "state": state, "containerID": f"containerd://{c}0123456789abcdef"}
                for c in containers
            ],
        },
    }


def ok(stdout: str = "", returncode: int = 0, stderr: str = "") -> ExecResult:
    return ExecResult(args=["x"], returncode=returncode, stdout=stdout, stderr=stderr, duration=0.01, where="fake")


def run_labcheck(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
    """The installed command, as a person runs it (from a script: no terminal on stdin)."""
    return subprocess.run([sys.executable, "-m", "labcheck", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def call_main(capsys, *args: str) -> tuple[int, str, str]:
    """labcheck's main() in this process, fast enough for many runs: (exit code, stdout, stderr)."""
    from labcheck.cli import main

    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """A private state dir and an empty kubeconfig: no test touches the person's own."""
    import os

    env = dict(os.environ)
    env["LABCHECK_STATE_DIR"] = str(tmp_path / "state")
    env["KUBECONFIG"] = str(tmp_path / "no-kubeconfig")
    env["NETLABS_CACHE"] = str(tmp_path / "no-cache")
    env["NO_COLOR"] = "1"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
