"""One grading run: sources to durable results to outputs and the class report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import UsageError
from ..model import Lab, Step
from . import records, store
from .outputs import atomic_write, inside, write_outputs
from .roster import Classroom, Learner, grade_learner
from .submission import CourseKey, MAX_BYTES, grade_file, lab_digest

REPORT = "report.txt"


@dataclass(frozen=True)
class Task:
    """One learner to grade: a submission file or a roster row."""

    key: str
    path: Path | None = None
    shown: str = ""
    learner: Learner | None = None

    def identity(self, lab: Lab) -> dict[str, Any]:
        if self.learner is not None:
            return dict(learner=self.learner.learner, name=self.learner.name, namespace=self.learner.namespace
                        or lab.namespace, source=f"namespace {self.learner.namespace or lab.namespace}")
        return dict(learner=self.path.stem, name="", namespace=lab.namespace, source=self.shown)


def file_tasks(sources: Iterable[Path]) -> list[Task]:
    """Submission files named, and the *.json files under folders named (symlinks not followed)."""
    tasks: dict[str, Task] = {}
    for source in sources:
        source = Path(source)
        if source.is_dir():
            found = sorted(p for p in source.rglob("*.json")
                           if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
            if not found:
                raise UsageError(f"{source}: no submission files (*.json) in this folder")
        elif source.exists():
            found = [source]
        else:
            raise UsageError(f"{source}: no such file or folder")
        for path in found:
            key = f"file:{path.resolve()}"
            tasks.setdefault(key, Task(key, path=path, shown=str(path)))
    return list(tasks.values())


def roster_tasks(learners: list[Learner]) -> list[Task]:
    return [Task(learner.key, learner=learner) for learner in learners]


@dataclass
class Options:
    lab: Lab
    steps: list[Step]
    out: Path
    formats: list[str] = field(default_factory=lambda: ["csv"])
    jobs: int = 8
    timeout: float | None = 120.0
    resume: bool = False
    shard: tuple[int, int] | None = None
    course_key: CourseKey | None = None
    accepted: frozenset[str] = frozenset()
    max_bytes: int = MAX_BYTES
    html: Path | None = None
    classroom: Classroom | None = None


@dataclass
class Outcome:
    records: dict[str, dict[str, Any]]
    graded_now: int
    kept: int
    written: list[Path]
    notes: list[str]
    report: str = ""

    def count(self, status: str) -> int:
        return sum(1 for r in self.records.values() if r["status"] == status)


class Progress:
    """What a run tells while it goes; the command gives a rich bar on a terminal, nothing in CI."""

    def start(self, total: int, already: int) -> None: ...
    def advance(self, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


def _grader(options: Options, digest: str) -> Callable[[Task], dict[str, Any]]:
    lab, steps = options.lab, options.steps

    def grade(task: Task) -> dict[str, Any]:
        if task.learner is not None:
            if options.classroom is None:
                raise UsageError("live grading needs a classroom")
            return grade_learner(lab, steps, task.learner, options.classroom, digest=digest)
        return grade_file(lab, steps, task.path, key_text=task.key, digest=digest, course_key=options.course_key,
                          accepted=options.accepted, max_bytes=options.max_bytes)

    return grade


def run(options: Options, tasks: list[Task], progress: Progress | None = None) -> Outcome:
    from ..checks.kinds.python import load_lab_functions

    lab, steps = options.lab, options.steps
    progress = progress or Progress()
    digest = lab_digest(lab)
    wanted = records.basis(lab, steps, digest)
    by_key = {t.key: t for t in tasks}
    mine = store.in_shard(by_key, options.shard)
    results = store.ResultStore(inside(options.out, store.store_name(options.shard)))
    existing = results.read()
    notes: list[str] = []
    if existing and not options.resume:
        raise UsageError(f"{results.path} already holds {len(existing)} result(s): add --resume to go on from "
                         "them, or give another --out")
    done = {k: r for k, r in existing.items() if k in mine and r["basis"] == wanted}
    stale = sum(1 for k, r in existing.items() if k in mine and r["basis"] != wanted)
    if stale:
        notes.append(f"{stale} earlier result(s) were for another lab version or step list: graded again")
    if results.torn:
        notes.append(f"{results.torn} incomplete line(s) in {results.path.name} (a run cut short): graded again")
    kept = len(done)
    todo = [by_key[k] for k in sorted(mine) if k not in done]
    load_lab_functions(lab.folder)  # import the lab's checks.py once, before threads race to

    def not_graded(task: Task, error: str) -> dict[str, Any]:
        return records.failed(lab, steps, key=task.key, digest=digest, integrity="not checked",
                              started=time.monotonic(), error=error, **task.identity(lab))

    def timed_out(task: Task, seconds: float) -> dict[str, Any]:
        return not_graded(task, f"not finished within {seconds:g} s (a hung cluster? --timeout raises the limit)")

    def crashed(task: Task, exc: Exception) -> dict[str, Any]:
        return not_graded(task, f"internal error: {type(exc).__name__}: {exc}")

    def finished(task: Task, record: dict[str, Any]) -> None:
        results.append(record)
        done[task.key] = record
        progress.advance(record)

    progress.start(len(mine), kept)
    try:
        with results:
            from .pool import run_pool

            run_pool(todo, _grader(options, digest), jobs=max(1, options.jobs), timeout=options.timeout,
                     on_result=finished, on_timeout=timed_out, on_crash=crashed)
    finally:
        progress.stop()
    outcome = Outcome({k: done[k] for k in sorted(mine) if k in done}, len(todo), kept, [results.path], notes)
    if options.shard is None:
        finish(options, outcome, digest)
    return outcome


def finish(options: Options, outcome: Outcome, digest: str) -> None:
    """Outputs, the class report (text, and HTML when asked)."""
    from .report import render_html, render_text

    lab, steps = options.lab, options.steps
    outcome.written.extend(write_outputs(options.out, options.formats, lab, steps, outcome.records, digest))
    outcome.report = render_text(lab, steps, outcome.records)
    report_path = inside(options.out, REPORT)
    atomic_write(report_path, outcome.report)
    outcome.written.append(report_path)
    if options.html:
        atomic_write(Path(options.html), render_html(lab, steps, outcome.records))
        outcome.written.append(Path(options.html))


def merge(options: Options, sources: list[Path], expected: list[Task] | None = None) -> Outcome:
    """Join shard results (folders or files) into one gradebook; learners expected but absent are ERROR rows."""
    lab, steps = options.lab, options.steps
    digest = lab_digest(lab)
    found, notes = store.merge(sources or [options.out])
    other_lab = {k for k, r in found.items() if r["basis"].get("lab") != lab.id}
    if other_lab:
        raise UsageError(f"{len(other_lab)} result(s) are for lab {found[next(iter(other_lab))]['basis'].get('lab')},"
                         f" not lab {lab.id}")
    versions = {r["basis"].get("lab_digest") for r in found.values()}
    if versions - {digest}:
        notes.append("some results were graded against another version of the lab definition")
    if expected is not None:
        for task in expected:
            if task.key not in found:
                found[task.key] = records.failed(lab, steps, key=task.key, digest=digest, integrity="not checked",
                                                  started=time.monotonic(), error="no result in any shard",
                                                  **task.identity(lab))
    outcome = Outcome(dict(sorted(found.items())), 0, len(found), [], notes)
    finish(options, outcome, digest)
    return outcome
