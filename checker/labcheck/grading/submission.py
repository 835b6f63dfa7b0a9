"""Submission files: a learner's recorded evidence of every step, who, when, versions, signed.

`labcheck submit` grades every step on the learner's cluster through a
RecordingCluster and keeps the questions asked and the answers got. The
instructor grades the file again with the current checks: the evidence
decides, never a verdict the file might carry.

A submission is data only. Reading one never runs anything from it, and a
hostile file (huge, deeply nested, wrong types, odd ids) is rejected with one
line that becomes the learner's ERROR row.

Tamper evidence: an HMAC-SHA256, keyed with the course key, over the
canonical JSON of everything else in the file. It shows the file is as
labcheck wrote it for someone holding that key; see docs/instructors.md for
what that does and does not prove.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import __version__
from ..cluster import recorded
from ..cluster.base import Cluster
from ..errors import LabcheckError, UsageError
from ..model import Lab, Step
from . import challenge as challenges, records
from .shapes import shape_of

FORMAT = "labcheck-submission"
VERSION = 1
MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64  # a Kubernetes object inside a submission is about 25 levels deep
MAX_CONTAINERS = 50_000  # JSON objects and arrays (a real submission: under 10,000); bounds what a file costs
MAX_OBJECTS = 20_000  # Kubernetes objects in all answers: a lab's namespace lists tens, a classroom's hundreds

LEARNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
LAB_ID = re.compile(r"^[0-9]{2}$|^[0-9]{2}-[a-z0-9][a-z0-9-]{0,62}$")  # a lab, or a challenge (04-silent-shop)
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class SubmissionRejected(LabcheckError):
    """This file cannot be graded; the message says why, on one line."""


# --- the lab's identity -------------------------------------------------------------


def lab_digest(lab: Lab) -> str:
    """What a grade depends on: the lab (or challenge) definition and its own check functions."""
    digest = hashlib.sha256()
    for name in ("lab.yaml", "challenge.yaml", "checks.py"):
        path = lab.folder / name
        if path.is_file():
            content = path.read_bytes()
            digest.update(f"{name}\0{len(content)}\0".encode())
            digest.update(content)
    return "sha256:" + digest.hexdigest()


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


# --- the course key -------------------------------------------------------------------


@dataclass(frozen=True)
class CourseKey:
    secret: bytes

    @property
    def key_id(self) -> str:
        # Names the key in files and messages without revealing it.
        return hashlib.sha256(b"labcheck course key\0" + self.secret).hexdigest()[:12]

    @classmethod
    def load(cls, path: Path) -> "CourseKey":
        try:
            secret = Path(path).read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"cannot read course key {path}: {exc.strerror or exc}") from None
        if len(secret) < 16:
            raise UsageError(f"course key {path} is too short: make one with `openssl rand -hex 32 > {path}`")
        return cls(secret)


def canonical(document: dict[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sign(document: dict[str, Any], key: CourseKey) -> dict[str, Any]:
    mac = hmac.new(key.secret, canonical(document), hashlib.sha256).hexdigest()
    return {"alg": "HMAC-SHA256", "key_id": key.key_id, "value": mac}


def verify(document: dict[str, Any], key: CourseKey | None) -> str:
    """'verified' or 'not checked'; SubmissionRejected when the file is not as labcheck signed it."""
    signature = document.get("signature")
    if key is None:
        return "not checked"
    if signature is None:
        raise SubmissionRejected("the submission is not signed with the course key (made without --course-key?)")
    if signature["key_id"] != key.key_id:
        raise SubmissionRejected(
            f"the submission is signed with another course key (key {signature['key_id']}, yours is {key.key_id})")
    expected = hmac.new(key.secret, canonical(document), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature["value"]):
        raise SubmissionRejected("the signature does not match: the file was changed after labcheck wrote it")
    return "verified"


# --- writing (the learner's side) -------------------------------------------------------


def _slim(value: Any) -> Any:
    # managedFields are bookkeeping of who wrote which field: no check reads them,
    # and they are a third of a Pod's size.
    if isinstance(value, dict):
        return {k: _slim(v) for k, v in value.items() if k != "managedFields"}
    if isinstance(value, list):
        return [_slim(v) for v in value]
    return value


def build(lab: Lab, cluster: Cluster, *, learner: str, name: str, namespace: str | None = None,
          key: CourseKey | None = None, on_step=None, challenge: dict[str, Any] | None = None):
    """Grade every step through a recording; the signed submission and the learner's own results.
    For a challenge, `challenge` is the learner's entry in the progress file (Progress.challenges)."""
    from ..cluster.recorded import RecordingCluster
    from ..engine import run_step

    if not LEARNER_ID.match(learner):
        raise UsageError(f"learner id {learner!r} must be letters, digits and . _ @ + - (at most 128)")
    if challenges.is_challenge(lab.id) and challenge is None:
        raise UsageError(f"challenge {lab.id} is not started: run `labcheck challenge start {lab.id}`")
    namespace = namespace or lab.namespace
    recording = RecordingCluster(cluster)
    results = []
    for step in lab.steps:
        result = run_step(lab, step, recording, wait=0, namespace=namespace)
        results.append(result)
        if on_step:
            on_step(result)
    calls = sorted(recording.calls.values(), key=lambda c: recorded.call_key(c["op"], c["args"]))
    submitted_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "lab": lab.id,
        "lab_title": lab.title,
        "lab_digest": lab_digest(lab),
        "labcheck": __version__,
        "learner": {"id": learner, "name": records.clean(name, 200) or ""},
        "submitted_at": submitted_at,
        "namespace": namespace,
        "cluster": cluster.describe(),
        "steps": [s.id for s in lab.steps],
        "evidence": {"format": recorded.FORMAT, "version": recorded.VERSION, "calls": _slim(calls)},
    }
    if challenges.is_challenge(lab.id):
        passed = all(r.status.value == "PASS" for r in results)
        document["challenge"] = challenges.signed_record(lab.id, challenge, passed=passed, at=submitted_at)
    if key is not None:
        document["signature"] = sign(document, key)
    return document, results


