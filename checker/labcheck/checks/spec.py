"""What every check in a lab.yaml has, whatever its kind, as pydantic models.

Kinds (checks/kinds/) build their own spec models on these; model.py builds the
lab format from the kinds. Plain pydantic: it imports nothing else from labcheck.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

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
