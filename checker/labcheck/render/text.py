"""Terminal output: plain status words, colour only on a terminal (rich honours NO_COLOR)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..checks.outcome import CheckResult, Status, StepResult, Table

_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.ERROR: "magenta", Status.SKIP: "dim"}


_INDENT = " " * 8


def _head(result: CheckResult, width: int) -> str:
    """The check's line and, unless it passed, its one-line summary."""
    style = _STYLE[result.status]
    line = f"  [{style}]{result.status.value:<5}[/{style}] {escape(result.check_id):<{width}}  {escape(result.title)}"
    return line if result.status == Status.PASS else f"{line}\n{_INDENT}{escape(result.summary)}"


def _details(result: CheckResult) -> str:
    """Expected, observed and the likely cause of a FAIL; a cause of several lines (one per reason)
    starts on its own line, each reason indented under it."""
    if result.status != Status.FAIL:
        return ""
    details = [f"{label}: {escape(text)}" for label, text in (("expected", result.expected),
                                                             ("observed", result.observed)) if text]
    if result.cause and "\n" in result.cause:
        details.append("[bold]likely cause:[/bold]" + "".join(f"\n{_INDENT}  {escape(line)}"
                                                              for line in result.cause.splitlines()))
    elif result.cause:
        details.append(f"[bold]likely cause:[/bold] {escape(result.cause)}")
    return "\n".join(f"{_INDENT}{d}" for d in details)


def check_line(result: CheckResult, width: int) -> str:
    details = _details(result)
    return _head(result, width) + (f"\n{details}" if details else "")


def _evidence_lines(result: CheckResult) -> list[str]:
    lines = []
    for item in result.evidence:
        if item.get("kind") == "exec":
            command = " ".join(item.get("command", []))
            # The brackets are escaped with the text: rich reads a bare "[a container ...]" as markup and drops it.
            lines.append(f"        $ {escape(command)}   {escape('[' + item.get('where', '') + ']')} "
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
        # A table (a connectivity matrix) shows what expected and observed would say: it comes
        # right under the summary, before the likely cause.
        console.print(_head(result, width), highlight=False)
        if result.table is not None and result.status != Status.SKIP:
            from rich.padding import Padding

            console.print(Padding(table_of(result.table), (0, 0, 0, 8), expand=False))
        details = _details(result)
        if details:
            console.print(details, highlight=False)
        if verbose:
            for line in _evidence_lines(result):
                console.print(line, highlight=False)
    counts = {s: sum(1 for c in step.checks if c.status == s) for s in Status}
    parts = [f"{counts[s]} {word}" for s, word in
             ((Status.PASS, "passed"), (Status.FAIL, "failed"), (Status.ERROR, "error"), (Status.SKIP, "skipped"))
             if counts[s]]
    style = _STYLE[step.status]
    console.print(f"[{style}]{step.status.value}[/{style}] · {', '.join(parts)} ({step.duration:.1f} s)", highlight=False)
