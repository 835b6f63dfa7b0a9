"""`matrix:` — who reaches whom on which port, every cell a probe (cyclonus/netassert style).

All cells run side by side, each one connection from a client Pod (row) to a
target (column). A cell that does not get through is judged by its target's
control: the same connection made from the node the server Pod runs on, which
NetworkPolicy engines always let through (kubelet's health checks come from
there). Only a rejected or timed-out connection whose control got through is
`blocked`; a name that does not resolve, a server that answers nobody and a
client without curl are each reported as what they are, never as blocked.

Cells are batched: one exec per client Pod runs that row's connections side by
side (background jobs of `sh`), and one exec per node runs the controls; the
execs themselves run in parallel too. An exec costs far more CPU than a curl,
so a 9-cell matrix costs 3 execs plus one for the controls, not 13.

The result is the matrix expected vs observed: a table in the terminal, plain
data in the evidence (`kind: matrix`), and a cause naming the cells that differ.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from ...cluster.base import ExecResult
from ..commands import STATUS_MARK, blocking_kind, command_missing, http_script, in_namespace, interpret
from ..context import CheckContext, exec_evidence
from ..diagnose import pod_cause
from ..outcome import Outcome, Table, TableCell, TableRow
from ..spec import CheckBase, Identifier, Strict
from .base import NETWORK_PATH, NODE, ApiKind, CheckKind

class MatrixClient(Strict):
    """A row of a connectivity matrix: the Pod the connections start from."""

    pod: str
    container: str | None = Field(None, description="container with curl (or wget for http); default: the first")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")


class MatrixTarget(Strict):
    """A column of a connectivity matrix: a server Pod and one of its ports."""

    pod: str | None = Field(None, description="the server Pod; the cell connects to its IP unless `service` is given")
    service: str | None = Field(None, description="connect through this Service's DNS name (so DNS is part of the path)")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")
    port: int = Field(ge=1, le=65535)
    protocol: Literal["http", "tcp"] = Field(
        "http", description="http: any HTTP answer gets through; tcp: an opened TCP connection gets through")

    @model_validator(mode="after")
    def _addressed(self) -> "MatrixTarget":
        if self.pod is None and self.service is None:
            raise ValueError("a matrix target needs `pod`, `service` or both")
        return self


class Matrix(Strict):
    """Who reaches whom on which port: every cell is a probe from a client (row) to a target (column).

    A cell expected `open` passes when the connection gets through. A cell expected
    `blocked` passes only when the connection is rejected or times out while the
    control -- the same connection made from the node the server runs on, which
    NetworkPolicy engines always let through -- gets through: proof the server is up.
    """

    clients: dict[Identifier, MatrixClient] = Field(min_length=1)
    targets: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9:.-]*$")], MatrixTarget] = Field(min_length=1)
    expect: dict[str, dict[str, Literal["open", "blocked"]]] = Field(
        description="client -> target -> open|blocked; a cell left out is not probed")
    attempt_timeout: float = Field(3, gt=0, description="seconds one connection may take")

    @model_validator(mode="after")
    def _cells_named(self) -> "Matrix":
        for client, row in self.expect.items():
            if client not in self.clients:
                raise ValueError(f"expect names client {client!r}, not among clients ({', '.join(self.clients)})")
            for target in row:
                if target not in self.targets:
                    raise ValueError(f"expect names target {target!r}, not among targets "
                                     f"({', '.join(self.targets)})")
        if not any(self.expect.values()):
            raise ValueError("a matrix needs at least one expected cell")
        return self



class MatrixCheck(CheckBase):
    kind: ClassVar[str] = "matrix"
    spec: Matrix = Field(alias="matrix")


#: Execs (one per client row, one per node) of one matrix run at once.
MAX_PARALLEL = 16
_CONNECT_MARK = "LABCHECK-TCP-CONNECT"
_BEGIN, _END = "LABCHECK-CELL-BEGIN", "LABCHECK-CELL-END"
_NO_CURL = "curl is not in this container's image"
_DNS_FAILURE = re.compile(r"could not resolve|resolving timed out|bad address|can't resolve|name or service not known"
                          r"|unable to resolve|temporary failure in name resolution", re.IGNORECASE)

OPEN, BLOCKED = "open", "blocked"
#: What a cell can be observed as, beyond open and blocked.
DOWN, NO_DNS, NO_CLIENT, FAILED = "server down", "no DNS", "no client", "failed"


def tcp_script(host: str, port: int, timeout: float) -> str:
    """Open a TCP connection with curl and report whether it was established.

    curl sends an HTTP request whatever the server speaks; only the connect time
    matters (0 when no connection was made), so Redis or a TLS port count as reached.
    """
    seconds = max(1, int(timeout) - 1)
    return (f"if ! command -v curl >/dev/null 2>&1; then echo \"{_NO_CURL}\" >&2; exit 127; fi; "
            f"curl -sS -m {seconds} -o /dev/null -w '\\n{_CONNECT_MARK} %{{time_connect}}\\n' "
            f"http://{host}:{port}/")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 Pod IP


def script(target: MatrixTarget, host: str, timeout: float) -> str:
    if target.protocol == "http":
        return http_script(f"http://{_url_host(host)}:{target.port}/", timeout, body=False)
    return tcp_script(_url_host(host), target.port, timeout)


def batch_command(scripts: list[str]) -> list[str]:
    """One shell running every script at once; each one's exit code and output (both streams)
    come back between markers, printed in one write so parallel jobs do not interleave."""
    jobs = [f"( out=$( {{ {body}\n}} 2>&1 ); rc=$?; printf '%s\\n' \"{_BEGIN} {i} $rc\" \"$out\" \"{_END} {i}\" ) &"
            for i, body in enumerate(scripts)]
    return ["sh", "-c", "\n".join(jobs) + "\nwait"]


def split_batch(result: ExecResult, scripts: list[str]) -> list[ExecResult]:
    """The batch's output as one ExecResult per script (in the given order)."""
    found: dict[int, tuple[int, str]] = {}
    for match in re.finditer(rf"^{_BEGIN} (\d+) (\d+)\n(.*?)\n?{_END} \1$", result.stdout, re.MULTILINE | re.DOTALL):
        found[int(match.group(1))] = (int(match.group(2)), match.group(3))
    parts = []
    for i, body in enumerate(scripts):
        if i in found:
            code, output = found[i]
            parts.append(ExecResult(args=["sh", "-c", body], returncode=code, stdout=output, duration=result.duration,
                                    where=result.where))
        else:  # the batch itself failed or ran out of time: every unfinished part shares its fate
            parts.append(ExecResult(args=["sh", "-c", body], returncode=result.returncode, stdout="",
                                    stderr=result.stderr, duration=result.duration, where=result.where,
                                    timed_out=result.timed_out, extra=dict(result.extra)))
    return parts


