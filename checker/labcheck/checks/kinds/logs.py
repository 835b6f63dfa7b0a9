"""`logs:` — a server's log shows requests from a given client (kind `logs`).

    logs: {pod: multicontainerpod, container: nginx-container,
           matches: '"GET [^"]*" 200 .*"(curl|Wget)', client: {one_of: ["127.0.0.1", "::1"]}}
    logs: {pod: webserver, matches: '"GET / ', client: {pod: client}}

Each log line is taken to start with the client's address (nginx's and most
web servers' access-log formats); a line counts when it matches `matches` and
comes from the client: one of the addresses given, or the IP of the Pod named.
A FAIL names the addresses the matching lines did come from, and what each is
in the cluster (the node, another Pod), which is usually the lesson.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Iterator

from pydantic import Field, model_validator

from ...errors import TargetUnavailable
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
    pod: str = Field(description="the server Pod whose log is read")
    container: str | None = Field(None, description="default: the Pod's first container")
    matches: str = Field(description="regular expression a counted line must match")
    client: Client | None = Field(None, description="whom counted lines must come from (the line's first field)")
    at_least: int = Field(1, ge=1)
    tail_lines: int = Field(500, ge=1, le=100000, description="how much of the log's end is read")


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


def evaluate(spec: Logs, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    pod(ctx, spec.pod, running=True)
    text = ctx.logs(spec.pod, spec.container, tail_lines=spec.tail_lines)
    pattern = re.compile(spec.matches)
    lines = [line.strip() for line in text.splitlines() if pattern.search(line)]
    where = f"the log of {spec.pod}" + (f" ({spec.container})" if spec.container else "")
    if spec.client is None:
        if len(lines) >= spec.at_least:
            return Outcome.passed(f"{where} has {len(lines)} line(s) matching /{spec.matches}/", observed=lines[-1][:200])
        return Outcome.failed(f"{where} has {len(lines)} line(s) matching /{spec.matches}/",
                              expected=f"at least {spec.at_least}", observed=_tail(text),
                              cause="the request has not reached the server yet (see the earlier checks)",
                              cause_generic=True)
    addresses, who = _client_addresses(spec, ctx)
    sources = [line.split()[0] for line in lines if line.split()]
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
    matches = spec.get("matches") if isinstance(spec, dict) else None
    if isinstance(matches, str):
        try:
            re.compile(matches)
        except re.error as exc:
            yield at + ("matches",), f"matches is not a valid regular expression: {exc}"
        if matches in ("", ".*", "^", "$"):
            yield at + ("matches",), f"matches {matches!r} matches every line: say what the line must show"


def watches(spec: Logs, lab_folder: Path) -> tuple[ApiKind, ...]:
    return (POD,)


KIND = CheckKind("logs", LogsCheck, evaluate, default_timeout=10.0, lint=lint, watches=watches)
