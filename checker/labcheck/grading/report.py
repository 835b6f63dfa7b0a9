"""The class report: per step, how many passed, and what to re-teach; then the course's business.

For each step: learners graded, passed, failed, could not be graded, not
gradable here; the check that most often stopped a learner (the first failing
check of the step), and the cause it most often gave. Causes name the learner's
namespace; it is replaced by <namespace> so the same mistake counts as one.
Then: submissions superseded by a later one, pairs of submissions from one
cluster, learners with no submission or not on the expected list, late ones.

The HTML page is one file with no script: a bar per step, a histogram of
scores and a row per learner. Every text in it that a learner could have
written (ids, names, anything from evidence) is escaped.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model import Lab, Step
from .challenge import class_summary, is_challenge, summary, title_of
from .outputs import note, points_text
from .records import NOT_GRADABLE


@dataclass
class StepStats:
    number: int
    id: str
    title: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    not_gradable: int = 0
    blockers: Counter = field(default_factory=Counter)
    causes: dict[str, Counter] = field(default_factory=dict)
    why_not_gradable: Counter = field(default_factory=Counter)

    @property
    def graded(self) -> int:
        return self.passed + self.failed

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0

    def top(self) -> tuple[str, int, str] | None:
        """(check id, learners it stopped, its most common cause)."""
        if not self.blockers:
            return None
        check, count = self.blockers.most_common(1)[0]
        cause = self.causes[check].most_common(1)[0][0] if self.causes.get(check) else ""
        return check, count, cause


def class_stats(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]]) -> list[StepStats]:
    stats = {s.id: StepStats(lab.step_number(s), s.id, s.title) for s in steps}
    for record in records.values():
        if record["status"] == "MISSING":
            continue
        namespace = record.get("namespace") or ""
        for step in record["steps"]:
            entry = stats.get(step["id"])
            if entry is None:
                continue
            if step["status"] == "PASS":
                entry.passed += 1
            elif step["status"] == "ERROR":
                entry.errors += 1
            elif step["status"] == NOT_GRADABLE:
                entry.not_gradable += 1
                why = next((c["summary"] for c in step["checks"] if c["status"] == NOT_GRADABLE), "")
                entry.why_not_gradable[(why or "").replace(namespace, "<namespace>") if namespace else why] += 1
            else:
                entry.failed += 1
                blocker = next((c for c in step["checks"] if c["status"] == "FAIL"), None)
                if blocker:
                    entry.blockers[blocker["id"]] += 1
                    cause = blocker.get("cause") or blocker.get("summary") or ""
                    if namespace:
                        cause = cause.replace(namespace, "<namespace>")
                    entry.causes.setdefault(blocker["id"], Counter())[cause] += 1
    return [stats[s.id] for s in steps]


def _totals(rows: dict[str, dict[str, Any]]) -> Counter:
    totals = Counter(r["status"] for r in rows.values())
    totals["learners"] = len(rows)
    return totals


def _summary(rows: dict[str, dict[str, Any]]) -> str:
    totals = _totals(rows)
    text = (f"{totals['learners']} learners: {totals['PASS']} passed every step, {totals['FAIL']} did not, "
            f"{totals['ERROR']} could not be fully graded")
    if totals["MISSING"]:
        text += f", {totals['MISSING']} handed in nothing"
    if totals[NOT_GRADABLE]:
        text += f", {totals[NOT_GRADABLE]} had no step gradable here"
    return text + "."


def _scored(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows.values() if r["status"] not in ("MISSING", NOT_GRADABLE) and r["max_total"]]


def histogram(rows: dict[str, dict[str, Any]], buckets: int = 10) -> list[tuple[str, int]]:
    """(range of the score in percent, learners) from 0-10% to 90-100%; a full score counts in the last."""
    counts = [0] * buckets
    for row in _scored(rows):
        share = row["total"] / row["max_total"]
        counts[min(buckets - 1, int(share * buckets))] += 1
    width = 100 // buckets
    return [(f"{i * width}-{(i + 1) * width}%", count) for i, count in enumerate(counts)]


def course_sections(book, rules) -> list[tuple[str, list[str]]]:
    """(heading, lines) of what the course's rules found, for both renderings."""
    sections = []
    if book.superseded:
        sections.append(("Superseded submissions (the latest signed submitted_at counts)", [
            f"{e['learner']}: counted {e['source'] or 'a later file'} ({e['submitted_at'] or 'time unknown'}); "
            + "; ".join(f"superseded {d['source'] or 'a file'} ({d['why']})" for d in e["dropped"])
            for e in book.superseded]))
    if book.pair_text:
        sections.append(("Submissions from one cluster (same-cluster facts in their evidence)", book.pair_text))
    missing = sorted(r["learner"] for r in book.rows.values() if r["status"] == "MISSING")
    if missing:
        sections.append((f"No submission ({len(missing)})", [", ".join(missing)]))
    if book.unexpected:
        sections.append((f"Not on the expected list ({len(book.unexpected)})", [", ".join(book.unexpected)]))
    if rules is not None and rules.due is not None:
        late = [r for r in book.rows.values() if r.get("late")]
        penalty = f", penalty {rules.penalty}" if rules.penalty else ""
        sections.append((f"Late (due {rules.due.isoformat()}{penalty}): {len(late)}",
                         [f"{r['learner']}: late by {r['late_by']}" + (
                             f", -{points_text(r['penalty'])} point(s)" if r.get("penalty") else "")
                          for r in sorted(late, key=lambda r: r["learner"])]))
    return sections


