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
data in the evidence (`kind: matrix`). A FAIL is a one-line count, the table, and
one likely cause per distinct reason with its cells under it, found by reading
the NetworkPolicies as written (which rule admits a cell that should be blocked,
which Pod no policy selects, which port a rule leaves out). When the policies as
written give what was observed, no waiting changes it and the FAIL is final; when
they give what was expected, kube-router may not have applied a change yet, and
the engine retries.
"""

from __future__ import annotations

import ipaddress
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
from ..objects import containers_of, labels_of, name_of, selector_matches, target_ports
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
    pod: dict[str, Any] | None = None  # the server Pod, when the target names one
    pod_port: int | None = None  # the port the connection reaches on that Pod (a Service's targetPort resolved)


@dataclass
class _Plan:
    clients: dict[str, tuple[str, MatrixClient]] = field(default_factory=dict)  # name -> (namespace, spec)
    targets: dict[str, _Target] = field(default_factory=dict)
    client_pods: dict[str, dict[str, Any]] = field(default_factory=dict)


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
        plan.client_pods[name] = obj
    for name in used_targets:
        target = spec.targets[name]
        namespace = in_namespace(target.namespace, ctx.namespace) if target.namespace else ctx.namespace
        cell_host = control_host = ""
        node = obj = None
        port: int | None = target.port
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
            entry = next((p for p in service.get("spec", {}).get("ports") or [] if p.get("port") == target.port), None)
            found = target_ports(entry, [obj]) if entry is not None and obj is not None else set()
            port = next(iter(found)) if len(found) == 1 else None
        plan.targets[name] = _Target(target, namespace, cell_host, control_host, node, pod=obj, pod_port=port)
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


# --- why cells differ: the NetworkPolicies as the API server holds them -------------------------
#
# A cell is open or blocked by what the policies say and by whether kube-router has applied them
# yet. Read as written, they tell which rule admits a cell that should be blocked, which Pod no
# policy selects, which port a rule leaves out. When the policies as written give the observed
# result, no waiting changes it: the verdict is final. When they give the expected result, the
# engine's retries wait for kube-router. A rule this reading does not follow leaves it unsure.


@dataclass
class _End:
    """One end of a connection as policies see it."""

    pod: str
    namespace: str
    labels: dict[str, str]
    ip: str
    ports: dict[str, int]  # named container ports

    @classmethod
    def of(cls, obj: dict[str, Any]) -> "_End":
        ports = {p["name"]: int(p["containerPort"]) for c in containers_of(obj) for p in c.get("ports") or []
                 if p.get("name") and p.get("containerPort")}
        return cls(name_of(obj), obj["metadata"].get("namespace", ""), labels_of(obj),
                   obj.get("status", {}).get("podIP", ""), ports)

    def shown(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"Pod {self.pod}" + (f" ({labels})" if labels else "")


@dataclass
class _Side:
    """What the policies of one side (the target's ingress, the client's egress) say of a connection."""

    allowed: bool | None  # None: a rule this reading does not follow
    key: tuple = ()  # cells whose reasons share a key are told together
    text: str = ""


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A policy's LabelSelector: an empty one selects everything."""
    selector = selector or {}
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True
    return selector_matches(selector, labels)


def _selector_text(selector: dict[str, Any] | None) -> str:
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for e in selector.get("matchExpressions") or []:
        parts.append(f"{e.get('key')} {e.get('operator')}"
                     + (f" ({', '.join(e.get('values') or [])})" if e.get("values") else ""))
    return ", ".join(parts)


def _peer_text(peer: dict[str, Any] | None, namespace: str) -> str:
    if peer is None:
        return "every Pod and address"
    if "ipBlock" in peer:
        return f"addresses in {peer['ipBlock'].get('cidr')}"
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    who = f"Pods labelled {_selector_text(pods)}" if _selector_text(pods) else "every Pod"
    if namespaces is None:
        return f"{who} of namespace {namespace}"
    where = f"namespaces labelled {_selector_text(namespaces)}" if _selector_text(namespaces) else "every namespace"
    return f"{who} of {where}"


def _port_text(entry: dict[str, Any]) -> str:
    protocol = entry.get("protocol") or "TCP"
    if entry.get("port") is None:
        return f"every {protocol} port"
    end = f"-{entry['endPort']}" if entry.get("endPort") else ""
    return f"port {entry['port']}{end}" + ("" if protocol == "TCP" else f"/{protocol}")


