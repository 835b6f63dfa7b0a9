"""What every check in a lab.yaml has, whatever its kind, as pydantic models.

Kinds (checks/kinds/) build their own spec models on these; model.py builds the
lab format from the kinds. Plain pydantic: it imports nothing else from labcheck.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="lower-case letters, digits and dashes"),
]


class Strict(BaseModel):
    # A typo in a lab file must be an error, not a silently ignored key.
    # defer_build: schemas are built on first validation, not at import; a lab read back
    # from the cache (labcache.py) never validates, so a one-shot check skips that cost.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class CheckBase(Strict):
    """The fields every check has. A kind's check model adds one field, `spec`, whose alias is
    the kind's key in lab.yaml (`assert:`, `probe:`, ...)."""

    #: The kind's key in lab.yaml; set by each kind's check model.
    kind: ClassVar[str] = ""

    id: Identifier
    title: str
    timeout: float | None = Field(
        None, ge=0, description="seconds to keep re-trying while the cluster converges"
    )
    cause: str | None = Field(None, description="the likely cause to print when this check fails")

    #: Set by each kind's check model: the kind's own part of the check.
    spec: Any


class Reference(Strict):
    """Values read from the cluster: a field of one named object, or of every object a label
    selector matches."""

    kind: str
    apiVersion: str = "v1"
    name: str | None = None
    selector: str | None = Field(None, description="a label selector (name=webserver); every match counts")
    namespace: str | None = Field(None, description="default: the graded namespace; may use $LAB_NAMESPACE")
    field: str = Field(description="dotted path into the object: status.podIP, spec.ports[0].nodePort")
    ready: bool = Field(False, description="Pods only: only those that are ready")

    @model_validator(mode="after")
    def _one_way(self) -> "Reference":
        if (self.name is None) == (self.selector is None):
            raise ValueError("a reference needs exactly one of name, selector")
        return self

    def shown(self) -> str:
        which = self.name or f"[{self.selector}]"
        return f"{self.kind} {which}'s {self.field}"
