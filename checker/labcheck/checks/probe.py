"""`probe:` — a network fact observed from inside a container or a node.

Each probe becomes one command; its exit code and output are judged against
`expect`, and a failure is explained from what curl, wget or nslookup printed.
"""

from __future__ import annotations

import re
import shlex

from ..cluster.base import ExecResult
from ..model import Probe
from .context import CheckContext, exec_evidence
from .outcome import Outcome


def http_command(url: str, timeout: float) -> list[str]:
    # Images differ: the curl image has curl, busybox has wget. Use what is there.
    seconds = max(1, int(timeout) - 1)
    quoted = shlex.quote(url)
    return [
        "sh", "-c",
        f"if command -v curl >/dev/null 2>&1; then curl -sS -m {seconds} {quoted}; "
        f"else wget -q -T {seconds} -O - {quoted}; fi",
    ]


def dns_command(name: str) -> list[str]:
    quoted = shlex.quote(name)
    return ["sh", "-c", f"if command -v getent >/dev/null 2>&1; then getent hosts {quoted}; else nslookup {quoted}; fi"]


# (pattern in output or exit code, likely cause). First match wins.
_CAUSES: list[tuple[str, str]] = [
    (r"connection refused", "connection refused: the address answers but nothing listens on that port "
                            "(wrong port, or the server is not running)"),
    (r"could not resolve host|bad address|can't resolve|NXDOMAIN|server can't find|Name or service not known",
     "the name does not resolve: check the Service name and namespace, and that CoreDNS runs"),
    (r"timed out|timeout|operation too slow", "no answer in time: the address is wrong, unreachable, or "
                                              "traffic to it is dropped"),
    (r"no route to host|network is unreachable", "no route to that address from here"),
    (r"empty reply|connection reset", "the connection opened and was cut: the server is not speaking HTTP there"),
    (r"error 4\d\d|error 5\d\d|server returned error|HTTP/1\.[01] [45]\d\d",
     "the server answered with an HTTP error status"),
    (r"not found|no such file|executable file not found", "the command is not in this container's image"),
]

_CURL_EXIT = {6: "could not resolve host", 7: "connection refused", 28: "timed out", 52: "empty reply",
              56: "connection reset", 22: "server returned error"}


def interpret(result: ExecResult) -> str | None:
    """The likely cause of a failed probe command, from its output and exit code."""
    if result.timed_out:
        return "the command did not finish in time: nothing answered (wrong address, or packets dropped)"
    text = f"{result.stdout}\n{result.stderr}".lower()
    if result.returncode in (126, 127):
        return "the command is not in this container's image"
    for pattern, cause in _CAUSES:
        if re.search(pattern.lower(), text):
            return cause
    hint = _CURL_EXIT.get(result.returncode)
    if hint:
        for pattern, cause in _CAUSES:
            if re.search(pattern.lower(), hint):
                return cause
    return None


def command_for(probe: Probe) -> tuple[str, list[str] | None]:
    kind, target = probe.target()
    if kind == "exec" or kind == "node":
        return kind, target.command
    if kind == "http":
        return kind, http_command(target.url, probe.attempt_timeout)
    if kind == "dns":
        return kind, dns_command(target.name)
    return kind, None


def _run(probe: Probe, ctx: CheckContext) -> tuple[ExecResult, str]:
    kind, target = probe.target()
    kind, command = command_for(probe)
    if kind == "logs":
        text = ctx.cluster.logs(ctx.namespace, target.pod, target.container)
        result = ExecResult(args=["logs", target.pod, target.container or ""], returncode=0, stdout=text,
                            where=f"pod {ctx.namespace}/{target.pod} container {target.container} (logs)")
        return result, f"logs of {target.pod}/{target.container}"
    if kind == "node":
        node = target.node
        if node is None:
            pod = ctx.cluster.get("v1", "Pod", ctx.namespace, target.pod)
            if pod is None or not pod.get("spec", {}).get("nodeName"):
                from ..errors import TargetUnavailable

                raise TargetUnavailable(f"Pod {target.pod} does not exist or is not scheduled to a node yet")
            node = pod["spec"]["nodeName"]
        return ctx.cluster.exec_on_node(node, command, probe.attempt_timeout), f"on node {node}"
    result = ctx.cluster.exec_in_pod(ctx.namespace, target.pod, target.container, command, probe.attempt_timeout)
    return result, f"in {target.pod}/{target.container or 'first container'}"


def evaluate(probe: Probe, ctx: CheckContext) -> Outcome:
    result, where = _run(probe, ctx)
    evidence = [exec_evidence(result)]
    expect = probe.expect
    output = result.stdout
    shown = " ".join(result.args) if result.args and result.args[0] != "sh" else result.args[-1]

    if expect.blocked:
        if result.returncode == 0 and not result.timed_out:
            return Outcome.failed(
                f"`{shown}` {where} got through, but it should be blocked",
                expected="the connection is refused or times out",
                observed=f"exit code 0, output {output[:200]!r}",
                cause="no NetworkPolicy blocks this traffic (or the policy does not select the Pod)",
                evidence=evidence,
            )
        return Outcome.passed(f"`{shown}` {where} was blocked ({interpret(result) or 'exit ' + str(result.returncode)})",
                              evidence=evidence)

    problems: list[str] = []
    if expect.exit_code is not None and result.returncode != expect.exit_code:
        problems.append(f"exit code {result.returncode} (expected {expect.exit_code})")
    if expect.contains is not None and expect.contains not in output:
        problems.append(f"output lacks {expect.contains!r}")
    if expect.not_contains is not None and expect.not_contains in output:
        problems.append(f"output contains {expect.not_contains!r}")
    if expect.matches is not None and not re.search(expect.matches, output, re.MULTILINE):
        problems.append(f"output does not match /{expect.matches}/")
    if not problems:
        return Outcome.passed(f"`{shown}` {where} succeeded", evidence=evidence)
    seen = (result.stderr.strip() or output.strip())[:300] or "(no output)"
    return Outcome.failed(
        f"`{shown}` {where}: {'; '.join(problems)}",
        expected=_expected_text(probe),
        observed=f"exit code {result.returncode}: {seen}",
        cause=interpret(result) if result.returncode != 0 else None,
        evidence=evidence,
    )


def _expected_text(probe: Probe) -> str:
    expect = probe.expect
    parts = []
    if expect.exit_code is not None:
        parts.append(f"exit code {expect.exit_code}")
    if expect.contains:
        parts.append(f"output containing {expect.contains!r}")
    if expect.not_contains:
        parts.append(f"output without {expect.not_contains!r}")
    if expect.matches:
        parts.append(f"output matching /{expect.matches}/")
    return ", ".join(parts) or "the command to run"
