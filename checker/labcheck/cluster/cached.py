"""Reads shared by the checks of one step: each kind is listed once, not fetched per check.

The engine wraps the cluster in one `StepReads` per step. A check that re-tries
(the cluster is still converging) calls `refresh()` first, so a retry never
judges stale objects. Execs and logs always go through: they are observations
of the moment.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import Cluster, ExecResult


class StepReads:
    def __init__(self, inner: Cluster):
        self.inner = inner
        self.replay = inner.replay
        self._lists: dict[tuple[str, str, str | None, str | None], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def describe(self) -> str:
        return self.inner.describe()

    def refresh(self) -> None:
        with self._lock:
            self._lists.clear()

    def list(self, api_version: str, kind: str, namespace: str | None,
             label_selector: str | None = None) -> list[dict[str, Any]]:
        key = (api_version, kind, namespace, label_selector)
        with self._lock:
            if key not in self._lists:
                self._lists[key] = self.inner.list(api_version, kind, namespace, label_selector)
            return list(self._lists[key])

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        for obj in self.list(api_version, kind, namespace):
            if obj.get("metadata", {}).get("name") == name:
                return obj
        return None

    def logs(self, namespace: str, pod: str, container: str | None, tail_lines: int = 200) -> str:
        return self.inner.logs(namespace, pod, container, tail_lines)

    def exec_in_pod(self, namespace: str, pod: str, container: str | None, command: list[str],
                    timeout: float) -> ExecResult:
        return self.inner.exec_in_pod(namespace, pod, container, command, timeout)

    def exec_on_node(self, node: str, command: list[str], timeout: float) -> ExecResult:
        return self.inner.exec_on_node(node, command, timeout)

    def exec_on_host(self, command: list[str], timeout: float) -> ExecResult:
        return self.inner.exec_on_host(command, timeout)
