"""`answer:` — what a learner recorded in a ConfigMap, held against the cluster (kind `answer`).

    answer: {configmap: answer-pod-ip, keys: [nginx-container, sidecar],
             equals: {kind: Pod, name: multicontainerpod, field: status.podIP}}
    answer: {configmap: answer-client-address, key: address, one_of: ["127.0.0.1", "::1", localhost]}
    answer: {configmap: answer-served-by, key: pods,
             items: {kind: Pod, selector: name=webserver, field: metadata.name, ready: true},
             may_include: {kind: Pod, selector: name=webserver, field: metadata.name}}

A value from the cluster is read when the check runs (`field` is a dotted path;
`[0]` and `[*]` index lists), so the answer is compared with what this
learner's cluster says, not with a value the lab author saw. IP addresses
compare by value; a recorded list may be separated by spaces, commas,
semicolons or new lines. A wrong answer that is something else in the cluster
(the node's IP, another Pod's IP, a ClusterIP) is named in the cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from ...errors import TargetUnavailable
from ..commands import in_namespace
from ..context import CheckContext
from ..objects import answer, answer_items, field_values, identify, is_ready, same_value
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import ApiKind, CheckKind


class Reference(Strict):
    """Values read from the cluster: a field of one named object, or of every object a label
    selector matches."""

    kind: str
    apiVersion: str = "v1"
    name: str | None = None
    selector: str | None = Field(None, description="a label selector (name=webserver); every match counts")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")
    field: str = Field(description="dotted path into the object: status.podIP, spec.ports[0].nodePort")
    ready: bool = Field(False, description="Pods only: only those that are ready")

    @model_validator(mode="after")
    def _one_way(self) -> "Reference":
        if (self.name is None) == (self.selector is None):
            raise ValueError("a reference needs exactly one of name, selector")
        return self

    def shown(self) -> str:
        which = self.name or f"[{self.selector}]"
        return f"{self.kind} {which}'s {self.field}"


class Answer(Strict):
    configmap: str
    key: str | None = None
    keys: list[str] = Field(default_factory=list, description="several keys, each holding the same expected value")
    equals: str | Reference | None = Field(None, description="the value, or where to read it in the cluster")
    one_of: list[str] | None = Field(None, min_length=1, description="any one of these values")
    items: Reference | None = Field(None, description="a list: exactly these values, in any order")
    may_include: Reference | None = Field(None, description="with items: values also allowed in the list")

    @model_validator(mode="after")
    def _shape(self) -> "Answer":
        if (self.key is None) == (not self.keys):
            raise ValueError("an answer needs exactly one of key, keys")
        given = [n for n in ("equals", "one_of", "items") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("an answer needs exactly one of equals, one_of, items "
                             f"(found: {', '.join(given) or 'none'})")
        if self.may_include is not None and self.items is None:
            raise ValueError("may_include goes with items")
        return self

    def all_keys(self) -> list[str]:
        return [self.key] if self.key else list(self.keys)


class AnswerCheck(CheckBase):
    kind: ClassVar[str] = "answer"
    spec: Answer = Field(alias="answer")


def read(ctx: CheckContext, ref: Reference) -> list[str]:
    """The values a reference points at now (a missing object is TargetUnavailable: not yet made)."""
    namespace = in_namespace(ref.namespace, ctx.namespace) if ref.namespace else None
    where = {"namespace": namespace} if namespace else {}
    if ref.name is not None:
        obj = ctx.get(ref.kind, ref.name, ref.apiVersion, **where)
        if obj is None:
            raise TargetUnavailable(f"{ref.kind} {ref.name} does not exist, so the answer cannot be compared",
                                    cause=f"{ref.kind} {ref.name} must exist (see the earlier steps)")
        objects = [obj]
    else:
        objects = [o for o in ctx.list(ref.kind, ref.apiVersion, label_selector=ref.selector, **where)
                   if not o.get("metadata", {}).get("deletionTimestamp")]
    if ref.ready:
        objects = [o for o in objects if is_ready(o)]
    return [str(v) for obj in objects for v in field_values(obj, ref.field)]


def _wrong_value(ctx: CheckContext, spec: Answer, key: str, value: str, expected: list[str], what: str) -> str:
    named = identify(ctx, value) if value else None
    if not value:
        return f"{key} is empty: record {what}"
    if named:
        return f"{value} is {named}, not {what}"
    return f"{value!r} is not {what}"


def evaluate(spec: Answer, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    recorded = {key: answer(ctx, spec.configmap, key) for key in spec.all_keys()}
    shown = ", ".join(f"{k}={v!r}" for k, v in recorded.items())
    if spec.items is not None:
        return _items(spec, ctx, recorded)
    if isinstance(spec.equals, Reference):
        expected = read(ctx, spec.equals)
        if not expected:  # e.g. a Pod without an IP yet: the cluster may still get there
            return Outcome.failed(f"{spec.equals.shown()} has no value yet, so the answer cannot be compared",
                                  cause="wait until it is set (see the earlier steps)")
        what = f"{spec.equals.shown()} ({' or '.join(expected)})"
    else:
        expected = list(spec.one_of) if spec.one_of is not None else [str(spec.equals)]
        what = " or ".join(expected)
    wrong = {k: v for k, v in recorded.items() if not any(same_value(v, e) for e in expected)}
    if not wrong:
        return Outcome.passed(f"you recorded {shown}", observed=shown)
    causes = [_wrong_value(ctx, spec, k, v, expected, what) for k, v in wrong.items()]
    return Outcome.failed(
        f"the answer in ConfigMap {spec.configmap} is not {what}: " + ", ".join(f"{k}={v!r}" for k, v in wrong.items()),
        expected=", ".join(f"{k}={expected[0]}" for k in recorded), observed=shown,
        cause="; ".join(causes), cause_generic=True,
        final=True)  # a recorded answer does not change by itself


def _items(spec: Answer, ctx: CheckContext, recorded: dict[str, str]) -> Outcome:
    assert spec.items is not None
    required = set(read(ctx, spec.items))
    allowed = required | (set(read(ctx, spec.may_include)) if spec.may_include else set())
    what = spec.items.shown()
    for key, value in recorded.items():
        given = answer_items(value)
        missing = sorted(required - set(given))
        strangers = [g for g in given if g not in allowed]
        if missing or strangers:
            parts = []
            if strangers:
                named = [f"{s} ({identify(ctx, s)})" if identify(ctx, s) else s for s in strangers]
                parts.append(f"{', '.join(named)} {'is' if len(strangers) == 1 else 'are'} not among them")
            if missing:
                parts.append(f"missing: {', '.join(missing)}")
            return Outcome.failed(
                f"you recorded {len(set(given) & required)} of the {len(required)} values of {what}",
                expected=f"{key}: {' '.join(sorted(required))}", observed=f"{key}: {value!r}",
                cause="; ".join(parts), cause_generic=True, final=True)
    return Outcome.passed(f"you recorded every one of the {len(required)} values of {what}")


def watches(spec: Answer, lab_folder: Path) -> tuple[ApiKind, ...]:
    refs = [r for r in (spec.equals, spec.items, spec.may_include) if isinstance(r, Reference)]
    return (("v1", "ConfigMap"), *{(r.apiVersion, r.kind) for r in refs})


KIND = CheckKind("answer", AnswerCheck, evaluate, default_timeout=0.0, state_only=True, watches=watches)
