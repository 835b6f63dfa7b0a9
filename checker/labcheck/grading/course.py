"""A course's rules, applied to the graded results to make the gradebook.

The result store keeps one graded result per file or roster row, as graded;
the gradebook is a view of it under the course's rules, so a rule changed
(another due date, a list of expected learners) needs no grading again:

- several submissions of one learner: the latest `submitted_at` among those
  whose signature checked (or that were not checked, without a course key)
  counts; the others are listed as superseded;
- `--expected LEARNERS.csv`: every expected learner has a row, "no submission"
  (status MISSING, 0 points) when nothing came; learners not on it are named;
- `--due` and `--late-penalty`: a submission made after the due date is late
  (by its own `submitted_at`, the learner's clock) and loses the penalty;
- same-cluster pairs (sameness.py);
- `--anonymize`: learner ids become stable salted pseudonyms, and names,
  namespaces and file paths leave every text.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Lab, Step
from . import records as records_
from .sameness import Pair, pairs as same_cluster_pairs
from .roster import learner_rows

MISSING = "MISSING"
_TRUSTED = {"verified", "not checked", "live"}


@dataclass(frozen=True)
class Penalty:
    percent: float
    per_day: bool = False

    @classmethod
    def parse(cls, text: str) -> "Penalty":
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*(/\s*day)?\s*", text or "")
        if not match or float(match.group(1)) > 100:
            raise UsageError(f"--late-penalty {text!r}: give a percentage of the score, e.g. 20 (once) or 10/day "
                             "(per day or part of one), at most 100")
        return cls(float(match.group(1)), bool(match.group(2)))

    def points(self, total: float, late_seconds: float) -> float:
        days = math.ceil(late_seconds / 86400) if self.per_day else 1
        return round(min(total, total * self.percent / 100 * days), 4)

    def __str__(self) -> str:
        return f"{self.percent:g}%" + (" per day" if self.per_day else "")


@dataclass
class Rules:
    expected: list[tuple[str, str]] | None = None  # (learner id, name) in the list's order
    due: datetime | None = None
    penalty: Penalty | None = None
    anonymize: bytes | None = None  # the salt


@dataclass
class Gradebook:
    rows: dict[str, dict[str, Any]]  # by key: what the gradebook shows
    superseded: list[dict[str, Any]] = field(default_factory=list)  # {learner, kept, dropped: [{source, why}]}
    pairs: list[Pair] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    pair_text: list[str] = field(default_factory=list)  # one line per pair, for the report

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows.values() if r["status"] == status)


def parse_time(text: Any) -> datetime | None:
    """An ISO 8601 time; one without a zone is UTC. None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_due(text: str) -> datetime:
    value = parse_time(text)
    if value is None:
        raise UsageError(f"--due {text!r}: give a date and time, e.g. 2026-12-01T23:59+01:00 (UTC if no zone)")
    return value


def read_expected(path: Path) -> list[tuple[str, str]]:
    """LEARNERS.csv: a header row with a `learner` column (and optionally `name`); a UsageError naming file:line."""
    return [(value["learner"], records_.clean(value.get("name", ""), 200) or "")
            for _line, value in learner_rows(path, "list of expected learners", "and optionally name")]


def _rank(record: dict[str, Any]) -> tuple:
    """Which of a learner's submissions counts: a trusted time first, then the latest, then the key."""
    when = parse_time(record.get("submitted_at"))
    trusted = record.get("integrity") in _TRUSTED and not record.get("error")
    return (trusted, when is not None, when or datetime.min.replace(tzinfo=timezone.utc), record["key"])


def _supersede(records: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    by_learner: dict[str, list[dict[str, Any]]] = {}
    for record in records.values():
        # A file that could not be read names no learner: its file name stands in, and is never
        # taken for another file of the same name.
        group = record["key"] if record.get("learner_from") else record["learner"]
        by_learner.setdefault(group, []).append(record)
    rows, superseded = {}, []
    for _group, members in sorted(by_learner.items()):
        ordered = sorted(members, key=_rank, reverse=True)
        kept = ordered[0]
        rows[kept["key"]] = kept
        if len(ordered) > 1:
            dropped = []
            for record in ordered[1:]:
                why = f"made {record.get('submitted_at') or 'at an unknown time'}"
                if record.get("error"):
                    why += f"; could not be graded: {record['error']}"
                elif record.get("integrity") not in _TRUSTED:
                    why += f"; signature {record.get('integrity')}"
                dropped.append({"key": record["key"], "source": record["source"], "why": why,
                                "status": record["status"], "total": record["total"]})
            superseded.append({"learner": kept["learner"], "kept": kept["key"], "source": kept["source"],
                               "submitted_at": kept.get("submitted_at"), "dropped": dropped})
    return rows, superseded


def missing_record(lab: Lab, steps: list[Step], learner: str, name: str, digest: str) -> dict[str, Any]:
    entries = [{"id": s.id, "number": lab.step_number(s), "title": s.title, "status": MISSING, "points": 0,
                "max_points": s.points, "checks": []} for s in steps]
    return {"record": records_.RECORD_VERSION, "key": f"missing:{learner}", "learner": learner, "name": name,
            "source": "", "namespace": "", "basis": records_.basis(lab, steps, digest), "status": MISSING,
            "error": None, "note": "no submission", "integrity": "-", "steps": entries, "total": 0,
            "max_total": sum(s.points for s in steps), "not_gradable": [], "submitted_at": None, "fingerprint": []}


def pseudonym(learner: str, salt: bytes) -> str:
    return "anon-" + hmac.new(salt, learner.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


def _scrub(text: Any, replacements: list[tuple[str, str]]) -> Any:
    """`text` with each whole word `old` replaced (a learner "ana" is not taken out of "banana")."""
    if not isinstance(text, str):
        return text
    for old, new in replacements:
        text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])", lambda _m: new, text)
    return text


