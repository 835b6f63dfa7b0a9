"""One grading run: sources to durable results to outputs and the class report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import LabcheckError, UsageError
from ..model import Lab, Step
from . import records, store
from .challenge import label
from .course import Gradebook, Rules, gradebook
from .outputs import atomic_write, inside, write_outputs
from .roster import Classroom, Learner, grade_learner
from .submission import MAX_BYTES, CourseKey, SubmissionRejected, content_digest, grade_file, lab_digest, read

REPORT = "report.txt"
#: Bytes of submissions graded at once (pool.Budget): with the grader's own ~50 MB, a batch stays
#: under 150 MB however many workers run and whatever the files hold.
MEMORY_BUDGET = 64 * 1024 * 1024
#: Grading a file is Python work under one interpreter lock: two threads keep the disk and the CPU busy,
#: and more only add memory (each thread's allocations stay in a malloc arena of its own). --jobs is
#: for live learners, who are mostly waiting on their clusters.
FILE_THREADS = 2


class MergeIncomplete(LabcheckError):
    """Shards are missing and nothing says who was in them: a gradebook would silently lack learners."""


@dataclass(frozen=True)
class Task:
    """One learner to grade: a submission file or a roster row."""

    key: str
    path: Path | None = None
    shown: str = ""
    learner: Learner | None = None
    missing: bool = False  # a path named on the command line that is not there

    def identity(self, lab: Lab) -> dict[str, Any]:
        if self.learner is not None:
            return dict(learner=self.learner.learner, name=self.learner.name, namespace=self.learner.namespace
                        or lab.namespace, source=f"namespace {self.learner.namespace or lab.namespace}")
        return dict(learner=self.path.stem, name="", namespace=lab.namespace, source=self.shown)


def _is_submission_name(name: str) -> bool:
    return name.lower().endswith(".json") and not name.startswith(".")


def file_tasks(sources: Iterable[Path]) -> tuple[list[Task], list[str]]:
    """Submission files named, and every *.json (any case) under folders named, symlinks to files
    included; notes name what was left out. A path that is not there is a task too (its row says so)."""
    tasks: dict[str, Task] = {}
    notes: list[str] = []
    for source in sources:
        source = Path(source)
        if source.is_dir():
            found, skipped = [], []
            # Walk without following links to folders (a loop, or a path out of the folder); a link to
            # a file is graded like the file: it is data, read with the same bounds.
            for folder, folders, names in os.walk(source, followlinks=False):
                folders.sort()
                for name in sorted(names):
                    path = Path(folder) / name
                    (found if _is_submission_name(name) else skipped).append(path)
            if not found:
                notes.append(f"{source}: no submission files (*.json) in this folder")
            if skipped:
                shown = ", ".join(str(p.relative_to(source)) for p in skipped[:5])
                notes.append(f"{source}: {len(skipped)} file(s) not named *.json were not graded: {shown}"
                             + (", ..." if len(skipped) > 5 else ""))
        elif source.exists() or source.is_symlink():
            found = [source]
        else:
            key = f"file:{source.absolute()}"
            tasks.setdefault(key, Task(key, path=source, shown=str(source), missing=True))
            continue
        for path in found:
            key = f"file:{path.absolute()}"
            tasks.setdefault(key, Task(key, path=path, shown=str(path)))
    return list(tasks.values()), notes


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
    rules: Rules = field(default_factory=Rules)
    only: str | None = None  # regrade this learner, keep every other result
    memory_budget: int = MEMORY_BUDGET


@dataclass
class Outcome:
    records: dict[str, dict[str, Any]]
    graded_now: int
    kept: int
    written: list[Path]
    notes: list[str]
    report: str = ""
    book: Gradebook | None = None

    def count(self, status: str) -> int:
        rows = self.book.rows if self.book is not None else self.records
        return sum(1 for r in rows.values() if r["status"] == status)


class Progress:
    """What a run tells while it goes; the command gives a rich bar on a terminal, nothing in CI."""

    def start(self, total: int, already: int) -> None: ...
    def advance(self, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


def _identity(options: Options, task: Task) -> dict[str, Any]:
    """What besides the lab a task's grade depends on (records.basis): a file's content and the course
    key, or where a live learner is graded from (a Pod reaches no node: another result)."""
    if task.learner is not None:
        classroom = options.classroom
        return {"live": task.learner.key, "nodes": bool(classroom and classroom.reaches_nodes(task.learner))}
    digest = None if task.missing else content_digest(task.path, options.max_bytes)
    return {"submission": digest, "course_key": options.course_key.key_id if options.course_key else None}


def _grader(options: Options, digest: str) -> Callable[[Task], dict[str, Any]]:
    from .pool import Budget

    lab, steps = options.lab, options.steps
    budget = Budget(options.memory_budget)

    def grade(task: Task) -> dict[str, Any]:
        if task.learner is not None:
            if options.classroom is None:
                raise UsageError("live grading needs a classroom")
            return grade_learner(lab, steps, task.learner, options.classroom, digest=digest)
        if task.missing:
            return records.failed(lab, steps, key=task.key, digest=digest, integrity="not checked",
                                  started=time.monotonic(), error="no such file or folder",
                                  identity=_identity(options, task), **task.identity(lab))
        return grade_file(lab, steps, task.path, key_text=task.key, digest=digest, course_key=options.course_key,
                          accepted=options.accepted, max_bytes=options.max_bytes, budget=budget)

    return grade


_STALE = (("lab", "another lab version or step list"), ("submission", "changed since they were graded"),
          ("course_key", "graded with another course key (or none)"), ("live", "graded from elsewhere"))


def _why_stale(kept: dict[str, Any], wanted: dict[str, Any]) -> str:
    for field_, why in _STALE:
        names = ("lab", "lab_digest", "steps") if field_ == "lab" else ("live", "nodes") if field_ == "live" else (
            field_,)
        if any(kept.get(name) != wanted.get(name) for name in names):
            return why
    return "graded under other conditions"


def _learner_of(task: Task, options: Options) -> str:
    if task.learner is not None:
        return task.learner.learner
    try:
        return read(task.path, max_bytes=options.max_bytes)["learner"]["id"]
    except SubmissionRejected:
        return task.path.stem


def run(options: Options, tasks: list[Task], progress: Progress | None = None) -> Outcome:
    from ..checks.kinds.python import load_lab_functions

    lab, steps = options.lab, options.steps
    progress = progress or Progress()
    digest = lab_digest(lab)
    by_key = {t.key: t for t in tasks}
    mine = store.in_shard(by_key, options.shard)
    results = store.ResultStore(inside(options.out, store.store_name(options.shard)))
    existing = results.read()
    notes: list[str] = []
    if existing and not (options.resume or options.only):
        raise UsageError(f"{results.path} already holds {len(existing)} result(s): add --resume to go on from "
                         "them, or give another --out")
    done, stale = {}, {}
    for key in sorted(mine & existing.keys()):
        wanted = records.basis(lab, steps, digest, _identity(options, by_key[key]))
        if existing[key]["basis"] == wanted:
            done[key] = existing[key]
        else:
            stale[key] = _why_stale(existing[key]["basis"], wanted)
    if options.only:
        chosen = {k for k in mine if (existing[k]["learner"] if k in existing else _learner_of(by_key[k], options))
                  == options.only}
        if not chosen:
            raise UsageError(f"--only {options.only}: no submission or roster row of that learner among the "
                             f"{len(mine)} given")
        others_stale = {k: why for k, why in stale.items() if k not in chosen}
        if others_stale:
            notes.append(f"{len(others_stale)} other result(s) are out of date ({'; '.join(sorted(set(others_stale.values())))}): "
                         "kept as they are (--resume grades them again)")
        ungraded = sorted(k for k in mine if k not in existing and k not in chosen)
        if ungraded:
            notes.append(f"{len(ungraded)} other submission(s) have no result yet: not graded (--resume grades them)")
        for key in chosen:
            done.pop(key, None)
        done.update({k: existing[k] for k in others_stale})
        todo = [by_key[k] for k in sorted(chosen)]
        notes.append(f"regraded learner {options.only}: {len(todo)} submission(s)")
    else:
        by_reason: dict[str, int] = {}
        for why in stale.values():
            by_reason[why] = by_reason.get(why, 0) + 1
        for why, count in sorted(by_reason.items()):
            notes.append(f"{count} kept result(s) {why}: graded again")
        todo = [by_key[k] for k in sorted(mine) if k not in done]
    if results.torn:
        notes.append(f"{results.torn} incomplete line(s) in {results.path.name} (a run cut short): graded again")
    kept = len(done)
    if options.shard is not None:
        store.write_plan(options.out, options.shard, [{"key": k, **by_key[k].identity(lab)} for k in sorted(mine)])
    load_lab_functions(lab.folder)  # import the lab's checks.py once, before threads race to

    def not_graded(task: Task, error: str) -> dict[str, Any]:
        return records.failed(lab, steps, key=task.key, digest=digest, integrity="not checked",
                              started=time.monotonic(), error=error, identity=_identity(options, task),
                              **task.identity(lab))

    def timed_out(task: Task, seconds: float) -> dict[str, Any]:
        return not_graded(task, f"not finished within {seconds:g} s (a hung cluster? --timeout raises the limit)")

    def crashed(task: Task, exc: Exception) -> dict[str, Any]:
        return not_graded(task, f"internal error: {type(exc).__name__}: {exc}")

    def finished(task: Task, record: dict[str, Any]) -> None:
        results.append(record)
        done[task.key] = record
        progress.advance(record)

    progress.start(len(todo) + kept, kept)
    try:
        with results:
            from .pool import run_pool

            live = any(task.learner is not None for task in todo)
            jobs = max(1, options.jobs if live else min(options.jobs, FILE_THREADS))
            run_pool(todo, _grader(options, digest), jobs=jobs, timeout=options.timeout,
                     on_result=finished, on_timeout=timed_out, on_crash=crashed)
    finally:
        progress.stop()
    outcome = Outcome({k: done[k] for k in sorted(done)}, len(todo), kept, [results.path], notes)
    if options.shard is None:
        finish(options, outcome, digest)
    return outcome


def finish(options: Options, outcome: Outcome, digest: str) -> None:
    """The gradebook under the course's rules, its outputs, the class report (text, and HTML when asked)."""
    from .report import render_html, render_text

    lab, steps = options.lab, options.steps
    book = gradebook(lab, steps, outcome.records, options.rules, digest)
    outcome.book = book
    outcome.written.extend(write_outputs(options.out, options.formats, lab, steps, book, digest))
    outcome.report = render_text(lab, steps, book, options.rules)
    report_path = inside(options.out, REPORT)
    atomic_write(report_path, outcome.report)
    outcome.written.append(report_path)
    if options.html:
        atomic_write(Path(options.html), render_html(lab, steps, book, options.rules))
        outcome.written.append(Path(options.html))


