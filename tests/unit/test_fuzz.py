"""Fuzzing the two files a person hands to labcheck: lab definitions and recorded evidence.

Hypothesis generates at least 1,000 of each, starting from lab 01's real
files: unchanged, mutated (keys dropped, values of the wrong type, operators
and probes that cannot work), truncated, garbled, non-UTF-8, huge, and a few
hostile YAML/JSON shapes (alias bombs, cycles, deep nesting). `labcheck lint`
must exit 0 or 4 and `labcheck check --from` 0, 1 or 3, always with a plain
message: never a traceback, never an "internal error". main() runs in this
process, so each case costs milliseconds; the counts are printed with the run.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labcheck.errors import ExitStatus
from tests.conftest import REPO, call_main

LAB01 = REPO / "labs" / "01-pod-shared-network"
LAB_TEXT = (LAB01 / "lab.yaml").read_text(encoding="utf-8")
LAB_DATA = yaml.safe_load(LAB_TEXT)
EVIDENCE = {p.name: p.read_text(encoding="utf-8") for p in sorted((LAB01 / "evidence").glob("*.json"))}


@lru_cache(maxsize=None)
def fresh_evidence() -> dict[str, str]:
    """Evidence recorded just now, by the current checks, from an in-memory cluster: always gradable.

    (The stored evidence/ files are real recordings, but they lag behind a change to
    the checks until they are recorded again; these never do.)
    """
    from labcheck.cluster.recorded import RecordingCluster
    from labcheck.engine import run_step
    from labcheck.loader import find_lab
    from tests.conftest import ARTICLE_POD, FakeCluster

    lab = find_lab("01")
    folder = Path(tempfile.mkdtemp(prefix="labcheck-fuzz-"))
    documents = {}
    for name, objects, step in (("create-pod.solved", [ARTICLE_POD], "create-pod"),
                                ("create-pod.unsolved", [], "create-pod"),
                                ("containers-ready.unsolved", [ARTICLE_POD], "containers-ready")):
        recording = RecordingCluster(FakeCluster(objects))
        run_step(lab, lab.step(step), recording, wait=0)
        recording.save(folder / name, {"lab": "01", "steps": [step]})
        documents[name] = (folder / name).read_text(encoding="utf-8")
    shutil.rmtree(folder)
    return documents
CASES = 1000

SETTINGS = settings(
    max_examples=CASES,
    derandomize=True,  # the same cases on every run and machine
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# --- values and mutations ---------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["", "$regex", "$exists", "$oneOf", "$nope", "(", "[a-", "kind", "apiVersion", "v1", "apps/v1", "Pod",
     "Deployment", "metadata", "name", "status", "stauts", "exec", "http", "logs", "01", "lab01"])
SCALARS = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=10)
# Values that look almost right: the mistakes lint and the grader must both survive.
NEAR_MISSES = st.sampled_from([
    {"$regex": "("}, {"$exist": True}, {"$oneOf": []}, {"$regex": "x", "name": "y"}, {"$contains": None},
    {"kind": "Deployment", "metadata": {"name": "web"}}, {"apiVersion": "v1", "kind": "NetworkPolicy"},
    {"exec": {"pod": "p", "command": ["true"]}, "http": {"pod": "p", "url": "http://x"}},
    {"expect": {"exit_code": None}}, {"logs": {"pod": "p"}}, {"stauts": {"phase": "Running"}},
    {"op": "get", "args": {}, "result": []}, {"op": "exec_in_pod", "args": {}, "result": "x"},
    {"raises": ["x"], "op": "get", "args": {}}, {"metadata": None}, {"metadata": {"name": 7}},
    {"returncode": True, "args": "x", "stdout": 1}, [], {}, None, "", 10**30, -1, float("inf"),
]).map(copy.deepcopy)  # a fresh copy each time: mutations must never share (or loop through) one value


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON-like document, the root included."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, prefix + (index,))
    return found


def parent_of(document: Any, path: tuple) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


@st.composite
def mutated(draw, base: Any) -> Any:
    """The document with one to four random edits: drop, replace, add or duplicate something."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        places = [p for p in paths(document) if p]
        if not places:
            return draw(VALUES | NEAR_MISSES)
        place = draw(st.sampled_from(places))
        parent, last = parent_of(document, place), place[-1]
        action = draw(st.sampled_from(["drop", "replace", "add", "duplicate"]))
        if action == "drop":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(VALUES | NEAR_MISSES)
        elif action == "add" and isinstance(parent[last], dict):
            parent[last][draw(TEXT)] = draw(VALUES | NEAR_MISSES)
        elif action == "add" and isinstance(parent[last], list):
            parent[last].append(draw(VALUES | NEAR_MISSES))
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return document


