"""What every check gets to work with: reads of the cluster and commands run in it, each kept
as evidence where it is an observation (a command's output, a container's log)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cluster.base import Cluster, ExecResult

_OUTPUT_LIMIT = 4000  # evidence keeps the head of long outputs, enough to judge by

#: Kinds that live in no namespace: reading them ignores the graded namespace.
CLUSTER_SCOPED = frozenset({
    "Node", "Namespace", "PersistentVolume", "StorageClass", "IngressClass", "GatewayClass",
    "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "RuntimeClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "APIService",
})


class _Graded:
    def __repr__(self) -> str:
        return "<the graded namespace>"


#: The default `namespace` of reads: the namespace being graded (a learner's, a self-test case's).
GRADED = _Graded()


@dataclass
class CheckContext:
    cluster: Cluster
    namespace: str
    evidence: list[dict[str, Any]] = field(default_factory=list)
    #: What the check reached beyond the API ("node", "host"): held against what its kind declares.
    reached: set[str] = field(default_factory=set)

    def refresh(self) -> None:
        """Forget the objects read so far: the next read sees the cluster as it is now."""
        refresh = getattr(self.cluster, "refresh", None)
        if refresh is not None:
            refresh()

    def _where(self, kind: str, namespace: Any) -> str | None:
        if kind in CLUSTER_SCOPED:
            return None
        return self.namespace if namespace is GRADED else namespace

    # --- objects ---------------------------------------------------------------------

    def get(self, kind: str, name: str, api_version: str = "v1", *, namespace: Any = GRADED) -> dict[str, Any] | None:
        """The named object, or None. Namespaced kinds are read in the graded namespace unless
        `namespace` names another; cluster-scoped kinds (Node, Namespace, ...) need none."""
        return self.cluster.get(api_version, kind, self._where(kind, namespace), name)

    def list(self, kind: str, api_version: str = "v1", label_selector: str | None = None, *,
             namespace: Any = GRADED) -> list[dict[str, Any]]:
        """Objects of a kind (see `get` for the namespace)."""
        return self.cluster.list(api_version, kind, self._where(kind, namespace), label_selector)

    # --- observations, kept as evidence ------------------------------------------------

    def exec(self, pod: str, container: str | None, command: list[str], timeout: float = 10, *,
             namespace: Any = GRADED) -> ExecResult:
        """Run a command in a container and keep it as evidence."""
        result = self.cluster.exec_in_pod(self._where("Pod", namespace), pod, container, command, timeout)
        self.evidence.append(exec_evidence(result))
        return result

    def exec_many(self, calls: list[tuple[str, str | None, list[str]]], timeout: float = 10) -> list[ExecResult]:
        """Run (pod, container, command) calls side by side; results and evidence in the given order."""
        from concurrent.futures import ThreadPoolExecutor

        if not calls:
            return []
        with ThreadPoolExecutor(max_workers=min(len(calls), 8)) as pool:
            results = list(pool.map(
                lambda call: self.cluster.exec_in_pod(self.namespace, call[0], call[1], call[2], timeout), calls))
        self.evidence.extend(exec_evidence(result) for result in results)
        return results

    def exec_on_node(self, node: str, command: list[str], timeout: float = 10) -> ExecResult:
        """Run a command on a node (its kind container); needs `register(needs=("node",))`."""
        self.reached.add("node")
        result = self.cluster.exec_on_node(node, command, timeout)
        self.evidence.append(exec_evidence(result))
        return result

    def peek(self, pod: str, container: str | None, command: list[str], timeout: float = 10, *,
             namespace: Any = GRADED) -> ExecResult | None:
        """Run a command in a container for a better diagnosis only: None where it cannot run
        (no exec allowed, a recording without the answer); the verdict stands without it."""
        try:
            return self.exec(pod, container, command, timeout, namespace=namespace)
        except Exception:
            return None

    def peek_on_node(self, node: str, command: list[str], timeout: float = 10) -> ExecResult | None:
        """Run a command on a node for a better diagnosis only: None where this grader cannot reach
        nodes (in a cluster, a recording without the answer), and never a need of the check."""
        try:
            result = self.cluster.exec_on_node(node, command, timeout)
        except Exception:  # the verdict stands without it
            return None
        self.evidence.append(exec_evidence(result))
        return result

    def exec_on_host(self, command: list[str], timeout: float = 10) -> ExecResult:
        """Run a command on the machine labcheck runs on: traffic from outside the cluster;
        needs `register(needs=("host",))`."""
        self.reached.add("host")
        result = self.cluster.exec_on_host(command, timeout)
        self.evidence.append(exec_evidence(result))
        return result

    def logs(self, pod: str, container: str | None = None, *, tail_lines: int = 200, namespace: Any = GRADED,
             what: str | None = None) -> str:
        """What a container printed (its last `tail_lines` lines), kept as evidence."""
        where = self._where("Pod", namespace)
        text = self.cluster.logs(where, pod, container, tail_lines)
        shown = f"pod {where}/{pod} container {container}" + (f" ({what})" if what else "")
        self.evidence.append({"kind": "logs", "where": shown, "output": _clip(text)})
        return text


def exec_evidence(result: ExecResult) -> dict[str, Any]:
    return {
        "kind": "exec",
        "where": result.where,
        "command": result.args,
        "exit_code": result.returncode,
        "stdout": _clip(result.stdout),
        "stderr": _clip(result.stderr),
        "duration": result.duration,
        "timed_out": result.timed_out,
    }


def _clip(text: str) -> str:
    return text if len(text) <= _OUTPUT_LIMIT else text[:_OUTPUT_LIMIT] + f"\n... ({len(text)} characters in all)"
