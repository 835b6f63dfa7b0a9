"""What a check kind is: everything the engine, `watch`, `lint` and the renderers need to know
about it, said in one place (one `CheckKind` per module in this package)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ...lint import Finding, Location
from ..context import CheckContext
from ..outcome import Outcome
from ..spec import CheckBase

#: An API kind a check reads: (apiVersion, kind).
ApiKind = tuple[str, str]

POD: ApiKind = ("v1", "Pod")
#: What a request between Pods passes through: its answer can change with any of them.
NETWORK_PATH: tuple[ApiKind, ...] = (
    POD,
    ("v1", "Service"),
    ("discovery.k8s.io/v1", "EndpointSlice"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
)

#: What a check may need beyond the Kubernetes API: a shell on a node, or the learner's own machine.
NODE, HOST = "node", "host"


@dataclass(frozen=True)
class LintEnv:
    """What lint rules may consult besides the check itself."""

    lab_folder: Path
    clusters_dir: Path
    #: What rules have already reported in this run, so a problem shared by many checks is said once.
    said: set[str] = field(default_factory=set)


def _no_lint(spec: Any, at: Location, env: LintEnv) -> Iterator[Finding]:
    return iter(())


def _nothing(spec: Any, lab_folder: Path) -> tuple:
    return ()


@dataclass(frozen=True)
class CheckKind:
    """One entry of the check vocabulary. Adding a kind is one module defining one of these
    and one line in `kinds/__init__.py`."""

    name: str  # the key in lab.yaml
    check_model: type[CheckBase]  # its `spec` field is aliased to `name`
    evaluate: Callable[[Any, CheckContext, Path], Outcome]  # (spec, ctx, lab folder) -> Outcome
    default_timeout: float  # seconds a FAIL is re-tried while the cluster converges
    #: May run at the same time as the checks of parallel kinds next to it (each waits on the
    #: network, not on the CPU).
    parallel: bool = False
    #: Judges only objects read from the API (no command, no log): cheap enough to re-check
    #: earlier steps with, when a later step fails.
    state_only: bool = False
    #: Problems a schema cannot see, over the raw YAML data of the kind's part of a check.
    lint: Callable[[Any, Location, LintEnv], Iterator[Finding]] = _no_lint
    #: The API kinds whose changes can change the check's result (`labcheck watch` watches them).
    watches: Callable[[Any, Path], tuple[ApiKind, ...]] = _nothing
    #: What the check needs beyond the API: NODE and/or HOST (graders that cannot reach them say so).
    needs: Callable[[Any, Path], frozenset[str] | tuple] = _nothing

    def __post_init__(self) -> None:
        if self.check_model.kind != self.name:
            raise ValueError(f"check model {self.check_model.__name__} is for kind {self.check_model.kind!r}, "
                             f"not {self.name!r}")
