"""clusters/prepare.sh on a machine where kind works the normal way: it checks, records, and builds nothing.

docker, kind and kubectl are small fakes on PATH here (no registry can be
reached from this machine), so the test sees exactly which commands ran.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import KIND_DEFAULT_IMAGE as IMAGE, REPO, prepare  # the `machine` fixture is conftest's


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
