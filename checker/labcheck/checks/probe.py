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
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..cluster.base import ExecResult
from ..errors import TargetUnavailable
from ..model import Probe
from .context import CheckContext
from .outcome import Outcome

USER_AGENT = "labcheck-probe"
STATUS_MARK = "LABCHECK-HTTP-STATUS"
NO_CLIENT = "neither curl nor wget is in this container's image"


def http_script(url: str, timeout: float, body: bool = True) -> str:
    """A shell line that fetches a URL and reports its status (curl through -w, wget through the
    headers -S prints), with the body before it or, body=False, thrown away.

    Images differ: the curl image has curl, busybox has wget. It uses what is there.
    """
    seconds = max(1, int(timeout) - 1)
    quoted = shlex.quote(url)
    curl_out, wget_out = ("", "-") if body else ("-o /dev/null ", "/dev/null")
    return (f"if command -v curl >/dev/null 2>&1; then "
            f"curl -sS -m {seconds} -A {USER_AGENT} {curl_out}-w '\\n{STATUS_MARK} %{{http_code}}\\n' {quoted}; "
            f"elif command -v wget >/dev/null 2>&1; then wget -S -T {seconds} -U {USER_AGENT} -O {wget_out} {quoted}; "
            f"else echo \"{NO_CLIENT}\" >&2; exit 127; fi")


def http_command(url: str, timeout: float) -> list[str]:
    return ["sh", "-c", http_script(url, timeout)]


def dns_command(name: str) -> list[str]:
    quoted = shlex.quote(name)
    return ["sh", "-c", f"if command -v getent >/dev/null 2>&1; then getent hosts {quoted}; else nslookup {quoted}; fi"]


@dataclass
class HttpAnswer:
    status: int | None  # None: no HTTP response at all
    body: str


def http_answer(result: ExecResult) -> HttpAnswer:
    """The HTTP status and body from curl's or wget's output."""
    body = result.stdout
    mark = re.search(rf"\n?{STATUS_MARK} (\d{{3}})\n?$", body)
    if mark:
        code = int(mark.group(1))
        return HttpAnswer(code if code else None, body[: mark.start()])
    statuses = re.findall(r"HTTP/\d(?:\.\d)? (\d{3})", result.stderr)
    if statuses:
        return HttpAnswer(int(statuses[-1]), body)
    if result.returncode == 0 and not result.timed_out:
        return HttpAnswer(200, body)  # a wget that does not print headers succeeds only on 2xx
    return HttpAnswer(None, body)


# (pattern in output, likely cause). First match wins.
_CAUSES: list[tuple[str, str]] = [
    (r"connection refused", "connection refused: the address answers but nothing listens on that port "
                            "(wrong port, or the server is not running)"),
    (r"could not resolve host|bad address|can't resolve|NXDOMAIN|server can't find|Name or service not known"
     r"|unable to resolve",
     "the name does not resolve: check the Service name and namespace, and that CoreDNS runs"),
    (r"timed out|timeout|operation too slow", "no answer in time: the address is wrong, unreachable, or "
                                              "traffic to it is dropped"),
    (r"no route to host|network is unreachable|host is unreachable", "no route to that address from here"),
    (r"empty reply|connection reset", "the connection opened and was cut: the server is not speaking HTTP there"),
    (r"error 4\d\d|error 5\d\d|server returned error|HTTP/1\.[01] [45]\d\d",
     "the server answered with an HTTP error status"),
    (r"not found|no such file|executable file not found|is not in container", "the command is not in this container's image"),
]

_CURL_EXIT = {6: "could not resolve host", 7: "connection refused", 28: "timed out", 52: "empty reply",
              56: "connection reset", 22: "server returned error"}


def command_missing(result: ExecResult) -> bool:
    return result.returncode in (126, 127) or bool(result.extra.get("not_started"))


def interpret(result: ExecResult) -> str | None:
    """The likely cause of a failed probe command, from its output and exit code."""
    if result.timed_out:
        return "the command did not finish in time: nothing answered (wrong address, or packets dropped)"
    if command_missing(result):
        return "the command is not in this container's image"
    text = f"{result.stdout}\n{result.stderr}".lower()
    for pattern, cause in _CAUSES:
        if re.search(pattern.lower(), text):
            return cause
    hint = _CURL_EXIT.get(result.returncode)
    if hint:
        for pattern, cause in _CAUSES:
            if re.search(pattern.lower(), hint):
                return cause
    return None


def _blocking_kind(result: ExecResult) -> str | None:
    """'timed out' or 'rejected' when the failure looks like a policy at work, else None."""
    text = f"{result.stdout}\n{result.stderr}".lower()
    if result.timed_out or result.returncode == 28 or re.search(r"timed out|timeout|operation too slow", text):
        return "timed out"
    if result.returncode in (7, 56) or re.search(
            r"connection refused|connection reset|no route to host|host is unreachable|network is unreachable", text):
        return "rejected"
    return None


def in_namespace(text: str, namespace: str) -> str:
    """`$LAB_NAMESPACE` in a probe stands for the namespace being graded (any learner's, any case's)."""
    return text.replace("${LAB_NAMESPACE}", namespace).replace("$LAB_NAMESPACE", namespace)


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
        if node is None:
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
    return " ".join(result.args)


def _evidence(ctx: CheckContext, result: ExecResult) -> list[dict]:
    from .context import exec_evidence

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
    kind = _blocking_kind(result)
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
