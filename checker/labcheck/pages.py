"""Lab pages as runnable documents: a page's blocks, the rules they follow, and its notebook.

A lab page (docs/labs/NN-slug.md) is the single source of the lab's walkthrough.
The docs build turns it into a Jupyter notebook and the end-to-end tier runs
that notebook on a real cluster, so the page's commands cannot drift from what
works. The convention a page follows:

- every ```bash block is a command cell: it runs in a fresh bash shell, in page
  order, without a terminal, and stops at its first failing command;
- a ```yaml block whose title starts with a file name (title="pod.yaml ...") is
  the file the learner saves; the notebook writes it to that name;
- a ```bash block followed directly by the line `<!-- output -->` teaches by its
  output: the site shows "The output is similar to" with what it printed when
  the project's tests ran the notebook on a real cluster (labcheck.page_outputs);
- everything else (```console, ```text, prose, diagrams) is there to be read.

A command block is pasted into bash or zsh (macOS's shell) alike, so it keeps
to what both read the same way: no comments (interactive zsh runs `#` as a
word) and no unquoted glob characters (zsh stops at a glob that matches no
file). Quoting for word splitting is shellcheck's job (tests/docs/test_shell.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = "bash"
OUTPUT_MARK = "<!-- output -->"
# Shell-like languages a reader would expect to run: on a lab page they must be bash or console.
AMBIGUOUS = {"sh", "shell", "zsh", "shell-session"}

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_SNIPPET = re.compile(r'^(?P<indent>[ \t]*)-{1,}8<-{1,}\s+"(?P<path>[^"]+)"\s*$')
_ADMONITION = re.compile(r'^(?:!!!|\?\?\?\+?)\s+(?P<kind>[\w-]+)(?:\s+"(?P<title>[^"]*)")?\s*$')
_HEADING_ATTRS = re.compile(r"\s*\{[^}]*\}\s*$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')
_FILE_TITLE = re.compile(r"^(?P<name>[\w.-]+\.ya?ml)\b")
_CHECK = re.compile(r"\blabcheck\s+check\b")
# Links to other pages of the site lead nowhere from a downloaded notebook: keep their text.
_SITE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z]+:)[^)]*\.md(?:#[^)]*)?\)")

# What cannot run in a notebook, or runs wrongly when pasted (see lint_commands).
_OWN_ARGS = r"(?:(?! -- ).)*"  # a command's own options: what follows ` -- ` belongs to the command it runs
_PROBLEMS = [
    (re.compile(r"(?<!<)<(?!<)[A-Za-z][\w .-]*>"),
     "a placeholder like <the address> (the shell reads it as a redirection): derive the value inside the block"),
    (re.compile(rf"\b(kubectl|docker)\b{_OWN_ARGS}\s(-it|-ti|--tty|--stdin)\b"),
     "an interactive terminal (-it): show it as ```console instead"),
    (re.compile(rf"\bkubectl\b{_OWN_ARGS}\s(-w|--watch)\b"), "a watch (-w) never ends: use `kubectl wait --for=...`"),
    (re.compile(rf"\blogs\b{_OWN_ARGS}\s(-f|--follow)\b"), "following logs (-f) never ends: use --tail=N"),
    (re.compile(r"\bkubectl\s+create\b(?!.*--dry-run)"),
     "`kubectl create` fails with AlreadyExists when run again: pipe `--dry-run=client -o yaml` to `kubectl apply -f -`"),
]
# Variables a block may use without setting them: a fresh terminal has these.
_ENVIRONMENT = {"HOME", "PATH", "USER", "PWD", "SHELL", "TMPDIR", "KUBECONFIG"}
_ASSIGNED = re.compile(r"(?:^|[\s;&|(])(?:export\s+|local\s+)?([A-Za-z_]\w*)=|\bfor\s+(?:\(\()?([A-Za-z_]\w*)")
_USED = re.compile(r"\$\{?([A-Za-z_]\w*)")
_SINGLE_QUOTED = re.compile(r"'[^']*'")

# What zsh reads differently from bash (see zsh_problems).
_HEREDOC = re.compile(r"(?<!<)<<-?\s*(['\"]?)(\w+)\1")
_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"|\$'(?:\\.|[^'\\])*'")
_EXPANSION = re.compile(r"\$\(\([^()]*\)\)|\$\([^()]*\)|\$\{[^{}]*\}|\$[?#@*!$-]")
_COMMENT = re.compile(r"(?:^|\s)#")
_GLOB_WORD = re.compile(r"[^\s;|&<>()]*[*?\[][^\s;|&<>()]*")
_TEST_BRACKETS = {"[", "[[", "]", "]]"}


@dataclass
class Block:
    """A fenced block of a page; `lang` is its first info word, `title` its title= attribute."""

    lang: str
    body: str
    title: str = ""
    line: int = 0  # 1-based line of the opening fence, in the page with snippets expanded
    shows_output: bool = False  # followed by OUTPUT_MARK: the site shows what it printed

    @property
    def runs(self) -> bool:
        return self.lang == RUNNABLE

    @property
    def file_name(self) -> str | None:
        """The file a YAML block is saved as, when its title starts with one."""
        match = _FILE_TITLE.match(self.title) if self.lang in ("yaml", "yml") else None
        return match["name"] if match else None

    @property
    def is_check(self) -> bool:
        return self.runs and bool(_CHECK.search(self.body))


@dataclass
class Page:
    path: Path
    title: str
    parts: list[str | Block] = field(default_factory=list)  # prose (markdown text) and blocks, in order
    stray_marks: list[int] = field(default_factory=list)  # lines of an OUTPUT_MARK that follows no block

    @property
    def blocks(self) -> list[Block]:
        return [p for p in self.parts if isinstance(p, Block)]


def expand_snippets(text: str, base: Path) -> str:
    """Inline `--8<-- "path"` lines (pymdownx.snippets' form), paths relative to `base`."""

    def include(match: re.Match) -> str:
        target = base / match["path"]
        if not target.is_file():
            raise FileNotFoundError(f"snippet {match['path']} not found under {base}")
        content = target.read_text(encoding="utf-8").rstrip("\n")
        return "\n".join(match["indent"] + line if line else line for line in content.splitlines())

    return "\n".join(_SNIPPET.sub(include, line) if _SNIPPET.match(line) else line for line in text.splitlines())


def _dedent(line: str, indent: str) -> str:
    return line[len(indent):] if line.startswith(indent) else line.lstrip(" \t")


def parse_page(path: Path, snippet_base: Path) -> Page:
    """Split a page into prose and fenced blocks; admonitions become plain bold titles."""
    lines = expand_snippets(path.read_text(encoding="utf-8"), snippet_base).splitlines()
    page = Page(path=path, title="")
    prose: list[str] = []

    def flush() -> None:
        text = "\n".join(prose).strip("\n")
        if text.strip():
            page.parts.append(text)
        prose.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not page.title and line.startswith("# "):
            page.title = line[2:].strip()
        opened = _FENCE_OPEN.match(line)
        if opened:
            indent, fence, info = opened["indent"], opened["fence"], opened["info"].strip()
            body: list[str] = []
            i += 1
            while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                          and lines[i].strip().strip(fence[0]) == ""):
                body.append(_dedent(lines[i], indent))
                i += 1
            words = info.lstrip("{.").split()
            lang = words[0].rstrip("}").lower() if words else ""
            title = _TITLE.search(info)
            flush()
            shows_output = i + 1 < len(lines) and lines[i + 1].strip() == OUTPUT_MARK
            page.parts.append(Block(lang=lang, body="\n".join(body).strip("\n"), title=title["title"] if title else "",
                                    line=i - len(body), shows_output=shows_output))
            i += 2 if shows_output else 1
            continue
        if line.strip() == OUTPUT_MARK:
            page.stray_marks.append(i + 1)
            i += 1
            continue
        admonition = _ADMONITION.match(line)
        if admonition:
            prose.append(f"**{admonition['title'] or admonition['kind'].capitalize()}**")
            prose.append("")
            i += 1
            continue
        if line.startswith("#"):
            line = _HEADING_ATTRS.sub("", line)
        prose.append(line[4:] if line.startswith("    ") and _inside_admonition(lines, i) else line)
        i += 1
    flush()
    return page


