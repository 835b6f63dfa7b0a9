"""The package's layering (ARCHITECTURE.md), enforced by import-linter's contracts in pyproject.toml."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CONTRACTS = 8


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
        "loader.py": "from . import engine  # the lab format reaching up to the engine",
        "checks/outcome.py": "from . import objects  # results reaching up to the helpers\nfrom ..render import text",
        "checks/kinds/absent.py": "from . import probe  # one kind reaching into another\nimport kubernetes",
        "errors.py": "from . import cli  # a circle: the CLI imports errors",
        "engine.py": "from . import actions  # grading must not change a cluster",
        "render/text.py": "from ..checks.kinds import probe  # a renderer reaching for a check kind",
    }
    for relative, lines in violations.items():
        with (package / relative).open("a") as source:
            source.write(f"\n{lines}\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Contracts: 0 kept, {CONTRACTS} broken." in done.stdout, done.stdout
    for imported in ("labcheck.loader -> labcheck.engine", "labcheck.checks.outcome -> labcheck.checks.objects",
                     "labcheck.checks.kinds.absent -> labcheck.checks.kinds.probe",
                     "labcheck.checks.kinds.absent -> kubernetes", "labcheck.engine -> labcheck.actions",
                     "labcheck.render.text -> labcheck.checks.kinds.probe",
                     "labcheck.checks.outcome -> labcheck.render.text"):
        assert imported in done.stdout, imported
    assert "No cycles are allowed in labcheck" in done.stdout
