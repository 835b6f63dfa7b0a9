"""`logs:` — a server's log shows requests from a given client (kind `logs`).

    logs: {pod: multicontainerpod, container: nginx-container,
           matches: '"GET [^"]*" 200 .*"(curl|Wget)', client: {one_of: ["127.0.0.1", "::1"]}}
    logs: {pod: webserver, matches: '"GET / ', client: {pod: client}}
    logs: {selector: k8s-app=kube-dns, namespace: kube-system, matches: '"A IN webserver\\.',
           address: '^\\[INFO\\] \\[?([0-9a-f.:]+?)\\]?:[0-9]+ ', client: {pod: client}}

A line counts when it matches `matches` and comes from the client: one of the
addresses given, or the IP of the Pod named. Where a line says who sent it is
`address`, a regular expression whose first group is the address (default: the
line's first field, as in nginx's and most web servers' access logs). With a
`selector`, the logs of every Pod it matches are read (a request may reach any
replica).
A FAIL names the addresses the matching lines did come from, and what each is
in the cluster (the node, another Pod), which is usually the lesson.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Iterator

from pydantic import Field, model_validator

from ...errors import TargetUnavailable
from ..commands import in_namespace
from ..context import CheckContext
from ..objects import identify, pod, same_value
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import POD, ApiKind, CheckKind, Finding, LintEnv, Location


class Client(Strict):
    """Who the lines must come from: one of some addresses, or a Pod (its IP, read when checked)."""

    one_of: list[str] | None = Field(None, min_length=1)
    pod: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "Client":
        if (self.one_of is None) == (self.pod is None):
            raise ValueError("a client is given by exactly one of one_of, pod")
        return self


class Logs(Strict):
    pod: str | None = Field(None, description="the server Pod whose log is read")
    selector: str | None = Field(None, description="or a label selector: the logs of every Pod it matches")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")
    container: str | None = Field(None, description="default: the Pod's first container")
    matches: str = Field(description="regular expression a counted line must match ($LAB_NAMESPACE: the graded "
                                     "namespace, as text)")
    client: Client | None = Field(None, description="whom counted lines must come from")
    address: str = Field(r"^(\S+)", description="regular expression whose first group is a line's client address")
    at_least: int = Field(1, ge=1)
    tail_lines: int = Field(500, ge=1, le=100000, description="how much of each log's end is read")

    @model_validator(mode="after")
    def _one_source(self) -> "Logs":
        if (self.pod is None) == (self.selector is None):
            raise ValueError("logs need exactly one of pod, selector")
        return self


class LogsCheck(CheckBase):
    kind: ClassVar[str] = "logs"
    spec: Logs = Field(alias="logs")


def _client_addresses(spec: Logs, ctx: CheckContext) -> tuple[list[str], str]:
    client = spec.client
    assert client is not None
    if client.one_of is not None:
        return client.one_of, " or ".join(client.one_of)
    found = pod(ctx, client.pod, running=True)
    ips = [entry.get("ip") for entry in found.get("status", {}).get("podIPs") or [] if entry.get("ip")]
    ips = ips or [found.get("status", {}).get("podIP")]
    if not any(ips):
        raise TargetUnavailable(f"Pod {client.pod} has no IP yet", cause="wait until it runs")
    return [ip for ip in ips if ip], f"Pod {client.pod}'s IP ({', '.join(ip for ip in ips if ip)})"


def _read(spec: Logs, ctx: CheckContext) -> tuple[str, str]:
    """(the logs' text, what was read) from the named Pod or every Pod the selector matches."""
    namespace = in_namespace(spec.namespace, ctx.namespace) if spec.namespace else ctx.namespace
    if spec.pod is not None:
        here = CheckContext(ctx.cluster, namespace, ctx.evidence, ctx.reached)
        pod(here, spec.pod, running=True)
        text = ctx.logs(spec.pod, spec.container, tail_lines=spec.tail_lines, namespace=namespace)
        return text, f"the log of {spec.pod}" + (f" ({spec.container})" if spec.container else "")
    pods = [p for p in ctx.list("Pod", label_selector=spec.selector, namespace=namespace)
            if p.get("status", {}).get("phase") == "Running"]
    if not pods:
        raise TargetUnavailable(f"no running Pod matches {spec.selector} in namespace {namespace}")
    texts = [ctx.logs(p["metadata"]["name"], spec.container, tail_lines=spec.tail_lines, namespace=namespace)
             for p in pods]
    return "\n".join(texts), f"the logs of {', '.join(sorted(p['metadata']['name'] for p in pods))}"


def _source(address: re.Pattern, line: str) -> str | None:
    found = address.search(line)
    return found.group(1).strip("[]") if found and found.groups() else None


def evaluate(spec: Logs, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    text, where = _read(spec, ctx)
    pattern = re.compile(in_namespace(spec.matches, ctx.namespace))
    lines = [line.strip() for line in text.splitlines() if pattern.search(line)]
    if spec.client is None:
        if len(lines) >= spec.at_least:
            return Outcome.passed(f"{where} has {len(lines)} line(s) matching /{spec.matches}/", observed=lines[-1][:200])
        return Outcome.failed(f"{where} has {len(lines)} line(s) matching /{spec.matches}/",
                              expected=f"at least {spec.at_least}", observed=_tail(text),
                              cause="the request has not reached the server yet (see the earlier checks)",
                              cause_generic=True)
    addresses, who = _client_addresses(spec, ctx)
    address = re.compile(spec.address)
    sources = [source for source in (_source(address, line) for line in lines) if source]
    theirs = [s for s in sources if any(same_value(s, a) for a in addresses)]
    if len(theirs) >= spec.at_least:
        return Outcome.passed(f"{where} shows {len(theirs)} request(s) from {who}", observed=theirs[-1])
    others = sorted(set(sources) - set(theirs))
    if not others:
        return Outcome.failed(f"{where} shows no line matching /{spec.matches}/",
                              expected=f"a line from {who}", observed=_tail(text),
                              cause="the client has not reached the server yet (see the earlier checks)",
                              cause_generic=True)
    named = [f"{o} ({identify(ctx, o)})" if identify(ctx, o) else o for o in others]
    return Outcome.failed(f"{where} shows these requests from {', '.join(others)}, none from {who}",
                          expected=f"lines from {who}", observed=", ".join(named),
                          cause=f"the server saw the requests come from {', '.join(named)}", cause_generic=True)


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines()[-lines:]]
    return " | ".join(kept)[:400] or "(an empty log)"


def lint(spec: Any, at: Location, env: LintEnv) -> Iterator[Finding]:
    if not isinstance(spec, dict):
        return
    for key in ("matches", "address"):
        if isinstance(spec.get(key), str):
            try:
                compiled = re.compile(spec[key])
            except re.error as exc:
                yield at + (key,), f"{key} is not a valid regular expression: {exc}"
                continue
            if key == "address" and compiled.groups < 1:
                yield at + (key,), "address needs a group, (...), around the client's address"
    if spec.get("matches") in ("", ".*", "^", "$"):
        yield at + ("matches",), f"matches {spec['matches']!r} matches every line: say what the line must show"


def watches(spec: Logs, lab_folder: Path) -> tuple[ApiKind, ...]:
    return (POD,)


KIND = CheckKind("logs", LogsCheck, evaluate, default_timeout=10.0, lint=lint, watches=watches)
