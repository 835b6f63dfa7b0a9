"""The package's layering (ARCHITECTURE.md), enforced by import-linter's contracts in pyproject.toml."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CONTRACTS = 4


def lint_imports(python_path: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)  # ahead of the editable install's path
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120, check=False)


def test_the_layering_contracts_hold():
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in done.stdout


def test_the_contracts_catch_each_kind_of_violation(tmp_path):
    """A copy of the package with one forbidden import per contract breaks every contract."""
    package = tmp_path / "labcheck"
    shutil.copytree(REPO / "checker" / "labcheck", package, ignore=shutil.ignore_patterns("__pycache__"))
    violations = {
        "checks/absent.py": "import kubernetes  # only cluster/live.py may",
        "engine.py": "from . import actions  # grading must not change a cluster",
        "render/text.py": "from ..checks import probe  # a renderer reaching for a check kind",
        "checks/outcome.py": "from ..render import text  # result types depending on a renderer",
    }
    for relative, line in violations.items():
        with (package / relative).open("a") as source:
            source.write(f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Contracts: 0 kept, {CONTRACTS} broken." in done.stdout, done.stdout
    for imported in ("labcheck.checks.absent -> kubernetes", "labcheck.engine -> labcheck.actions",
                     "labcheck.render.text -> labcheck.checks.probe", "labcheck.checks.outcome -> labcheck.render.text"):
        assert imported in done.stdout, imported
