"""`probe:` — a network fact observed from inside a container, from a node, or from outside
the cluster (`host`: the machine labcheck runs on).

Each probe becomes one command; its result is judged against `expect`, and a
failure is explained from what curl, wget or nslookup printed.

HTTP probes are judged by the HTTP status, whichever client the image has:
curl reports it through `-w`, wget through `-S` (and fails on 4xx/5xx by
itself). A `blocked` expectation needs evidence of blocking: the probe times
out or is rejected while the same request from an allowed `control` client
gets through; a missing client, a name that does not resolve or a server that
answers nobody are each reported as what they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Iterator

from pydantic import Field, model_validator

from ...cluster.base import ExecResult
from ...errors import TargetUnavailable
from ..commands import (
    blocking_kind,
    command_missing,
    dns_command,
    http_answer,
    http_command,
    in_namespace,
    interpret,
)
from ..context import CheckContext, exec_evidence
from ..outcome import Outcome
from ..spec import CheckBase, Strict
from .base import HOST, NETWORK_PATH, NODE, POD, ApiKind, CheckKind, Finding, LintEnv, Location


class _InPod(Strict):
    pod: str = Field(description="name of the Pod to run in")
    container: str | None = Field(None, description="container name; default: the Pod's first container")


class ExecProbe(_InPod):
    """Run a command inside a container of a Pod. In every probe, `$LAB_NAMESPACE` stands for
    the namespace being graded."""

    command: list[str] = Field(min_length=1)


class HttpProbe(_InPod):
    """Fetch a URL from inside a container (curl if present, else wget); judged by the HTTP status."""

    url: str


class DnsProbe(_InPod):
    """Resolve a name from inside a container (nslookup or getent)."""

    name: str


class LogsProbe(_InPod):
    """Read what a container printed: what the workload itself saw."""


class NodeProbe(Strict):
    """Run a command on a kind node container (network namespaces, veths, routes, crictl)."""

    node: str | None = Field(None, description="node name; or give `pod` for the node that runs it; "
                                               "neither: the first node by name (a single-node cluster's one)")
    pod: str | None = None
    command: list[str] = Field(min_length=1)


class HostProbe(Strict):
    """Run a command, or fetch a URL (curl if present, else wget), on the machine labcheck runs
    on: a client outside the cluster, as for a NodePort or a load balancer's address."""

    url: str | None = None
    command: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _url_or_command(self) -> "HostProbe":
        if (self.url is None) == (self.command is None):
            raise ValueError("a host probe needs exactly one of url, command")
        return self


class Expect(Strict):
    exit_code: int | None = Field(
        0, description="required exit code; null accepts any. Not used for http probes unless given"
    )
    status: int | list[int] | None = Field(
        None, description="http probes: required HTTP status (or one of a list); default any 2xx or 3xx"
    )
    contains: str | None = Field(None, description="output must contain this text")
    not_contains: str | None = None
    matches: str | None = Field(None, description="output must match this regular expression")
    blocked: bool = Field(
        False,
        description="the connection must be blocked (timed out or rejected) while `control` reaches the same target",
    )


class Control(Strict):
    """A client that is allowed to reach the probe's target: proof the target is up."""

    pod: str
    container: str | None = None


PROBE_TARGETS = ("exec", "http", "dns", "logs", "node", "host")