def _inside_admonition(lines: list[str], index: int) -> bool:
    """Is this indented line part of the admonition above it (not an indented code block)?"""
    for earlier in range(index - 1, -1, -1):
        text = lines[earlier]
        if _ADMONITION.match(text):
            return True
        if text.strip() and not text.startswith((" ", "\t")):
            return False
    return False


def lint_commands(page: Page) -> list[str]:
    """What in a page's command blocks would not run in a notebook (or when pasted), one line each."""
    problems = [f"{page.path.name}:{line}: {OUTPUT_MARK} follows no block: put it right under a ```bash block"
                for line in page.stray_marks]
    problems += [f"{page.path.name}:{block.line}: {OUTPUT_MARK} under a ```{block.lang} block: only a ```bash "
                 "block's output is recorded" for block in page.blocks if block.shows_output and not block.runs]
    for block in page.blocks:
        if block.lang in AMBIGUOUS:
            problems.append(f"{page.path.name}:{block.line}: ```{block.lang} block: write ```bash (runs) "
                            "or ```console (only shown)")
        if not block.runs:
            continue
        assigned = {name for pair in _ASSIGNED.findall(block.body) for name in pair if name} | _ENVIRONMENT
        for number, command in _commands(block):
            for pattern, why in _PROBLEMS:
                if pattern.search(command):
                    problems.append(f"{page.path.name}:{number}: {why}: {command}")
            unset = sorted(set(_USED.findall(_SINGLE_QUOTED.sub("", command))) - assigned)
            if unset:
                problems.append(f"{page.path.name}:{number}: ${unset[0]} is empty in a fresh shell: "
                                f"set it in this block: {command}")
    return problems + zsh_problems(page)


