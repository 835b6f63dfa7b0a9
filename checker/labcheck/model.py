"""The lab format: everything a lab.yaml may say, as pydantic models.

A check's own part is its kind's model (checks/kinds/); this module puts the
kinds together with steps, solutions and the lab. `labcheck schema` prints the
JSON Schema generated from these classes, so the schema and the validator can
never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PrivateAttr, Tag, model_validator

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
    teardown: Actions = Field(
        default_factory=Actions,
        description="undoes what setup or the steps change outside the lab's namespace (CoreDNS, say): run by "
                    "`labcheck reset` and by `labcheck start` of another lab on the same cluster; idempotent")
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


# --- troubleshooting challenges -------------------------------------------------------------


class Workaround(Actions):
    """A known way to make the symptom go away that is not a fix (it breaks what the app is
    for, or hides the fault): applying it must FAIL on the named checks with this diagnosis."""

    id: Identifier
    description: str
    fails: list[Identifier] = Field(default_factory=list, description="checks that must FAIL after it")
    diagnosis: str = Field(description="text the failing check's message (or the guard's refusal) must contain: "
                                       "why it is not a fix")
    refused: bool = Field(False, description="the guard rails refuse it: applying it must fail with the diagnosis")

    @model_validator(mode="after")
    def _judged(self) -> "Workaround":
        if not self.refused and not self.fails:
            raise ValueError("a workaround the guards let through must name the checks it fails (fails: [...])")
        return self


class Variant(_Strict):
    """One detail of the fault drawn for each learner (which replica, which port, which node):
    two learners' challenges differ, and a copied answer does not fit. Actions see the value
    as $VARIANT_<NAME> (upper case, dashes as underscores)."""

    name: Identifier
    values: list[str] = Field(min_length=2)

    @property
    def variable(self) -> str:
        return "VARIANT_" + self.name.upper().replace("-", "_")


class Challenge(_Strict):
    """A working app on a lab's cluster, broken on purpose: the learner gets only the symptom."""

    format: Literal[1] = Field(description="version of this challenge format")
    id: Annotated[str, Field(pattern=r"^[0-9]{2}-[a-z0-9][a-z0-9-]*$",
                             description="the lab's id, a dash and a name: 04-silent-shop")]
    title: str
    difficulty: Literal["easy", "medium", "hard"]
    exercises: str = Field(description="what finding the fault exercises (shown before starting)")
    fault_kind: Literal["object", "node"] = Field(description="object: Kubernetes objects; node: a node's state")
    symptom: str = Field(description="what a user would report: all `challenge start` says")
    namespace: Identifier = Field(description="the challenge's own namespace")
    variants: list[Variant] = Field(default_factory=list)
    setup: Actions = Field(description="brings the namespace to a working app")
    fault: Actions = Field(description="breaks it, without saying how")
    guards: Actions = Field(default_factory=Actions,
                            description="refuse the obvious bypass while the challenge runs (ValidatingAdmissionPolicy)")
    checks: list[Check] = Field(min_length=1, description="fixed: the symptom is gone and the app's intent holds")
    broken_fails: list[Identifier] = Field(min_length=1, description="checks that must FAIL once the fault is in")
    hints: list[str] = Field(min_length=3, description="direction first, then the command that shows it, then the answer")
    fix: Actions = Field(description="the reference fix: it must PASS")
    alternative_fixes: list[AlternativeSolution] = Field(default_factory=list)
    workarounds: list[Workaround] = Field(default_factory=list)
    explanation: str = Field(description="the fault and the fix, shown by `challenge give-up`")
    cleanup: Actions = Field(default_factory=Actions,
                             description="undoes what the namespace does not hold (node state, guards)")

    _folder: Path | None = PrivateAttr(None)

    @property
    def folder(self) -> Path:
        assert self._folder is not None, "challenge was not loaded from a folder"
        return self._folder

    @property
    def lab_id(self) -> str:
        return self.id[:2]

    def variables(self, seed: str) -> dict[str, str]:
        """The fault's details for a seed (a learner's id): the same learner always gets the same."""
        import hashlib

        chosen = {}
        for variant in self.variants:
            digest = hashlib.sha256(f"{seed}/{self.id}/{variant.name}".encode()).digest()
            chosen[variant.variable] = variant.values[int.from_bytes(digest[:4], "big") % len(variant.values)]
        return chosen

    def as_lab(self, lab: Lab) -> Lab:
        """The challenge as a one-step lab on its lab's cluster: graded, recorded, submitted and
        bulk-graded by the same machinery as a lab's step."""
        step = Step.model_construct(id="fixed", title=self.title, checks=self.checks, hints=self.hints,
                                    solution=self.fix, unsolved_fails=self.broken_fails, wrong_solutions=[],
                                    alternative_solutions=list(self.alternative_fixes), points=1)
        graded = Lab.model_construct(format=1, id=self.id, title=self.title, summary=self.symptom,
                                     cluster=lab.cluster, namespace=self.namespace, images=lab.images,
                                     addons=lab.addons, node_state=self.fault_kind == "node", setup=self.setup,
                                     steps=[step])
        graded._folder = self.folder
        return graded


def challenge_schema() -> dict[str, Any]:
    schema = Challenge.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "labcheck challenge.yaml"
    return schema
