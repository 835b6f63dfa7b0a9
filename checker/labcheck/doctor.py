"""`labcheck doctor`: is this machine ready for kind clusters? Each problem names its fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .toolchain import read_toolchain, toolchain_file

PREPARE = "bash clusters/prepare.sh"


@dataclass
class Item:
    name: str
    level: str  # ok | warn | fail
    found: str
    fix: str | None = None


def _run(args: list[str], timeout: float = 15) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _docker() -> list[Item]:
    docker = shutil.which("docker")
    if docker is None:
        return [Item("docker", "fail", "not installed", f"apt-get install docker.io (or {PREPARE})")]
    done = _run([docker, "info", "--format", "{{.ServerVersion}}"])
    if done is None or done.returncode != 0:
        return [Item("docker daemon", "fail", "not reachable",
                     "start it: bash clusters/toolchain/start-docker.sh (or dockerd &)")]
    return [Item("docker daemon", "ok", f"Docker Engine {done.stdout.strip()}")]


def _kind() -> Item:
    prepared = read_toolchain()
    binary = prepared.get("KIND") or shutil.which("kind")
    if not binary:
        return Item("kind", "fail", "not installed", PREPARE)
    done = _run([binary, "version"])
    if done is None or done.returncode != 0:
        return Item("kind", "fail", f"{binary} does not run", PREPARE)
    return Item("kind", "ok", done.stdout.strip())


def _kubectl() -> Item:
    binary = shutil.which("kubectl")
    if binary is None:
        return Item("kubectl", "fail", "not installed", "apt-get install kubectl, or see kubernetes.io/docs/tasks/tools")
    done = _run([binary, "version", "--client", "-o", "json"])
    try:
        version = json.loads(done.stdout)["clientVersion"]["gitVersion"] if done else "?"
    except (ValueError, KeyError):
        version = "unknown version"
    return Item("kubectl", "ok", f"client {version}")


def _node_image() -> Item:
    prepared = read_toolchain()
    if not prepared:
        return Item("node image", "warn", f"no prepared toolchain ({toolchain_file()}): kind will pull its default",
                    f"{PREPARE} (needed where no container registry is reachable)")
    image = prepared.get("NODE_IMAGE", "")
    docker = shutil.which("docker")
    done = _run([docker, "image", "inspect", image]) if docker else None
    if done is None or done.returncode != 0:
        return Item("node image", "fail", f"{image} is not in docker", PREPARE)
    return Item("node image", "ok", f"{image} (Kubernetes {prepared.get('K8S_VERSION', '?')})")


def _inotify() -> list[Item]:
    items = []
    for name, minimum in (("max_user_watches", 524288), ("max_user_instances", 512)):
        path = Path(f"/proc/sys/fs/inotify/{name}")
        try:
            value = int(path.read_text().strip())
        except (OSError, ValueError):
            items.append(Item(f"inotify {name}", "warn", "unknown"))
            continue
        if value < minimum:
            items.append(Item(f"inotify {name}", "fail", str(value),
                              f"sudo sysctl fs.inotify.{name}={minimum}"))
        else:
            items.append(Item(f"inotify {name}", "ok", str(value)))
    return items


def _memory() -> Item:
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available_gib = int(fields["MemAvailable"].split()[0]) / 1024 / 1024
    except (OSError, KeyError, ValueError):
        return Item("free memory", "warn", "unknown")
    found = f"{available_gib:.1f} GiB available"
    if available_gib < 2:
        return Item("free memory", "fail", found, "free memory: a cluster needs about 2 GiB (stop other clusters: kind delete cluster)")
    if available_gib < 4:
        return Item("free memory", "warn", found, "the three-node cluster wants about 4 GiB")
    return Item("free memory", "ok", found)


def run_checks() -> list[Item]:
    return [*_docker(), _kind(), _kubectl(), _node_image(), *_inotify(), _memory()]