def zsh_problems(page: Page) -> list[str]:
    """What in a page's command blocks zsh (macOS's shell) would read differently from bash, one line each."""
    problems = []
    for block in page.blocks:
        if not block.runs:
            continue
        for number, line in _shell_code(block):
            if _COMMENT.search(line):
                problems.append(f"{page.path.name}:{number}: a comment: interactive zsh runs `#` and what follows "
                                "as words: say it in the prose")
            globs = [word for word in _GLOB_WORD.findall(line) if word not in _TEST_BRACKETS]
            if globs:
                problems.append(f"{page.path.name}:{number}: unquoted {globs[0]}: zsh stops with 'no matches "
                                "found' when no file matches: quote it")
    return problems


def _shell_code(block: Block):
    """(line number, line) of a block's shell code: heredoc bodies left out, quoted strings and expansions blanked."""
    lines, ending = [], None
    for line in block.body.splitlines():
        if ending is not None:
            ending = None if line.strip() == ending else ending
            lines.append("")
            continue
        heredoc = _HEREDOC.search(line)
        ending = heredoc[2] if heredoc else None
        lines.append(line)
    text = "\n".join(lines)
    for pattern in (_QUOTED, _EXPANSION, _EXPANSION):  # twice: an expansion inside an expansion
        text = pattern.sub(lambda m: "''" + "\n" * m.group(0).count("\n"), text)
    yield from enumerate(text.splitlines(), block.line + 1)


def _commands(block: Block):
    """(line number, command) for each command of a block: continuation lines joined, comments dropped."""
    pending, start = "", 0
    for number, line in enumerate(block.body.splitlines(), block.line + 1):
        code = line.split(" #", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        start = start or number
        if code.endswith("\\"):
            pending += code[:-1] + " "
            continue
        command = (pending + code).strip()
        if command:
            yield start, " ".join(command.split())
        pending, start = "", 0


NOTEBOOK_INTRO = (
    "This notebook is made from the lab page *{title}* when the site is built; the page and the "
    "notebook say the same thing.\n\n"
    "Each command cell runs in a fresh `bash` shell (`%%bash`, so no variable carries over from one "
    "cell to the next) and stops at its first failing command (`set -e`). Run the cells in order, "
    "from the top, on the machine where you installed `labcheck`; cells that start with `%%writefile` "
    "save the files the page asks you to save. A \"Check your work\" cell passes when `labcheck` "
    "says PASS."
)


def to_notebook(page: Page):
    """The page as an nbformat v4 notebook for a Python kernel, with `%%bash` command cells."""
    import nbformat

    v4 = nbformat.v4
    cells = [v4.new_markdown_cell(NOTEBOOK_INTRO.format(title=page.title))]
    for part in page.parts:
        if isinstance(part, str):
            cells.append(v4.new_markdown_cell(_SITE_LINK.sub(r"\1", part)))
        elif part.runs:
            tags = ["check"] if part.is_check else ["command", "output"] if part.shows_output else ["command"]
            cells.append(v4.new_code_cell(f"%%bash\nset -e\n{part.body}", metadata={"tags": tags}))
        elif part.file_name:
            cells.append(v4.new_markdown_cell(f"Save this as `{part.file_name}`:"))
            cells.append(v4.new_code_cell(f"%%writefile {part.file_name}\n{part.body}\n",
                                          metadata={"tags": ["file"]}))
        else:
            title = f"*{part.title}*\n\n" if part.title else ""
            cells.append(v4.new_markdown_cell(f"{title}```{part.lang}\n{part.body}\n```"))
    notebook = v4.new_notebook(cells=_merge_markdown(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def _merge_markdown(cells: list) -> list:
    """Adjacent markdown cells read better as one."""
    merged: list = []
    for cell in cells:
        if merged and cell.cell_type == "markdown" and merged[-1].cell_type == "markdown":
            merged[-1].source += "\n\n" + cell.source
        else:
            merged.append(cell)
    return merged


def notebook_json(page: Page) -> str:
    import nbformat

    notebook = to_notebook(page)
    nbformat.validate(notebook)
    return nbformat.writes(notebook)
