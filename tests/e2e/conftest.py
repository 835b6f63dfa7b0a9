"""The end-to-end tier: real kind clusters from the toolchain clusters/prepare.sh builds.

Without that toolchain the tier is skipped, with the reason and the command
that provides it. tests/run.sh sets LABCHECK_E2E_REQUIRED=1 when the toolchain
is present, and then a missing piece fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labcheck.toolchain import cluster_config, kube_context, read_toolchain, toolchain_file


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _missing() -> str | None:
    prepared = read_toolchain()
    if not prepared:
        return f"no prepared kind toolchain ({toolchain_file()} with READY=1): run `bash clusters/prepare.sh`"
    docker = shutil.which("docker")
    if docker is None:
        return "docker is not installed: run `bash clusters/prepare.sh`"
    if subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode != 0:
        return "the Docker daemon is not running: run `bash clusters/toolchain/start-docker.sh`"
    image = prepared.get("NODE_IMAGE", "")
    if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode != 0:
        return f"node image {image} is not in Docker: run `bash clusters/prepare.sh`"
    return None


@pytest.fixture(scope="session")
def toolchain() -> dict[str, str]:
    problem = _missing()
    if problem:
        if os.environ.get("LABCHECK_E2E_REQUIRED") == "1":
            pytest.fail(problem)
        pytest.skip(problem)
    return read_toolchain()


@pytest.fixture(scope="session")
def e2e_env(toolchain, tmp_path_factory) -> dict[str, str]:
    """A private kubeconfig and state directory: the person's own are never touched."""
    home = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ)
    env.update(KUBECONFIG=str(home / "kubeconfig"), LABCHECK_STATE_DIR=str(home / "state"), NO_COLOR="1",
               COLUMNS="200")
    env["PATH"] = f"{Path(toolchain['KIND']).parent}{os.pathsep}{env['PATH']}"
    return env


def labcheck(env, *args, timeout=900):
    """`labcheck ARGS` as a learner runs it, its output printed for the test's log."""
    done = subprocess.run([sys.executable, "-m", "labcheck", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    print(f"$ labcheck {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
    return done


def drop_namespace(env, lab):
    """The lab's namespace deleted from its cluster (and waited for): the next test starts clean."""
    _config, name = cluster_config(lab.cluster)
    subprocess.run(["kubectl", "--context", kube_context(name), "delete", "namespace", lab.namespace,
                    "--ignore-not-found", "--wait=true", "--timeout=180s"], env=env, capture_output=True)


def kind_clusters(toolchain) -> list[str]:
    done = subprocess.run([toolchain["KIND"], "get", "clusters"], capture_output=True, text=True)
    return [line for line in done.stdout.split() if line]


@pytest.fixture(scope="session")
def cleanup_clusters(toolchain):
    """Clusters the tier creates are deleted at the end; ones that were there before are kept."""
    before = set(kind_clusters(toolchain))
    yield
    for name in set(kind_clusters(toolchain)) - before:
        subprocess.run([toolchain["KIND"], "delete", "cluster", "--name", name], capture_output=True)
