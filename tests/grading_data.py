"""Submissions for tests and the grading benchmark, made from lab 01's recorded evidence (and a
challenge's: `make_challenge_submission`).

A learner who has solved steps 1..k answers from the evidence recorded at that
moment: the step after k's "unsolved" (or a known-wrong) recording first, then
the earlier steps' "solved" ones, then the later steps' recordings. Those are
real answers a real cluster gave; `labcheck submit`'s own code (submission.build)
records and signs them, as it would for a learner.

Each learner's answers are moved to a cluster of their own (`as_own_cluster`):
every UID becomes another, consistently wherever it appears, and every time
moves by a few seconds. Without that, every made-up learner would hand in the
same cluster's facts, which is what same-cluster detection looks for.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from labcheck.cluster.base import ExecResult
from labcheck.cluster.recorded import RecordedCluster
from labcheck.errors import ClusterUnavailable
from labcheck.grading import submission
from labcheck.loader import find_challenge, find_lab


_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def as_own_cluster(value, seed: str):
    """`value` as a cluster of its own would have answered: other UIDs, times `seed`'s seconds earlier."""
    if not seed:
        return value
    shift = timedelta(seconds=1 + int.from_bytes(seed.encode(), "big") % 50_000)
    text = json.dumps(value)
    text = _UID.sub(lambda m: str(uuid.uuid5(uuid.NAMESPACE_OID, seed + m.group(0))), text)
    text = _TIME.sub(lambda m: (datetime.strptime(m.group(0), "%Y-%m-%dT%H:%M:%SZ") - shift)
                     .strftime("%Y-%m-%dT%H:%M:%SZ"), text)
    return json.loads(text)


class LayeredCluster:
    """Answers from the first recording that has one (as cluster `seed` would have given them)."""

    replay = True

    def __init__(self, paths: list[Path], seed: str = ""):
        self.layers = [RecordedCluster(p) for p in paths]
        self.seed = seed

    def describe(self) -> str:
        return f"recorded evidence ({', '.join(layer.path.name for layer in self.layers)})"

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
                answer = getattr(layer, op)(**asked)
            except ClusterUnavailable as exc:
                if "holds no answer" not in str(exc):
                    raise
                continue
            if isinstance(answer, ExecResult):
                return ExecResult.from_dict(as_own_cluster(answer.to_dict(), self.seed))
            return as_own_cluster(answer, self.seed)
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


class ClassroomCluster(LayeredCluster):
    """The recordings as a classroom cluster answers them live (checks re-try; every namespace is there)."""

    replay = False

    def get(self, api_version, kind, namespace, name):
        if kind == "Namespace":
            return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        return super().get(api_version, kind, namespace, name)


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
                    key: submission.CourseKey | None = None, name: str = "", cluster: str | None = None,
                    file_name: str | None = None) -> Path:
    """A learner's submission file in `folder`, solved up to step `solved` (0..6), from a cluster of their
    own (`cluster` names it; default: the learner's id)."""
    lab = find_lab("01")
    layered = LayeredCluster(learner_layers(solved, wrong), seed=learner if cluster is None else cluster)
    document, _results = submission.build(lab, layered, learner=learner, name=name or learner.title(), key=key)
    path = Path(folder) / (file_name or f"{learner}.json")
    submission.write(document, path)
    return path


def make_class(folder: Path, count: int, *, key: submission.CourseKey | None = None) -> list[Path]:
    """`count` learners spread over every level of progress, every third one with a known mistake."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_submission(folder, f"learner{i:03d}", i % 7, wrong=i % 3 == 0, key=key) for i in range(count)]


def resign(path: Path, key: submission.CourseKey | None, change=None, to: Path | None = None) -> Path:
    """The submission at `path` changed by `change(document)` and signed again, as any learner holding the
    course key can; written to `to` (default: in place)."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    document.pop("signature", None)
    if change is not None:
        change(document)
    if key is not None:
        document["signature"] = submission.sign(document, key)
    submission.write(document, to or path)
    return to or Path(path)


def make_hostile(folder: Path, name: str, *, key: submission.CourseKey | None = None, objects: int = 245_000,
                 pods: int = 15_000) -> Path:
    """A signed submission that passes every limit (under 8 MB, 500,000 JSON objects and arrays, 20,000
    Kubernetes objects) and still costs what it can to read: `pods` tiny Pods in the answer the lab reads
    (the list of Pods), and the rest of `objects` small objects in a field of one of them that the
    API does not have (a newer API server could add fields, so unknown ones are let through)."""
    base = make_submission(folder, name, 6, key=None, file_name=f".{name}.base.json")

    def stuff(document):
        calls = document["evidence"]["calls"]
        found = next(c for c in calls if c["op"] == "list" and c["args"]["kind"] == "Pod")
        found["result"].extend({"metadata": {"name": f"p{i}"}} for i in range(pods))
        found["result"][-1]["padding"] = [{"n": i} for i in range(objects - 2 * pods)]

    path = resign(base, key, stuff, to=Path(folder) / f"{name}.json")
    base.unlink()
    return path


CHALLENGE = "04-silent-shop"


def challenge_lab(challenge_id: str = CHALLENGE):
    """A challenge as the one-step lab it is graded as."""
    found = find_challenge(challenge_id)
    return found.as_lab(find_lab(found.lab_id))


def make_challenge_submission(folder: Path, learner: str, case: str, entry: dict, *,
                              key: submission.CourseKey | None = None, challenge_id: str = CHALLENGE) -> Path:
    """A learner's submission of a challenge, its answers from the challenge's evidence recorded for
    `case` (working, broken, fixed, workaround-*, alt-*) on a cluster of their own, and `entry` their
    record in the progress file (started_at, fixed_at, hints, gave_up, seed)."""
    lab = challenge_lab(challenge_id)
    recorded_as = lab.folder / "evidence" / f"{case}.json"
    cluster = LayeredCluster([recorded_as], seed=learner)
    document, _results = submission.build(lab, cluster, learner=learner, name=learner.title(), key=key,
                                          namespace=cluster.layers[0].meta["namespace"], challenge=entry)
    path = Path(folder) / f"{learner}.json"
    submission.write(document, path)
    return path
