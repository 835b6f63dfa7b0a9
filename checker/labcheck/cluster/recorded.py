"""Recorded evidence: what a grading run read from a cluster, saved and replayed.

A recording is a JSON file of calls (operation + arguments) and their answers.
Replaying asks the same questions and gets the same answers, so a learner's
evidence can be graded again later, by an instructor, with no cluster.
"""

from __future__ import annotations

import copy
import json
import marshal
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ClusterUnavailable, EvidenceError, TargetUnavailable
from .base import Cluster, ExecResult

FORMAT = "labcheck-evidence"
VERSION = 1

_RAISES = {"TargetUnavailable": TargetUnavailable, "ClusterUnavailable": ClusterUnavailable}


def call_key(op: str, args: dict[str, Any]) -> str:
    return json.dumps([op, args], sort_keys=True, separators=(",", ":"))


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _redact(obj: Any) -> Any:
    # Secret values never go into a file a learner hands to someone else,
    # including the copy `kubectl apply` keeps in an annotation.
    if isinstance(obj, dict) and obj.get("kind") == "Secret":
        obj = copy.deepcopy(obj)
        for field in ("data", "stringData"):
            if field in obj:
                obj[field] = {key: "<redacted>" for key in obj[field]}
        annotations = obj.get("metadata", {}).get("annotations") or {}
        if _LAST_APPLIED in annotations:
            annotations[_LAST_APPLIED] = "<redacted>"
    return obj


class RecordingCluster:
    """Passes every call through to a live cluster and keeps the last answer to each."""

    def __init__(self, inner: Cluster):
        self.inner = inner
        self.replay = inner.replay
        self.calls: dict[str, dict[str, Any]] = {}

    def describe(self) -> str:
        return self.inner.describe()

    def _through(self, op: str, args: dict[str, Any], encode=lambda r: r, decode=lambda r: r):
        key = call_key(op, args)
        try:
            result = getattr(self.inner, op)(**args)
        except (TargetUnavailable, ClusterUnavailable) as exc:
            self.calls[key] = {"op": op, "args": args, "raises": type(exc).__name__, "message": str(exc)}
            raise
        self.calls[key] = {"op": op, "args": args, "result": _redact(encode(copy.deepcopy(result)))}
        return result

    def get(self, api_version, kind, namespace, name):
        return self._through("get", dict(api_version=api_version, kind=kind, namespace=namespace, name=name))

    def list(self, api_version, kind, namespace, label_selector=None):
        args = dict(api_version=api_version, kind=kind, namespace=namespace, label_selector=label_selector)
        return self._through("list", args, encode=lambda items: [_redact(i) for i in items])

    def logs(self, namespace, pod, container, tail_lines=200):
        return self._through("logs", dict(namespace=namespace, pod=pod, container=container, tail_lines=tail_lines))

    def exec_in_pod(self, namespace, pod, container, command, timeout):
        args = dict(namespace=namespace, pod=pod, container=container, command=list(command))
        return self._exec("exec_in_pod", args, timeout)

    def exec_on_node(self, node, command, timeout):
        return self._exec("exec_on_node", dict(node=node, command=list(command)), timeout)

    def exec_on_host(self, command, timeout):
        return self._exec("exec_on_host", dict(command=list(command)), timeout)

    def _exec(self, op: str, args: dict[str, Any], timeout: float) -> ExecResult:
        # The timeout is not part of the question: a replay may use another.
        key = call_key(op, args)
        try:
            result = getattr(self.inner, op)(**args, timeout=timeout)
        except (TargetUnavailable, ClusterUnavailable) as exc:
            self.calls[key] = {"op": op, "args": args, "raises": type(exc).__name__, "message": str(exc)}
            raise
        self.calls[key] = {"op": op, "args": args, "result": result.to_dict()}
        return result

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "labcheck": __version__,
            "cluster": self.describe(),
            **meta,
            "calls": sorted(self.calls.values(), key=lambda c: call_key(c["op"], c["args"])),
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so an interrupted run never leaves half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1, sort_keys=False)
            out.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep an instructor from reading it
        os.replace(temporary, path)


