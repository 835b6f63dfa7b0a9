"""Rules for partial objects (`assert:`, `absent:`): a pattern that could never match.

A misspelt field, a field of the wrong shape, a kind without its apiVersion,
an unknown `$` operator or a broken regular expression each make a check that
fails for every learner; fields are checked against the installed kubernetes
client's schema (k8s_schema.py), read as text.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from . import Finding, Location, suggest

#: What checks.matching understands; anything else starting with `$` is a typo.
OPERATORS = ("$contains", "$exists", "$oneOf", "$regex")
#: Deeper than any real object pattern; guards against cyclic YAML aliases.
_MAX_DEPTH = 64


def _is_operator_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("$")


def lint_pattern(pattern: Any, at: Location, env: Any = None) -> Iterator[Finding]:
    """A kind's lint rule for a partial object (assert, absent)."""
    if isinstance(pattern, dict):
        yield from pattern_problems(pattern, at)


def pattern_problems(pattern: dict[str, Any], at: Location) -> Iterator[Finding]:
    """Every reason the partial object could never match an object of its kind."""
    fields = {k: v for k, v in pattern.items() if k not in ("apiVersion", "kind")}
    yield from _values(fields, at, "", 0)
    kind = pattern.get("kind")
    api_version = pattern.get("apiVersion", "v1")
    if not (isinstance(kind, str) and isinstance(api_version, str)):
        return
    from .k8s_schema import client_schema  # late: only when a pattern names a kind

    schema = client_schema()
    if schema is None or not schema.knows_api_version(api_version):
        return  # a custom resource, or a group this client does not know: nothing to check against
    if not schema.serves(api_version, kind):
        elsewhere = schema.api_versions_serving(kind)
        if not elsewhere:
            yield at + ("kind",), f"Kubernetes has no built-in kind {kind!r}{suggest(kind, schema.kinds())}"
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
        yield at, f"{where}unknown operator {op}{suggest(op, OPERATORS)} (known: {', '.join(OPERATORS)})"
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
                yield at + (key,), f"{kind} has no field {child}{suggest(str(key), fields)}"
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