def http_status(output: str) -> int | None:
    mark = re.search(rf"{STATUS_MARK} (\d{{3}})", output)
    if mark:
        return int(mark.group(1)) or None
    statuses = re.findall(r"HTTP/\d(?:\.\d)? (\d{3})", output)  # wget -S
    return int(statuses[-1]) if statuses else None


def connected(result: ExecResult, protocol: str) -> bool:
    if protocol == "http":
        return http_status(result.stdout + result.stderr) is not None
    mark = re.search(rf"{_CONNECT_MARK} ([0-9.]+)", result.stdout)
    return bool(mark) and float(mark.group(1)) > 0


def _first_line(result: ExecResult) -> str:
    """The message worth showing: the first line that is not one of the probe's own marks."""
    lines = [line.strip() for line in f"{result.stderr}\n{result.stdout}".splitlines()
             if line.strip() and not line.startswith("LABCHECK-")]
    return lines[0][:160] if lines else f"exit code {result.returncode}"


@dataclass
class Cell:
    client: str
    target: str
    expected: str
    observed: str = ""
    detail: str = ""

    @property
    def as_expected(self) -> bool:
        return self.observed == self.expected

    @property
    def name(self) -> str:
        return f"{self.client}→{self.target}"


@dataclass
class _Target:
    spec: MatrixTarget
    namespace: str
    cell_host: str  # what the cells connect to: a Service name or the Pod's IP
    control_host: str  # what the control connects to: the Pod's IP or the ClusterIP
    control_node: str | None
    control: ExecResult | None = None