def render_text(lab: Lab, steps: list[Step], book, rules=None) -> str:
    rows = book.rows
    lines = [title_of(lab), _summary(rows)]
    if class_summary(rows):
        lines.append(class_summary(rows))
    scored = _scored(rows)
    if scored:
        average = sum(r["total"] for r in scored) / len(scored)
        top = max(r["max_total"] for r in scored)
        lines.append(f"Average score {average:.2f} of {points_text(top)}.")
    lines.append("")
    for entry in class_stats(lab, steps, rows):
        line = f"step {entry.number} {entry.id}: {entry.passed}/{entry.graded} passed"
        if entry.graded:
            line += f" ({entry.rate:.0%})"
        if entry.errors:
            line += f", {entry.errors} not graded"
        if entry.not_gradable:
            line += f", {entry.not_gradable} not gradable here (not counted)"
        lines.append(line)
        top = entry.top()
        if top:
            check, count, cause = top
            lines.append(f"    most often stopped at: {check} ({count} learner{'s' if count != 1 else ''})")
            if cause:
                lines.append(f"    typical cause: {cause}")
        if entry.why_not_gradable:
            lines.append(f"    not gradable here: {entry.why_not_gradable.most_common(1)[0][0]}")
    for heading, items in course_sections(book, rules):
        lines += ["", heading + ":"] + [f"    {item}" for item in items]
    return "\n".join(lines) + "\n"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 80rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
