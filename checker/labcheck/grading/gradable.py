"""Which steps a grader can grade from where it runs: the table in docs/instructors.md.

A step needs a node when one of its checks runs a command on a node (`docker
exec` into a kind node), and the learner's machine when one sends traffic from
it (a node port, a load balancer's address). Each check kind declares what a
check needs (`needs`); the table is made from those declarations, never written
by hand. `observed` proves them by a run: it grades each lab's recorded solved
evidence through a cluster that refuses the one or the other, as the grader's
seam does where it cannot reach them, and the steps that come back "not
gradable here" are the ones that need it. tests/unit/test_grading_gradable.py
holds both to each other and docs/instructors.md to the table:

    python -m labcheck.grading.gradable          prints the table
"""

from __future__ import annotations

from typing import Any

from ..checks.outcome import Status
from ..errors import NotGradableHere
from ..model import Lab

from ..checks.kinds.base import HOST, NODE


class Refusing:
    """A cluster that answers like `inner` but cannot reach what `refused` names (NODE, HOST)."""

    def __init__(self, inner, refused: set[str]):
        self.inner = inner
        self.refused = refused
        self.replay = inner.replay

    def describe(self) -> str:
        return self.inner.describe()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def exec_on_node(self, node, command, timeout):
        if NODE in self.refused:
            raise NotGradableHere(f"not gradable here: this check runs a command on node {node}")
        return self.inner.exec_on_node(node, command, timeout)

    def exec_on_host(self, command, timeout):
        if HOST in self.refused:
            raise NotGradableHere("not gradable here: this check sends traffic from the learner's own machine")
        return self.inner.exec_on_host(command, timeout)


def declared(lab: Lab) -> dict[str, set[str]]:
    """Step id -> what its checks declare they need of NODE and HOST."""
    from ..checks.kinds import kind_of

    return {step.id: set().union(*(kind_of(check).needs(check.spec, lab.folder) for check in step.checks))
            for step in lab.steps}


def observed(lab: Lab) -> dict[str, set[str]]:
    """Step id -> what it turned out to need of NODE and HOST, grading its recorded solved evidence."""
    from ..cluster.recorded import RecordedCluster
    from ..engine import run_step
    from ..selftest import evidence_path

    found: dict[str, set[str]] = {}
    for step in lab.steps:
        path = evidence_path(lab, step, "solved")
        found[step.id] = set()
        for what in (NODE, HOST):
            recording = RecordedCluster(path)
            result = run_step(lab, step, Refusing(recording, {what}), namespace=recording.meta.get("namespace"))
            if any(check.status == Status.NOT_GRADABLE for check in result.checks):
                found[step.id].add(what)
    return found


def _steps(lab: Lab, chosen: list[str]) -> str:
    return ", ".join(str(lab.step_number(lab.step(step_id))) for step_id in chosen) or "none"


def table(labs: list[Lab]) -> str:
    """The Markdown table of docs/instructors.md: per lab, the steps each way of grading can grade."""
    lines = ["| lab | steps | need a node | need the learner's machine | live, classroom cluster from its host "
             "| live in a Pod (Indexed Job), or learners' own clusters (context rows) |",
             "|---|---|---|---|---|---|"]
    for lab in labs:
        found = declared(lab)
        node = [s.id for s in lab.steps if NODE in found[s.id]]
        host = [s.id for s in lab.steps if HOST in found[s.id]]
        total = len(lab.steps)
        from_host = total - len(host)
        in_pod = total - len(set(node) | set(host))
        lines.append(f"| {lab.id} | {total} | {_steps(lab, node)} | {_steps(lab, host)} | {from_host} of {total} "
                     f"| {in_pod} of {total} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    from ..loader import all_labs

    print(table(list(all_labs())), end="")


if __name__ == "__main__":
    main()
