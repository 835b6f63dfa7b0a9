"""clusters/prepare.sh on a machine where kind works the normal way: it checks, records, and builds nothing.

docker, kind and kubectl are small fakes on PATH here (no registry can be
reached from this machine), so the test sees exactly which commands ran.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

IMAGE = "kindest/node:v1.34.0@sha256:" + "ab" * 32

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
# the default node image, as a kind binary carries it: {IMAGE}
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


def test_pullable_node_image_is_pulled_and_recorded(machine):
    env, home = machine
    done = prepare(env, REGISTRY_UP="1", NETLABS_PREPARE="registry")
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = dict(line.split("=", 1) for line in (home / "cache" / "toolchain.env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert recorded["SOURCE"] == "registry" and recorded["READY"] == "1"
    assert recorded["NODE_IMAGE"] == IMAGE and recorded["K8S_VERSION"] == "v1.34.0"
    assert recorded["KIND"] == str(home / "bin" / "kind") and recorded["KIND_VERSION"] == "v0.30.0"
    calls = (home / "calls.log").read_text()
    assert f"docker pull {IMAGE}" in calls
    assert "nothing to build" in done.stdout and "phase docker" not in done.stdout


def test_node_image_already_in_docker_is_only_checked(machine):
    env, home = machine
    done = prepare(env, IMAGE_LOCAL="1")  # auto mode
    assert done.returncode == 0, done.stdout + done.stderr
    assert "docker pull" not in (home / "calls.log").read_text()


@pytest.mark.parametrize("extra, reason", [
    ({}, "its registry cannot be reached"),
    ({"DOCKER_DOWN": "1", "REGISTRY_UP": "1"}, "Docker daemon does not answer"),
])
def test_registry_mode_names_what_is_missing_and_builds_nothing(machine, extra, reason):
    env, home = machine
    done = prepare(env, NETLABS_PREPARE="registry", **extra)
    assert done.returncode == 1
    assert reason in done.stderr and "NETLABS_PREPARE=registry" in done.stderr
    assert not (home / "cache" / "toolchain.env").exists()
    assert "phase docker" not in done.stdout


def test_without_kind_on_path_the_check_says_so(machine):
    env, home = machine
    (home / "bin" / "kind").unlink()
    done = subprocess.run(["bash", str(REPO / "clusters" / "toolchain" / "check-registry-toolchain.sh")],
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    assert "kind is not on PATH" in done.stderr


def test_an_unknown_mode_is_refused(machine):
    env, _home = machine
    done = prepare(env, NETLABS_PREPARE="fast")
    assert done.returncode == 1 and "auto, build or registry" in done.stderr
