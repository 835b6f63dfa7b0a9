"""The class report: per step, how many passed, and what to re-teach.

For each step: learners graded, passed, failed, could not be graded; the
check that most often stopped a learner (the first failing check of the step),
and the cause it most often gave. Causes name the learner's namespace; it is
replaced by <namespace> so the same mistake counts as one.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model import Lab, Step
from .outputs import points_text


@dataclass
class StepStats:
    number: int
    id: str
    title: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    blockers: Counter = field(default_factory=Counter)
    causes: dict[str, Counter] = field(default_factory=dict)

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
        namespace = record.get("namespace") or ""
        for step in record["steps"]:
            entry = stats.get(step["id"])
            if entry is None:
                continue
            if step["status"] == "PASS":
                entry.passed += 1
            elif step["status"] == "ERROR":
                entry.errors += 1
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


def _totals(records: dict[str, dict[str, Any]]) -> dict[str, int]:
    statuses = Counter(r["status"] for r in records.values())
    return {"learners": len(records), "PASS": statuses["PASS"], "FAIL": statuses["FAIL"], "ERROR": statuses["ERROR"]}


def render_text(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]]) -> str:
    totals = _totals(records)
    lines = [f"Lab {lab.id}: {lab.title}",
             f"{totals['learners']} learners: {totals['PASS']} passed every step, {totals['FAIL']} did not, "
             f"{totals['ERROR']} could not be fully graded."]
    if records:
        average = sum(r["total"] for r in records.values()) / len(records)
        top = max(r["max_total"] for r in records.values())
        lines.append(f"Average score {average:.2f} of {points_text(top)}.")
    lines.append("")
    for entry in class_stats(lab, steps, records):
        line = f"step {entry.number} {entry.id}: {entry.passed}/{entry.graded} passed"
        if entry.graded:
            line += f" ({entry.rate:.0%})"
        if entry.errors:
            line += f", {entry.errors} not graded"
        lines.append(line)
        top = entry.top()
        if top:
            check, count, cause = top
            lines.append(f"    most often stopped at: {check} ({count} learner{'s' if count != 1 else ''})")
            if cause:
                lines.append(f"    typical cause: {cause}")
    return "\n".join(lines) + "\n"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
.bar {{ display: flex; width: 18rem; height: 1.1rem; background: #eee; }}
.bar span {{ display: block; height: 100%; }}
.pass {{ background: #2e7d32; }} .fail {{ background: #c62828; }} .error {{ background: #757575; }}
.legend span {{ display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 1rem; }}
small {{ color: #555; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{summary}</p>
<p class="legend"><span class="pass"></span>passed <span class="fail"></span>failed
<span class="error"></span>could not be graded</p>
<table>
<tr><th>step</th><th>learners</th><th>passed</th><th>most often stopped at</th></tr>
{rows}
</table>
</body></html>
"""


def render_html(lab: Lab, steps: list[Step], records: dict[str, dict[str, Any]]) -> str:
    totals = _totals(records)
    rows = []
    for entry in class_stats(lab, steps, records):
        everyone = entry.graded + entry.errors or 1
        bar = "".join(
            f'<span class="{css}" style="width:{100 * count / everyone:.1f}%" title="{count} {word}"></span>'
            for css, count, word in (("pass", entry.passed, "passed"), ("fail", entry.failed, "failed"),
                                     ("error", entry.errors, "not graded")) if count)
        top = entry.top()
        stopped = ""
        if top:
            check, count, cause = top
            stopped = f"<code>{html.escape(check)}</code> ({count})"
            if cause:
                stopped += f"<br><small>{html.escape(cause)}</small>"
        rows.append(
            f"<tr><td>{entry.number}. {html.escape(entry.title)}<br><small>{html.escape(entry.id)}</small></td>"
            f'<td><div class="bar">{bar}</div></td>'
            f"<td>{entry.passed}/{entry.graded}" + (f" ({entry.rate:.0%})" if entry.graded else "")
            + (f"<br><small>{entry.errors} not graded</small>" if entry.errors else "")
            + f"</td><td>{stopped}</td></tr>")
    summary = (f"{totals['learners']} learners: {totals['PASS']} passed every step, {totals['FAIL']} did not, "
               f"{totals['ERROR']} could not be fully graded.")
    return _PAGE.format(title=html.escape(f"Lab {lab.id}: {lab.title} — class report"),
                        summary=html.escape(summary), rows="\n".join(rows))
