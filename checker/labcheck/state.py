"""The learner's progress, kept in the user's state directory.

One JSON file; written to a temporary file and renamed so that an interrupted
write never loses what was there. It is checked on reading, so a hand-edited
file that lost a key or holds a wrong type is one clear error naming the file
and the field, never a bare KeyError.

    {"current_lab": "01",
     "labs": {"01": {"current_step": 3, "passed": {"create-pod": "2026-...Z"},
                     "cluster": "<uid of kube-system on the cluster the progress was made on>"}},
     "hints_shown": {"01": {"create-pod": 2}},
     "current_challenge": "04-silent-shop",
     "challenges": {"04-silent-shop": {"started_at": "...", "seed": "...", "hints": 1,
                                          "fixed_at": null, "gave_up": false, "cluster": "<uid>"}}}
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from platformdirs import user_state_dir

from .errors import LabcheckError


def state_dir() -> Path:
    return Path(os.environ.get("LABCHECK_STATE_DIR") or user_state_dir("labcheck", appauthor=False))


def _new_entry() -> dict[str, Any]:
    return {"current_step": 1, "passed": {}, "cluster": None}


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _plainly_valid(data: Any) -> bool:
    """The shape labcheck itself writes, checked in microseconds. Anything else (a hand edit,
    a value pydantic would coerce) goes through the model, which also words the error."""
    if not isinstance(data, dict) or not (data.get("current_lab") is None or isinstance(data["current_lab"], str)):
        return False
    labs, hints = data.get("labs", {}), data.get("hints_shown", {})
    if not isinstance(labs, dict) or not isinstance(hints, dict):
        return False
    for entry in labs.values():
        if not isinstance(entry, dict):
            return False
        step = entry.get("current_step", 1)
        if type(step) is not int or step < 1 or not _strings(entry.get("passed", {})):
            return False
        if not (entry.get("cluster") is None or isinstance(entry["cluster"], str)):
            return False
    challenges = data.get("challenges", {})
    if not (data.get("current_challenge") is None or isinstance(data["current_challenge"], str)):
        return False
    if not isinstance(challenges, dict) or not all(isinstance(c, dict) for c in challenges.values()):
        return False
    return all(isinstance(counts, dict) and all(isinstance(k, str) and type(v) is int for k, v in counts.items())
               for counts in hints.values())


def _validated(data: Any) -> dict[str, Any]:
    """The progress file's content with defaults filled in; ValidationError names what is wrong.

    The pydantic models are built on first use only: building them is ~20 ms a one-shot
    check need not pay when the file is well formed.
    """
    from pydantic import BaseModel, ConfigDict, Field

    class _LabEntry(BaseModel):
        # Unknown keys are kept as they are: a newer labcheck may have written them.
        model_config = ConfigDict(extra="allow")

        current_step: int = Field(1, ge=1)
        passed: dict[str, str] = Field(default_factory=dict)
        cluster: str | None = None

    class _ProgressFile(BaseModel):
        model_config = ConfigDict(extra="allow")

        current_lab: str | None = None
        labs: dict[str, _LabEntry] = Field(default_factory=dict)
        hints_shown: dict[str, dict[str, int]] = Field(default_factory=dict)
        current_challenge: str | None = None
        challenges: dict[str, dict[str, Any]] = Field(default_factory=dict)

    parsed = _ProgressFile.model_validate(data)
    return {"current_lab": parsed.current_lab,
            "labs": {lab_id: entry.model_dump() for lab_id, entry in parsed.labs.items()},
            "hints_shown": parsed.hints_shown,
            "current_challenge": parsed.current_challenge, "challenges": parsed.challenges}


@dataclass
class Progress:
    current_lab: str | None = None
    labs: dict[str, dict[str, Any]] = field(default_factory=dict)
    hints: dict[str, dict[str, int]] = field(default_factory=dict)
    current_challenge: str | None = None
    #: challenge id -> {started_at, seed, hints, fixed_at, gave_up, cluster}
    challenges: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path = field(default_factory=lambda: state_dir() / "progress.json")

    @classmethod
    def load(cls) -> "Progress":
        path = state_dir() / "progress.json"
        if not path.exists():
            return cls(path=path)
        advice = "fix it or move it aside to start afresh"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LabcheckError(f"progress file {path} is unreadable ({exc}); {advice}") from None
        if _plainly_valid(data):
            content = {"current_lab": data.get("current_lab"),
                       "labs": {lab_id: {**_new_entry(), **entry} for lab_id, entry in data.get("labs", {}).items()},
                       "hints_shown": data.get("hints_shown", {}),
                       "current_challenge": data.get("current_challenge"), "challenges": data.get("challenges", {})}
        else:
            from pydantic import ValidationError

            try:
                content = _validated(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"]) or "the file"
                what = "is missing" if first["type"] == "missing" else f"is wrong: {first['msg'].lower()}"
                raise LabcheckError(f"progress file {path}: {where} {what}; {advice}") from None
        return cls(
            current_lab=content["current_lab"],
            labs=content["labs"],
            hints=content["hints_shown"],
            current_challenge=content["current_challenge"],
            challenges=content["challenges"],
            path=path,
        )

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".progress.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"current_lab": self.current_lab, "labs": self.labs, "hints_shown": self.hints,
                       "current_challenge": self.current_challenge, "challenges": self.challenges}, out, indent=2)
        os.replace(temporary, self.path)

    def lab(self, lab_id: str) -> dict[str, Any]:
        """A lab's entry, made when the lab is first started or checked."""
        return self.labs.setdefault(lab_id, _new_entry())

    def current_step(self, lab_id: str) -> int:
        """The step a learner is on, without starting the lab (1 for a lab not begun)."""
        return self.labs.get(lab_id, {}).get("current_step", 1)

    def hints_shown(self, lab_id: str, step_id: str) -> int:
        return self.hints.get(lab_id, {}).get(step_id, 0)

    def remember_hints(self, lab_id: str, step_id: str, count: int) -> None:
        self.hints.setdefault(lab_id, {})[step_id] = count

    def mark_passed(self, lab_id: str, step_id: str, step_number: int, step_count: int) -> None:
        entry = self.lab(lab_id)
        entry["passed"].setdefault(step_id, now())
        if entry["current_step"] == step_number:
            entry["current_step"] = min(step_number + 1, step_count + 1)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
