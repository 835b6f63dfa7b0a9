"""Shared test helpers: an in-memory cluster speaking the seam, objects and labs to grade, lab files
to lint, CLI runners, and the fake API server's fixtures. Test modules take what they share from
here (or tests/fake_kube.py), never from one another (tests/unit/test_test_suite.py holds that)."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from labcheck.cluster.base import ExecResult
from labcheck.errors import TargetUnavailable
from tests.fake_kube import api, cluster  # noqa: F401 (fixtures: a fake API server and a LiveCluster on it)

REPO = Path(__file__).resolve().parent.parent
LAB01 = REPO / "labs" / "01-pod-shared-network"


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
        wanted = dict(term.split("=", 1) for term in (label_selector or "").split(",") if "=" in term)
        return [o for o in self.objects if self._matches(o, api_version, kind, namespace)
                and all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]

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


# The Pod of the seed article lab 01 follows: what a learner who solved its first step has made.
ARTICLE_POD = pod("multicontainerpod", containers=("nginx-container", "sidecar"),
                  labels={"name": "multi-container-pod", "environment": "production", "tier": "front-end"})
ARTICLE_POD["spec"]["containers"][1]["command"] = ["sh", "-c", "while true; do curl localhost:80; sleep 300; done"]
#: What nginx logged of that sidecar's request: lab 01 judges the request by its effect.
ARTICLE_LOGS = {("multicontainerpod", "nginx-container"):
                '127.0.0.1 - - [21/Nov/2026:10:01:00 +0000] "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" "-"\n'}


def ok(stdout: str = "", returncode: int = 0, stderr: str = "") -> ExecResult:
    return ExecResult(args=["x"], returncode=returncode, stdout=stdout, stderr=stderr, duration=0.01, where="fake")


def make_lab(checks: list[dict]):
    """A throwaway lab of one step holding `checks` (lab.yaml's shape), in namespace lab01."""
    from labcheck.model import Lab

    lab = Lab.model_validate({
        "format": 1, "id": "99", "title": "t", "summary": "s", "cluster": "single-node", "namespace": "lab01",
        "steps": [{"id": "s", "title": "step", "checks": checks, "hints": ["h"],
                   "solution": {"commands": ["true"]}, "unsolved_fails": [checks[0]["id"]]}],
    })
    lab._folder = Path("/nonexistent/99-test")
    return lab


def grade_checks(checks: list[dict], target):
    """The StepResult of `checks` graded once on the cluster `target`, as one step of make_lab's lab (no waiting)."""
    from labcheck.engine import run_step

    lab = make_lab(checks)
    return run_step(lab, lab.steps[0], target, wait=0)


def copy_lab(tmp_path: Path) -> Path:
    """Lab 01 copied under tmp_path (without evidence) to be edited and linted; its lab.yaml."""
    target = tmp_path / "labs" / LAB01.name
    shutil.copytree(LAB01, target, ignore=shutil.ignore_patterns("evidence", "__pycache__"))
    return target / "lab.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


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
        # As the process would exit: a plain number, whatever int (ExitStatus) main() exited with.
        code = int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 1)
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


# --- `labcheck start` and clusters/prepare.sh with their tools faked ---------------------------


class FakeKind:
    def __init__(self, docker_images):
        self.docker_images = docker_images
        self.loaded = []

    def clusters(self):
        return ["netlabs"]

    stopped: list = []

    def stopped_nodes(self, name):
        return self.stopped

    def delete(self, name):
        self.loaded.append(f"deleted {name}")

    def create(self, config, name):
        self.loaded.append(f"created {name}")

    def export_kubeconfig(self, name):
        pass

    settled: str | None = None  # what settle_network says it repaired

    def settle_network(self, name):
        return self.settled

    def load_image(self, image, name):
        if image in self.docker_images:
            self.loaded.append(image)
            return True
        return False


def namespace(name: str, uid: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": uid}}


KIND_DEFAULT_IMAGE = "kindest/node:v1.34.0@sha256:" + "ab" * 32

FAKE_DOCKER = """#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
case "$1 $2" in
  "info "*) [ -n "$DOCKER_DOWN" ] && exit 1; echo runc ;;
  "image inspect") [ -n "$IMAGE_LOCAL" ] ;;
  "manifest inspect") [ -n "$REGISTRY_UP" ] ;;
  "pull "*) exit 0 ;;
  *) exit 0 ;;
esac
"""

FAKE_KIND = f"""#!/bin/sh
# the default node image, as a kind binary carries it: {KIND_DEFAULT_IMAGE}
echo "kind $*" >> "$FAKE_LOG"
[ "$1" = version ] && echo "kind v0.30.0 go1.24.6 linux/amd64"
exit 0
"""


def _tool(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def machine(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "docker", FAKE_DOCKER)
    _tool(bin_dir, "kind", FAKE_KIND)
    _tool(bin_dir, "kubectl", "#!/bin/sh\nexit 0\n")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "NETLABS_CACHE": str(tmp_path / "cache"),
           "FAKE_LOG": str(tmp_path / "calls.log")}
    return env, tmp_path


def prepare(env, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "clusters" / "prepare.sh")], env={**env, **extra},
                          capture_output=True, text=True, timeout=60)
