"""The learner's progress, kept in the user's state directory.

One JSON file; written to a temporary file and renamed so that an interrupted
write never loses what was there.
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


@dataclass
class Progress:
    current_lab: str | None = None
    labs: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path = field(default_factory=lambda: state_dir() / "progress.json")

    @classmethod
    def load(cls) -> "Progress":
        path = state_dir() / "progress.json"
        if not path.exists():
            return cls(path=path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(current_lab=data.get("current_lab"), labs=dict(data.get("labs", {})), path=path)
        except (OSError, ValueError, AttributeError) as exc:
            raise LabcheckError(
                f"progress file {path} is unreadable ({exc}); move it aside to start afresh"
            ) from None

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".progress.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"current_lab": self.current_lab, "labs": self.labs}, out, indent=2)
        os.replace(temporary, self.path)

    def lab(self, lab_id: str) -> dict[str, Any]:
        return self.labs.setdefault(lab_id, {"current_step": 1, "passed": {}, "hints_shown": {}})

    def mark_passed(self, lab_id: str, step_id: str, step_number: int, step_count: int) -> None:
        entry = self.lab(lab_id)
        entry["passed"].setdefault(step_id, datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if entry["current_step"] == step_number:
            entry["current_step"] = min(step_number + 1, step_count + 1)
