""""The output is similar to": what a page's teaching commands printed on a real cluster.

A ```bash block followed by `<!-- output -->` (labcheck.pages.OUTPUT_MARK)
teaches by its output. The end-to-end tier runs every lab page as its notebook
on a real kind cluster (tests/e2e/test_notebooks.py) and, asked to with
LABCHECK_RECORD_OUTPUTS=1, records what each marked cell printed into
docs/outputs/NN-slug.json, keyed by the block's exact commands. The docs build
(docs/hooks/labpages.py) puts each recording under its block; a block whose
commands changed since the recording has none, and the build and the docs
tests say so, so the shown output cannot drift from the command above it.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path

from .pages import OUTPUT_MARK, Block, Page

# Enough to show what a command teaches; a longer output is cut, and the cut is shown.
MAX_LINES = 30
RECORD_COMMAND = "LABCHECK_RECORD_OUTPUTS=1 .venv/bin/python -m pytest tests/e2e/test_notebooks.py -k NN"


def recording_path(outputs_dir: Path, page_path: Path) -> Path:
    return outputs_dir / f"{page_path.stem}.json"


def load(outputs_dir: Path, page_path: Path) -> dict[str, str]:
    """Each recorded block's commands and what they printed."""
    path = recording_path(outputs_dir, page_path)
    if not path.is_file():
        return {}
    return {entry["commands"]: entry["output"] for entry in json.loads(path.read_text(encoding="utf-8"))["outputs"]}


def save(outputs_dir: Path, page_path: Path, recorded: list[tuple[str, str]], cluster: str) -> Path:
    """Write a page's recording: (commands, output) of each marked block, in page order."""
    path = recording_path(outputs_dir, page_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"page": f"docs/labs/{page_path.name}", "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "cluster": cluster, "outputs": [{"commands": commands, "output": output} for commands, output in recorded]}
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def marked(page: Page) -> list[Block]:
    return [block for block in page.blocks if block.shows_output]


def missing(page: Page, recorded: dict[str, str]) -> list[str]:
    """A marked block with no recorded output of its exact commands, one line each."""
    how = RECORD_COMMAND.replace("NN", page.path.stem[:2])
    return [f"{page.path.name}:{block.line}: no recorded output of this block's commands (record it: {how}): "
            f"{block.body.splitlines()[0]}" for block in marked(page) if not recorded.get(block.body, "").strip()]


def similar_to(output: str, indent: str = "") -> str:
    """The box shown under a marked block."""
    lines = output.rstrip("\n").splitlines()
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... ({len(lines) - MAX_LINES} more lines)"]
    text = "The output is similar to:\n\n````text\n" + "\n".join(lines) + "\n````\n"
    return textwrap.indent(text, indent, lambda line: True).replace(f"{indent}\n", "\n")


def insert(markdown: str, page: Page, recorded: dict[str, str]) -> tuple[str, list[str]]:
    """The page's markdown with each OUTPUT_MARK replaced by its block's recorded output; and what is missing."""
    blocks = iter(marked(page))
    problems = missing(page, recorded)
    lines = []
    for line in markdown.split("\n"):
        if line.strip() != OUTPUT_MARK:
            lines.append(line)
            continue
        block = next(blocks, None)
        output = recorded.get(block.body, "") if block else ""
        indent = line[: len(line) - len(line.lstrip())]
        lines.append("\n" + similar_to(output, indent) if output.strip() else "")
    return "\n".join(lines), problems
