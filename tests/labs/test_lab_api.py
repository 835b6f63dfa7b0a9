"""Labs use the lab author's API (labcheck.lab) and nothing else of labcheck, and go through
the check context for every read and command (so each is kept as evidence)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LAB_CODE = sorted((REPO / "labs").glob("*/checks.py"))


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", LAB_CODE, ids=lambda p: p.parent.name)
def test_a_lab_imports_only_the_lab_api(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    other = [f"line {line}: {module}" for line, module in _imports(tree)
             if module.split(".")[0] == "labcheck" and module != "labcheck.lab"]
    assert not other, f"{path.relative_to(REPO)} imports labcheck internals: {other}"


@pytest.mark.parametrize("path", LAB_CODE, ids=lambda p: p.parent.name)
def test_a_lab_reads_through_its_context_not_the_cluster(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    reaching = [node.lineno for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and node.attr == "cluster"
                and isinstance(node.value, ast.Name) and node.value.id == "ctx"]
    assert not reaching, f"{path.relative_to(REPO)} uses ctx.cluster on lines {reaching}: use ctx.get/list/logs/exec*"


def test_the_api_test_catches_an_internal_import(tmp_path):
    bad = tmp_path / "checks.py"
    bad.write_text("from labcheck.checks.diagnose import pod_cause\nfrom labcheck.lab import register\n")
    modules = [m for _l, m in _imports(ast.parse(bad.read_text()))]
    assert [m for m in modules if m != "labcheck.lab"] == ["labcheck.checks.diagnose"]
