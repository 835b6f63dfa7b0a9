"""Terminal output: plain status words, colour only on a terminal (rich honours NO_COLOR)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..checks.outcome import CheckResult, Status, StepResult, Table

_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.ERROR: "magenta", Status.SKIP: "dim"}


def check_line(result: CheckResult, width: int) -> str:
    style = _STYLE[result.status]
    line = f"  [{style}]{result.status.value:<5}[/{style}] {escape(result.check_id):<{width}}  {escape(result.title)}"
    if result.status == Status.PASS:
        return line
    details = [escape(result.summary)]
    if result.status == Status.FAIL:
        if result.expected:
            details.append(f"expected: {escape(result.expected)}")
        if result.observed:
            details.append(f"observed: {escape(result.observed)}")
        if result.cause:
            details.append(f"[bold]likely cause:[/bold] {escape(result.cause)}")
    indent = " " * 8
    return line + "".join(f"\n{indent}{d}" for d in details)


def _evidence_lines(result: CheckResult) -> list[str]:
    lines = []
    for item in result.evidence:
        if item.get("kind") == "exec":
            command = " ".join(item.get("command", []))
            lines.append(f"        $ {escape(command)}   [{escape(item.get('where', ''))}] "
                         f"exit {item.get('exit_code')} in {item.get('duration', 0):.2f}s")
            for stream in ("stdout", "stderr"):
                text = (item.get(stream) or "").strip()
                if text:
                    lines.extend(f"          {escape(l)}" for l in text.splitlines()[:8])
        elif item.get("kind") == "logs":
            lines.append(f"        logs of {escape(item.get('where', ''))}:")
            lines.extend(f"          {escape(l)}" for l in (item.get("output") or "").strip().splitlines()[-8:])
    return lines


def table_of(table: Table):
    """A check's table (plain data from its result) as a rich table: green as expected, red not."""
    from rich.table import Table as RichTable

    drawn = RichTable(title=escape(table.title), title_justify="left", show_lines=False, padding=(0, 1))
    drawn.add_column(escape(table.corner), style="bold")
    for column in table.columns:
        drawn.add_column(escape(column))
    for row in table.rows:
        cells = []
        for cell in row.cells:
            style = {True: "green", False: "red", None: "dim"}[cell.ok]
            cells.append(f"[{style}]{escape(cell.text)}[/{style}]")
        drawn.add_row(escape(row.label), *cells)
    return drawn


def render_text(step: StepResult, console: Console, *, step_count: int, verbose: bool = False) -> None:
    console.print(f"[bold]Lab {step.lab_id} · step {step.step_number}/{step_count} · {escape(step.step_title)}[/bold]")
    if step.regression is not None:
        # The likely root comes first: what broke earlier explains what fails now.
        console.print(f"  [yellow]{escape(str(step.regression))}[/yellow]", highlight=False)
    width = max((len(c.check_id) for c in step.checks), default=10)
    for result in step.checks:
        console.print(check_line(result, width), highlight=False)
        if result.table is not None and result.status != Status.SKIP:
            from rich.padding import Padding

            console.print(Padding(table_of(result.table), (0, 0, 0, 8), expand=False))
        if verbose:
            for line in _evidence_lines(result):
                console.print(line, highlight=False)
    counts = {s: sum(1 for c in step.checks if c.status == s) for s in Status}
    parts = [f"{counts[s]} {word}" for s, word in
             ((Status.PASS, "passed"), (Status.FAIL, "failed"), (Status.ERROR, "error"), (Status.SKIP, "skipped"))
             if counts[s]]
    style = _STYLE[step.status]
    console.print(f"[{style}]{step.status.value}[/{style}] · {', '.join(parts)} ({step.duration:.1f} s)", highlight=False)
