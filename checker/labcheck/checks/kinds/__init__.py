"""The check vocabulary: one module per kind a lab.yaml can name, each defining a `KIND`
(`base.CheckKind`) that says everything about itself: its spec model, how it is
evaluated, its lint rules, what it watches, what it needs beyond the API.

    assert -> assert_.py      absent -> absent.py     probe -> probe.py
    python -> python.py       matrix -> matrix.py     answer -> answer.py
    replicas -> replicas.py   containers -> containers.py
    endpoints -> endpoints.py logs -> logs.py     resolves -> resolves.py

Engine, watch, lint and the lab format ask `KINDS`, never test a kind's name:
adding a kind is one module and one line below.
"""

from __future__ import annotations

from . import absent, answer, assert_, containers, endpoints, logs, matrix, probe, python, replicas, resolves
from .base import CheckKind

KINDS: dict[str, CheckKind] = {}


def add(kind: CheckKind) -> None:
    """Put a kind in the vocabulary (before model.py builds the lab format from it)."""
    if kind.name in KINDS:
        raise ValueError(f"check kind {kind.name!r} is already defined")
    KINDS[kind.name] = kind


for _module in (assert_, absent, probe, python, matrix, answer, replicas, containers, endpoints, logs, resolves):
    add(_module.KIND)


def kind_of(check) -> CheckKind:
    """The kind of a validated check (an instance of one of the kinds' check models)."""
    return KINDS[type(check).kind]
