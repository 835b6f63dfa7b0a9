"""Live grading: a roster of learners, each a kubeconfig context or a namespace in one classroom cluster.

roster.csv has a header row; columns (any order, extra columns ignored):

    learner     the learner's id (required, unique)
    name        shown in the gradebook
    context     a kubeconfig context: the learner's own cluster
    namespace   the learner's namespace (default: the lab's); with no context, in the classroom cluster
    kubeconfig  a kubeconfig file for this learner's context (default: $KUBECONFIG)

Grading only reads: objects are listed once per kind and learner
(ReadOnceCluster), logs read once, and commands are the lab's own probes.

What a roster cannot grade is "not gradable here", never ERROR or FAIL: traffic
from the learner's own machine (the grader's machine is not theirs), and a
shell on a node unless the grader runs beside the classroom cluster's kind
nodes (never from a Pod, never on a learner's own cluster named by a context).
"""

from __future__ import annotations

import copy
import csv
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..cluster.base import Cluster, ExecResult
from ..errors import ClusterUnavailable, NotGradableHere, TargetUnavailable, UsageError
from ..model import Lab, Step
from . import records
from .pool import parallel_map
from .submission import LEARNER_ID, NAMESPACE


@dataclass(frozen=True)
class Learner:
    learner: str
    name: str = ""
    context: str | None = None
    namespace: str | None = None
    kubeconfig: str | None = None

    @property
    def key(self) -> str:
        return f"live:{self.learner}"


def learner_rows(path: Path, what: str, columns: str) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of a CSV of learners: a header row with a `learner` column, each id valid and once.
    Anything wrong is a UsageError naming file:line (`what` names the file, `columns` the other columns)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "learner" not in header:
        raise UsageError(f"{path}:1: the {what} needs a header row with a 'learner' column ({columns})")
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        # Cells past the header land under the key None as a list: not a column of ours.
        value = {k: (v or "").strip() for k, v in row.items() if k is not None and not isinstance(v, list)}
        if not any(value.values()):
            continue
        learner = value.get("learner", "")
        if not LEARNER_ID.match(learner):
            raise UsageError(f"{path}:{line}: learner id {learner!r} must be letters, digits and . _ @ + -")
        if learner in seen:
            raise UsageError(f"{path}:{line}: learner {learner} is also on line {seen[learner]}")
        seen[learner] = line
        rows.append((line, value))
    if not rows:
        raise UsageError(f"{path}: the {what} names no learner")
    return rows


def read_roster(path: Path) -> list[Learner]:
    """The roster's learners; a UsageError naming file:line for anything wrong in it."""
    learners: list[Learner] = []
    for line, value in learner_rows(path, "roster", "and context and/or namespace"):
        learner = value["learner"]
        namespace = value.get("namespace") or None
        if namespace and not NAMESPACE.match(namespace):
            raise UsageError(f"{path}:{line}: {namespace!r} is not a namespace name")
        context = value.get("context") or None
        if not context and not namespace:
            raise UsageError(f"{path}:{line}: give learner {learner} a context or a namespace")
        learners.append(Learner(learner, records.clean(value.get("name", ""), 200) or "", context, namespace,
                                value.get("kubeconfig") or None))
    return learners