class Probe(Strict):
    """A network fact observed from a container, a node or this machine: exactly one of
    exec/http/dns/logs/node/host."""

    exec: ExecProbe | None = None
    http: HttpProbe | None = None
    dns: DnsProbe | None = None
    logs: LogsProbe | None = None
    node: NodeProbe | None = None
    host: HostProbe | None = None
    expect: Expect = Field(default_factory=Expect)
    control: Control | None = Field(
        None, description="for `blocked`: run the same probe from this allowed client; it must get through"
    )
    attempt_timeout: float = Field(10, gt=0, description="seconds one attempt may take")

    @model_validator(mode="after")
    def _one_target(self) -> "Probe":
        given = [kind for kind in PROBE_TARGETS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a probe needs exactly one of {', '.join(PROBE_TARGETS)} (found: {found})")
        if self.expect.blocked:
            if self.control is None:
                raise ValueError("`expect: {blocked: true}` needs `control:`, an allowed client that must reach "
                                 "the same target (otherwise a crashed server would look blocked)")
            if given[0] not in ("http", "exec"):
                raise ValueError("`blocked` applies to http and exec probes")
        return self

    def target(self) -> tuple[str, Any]:
        for kind in PROBE_TARGETS:
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise ValueError("probe has no target")



class ProbeCheck(CheckBase):
    kind: ClassVar[str] = "probe"
    spec: Probe = Field(alias="probe")


def is_http(probe: Probe) -> bool:
    """Judged by an HTTP status: an http probe, or a host probe given a url."""
    kind, target = probe.target()
    return kind == "http" or (kind == "host" and target.url is not None)


def command_for(probe: Probe, namespace: str = "") -> tuple[str, list[str] | None]:
    kind, target = probe.target()
    if kind == "host" and target.url is not None:
        return kind, http_command(in_namespace(target.url, namespace), probe.attempt_timeout)
    if kind in ("exec", "node", "host"):
        return kind, [in_namespace(word, namespace) for word in target.command]
    if kind == "http":
        return kind, http_command(in_namespace(target.url, namespace), probe.attempt_timeout)
    if kind == "dns":
        return kind, dns_command(in_namespace(target.name, namespace))
    return kind, None


def _run(probe: Probe, ctx: CheckContext, pod: str | None = None,
         container: str | None = None) -> tuple[ExecResult, str]:
    kind, target = probe.target()
    kind, command = command_for(probe, ctx.namespace)
    if kind == "logs":
        text = ctx.cluster.logs(ctx.namespace, target.pod, target.container)
        result = ExecResult(args=["logs", target.pod, target.container or ""], returncode=0, stdout=text,
                            where=f"pod {ctx.namespace}/{target.pod} container {target.container} (logs)")
        return result, f"logs of {target.pod}/{target.container}"
    if kind == "node":
        node = target.node
        if node is None and target.pod is None:
            names = sorted(n["metadata"]["name"] for n in ctx.list("Node"))
            if not names:
                raise TargetUnavailable("the cluster lists no nodes")
            node = names[0]
        elif node is None:
            obj = ctx.cluster.get("v1", "Pod", ctx.namespace, target.pod)
            if obj is None or not obj.get("spec", {}).get("nodeName"):
                raise TargetUnavailable(f"Pod {target.pod} does not exist or is not scheduled to a node yet")
            node = obj["spec"]["nodeName"]
        return ctx.cluster.exec_on_node(node, command, probe.attempt_timeout), f"on node {node}"
    if kind == "host":
        return ctx.cluster.exec_on_host(command, probe.attempt_timeout), "from this machine"
    pod = pod or target.pod
    container = container if pod != target.pod or container else target.container
    result = ctx.cluster.exec_in_pod(ctx.namespace, pod, container, command, probe.attempt_timeout)
    return result, f"in {pod}/{container or 'first container'}"


def _shown(probe: Probe, result: ExecResult) -> str:
    kind, target = probe.target()
    if is_http(probe):
        return f"GET {target.url}"
    if kind == "dns":
        return f"lookup {target.name}"
    # A script's first words say what it is; all of it is in the evidence (-v).
    shown = " ".join(result.args)
    return shown if len(shown) <= _SHOWN else shown[:_SHOWN - 3].rstrip() + "..."


_SHOWN = 72  # characters of a command a summary shows


def _evidence(ctx: CheckContext, result: ExecResult) -> list[dict]:
    return [exec_evidence(result)]


def _missing_client(probe: Probe, result: ExecResult, where: str, evidence) -> Outcome:
    kind, _target = probe.target()
    first = (result.stderr.strip() or result.stdout.strip()).splitlines()
    detail = first[0][:200] if first else f"exit code {result.returncode}"
    what = "curl or wget" if kind == "http" else f"`{result.args[0] if result.args else '?'}`"
    if kind == "dns":
        what = "getent or nslookup"
    return Outcome.failed(
        f"{what} is not in the image {where}: the probe cannot run there",
        expected=f"{what} available {where}",
        observed=detail,
        cause=f"this container's image has no {what}; run the command from a container whose image has it",
        evidence=evidence,
        final=True,
    )


def _expected_statuses(probe: Probe) -> str:
    status = probe.expect.status
    if status is None:
        return "HTTP 2xx or 3xx"
    if isinstance(status, list):
        return "HTTP " + " or ".join(str(s) for s in status)
    return f"HTTP {status}"


def _status_ok(probe: Probe, status: int | None) -> bool:
    if status is None:
        return False
    wanted = probe.expect.status
    if wanted is None:
        return 200 <= status < 400
    return status in (wanted if isinstance(wanted, list) else [wanted])


def _output_problems(probe: Probe, output: str) -> list[str]:
    expect = probe.expect
    problems = []
    if expect.contains is not None and expect.contains not in output:
        problems.append(f"output lacks {expect.contains!r}")
    if expect.not_contains is not None and expect.not_contains in output:
        problems.append(f"output contains {expect.not_contains!r}")
    if expect.matches is not None and not re.search(expect.matches, output, re.MULTILINE):
        problems.append(f"output does not match /{expect.matches}/")
    return problems


def _got_through(probe: Probe, result: ExecResult) -> bool:
    if is_http(probe):
        return http_answer(result).status is not None
    return result.returncode == 0 and not result.timed_out


def _blocked(probe: Probe, ctx: CheckContext) -> Outcome:
    result, where = _run(probe, ctx)
    evidence = _evidence(ctx, result)
    shown = _shown(probe, result)
    if command_missing(result):
        return Outcome.error(f"cannot judge `{shown}` {where}: {interpret(result)}", evidence=evidence)
    if _got_through(probe, result):
        answer = http_answer(result) if probe.target()[0] == "http" else None
        got = f"HTTP {answer.status}" if answer else f"exit code 0, output {result.stdout[:120]!r}"
        return Outcome.failed(
            f"`{shown}` {where} got through, but it should be blocked",
            expected="the connection times out or is rejected",
            observed=got,
            cause="no NetworkPolicy blocks this traffic (or the policy does not select this Pod or port)",
            evidence=evidence,
        )
    kind = blocking_kind(result)
    if kind is None:
        return Outcome.failed(
            f"`{shown}` {where} failed, but not the way a block fails",
            expected="the connection times out or is rejected",
            observed=f"exit code {result.returncode}: {(result.stderr.strip() or result.stdout.strip())[:200]}",
            cause=interpret(result) or "the request failed before reaching the network",
            evidence=evidence,
        )
    control = probe.control
    assert control is not None  # the model requires it with `blocked`
    checked, control_where = _run(probe, ctx, pod=control.pod, container=control.container)
    evidence += _evidence(ctx, checked)
    if not _got_through(probe, checked) or (
            probe.target()[0] == "http" and not _status_ok(probe, http_answer(checked).status)):
        return Outcome.failed(
            f"`{shown}` {where} {kind}, but the allowed client {control.pod} cannot reach it either",
            expected=f"{control.pod} gets through while {where.removeprefix('in ')} is blocked",
            observed=f"{control.pod}: exit code {checked.returncode}: "
                     f"{(checked.stderr.strip() or checked.stdout.strip())[:200]}",
            cause=("the target answers nobody, so this is not a policy block: "
                   + (interpret(checked) or "is the server running, on that address and port?")),
            evidence=evidence,
        )
    return Outcome.passed(f"`{shown}` {where} {kind}, while {control.pod} got through", evidence=evidence)


def evaluate(probe: Probe, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    if probe.expect.blocked:
        return _blocked(probe, ctx)
    result, where = _run(probe, ctx)
    evidence = _evidence(ctx, result)
    kind, _target = probe.target()
    shown = _shown(probe, result)
    if command_missing(result) and kind == "host":
        # this machine lacks the client: the grader cannot look, the learner's cluster is not at fault
        return Outcome.error(f"cannot run `{shown}` {where}: {interpret(result)} (install curl)", evidence=evidence)
    if command_missing(result) and kind != "node":
        return _missing_client(probe, result, where, evidence)

    problems: list[str] = []
    output = result.stdout
    explicit = "exit_code" in probe.expect.model_fields_set
    http = is_http(probe)
    if http:
        answer = http_answer(result)
        output = answer.body
        if answer.status is None:
            problems.append("no HTTP response")
        elif not _status_ok(probe, answer.status):
            problems.append(f"HTTP {answer.status} (expected {_expected_statuses(probe)})")
    if (not http or explicit) and probe.expect.exit_code is not None \
            and result.returncode != probe.expect.exit_code:
        problems.append(f"exit code {result.returncode} (expected {probe.expect.exit_code})")
    if not problems or not http or answer.status is not None:
        problems += _output_problems(probe, output)
    if not problems:
        return Outcome.passed(f"`{shown}` {where} succeeded", evidence=evidence)
    seen = (result.stderr.strip() if result.returncode else "") or output.strip()
    return Outcome.failed(
        f"`{shown}` {where}: {'; '.join(problems)}",
        expected=_expected_text(probe),
        observed=f"exit code {result.returncode}: {seen[:300] or '(no output)'}",
        cause=interpret(result) if result.returncode != 0 or result.timed_out else None,
        # interpret() reads network clients; on a node the command is the lab's own (ip, ss, crictl),
        # whose "No such file" is no missing client: the check's own cause knows better
        cause_generic=kind == "node",
        evidence=evidence,
    )


def _expected_text(probe: Probe) -> str:
    expect = probe.expect
    parts = []
    if is_http(probe):
        parts.append(_expected_statuses(probe))
    if expect.exit_code is not None and (not is_http(probe) or "exit_code" in expect.model_fields_set):
        parts.append(f"exit code {expect.exit_code}")
    if expect.contains:
        parts.append(f"output containing {expect.contains!r}")
    if expect.not_contains:
        parts.append(f"output without {expect.not_contains!r}")
    if expect.matches:
        parts.append(f"output matching /{expect.matches}/")
    return ", ".join(parts) or "the command to run"


# --- what the kind says about itself ------------------------------------------------


def lint(probe: Any, at: Location, env: LintEnv) -> Iterator[Finding]:
    if not isinstance(probe, dict):
        return
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


def watches(probe: Probe, lab_folder: Path) -> tuple[ApiKind, ...]:
    # A command's answer can change with anything on a packet's path; logs and node facts
    # change with the Pods they are read from or run beside.
    target = probe.target()[0]
    return NETWORK_PATH if target in ("exec", "http", "dns", "host") else (POD,)


def needs(probe: Probe, lab_folder: Path) -> frozenset[str]:
    target = probe.target()[0]
    return frozenset({NODE} if target == "node" else {HOST} if target == "host" else ())


KIND = CheckKind("probe", ProbeCheck, evaluate, default_timeout=5.0, parallel=True, lint=lint,
                 watches=watches, needs=needs)
