"""What an instructor's tools read: a CSV gradebook, JSON, JUnit XML, Gradescope results.json.

Every file is written inside the output folder; a name that comes from a
learner (Gradescope writes one file per learner) is made safe first. Cells,
XML text and file names never carry control characters, and a CSV cell that
a spreadsheet would run as a formula is quoted as text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from .. import __version__
from ..model import Lab, Step
from .records import clean, stable

FORMATS = ("csv", "json", "junit", "gradescope")
FILES = {"csv": "grades.csv", "json": "grades.json", "junit": "grades.junit.xml", "gradescope": "results.json"}


def points_text(value: float) -> str:
    return f"{value:g}"


def step_column(lab: Lab, step: Step) -> str:
    return f"{lab.step_number(step)}-{step.id}"


def ordered(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records.values(), key=lambda r: (str(r.get("learner", "")).lower(), r["key"]))


def inside(folder: Path, name: str) -> Path:
    """folder/name, refusing any name that would land outside the folder."""
    folder = folder.resolve()
    path = (folder / name).resolve()
    if path.parent != folder and folder not in path.parents:
        raise ValueError(f"refusing to write {name!r} outside {folder}")
    return path


def safe_name(text: str) -> str:
    """A file name from a learner id: [A-Za-z0-9._-], no leading dot, and a hash when anything changed."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:64].lstrip(".") or "learner"
    if name != text:
        name += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return name


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _cell(value: Any) -> str:
    text = clean(value, 2000) or ""
    # A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _note(record: dict[str, Any], duplicates: dict[str, list[str]]) -> str:
    if record.get("error"):
        return record["error"]
    notes = []
    errors = [f"step {s['number']}: {c['summary']}" for s in record["steps"] if s["status"] == "ERROR"
              for c in s["checks"] if c["status"] == "ERROR"]
    notes.extend(errors[:2])
    others = [k for k in duplicates.get(record["learner"], []) if k != record["key"]]
    if others:
        notes.append(f"learner id also in {', '.join(k.split(':', 1)[-1] for k in others)}")
    return "; ".join(notes)


def duplicate_learners(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    by_learner: dict[str, list[str]] = {}
    for record in records:
        by_learner.setdefault(record["learner"], []).append(record["key"])
    return {learner: keys for learner, keys in by_learner.items() if len(keys) > 1}


def render_csv(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]]) -> str:
    rows = ordered(records)
    duplicates = duplicate_learners(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["learner", "name", "status", *(step_column(lab, s) for s in steps), "total", "max",
                     "integrity", "source", "note"])
    for record in rows:
        earned = {s["id"]: s["points"] for s in record["steps"]}
        writer.writerow([_cell(record["learner"]), _cell(record["name"]), record["status"],
                         *(points_text(earned.get(s.id, 0)) for s in steps),
                         points_text(record["total"]), points_text(record["max_total"]),
                         record["integrity"], _cell(record["source"]), _cell(_note(record, duplicates))])
    return buffer.getvalue()


def render_json(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]], digest: str) -> str:
    document = {
        "format": "labcheck-grades",
        "version": 1,
        "labcheck": __version__,
        "lab": lab.id,
        "lab_title": lab.title,
        "lab_digest": digest,
        "steps": [{"number": lab.step_number(s), "id": s.id, "title": s.title, "points": s.points} for s in steps],
        "learners": [stable(r) for r in ordered(records)],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def _step_detail(step: dict[str, Any]) -> str:
    lines = []
    for check in step["checks"]:
        lines.append(f"{check['status']:<5} {check['id']}: {check['summary'] or ''}")
        for label in ("expected", "observed", "cause"):
            if check.get(label) and check["status"] == "FAIL":
                lines.append(f"      {'likely cause' if label == 'cause' else label}: {check[label]}")
    return "\n".join(lines)


def _first_problem(step: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in step["checks"] if c["status"] in ("FAIL", "ERROR")), None)


def render_junit(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]]) -> str:
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

    xml = JUnitXml(name=f"labcheck lab {lab.id}")
    for record in ordered(records):
        suite = TestSuite(record["learner"])
        suite.add_property("source", record["source"] or "")
        suite.add_property("integrity", record["integrity"])
        suite.add_property("score", f"{points_text(record['total'])}/{points_text(record['max_total'])}")
        for step in record["steps"]:
            case = TestCase(f"{step['number']:02d}-{step['id']}", classname=f"lab{lab.id}.{record['learner']}")
            problem = _first_problem(step)
            message = (problem or {}).get("summary") or ""
            if step["status"] == "FAIL":
                case.result = [Failure(message)]
                case.result[0].text = _step_detail(step)
            elif step["status"] == "ERROR":
                case.result = [Error(message)]
                case.result[0].text = _step_detail(step)
            elif step["status"] == "SKIP":
                case.result = [Skipped(message)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    text = xml.tostring()
    return (text.decode("utf-8") if isinstance(text, bytes) else text) + "\n"


def gradescope_document(lab: Lab, record: dict[str, Any]) -> dict[str, Any]:
    """One learner's results.json, with the keys Gradescope documents (autograder specifications)."""
    tests = []
    for step in record["steps"]:
        if step["status"] == "PASS":
            output = "PASS: every check of this step passed."
        elif step["status"] == "ERROR":
            output = "ERROR: the grader could not judge this step (no points given; ask your instructor).\n"
            output += _step_detail(step)
        else:
            output = "FAIL\n" + _step_detail(step)
        tests.append({
            "name": f"Step {step['number']}: {step['title']}",
            "number": str(step["number"]),
            "score": step["points"],
            "max_score": step["max_points"],
            "status": "passed" if step["status"] == "PASS" else "failed",
            "output": output,
            "visibility": "visible",
        })
    summary = (f"Lab {lab.id} ({lab.title}): {points_text(record['total'])}/{points_text(record['max_total'])} "
               f"points, graded by labcheck {__version__} from {record['source']}.")
    if record.get("error"):
        summary += f"\nCould not be graded: {record['error']}"
    return {"score": record["total"], "output": summary, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def write_gradescope(folder: Path, lab: Lab, records: dict[str, dict[str, Any]]) -> list[Path]:
    """One learner: folder/results.json (where Gradescope looks); several: gradescope/<learner>/results.json."""
    rows = ordered(records)
    written = []
    for record in rows:
        if len(rows) == 1:
            path = inside(folder, FILES["gradescope"])
        else:
            path = inside(folder, f"gradescope/{safe_name(record['learner'])}/results.json")
        atomic_write(path, json.dumps(gradescope_document(lab, record), indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def write_outputs(folder: Path, formats: list[str], lab: Lab, steps: list[Step],
                  records: dict[str, dict[str, Any]], digest: str) -> list[Path]:
    written: list[Path] = []
    for fmt in formats:
        if fmt == "gradescope":
            written.extend(write_gradescope(folder, lab, records))
            continue
        text = {"csv": lambda: render_csv(lab, steps, records),
                "json": lambda: render_json(lab, steps, records, digest),
                "junit": lambda: render_junit(lab, steps, records)}[fmt]()
        path = inside(folder, FILES[fmt])
        atomic_write(path, text)
        written.append(path)
    return written
