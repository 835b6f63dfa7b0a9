"""Submissions for tests and the grading benchmark, made from lab 01's recorded evidence.

A learner who has solved steps 1..k answers from the evidence recorded at that
moment: the step after k's "unsolved" (or a known-wrong) recording first, then
the earlier steps' "solved" ones, then the later steps' recordings. Those are
real answers a real cluster gave; `labcheck submit`'s own code (submission.build)
records and signs them, as it would for a learner.
"""

from __future__ import annotations

from pathlib import Path

from labcheck.cluster.recorded import RecordedCluster
from labcheck.errors import ClusterUnavailable
from labcheck.grading import submission
from labcheck.loader import find_lab


class LayeredCluster:
    """Answers from the first recording that has one."""

    replay = True

    def __init__(self, paths: list[Path]):
        self.layers = [RecordedCluster(p) for p in paths]

    def describe(self) -> str:
        return "recorded lab 01 evidence"

    def _first(self, op: str, **args):
        for layer in self.layers:
            asked = dict(args)
            recorded_in = layer.meta.get("namespace")
            if recorded_in and asked.get("namespace") == "lab01":
                # Each self-test case was recorded in a namespace of its own: ask each layer in its own,
                # also where a command names the namespace (crictl --namespace lab01).
                asked["namespace"] = recorded_in
            if recorded_in and isinstance(asked.get("command"), list):
                asked["command"] = [recorded_in if word == "lab01" else word for word in asked["command"]]
            try:
                return getattr(layer, op)(**asked)
            except ClusterUnavailable as exc:
                if "holds no answer" not in str(exc):
                    raise
        raise ClusterUnavailable(f"no recording answers {op}{args}")

    def get(self, api_version, kind, namespace, name):
        return self._first("get", api_version=api_version, kind=kind, namespace=namespace, name=name)

    def list(self, api_version, kind, namespace, label_selector=None):
        return self._first("list", api_version=api_version, kind=kind, namespace=namespace,
                           label_selector=label_selector)

    def logs(self, namespace, pod, container, tail_lines=200):
        return self._first("logs", namespace=namespace, pod=pod, container=container, tail_lines=tail_lines)

    def exec_in_pod(self, namespace, pod, container, command, timeout):
        return self._first("exec_in_pod", namespace=namespace, pod=pod, container=container, command=command,
                           timeout=timeout)

    def exec_on_node(self, node, command, timeout):
        return self._first("exec_on_node", node=node, command=command, timeout=timeout)

    def exec_on_host(self, command, timeout):
        return self._first("exec_on_host", command=command, timeout=timeout)


def learner_layers(solved: int, wrong: bool = False) -> list[Path]:
    lab = find_lab("01")
    folder = lab.folder / "evidence"
    numbered = [f"{n:02d}-{s.id}" for n, s in enumerate(lab.steps, 1)]
    layers: list[Path] = []
    if solved < len(numbered):
        frontier = numbered[solved]
        wrongs = sorted(folder.glob(f"{frontier}.wrong-*.json"))
        layers.append(wrongs[0] if wrong and wrongs else folder / f"{frontier}.unsolved.json")
    layers += [folder / f"{name}.solved.json" for name in reversed(numbered[:solved])]
    layers += [folder / f"{name}.unsolved.json" for name in numbered[solved + 1:]]
    return layers


def make_submission(folder: Path, learner: str, solved: int, *, wrong: bool = False,
                    key: submission.CourseKey | None = None, name: str = "") -> Path:
    """A learner's submission file in `folder`, solved up to step `solved` (0..6)."""
    lab = find_lab("01")
    document, _results = submission.build(lab, LayeredCluster(learner_layers(solved, wrong)), learner=learner,
                                          name=name or learner.title(), key=key)
    path = Path(folder) / f"{learner}.json"
    submission.write(document, path)
    return path


def make_class(folder: Path, count: int, *, key: submission.CourseKey | None = None) -> list[Path]:
    """`count` learners spread over every level of progress, every third one with a known mistake."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_submission(folder, f"learner{i:03d}", i % 7, wrong=i % 3 == 0, key=key) for i in range(count)]
