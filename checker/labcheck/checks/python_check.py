"""`python:` — functions a lab registers in its own checks.py, beside its lab.yaml.

    from labcheck.checks.python_check import register

    @register
    def sidecar_got_the_page(ctx, **args):
        ...
        return Outcome.passed("...")  # or Outcome.failed(..., cause=...)

A function gets a CheckContext (cluster, namespace, exec/logs helpers that keep
evidence) and the check's `args`; it returns an Outcome.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Callable

from ..model import PythonCall
from .context import CheckContext
from .outcome import Outcome

CheckFunction = Callable[..., Outcome]
_MARK = "_labcheck_check_name"
_loaded: dict[Path, dict[str, CheckFunction]] = {}


def register(function: CheckFunction | None = None, *, name: str | None = None):
    """Mark a function as a check a lab.yaml can name under `python: {function: ...}`."""

    def mark(fn: CheckFunction) -> CheckFunction:
        setattr(fn, _MARK, name or fn.__name__)
        return fn

    return mark(function) if function is not None else mark


def load_lab_functions(folder: Path) -> dict[str, CheckFunction]:
    """The registered functions of a lab folder's checks.py (none when it has no such file)."""
    folder = folder.resolve()
    if folder in _loaded:
        return _loaded[folder]
    path = folder / "checks.py"
    functions: dict[str, CheckFunction] = {}
    if path.is_file():
        module_name = "labcheck_lab_" + folder.name.replace("-", "_")
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        for value in vars(module).values():
            if callable(value) and hasattr(value, _MARK):
                functions[getattr(value, _MARK)] = value
    _loaded[folder] = functions
    return functions


def evaluate(call: PythonCall, ctx: CheckContext, folder: Path) -> Outcome:
    function = load_lab_functions(folder).get(call.function)
    if function is None:
        return Outcome.error(f"lab defines no check function {call.function!r} (run labcheck lint)")
    outcome = function(ctx, **call.args)
    if not isinstance(outcome, Outcome):
        return Outcome.error(f"check function {call.function} returned {type(outcome).__name__}, not an Outcome")
    return outcome
