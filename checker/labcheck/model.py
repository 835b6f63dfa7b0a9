"""The lab format: everything a lab.yaml may say, as pydantic models.

A check's own part is its kind's model (checks/kinds/); this module puts the
kinds together with steps, solutions and the lab. `labcheck schema` prints the
JSON Schema generated from these classes, so the schema and the validator can
never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PrivateAttr, Tag

from .checks.kinds import KINDS
from .checks.spec import Identifier, Strict as _Strict


def _kind_key(value: Any) -> str | None:
    """Which kind a check is: the one kind key its mapping holds (or the kind of its model)."""
    if isinstance(value, dict):
        present = [name for name in KINDS if name in value]
        return present[0] if len(present) == 1 else None
    return getattr(type(value), "kind", None) or None


def _check_union() -> Any:
    """Every kind's check model, told apart by the kind key each check holds."""
    return Annotated[
        Union[tuple(Annotated[kind.check_model, Tag(name)] for name, kind in KINDS.items())],  # type: ignore[misc]
        Discriminator(
            _kind_key,
            custom_error_type="check_kind",
            custom_error_message="a check needs exactly one of: " + ", ".join(KINDS),
        ),
    ]


Check = _check_union()


def check_kind(check: Any) -> str:
    """The name of a validated check's kind."""
    return type(check).kind


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


class AlternativeSolution(Actions):
    """A correct solution in another form than the reference (a named port, `kubectl expose`
    instead of YAML, a Deployment where a bare Pod is not the lesson): applying it must PASS."""

    id: Identifier
    description: str


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
    alternative_solutions: list[AlternativeSolution] = Field(
        default_factory=list, description="correct solutions in other forms; each must PASS like the reference")
    points: float = Field(1, ge=0, description="what the step is worth in a gradebook (all or nothing)")


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
