"""Finding, loading and linting lab definitions.

Validation errors carry the file and line they come from, found by walking the
YAML node tree along the error's location.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import ValidationError

from .errors import LabInvalid, UsageError
from .model import Lab

if TYPE_CHECKING:
    import yaml

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    message: str
    #: "error": the lab is invalid; "warning": it works, but falls short of what labs should have.
    severity: str = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{_display(self.file)}:{self.line}: {prefix}{printable(self.message)}"


def printable(text: str) -> str:
    """Text from a lab file made safe for one line of a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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


def challenge_files(root: Path | None = None) -> list[Path]:
    """Every challenge.yaml: labs/NN-slug/challenges/<name>/challenge.yaml (or under `root`)."""
    root = root or labs_dir()
    if root.is_file():
        return [root] if root.name == "challenge.yaml" else []
    if (root / "challenge.yaml").is_file():
        return [root / "challenge.yaml"]
    return sorted({*root.glob("*/challenges/*/challenge.yaml"), *root.glob("challenges/*/challenge.yaml")})


# --- YAML with positions -------------------------------------------------


#: Nodes a lab file may reach through YAML aliases before it counts as an alias bomb.
_NODE_BUDGET = 200_000


def _compose(path: Path) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """Parse YAML, keeping the node tree for line numbers; syntax errors become problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, None, [Problem(path, 1, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError as exc:
        line = text_line(path, exc.start)
        return None, None, [Problem(path, line, f"not UTF-8 text (byte {exc.object[exc.start]:#04x})")]
    # Imported here: a lab found in the cache is never parsed, and a one-shot check saves the import.
    import yaml

    # One parse: compose the node tree (for line numbers), then build the data from it.
    # libyaml's loader when PyYAML was built with it: parsing is most of loading a lab.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        problems = _walk_nodes(path, node)
        if problems and problems[-1].message.startswith("YAML aliases"):
            return None, None, problems  # the data would be endless: nothing further can read it
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, None, [Problem(path, line, f"YAML syntax: {problem}")]
    except RecursionError:
        return None, None, [Problem(path, 1, "YAML nested too deeply to read")]
    finally:
        loader.dispose()
    return data, node, problems


def text_line(path: Path, offset: int) -> int:
    """The line of a byte offset in a file (for errors found before the text could be decoded)."""
    try:
        return path.read_bytes()[:offset].count(b"\n") + 1
    except OSError:
        return 1


def _walk_nodes(path: Path, root: yaml.Node | None) -> list[Problem]:
    """Duplicate keys, and YAML aliases that make the file endless (a cycle) or explode in size.

    PyYAML keeps the last of two equal keys without a word; a lab author would
    lose half a step that way. The walk is iterative and counts every node it
    reaches, shared ones each time, so a cycle or an alias bomb stops at the budget.
    """
    import yaml

    problems: list[Problem] = []
    reported: set[int] = set()
    stack = [root] if root is not None else []
    visits = 0
    while stack:
        node = stack.pop()
        visits += 1
        if visits > _NODE_BUDGET:
            problems.append(Problem(path, 1, f"YAML aliases make this file refer to itself or expand past "
                                             f"{_NODE_BUDGET} values"))
            break
        if isinstance(node, yaml.MappingNode):
            if id(node) not in reported:
                reported.add(id(node))
                seen: set[str] = set()
                for key, _value in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        if key.value in seen:
                            problems.append(Problem(path, key.start_mark.line + 1, f"duplicate key {key.value!r}"))
                        seen.add(key.value)
            stack.extend(value for _key, value in reversed(node.value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
    return problems


def line_of(node: yaml.Node | None, location: Iterable[Any]) -> int:
    """The line of the deepest node that the location reaches."""
    import yaml

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
    text = error["msg"].removeprefix("Value error, ")  # a model validator's own sentence reads better bare
    if error["type"] == "missing":
        return f"{where}: required field is missing"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    return f"{where}: {text}" if where else text


# --- loading ----------------------------------------------------------------


def _validate(path: Path) -> tuple[Any, list[Problem]]:
    """The lab (or challenge) in a file, and every problem with it: schema and semantic rules in one pass."""
    from . import lab_rules
    from .model import Challenge

    challenge = path.name == "challenge.yaml"
    data, node, problems = _compose(path)
    if problems and data is None:
        return None, problems
    if not isinstance(data, dict):
        what = "a challenge file must be a mapping (id, symptom, checks, ...)" if challenge else \
            "a lab file must be a mapping (id, title, steps, ...)"
        return None, problems + [Problem(path, 1, what)]
    lab: Any = None
    try:
        lab = (Challenge if challenge else Lab).model_validate(data)
        lab._folder = path.parent
    except ValidationError as exc:
        for error in exc.errors():
            problems.append(Problem(path, line_of(node, error["loc"]), _message(error)))
    except RecursionError:  # cyclic YAML aliases
        problems.append(Problem(path, 1, "the file refers to itself (a YAML alias inside its own anchor)"))
        return None, problems
    if challenge:
        checks = (("error", lab_rules.challenge_problems(data, path.parent, clusters_dir())),)
    else:
        checks = (("error", lab_rules.problems(data, path.parent, clusters_dir())), ("warning", lab_rules.advice(data)))
    for severity, findings in checks:
        for where, message in findings:
            if isinstance(where, Path):
                problems.append(Problem(where, 1, message, severity))
            else:
                problems.append(Problem(path, line_of(node, where), message, severity))
    problems.sort(key=lambda p: (str(p.file) != str(path), p.line))
    errors = [p for p in problems if p.severity == "error"]
    return (lab if not errors else None), problems


def lint(paths: Iterable[Path]) -> list[Problem]:
    problems: list[Problem] = []
    seen_ids: dict[str, Path] = {}
    for path in paths:
        lab, found = _validate(path)
        problems.extend(found)
        if isinstance(lab, Lab):
            if lab.id in seen_ids:
                problems.append(Problem(path, 1, f"lab id {lab.id} is also used by {_display(seen_ids[lab.id])}"))
            seen_ids[lab.id] = path
    return problems


@lru_cache(maxsize=None)
def _load_cached(path: Path) -> Any:
    from . import labcache
    from .model import Challenge

    lab_key = labcache.key(path, clusters_dir())
    kept = labcache.load(lab_key)
    if isinstance(kept, (Lab, Challenge)):
        kept._folder = path.parent
        return kept
    lab, problems = _validate(path)
    if lab is None:
        raise LabInvalid([p for p in problems if p.severity == "error"] or [Problem(path, 1, "invalid lab")])
    labcache.store(lab_key, lab)
    return lab


def load_lab(path: Path) -> Lab:
    return _load_cached(path.resolve())


def challenge_id(path: Path) -> str:
    """labs/04-pod-to-service/challenges/silent-shop/challenge.yaml -> 04-silent-shop."""
    return f"{path.parent.parent.parent.name[:2]}-{path.parent.name}"


def all_challenges(root: Path | None = None) -> list:
    return [_load_cached(p.resolve()) for p in challenge_files(root)]


def find_challenge(ref: str, root: Path | None = None):
    """A challenge by id ('04-silent-shop')."""
    ref = ref.strip().rstrip("/")
    for path in challenge_files(root):
        if challenge_id(path) == ref:
            return _load_cached(path.resolve())
    known = ", ".join(sorted(c.id for c in all_challenges(root))) or "none"
    raise UsageError(f"no challenge {ref!r} (challenges: {known})")


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
