"""Lint rules' building blocks: what a schema cannot say about a lab, over the raw lab.yaml data.

Check kinds use them for their own rules (`CheckKind.lint`); `patterns.py`
holds the rules for partial objects (assert, absent), checked against the
kubernetes client's schema (`k8s_schema.py`); `labcheck.lab_rules` runs the
rules about a lab as a whole and asks each check's kind for its own. Every rule
runs over the raw data, whether or not the schema accepted the file, so `labcheck
lint` reports schema and semantic problems in one pass. Nothing here imports
the rest of labcheck.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Union

#: Where a finding is: a path of keys into lab.yaml, or another file of the lab (line 1).
Location = tuple[Any, ...]
Finding = tuple[Union[Location, Path], str]


def mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in items(value) if isinstance(v, str)]


def suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
