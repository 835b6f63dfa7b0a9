"""`answer:` — what a learner recorded in a ConfigMap, held against the cluster (kind `answer`).

    answer: {configmap: answer-pod-ip, keys: [nginx-container, sidecar],
             equals: {kind: Pod, name: multicontainerpod, field: status.podIP}}
    answer: {configmap: answer-client-address, key: address, one_of: ["127.0.0.1", "::1", localhost]}
    answer: {configmap: answer-dns-names, key: namespaced, equals: webserver.$LAB_NAMESPACE}
    answer: {configmap: answer-served-by, key: pods,
             items: {kind: Pod, selector: name=webserver, field: metadata.name, ready: true},
             may_include: {kind: Pod, selector: name=webserver, field: metadata.name}}

A value from the cluster is read when the check runs (`field` is a dotted path;
`[0]` and `[*]` index lists), so the answer is compared with what this
learner's cluster says, not with a value the lab author saw. IP addresses
compare by value; `$LAB_NAMESPACE` in a value stands for the graded namespace;
a recorded list may be separated by spaces, commas, semicolons or new lines. A wrong answer that is something else in the cluster
(the node's IP, another Pod's IP, a ClusterIP) is named in the cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator

from ..commands import in_namespace
from ..context import CheckContext
from ..objects import answer, answer_items, identify, read_reference, same_value
from ..outcome import Outcome
from ..spec import CheckBase, Reference, Strict
from .base import ApiKind, CheckKind


class Answer(Strict):
    configmap: str
    key: str | None = None
    keys: list[str] = Field(default_factory=list, description="several keys, each holding the same expected value")
    equals: str | Reference | None = Field(
        None, description="the value ($LAB_NAMESPACE stands for the graded namespace), or where to read it in the cluster")
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
        expected = read_reference(ctx, spec.equals)
        if not expected:  # e.g. a Pod without an IP yet: the cluster may still get there
            return Outcome.failed(f"{spec.equals.shown()} has no value yet, so the answer cannot be compared",
                                  cause="wait until it is set (see the earlier steps)")
        what = f"{spec.equals.shown()} ({' or '.join(expected)})"
    else:
        written = list(spec.one_of) if spec.one_of is not None else [str(spec.equals)]
        expected = [in_namespace(value, ctx.namespace) for value in written]
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
    required = set(read_reference(ctx, spec.items))
    allowed = required | (set(read_reference(ctx, spec.may_include)) if spec.may_include else set())
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
            # Values named for what they are (another Pod's IP) say more than a lab's own cause.
            return Outcome.failed(
                f"you recorded {len(set(given) & required)} of the {len(required)} values of {what}",
                expected=f"{key}: {' '.join(sorted(required))}", observed=f"{key}: {value!r}",
                cause="; ".join(parts), cause_generic=not strangers, final=True)
    return Outcome.passed(f"you recorded every one of the {len(required)} values of {what}")


def watches(spec: Answer, lab_folder: Path) -> tuple[ApiKind, ...]:
    refs = [r for r in (spec.equals, spec.items, spec.may_include) if isinstance(r, Reference)]
    return (("v1", "ConfigMap"), *{(r.apiVersion, r.kind) for r in refs})


KIND = CheckKind("answer", AnswerCheck, evaluate, default_timeout=0.0, state_only=True, watches=watches)
