"""What every check gets to work with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cluster.base import Cluster, ExecResult

_OUTPUT_LIMIT = 4000  # evidence keeps the head of long outputs, enough to judge by


@dataclass
class CheckContext:
    cluster: Cluster
    namespace: str
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def refresh(self) -> None:
        """Forget the objects read so far: the next read sees the cluster as it is now."""
        refresh = getattr(self.cluster, "refresh", None)
        if refresh is not None:
            refresh()

    def exec(self, pod: str, container: str | None, command: list[str], timeout: float = 10) -> ExecResult:
        """Run a command in a container and keep it as evidence."""
        result = self.cluster.exec_in_pod(self.namespace, pod, container, command, timeout)
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
        result = self.cluster.exec_on_node(node, command, timeout)
        self.evidence.append(exec_evidence(result))
        return result

    def exec_on_host(self, command: list[str], timeout: float = 10) -> ExecResult:
        """Run a command on the machine labcheck runs on: traffic from outside the cluster."""
        result = self.cluster.exec_on_host(command, timeout)
        self.evidence.append(exec_evidence(result))
        return result

    def logs(self, pod: str, container: str | None) -> str:
        text = self.cluster.logs(self.namespace, pod, container)
        self.evidence.append({"kind": "logs", "where": f"pod {self.namespace}/{pod} container {container}",
                              "output": _clip(text)})
        return text

    def get(self, kind: str, name: str, api_version: str = "v1") -> dict[str, Any] | None:
        return self.cluster.get(api_version, kind, self.namespace, name)

    def list(self, kind: str, api_version: str = "v1", label_selector: str | None = None) -> list[dict[str, Any]]:
        return self.cluster.list(api_version, kind, self.namespace, label_selector)


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