def _types(policy: dict[str, Any]) -> set[str]:
    spec = policy.get("spec") or {}
    return set(spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])])


class _Policies:
    """The NetworkPolicies and namespace labels that explain a matrix, read once per attempt."""

    def __init__(self, ctx: CheckContext):
        self.ctx = ctx
        self._policies: dict[str, list[dict[str, Any]]] = {}
        self._labels: dict[str, dict[str, str] | None] = {}

    def of(self, namespace: str) -> list[dict[str, Any]]:
        if namespace not in self._policies:
            self._policies[namespace] = self.ctx.list("NetworkPolicy", "networking.k8s.io/v1", namespace=namespace)
        return self._policies[namespace]

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        if namespace not in self._labels:
            found = self.ctx.get("Namespace", namespace)
            self._labels[namespace] = labels_of(found) if found else None
        return self._labels[namespace]

    def _peer(self, peer: dict[str, Any], namespace: str, other: _End) -> bool | None:
        if "ipBlock" in peer:
            block = peer["ipBlock"]
            try:
                ip = ipaddress.ip_address(other.ip)
                return ip in ipaddress.ip_network(block["cidr"], strict=False) and not any(
                    ip in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
            except (KeyError, ValueError):
                return None
        if peer.get("namespaceSelector") is None:
            same = other.namespace == namespace
        else:
            labels = self._namespace_labels(other.namespace)
            if labels is None:
                return None
            same = _selects(peer["namespaceSelector"], labels)
        return same and (peer.get("podSelector") is None or _selects(peer["podSelector"], other.labels))

    @staticmethod
    def _port(entry: dict[str, Any], port: int, protocol: str, named: dict[str, int]) -> bool:
        if (entry.get("protocol") or "TCP") != protocol:
            return False
        value = entry.get("port")
        if value is None:
            return True
        if isinstance(value, str) and not value.isdigit():
            return named.get(value) == port  # a named port: the destination Pod's number for it
        return int(value) <= port <= int(entry.get("endPort") or value)

    def side(self, ingress: bool, subject: _End, other: _End, port: int, protocol: str = "TCP",
             others: str = "") -> _Side:
        """Ingress: may `other` (a client) reach `subject`? Egress: may `subject` (a client) reach `other`?"""
        namespace, direction = subject.namespace, "Ingress" if ingress else "Egress"
        policies = self.of(namespace)
        selecting = [p for p in policies if direction in _types(p)
                     and _selects((p.get("spec") or {}).get("podSelector"), subject.labels)]
        if not selecting and ingress and not policies:
            return _Side(True, ("no policy", namespace),
                         f"namespace {namespace} has no NetworkPolicy, so its Pods admit every client")
        if not selecting and ingress:
            shown = "; ".join(f"{name_of(p)} selects {_selector_text(p['spec'].get('podSelector')) or 'every Pod'}"
                              + ("" if "Ingress" in _types(p) else " for egress only") for p in policies)
            return _Side(True, ("unselected", namespace, subject.pod),
                         f"no NetworkPolicy selects {subject.shown()} for ingress, so it admits every client "
                         f"(in namespace {namespace}: {shown})")
        if not selecting:
            return _Side(True, ("free", namespace, subject.pod), f"no NetworkPolicy limits {subject.pod}'s egress")
        named = subject.ports if ingress else other.ports
        unsure, partial = False, None
        for policy in selecting:
            for number, rule in enumerate(policy["spec"].get(direction.lower()) or [], 1):
                peers = rule.get("from" if ingress else "to") or [None]
                hits = [True if peer is None else self._peer(peer, namespace, other) for peer in peers]
                unsure = unsure or None in hits
                if True not in hits:
                    continue
                peer, ports = peers[hits.index(True)], rule.get("ports") or []
                what = _peer_text(peer, namespace)
                verb = f"admits {what} into Pod {subject.pod}" if ingress else f"lets Pod {subject.pod} reach {what}"
                rule_of = f"{direction.lower()} rule {number} of NetworkPolicy {name_of(policy)}"
                if ports and not any(self._port(e, port, protocol, named) for e in ports):
                    partial = partial or _Side(False, ("ports", name_of(policy), direction, number),
                                               f"{rule_of} {verb} only on {', '.join(_port_text(e) for e in ports)}")
                    continue
                alone = peer is not None and len(peers) > 1 and len([k for k in ("podSelector", "namespaceSelector")
                                                                      if k in peer]) == 1
                return _Side(True, ("rule", name_of(policy), direction, number, hits.index(True)),
                             f"{rule_of} {verb}" + ("; each item of its list admits on its own: a namespaceSelector "
                                                    "and a podSelector meant together belong in one item" if alone else ""))
        if unsure:
            return _Side(None)
        if partial:
            return partial
        rules = "; ".join(_rules_text(p, ingress) for p in selecting)
        names = f"NetworkPolic{'ies' if len(selecting) > 1 else 'y'} {', '.join(name_of(p) for p in selecting)}"
        none = "none of their rules" if len(selecting) > 1 else "none of its rules"
        if ingress:
            return _Side(False, ("denied", direction, namespace, subject.pod),
                         f"{subject.shown()} is selected for ingress by {names}, and {none} admits "
                         f"{others or 'these clients'}: {rules}")
        return _Side(False, ("denied", direction, namespace, subject.pod),
                     f"Pod {subject.pod}'s egress is limited by {names}, and {none} lets it reach "
                     f"{others or 'these targets'}: {rules}")


def _rules_text(policy: dict[str, Any], ingress: bool) -> str:
    """What a policy's rules let through, in a line."""
    rules = policy["spec"].get("ingress" if ingress else "egress") or []
    namespace = policy["metadata"].get("namespace", "")
    parts = [" or ".join(_peer_text(peer, namespace) for peer in rule.get("from" if ingress else "to") or [None])
             + (f" on {', '.join(_port_text(e) for e in rule['ports'])}" if rule.get("ports") else "")
             for rule in rules]
    return f"{name_of(policy)} {'admits' if ingress else 'lets it reach'} {'; '.join(parts) or 'nothing'}"


@dataclass
class _Reason:
    text: str
    final: bool  # the policies as written give this result: no waiting changes it
    generic: bool = False
    cells: list[Cell] = field(default_factory=list)


def _cells_text(cells: list[Cell]) -> str:
    """Cells grouped by target: "backend, monitor → frontend:80; frontend → db:6379"."""
    by_target: dict[str, list[str]] = {}
    for cell in cells:
        by_target.setdefault(cell.target, []).append(cell.client)
    return "; ".join(f"{', '.join(clients)} → {target}" for target, clients in by_target.items())


_LAG = ": kube-router may not have applied the change yet"
_UNSURE_OPEN = ("nothing stops these: no NetworkPolicy selects the target Pod for that direction, or a policy's "
                "rule also admits this client or port")
_UNSURE_BLOCKED = ("a policy rejects these: once a policy selects a Pod, only what some policy allows gets through; "
                   "check the podSelector, namespaceSelector and ports of the rule meant to allow it")


def _policy_reason(cell: Cell, plan: _Plan, policies: _Policies) -> tuple[tuple, _Reason]:
    """(key, reason) for a cell that is open where it should be blocked, or the other way round."""
    target = plan.targets[cell.target]
    leak = cell.observed == OPEN
    if target.pod is None or target.pod_port is None:
        return ("unsure", leak), _Reason(_UNSURE_OPEN if leak else _UNSURE_BLOCKED, False, generic=True)
    client, server = _End.of(plan.client_pods[cell.client]), _End.of(target.pod)
    ingress = policies.side(True, server, client, target.pod_port)
    egress = policies.side(False, client, server, target.pod_port)
    if leak and ingress.allowed and egress.allowed:
        free = egress.key[:1] == ("free",)
        return ("leak", ingress.key, free or egress.key), \
            _Reason(ingress.text + ("" if free else f"; {egress.text}"), True)
    if not leak and False in (ingress.allowed, egress.allowed):
        side = ingress if ingress.allowed is False else egress
        return side.key, _Reason(side.text, True)
    if None in (ingress.allowed, egress.allowed):
        return ("unsure", leak), _Reason(_UNSURE_OPEN if leak else _UNSURE_BLOCKED, False, generic=True)
    # a guess: a lab's own cause for the check wins over it
    if leak:
        return ("lag", leak), _Reason("the NetworkPolicies as written block these, yet they got through" + _LAG,
                                      False, generic=True)
    return ("lag", leak), _Reason("the NetworkPolicies as written allow these, yet they were blocked" + _LAG,
                                  False, generic=True)


def _dns_reason(client: str, plan: _Plan, policies: _Policies, ctx: CheckContext) -> _Reason:
    advice = ("allow UDP and TCP port 53 to kube-dns (Pods labelled k8s-app=kube-dns in namespace kube-system)")
    dns = ctx.list("Pod", label_selector="k8s-app=kube-dns", namespace="kube-system")
    side = _Side(None)
    if dns:
        side = policies.side(False, _End.of(plan.client_pods[client]), _End.of(dns[0]), 53, "UDP",
                             others="kube-dns on UDP port 53")
    if side.allowed is False:
        return _Reason(f"{client} cannot resolve names: {side.text}; {advice}", True)
    return _Reason(f"{client} cannot resolve names: if an egress policy selects it, it must also {advice}", False)


def _reasons(wrong: list[Cell], plan: _Plan, ctx: CheckContext) -> list[_Reason]:
    """The distinct reasons the cells differ, each with its cells, the most telling first."""
    policies = _Policies(ctx)
    found: dict[tuple, _Reason] = {}
    for cell in wrong:
        if cell.observed == NO_DNS:
            key, reason = ("dns", cell.client), None
            if key not in found:
                reason = _dns_reason(cell.client, plan, policies, ctx)
        elif cell.observed == DOWN:
            key, reason = ("down", cell.target), _Reason(
                f"{cell.target} answers nobody, not even its own node, so this is not a policy at work: "
                "is the server running and listening on that port?", False)
        elif cell.observed == FAILED:
            key, reason = ("failed", cell.detail), _Reason(cell.detail, False)
        else:
            key, reason = _policy_reason(cell, plan, policies)
        found.setdefault(key, reason).cells.append(cell)
    for key, reason in found.items():  # a target no policy guards, and clients no egress policy limits either
        if key[0] == "leak" and key[1][0] in ("no policy", "unselected") and \
                all(policies.side(False, _End.of(plan.client_pods[c.client]), _End.of(plan.targets[c.target].pod),
                                  plan.targets[c.target].pod_port).key[:1] == ("free",) for c in reason.cells):
            clients = list(dict.fromkeys(c.client for c in reason.cells))
            reason.text += f", and no NetworkPolicy limits the egress of {', '.join(clients)}"
    order = {NO_DNS: 0, DOWN: 1, FAILED: 2}
    return sorted(found.values(), key=lambda r: order.get(r.cells[0].observed, 3))


def _summary(wrong: list[Cell], total: int) -> str:
    differ = f"{len(wrong)} of {total} cells differ{'s' if len(wrong) == 1 else ''}"
    if len(wrong) <= 2:
        return f"{differ}: " + "; ".join(f"{c.name} {c.observed} (want {c.expected})" for c in wrong)
    kinds: dict[tuple[str, str], int] = {}
    for cell in wrong:
        kinds[(cell.observed, cell.expected)] = kinds.get((cell.observed, cell.expected), 0) + 1
    return f"{differ}: " + ", ".join(f"{n} {observed} (want {expected})" for (observed, expected), n in kinds.items())


def _cause(reasons: list[_Reason], wrong: list[Cell]) -> str:
    if len(reasons) == 1:
        cells = f"all {len(wrong)} cells that differ" if len(wrong) > 2 else _cells_text(wrong)
        return f"{reasons[0].text} ({cells})"
    return "\n".join(f"- {r.text} ({_cells_text(r.cells)})" for r in reasons)


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
        return Outcome.error(f"cannot judge {', '.join(c.name for c in no_client)}: {no_client[0].detail} "
                             "(the client needs curl; wget is enough for http targets)", evidence=evidence, table=table)
    wrong = [c for c in cells if not c.as_expected]
    if not wrong:
        return Outcome.passed(f"all {shape} as expected", evidence=evidence, table=table)
    reasons = _reasons(wrong, plan, ctx)
    # The table shows expected and observed; the summary counts, the cause says why.
    return Outcome.failed(_summary(wrong, len(cells)), cause=_cause(reasons, wrong),
                          cause_generic=all(r.generic for r in reasons), final=all(r.final for r in reasons),
                          evidence=evidence, table=table)


def watches(spec: Matrix, lab_folder: Path) -> tuple[ApiKind, ...]:
    # Who may reach whom is decided by the policies, the labels they select on (Pods,
    # Namespaces) and, for cells through a Service, its endpoints and DNS.
    return (*NETWORK_PATH, ("v1", "Namespace"))


def needs(spec: Matrix, lab_folder: Path) -> frozenset[str]:
    # A blocked cell is proven by a control connection from the server's node.
    blocked = any(expected == BLOCKED for row in spec.expect.values() for expected in row.values())
    return frozenset({NODE} if blocked else ())


KIND = CheckKind("matrix", MatrixCheck, evaluate, default_timeout=10.0, watches=watches, needs=needs)