@st.composite
def damaged_text(draw, text: str) -> tuple[str, bytes]:
    """Text damaged as files are: cut short, garbled, not UTF-8, or grown huge."""
    how = draw(st.sampled_from(["truncated", "garbled", "non-utf8", "huge"]))
    data = text.encode("utf-8")
    if how == "truncated":
        return how, data[: draw(st.integers(0, len(data)))]
    if how == "garbled":
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 40)))
        return how, (text[:start] + draw(st.text(max_size=20)) + text[end:]).encode("utf-8", "surrogatepass")
    if how == "non-utf8":
        at = draw(st.integers(0, len(data)))
        return how, data[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80", b"\xfe\xff"])) \
            + data[at:]
    # huge: a long line in the middle of the file
    at = text.find("title:") if "title:" in text else text.find('"recorded_at"')
    filler = draw(st.sampled_from(["x", "é", "ab "])) * draw(st.integers(100_000, 400_000))
    return how, (text[:at] + (f"title: {filler}\n" if "title:" in text else f'"filler": "{filler}", ')
                 + text[at:] if at >= 0 else text + filler).encode("utf-8")


# --- lab files ----------------------------------------------------------------------------

HOSTILE_YAML = [
    "a: &a [*a]\n",  # a cycle
    "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "steps: [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n",  # an alias bomb
    "[" * 5000 + "]" * 5000,
    "{a: " * 3000 + "1" + "}" * 3000,
    "!!python/object/apply:os.system [echo hi]\n",
    "id: !!binary aGVsbG8=\n", "? [a, b]\n: c\n", "\x00\n", "\ufeffformat: 1\n", "--- 1\n--- 2\n", "",
    LAB_TEXT.replace("\n", "\r\n"), LAB_TEXT.replace("  ", "\t", 3), "id: 01\n" + LAB_TEXT,
    LAB_TEXT + "\nsteps: []\n",
]


def to_yaml(value: Any) -> str:
    # libyaml's emitter: PyYAML's pure-Python one would take most of this test's time.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(value, Dumper=dumper, allow_unicode=True, sort_keys=False)


@st.composite
def lab_files(draw) -> tuple[str, bytes]:
    how = draw(st.sampled_from(["valid", "mutated", "mutated", "mutated", "damaged", "random", "hostile"]))
    if how == "valid":
        return how, LAB_TEXT.encode("utf-8")
    if how == "mutated":
        return how, to_yaml(draw(mutated(LAB_DATA))).encode("utf-8")
    if how == "damaged":
        return draw(damaged_text(LAB_TEXT))
    if how == "random":
        return how, to_yaml(draw(VALUES)).encode("utf-8")
    return how, draw(st.sampled_from(HOSTILE_YAML)).encode("utf-8", "surrogatepass")


def fuzz(strategy, path: Path, args: list[str], exits: tuple[int, ...], capsys, judge=None) -> Counter[int]:
    """Run `labcheck ARGS` on each generated file written to PATH; print and return the exit codes seen."""
    counts: Counter[str] = Counter()
    codes: Counter[int] = Counter()

    @SETTINGS
    @given(strategy)
    def one(case: tuple[str, bytes]) -> None:
        how, content = case
        path.write_bytes(content)
        code, out, err = call_main(capsys, *args)
        assert code in exits, (how, code, err[-2000:])
        assert "Traceback" not in err and "internal error" not in err, (how, err[-2000:])
        if judge:
            judge(how, code, out)
        counts[how] += 1
        codes[code] += 1

    one()
    total = sum(counts.values())
    with capsys.disabled():
        print(f"\n  fuzz: `labcheck {' '.join(args[:-1])}` ran on {total} generated files {dict(counts)}; "
              f"exit codes {dict(codes)}")
    assert total >= CASES
    return codes


def test_lint_survives_generated_lab_files(tmp_path, capsys):
    folder = tmp_path / "labs" / LAB01.name
    shutil.copytree(LAB01, folder, ignore=shutil.ignore_patterns("evidence", "__pycache__", "lab.yaml"))
    path = folder / "lab.yaml"

    def judge(how: str, code: int, out: str) -> None:
        if how == "valid":
            assert code == ExitStatus.PASSED, out
        if code == ExitStatus.INVALID_LAB:  # each problem is one file:line: message
            assert out.strip() and all(":" in line for line in out.strip().splitlines()), out

    codes = fuzz(lab_files(), path, ["lint", str(path)], (0, 4), capsys, judge)
    assert codes[ExitStatus.PASSED] and codes[ExitStatus.INVALID_LAB]


# --- evidence files ---------------------------------------------------------------------------

HOSTILE_JSON = [
    "[" * 100_000 + "]" * 100_000,
    '{"format": "labcheck-evidence", "version": 1, "lab": "01", "steps": ["create-pod"], "calls": NaN}',
    '{"format": "labcheck-evidence", "version": 1e400, "calls": []}',
    '{"format": "labcheck-evidence", "version": 1, "lab": "01", "steps": ["create-pod"], "calls": [], "calls": {}}',
    "null", "[]", '"labcheck-evidence"', "", "\ufeff{}",
]


@st.composite
def evidence_files(draw) -> tuple[str, bytes]:
    how = draw(st.sampled_from(["valid", "valid-fresh", "mutated", "mutated", "mutated", "wrong-types", "damaged",
                                "random", "hostile"]))
    documents = {**EVIDENCE, **fresh_evidence()}
    name = draw(st.sampled_from(sorted(fresh_evidence() if how == "valid-fresh" else documents)))
    text = documents[name]
    if how.startswith("valid"):
        return how, text.encode("utf-8")
    if how == "mutated":
        return how, json.dumps(draw(mutated(json.loads(text)))).encode("utf-8")
    if how == "wrong-types":
        document = json.loads(text)
        calls = document["calls"]
        index = draw(st.integers(0, len(calls) - 1))
        field = draw(st.sampled_from(["result", "args", "op", "raises", "message"]))
        calls[index][field] = draw(VALUES | NEAR_MISSES)
        return how, json.dumps(document).encode("utf-8")
    if how == "damaged":
        return draw(damaged_text(text))
    if how == "random":
        return how, json.dumps(draw(VALUES)).encode("utf-8")
    return how, draw(st.sampled_from(HOSTILE_JSON)).encode("utf-8")


def test_check_from_survives_generated_evidence_files(tmp_path, capsys, isolated_env):
    path = tmp_path / "evidence.json"

    def judge(how: str, code: int, out: str) -> None:
        if how == "valid-fresh":
            assert code in (ExitStatus.PASSED, ExitStatus.FAILED), out  # evidence the current checks recorded always grades

    codes = fuzz(evidence_files(), path, ["check", "--from", str(path)], (0, 1, 3), capsys, judge)
    assert codes[ExitStatus.PASSED] and codes[ExitStatus.FAILED] and codes[ExitStatus.CANNOT_GRADE]  # the cases reach grading: passes, failures and errors


# --- what the fuzzing found, pinned ---------------------------------------------------------


def test_a_damaged_answer_in_evidence_is_an_error_naming_it(tmp_path, capsys, isolated_env):
    """An answer of the wrong shape is ERROR (the grader cannot judge), named, not a crash inside a check."""
    document = json.loads(fresh_evidence()["create-pod.solved"])
    read_pod = next(c for c in document["calls"] if c["op"] in ("get", "list") and c["args"]["kind"] == "Pod")
    read_pod["result"] = ["not", "an", "object"]
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(document))
    code, out, _err = call_main(capsys, "check", "--from", str(path))
    out = " ".join(out.split())
    assert code == ExitStatus.CANNOT_GRADE
    assert f"the evidence file's answer to {read_pod['op']}(" in out and "is damaged (a list of the wrong shape)" in out


def test_lint_messages_stay_on_one_line(tmp_path):
    """A key holding a line separator (\\x1e, \\u2028) is escaped, so each problem is one line."""
    from labcheck.loader import lint

    folder = tmp_path / "labs" / LAB01.name
    shutil.copytree(LAB01, folder, ignore=shutil.ignore_patterns("evidence", "__pycache__"))
    path = folder / "lab.yaml"
    path.write_text(LAB_TEXT.replace("    title: Two containers share a volume",
                                     '    title: Two containers share a volume\n    "x\\x1ey\\u2028": 1'))
    problems = [str(p) for p in lint([path]) if p.severity == "error"]
    assert len(problems) == 1 and len(problems[0].splitlines()) == 1
    assert problems[0].endswith(r"steps.4.x\x1ey\u2028: unknown field")


@pytest.mark.parametrize("text, said", [
    (HOSTILE_YAML[0], "YAML aliases make this file refer to itself"),
    (HOSTILE_YAML[1], "expand past 200000 values"),
    ("title: caf\xe9\n", "not UTF-8 text (byte 0xe9)"),
])
def test_hostile_lab_files_are_one_problem(tmp_path, text, said):
    from labcheck.loader import lint

    folder = tmp_path / "labs" / LAB01.name
    folder.mkdir(parents=True)
    path = folder / "lab.yaml"
    path.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    problems = [str(p) for p in lint([path]) if p.severity == "error"]
    assert len(problems) == 1 and said in problems[0], problems