def anonymized(record: dict[str, Any], salt: bytes) -> dict[str, Any]:
    """The record with a pseudonym for the learner, and the name, namespace and file path out of every text."""
    alias = pseudonym(record["learner"], salt)
    source = record.get("source") or ""
    replacements = sorted({(source, "<submission>"), (Path(source).name if source else "", "<submission>"),
                           (record.get("namespace") or "", "<namespace>"), (record.get("name") or "", "<name>"),
                           (record["learner"], alias)}, key=lambda pair: -len(pair[0]))
    replacements = [(old, new) for old, new in replacements if len(old) >= 2]
    shown = copy.deepcopy(record)
    shown.update(learner=alias, name="", source="", namespace="", key=f"anon:{alias}:{hashlib.sha256(record['key'].encode()).hexdigest()[:8]}")
    for name in ("error", "note"):
        shown[name] = _scrub(shown.get(name), replacements)
    for step in shown["steps"]:
        for check in step["checks"]:
            for name in ("summary", "expected", "observed", "cause"):
                check[name] = _scrub(check.get(name), replacements)
    shown["fingerprint"] = []
    return shown


def gradebook(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]], rules: Rules,
              digest: str) -> Gradebook:
    rows, superseded = _supersede(records)
    book = Gradebook(rows={k: copy.copy(r) for k, r in rows.items()}, superseded=superseded)
    for entry in superseded:
        book.rows[entry["kept"]]["superseded"] = [d["source"] for d in entry["dropped"]]
    book.pairs = same_cluster_pairs(records)
    for pair in book.pairs:
        book.pair_text.append(pair.describe(records) if rules.anonymize is None else
                              f"{pseudonym(records[pair.first]['learner'], rules.anonymize)} and "
                              f"{pseudonym(records[pair.second]['learner'], rules.anonymize)}: {pair.strength}")
        for mine, theirs in ((pair.first, pair.second), (pair.second, pair.first)):
            if mine in book.rows:
                others = book.rows[mine].setdefault("same_cluster_as", [])
                other = f"{records[theirs]['learner']} ({pair.strength})"
                if other not in others:
                    others.append(other)
    if rules.due is not None:
        for row in book.rows.values():
            when = parse_time(row.get("submitted_at"))
            row["late"] = None if when is None else when > rules.due
            if row["late"]:
                late_seconds = (when - rules.due).total_seconds()
                row["late_by"] = _duration(late_seconds)
                book.late.append(row["learner"])
                if rules.penalty is not None:
                    row["penalty"] = rules.penalty.points(row["total"], late_seconds)
                    row["total_before_penalty"] = row["total"]
                    row["total"] = round(row["total"] - row["penalty"], 4)
    if rules.expected is not None:
        expected = dict(rules.expected)
        present = {row["learner"] for row in book.rows.values()}
        for learner, name in rules.expected:
            if learner not in present:
                book.rows[f"missing:{learner}"] = missing_record(lab, steps, learner, name, digest)
        for row in book.rows.values():
            if row["learner"] not in expected:
                book.unexpected.append(row["learner"])
            elif not row.get("name"):
                row["name"] = expected[row["learner"]]
        book.unexpected.sort()
    if rules.anonymize is not None:
        book = _anonymize(book, rules.anonymize)
    return book


def _anonymize(book: Gradebook, salt: bytes) -> Gradebook:
    aliases = {row["learner"]: pseudonym(row["learner"], salt) for row in book.rows.values()}

    def renamed(text: str) -> str:
        return _scrub(text, sorted(aliases.items(), key=lambda item: -len(item[0])))

    rows = {}
    for row in book.rows.values():
        shown = anonymized(row, salt)
        shown["superseded"] = [f"{len(row.get('superseded') or [])} earlier file(s)"] if row.get("superseded") else []
        shown["same_cluster_as"] = [renamed(text) for text in row.get("same_cluster_as") or []]
        rows[shown["key"]] = shown
    return Gradebook(rows=rows, superseded=[
        {**entry, "learner": aliases.get(entry["learner"], pseudonym(entry["learner"], salt)), "source": "",
         "dropped": [{**d, "source": "", "why": renamed(d["why"])} for d in entry["dropped"]]}
        for entry in book.superseded],
        pairs=book.pairs, unexpected=[aliases.get(l, pseudonym(l, salt)) for l in book.unexpected],
        late=[aliases.get(l, pseudonym(l, salt)) for l in book.late], pair_text=book.pair_text)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"