@dataclass
class _Plan:
    clients: dict[str, tuple[str, MatrixClient]] = field(default_factory=dict)  # name -> (namespace, spec)
    targets: dict[str, _Target] = field(default_factory=dict)


class _NotReady(Exception):
    """A Pod of the matrix is missing or not running: the app is not in place yet (FAIL, not ERROR)."""

    def __init__(self, message: str, cause: str | None, final: bool = False):
        super().__init__(message)
        self.cause = cause
        self.final = final


def _running_pod(ctx: CheckContext, namespace: str, name: str, role: str) -> dict[str, Any]:
    obj = ctx.cluster.get("v1", "Pod", namespace, name)
    if obj is None:
        raise _NotReady(f"{role} Pod {name} does not exist in namespace {namespace}",
                        f"apply the manifest that makes Pod {name} in namespace {namespace}")
    status = obj.get("status", {})
    if status.get("phase") != "Running" or not status.get("podIP"):
        cause = pod_cause(obj)
        raise _NotReady(f"{role} Pod {name} in namespace {namespace} is not running yet "
                        f"(phase {status.get('phase', '?')})", cause.text, cause.final)
    return obj


def _plan(spec: Matrix, ctx: CheckContext) -> _Plan:
    plan = _Plan()
    used_clients = [name for name, row in spec.expect.items() if row]
    used_targets = sorted({target for row in spec.expect.values() for target in row}, key=list(spec.targets).index)
    client_nodes = []
    for name in used_clients:
        client = spec.clients[name]
        namespace = in_namespace(client.namespace, ctx.namespace) if client.namespace else ctx.namespace
        obj = _running_pod(ctx, namespace, client.pod, "client")
        client_nodes.append(obj["spec"].get("nodeName"))
        plan.clients[name] = (namespace, client)
    for name in used_targets:
        target = spec.targets[name]
        namespace = in_namespace(target.namespace, ctx.namespace) if target.namespace else ctx.namespace
        cell_host = control_host = ""
        node = None
        if target.pod:
            obj = _running_pod(ctx, namespace, target.pod, "server")
            cell_host = control_host = obj["status"]["podIP"]
            node = obj["spec"].get("nodeName")
        if target.service:
            service = ctx.cluster.get("v1", "Service", namespace, target.service)
            if service is None:
                raise _NotReady(f"Service {target.service} does not exist in namespace {namespace}",
                                f"apply the manifest that makes Service {target.service}")
            cell_host = f"{target.service}.{namespace}"
            if not target.pod:
                control_host = service.get("spec", {}).get("clusterIP") or ""
                node = client_nodes[0] if client_nodes else None
        plan.targets[name] = _Target(target, namespace, cell_host, control_host, node)
    return plan


def _judge(cell: Cell, target: _Target, result: ExecResult) -> None:
    """What a cell's own connection showed; rejected and timed out wait for the control's word."""
    if connected(result, target.spec.protocol):
        status = http_status(result.stdout + result.stderr) if target.spec.protocol == "http" else None
        cell.observed, cell.detail = OPEN, (f"HTTP {status}" if status else "TCP connection opened")
        return
    text = f"{result.stdout}\n{result.stderr}"
    if command_missing(result):
        cell.observed, cell.detail = NO_CLIENT, _first_line(result)
    elif result.returncode == 6 or _DNS_FAILURE.search(text):
        cell.observed, cell.detail = NO_DNS, _first_line(result)
    else:
        kind = blocking_kind(result)
        if kind is None:
            cell.observed, cell.detail = FAILED, interpret(result) or _first_line(result)
        else:
            cell.observed, cell.detail = "?", kind  # blocked or down: the control decides


def _control_verdict(cell: Cell, target: _Target) -> None:
    if cell.observed != "?":
        return
    control = target.control
    if control is not None and connected(control, target.spec.protocol):
        cell.observed = BLOCKED
        cell.detail = f"{cell.detail}; the server's node got through"
    else:
        cell.observed = DOWN
        seen = _first_line(control) if control is not None else "no node to try from"
        cell.detail = f"{cell.detail}; from the server's node too ({seen})"


