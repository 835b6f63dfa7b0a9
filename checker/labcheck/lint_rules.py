"""What a schema cannot say about a lab: rules over the raw lab.yaml data.

They run whether or not the schema accepted the file, so `labcheck lint`
reports schema and semantic problems in one pass. Each rule looks only at the
parts that have the right shape and leaves the rest to the schema's report.

Every rule here catches a lab that would otherwise fail at grading time for
every learner: a reference to nothing, a probe that cannot run or cannot fail,
a pattern that can never match (a misspelt field, a kind without its apiVersion,
an unknown operator, a broken regular expression).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterator

from .model import PROBE_TARGETS

Location = tuple[Any, ...]
#: (where, message): where is a location in lab.yaml, or the Path of another file (line 1).
Finding = tuple["Location | Path", str]

#: What checks.matching understands; anything else starting with `$` is a typo.
OPERATORS = ("$contains", "$exists", "$oneOf", "$regex")
#: Deeper than any real object pattern; guards against cyclic YAML aliases.
_MAX_DEPTH = 64


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in _items(value) if isinstance(v, str)]


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def problems(data: dict[str, Any], lab_folder: Path, clusters_dir: Path) -> Iterator[Finding]:
    """Every semantic problem of a lab file's data, as (location, message)."""
    lab_id = data.get("id")
    if isinstance(lab_id, str) and not lab_folder.name.startswith(f"{lab_id}-"):
        yield ("id",), f"id {lab_id!r} does not match folder {lab_folder.name!r}"
    cluster = data.get("cluster")
    if isinstance(cluster, str) and not (clusters_dir / f"{cluster}.yaml").is_file():
        yield ("cluster",), f"no cluster config clusters/{cluster}.yaml"
    yield from _manifests(_mapping(data.get("setup")), ("setup",), lab_folder)

    functions = None
    step_ids: set[str] = set()
    for s, step in _items(data.get("steps")):
        if not isinstance(step, dict):
            continue
        at = ("steps", s)
        if isinstance(step.get("id"), str):
            if step["id"] in step_ids:
                yield at + ("id",), f"duplicate step id {step['id']!r}"
            step_ids.add(step["id"])
        check_ids: set[str] = set()
        for c, check in _items(step.get("checks")):
            if not isinstance(check, dict):
                continue
            where = at + ("checks", c)
            if isinstance(check.get("id"), str):
                if check["id"] in check_ids:
                    yield where + ("id",), f"duplicate check id {check['id']!r}"
                check_ids.add(check["id"])
            python = _mapping(check.get("python"))
            if isinstance(python.get("function"), str):
                if functions is None:
                    functions, failure = _lab_functions(lab_folder)
                    if failure:
                        yield failure
                if python["function"] not in functions:
                    yield (where + ("python", "function"),
                           f"no registered function {python['function']!r} in {lab_folder.name}/checks.py"
                           + _suggest(python["function"], functions))
            if isinstance(check.get("probe"), dict):
                yield from _probe(check["probe"], where + ("probe",))
            for kind in ("assert", "absent"):
                if isinstance(check.get(kind), dict):
                    yield from _pattern(check[kind], where + (kind,))

        for i, check_id in _strings(step.get("unsolved_fails")):
            if check_id not in check_ids:
                yield at + ("unsolved_fails", i), f"unknown check id {check_id!r}" + _suggest(check_id, check_ids)
        solution = step.get("solution")
        if isinstance(solution, dict):
            yield from _manifests(solution, at + ("solution",), lab_folder)
            if not any(solution.get(key) for key in ("manifests", "commands", "prepare")):
                yield at + ("solution",), "the solution does nothing"
        for w, wrong in _items(step.get("wrong_solutions")):
            if not isinstance(wrong, dict):
                continue
            yield from _manifests(wrong, at + ("wrong_solutions", w), lab_folder)
            for f, check_id in _strings(wrong.get("fails")):
                if check_id not in check_ids:
                    yield (at + ("wrong_solutions", w, "fails", f),
                           f"unknown check id {check_id!r}" + _suggest(check_id, check_ids))


