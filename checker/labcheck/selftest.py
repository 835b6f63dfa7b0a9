"""A lab's proof on a real cluster: every step FAILS before its solution and PASSES after,
every known-wrong solution FAILS with its diagnosis, every alternative solution PASSES.

Every case gets a namespace of its own, so no case waits for another's teardown:
  - the main line, in one namespace: for each step in order, grade it as it stands
    (earlier steps solved): it must FAIL on `unsolved_fails`; apply the reference
    solution; grade: it must PASS (the PASS also proves the state converged before
    the next step builds on it);
  - each known-wrong solution, in a fresh namespace: rebuild the earlier steps
    (each re-graded until it passes: convergence is watched, never slept for),
    apply the wrong solution, grade: it must FAIL on its checks with its diagnosis.
Wrong-solution cases run beside the main line on a small worker pool. Namespaces
are deleted in the background as soon as their case is graded.
With `record`, each grading's evidence is saved under the lab's evidence/ folder,
which the fast test tier grades again without a cluster.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import actions
from .errors import LabcheckError
from .checks.outcome import Status, StepResult
from .cluster.live import LiveCluster
from .cluster.recorded import RecordingCluster
from .engine import run_step
from .model import AlternativeSolution, Challenge, Lab, Step, Workaround, WrongSolution
from .toolchain import cluster_config, kube_context

#: Wrong-solution cases graded beside the main line: each mostly waits on the cluster.
DEFAULT_WORKERS = 2
SELFTEST_LABEL = "labcheck.io/selftest"


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures


def evidence_path(lab: Lab, step: Step, case: str) -> Path:
    return lab.folder / "evidence" / f"{lab.step_number(step):02d}-{step.id}.{case}.json"


def _message(result: StepResult, check_id: str) -> str:
    check = next((c for c in result.checks if c.check_id == check_id), None)
    if check is None:
        return ""
    return " ".join(filter(None, [check.summary, check.expected, check.observed, check.cause]))


def judge(result: StepResult, want: str, fails: list[str] = (), diagnosis: str | None = None) -> list[str]:
    """What is wrong with a step result against the expectation (empty: as expected)."""
    problems = []
    statuses = {c.check_id: c.status for c in result.checks}
    if want == "PASS":
        if result.status != Status.PASS:
            bad = [f"{c.check_id}={c.status.value}: {c.summary}" for c in result.checks if c.status != Status.PASS]
            problems.append("expected PASS, got " + "; ".join(bad))
        return problems
    errors = [f"{c.check_id}: {c.summary}" for c in result.checks if c.status == Status.ERROR]
    if errors:
        problems.append("ERROR: " + "; ".join(errors))
    for check_id in fails:
        if statuses.get(check_id) != Status.FAIL:
            failing = [c for c, s in statuses.items() if s == Status.FAIL]
            problems.append(f"expected {check_id} to FAIL; it is {statuses.get(check_id)} (failing: {failing or 'none'})")
        elif diagnosis and diagnosis.lower() not in _message(result, check_id).lower():
            problems.append(f"{check_id} failed without the diagnosis {diagnosis!r}: {_message(result, check_id)}")
    return problems


class SelfTest:
    def __init__(self, lab: Lab, *, record: bool, log: Callable[[str], None], workers: int):
        self.lab = lab
        self.record = record
        self.log = log
        self.workers = workers
        _config, self.cluster_name = cluster_config(lab.cluster)
        self.context = kube_context(self.cluster_name)
        self.live = LiveCluster(self.context)
        self.run_id = f"{os.getpid() % 10000:04d}"
        self.report = Report()
        self.written: set[Path] = set()

    # --- namespaces --------------------------------------------------------------------

    def namespace(self, label: str, variables: dict[str, str] | None = None) -> str:
        name = f"{self.lab.namespace}-st{self.run_id}-{label}"[:63].rstrip("-")
        actions.ensure_namespace(self.context, name, {SELFTEST_LABEL: self.lab.id})
        actions.perform(self.lab, self.lab.setup, context=self.context, cluster_name=self.cluster_name,
                        namespace=name, variables=variables)
        return name

    def drop(self, namespace: str) -> None:
        try:
            actions.delete_namespace(self.context, namespace, wait=False)
        except LabcheckError as exc:  # a leftover namespace must not hide the case's verdict
            self.log(f"note  could not delete namespace {namespace}: {exc}")

    # --- grading -----------------------------------------------------------------------

    def apply(self, what, namespace: str, variables: dict[str, str] | None = None) -> None:
        actions.perform(self.lab, what, context=self.context, cluster_name=self.cluster_name, namespace=namespace,
                        variables=variables)

    def evidence_file(self, step: Step, case: str) -> Path:
        return evidence_path(self.lab, step, case)

    def grade(self, step: Step, case: str, namespace: str, wait: float | None = None) -> StepResult:
        cluster = RecordingCluster(self.live) if self.record else self.live
        result = run_step(self.lab, step, cluster, wait=wait, namespace=namespace)
        if self.record:
            path = self.evidence_file(step, case)
            cluster.save(path, {"lab": self.lab.id, "steps": [step.id], "case": case, "namespace": namespace})
            self.written.add(path)
        return result

    def prune_evidence(self, folder: Path) -> None:
        """After a full, passing recording: evidence of cases the lab no longer has goes."""
        if not self.record or not self.report.ok or not folder.is_dir():
            return
        for stale in sorted(set(folder.glob("*.json")) - self.written):
            stale.unlink()
            self.log(f"note  removed {stale.name}: no such case any more")

    def verdict(self, label: str, problems: list[str], seconds: float) -> None:
        with self.report.lock:
            if problems:
                self.report.failures.append(f"{label}: {'; '.join(problems)}")
                self.report.lines.append(f"FAIL  {label} ({seconds:.1f} s): {'; '.join(problems)}")
            else:
                self.report.lines.append(f"ok    {label} ({seconds:.1f} s)")
            self.log(self.report.lines[-1])

    def rebuild(self, namespace: str, upto: int) -> list[str]:
        """Solve the first `upto` steps in a namespace, each graded until it passes."""
        for earlier in self.lab.steps[:upto]:
            self.apply(earlier.solution, namespace)
            result = run_step(self.lab, earlier, self.live, namespace=namespace)
            if result.status != Status.PASS:
                return [f"rebuilding: step {self.lab.step_number(earlier)} {earlier.id} did not pass again: "
                        + "; ".join(judge(result, "PASS"))]
        return []

    # --- cases -------------------------------------------------------------------------

    def solution_case(self, index: int, step: Step, chosen: WrongSolution | AlternativeSolution) -> None:
        """In a namespace of its own: the earlier steps solved, then a known-wrong solution, which
        must FAIL on its checks with its diagnosis, or an alternative one, which must PASS."""
        number = index + 1
        wrong = isinstance(chosen, WrongSolution)
        label = (f"step {number} {step.id}: wrong solution {chosen.id} is diagnosed" if wrong
                 else f"step {number} {step.id}: alternative solution {chosen.id} passes")
        started = time.monotonic()
        namespace = self.namespace(f"s{number}-{chosen.id}")
        try:
            problems = self.rebuild(namespace, index)
            if not problems:
                self.apply(chosen, namespace)
                result = self.grade(step, f"{'wrong' if wrong else 'alt'}-{chosen.id}", namespace)
                problems = judge(result, "FAIL", chosen.fails, chosen.diagnosis) if wrong else judge(result, "PASS")
        except Exception as exc:  # one broken case must not hide the others' verdicts
            problems = [f"{type(exc).__name__}: {exc}"]
        finally:
            self.drop(namespace)
        self.verdict(label, problems, time.monotonic() - started)

    def main_line(self) -> None:
        namespace = self.namespace("main")
        try:
            for index, step in enumerate(self.lab.steps):
                number = index + 1
                started = time.monotonic()
                result = self.grade(step, "unsolved", namespace, wait=0.0)
                self.verdict(f"step {number} {step.id}: fails before its solution",
                             judge(result, "FAIL", step.unsolved_fails), time.monotonic() - started)
                started = time.monotonic()
                self.apply(step.solution, namespace)
                result = self.grade(step, "solved", namespace)
                problems = judge(result, "PASS")
                self.verdict(f"step {number} {step.id}: passes after its solution", problems,
                             time.monotonic() - started)
                if problems:
                    break  # later steps build on this one
        finally:
            self.drop(namespace)

    def run(self) -> Report:
        try:
            return self._run()
        finally:  # what the lab changed outside its namespaces (CoreDNS) is put back
            done = self.lab.teardown
            if done.prepare or done.manifests or done.commands:
                actions.perform(self.lab, done, context=self.context, cluster_name=self.cluster_name)

    def _run(self) -> Report:
        actions.delete_namespaces(self.context, f"{SELFTEST_LABEL}={self.lab.id}")
        cases = [(i, step, chosen) for i, step in enumerate(self.lab.steps)
                 for chosen in [*step.wrong_solutions, *step.alternative_solutions]]
        if self.lab.node_state:
            # The node is shared by every case: one at a time, each starting from `setup`'s clean node.
            try:
                self.main_line()
            except Exception as exc:
                self.verdict("main line", [f"{type(exc).__name__}: {exc}"], 0.0)
            for case in cases:
                self.solution_case(*case)
            self.prune_evidence(self.lab.folder / "evidence")
            return self.report
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            futures = [pool.submit(self.solution_case, *case) for case in cases]
            try:
                self.main_line()
            except Exception as exc:
                self.verdict("main line", [f"{type(exc).__name__}: {exc}"], 0.0)
            for future in futures:
                future.result()
        self.prune_evidence(self.lab.folder / "evidence")
        return self.report


def run_selftest(lab: Lab, *, record: bool = False, log: Callable[[str], None] = print,
                 workers: int = DEFAULT_WORKERS) -> Report:
    return SelfTest(lab, record=record, log=log, workers=workers).run()


# --- challenges --------------------------------------------------------------------------

#: How long a fault may take to show (a readiness probe failing its threshold, a rule taking effect).
FAULT_SHOWS_WITHIN = 90.0


def fault_shows(challenge: Challenge, graded: Lab, cluster, *, namespace: str | None = None,
                within: float = FAULT_SHOWS_WITHIN) -> list[str]:
    """Wait until the fault's symptom shows (`broken_fails` FAIL); what still differs when it does not.

    A fault may take a moment to show (kube-proxy still sends to the old endpoints for a second,
    a readiness probe has a threshold to reach); it is watched for, never slept for blindly."""
    step = graded.steps[0]
    deadline = time.monotonic() + within
    while True:
        result = run_step(graded, step, cluster, wait=0, namespace=namespace)
        problems = judge(result, "FAIL", challenge.broken_fails)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def challenge_evidence_path(challenge: Challenge, case: str) -> Path:
    return challenge.folder / "evidence" / f"{case}.json"


class ChallengeSelfTest(SelfTest):
    """A challenge's proof: the app works, the fault breaks it (FAIL on `broken_fails`), the
    reference fix and each alternative fix PASS, each workaround FAILS with its diagnosis.
    Every case is a namespace of its own with its own drawn details; node faults take turns,
    each cleaned up after its case."""

    def __init__(self, challenge: Challenge, lab: Lab, *, record: bool, log: Callable[[str], None], workers: int):
        super().__init__(challenge.as_lab(lab), record=record, log=log, workers=workers)
        self.challenge = challenge

    def evidence_file(self, step: Step, case: str) -> Path:
        return challenge_evidence_path(self.challenge, case)

    def broken(self, namespace: str, variables: dict[str, str], case: str) -> list[str]:
        """Build the working app, prove it works, then break it and put up the guards."""
        step = self.lab.steps[0]
        working = self.grade(step, "working", namespace) if case == "main" else run_step(
            self.lab, step, self.live, namespace=namespace)
        problems = [f"the app does not work before the fault: {p}" for p in judge(working, "PASS")]
        if problems:
            return problems
        self.apply(self.challenge.fault, namespace, variables)
        problems = fault_shows(self.challenge, self.lab, self.live, namespace=namespace)
        if case == "main" and not problems:
            result = self.grade(step, "broken", namespace, wait=0)
            problems = judge(result, "FAIL", self.challenge.broken_fails)
        problems = [f"the fault does not show: {p}" for p in problems]
        if not problems:
            self.apply(self.challenge.guards, namespace, variables)
        return problems

    def challenge_case(self, case: str, chosen=None) -> None:
        challenge = self.challenge
        variables = challenge.variables(f"selftest-{case}")
        label = {"main": f"challenge {challenge.id}: breaks, and its fix passes"}.get(case) or (
            f"challenge {challenge.id}: workaround {chosen.id} is not a fix" if case.startswith("workaround-")
            else f"challenge {challenge.id}: alternative fix {chosen.id} passes")
        started = time.monotonic()
        namespace = self.namespace(case[:24], variables)
        step = self.lab.steps[0]
        try:
            problems = self.broken(namespace, variables, case)
            if not problems and case == "main":
                self.apply(challenge.fix, namespace, variables)
                problems = judge(self.grade(step, "fixed", namespace), "PASS")
            elif not problems and case.startswith("workaround-"):
                problems = self.workaround(chosen, namespace, variables, case)
            elif not problems:
                self.apply(chosen, namespace, variables)
                problems = judge(self.grade(step, case, namespace), "PASS")
        except Exception as exc:  # one broken case must not hide the others' verdicts
            problems = [f"{type(exc).__name__}: {exc}"]
        finally:
            try:
                actions.perform(self.lab, challenge.cleanup, context=self.context, cluster_name=self.cluster_name,
                                namespace=namespace, variables=variables)
            except Exception as exc:
                problems = [*problems, f"cleanup failed: {exc}"]
            self.drop(namespace)
        self.verdict(label, problems, time.monotonic() - started)

    def workaround(self, chosen: Workaround, namespace: str, variables: dict[str, str], case: str) -> list[str]:
        if chosen.refused:
            try:
                self.apply(chosen, namespace, variables)
            except actions.ActionFailed as exc:
                said = str(exc)
                return [] if chosen.diagnosis.lower() in said.lower() else [
                    f"refused, but without the guard's words {chosen.diagnosis!r}: {said}"]
            return ["the guard rails let this workaround through"]
        self.apply(chosen, namespace, variables)
        return judge(self.grade(self.lab.steps[0], case, namespace), "FAIL", chosen.fails, chosen.diagnosis)

    def run(self) -> Report:
        actions.delete_namespaces(self.context, f"{SELFTEST_LABEL}={self.lab.id}")
        cases = [("main", None)]
        cases += [(f"workaround-{w.id}", w) for w in self.challenge.workarounds]
        cases += [(f"alt-{a.id}", a) for a in self.challenge.alternative_fixes]
        if self.challenge.fault_kind == "node":
            for case in cases:  # a node is shared by every case: one at a time
                self.challenge_case(*case)
        else:
            with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                for future in [pool.submit(self.challenge_case, *case) for case in cases]:
                    future.result()
        self.prune_evidence(self.challenge.folder / "evidence")
        return self.report


def run_challenge_selftest(challenge: Challenge, lab: Lab, *, record: bool = False,
                           log: Callable[[str], None] = print, workers: int = DEFAULT_WORKERS) -> Report:
    return ChallengeSelfTest(challenge, lab, record=record, log=log, workers=workers).run()
