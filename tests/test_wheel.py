"""The built wheel carries labs/, clusters/ and the built lab pages: `labcheck` works from any directory."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import venv

import pytest

from labcheck.errors import ExitStatus
from labcheck.loader import all_labs
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fetch(url: str, server: subprocess.Popen, deadline: float) -> bytes:
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read()
        except OSError:
            assert server.poll() is None, f"labcheck docs stopped: {server.stderr.read()}"
            assert time.monotonic() < deadline, "labcheck docs did not serve the pages"
            time.sleep(0.5)


@pytest.mark.slow
def test_wheel_installs_and_runs_from_elsewhere(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob("*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABCHECK_")}
    env["LABCHECK_STATE_DIR"] = str(tmp_path / "state")
    labcheck = env_dir / "bin" / "labcheck"
    listed = subprocess.run([str(labcheck), "list"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert listed.returncode == ExitStatus.PASSED, listed.stderr
    assert "Containers in one Pod" in listed.stdout
    linted = subprocess.run([str(labcheck), "lint"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert linted.returncode == ExitStatus.PASSED, linted.stdout + linted.stderr
    located = subprocess.run([str(python), "-c", "import labcheck.loader as l; print(l.labs_dir(), l.clusters_dir())"],
                             cwd=elsewhere, capture_output=True, text=True, env=env)
    assert "_bundled/labs" in located.stdout and "_bundled/clusters" in located.stdout

    # The pages travel with the tool: served from any folder, with no docs extra (no mkdocs) installed.
    no_mkdocs = subprocess.run([str(python), "-c", "import mkdocs"], capture_output=True, text=True)
    assert no_mkdocs.returncode != 0, "the wheel alone should not bring mkdocs"
    port = _free_port()
    server = subprocess.Popen([str(labcheck), "docs", "--port", str(port)], cwd=elsewhere, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 60
        assert b"Kubernetes Networking Labs" in _fetch(base, server, deadline)
        for lab in all_labs():
            page = _fetch(f"{base}labs/{lab.slug}/", server, deadline).decode()
            assert f"Lab {lab.id}" in page and "What PASS and FAIL look like" in page
            notebook = json.loads(_fetch(f"{base}labs/{lab.slug}.ipynb", server, deadline))
            assert any("--step" in "".join(cell["source"]) for cell in notebook["cells"])
        assert b"mermaid" in _fetch(f"{base}assets/javascripts/mermaid.min.js", server, deadline)[:2000].lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
