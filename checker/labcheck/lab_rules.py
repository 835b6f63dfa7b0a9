"""Rules about a lab as a whole, over the raw lab.yaml data: ids, references between steps,
checks and files, solutions that do nothing; and each check's own rules, asked of its kind.

Every rule here catches a lab that would otherwise fail at grading time for
every learner: a reference to nothing, a check that cannot run or cannot fail.
Each rule looks only at the parts that have the right shape and leaves the rest
to the schema's report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from .checks.kinds import KINDS
from .checks.kinds.base import LintEnv
from .lint import Finding, Location, items, mapping, strings, suggest


def problems(data: dict[str, Any], lab_folder: Path, clusters_dir: Path) -> Iterator[Finding]:
    """Every semantic problem of a lab file's data, as (location, message)."""
    lab_id = data.get("id")
    if isinstance(lab_id, str) and not lab_folder.name.startswith(f"{lab_id}-"):
        yield ("id",), f"id {lab_id!r} does not match folder {lab_folder.name!r}"
    cluster = data.get("cluster")
    if isinstance(cluster, str) and not (clusters_dir / f"{cluster}.yaml").is_file():
        yield ("cluster",), f"no cluster config clusters/{cluster}.yaml"
    yield from _manifests(mapping(data.get("setup")), ("setup",), lab_folder)

    env = LintEnv(lab_folder, clusters_dir)
    step_ids: set[str] = set()
    for s, step in items(data.get("steps")):
        if not isinstance(step, dict):
            continue
        at = ("steps", s)
        if isinstance(step.get("id"), str):
            if step["id"] in step_ids:
                yield at + ("id",), f"duplicate step id {step['id']!r}"
            step_ids.add(step["id"])
        check_ids: set[str] = set()
        for c, check in items(step.get("checks")):
            if not isinstance(check, dict):
                continue
            where = at + ("checks", c)
            if isinstance(check.get("id"), str):
                if check["id"] in check_ids:
                    yield where + ("id",), f"duplicate check id {check['id']!r}"
                check_ids.add(check["id"])
            present = [name for name in KINDS if name in check]
            if len(present) == 1:  # none or several: the schema says so
                yield from KINDS[present[0]].lint(check[present[0]], where + (present[0],), env)

        for i, check_id in strings(step.get("unsolved_fails")):
            if check_id not in check_ids:
                yield at + ("unsolved_fails", i), f"unknown check id {check_id!r}" + suggest(check_id, check_ids)
        solution = step.get("solution")
        if isinstance(solution, dict):
            yield from _manifests(solution, at + ("solution",), lab_folder)
            if not any(solution.get(key) for key in ("manifests", "commands", "prepare")):
                yield at + ("solution",), "the solution does nothing"
        for w, wrong in items(step.get("wrong_solutions")):
            if not isinstance(wrong, dict):
                continue
            yield from _manifests(wrong, at + ("wrong_solutions", w), lab_folder)
            for f, check_id in strings(wrong.get("fails")):
                if check_id not in check_ids:
                    yield (at + ("wrong_solutions", w, "fails", f),
                           f"unknown check id {check_id!r}" + suggest(check_id, check_ids))


def _manifests(actions: dict[str, Any], at: Location, folder: Path) -> Iterator[Finding]:
    for m, manifest in strings(actions.get("manifests")):
        if not (folder / manifest).is_file():
            yield at + ("manifests", m), f"manifest {manifest!r} not found"




#: Correct solutions in other forms each step should prove (issue: correct-but-different answers pass).
MIN_ALTERNATIVES = 3


def advice(data: dict[str, Any]) -> Iterator[Finding]:
    """What a valid lab lacks that labs should have: warnings, not errors."""
    steps = [step for _s, step in items(data.get("steps")) if isinstance(step, dict)]
    alternatives = sum(len(step.get("alternative_solutions") or []) for step in steps)
    if steps and alternatives < MIN_ALTERNATIVES:
        yield (("steps",), f"the lab proves {alternatives} alternative solution(s); give at least "
                           f"{MIN_ALTERNATIVES} (alternative_solutions: correct answers in other forms, "
                           "e.g. a named port, kubectl expose instead of YAML, a Deployment for a bare Pod)")


def challenge_problems(data: dict[str, Any], folder: Path, clusters_dir: Path) -> Iterator[Finding]:
    """What a schema cannot say about a challenge: its id and lab, references, files, kinds' rules."""
    lab_folder = folder.parent.parent
    expected = f"{lab_folder.name[:2]}-{folder.name}"
    if isinstance(data.get("id"), str) and data["id"] != expected:
        yield ("id",), f"id {data['id']!r} does not match its place: labs/{lab_folder.name}/challenges/{folder.name} is {expected!r}"
    if not (lab_folder / "lab.yaml").is_file():
        yield ("id",), f"a challenge lives in its lab's folder: labs/NN-slug/challenges/<name>/ (no lab.yaml in {lab_folder})"
    for part in ("setup", "fault", "guards", "fix", "cleanup"):
        yield from _manifests(mapping(data.get(part)), (part,), folder)
    env = LintEnv(folder, clusters_dir)
    check_ids: set[str] = set()
    for c, check in items(data.get("checks")):
        if not isinstance(check, dict):
            continue
        if isinstance(check.get("id"), str):
            if check["id"] in check_ids:
                yield ("checks", c, "id"), f"duplicate check id {check['id']!r}"
            check_ids.add(check["id"])
        present = [name for name in KINDS if name in check]
        if len(present) == 1:
            yield from KINDS[present[0]].lint(check[present[0]], ("checks", c, present[0]), env)
    for i, check_id in strings(data.get("broken_fails")):
        if check_id not in check_ids:
            yield ("broken_fails", i), f"unknown check id {check_id!r}" + suggest(check_id, check_ids)
    for w, workaround in items(data.get("workarounds")):
        if not isinstance(workaround, dict):
            continue
        yield from _manifests(workaround, ("workarounds", w), folder)
        for f, check_id in strings(workaround.get("fails")):
            if check_id not in check_ids:
                yield (("workarounds", w, "fails", f), f"unknown check id {check_id!r}" + suggest(check_id, check_ids))
    if not any(mapping(data.get("fix")).get(key) for key in ("manifests", "commands", "prepare")):
        yield ("fix",), "the fix does nothing"
    if not any(mapping(data.get("fault")).get(key) for key in ("manifests", "commands", "prepare")):
        yield ("fault",), "the fault does nothing"