def merge(options: Options, sources: list[Path], expected: list[Task] | None = None) -> Outcome:
    """Join shard results (folders or files) into one gradebook.

    Every learner a shard was given (its plan) or the roster names, and no shard graded, is an ERROR
    row; a shard that left no trace at all, with no roster to say who was in it, stops the merge."""
    lab, steps = options.lab, options.steps
    digest = lab_digest(lab)
    merged = store.merge(sources or [options.out])
    found, notes = merged.records, list(merged.warnings)
    other_lab = {k for k, r in found.items() if r["basis"].get("lab") != lab.id}
    if other_lab:
        theirs = str(found[next(iter(other_lab))]["basis"].get("lab"))
        raise UsageError(f"{len(other_lab)} result(s) are for {label(theirs)}, not {label(lab.id)}")
    versions = {r["basis"].get("lab_digest") for r in found.values()}
    if versions - {digest}:
        notes.append("some results were graded against another version of the lab definition")
    if merged.missing and expected is None:
        raise MergeIncomplete(
            f"no results from {merged.missing_text()}: run them again (a Job index resumes where it stopped), "
            "or give --roster to write the gradebook with their learners as ERROR rows")

    def absent(key: str, identity: dict[str, Any], why: str) -> None:
        found[key] = records.failed(lab, steps, key=key, digest=digest, integrity="not checked",
                                    started=time.monotonic(), error=why, **identity)

    for (index, count), entries in sorted(merged.plans.items()):
        for entry in entries:
            if entry["key"] not in found:
                absent(entry["key"], {k: entry.get(k, "") for k in ("learner", "name", "namespace", "source")},
                       f"not graded: shard {index} of {count} did not finish (run it again: it resumes)")
    if expected is not None:
        for task in expected:
            if task.key not in found:
                absent(task.key, task.identity(lab), "no result in any shard")
    outcome = Outcome(dict(sorted(found.items())), 0, len(found), [], notes)
    finish(options, outcome, digest)
    return outcome
