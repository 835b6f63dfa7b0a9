"""The lab format: everything a lab.yaml may say, as pydantic models.

`labcheck schema` prints the JSON Schema generated from these classes, so the
schema and the validator can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator

Identifier = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="lower-case letters, digits and dashes"),
]


class _Strict(BaseModel):
    # A typo in a lab file must be an error, not a silently ignored key.
    # defer_build: schemas are built on first validation, not at import; a lab read back
    # from the cache (labcache.py) never validates, so a one-shot check skips that cost.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class ObjectPattern(BaseModel):
    """A partial Kubernetes object: every field given must match, others are ignored.

    With `metadata.name` the named object is read; without it every object of
    the kind in the lab namespace is a candidate and one match is enough.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    apiVersion: str = "v1"
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The fields to match, without apiVersion and kind."""
        data = self.model_dump(exclude={"apiVersion", "kind"})
        if not data.get("metadata"):
            data.pop("metadata", None)
        return data

    @property
    def name(self) -> str | None:
        return self.metadata.get("name")


class _InPod(_Strict):
    pod: str = Field(description="name of the Pod to run in")
    container: str | None = Field(None, description="container name; default: the Pod's first container")


class ExecProbe(_InPod):
    """Run a command inside a container of a Pod. In every probe, `$LAB_NAMESPACE` stands for
    the namespace being graded."""

    command: list[str] = Field(min_length=1)


class HttpProbe(_InPod):
    """Fetch a URL from inside a container (curl if present, else wget); judged by the HTTP status."""

    url: str


class DnsProbe(_InPod):
    """Resolve a name from inside a container (nslookup or getent)."""

    name: str


class LogsProbe(_InPod):
    """Read what a container printed: what the workload itself saw."""


class NodeProbe(_Strict):
    """Run a command on a kind node container (network namespaces, veths, routes, crictl)."""

    node: str | None = Field(None, description="node name; or give `pod` for the node that runs it")
    pod: str | None = None
    command: list[str] = Field(min_length=1)


class HostProbe(_Strict):
    """Run a command, or fetch a URL (curl if present, else wget), on the machine labcheck runs
    on: a client outside the cluster, as for a NodePort or a load balancer's address."""

    url: str | None = None
    command: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _url_or_command(self) -> "HostProbe":
        if (self.url is None) == (self.command is None):
            raise ValueError("a host probe needs exactly one of url, command")
        return self


class Expect(_Strict):
    exit_code: int | None = Field(
        0, description="required exit code; null accepts any. Not used for http probes unless given"
    )
    status: int | list[int] | None = Field(
        None, description="http probes: required HTTP status (or one of a list); default any 2xx or 3xx"
    )
    contains: str | None = Field(None, description="output must contain this text")
    not_contains: str | None = None
    matches: str | None = Field(None, description="output must match this regular expression")
    blocked: bool = Field(
        False,
        description="the connection must be blocked (timed out or rejected) while `control` reaches the same target",
    )


class Control(_Strict):
    """A client that is allowed to reach the probe's target: proof the target is up."""

    pod: str
    container: str | None = None


PROBE_TARGETS = ("exec", "http", "dns", "logs", "node", "host")


