"""`python:` — a function a lab registers in its own checks.py, beside its lab.yaml.

    from labcheck.lab import CheckContext, Outcome, register

    @register
    def sidecar_got_the_page(ctx: CheckContext, pod: str) -> Outcome:
        ...
        return Outcome.passed("...")  # or Outcome.failed(..., cause=...)

A function gets a CheckContext (reads and commands that keep their evidence,
and the helpers labs share) and the check's `args`; it returns an Outcome.
`labcheck.lab` is all a lab's checks.py imports.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

from pydantic import Field

from ..context import CheckContext
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import HOST, NETWORK_PATH, NODE, ApiKind, CheckKind, Finding, LintEnv, Location
from ...lint import mapping, suggest

CheckFunction = Callable[..., Outcome]
_MARK = "_labcheck_check"
_loaded: dict[Path, dict[str, CheckFunction] | Exception] = {}

#: What a function is taken to read when it does not say: the objects a request between Pods
#: depends on, and the ConfigMaps learners record answers in.
DEFAULT_WATCHES: tuple[ApiKind, ...] = (*NETWORK_PATH, ("v1", "ConfigMap"), ("apps/v1", "Deployment"))


class PythonCall(Strict):
    function: str = Field(description="name of a function registered in the lab's checks.py")
    args: dict[str, Any] = Field(default_factory=dict)


class PythonCheck(CheckBase):
    kind: ClassVar[str] = "python"
    spec: PythonCall = Field(alias="python")


def register(function: CheckFunction | None = None, *, name: str | None = None,
             needs: tuple[str, ...] = (), watches: tuple[ApiKind, ...] | None = None):
    """Mark a function as a check a lab.yaml can name under `python: {function: ...}`.

    needs: "node" and/or "host" when the function runs commands on a node
    (`ctx.exec_on_node`) or on this machine (`ctx.exec_on_host`): graders that
    cannot reach them report the check as not gradable there.
    watches: the (apiVersion, kind) pairs whose changes can change the result
    (default: DEFAULT_WATCHES).
    """
    unknown = set(needs) - {NODE, HOST}
    if unknown:
        raise ValueError(f"register(needs=...) takes {NODE!r} and {HOST!r}, not {', '.join(sorted(unknown))}")

    def mark(fn: CheckFunction) -> CheckFunction:
        setattr(fn, _MARK, (name or fn.__name__, frozenset(needs), tuple(watches or DEFAULT_WATCHES)))
        return fn

    return mark(function) if function is not None else mark


def load_lab_functions(folder: Path) -> dict[str, CheckFunction]:
    """The registered functions of a lab folder's checks.py (none when it has no such file)."""
    folder = folder.resolve()
    if folder not in _loaded:
        try:
            _loaded[folder] = _import_functions(folder)
        except Exception as exc:  # kept: every check naming the file gets the same answer at once
            _loaded[folder] = exc
    found = _loaded[folder]
    if isinstance(found, Exception):
        raise found
    return found


def _import_functions(folder: Path) -> dict[str, CheckFunction]:
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
                functions[getattr(value, _MARK)[0]] = value
    return functions


def evaluate(call: PythonCall, ctx: CheckContext, folder: Path) -> Outcome:
    function = load_lab_functions(folder).get(call.function)
    if function is None:
        return Outcome.error(f"lab defines no check function {call.function!r} (run labcheck lint)")
    outcome = function(ctx, **call.args)
    if not isinstance(outcome, Outcome):
        return Outcome.error(f"check function {call.function} returned {type(outcome).__name__}, not an Outcome")
    return outcome


def _declared(call: PythonCall, folder: Path) -> tuple[str, frozenset[str], tuple[ApiKind, ...]]:
    function = load_lab_functions(folder).get(call.function)
    return getattr(function, _MARK, (call.function, frozenset(), DEFAULT_WATCHES))


def watches(call: PythonCall, folder: Path) -> tuple[ApiKind, ...]:
    return _declared(call, folder)[2]


def needs(call: PythonCall, folder: Path) -> frozenset[str]:
    return _declared(call, folder)[1]


def lint(call: Any, at: Location, env: LintEnv) -> Iterator[Finding]:
    name = mapping(call).get("function")
    if not isinstance(name, str):
        return
    try:
        functions = load_lab_functions(env.lab_folder)
    except Exception as exc:  # a lab's checks.py that does not import is a lab problem
        if "python: import failed" not in env.said:
            env.said.add("python: import failed")
            yield env.lab_folder / "checks.py", f"cannot import: {exc}"
        return
    if name not in functions:
        yield (at + ("function",),
               f"no registered function {name!r} in {env.lab_folder.name}/checks.py" + suggest(name, functions))


KIND = CheckKind("python", PythonCheck, evaluate, default_timeout=5.0, lint=lint, watches=watches, needs=needs)
