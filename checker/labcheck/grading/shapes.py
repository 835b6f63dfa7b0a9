"""Objects in a submission's evidence must have the shape the Kubernetes API gives them.

A check reads a Pod as the API returns one: `status` an object, `spec.containers`
a list of objects, labels a map of strings. Evidence is data a learner hands in,
so an answer no API server could have given (a string where an object belongs)
is refused when the file is read, with the field's path, rather than reaching a
check and crashing it. The shapes are the installed kubernetes client's models
(`lint.k8s_schema.client_schema()`, read as text; the client is not imported).

Fields the client does not know are let through (a newer API server adds
fields); kinds it does not know (custom resources) get the shape every object
has: `metadata` as ObjectMeta, `spec` and `status` objects when present.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

#: A shape check: (value, path) -> None, or the problem's description.
Shape = Callable[[Any, str], "str | None"]

_LIST = re.compile(r"^list\[(.*)\]$")
_DICT = re.compile(r"^dict\[str, (.*)\]$")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _scalar(accepts: tuple[type, ...], word: str) -> Shape:
    def check(value: Any, path: str) -> str | None:
        if value is None or (isinstance(value, accepts) and not (isinstance(value, bool) and bool not in accepts)):
            return None
        return f"{path}: should be {word}, not {_type_name(value)}"
    return check


_SCALARS: dict[str, Shape] = {
    "str": _scalar((str,), "a string"),
    "datetime": _scalar((str,), "a time (a string)"),
    "date": _scalar((str,), "a date (a string)"),
    "int": _scalar((int,), "a whole number"),
    "float": _scalar((int, float), "a number"),
    "bool": _scalar((bool,), "true or false"),
    "object": lambda value, path: None,  # int-or-string, raw extensions: anything
}


class Shapes:
    """Shape checks built from the client's models, once per model (shared by grading threads)."""

    def __init__(self, schema):
        self._schema = schema
        self._built: dict[str, Shape] = {}
        self._lock = threading.Lock()

    def of_type(self, text: str) -> Shape:
        if text in _SCALARS:
            return _SCALARS[text]
        match = _LIST.match(text)
        if match:
            return self._list(match.group(1))
        match = _DICT.match(text)
        if match:
            return self._map(match.group(1))
        return self.of_model(text)

    def _list(self, item_type: str) -> Shape:
        item: list[Shape] = []

        def check(value: Any, path: str) -> str | None:
            if value is None:
                return None
            if not isinstance(value, list):
                return f"{path}: should be a list, not {_type_name(value)}"
            if not item:
                item.append(self.of_type(item_type))
            for index, element in enumerate(value):
                problem = item[0](element, f"{path}.{index}")
                if problem:
                    return problem
            return None
        return check

    def _map(self, value_type: str) -> Shape:
        inner: list[Shape] = []

        def check(value: Any, path: str) -> str | None:
            if value is None:
                return None
            if not isinstance(value, dict):
                return f"{path}: should be an object, not {_type_name(value)}"
            if not inner:
                inner.append(self.of_type(value_type))
            for key, element in value.items():
                problem = inner[0](element, f"{path}.{key}")
                if problem:
                    return problem
            return None
        return check

    def of_model(self, model: str) -> Shape:
        with self._lock:
            built = self._built.get(model)
        if built is not None:
            return built
        fields = self._schema.fields(model) if self._schema is not None else None
        if fields is None:  # a model the client does not have: an object, nothing more to say
            return _any_object
        checks: dict[str, Shape] = {}

        def check(value: Any, path: str) -> str | None:
            if value is None:
                return None
            if not isinstance(value, dict):
                return f"{path}: should be an object, not {_type_name(value)}"
            for name, element in value.items():
                field_type = fields.get(name)
                if field_type is None:
                    continue
                shape = checks.get(name)
                if shape is None:
                    shape = checks[name] = self.of_type(field_type)
                problem = shape(element, f"{path}.{name}" if path else name)
                if problem:
                    return problem
            return None

        with self._lock:
            self._built.setdefault(model, check)
            return self._built[model]

    def of_kind(self, api_version: str, kind: str) -> Shape:
        model = self._schema.model_of(api_version, kind) if self._schema is not None else None
        if model is not None:
            return self.of_model(model)
        metadata = self.of_model("V1ObjectMeta")

        def custom(value: Any, path: str) -> str | None:
            if not isinstance(value, dict):
                return f"{path}: should be an object, not {_type_name(value)}"
            for name in ("spec", "status"):
                if name in value and value[name] is not None and not isinstance(value[name], dict):
                    return f"{path}.{name}: should be an object, not {_type_name(value[name])}"
            return metadata(value.get("metadata"), f"{path}.metadata")
        return custom


def _any_object(value: Any, path: str) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    return f"{path}: should be an object, not {_type_name(value)}"


_shapes: Shapes | None = None
_shapes_lock = threading.Lock()


def shapes() -> Shapes:
    global _shapes
    with _shapes_lock:
        if _shapes is None:
            from ..lint.k8s_schema import client_schema

            _shapes = Shapes(client_schema())
        return _shapes


def shape_of(api_version: Any, kind: Any) -> Shape:
    """The shape an API server's answer for this kind has (a question naming no kind: any object)."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return _any_object
    return shapes().of_kind(api_version, kind)