def _run_batches(batches: list[tuple[object, list[str]]], ctx: CheckContext, timeout: float) -> list[list[ExecResult]]:
    """Run each (where, scripts) batch as one exec, all batches side by side; results split per script.

    `where` is ("pod", namespace, pod, container) or ("node", node)."""
    def run(batch) -> ExecResult:
        where, scripts = batch
        command = batch_command(scripts)
        if where[0] == "node":
            return ctx.cluster.exec_on_node(where[1], command, timeout + 5)
        return ctx.cluster.exec_in_pod(where[1], where[2], where[3], command, timeout + 5)

    if not batches:
        return []
    with ThreadPoolExecutor(max_workers=min(len(batches), MAX_PARALLEL)) as pool:
        results = list(pool.map(run, batches))
    ctx.evidence.extend(exec_evidence(r) for r in results)
    return [split_batch(result, scripts) for result, (_where, scripts) in zip(results, batches)]


def _control_batches(plan: _Plan, names: list[str], timeout: float) -> tuple[list, list[list[str]]]:
    """One batch per node: the controls of the targets whose server runs there."""
    by_node: dict[str | None, list[str]] = {}
    for name in names:
        by_node.setdefault(plan.targets[name].control_node, []).append(name)
    return [(("node", node), [script(plan.targets[n].spec, plan.targets[n].control_host, timeout) for n in group])
            for node, group in by_node.items()], [group for group in by_node.values()]


def observe(spec: Matrix, ctx: CheckContext) -> tuple[list[Cell], _Plan]:
    """Run every cell (and the controls blocked cells need) side by side; a second round for the
    controls of cells that failed unexpectedly."""
    plan = _plan(spec, ctx)
    timeout = spec.attempt_timeout
    cells = [Cell(client, target, expected) for client, row in spec.expect.items() for target, expected in row.items()]
    rows: dict[str, list[Cell]] = {}
    for cell in cells:
        rows.setdefault(cell.client, []).append(cell)
    batches = []
    for client, row in rows.items():
        namespace, client_spec = plan.clients[client]
        batches.append((("pod", namespace, client_spec.pod, client_spec.container),
                        [script(plan.targets[c.target].spec, plan.targets[c.target].cell_host, timeout) for c in row]))
    first = [name for name in plan.targets if any(c.target == name and c.expected == BLOCKED for c in cells)]
    control_batches, control_groups = _control_batches(plan, first, timeout)
    results = _run_batches(batches + control_batches, ctx, timeout)
    for row, row_results in zip(rows.values(), results):
        for cell, result in zip(row, row_results):
            _judge(cell, plan.targets[cell.target], result)
    for group, group_results in zip(control_groups, results[len(batches):]):
        for name, result in zip(group, group_results):
            plan.targets[name].control = result
    later = [name for name in plan.targets if plan.targets[name].control is None
             and any(c.target == name and c.observed == "?" for c in cells)]
    control_batches, control_groups = _control_batches(plan, later, timeout)
    for group, group_results in zip(control_groups, _run_batches(control_batches, ctx, timeout)):
        for name, result in zip(group, group_results):
            plan.targets[name].control = result
    for cell in cells:
        _control_verdict(cell, plan.targets[cell.target])
    return cells, plan


def matrix_evidence(spec: Matrix, cells: list[Cell]) -> dict[str, Any]:
    """The matrix as plain data, for instructors reading the JSON and for grading it again."""
    return {"kind": "matrix", "clients": list(spec.clients), "targets": list(spec.targets),
            "cells": [{**asdict(c), "as_expected": c.as_expected} for c in cells]}


def matrix_table(spec: Matrix, cells: list[Cell]) -> Table:
    """Expected vs observed, clients down, targets across; cells not probed are left blank."""
    probed = {(c.client, c.target): c for c in cells}
    targets = [t for t in spec.targets if any(k[1] == t for k in probed)]
    rows = []
    for client in spec.clients:
        if not any(k[0] == client for k in probed):
            continue
        row = []
        for target in targets:
            cell = probed.get((client, target))
            if cell is None:
                row.append(TableCell("·"))
            elif cell.as_expected:
                row.append(TableCell(cell.observed, True))
            else:
                row.append(TableCell(f"{cell.observed} (want {cell.expected})", False))
        rows.append(TableRow(client, row))
    return Table("connectivity: expected / observed", "from \\ to", targets, rows)