def _lab_functions(folder: Path) -> tuple[dict[str, Any], Finding | None]:
    from .checks.python_check import load_lab_functions  # late: imports the lab's own code

    try:
        return load_lab_functions(folder), None
    except Exception as exc:  # a lab's checks.py that does not import is a lab problem
        return {}, (folder / "checks.py", f"cannot import: {exc}")


def _manifests(actions: dict[str, Any], at: Location, folder: Path) -> Iterator[Finding]:
    for m, manifest in _strings(actions.get("manifests")):
        if not (folder / manifest).is_file():
            yield at + ("manifests", m), f"manifest {manifest!r} not found"


# --- probes -----------------------------------------------------------------------


def _probe(probe: dict[str, Any], at: Location) -> Iterator[Finding]:
    # How many targets a probe has is the schema's to say (model.Probe); what it expects is said here.
    targets = [t for t in PROBE_TARGETS if probe.get(t) is not None]
    expect = probe.get("expect", {})
    if not isinstance(expect, dict):
        return
    matches = expect.get("matches")
    if isinstance(matches, str):
        try:
            re.compile(matches)
        except re.error as exc:
            yield at + ("expect", "matches"), f"expect.matches is not a valid regular expression: {exc}"
    for key in ("contains", "matches"):
        if expect.get(key) == "":
            yield at + ("expect", key), f"expect.{key} is empty, so every output satisfies it"
    if expect.get("not_contains") == "":
        yield at + ("expect", "not_contains"), "expect.not_contains is empty, so every output fails it"
    # What the probe demands of the outcome. exit_code defaults to 0; an http probe
    # always demands a good HTTP status (2xx/3xx unless `status` says which); a logs
    # probe has no exit code of its own, so only what it demands of the text counts.
    demands = {key for key, value in expect.items() if value is not None and value is not False and value != ""}
    if "exit_code" not in expect:
        demands.add("exit_code")
    host = probe.get("host")
    if targets == ["http"] or (targets == ["host"] and isinstance(host, dict) and host.get("url") is not None):
        demands.add("status")
    if targets == ["logs"]:
        demands.discard("exit_code")
    if len(targets) == 1 and not demands:
        what = "the logs can be read" if targets == ["logs"] else "the command runs"
        yield (at + ("expect",) if "expect" in probe else at,
               f"this probe expects nothing, so it passes whenever {what}: give expect.contains, "
               f"not_contains or matches" + ("" if targets == ["logs"] else ", or an exit_code"))


# --- assert / absent patterns -------------------------------------------------------


def _is_operator_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("$")


def _pattern(pattern: dict[str, Any], at: Location) -> Iterator[Finding]:
    fields = {k: v for k, v in pattern.items() if k not in ("apiVersion", "kind")}
    yield from _values(fields, at, "", 0)
    kind = pattern.get("kind")
    api_version = pattern.get("apiVersion", "v1")
    if not (isinstance(kind, str) and isinstance(api_version, str)):
        return
    from .cluster.live import client_schema  # the one module that knows the kubernetes client

    schema = client_schema()
    if schema is None or not schema.knows_api_version(api_version):
        return  # a custom resource, or a group this client does not know: nothing to check against
    if not schema.serves(api_version, kind):
        elsewhere = schema.api_versions_serving(kind)
        if not elsewhere:
            yield at + ("kind",), f"Kubernetes has no built-in kind {kind!r}{_suggest(kind, schema.kinds())}"
        elif "apiVersion" in pattern:
            yield at + ("apiVersion",), f"apiVersion {api_version} serves no {kind}: write apiVersion: {elsewhere[0]}"
        else:
            yield (at + ("kind",), f"kind {kind} needs apiVersion: {elsewhere[0]} "
                                   f"(without one the core API, v1, is asked, and it has no {kind})")
        return
    model = schema.model_of(api_version, kind)
    if model is not None:
        yield from _fields(fields, model, at, "", kind, schema, 0)