def write(document: dict[str, Any], path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(document, out, separators=(",", ":"), ensure_ascii=False)
        out.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


# --- reading (the instructor's side) ------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Learner(_Strict):
    id: str = Field(pattern=LEARNER_ID.pattern)
    name: str = Field("", max_length=200)


class _Signature(_Strict):
    alg: Literal["HMAC-SHA256"]
    key_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    value: str = Field(pattern=r"^[0-9a-f]{64}$")


Arg = Union[None, str, int, list[str]]


class _Call(_Strict):
    op: Literal["get", "list", "logs", "exec_in_pod", "exec_on_node", "exec_on_host"]
    args: dict[str, Arg]
    result: Any = None
    raises: Optional[Literal["TargetUnavailable", "ClusterUnavailable"]] = None
    message: Optional[str] = None


class _Evidence(_Strict):
    format: Literal["labcheck-evidence"]
    version: Literal[1]
    calls: list[_Call]


class _ChallengeRecord(_Strict):
    started_at: str = Field(max_length=40)
    fixed_at: Optional[str] = Field(max_length=40)
    hints: int = Field(ge=0, le=1000)
    gave_up: bool
    seed_digest: str = Field(pattern=DIGEST.pattern)


class _Submission(_Strict):
    format: Literal["labcheck-submission"]
    version: Literal[1]
    lab: str = Field(pattern=LAB_ID.pattern)
    lab_title: str = ""
    lab_digest: str = Field(pattern=DIGEST.pattern)
    labcheck: str = Field(max_length=40)
    learner: _Learner
    submitted_at: str = Field(max_length=40)
    namespace: str = Field(pattern=NAMESPACE.pattern)
    cluster: str = Field("", max_length=500)
    steps: list[str]
    evidence: _Evidence
    challenge: Optional[_ChallengeRecord] = None  # a challenge's submission only
    signature: Optional[_Signature] = None


_EXEC_FIELDS = {"args": list, "returncode": int, "stdout": str, "stderr": str, "duration": (int, float),
                "where": str, "timed_out": bool, "extra": dict}


def _check_result(index: int, call: _Call) -> None:
    """Answers of the right shape for their question, so replaying one cannot trip a check."""
    where = f"evidence.calls.{index}.result"
    if call.raises is not None:
        return
    value = call.result
    if call.op == "get" and not (value is None or isinstance(value, dict)):
        raise SubmissionRejected(f"{where}: a get answers an object or null")
    if call.op == "list" and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
        raise SubmissionRejected(f"{where}: a list answers a list of objects")
    if call.op == "logs" and not isinstance(value, str):
        raise SubmissionRejected(f"{where}: logs answer text")
    if call.op in ("exec_in_pod", "exec_on_node", "exec_on_host"):
        if not isinstance(value, dict) or not {"args", "returncode", "stdout"} <= value.keys():
            raise SubmissionRejected(f"{where}: a command answers args, returncode and stdout")
        for field, value_type in _EXEC_FIELDS.items():
            if field in value and (not isinstance(value[field], value_type) or isinstance(value[field], bool)
                                   and value_type is int):
                raise SubmissionRejected(f"{where}.{field}: wrong type {type(value[field]).__name__}")
        if set(value) - _EXEC_FIELDS.keys():
            raise SubmissionRejected(f"{where}: unknown field {sorted(set(value) - _EXEC_FIELDS.keys())[0]!r}")
    if call.op not in ("get", "list"):
        return
    found = ([(where, value)] if value is not None else []) if call.op == "get" else \
        [(f"{where}.{n}", obj) for n, obj in enumerate(value)]
    shape = shape_of(call.args.get("api_version"), call.args.get("kind"))
    for path, obj in found:
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise SubmissionRejected(f"{path}: an object without metadata.name")
        # An answer no API server could give (a string where an object belongs) would crash a check.
        problem = shape(obj, path)
        if problem:
            raise SubmissionRejected(f"{problem[:300]} (no API server answers that)")


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _depth(raw: bytes) -> int:
    """How deep the JSON in `raw` nests, from its brackets outside strings (C-speed, before parsing)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def read_bytes(path: Path, max_bytes: int = MAX_BYTES, *, on_size: Callable[[int], None] | None = None) -> bytes:
    """A submission file's bytes, at most `max_bytes`: a regular file only (a device, a pipe or a socket
    is refused before anything is read from it), read with a bound whatever the file claims to be.
    `on_size(size)` is told the file's size before it is read (to reserve memory for it)."""
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer; fstat then says what was opened.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SubmissionRejected(f"cannot read the file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            info = os.fstat(fd)
        except OSError as exc:
            raise SubmissionRejected(f"cannot read the file: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionRejected("not a regular file (a device, a pipe or a socket): not a labcheck submission")
        if info.st_size > max_bytes:
            raise SubmissionRejected(
                f"the file is {info.st_size / 1e6:.1f} MB; a submission may be at most {max_bytes / 1e6:.0f} MB")
        if on_size is not None:
            on_size(info.st_size)
        chunks, total = [], 0
        try:
            while total <= max_bytes:
                chunk = handle.read(min(1 << 20, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
        except OSError as exc:
            raise SubmissionRejected(f"cannot read the file: {exc.strerror or exc}") from None
    if total > max_bytes:  # it grew between stat and read
        raise SubmissionRejected(f"the file is larger than {max_bytes / 1e6:.0f} MB")
    return b"".join(chunks)


def content_digest(path: Path, max_bytes: int = MAX_BYTES) -> str | None:
    """sha256 of the file as grading would read it; None when it cannot be read as a submission."""
    try:
        return "sha256:" + hashlib.sha256(read_bytes(path, max_bytes)).hexdigest()
    except SubmissionRejected:
        return None


def containers(raw: bytes) -> int:
    """An upper bound of the JSON objects and arrays in `raw` (brackets inside strings count too)."""
    return raw.count(b"{") + raw.count(b"[")


def parse(raw: bytes, *, answers: bool = True) -> dict[str, Any]:
    """Bytes read with read_bytes as checked submission data; SubmissionRejected (one line) otherwise.
    `answers=False` leaves the evidence's answers unchecked (check_answers), to check the signature first."""
    if containers(raw) > MAX_CONTAINERS:
        raise SubmissionRejected(f"the file holds more than {MAX_CONTAINERS} JSON objects and arrays")
    if raw.count(b'"metadata"') > 2 * MAX_OBJECTS:  # every object has one (twice with kubectl's annotation)
        raise SubmissionRejected(f"the evidence holds more than {MAX_OBJECTS} Kubernetes objects; a lab's reads "
                                 "come to tens or hundreds")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRejected("not UTF-8 text: not a labcheck submission") from None
    if _depth(raw) > MAX_DEPTH:
        raise SubmissionRejected(f"nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as exc:
        raise SubmissionRejected(f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise SubmissionRejected(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # NaN, Infinity, integers of thousands of digits
        raise SubmissionRejected(f"not valid JSON ({str(exc)[:80]})") from None
    del text
    return check(document, depth_checked=True, answers=answers)


def read(path: Path, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The submission as checked data; SubmissionRejected (one line) when it is not one."""
    return parse(read_bytes(path, max_bytes))


def check(document: Any, *, depth_checked: bool = False, answers: bool = True) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SubmissionRejected(f'not a labcheck submission (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise SubmissionRejected(
            f"submission format version {str(document.get('version'))[:20]!r}; this labcheck reads version {VERSION}")
    if not depth_checked and _too_deep(document, MAX_DEPTH):
        raise SubmissionRejected(f"nested deeper than {MAX_DEPTH} levels")
    try:
        parsed = _Submission.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise SubmissionRejected(f"{where}: {error['msg'][:120]}") from None
    try:
        challenges.check_record(parsed.lab, document.get("challenge"))
    except ValueError as exc:
        raise SubmissionRejected(str(exc)) from None
    objects = sum(len(c.result) if c.op == "list" and isinstance(c.result, list) else 1
                  for c in parsed.evidence.calls if c.op in ("get", "list"))
    if objects > MAX_OBJECTS:
        raise SubmissionRejected(f"the evidence holds {objects} Kubernetes objects; a lab's reads come to tens "
                                 f"or hundreds (at most {MAX_OBJECTS})")
    if answers:
        check_answers(document)
    return document


def check_answers(document: dict[str, Any]) -> None:
    """Every answer in the evidence of the shape its question gets from a cluster (after check())."""
    for index, call in enumerate(_Evidence.model_validate(document["evidence"]).calls):
        _check_result(index, call)


def for_lab(document: dict[str, Any], lab: Lab, digest: str, accepted: frozenset[str] = frozenset()) -> None:
    """Refuse a submission for another lab (or challenge), or for a version of it the grader does not know."""
    if document["lab"] != lab.id:
        raise SubmissionRejected(f"this is a submission for {challenges.label(document['lab'])}, "
                                 f"not {challenges.label(lab.id)}")
    theirs = document["lab_digest"]
    if theirs != digest and short(theirs) not in accepted and theirs not in accepted:
        raise SubmissionRejected(
            f"made against another version of {challenges.label(lab.id)} (definition {short(theirs)}, labcheck "
            f"{document['labcheck']}); this labcheck grades {short(digest)}: ask for a new submission, "
            f"or accept it with --accept-lab-digest {short(theirs)}")


#: What grading a submission costs in memory at most, by what its bytes hold (measured with tracemalloc on
#: real and hostile files; tests/unit/test_grading_issue18.py holds it): the grading itself, the bytes
#: and their text, each JSON object or array.
COST_BASE = 1_500_000
COST_PER_BYTE = 6
COST_PER_CONTAINER = 420


def cost(size: int, containers_: int = 0) -> int:
    return COST_BASE + size * COST_PER_BYTE + containers_ * COST_PER_CONTAINER


def grade_file(lab: Lab, steps: list[Step], path: Path, *, key_text: str, digest: str, course_key: CourseKey | None,
               accepted: frozenset[str] = frozenset(), max_bytes: int = MAX_BYTES, budget=None) -> dict[str, Any]:
    """One learner's record from one file: ERROR with the reason when the file cannot be graded.

    `budget` (pool.Budget) bounds the memory of all files graded at once: this file holds what it may
    cost, from its size before it is read and from what it holds once read, until its grade is made."""
    from ..engine import run_step
    from .sameness import facts

    started = time.monotonic()
    learner, name, namespace, integrity = Path(path).stem, "", lab.namespace, "not checked"
    identity: dict[str, Any] = {"submission": None, "course_key": course_key.key_id if course_key else None}
    extra: dict[str, Any] = {"learner_from": "file name"}  # until the file says who
    held = budget.reserve(0) if budget is not None else None
    try:
        raw = read_bytes(path, max_bytes, on_size=(lambda size: held.grow(cost(size))) if held else None)
        identity["submission"] = "sha256:" + hashlib.sha256(raw).hexdigest()
        if held:
            held.grow(cost(len(raw), min(containers(raw), MAX_CONTAINERS)))
        document = parse(raw, answers=False)
        del raw
        learner, name, namespace = document["learner"]["id"], document["learner"].get("name", ""), document["namespace"]
        extra.update(submitted_at=document["submitted_at"], learner_from=None)
        try:
            integrity = verify(document, course_key)
        except SubmissionRejected:
            integrity = "rejected"
            raise
        check_answers(document)
        for_lab(document, lab, digest, accepted)
        if document.get("challenge") is not None:
            extra["challenge"] = challenges.gradebook_fields(lab, learner, document["challenge"])
        extra["fingerprint"] = facts(document["evidence"]["calls"], namespace)
        cluster = recorded.RecordedCluster(Path(path), document=document["evidence"])
        results = [run_step(lab, step, cluster, namespace=namespace) for step in steps]
    except SubmissionRejected as exc:
        return records.failed(lab, steps, key=key_text, learner=learner, name=name, source=str(path),
                              namespace=namespace, digest=digest, integrity=integrity, error=str(exc),
                              started=started, identity=identity, **extra)
    finally:
        if held:
            held.release()
    return records.graded(lab, steps, results, key=key_text, learner=learner, name=name, source=str(path),
                          namespace=namespace, digest=digest, integrity=integrity, started=started,
                          identity=identity, **extra)
