"""Finding, loading and linting lab definitions.

Validation errors carry the file and line they come from, found by walking the
YAML node tree along the error's location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from .errors import LabInvalid, UsageError
from .model import Lab, PythonCheck

_PACKAGE_DIR = Path(__file__).resolve().parent
# libyaml's loader when PyYAML was built with it: parsing is most of loading a lab.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{_display(self.file)}:{self.line}: {self.message}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _data_dir(name: str) -> Path:
    """labs/ or clusters/: the checkout's copy when run from source, else the wheel's."""
    env = os.environ.get(f"LABCHECK_{name.upper()}_DIR")
    if env:
        return Path(env).resolve()
    source_tree = _PACKAGE_DIR.parent.parent / name
    if source_tree.is_dir():
        return source_tree
    return _PACKAGE_DIR / "_bundled" / name


def labs_dir() -> Path:
    return _data_dir("labs")


def clusters_dir() -> Path:
    return _data_dir("clusters")


def lab_files(root: Path | None = None) -> list[Path]:
    root = root or labs_dir()
    if root.is_file():
        return [root]
    if (root / "lab.yaml").is_file():
        return [root / "lab.yaml"]
    return sorted(root.glob("*/lab.yaml"))


# --- YAML with positions -------------------------------------------------


def _compose(path: Path) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """Parse YAML, keeping the node tree for line numbers; syntax errors become problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, None, [Problem(path, 1, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError:
        return None, None, [Problem(path, 1, "not UTF-8 text")]
    try:
        node = yaml.compose(text, Loader=_YAML_LOADER)
        data = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, None, [Problem(path, line, f"YAML syntax: {problem}")]
    return data, node, list(_duplicate_keys(path, node))


def _duplicate_keys(path: Path, node: yaml.Node | None) -> Iterable[Problem]:
    # PyYAML keeps the last of two equal keys without a word; a lab author
    # would lose half a step that way.
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                yield Problem(path, key.start_mark.line + 1, f"duplicate key {key.value!r}")
            seen.add(key.value)
            yield from _duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(path, item)


def line_of(node: yaml.Node | None, location: Iterable[Any]) -> int:
    """The line of the deepest node that the location reaches."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in location:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node, line = value, key.start_mark.line + 1
                    break
            # Parts that name no key (union tags, missing fields) are skipped.
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
    return line


def _message(error: dict[str, Any]) -> str:
    parts: list[str] = []
    for part in error["loc"]:
        # A discriminated union repeats its tag ("assert.assert"): say it once.
        if not parts or parts[-1] != str(part):
            parts.append(str(part))
    where = ".".join(parts)
    text = error["msg"]
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {text}" if where else text


# --- loading ----------------------------------------------------------------


def _validate(path: Path) -> tuple[Lab | None, list[Problem]]:
    data, node, problems = _compose(path)
    if problems and data is None:
        return None, problems
    if not isinstance(data, dict):
        return None, problems + [Problem(path, 1, "a lab file must be a mapping (id, title, steps, ...)")]
    try:
        lab = Lab.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(Problem(path, line_of(node, error["loc"]), _message(error)))
        return None, problems
    lab._folder = path.parent
    problems.extend(_semantic_problems(lab, path, node))
    return lab, problems


def _semantic_problems(lab: Lab, path: Path, node: yaml.Node | None) -> Iterable[Problem]:
    """What a schema cannot say: references between parts of the lab and to files."""
    from .checks.python_check import load_lab_functions  # late: imports lab code

    def at(*location: Any) -> int:
        return line_of(node, location)

    expected_prefix = f"{lab.id}-"
    if not path.parent.name.startswith(expected_prefix):
        yield Problem(path, at("id"), f"id {lab.id!r} does not match folder {path.parent.name!r}")
    if not (clusters_dir() / f"{lab.cluster}.yaml").is_file():
        yield Problem(path, at("cluster"), f"no cluster config clusters/{lab.cluster}.yaml")

    try:
        functions = load_lab_functions(lab.folder)
    except Exception as exc:  # a lab's checks.py that does not import is a lab problem
        functions = {}
        yield Problem(lab.folder / "checks.py", 1, f"cannot import: {exc}")

    for index, manifest in enumerate(lab.setup.manifests):
        if not (lab.folder / manifest).is_file():
            yield Problem(path, at("setup", "manifests", index), f"manifest {manifest!r} not found")

    step_ids: set[str] = set()
    for s, step in enumerate(lab.steps):
        if step.id in step_ids:
            yield Problem(path, at("steps", s, "id"), f"duplicate step id {step.id!r}")
        step_ids.add(step.id)
        check_ids: set[str] = set()
        for c, check in enumerate(step.checks):
            if check.id in check_ids:
                yield Problem(path, at("steps", s, "checks", c, "id"), f"duplicate check id {check.id!r}")
            check_ids.add(check.id)
            if isinstance(check, PythonCheck) and check.python.function not in functions:
                yield Problem(
                    path,
                    at("steps", s, "checks", c, "python", "function"),
                    f"no registered function {check.python.function!r} in {lab.folder.name}/checks.py",
                )
        for i, check_id in enumerate(step.unsolved_fails):
            if check_id not in check_ids:
                yield Problem(path, at("steps", s, "unsolved_fails", i), f"unknown check id {check_id!r}")
        actions = [("solution", step.solution)] + [
            (f"wrong_solutions.{w}", wrong) for w, wrong in enumerate(step.wrong_solutions)
        ]
        for where, action in actions:
            for m, manifest in enumerate(action.manifests):
                if not (lab.folder / manifest).is_file():
                    loc = ["steps", s, *where.split("."), "manifests", m]
                    loc = [int(p) if isinstance(p, str) and p.isdigit() else p for p in loc]
                    yield Problem(path, at(*loc), f"manifest {manifest!r} not found")
        if not (step.solution.manifests or step.solution.commands or step.solution.prepare):
            yield Problem(path, at("steps", s, "solution"), "the solution does nothing")
        for w, wrong in enumerate(step.wrong_solutions):
            for f, check_id in enumerate(wrong.fails):
                if check_id not in check_ids:
                    yield Problem(
                        path, at("steps", s, "wrong_solutions", w, "fails", f), f"unknown check id {check_id!r}"
                    )


def lint(paths: Iterable[Path]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, Path] = {}
    for path in paths:
        lab, found = _validate(path)
        problems.extend(found)
        if lab is not None:
            if lab.id in seen_ids:
                problems.append(Problem(path, 1, f"lab id {lab.id} is also used by {_display(seen_ids[lab.id])}"))
            seen_ids[lab.id] = path
    return problems


@lru_cache(maxsize=None)
def _load_cached(path: Path) -> Lab:
    lab, problems = _validate(path)
    if problems or lab is None:
        raise LabInvalid(problems or [Problem(path, 1, "invalid lab")])
    return lab


def load_lab(path: Path) -> Lab:
    return _load_cached(path.resolve())


def all_labs(root: Path | None = None) -> list[Lab]:
    return [load_lab(p) for p in lab_files(root)]


def find_lab(ref: str, root: Path | None = None) -> Lab:
    """A lab by id ('01', '1') or folder name ('01-pod-shared-network')."""
    ref = ref.strip().rstrip("/")
    if ref.isdigit():
        ref = f"{int(ref):02d}"
    for path in lab_files(root):
        folder = path.parent.name
        if folder == ref or folder.split("-", 1)[0] == ref:
            return load_lab(path)
    known = ", ".join(p.parent.name for p in lab_files(root)) or "none"
    raise UsageError(f"no lab {ref!r} (labs: {known})")
