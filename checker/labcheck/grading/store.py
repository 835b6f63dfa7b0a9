"""Durable results: one JSON line per learner, appended and fsync'd the moment it is known.

A run killed at any point loses at most the learner being written; the next
run with --resume reads what is there and grades only the rest. A line cut
short by the kill is not a record: it is skipped (and that learner graded
again), and the file is never rewritten, only appended to.

Shards (--shard I/N) each keep a file of their own, results.shard-I-of-N.jsonl,
and write first the plan of who they were given, results.shard-I-of-N.plan.json;
--merge reads them all, and knows from the plans who a shard that did not
finish left out.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import UsageError
from .records import is_record

STORE = "results.jsonl"
_SHARD_FILE = re.compile(r"^results\.shard-(\d+)-of-(\d+)\.jsonl$")
_PLAN_FILE = re.compile(r"^results\.shard-(\d+)-of-(\d+)\.plan\.json$")


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N (I is a Job's completion index)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match:
        raise UsageError(f"--shard takes I/N, e.g. 0/3 (got {text!r})")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise UsageError(f"--shard {text}: the index must be from 0 to {count - 1}")
    return index, count


def store_name(shard: tuple[int, int] | None) -> str:
    return STORE if shard is None else f"results.shard-{shard[0]}-of-{shard[1]}.jsonl"


def in_shard(keys: Iterable[str], shard: tuple[int, int] | None) -> set[str]:
    """The keys one shard grades: every N-th of the sorted keys, so shards are even and disjoint."""
    ordered = sorted(set(keys))
    if shard is None:
        return set(ordered)
    index, count = shard
    return {key for position, key in enumerate(ordered) if position % count == index}


class ResultStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self.torn = 0  # lines that were not whole records (a write cut short)

    def read(self) -> dict[str, dict[str, Any]]:
        """Records by key; a later line for the same key wins."""
        found: dict[str, dict[str, Any]] = {}
        self.torn = 0
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return found
        with handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    self.torn += 1
                    continue
                if is_record(record) and line.endswith(b"\n"):
                    found[record["key"]] = record
                else:
                    self.torn += 1
        return found

    def open(self) -> "ResultStore":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            _fsync_dir(self.path.parent)  # the new file's name is durable too
        elif self.path.stat().st_size:
            with self.path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # end a torn last line, so it stays one bad line
                    os.write(self._fd, b"\n")
        return self

    def append(self, record: dict[str, Any]) -> None:
        assert self._fd is not None, "open() the store first"
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        # One write on an O_APPEND descriptor: the line lands whole at the end or not at all.
        written = os.write(self._fd, line)
        while written < len(line):
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ResultStore":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def plan_name(shard: tuple[int, int]) -> str:
    return f"results.shard-{shard[0]}-of-{shard[1]}.plan.json"


def write_plan(folder: Path, shard: tuple[int, int], entries: list[dict[str, Any]]) -> None:
    """Who a shard was given (key and identity of each), written before it grades anyone."""
    from .outputs import atomic_write, inside

    document = {"format": "labcheck-shard-plan", "version": 1, "shard": list(shard), "learners": entries}
    atomic_write(inside(Path(folder), plan_name(shard)), json.dumps(document, ensure_ascii=False) + "\n")


def _read_plan(path: Path) -> list[dict[str, Any]] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    learners = document.get("learners") if isinstance(document, dict) else None
    if not isinstance(learners, list) or not all(isinstance(e, dict) and isinstance(e.get("key"), str)
                                                 for e in learners):
        return None
    return learners


def shard_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and (
        p.name == STORE or _SHARD_FILE.match(p.name) or _PLAN_FILE.match(p.name)))


@dataclass
class Merged:
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    plans: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    missing: dict[int, list[int]] = field(default_factory=dict)  # shard count -> indexes with no trace

    def missing_text(self) -> str:
        return "; ".join(f"shard(s) {', '.join(map(str, indexes))} of {count}"
                         for count, indexes in sorted(self.missing.items()))


def merge(paths: Iterable[Path]) -> Merged:
    """Records from result files and folders of them, the shards' plans, and warnings (torn lines);
    `missing` names shards of which neither results nor a plan were found."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = shard_files(path)
            if not found:
                raise UsageError(f"{path}: no results.jsonl or results.shard-I-of-N.jsonl to merge")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or folder")
    merged = Merged()
    seen_shards: dict[int, set[int]] = {}
    for file in files:
        plan = _PLAN_FILE.match(file.name)
        if plan:
            shard = (int(plan.group(1)), int(plan.group(2)))
            entries = _read_plan(file)
            if entries is None:
                merged.warnings.append(f"{file}: not a shard plan labcheck wrote (ignored)")
                continue
            merged.plans[shard] = entries
            seen_shards.setdefault(shard[1], set()).add(shard[0])
            continue
        store = ResultStore(file)
        merged.records.update(store.read())
        if store.torn:
            merged.warnings.append(f"{file}: {store.torn} incomplete line(s) skipped")
        match = _SHARD_FILE.match(file.name)
        if match:
            seen_shards.setdefault(int(match.group(2)), set()).add(int(match.group(1)))
    for count, indexes in sorted(seen_shards.items()):
        missing = sorted(set(range(count)) - indexes)
        if missing:
            merged.missing[count] = missing
            merged.warnings.append(f"no results from shard(s) {', '.join(map(str, missing))} of {count}")
    return merged
