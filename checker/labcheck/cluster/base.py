"""The seam's interface and its result type."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Protocol


@dataclass
class ExecResult:
    """One command run in a container or on a node; shaped like CompletedProcess."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str = ""
    duration: float = 0.0
    where: str = ""
    timed_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ExecResult":
        return cls(**data)


class Cluster(Protocol):
    """What a check may ask of a cluster. Reads only: grading never changes it."""

    #: True when answers come from a recording: polling would only repeat them.
    replay: bool

    def describe(self) -> str:
        """One line naming the cluster, for messages."""

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of a kind in a namespace (None: cluster-scoped kinds)."""

    def logs(self, namespace: str, pod: str, container: str | None, tail_lines: int = 200) -> str:
        """What a container printed; raises TargetUnavailable when it cannot be read."""

    def exec_in_pod(
        self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float
    ) -> ExecResult:
        """Run a command in a container; raises TargetUnavailable when it cannot start."""

    def exec_on_node(self, node: str, command: list[str], timeout: float) -> ExecResult:
        """Run a command on a node (for kind: in its node container)."""

    def exec_on_host(self, command: list[str], timeout: float) -> ExecResult:
        """Run a command on the machine labcheck runs on: a client outside the cluster."""


class WatchableCluster(Cluster, Protocol):
    """A cluster that reports changes as they happen (the live one; a recording cannot)."""

    def watch(self, api_version: str, kind: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        """Events {"type": ADDED | MODIFIED | DELETED | SYNCED, "object": dict | None}, endlessly."""
