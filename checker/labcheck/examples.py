"""Real PASS and FAIL output for the lab pages, from the evidence each lab recorded on a real cluster.

Each example is what `labcheck check --from labs/NN-slug/evidence/<file>.json`
prints: the recording is graded again with the lab as it is now, so the pages
show the current titles, messages and causes, never text typed by hand.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass

from rich.console import Console

from .cluster.recorded import RecordedCluster
from .engine import run_step
from .model import Lab, Step
from .render import render_text
from .selftest import evidence_path

# Wide enough for a check line; longer messages wrap under their own indentation.
WIDTH = 88


@dataclass
class Example:
    case: str  # solved | unsolved | wrong-<id>
    status: str  # PASS | FAIL | ERROR, as graded now
    situation: str  # when a learner sees this output
    output: str


def graded_text(lab: Lab, step: Step, case: str) -> tuple[str, str]:
    """(status, terminal text) of one recording, as `labcheck check --from` prints it, without colour."""
    recording = RecordedCluster(evidence_path(lab, step, case))
    # graded in the namespace it was recorded in, as `check --from` does
    result = run_step(lab, step, recording, namespace=recording.meta.get("namespace"))
    buffer = io.StringIO()
    render_text(result, Console(file=buffer, width=1000, no_color=True, highlight=False, soft_wrap=True),
                step_count=len(lab.steps))
    lines = []
    for line in buffer.getvalue().rstrip().splitlines():
        indent = " " * (len(line) - len(line.lstrip()))
        lines.extend(textwrap.wrap(line, WIDTH, initial_indent="", subsequent_indent=indent + "  ",
                                   break_on_hyphens=False, break_long_words=False, drop_whitespace=True)
                     if len(line) > WIDTH else [line])
    return result.status.value, "\n".join(lines)


def step_examples(lab: Lab, step: Step) -> list[Example]:
    """The PASS after the solution, and the FAIL of each known mistake (or, without one, of the step not yet done)."""
    wanted: list[tuple[str, str]] = [("solved", "after the step's commands")]
    wanted += [(f"wrong-{w.id}", f"for this mistake: {w.description}") for w in step.wrong_solutions
               if evidence_path(lab, step, f"wrong-{w.id}").is_file()]
    if len(wanted) == 1:
        wanted.append(("unsolved", "before the step's commands ran"))
    examples = []
    for case, situation in wanted:
        if evidence_path(lab, step, case).is_file():
            status, text = graded_text(lab, step, case)
            examples.append(Example(case, status, situation, text))
    return examples


def examples_markdown(lab: Lab, step: Step) -> str:
    """A collapsed box with the step's recorded PASS and FAIL output, for the lab page."""
    examples = step_examples(lab, step)
    if not examples:
        return ""
    command = f"labcheck check {lab.id} --step {step.id}"
    parts = ['??? example "What PASS and FAIL look like for this step"',
             f"    Real output of `{command}`, recorded on a kind cluster and graded again when this page was built.",
             ""]
    for example in examples:
        parts += [f"    **{example.status}**, {example.situation}:", "",
                  "    ```text", textwrap.indent(example.output, "    "), "    ```", ""]
    return "\n".join(parts).rstrip() + "\n"
