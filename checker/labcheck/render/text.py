"""Terminal output: plain status words, colour only on a terminal (rich honours NO_COLOR)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from ..checks.outcome import CheckResult, Status, StepResult

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


def matrix_table(item: dict):
    """A connectivity matrix (evidence `kind: matrix`) as a table: clients down, targets across."""
    from rich.table import Table

    cells = {(c["client"], c["target"]): c for c in item.get("cells", [])}
    targets = [t for t in item.get("targets", []) if any(k[1] == t for k in cells)]
    table = Table(title="connectivity: expected / observed", title_justify="left", show_lines=False, padding=(0, 1))
    table.add_column("from \\ to", style="bold")
    for target in targets:
        table.add_column(escape(target))
    for client in item.get("clients", []):
        if not any(k[0] == client for k in cells):
            continue
        row = []
        for target in targets:
            cell = cells.get((client, target))
            if cell is None:
                row.append("[dim]·[/dim]")
            elif cell.get("as_expected"):
                row.append(f"[green]{escape(cell['observed'])}[/green]")
            else:
                row.append(f"[red]{escape(cell['observed'])} (want {escape(cell['expected'])})[/red]")
        table.add_row(escape(client), *row)
    return table


def render_text(step: StepResult, console: Console, *, step_count: int, verbose: bool = False) -> None:
    console.print(f"[bold]Lab {step.lab_id} · step {step.step_number}/{step_count} · {escape(step.step_title)}[/bold]")
    width = max((len(c.check_id) for c in step.checks), default=10)
    for result in step.checks:
        console.print(check_line(result, width), highlight=False)
        for item in result.evidence:
            if item.get("kind") == "matrix" and result.status != Status.SKIP:
                from rich.padding import Padding

                console.print(Padding(matrix_table(item), (0, 0, 0, 8), expand=False))
        if verbose:
            for line in _evidence_lines(result):
                console.print(line, highlight=False)
    counts = {s: sum(1 for c in step.checks if c.status == s) for s in Status}
    parts = [f"{counts[s]} {word}" for s, word in
             ((Status.PASS, "passed"), (Status.FAIL, "failed"), (Status.ERROR, "error"), (Status.SKIP, "skipped"))
             if counts[s]]
    style = _STYLE[step.status]
    console.print(f"[{style}]{step.status.value}[/{style}] · {', '.join(parts)} ({step.duration:.1f} s)", highlight=False)