def _names(cells: list[Cell]) -> str:
    return ", ".join(c.name for c in cells)


def _cause(cells: list[Cell], plan: _Plan) -> tuple[str, bool]:
    """(cause, generic) for the cells that differ, the most telling kind first."""
    dns = [c for c in cells if c.observed == NO_DNS]
    if dns:
        clients = sorted({c.client for c in dns})
        return (f"{', '.join(clients)} cannot resolve names ({_names(dns)}): if an egress policy selects "
                f"{'this Pod' if len(clients) == 1 else 'these Pods'}, it must also allow UDP and TCP port 53 "
                "to kube-dns (Pods labelled k8s-app=kube-dns in namespace kube-system)", False)
    down = [c for c in cells if c.observed == DOWN]
    if down:
        targets = sorted({c.target for c in down})
        return (f"{', '.join(targets)} answers nobody, not even its own node, so this is not a policy at work: "
                "is the server running and listening on that port?", False)
    failed = [c for c in cells if c.observed == FAILED]
    if failed:
        return f"{_names(failed)}: {failed[0].detail}", False
    leaks = [c for c in cells if c.observed == OPEN and c.expected == BLOCKED]
    if leaks:
        return (f"nothing stops {_names(leaks)}: no NetworkPolicy selects the target Pod for that direction, "
                "or a policy's rule also admits this client or port", True)
    walls = [c for c in cells if c.observed == BLOCKED and c.expected == OPEN]
    return (f"a policy rejects {_names(walls)}: once a policy selects a Pod, only what some policy allows gets "
            "through; check the podSelector, namespaceSelector and ports of the rule meant to allow it", True)


def evaluate(spec: Matrix, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    try:
        cells, plan = observe(spec, ctx)
    except _NotReady as exc:
        return Outcome.failed(str(exc), cause=exc.cause, final=exc.final)
    evidence = [matrix_evidence(spec, cells)]
    table = matrix_table(spec, cells)
    counts = {OPEN: 0, BLOCKED: 0}
    for cell in cells:
        counts[cell.expected] += 1
    shape = f"{len(cells)} cells ({counts[OPEN]} open, {counts[BLOCKED]} blocked)"
    no_client = [c for c in cells if c.observed == NO_CLIENT]
    if no_client:
        return Outcome.error(f"cannot judge {_names(no_client)}: {no_client[0].detail} "
                             "(the client needs curl; wget is enough for http targets)", evidence=evidence, table=table)
    wrong = [c for c in cells if not c.as_expected]
    if not wrong:
        return Outcome.passed(f"all {shape} as expected", evidence=evidence, table=table)
    cause, generic = _cause(wrong, plan)
    return Outcome.failed(
        f"{len(wrong)} of {len(cells)} cells differ: "
        + "; ".join(f"{c.name} expected {c.expected}, observed {c.observed}" for c in wrong),
        expected="; ".join(f"{c.name} {c.expected}" for c in wrong),
        observed="; ".join(f"{c.name} {c.observed} ({c.detail})" for c in wrong),
        cause=cause, cause_generic=generic, evidence=evidence, table=table)


def watches(spec: Matrix, lab_folder: Path) -> tuple[ApiKind, ...]:
    # Who may reach whom is decided by the policies, the labels they select on (Pods,
    # Namespaces) and, for cells through a Service, its endpoints and DNS.
    return (*NETWORK_PATH, ("v1", "Namespace"))


def needs(spec: Matrix, lab_folder: Path) -> frozenset[str]:
    # A blocked cell is proven by a control connection from the server's node.
    blocked = any(expected == BLOCKED for row in spec.expect.values() for expected in row.values())
    return frozenset({NODE} if blocked else ())


KIND = CheckKind("matrix", MatrixCheck, evaluate, default_timeout=10.0, watches=watches, needs=needs)
