"""The test suite's own layout: what tests share lives in conftest.py or a helper module, never in
another test module, and every lab's own tests are in tests/labs."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

TESTS = REPO / "tests"


def imports_of_test_modules(source: str, path: Path) -> list[str]:
    """`file:line imports module` for each import of a test module (test_*.py) in `source`."""
    package = path.relative_to(REPO).parts[:-1]
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the file's package, one level up per extra dot
                anchor = list(package[:len(package) - node.level + 1])
                base = ".".join(anchor + [node.module] if node.module else anchor)
            else:
                base = node.module or ""
            # `from tests.unit import test_cli` names the test module among the imported names.
            names = [base] if is_test_module(base) else [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [f"{path.relative_to(REPO)}:{node.lineno} imports {name}" for name in names if is_test_module(name)]
    return found


def is_test_module(dotted: str) -> bool:
    return dotted.rpartition(".")[2].startswith("test_")


def test_no_test_module_imports_another():
    offences = [line for path in sorted(TESTS.rglob("*.py"))
                for line in imports_of_test_modules(path.read_text(encoding="utf-8"), path)]
    assert offences == [], "move what they share to tests/conftest.py:\n" + "\n".join(offences)


def test_the_import_check_catches_every_form():
    path = TESTS / "unit" / "test_example.py"
    source = ("from tests.unit.test_checks import make_lab\n"
              "import tests.unit.test_cli\n"
              "from tests.unit import test_lint\n"
              "from .test_watch import FakeWatch\n"
              "from tests.conftest import pod\n")
    assert [line.rpartition(" ")[2] for line in imports_of_test_modules(source, path)] == [
        "tests.unit.test_checks", "tests.unit.test_cli", "tests.unit.test_lint", "tests.unit.test_watch"]


def test_every_labs_own_tests_are_in_tests_labs():
    # tests/e2e proves labs on real clusters; everything else about one lab is in tests/labs.
    elsewhere = [str(path.relative_to(REPO)) for path in TESTS.rglob("test_lab[0-9]*.py")
                 if path.parent.name not in ("labs", "e2e")]
    assert elsewhere == []