.bar {{ display: flex; width: 18rem; height: 1.1rem; background: #eee; }}
.bar span {{ display: block; height: 100%; }}
.pass {{ background: #2e7d32; }} .fail {{ background: #c62828; }} .error {{ background: #757575; }}
.notgradable {{ background: #90caf9; }}
.legend span {{ display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem; }}
.histogram {{ display: flex; align-items: flex-end; gap: .3rem; height: 8rem; margin: 1rem 0 .2rem; }}
.histogram div {{ flex: 1; background: #1565c0; min-height: 1px; }}
.histogram-axis {{ display: flex; gap: .3rem; font-size: .8rem; color: #555; margin-bottom: 2rem; }}
.histogram-axis span {{ flex: 1; text-align: center; }}
td.s {{ font-family: monospace; white-space: nowrap; }}
small {{ color: #555; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{summary}</p>{challenge}
<p class="legend"><span class="pass"></span>passed <span class="fail"></span>failed
<span class="error"></span>could not be graded <span class="notgradable"></span>not gradable here</p>
<table>
<tr><th>step</th><th>learners</th><th>passed</th><th>most often stopped at</th></tr>
{rows}
</table>
<h2>Scores</h2>
<div class="histogram">{histogram}</div>
<div class="histogram-axis">{axis}</div>
{sections}
<h2>Learners</h2>
<table>
<tr><th>learner</th><th>name</th><th>status</th><th>score</th><th>steps</th>{challenge_head}<th>late</th><th>note</th></tr>
{learners}
</table>
</body></html>
"""

_MARK = {"PASS": "✓", "FAIL": "✗", "ERROR": "!", "SKIP": "-", NOT_GRADABLE: "·", "MISSING": " "}


def render_html(lab: Lab, steps: list[Step], book, rules=None) -> str:
    rows_ = book.rows
    e = lambda text: html.escape(str(text if text is not None else ""), quote=True)  # noqa: E731
    rows = []
    for entry in class_stats(lab, steps, rows_):
        everyone = entry.graded + entry.errors + entry.not_gradable or 1
        bar = "".join(
            f'<span class="{css}" style="width:{100 * count / everyone:.1f}%" title="{count} {word}"></span>'
            for css, count, word in (("pass", entry.passed, "passed"), ("fail", entry.failed, "failed"),
                                     ("error", entry.errors, "not graded"),
                                     ("notgradable", entry.not_gradable, "not gradable here")) if count)
        top = entry.top()
        stopped = ""
        if top:
            check, count, cause = top
            stopped = f"<code>{e(check)}</code> ({count})"
            if cause:
                stopped += f"<br><small>{e(cause)}</small>"
        rows.append(
            f"<tr><td>{entry.number}. {e(entry.title)}<br><small>{e(entry.id)}</small></td>"
            f'<td><div class="bar">{bar}</div></td>'
            f"<td>{entry.passed}/{entry.graded}" + (f" ({entry.rate:.0%})" if entry.graded else "")
            + (f"<br><small>{entry.errors} not graded</small>" if entry.errors else "")
            + (f"<br><small>{entry.not_gradable} not gradable here</small>" if entry.not_gradable else "")
            + f"</td><td>{stopped}</td></tr>")
    buckets = histogram(rows_)
    tallest = max((count for _range, count in buckets), default=0) or 1
    bars = "".join(f'<div style="height:{100 * count / tallest:.0f}%" title="{e(label)}: {count} learner(s)">'
                   f"</div>" for label, count in buckets)
    axis = "".join(f"<span>{e(label)}<br>{count}</span>" for label, count in buckets)
    sections = "".join(f"<h2>{e(heading)}</h2><ul>" + "".join(f"<li>{e(item)}</li>" for item in items) + "</ul>"
                       for heading, items in course_sections(book, rules))
    learners = []
    challenge = is_challenge(lab.id)
    for row in sorted(rows_.values(), key=lambda r: (str(r["learner"]).lower(), r["key"])):
        marks = "".join(_MARK.get(s["status"], "?") for s in row["steps"])
        late = "" if "late" not in row else {True: f"late {row.get('late_by', '')}", False: "on time",
                                               None: "unknown"}[row["late"]]
        learners.append(
            f"<tr><td>{e(row['learner'])}</td><td>{e(row['name'])}</td><td>{e(row['status'])}</td>"
            f"<td>{e(points_text(row['total']))}/{e(points_text(row['max_total']))}</td>"
            f'<td class="s" title="{e(" ".join(s["id"] + "=" + s["status"] for s in row["steps"]))}">{e(marks)}</td>'
            + (f"<td>{e(summary(row.get('challenge')))}</td>" if challenge else "")
            + f"<td>{e(late)}</td><td><small>{e(note(row))}</small></td></tr>")
    return _PAGE.format(title=e(f"{title_of(lab)} — class report"), summary=e(_summary(rows_)),
                        challenge=f"\n<p>{e(class_summary(rows_))}</p>" if class_summary(rows_) else "",
                        challenge_head="<th>challenge record</th>" if challenge else "",
                        rows="\n".join(rows), histogram=bars, axis=axis, sections=sections,
                        learners="\n".join(learners))