def _values(value: Any, at: Location, path: str, depth: int) -> Iterator[Finding]:
    """Unknown operators, operators sharing a mapping, arguments that cannot work, empty values."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        operators = [k for k in value if _is_operator_key(k)]
        if operators and len(value) > 1:
            keys = ", ".join(map(str, value))
            yield at, f"{path or 'the pattern'}: an operator must be the only key of its mapping (found {keys})"
        for key, child in value.items():
            if _is_operator_key(key):
                yield from _operator(key, child, at + (key,), path)
                yield from _values(child, at + (key,), path, depth + 1)
                continue
            child_path = f"{path}.{key}" if path else str(key)
            if child is None and not (depth == 0 and key == "metadata"):  # the schema reports that one
                yield (at + (key,), f"{child_path} is empty (null), which no object ever matches: "
                                    "give it a value, or {$exists: false} for 'not set'")
            yield from _values(child, at + (key,), child_path, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _values(item, at + (i,), f"{path}[{i}]", depth + 1)


def _operator(op: str, arg: Any, at: Location, path: str) -> Iterator[Finding]:
    """An operator matching.py does not know, or an argument it cannot use."""
    where = f"{path}: " if path else ""
    if op not in OPERATORS:
        yield at, f"{where}unknown operator {op}{_suggest(op, OPERATORS)} (known: {', '.join(OPERATORS)})"
    elif op == "$regex":
        if not isinstance(arg, str):
            yield at, f"{where}$regex needs a regular expression as text"
        else:
            try:
                re.compile(arg)
            except re.error as exc:
                yield at, f"{where}$regex is not a valid regular expression: {exc}"
    elif op == "$exists" and not isinstance(arg, bool):
        yield at, f"{where}$exists needs true or false"
    elif op == "$oneOf" and not (isinstance(arg, list) and arg):
        yield at, f"{where}$oneOf needs a list of the values allowed"
    elif op == "$contains" and arg is None:
        yield at, f"{where}$contains needs a value to look for"


_SCALARS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
            "datetime": "a time stamp", "date": "a date"}


def _fields(expected: Any, type_name: str, at: Location, path: str, kind: str, schema: Any,
            depth: int) -> Iterator[Finding]:
    """Field names and shapes of a partial object against the client's model of the kind."""
    if depth > _MAX_DEPTH or type_name == "object":
        return  # free-form (IntOrString, raw extensions): anything goes
    if isinstance(expected, dict) and any(_is_operator_key(key) for key in expected):
        # An operator: its argument is checked by _values, and a crowded one reported there.
        if len(expected) == 1 and isinstance(expected.get("$oneOf"), list):
            for i, option in enumerate(expected["$oneOf"]):
                yield from _fields(option, type_name, at + ("$oneOf", i), path, kind, schema, depth + 1)
        return
    shown = path or kind
    listed = re.fullmatch(r"list\[(.+)\]", type_name)
    mapped = re.fullmatch(r"dict[\[(]str, (.+)[\])]", type_name)
    if listed:
        if isinstance(expected, list):
            for i, item in enumerate(expected):
                yield from _fields(item, listed[1], at + (i,), f"{path}[{i}]", kind, schema, depth + 1)
        elif expected is not None:
            yield at, f"{kind} field {shown} is a list: give its items as a YAML list (- ...)"
    elif mapped:
        if isinstance(expected, dict):
            for key, value in expected.items():
                yield from _fields(value, mapped[1], at + (key,), f"{path}.{key}", kind, schema, depth + 1)
        elif expected is not None:
            yield at, f"{kind} field {shown} is a mapping of names to values, not {_shape(expected)}"
    elif type_name in _SCALARS:
        wrong = (isinstance(expected, (dict, list))
                 or (type_name == "str" and isinstance(expected, bool))
                 or (type_name == "bool" and not isinstance(expected, bool) and expected is not None)
                 or (type_name == "int" and (isinstance(expected, bool)
                                             or (isinstance(expected, str) and not expected.lstrip("-").isdigit()))))
        if wrong:
            yield at, f"{kind} field {shown} is {_SCALARS[type_name]}, not {_shape(expected)}"
    else:
        fields = schema.fields(type_name)
        if fields is None:
            return
        if not isinstance(expected, dict):
            if expected is not None:
                yield at, f"{kind} field {shown} is an object with fields, not {_shape(expected)}"
            return
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in fields:
                yield at + (key,), f"{kind} has no field {child}{_suggest(str(key), fields)}"
            else:
                yield from _fields(value, fields[key], at + (key,), child, kind, schema, depth + 1)


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"{str(value).lower()} (quote it if you mean the text: '{str(value).lower()}')"
    return repr(value)
