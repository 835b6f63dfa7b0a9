"""Partial-object matching: every field the lab gives must match; others are ignored.

Operators for what plain values cannot say are one-key mappings:
`{$regex: "^nginx"}`, `{$contains: "localhost:80"}`, `{$exists: true}`,
`{$oneOf: [a, b]}`. `$contains` on a string is a substring test; on a list it
is membership (an item equal to, or matching, the argument). Lists match
without order: each expected item must match a different actual item, and the
pairing is a maximum bipartite matching, so no greedy first pick can hide a
valid assignment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_MISSING = object()


class ObjectPattern(BaseModel):
    """A partial Kubernetes object: every field given must match, others are ignored.

    With `metadata.name` the named object is read; without it every object of
    the kind in the lab namespace is a candidate and one match is enough.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    apiVersion: str = "v1"
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The fields to match, without apiVersion and kind."""
        data = self.model_dump(exclude={"apiVersion", "kind"})
        if not data.get("metadata"):
            data.pop("metadata", None)
        return data

    @property
    def name(self) -> str | None:
        return self.metadata.get("name")


def pattern_watches(pattern: ObjectPattern, lab_folder: Any = None) -> tuple[tuple[str, str], ...]:
    """What a check on a partial object watches: its own kind."""
    return ((pattern.apiVersion, pattern.kind),)


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        actual = "<missing>" if self.actual is _MISSING else _short(self.actual)
        return f"{self.path}: expected {_short(self.expected)}, found {actual}"

    @property
    def missing(self) -> bool:
        return self.actual is _MISSING


def _short(value: Any, limit: int = 120) -> str:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$"):
        op, arg = next(iter(value.items()))
        return f"{op[1:]} {arg!r}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_operator(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and str(next(iter(value))).startswith("$")


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if expected == actual:
        return True
    # YAML authors write 80 where the API says "80" (or the reverse); both mean the same.
    if isinstance(expected, (int, float, str)) and isinstance(actual, (int, float, str)):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return False
        return str(expected) == str(actual)
    return False


def _operator(op: str, arg: Any, actual: Any, path: str) -> list[Mismatch]:
    expected = {op: arg}
    if op == "$exists":
        present = actual is not _MISSING and actual is not None
        return [] if present == bool(arg) else [Mismatch(path, expected, actual)]
    if actual is _MISSING:
        return [Mismatch(path, expected, actual)]
    if op == "$regex":
        return [] if re.search(str(arg), str(actual)) else [Mismatch(path, expected, actual)]
    if op == "$contains":
        if isinstance(actual, list):
            return [] if any(not mismatches(arg, item) for item in actual) else [Mismatch(path, expected, actual)]
        if isinstance(actual, (dict, bool)) or actual is None:
            return [Mismatch(path, expected, actual)]
        return [] if str(arg) in str(actual) else [Mismatch(path, expected, actual)]
    if op == "$oneOf":
        return [] if any(not mismatches(option, actual, path) for option in arg) else [Mismatch(path, expected, actual)]
    raise ValueError(f"unknown match operator {op} at {path}")


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return f"[name={item['name']}]"
    return f"[{index}]"


def mismatches(expected: Any, actual: Any, path: str = "") -> list[Mismatch]:
    """Every way `actual` fails to match the partial `expected` (empty: it matches)."""
    if _is_operator(expected):
        op, arg = next(iter(expected.items()))
        return _operator(op, arg, actual, path)
    if isinstance(expected, dict):
        if actual is _MISSING or not isinstance(actual, dict):
            return [Mismatch(path, expected, actual)]
        found: list[Mismatch] = []
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            found.extend(mismatches(value, actual.get(key, _MISSING), child))
        return found
    if isinstance(expected, list):
        if actual is _MISSING or not isinstance(actual, list):
            return [Mismatch(path, expected, actual)]
        return _list_mismatches(expected, actual, path)
    if actual is _MISSING or not _scalar_equal(expected, actual):
        return [Mismatch(path, expected, actual)]
    return []


def _assignment(fits: list[list[int]]) -> dict[int, int]:
    """Maximum bipartite matching (Kuhn's augmenting paths): expected index -> actual index."""
    owner: dict[int, int] = {}  # actual index -> expected index

    def augment(e: int, seen: set[int]) -> bool:
        for a in fits[e]:
            if a in seen:
                continue
            seen.add(a)
            if a not in owner or augment(owner[a], seen):
                owner[a] = e
                return True
        return False

    for e in range(len(fits)):
        augment(e, set())
    return {e: a for a, e in owner.items()}


def _list_mismatches(expected: list[Any], actual: list[Any], path: str) -> list[Mismatch]:
    fits = [[i for i in range(len(actual)) if not mismatches(item, actual[i])] for item in expected]
    paired = _assignment(fits)
    used: set[int] = set(paired.values())
    found: list[Mismatch] = []
    for index, item in enumerate(expected):
        if index in paired:
            continue
        candidates = [i for i in range(len(actual)) if i not in used]
        # Report against the most likely counterpart: the same name, else the closest item.
        same_name = [
            i for i in candidates
            if isinstance(item, dict) and isinstance(actual[i], dict) and "name" in item
            and actual[i].get("name") == item.get("name")
        ]
        if same_name:
            i = same_name[0]
            found.extend(mismatches(item, actual[i], f"{path}{_label(item, i)}"))
        elif isinstance(item, dict) and "name" in item:
            found.append(Mismatch(f"{path}{_label(item, index)}", item, _MISSING))
        elif candidates and isinstance(item, dict):
            i = min(candidates, key=lambda c: len(mismatches(item, actual[c])))
            found.extend(mismatches(item, actual[i], f"{path}[{i}]"))
        else:
            found.append(Mismatch(f"{path}[]", item, actual))
    return found