class Probe(_Strict):
    """A network fact observed from a container, a node or this machine: exactly one of
    exec/http/dns/logs/node/host."""

    exec: ExecProbe | None = None
    http: HttpProbe | None = None
    dns: DnsProbe | None = None
    logs: LogsProbe | None = None
    node: NodeProbe | None = None
    host: HostProbe | None = None
    expect: Expect = Field(default_factory=Expect)
    control: Control | None = Field(
        None, description="for `blocked`: run the same probe from this allowed client; it must get through"
    )
    attempt_timeout: float = Field(10, gt=0, description="seconds one attempt may take")

    @model_validator(mode="after")
    def _one_target(self) -> "Probe":
        given = [kind for kind in PROBE_TARGETS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a probe needs exactly one of {', '.join(PROBE_TARGETS)} (found: {found})")
        if self.expect.blocked:
            if self.control is None:
                raise ValueError("`expect: {blocked: true}` needs `control:`, an allowed client that must reach "
                                 "the same target (otherwise a crashed server would look blocked)")
            if given[0] not in ("http", "exec"):
                raise ValueError("`blocked` applies to http and exec probes")
        return self

    def target(self) -> tuple[str, Any]:
        for kind in PROBE_TARGETS:
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise ValueError("probe has no target")


class MatrixClient(_Strict):
    """A row of a connectivity matrix: the Pod the connections start from."""

    pod: str
    container: str | None = Field(None, description="container with curl (or wget for http); default: the first")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")


class MatrixTarget(_Strict):
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


class Matrix(_Strict):
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


class PythonCall(_Strict):
    function: str = Field(description="name of a function registered in the lab's checks.py")
    args: dict[str, Any] = Field(default_factory=dict)


class _CheckBase(_Strict):
    id: Identifier
    title: str
    timeout: float | None = Field(
        None, ge=0, description="seconds to keep re-trying while the cluster converges"
    )
    cause: str | None = Field(None, description="the likely cause to print when this check fails")


class AssertCheck(_CheckBase):
    assert_: ObjectPattern = Field(alias="assert")


class AbsentCheck(_CheckBase):
    absent: ObjectPattern


class ProbeCheck(_CheckBase):
    probe: Probe


class PythonCheck(_CheckBase):
    python: PythonCall


class MatrixCheck(_CheckBase):
    matrix: Matrix


@dataclass(frozen=True)
class CheckKind:
    """One entry of the check vocabulary: adding a kind means one model class, one entry, one module."""

    name: str  # the key in lab.yaml
    model: type[_CheckBase]
    spec_field: str  # the model attribute holding the kind's own spec
    module: str  # labcheck.checks.<module>.evaluate(spec, ctx, lab_folder) -> Outcome
    default_timeout: float  # seconds a FAIL is re-tried while the cluster converges


CHECK_REGISTRY: dict[str, CheckKind] = {
    kind.name: kind
    for kind in (
        CheckKind("assert", AssertCheck, "assert_", "assert_object", 10.0),
        CheckKind("absent", AbsentCheck, "absent", "absent", 20.0),
        CheckKind("probe", ProbeCheck, "probe", "probe", 5.0),
        CheckKind("python", PythonCheck, "python", "python_check", 5.0),
        CheckKind("matrix", MatrixCheck, "matrix", "connectivity", 10.0),
    )
}
CHECK_KINDS = tuple(CHECK_REGISTRY)


def _check_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [k for k in CHECK_KINDS if k in value]
        return present[0] if len(present) == 1 else None
    for kind in CHECK_REGISTRY.values():
        if isinstance(value, kind.model):
            return kind.name
    return None


Check = Annotated[
    Union[tuple(Annotated[kind.model, Tag(kind.name)] for kind in CHECK_REGISTRY.values())],  # type: ignore[misc]
    Discriminator(
        _check_kind,
        custom_error_type="check_kind",
        custom_error_message="a check needs exactly one of: " + ", ".join(CHECK_KINDS),
    ),
]


def check_kind(check: Any) -> str:
    kind = _check_kind(check)
    assert kind is not None
    return kind


def check_spec(check: Any) -> Any:
    """The kind-specific part of a check (the pattern, the probe, the python call)."""
    return getattr(check, CHECK_REGISTRY[check_kind(check)].spec_field)


class Actions(_Strict):
    """What a person does: `prepare` commands, then manifests applied with kubectl, then commands."""

    prepare: list[str] = Field(
        default_factory=list, description="shell commands run before the manifests (e.g. delete a Pod to recreate it)"
    )
    manifests: list[str] = Field(default_factory=list, description="paths relative to the lab folder")
    commands: list[str] = Field(
        default_factory=list,
        description="shell commands; $LAB_NAMESPACE, $KUBE_CONTEXT and $KIND_CLUSTER are set",
    )


class WrongSolution(Actions):
    """A known mistake: applying it must FAIL on the named checks with this diagnosis."""

    id: Identifier
    description: str
    fails: list[Identifier] = Field(min_length=1)
    diagnosis: str = Field(description="text the failing check's message must contain")


class Step(_Strict):
    id: Identifier
    title: str
    checks: list[Check] = Field(min_length=1)
    hints: list[str] = Field(min_length=1)
    solution: Actions
    unsolved_fails: list[Identifier] = Field(
        min_length=1, description="checks that must FAIL before the solution is applied"
    )
    wrong_solutions: list[WrongSolution] = Field(default_factory=list)
    points: float = Field(1, ge=0, description="what the step is worth in a gradebook (all or nothing)")
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = Field(
        "visible", description="when a learner sees this step's result in Gradescope (its test's visibility)"
    )


class Lab(_Strict):
    format: Literal[1] = Field(description="version of this lab format")
    id: Annotated[str, Field(pattern=r"^[0-9]{2}$")]
    title: str
    summary: str
    cluster: Identifier = Field(description="name of a kind config in clusters/ (without .yaml)")
    namespace: Identifier
    images: list[str] = Field(default_factory=list, description="images loaded into the cluster on start")
    addons: list[Identifier] = Field(
        default_factory=list,
        description="add-ons (clusters/addons/<name>/) `labcheck start` installs for this lab, e.g. metallb",
    )
    node_state: bool = Field(
        False,
        description="steps change the node itself (network namespaces, links, processes), not only the lab's "
                    "namespace: self-test cases then run one at a time, each after `setup` cleans the node",
    )
    setup: Actions = Field(default_factory=Actions, description="run by `labcheck start` after the namespace exists")
    steps: list[Step] = Field(min_length=1)

    _folder: Path | None = PrivateAttr(None)

    @property
    def folder(self) -> Path:
        assert self._folder is not None, "lab was not loaded from a folder"
        return self._folder

    @property
    def slug(self) -> str:
        return self.folder.name

    def step(self, ref: str | int) -> Step:
        """A step by 1-based number or by id."""
        text = str(ref)
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(self.steps):
                return self.steps[number - 1]
        for step in self.steps:
            if step.id == text:
                return step
        known = ", ".join(f"{i}={s.id}" for i, s in enumerate(self.steps, 1))
        raise KeyError(f"lab {self.id} has no step {text!r} (steps: {known})")

    def step_number(self, step: Step) -> int:
        return self.steps.index(step) + 1


def json_schema() -> dict[str, Any]:
    schema = Lab.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "labcheck lab.yaml"
    return schema
