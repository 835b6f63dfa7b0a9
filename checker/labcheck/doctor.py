"""`labcheck doctor`: is this machine ready for kind clusters? Each problem names its fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .toolchain import install_kind_hint, prepare_command, read_toolchain, toolchain_file


def _or_prepare(fix: str, why: str = "") -> str:
    """A fix, plus the offline toolchain script when labcheck runs from a source checkout."""
    prepare = prepare_command()
    return f"{fix}; or `{prepare}`{why}" if prepare else fix


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
        return [Item("docker", "fail", "not installed",
                     _or_prepare("install Docker Engine: sudo apt-get install docker.io (or see docs.docker.com/engine/install)"))]
    done = _run([docker, "info", "--format", "{{.ServerVersion}}"])
    if done is None or done.returncode != 0:
        start = "start it: sudo systemctl start docker (or, without systemd: sudo dockerd &)"
        if prepare_command():
            start += "; on a machine prepared by clusters/prepare.sh: bash clusters/toolchain/start-docker.sh"
        return [Item("docker daemon", "fail", "not reachable", start)]
    return [Item("docker daemon", "ok", f"Docker Engine {done.stdout.strip()}"), _docker_in_a_vm(docker)]


#: What changes where Docker runs in a VM: kind's network lives inside it.
VM_NOTE = ("kind's Docker network lives inside Docker's VM, so this machine cannot reach the nodes' or MetalLB's "
           "addresses: labcheck sends those requests from a short-lived container on kind's network instead "
           "(checks say so), and `ip neigh` here shows nothing of kind's network: run it on a node "
           "(`docker exec <node> ip neigh`)")


def _docker_in_a_vm(docker: str) -> Item:
    """Docker Desktop (macOS, Windows) or Docker inside WSL2: where Docker's networks live."""
    done = _run([docker, "info", "--format", "{{.OperatingSystem}}"])
    system = done.stdout.strip() if done and done.returncode == 0 else ""
    try:
        wsl = "microsoft" in Path("/proc/version").read_text(encoding="utf-8").lower()
    except OSError:
        wsl = False
    if "Docker Desktop" in system:
        return Item("docker networks", "warn", f"{system}: {VM_NOTE}")
    if wsl:
        return Item("docker networks", "ok", "Docker Engine inside WSL2: kind's network is reachable from this "
                    "Linux, not from Windows; run labcheck, kubectl and curl inside WSL2")
    return Item("docker networks", "ok", "Docker Engine on this machine: kind's network is reachable from here")


def _kind() -> Item:
    prepared = read_toolchain()
    binary = prepared.get("KIND") or shutil.which("kind")
    if not binary:
        return Item("kind", "fail", "not installed", install_kind_hint())
    done = _run([binary, "version"])
    if done is None or done.returncode != 0:
        return Item("kind", "fail", f"{binary} does not run", install_kind_hint())
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
    prepare = prepare_command()
    if not prepared:
        found = f"no prepared toolchain ({toolchain_file()}): kind will pull its default node image"
        if prepare:
            return Item("node image", "warn", found, f"{prepare} (needed where no container registry is reachable)")
        return Item("node image", "ok", found)
    image = prepared.get("NODE_IMAGE", "")
    docker = shutil.which("docker")
    done = _run([docker, "image", "inspect", image]) if docker else None
    if done is None or done.returncode != 0:
        return Item("node image", "fail", f"{image} is not in docker",
                    f"{prepare} rebuilds it" if prepare else f"delete {toolchain_file()} to let kind pull its default")
    return Item("node image", "ok", f"{image} (Kubernetes {prepared.get('K8S_VERSION', '?')})")


# kind's known-issues page asks for these for many or large clusters; a kernel's
# stock values (8192 watches on older kernels, 128 instances) serve one small cluster.
_INOTIFY = {"max_user_watches": (8192, 524288), "max_user_instances": (128, 512)}


def _read_sysctl(name: str) -> int | None:
    try:
        return int(Path(f"/proc/sys/fs/inotify/{name}").read_text().strip())
    except (OSError, ValueError):
        return None


def _inotify() -> list[Item]:
    items = []
    for name, (stock, recommended) in _INOTIFY.items():
        value = _read_sysctl(name)
        fix = f"sudo sysctl fs.inotify.{name}={recommended}"
        if value is None:
            items.append(Item(f"inotify {name}", "warn", "unknown"))
        elif value < stock:
            items.append(Item(f"inotify {name}", "fail", f"{value}, below even a kernel's stock {stock}", fix))
        elif value < recommended:
            items.append(Item(f"inotify {name}", "warn",
                              f"{value}: enough for one small cluster; the three-node cluster, or several "
                              f"clusters at once, can fail with 'too many open files' below {recommended}", fix))
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
    # Measured while the labs ran (docs/install.md): about 2 GiB per cluster, one node or three.
    if available_gib < 2:
        return Item("free memory", "fail", found, "a lab cluster takes about 2 GiB: free some, or stop another "
                                                  "lab's cluster (`labcheck stop NN`)")
    if available_gib < 4:
        return Item("free memory", "warn", found, "enough for one lab cluster (about 2 GiB); both clusters at once "
                                                  "take about 4 GiB: `labcheck stop NN` the one you are not using")
    return Item("free memory", "ok", found)


def run_checks() -> list[Item]:
    return [*_docker(), _kind(), _kubectl(), _node_image(), *_inotify(), _memory()]
