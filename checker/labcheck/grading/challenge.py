"""Troubleshooting challenges, submitted and graded like labs.

A challenge is graded as a one-step lab (`Challenge.as_lab`: id `04-silent-shop`, one step `fixed`),
so a submission, its evidence and the whole grading run are a lab's. What a challenge adds is the
learner's own record from the progress file, carried inside what the submission's signature covers:

    "challenge": {"started_at": "...", "fixed_at": "..." | null, "hints": 1, "gave_up": false,
                  "seed_digest": "sha256:..."}

`fixed_at` is the first passing `labcheck challenge check` (or the submission's own grading, when it
passes and no check had); the seed that drew the fault's details is kept as a digest only. The
gradebook shows hints used and minutes from start to fix from this record, never from anywhere else.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Any

from ..errors import UsageError
from ..model import Lab

CHALLENGE_ID = re.compile(r"^[0-9]{2}-[a-z0-9][a-z0-9-]*$")


def is_challenge(lab_id: str) -> bool:
    return bool(CHALLENGE_ID.match(lab_id))


def label(lab_id: str) -> str:
    """'lab 01' or 'challenge 04-silent-shop', for messages."""
    return f"challenge {lab_id}" if is_challenge(lab_id) else f"lab {lab_id}"


def title_of(lab: Lab) -> str:
    """'Lab 01: <title>' or 'Challenge 04-silent-shop: <title>', for reports and LMS columns."""
    return f"{label(lab.id).capitalize()}: {lab.title}"


def resolve(ref: str) -> Lab:
    """A lab by id or folder name, or a challenge by id as the one-step lab it is graded as."""
    from ..loader import find_challenge, find_lab

    try:
        return find_lab(ref)
    except UsageError:
        if not CHALLENGE_ID.match(ref.strip().rstrip("/")):
            raise
    found = find_challenge(ref)
    return found.as_lab(find_lab(found.lab_id))


def hints_available(lab: Lab) -> int:
    return len(lab.steps[0].hints) if is_challenge(lab.id) and lab.steps else 0


def seed_digest(challenge_id: str, seed: str) -> str:
    # Salted with the challenge: the digest of one challenge's seed says nothing about another's.
    return "sha256:" + hashlib.sha256(f"labcheck challenge seed\0{challenge_id}\0{seed}".encode()).hexdigest()


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a zone, as labcheck writes it; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a time")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return value


def signed_record(challenge_id: str, entry: dict[str, Any], *, passed: bool, at: str) -> dict[str, Any]:
    """What a submission carries from the learner's progress entry; `passed` (the submission's own
    grading, at `at`) stands for the first passing check when the learner ran none."""
    started = entry.get("started_at")
    try:
        parse_time(started)
    except ValueError:
        raise UsageError(f"your progress file has no start time for challenge {challenge_id}: start it again "
                         f"(`labcheck challenge start {challenge_id}`)") from None
    fixed = entry.get("fixed_at") or (at if passed else None)
    hints = entry.get("hints", 0)
    return {"started_at": started, "fixed_at": fixed, "hints": hints if type(hints) is int and hints >= 0 else 0,
            "gave_up": entry.get("gave_up") is True,
            "seed_digest": seed_digest(challenge_id, str(entry.get("seed", "")))}


def check_record(lab_id: str, record: dict[str, Any] | None) -> None:
    """ValueError (one line) when a submission's challenge record does not fit its id or cannot be true."""
    if not is_challenge(lab_id):
        if record is not None:
            raise ValueError(f"a submission for lab {lab_id} carries no challenge record")
        return
    if record is None:
        raise ValueError(f"a submission for challenge {lab_id} carries its challenge record (hints, times)")
    try:
        started = parse_time(record["started_at"])
        fixed = parse_time(record["fixed_at"]) if record["fixed_at"] is not None else None
    except ValueError as exc:
        raise ValueError(f"challenge: not a time ({str(exc)[:80]})") from None
    if fixed is not None and fixed < started:
        raise ValueError("challenge.fixed_at is before challenge.started_at")


def gradebook_fields(lab: Lab, learner: str, record: dict[str, Any]) -> dict[str, Any]:
    """A graded record's `challenge` part, from the submission's (checked) challenge record."""
    started = parse_time(record["started_at"])
    fixed = parse_time(record["fixed_at"]) if record["fixed_at"] is not None else None
    return {"hints": record["hints"], "hints_available": hints_available(lab),
            "started_at": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
            "fixed_at": fixed.astimezone(timezone.utc).isoformat(timespec="seconds") if fixed else None,
            "minutes_to_fix": round((fixed - started).total_seconds() / 60, 1) if fixed else None,
            "gave_up": record["gave_up"],
            # the fault's details were drawn from the learner's own id (`challenge start --learner`)
            "seeded_by_learner": record["seed_digest"] == seed_digest(lab.id, learner)}


def summary(fields: dict[str, Any] | None) -> str:
    """'fixed in 12.5 min with 1 of 3 hints', 'not fixed, 3 of 3 hints, gave up'; '' without a record."""
    if not fields:
        return ""
    hints = f"{fields['hints']} of {fields['hints_available']} hints" if fields.get("hints_available") else \
        f"{fields['hints']} hint(s)"
    if fields["minutes_to_fix"] is not None:
        text = f"fixed in {fields['minutes_to_fix']:g} min with {hints}"
    else:
        text = f"not fixed, {hints}"
    return text + (", gave up" if fields["gave_up"] else "")


def class_summary(rows: dict[str, dict[str, Any]]) -> str:
    """One line for the class report: how many fixed, how fast, hints, gave up ('' without records)."""
    fields = [r["challenge"] for r in rows.values() if r.get("challenge")]
    if not fields:
        return ""
    times = sorted(f["minutes_to_fix"] for f in fields if f["minutes_to_fix"] is not None)
    text = f"Challenge records of {len(fields)} learner(s): {len(times)} fixed"
    if times:
        middle = len(times) // 2
        median = times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2
        text += f" (median {median:.1f} min, fastest {times[0]:g} min)"
    text += f", {sum(f['hints'] for f in fields) / len(fields):.1f} hint(s) used on average"
    gave_up = sum(1 for f in fields if f["gave_up"])
    return text + (f", {gave_up} gave up." if gave_up else ".")
