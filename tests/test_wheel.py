"""The built wheel carries labs/ and clusters/: `labcheck` works from any directory."""

import os
import subprocess
import sys
import venv

import pytest

from labcheck.errors import ExitStatus
from tests.conftest import REPO


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