class RecordedCluster:
    """Answers from a recording. A question it has no answer to is an ERROR, never a guess."""

    replay = True

    def __init__(self, path: Path, document: dict[str, Any] | None = None):
        """From an evidence file, or from a `document` already read and checked (named by `path`)."""
        self.path = Path(path)
        self.document = load_evidence(self.path) if document is None else document
        self._calls = {call_key(c["op"], c["args"]): c for c in self.document["calls"]}

    @property
    def meta(self) -> dict[str, Any]:
        return {k: v for k, v in self.document.items() if k != "calls"}

    def describe(self) -> str:
        return f"evidence {self.path.name} (recorded {self.document.get('recorded_at', '?')})"

    def _answer(self, op: str, args: dict[str, Any]) -> Any:
        call = self._calls.get(call_key(op, args))
        shown = ", ".join(f"{k}={v}" for k, v in args.items() if v is not None)
        if call is None:
            raise ClusterUnavailable(f"the evidence file holds no answer to {op}({shown})")
        if "raises" in call:
            raised = call["raises"] if isinstance(call["raises"], str) else ""
            raise _RAISES.get(raised, ClusterUnavailable)(str(call.get("message", "")))
        result = call.get("result")
        if not _ANSWER_SHAPES[op](result):
            # A hand-edited or damaged file: the grader cannot judge from it (ERROR), nor crash on it.
            raise ClusterUnavailable(f"the evidence file's answer to {op}({shown}) is damaged ({_kind_of(result)})")
        return _copied(result)

    def get(self, api_version, kind, namespace, name):
        return self._answer("get", dict(api_version=api_version, kind=kind, namespace=namespace, name=name))

    def list(self, api_version, kind, namespace, label_selector=None):
        args = dict(api_version=api_version, kind=kind, namespace=namespace, label_selector=label_selector)
        return self._answer("list", args)

    def logs(self, namespace, pod, container, tail_lines=200):
        return self._answer("logs", dict(namespace=namespace, pod=pod, container=container, tail_lines=tail_lines))

    def exec_in_pod(self, namespace, pod, container, command, timeout):
        args = dict(namespace=namespace, pod=pod, container=container, command=list(command))
        return ExecResult.from_dict(self._answer("exec_in_pod", args))

    def exec_on_node(self, node, command, timeout):
        return ExecResult.from_dict(self._answer("exec_on_node", dict(node=node, command=list(command))))

    def exec_on_host(self, command, timeout):
        return ExecResult.from_dict(self._answer("exec_on_host", dict(command=list(command))))


def _copied(value: Any) -> Any:
    """A copy of an answer a check may change: JSON data, so marshal copies it (about ten times faster
    than deepcopy, which counts for a submission holding many objects)."""
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:  # not plain data after all
        return copy.deepcopy(value)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("metadata"), dict) \
        and isinstance(value["metadata"].get("name"), str)


def _is_exec_result(value: Any) -> bool:
    fields = ExecResult.__dataclass_fields__
    return (isinstance(value, dict) and set(value) <= set(fields)
            and isinstance(value.get("args"), list) and isinstance(value.get("returncode"), int)
            and not isinstance(value.get("returncode"), bool) and isinstance(value.get("stdout"), str)
            and isinstance(value.get("stderr", ""), str) and isinstance(value.get("where", ""), str)
            and isinstance(value.get("duration", 0.0), (int, float)) and isinstance(value.get("extra", {}), dict)
            and isinstance(value.get("timed_out", False), bool))


#: What a well-formed answer to each question looks like.
_ANSWER_SHAPES = {
    "get": lambda r: r is None or _is_object(r),
    "list": lambda r: isinstance(r, list) and all(_is_object(o) for o in r),
    "logs": lambda r: isinstance(r, str),
    "exec_in_pod": _is_exec_result,
    "exec_on_node": _is_exec_result,
    "exec_on_host": _is_exec_result,
}


def _kind_of(value: Any) -> str:
    return {dict: "an object of the wrong shape", list: "a list of the wrong shape"}.get(
        type(value), f"a {type(value).__name__}")


def load_evidence(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvidenceError(f"{path}: evidence file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvidenceError(f"{path}: cannot read evidence file ({exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); the file is corrupt") from None
    except RecursionError:
        raise EvidenceError(f"{path}: JSON nested too deeply to read; the file is corrupt") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise EvidenceError(f"{path}: not a labcheck evidence file (no \"format\": \"{FORMAT}\")")
    if document.get("version") != VERSION:
        raise EvidenceError(
            f"{path}: evidence format version {document.get('version')!r}; this labcheck reads version {VERSION}"
        )
    calls = document.get("calls")
    if not isinstance(calls, list) or not all(
        isinstance(c, dict) and isinstance(c.get("op"), str) and isinstance(c.get("args"), dict) for c in calls
    ):
        raise EvidenceError(f"{path}: \"calls\" must be a list of {{op, args, result}} entries")
    return document
