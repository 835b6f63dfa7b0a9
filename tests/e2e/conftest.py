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


#: The cases of the e2e tier's parametrized proofs that a plain run keeps: each component, each
#: kind of fault and each way a page runs, once, so that `bash tests/run.sh` stays within CI's
#: budget (45 minutes on two cores). Tier 2 replays every lab's and challenge's recorded evidence
#: either way. LABCHECK_E2E_ALL=1 runs every case, and so does naming cases (`-k`, a test id).
REPRESENTATIVE = {
    # readiness (lab 04, issue 22), MetalLB and host probes (05), kube-router's NetworkPolicy (08),
    # Traefik (09), CoreDNS changed and restored (10); 01 is the learner's journey as well
    "test_each_step_fails_before_and_passes_after_its_solution": {
        "04-pod-to-service", "05-outside-to-service", "08-network-policy", "09-ingress-and-gateway",
        "10-dns-in-the-cluster"},
    # an object fault (04-silent-shop) and a node fault (05-one-node-hangs) go through the CLI in
    # full; these add a fault on an add-on's path, one in a NetworkPolicy, one on a node's sandbox
    "test_each_challenge_breaks_and_only_its_fixes_pass": {
        "02-some-requests-hang", "06-bad-gateway", "08-allowed-but-blocked"},
    # a page with a sidecar, one with node commands and host requests, one on an add-on, and the
    # one that changes CoreDNS and puts it back
    "test_lab_page_runs_as_a_notebook": {
        "01-pod-shared-network", "05-outside-to-service", "09-ingress-and-gateway", "10-dns-in-the-cluster"},
}


def _every_case(config) -> bool:
    named = config.getoption("keyword") or any("::" in arg for arg in config.args)
    return os.environ.get("LABCHECK_E2E_ALL") == "1" or bool(named)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
    if _every_case(config):
        return
    ids = {}
    for item in items:
        if getattr(item, "callspec", None) is not None:
            ids.setdefault(item.originalname, set()).add(item.callspec.id)
    for test, kept in REPRESENTATIVE.items():
        if test in ids and kept - ids[test]:  # a renamed lab must not leave the subset unnoticed
            raise pytest.UsageError(f"tests/e2e/conftest.py REPRESENTATIVE names cases {test} does not have: "
                                    f"{', '.join(sorted(kept - ids[test]))}")
    left_out = [item for item in items if getattr(item, "callspec", None) is not None
                and item.callspec.id not in REPRESENTATIVE.get(item.originalname, {item.callspec.id})]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


def pytest_report_header(config):
    if _every_case(config):
        return "e2e tier: every case"
    return ("e2e tier: a representative subset of the parametrized proofs (tests/e2e/conftest.py "
            "REPRESENTATIVE); LABCHECK_E2E_ALL=1 runs every case")


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
