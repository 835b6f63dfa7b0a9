"""What an instructor's tools read: a CSV gradebook, JSON, JUnit XML, Gradescope results.json, and
import files for Canvas and Moodle.

Every file is written inside the output folder; a name that comes from a
learner (Gradescope writes one file per learner) is made safe first. Cells,
XML text and file names never carry control characters, and a CSV cell that
a spreadsheet would run as a formula is quoted as text. What a learner sees
(Gradescope) never names a path on the grader's machine.
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
from .challenge import hints_available, is_challenge, label, summary, title_of
from .records import NOT_GRADABLE, clean, stable

FORMATS = ("csv", "json", "junit", "gradescope", "canvas", "moodle")
FILES = {"csv": "grades.csv", "json": "grades.json", "junit": "grades.junit.xml", "gradescope": "results.json",
         "canvas": "canvas.csv", "moodle": "moodle.csv"}


def points_text(value: float) -> str:
    return f"{value:g}"


def step_column(lab: Lab, step: Step) -> str:
    return f"{lab.step_number(step)}-{step.id}"


def ordered(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows.values(), key=lambda r: (str(r.get("learner", "")).lower(), r["key"]))


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


def cell(value: Any) -> str:
    """A CSV cell from any text: no control characters, and never a formula in a spreadsheet."""
    text = clean(value, 2000) or ""
    # A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def note(row: dict[str, Any], *, learner_visible: bool = False) -> str:
    """What the gradebook says about a row besides its points, on one line (`learner_visible`: without
    the instructor's side of it, the files it supersedes)."""
    if row.get("note"):
        return row["note"]
    if row.get("error"):
        return row["error"]
    notes = []
    errors = [f"step {s['number']}: {c['summary']}" for s in row["steps"] if s["status"] == "ERROR"
              for c in s["checks"] if c["status"] == "ERROR"]
    notes.extend(errors[:2])
    if row.get("not_gradable"):
        numbers = [str(s["number"]) for s in row["steps"] if s["status"] == NOT_GRADABLE]
        notes.append(f"scored on {len(row['steps']) - len(numbers)} of {len(row['steps'])} steps: step(s) "
                     f"{', '.join(numbers)} not gradable here")
    if row.get("penalty"):
        notes.append(f"late by {row['late_by']}: -{points_text(row['penalty'])} of "
                     f"{points_text(row['total_before_penalty'])}")
    if row.get("superseded") and not learner_visible:
        notes.append(f"supersedes {', '.join(row['superseded'])}")
    return "; ".join(notes)


def _late(row: dict[str, Any]) -> str:
    if "late" not in row:
        return ""
    return {True: f"yes ({row.get('late_by', '')})", False: "no", None: "unknown"}[row["late"]]


#: A challenge's gradebook columns (after `max`), from the signed submission; a lab's CSV has none.
CHALLENGE_COLUMNS = ("hints", "minutes_to_fix", "gave_up")


def _challenge_cells(row: dict[str, Any]) -> list[str]:
    """hints used, minutes from start to fix (empty when not fixed), gave up; all empty without a
    signed challenge record (a file that could not be graded, a live learner, a missing one)."""
    fields = row.get("challenge")
    if not fields:
        return ["", "", ""]
    minutes = fields["minutes_to_fix"]
    return [str(fields["hints"]), "" if minutes is None else f"{minutes:g}", "yes" if fields["gave_up"] else "no"]


def render_csv(lab: Lab, steps: list[Step], rows: dict[str, dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    challenge = is_challenge(lab.id)
    writer.writerow(["learner", "name", "status", *(step_column(lab, s) for s in steps), "total", "max",
                     *(CHALLENGE_COLUMNS if challenge else ()),
                     "integrity", "late", "same_cluster_as", "not_gradable", "source", "note"])
    for row in ordered(rows):
        by_id = {s["id"]: s for s in row["steps"]}
        writer.writerow([cell(row["learner"]), cell(row["name"]), row["status"],
                         *("" if by_id.get(s.id, {}).get("status") == NOT_GRADABLE
                           else points_text(by_id.get(s.id, {}).get("points", 0)) for s in steps),
                         points_text(row["total"]), points_text(row["max_total"]),
                         *(_challenge_cells(row) if challenge else ()), row["integrity"], _late(row),
                         cell("; ".join(row.get("same_cluster_as") or [])),
                         " ".join(str(s["number"]) for s in row["steps"] if s["status"] == NOT_GRADABLE),
                         cell(row["source"]), cell(note(row))])
    return buffer.getvalue()


def render_json(lab: Lab, steps: list[Step], book, digest: str) -> str:
    document = {
        "format": "labcheck-grades",
        "version": 1,
        "labcheck": __version__,
        "lab": lab.id,
        "lab_title": lab.title,
        "lab_digest": digest,
        "steps": [{"number": lab.step_number(s), "id": s.id, "title": s.title, "points": s.points} for s in steps],
        "learners": [stable(r) for r in ordered(book.rows)],
        "superseded": book.superseded,
        "same_cluster": book.pair_text,
        "not_expected": book.unexpected,
    }
    if is_challenge(lab.id):  # each learner's own part is their record's "challenge"
        document["challenge"] = {"hints_available": hints_available(lab)}
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
    return next((c for c in step["checks"] if c["status"] in ("FAIL", "ERROR", NOT_GRADABLE)), None)


def render_junit(lab: Lab, steps: list[Step], rows: dict[str, dict[str, Any]]) -> str:
    from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

    xml = JUnitXml(name=f"labcheck {label(lab.id)}")
    prefix = "challenge" if is_challenge(lab.id) else "lab"
    for row in ordered(rows):
        suite = TestSuite(row["learner"])
        suite.add_property("source", row["source"] or "")
        suite.add_property("integrity", row["integrity"])
        suite.add_property("score", f"{points_text(row['total'])}/{points_text(row['max_total'])}")
        if row.get("challenge"):
            for name, value in zip(CHALLENGE_COLUMNS, _challenge_cells(row)):
                suite.add_property(name, value)
        for step in row["steps"]:
            case = TestCase(f"{step['number']:02d}-{step['id']}", classname=f"{prefix}{lab.id}.{row['learner']}")
            problem = _first_problem(step)
            message = (problem or {}).get("summary") or ""
            if step["status"] == "MISSING":
                case.result = [Failure("no submission")]
            elif step["status"] == "FAIL":
                case.result = [Failure(message)]
                case.result[0].text = _step_detail(step)
            elif step["status"] == "ERROR":
                case.result = [Error(message)]
                case.result[0].text = _step_detail(step)
            elif step["status"] in ("SKIP", NOT_GRADABLE):
                case.result = [Skipped(message)]
            suite.add_testcase(case)
        xml.add_testsuite(suite)
    text = xml.tostring()
    return (text.decode("utf-8") if isinstance(text, bytes) else text) + "\n"


# --- Gradescope -------------------------------------------------------------------------------


def _grader_paths(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Paths of the grader's machine a learner-visible text could hold, and what stands for them."""
    source = row.get("source") or ""
    if not source.startswith(("/", ".", "~")) and "/" not in source and "\\" not in source:
        return []
    path = Path(source)
    found = [(str(path), path.name), (str(path.absolute()), path.name), (str(path.parent.absolute()), "."),
             (str(path.parent), ".")]
    return sorted({(old, new) for old, new in found if len(old) > 1}, key=lambda pair: -len(pair[0]))


def _visible(text: str, paths: list[tuple[str, str]]) -> str:
    for old, new in paths:
        text = text.replace(old, new)
    return text


def gradescope_document(lab: Lab, row: dict[str, Any], visibility: dict[str, str] | None = None) -> dict[str, Any]:
    """One learner's results.json, with the keys Gradescope documents (autograder specifications).
    `visibility`: each step's, from lab.yaml (default visible)."""
    visibility = visibility or {s.id: s.visibility for s in lab.steps}
    paths = _grader_paths(row)
    tests = []
    for step in row["steps"]:
        gradable = step["status"] != NOT_GRADABLE
        if step["status"] == "PASS":
            output = "PASS: every check of this step passed."
        elif step["status"] == "ERROR":
            output = "ERROR: the grader could not judge this step (no points given; ask your instructor).\n"
            output += _step_detail(step)
        elif not gradable:
            output = "NOT GRADED: this step could not be looked at from where the grader ran; it does not count.\n"
            output += _step_detail(step)
        else:
            output = "FAIL\n" + _step_detail(step)
        tests.append({
            "name": f"Step {step['number']}: {step['title']}",
            "number": str(step["number"]),
            "score": step["points"],
            "max_score": step["max_points"] if gradable else 0,
            "status": "passed" if step["status"] == "PASS" else "failed",
            "output": _visible(output, paths),
            "visibility": visibility.get(step["id"], "visible"),
        })
    text = (f"{label(lab.id).capitalize()} ({lab.title}): {points_text(row['total'])}/"
            f"{points_text(row['max_total'])} points, graded by labcheck {__version__}.")
    if row.get("challenge"):
        text += f"\nYour challenge record: {summary(row['challenge'])}."
    if row.get("not_gradable"):
        text += f"\n{len(row['not_gradable'])} step(s) could not be graded here and do not count."
    if row.get("penalty"):
        text += f"\nLate by {row['late_by']}: {points_text(row['penalty'])} point(s) off."
    if row.get("error"):
        text += f"\nCould not be graded: {_visible(row['error'], paths)}"
    return {"score": row["total"], "output": text, "visibility": "visible", "stdout_visibility": "hidden",
            "tests": tests}


def gradescope_names(rows: list[dict[str, Any]]) -> dict[str, str]:
    """A folder name per row (by key), from its learner id, never two alike (not even by case)."""
    names = {row["key"]: safe_name(row["learner"]) for row in rows}
    taken: dict[str, list[str]] = {}
    for key, name in names.items():
        taken.setdefault(name.lower(), []).append(key)
    for keys in taken.values():
        if len(keys) > 1:
            for key in keys:
                names[key] += "-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    return names


def write_gradescope(folder: Path, lab: Lab, rows: dict[str, dict[str, Any]]) -> list[Path]:
    """results.json where Gradescope looks; with several learners also gradescope/<learner>/results.json each.

    In a Gradescope autograder run the upload is one learner's: several learners in it is a mistake
    the learner must see, so the top results.json then says so (score 0) rather than being left out."""
    graded = [row for row in ordered(rows) if row["status"] != "MISSING"]
    written = []
    top = inside(folder, FILES["gradescope"])
    if len(graded) == 1:
        atomic_write(top, json.dumps(gradescope_document(lab, graded[0]), indent=1, ensure_ascii=False) + "\n")
        return [top]
    names = gradescope_names(graded)
    for row in graded:
        path = inside(folder, f"gradescope/{names[row['key']]}/results.json")
        atomic_write(path, json.dumps(gradescope_document(lab, row), indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    learners = sorted({row["learner"] for row in graded})
    notice = {"score": 0, "visibility": "visible", "stdout_visibility": "hidden", "tests": [],
              "output": (f"{label(lab.id).capitalize()}: this upload holds the submissions of {len(learners)} learners "
                         f"({', '.join(learners[:5])}{', ...' if len(learners) > 5 else ''}), so it was not graded "
                         "as one. Hand in only your own submission file.") if graded else
              f"{label(lab.id).capitalize()}: this upload holds no submission file (*.json) labcheck could read."}
    atomic_write(top, json.dumps(notice, indent=1, ensure_ascii=False) + "\n")
    return [top, *written]


# --- learning management systems ---------------------------------------------------------------


def _lms_score(row: dict[str, Any]) -> str:
    """Points for an LMS; blank for a row that could not be graded (an LMS keeps blank cells as they were)."""
    if row["status"] == "ERROR":
        return ""
    return points_text(row["total"])


def render_canvas(lab: Lab, steps: list[Step], rows: dict[str, dict[str, Any]]) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment.
    Learner ids go in SIS Login ID (Canvas matches a row by it); the Points Possible row is Canvas's own."""
    assignment = title_of(lab)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", cell(assignment)])
    writer.writerow(["Points Possible", "", "", "", "", points_text(sum(s.points for s in steps))])
    for row in ordered(rows):
        writer.writerow([cell(row["name"]), "", "", cell(row["learner"]), "", _lms_score(row)])
    return buffer.getvalue()


def render_moodle(lab: Lab, steps: list[Step], rows: dict[str, dict[str, Any]]) -> str:
    """Moodle's grade import (CSV): map `username` to the user, the grade column to the grade item, and
    `feedback` to its feedback."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["username", cell(title_of(lab)), "feedback"])
    for row in ordered(rows):
        feedback = f"{row['status']}: {points_text(row['total'])}/{points_text(row['max_total'])}"
        if row.get("challenge"):
            feedback += f" ({summary(row['challenge'])})"
        extra = note(row, learner_visible=True) if row["status"] != "ERROR" else "could not be graded; your instructor will look"
        writer.writerow([cell(row["learner"]), _lms_score(row),
                         cell(_visible(f"{feedback}. {extra}" if extra else feedback, _grader_paths(row)))])
    return buffer.getvalue()


def write_outputs(folder: Path, formats: list[str], lab: Lab, steps: list[Step], book, digest: str) -> list[Path]:
    written: list[Path] = []
    rows = book.rows
    for fmt in formats:
        if fmt == "gradescope":
            written.extend(write_gradescope(folder, lab, rows))
            continue
        text = {"csv": lambda: render_csv(lab, steps, rows),
                "json": lambda: render_json(lab, steps, book, digest),
                "junit": lambda: render_junit(lab, steps, rows),
                "canvas": lambda: render_canvas(lab, steps, rows),
                "moodle": lambda: render_moodle(lab, steps, rows)}[fmt]()
        path = inside(folder, FILES[fmt])
        atomic_write(path, text)
        written.append(path)
    return written