class ReadOnceCluster:
    """Reads each kind once per namespace (and each log once) for one learner's grading.

    A grade is a snapshot: the checks of all steps ask about the same objects,
    and asking the API once per kind is what lets a class be graded quickly.
    A get is answered from the list of its kind. Commands are not cached:
    each probe runs.
    """

    def __init__(self, inner: Cluster, *, nodes: str | None = None):
        """`nodes`: None when the grader reaches the cluster's nodes, else why it does not."""
        self.inner = inner
        self.unreachable_nodes = nodes
        self.replay = inner.replay
        self._answers: dict[tuple, tuple[bool, Any]] = {}
        self._locks: dict[tuple, threading.Lock] = {}
        self._guard = threading.Lock()

    def describe(self) -> str:
        return self.inner.describe()

    def _once(self, key: tuple, fetch: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._answers:
                try:
                    self._answers[key] = (True, fetch())
                except (ClusterUnavailable, TargetUnavailable) as exc:
                    self._answers[key] = (False, exc)
            ok, value = self._answers[key]
        if not ok:
            raise type(value)(str(value))
        return copy.deepcopy(value)

    def list(self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None):
        return self._once(("list", api_version, kind, namespace, label_selector),
                          lambda: self.inner.list(api_version, kind, namespace, label_selector))

    def get(self, api_version: str, kind: str, namespace: str | None, name: str):
        for obj in self.list(api_version, kind, namespace):
            if obj.get("metadata", {}).get("name") == name:
                return obj
        return None

    def logs(self, namespace: str, pod: str, container: str | None, tail_lines: int = 200) -> str:
        return self._once(("logs", namespace, pod, container, tail_lines),
                          lambda: self.inner.logs(namespace, pod, container, tail_lines))

    def exec_in_pod(self, namespace, pod, container, command, timeout) -> ExecResult:
        return self.inner.exec_in_pod(namespace, pod, container, command, timeout)

    def exec_on_node(self, node, command, timeout) -> ExecResult:
        if self.unreachable_nodes:
            raise NotGradableHere(f"not gradable here: this check runs a command on node {node}, "
                                  f"{self.unreachable_nodes}")
        return self.inner.exec_on_node(node, command, timeout)

    def exec_on_host(self, command, timeout) -> ExecResult:
        # The grader's machine is not the learner's: what it reaches proves nothing about theirs.
        raise NotGradableHere("not gradable here: this check sends traffic from the learner's own machine, "
                              "which a roster does not reach (their submission file can be graded)")


class Classroom:
    """The clusters a roster names, each connected once and shared by the learners on it."""

    def __init__(self, *, context: str | None, in_cluster: bool = False, pool_size: int = 10):
        self.default_context = context
        self.in_cluster = in_cluster
        self.pool_size = pool_size
        self._clusters: dict[tuple, tuple[bool, Any]] = {}
        self._lock = threading.Lock()

    def nodes_unreachable(self, learner: Learner) -> str | None:
        """Why the grader cannot run a command on this learner's nodes, or None when it can."""
        if self.in_cluster:
            return "and a grader in a Pod has no way onto a node"
        if learner.context and learner.context != self.default_context:
            return f"and the nodes of {learner.context} are not on this machine"
        return None

    def reaches_nodes(self, learner: Learner) -> bool:
        return self.nodes_unreachable(learner) is None

    def cluster_for(self, learner: Learner):
        if learner.context:
            key: tuple = ("context", learner.kubeconfig, learner.context)
        elif self.in_cluster:
            key = ("in-cluster",)
        else:
            key = ("context", None, self.default_context)
        with self._lock:
            if key not in self._clusters:
                from ..cluster.live import LiveCluster

                try:
                    context = None if key[0] == "in-cluster" else key[2]
                    self._clusters[key] = (True, LiveCluster(context, key[1] if len(key) > 1 else None,
                                                             pool_size=self.pool_size))
                except ClusterUnavailable as exc:
                    self._clusters[key] = (False, str(exc))
            ok, value = self._clusters[key]
        if not ok:
            raise ClusterUnavailable(value)
        return value


def namespace_problem(cluster: Cluster, namespace: str) -> str | None:
    """Why a learner's namespace cannot be graded (missing, being deleted), or None."""
    obj = cluster.get("v1", "Namespace", None, namespace)
    if obj is None:
        return f"namespace {namespace} does not exist"
    if obj.get("metadata", {}).get("deletionTimestamp") or obj.get("status", {}).get("phase") == "Terminating":
        return f"namespace {namespace} is being deleted"
    return None


def grade_learner(lab: Lab, steps: list[Step], learner: Learner, classroom: Classroom, *, digest: str,
                  step_threads: int = 4) -> dict[str, Any]:
    """Grade one learner live: every step at once over one snapshot of their namespace."""
    from ..engine import run_step

    started = time.monotonic()
    namespace = learner.namespace or lab.namespace
    cluster_name = learner.context or ("in-cluster" if classroom.in_cluster else classroom.default_context)
    source = f"namespace {namespace} of {cluster_name}"
    identity = dict(key=learner.key, learner=learner.learner, name=learner.name, source=source,
                    namespace=namespace, digest=digest, integrity="live",
                    identity={"live": learner.key, "nodes": classroom.reaches_nodes(learner)})
    try:
        live = classroom.cluster_for(learner)
        problem = namespace_problem(live, namespace)
        if problem is None:
            snapshot = ReadOnceCluster(live, nodes=classroom.nodes_unreachable(learner))
            results = parallel_map(lambda step: run_step(lab, step, snapshot, wait=0, namespace=namespace),
                                   steps, step_threads)
            # Deleted while we looked: what was read may be half gone.
            problem = namespace_problem(live, namespace)
            if problem:
                problem += " (it went while being graded)"
    except ClusterUnavailable as exc:
        problem = str(exc)
    if problem:
        return records.failed(lab, steps, error=problem, started=started, **identity)
    return records.graded(lab, steps, results, started=started, **identity)
