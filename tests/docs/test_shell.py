"""Every command block on every page means the same in bash and in zsh (macOS's shell).

A learner pastes a page's ```bash blocks into whatever shell they have. zsh
does not split an unquoted `$VAR` into words, so a block that relies on word
splitting does something else there (lab 02 once recorded a wrong answer that
way). shellcheck (Debian's `shellcheck`, which tests/run.sh installs) finds
every expansion that relies on splitting or globbing; labcheck.pages'
zsh_problems finds the rest (comments, unquoted globs). The notebooks stay bash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from labcheck.pages import parse_page, zsh_problems
from tests.conftest import REPO, missing_tool

INSTALL = "sudo apt-get install -y shellcheck"
PAGES = sorted(p for p in (REPO / "docs").rglob("*.md") if "hooks" not in p.parts)

# Word splitting, globbing and quoting mistakes: what bash and zsh read differently, or what splits by accident.
WORD_SPLITTING = {
    2046: "unquoted $(...) is split into words",
    2048: 'unquoted $* is split: "$@"',
    2068: "unquoted array expansion is split",
    2086: "unquoted $VAR is split into words and globbed",
    2206: "unquoted expansion split into an array",
    2207: "unquoted $(...) split into an array",
    2027: "quotes around a variable inside quotes unquote it",
    2140: 'a word of the form "A"B"C" is probably a quoting mistake',
    2231: "unquoted expansion in a for loop's glob",
    2053: "unquoted right side of == in [[ ]] is a glob",
    2128: "an array expanded without an index gives its first element",
}


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        missing_tool(f"shellcheck is not installed: {INSTALL}", "LABCHECK_SHELLCHECK_REQUIRED")
    return found


def shellcheck_problems(page_path: Path, shellcheck: str, work: Path) -> list[str]:
    """Each word-splitting or quoting finding (and any shellcheck error) in the page's ```bash blocks, one line each."""
    page = parse_page(page_path, REPO)
    scripts = {}
    for number, block in enumerate(b for b in page.blocks if b.runs):
        script = work / f"{page_path.stem}-{number}.sh"
        script.write_text(block.body + "\n", encoding="utf-8")
        scripts[script.name] = block
    if not scripts:
        return []
    done = subprocess.run([shellcheck, "--shell=bash", "--format=json1", *scripts], cwd=work,
                          capture_output=True, text=True)
    if done.returncode not in (0, 1):
        return [f"{page_path.name}: shellcheck failed: {done.stderr.strip()[-500:]}"]
    problems = []
    for finding in json.loads(done.stdout)["comments"]:
        if finding["code"] not in WORD_SPLITTING and finding["level"] != "error":
            continue
        block = scripts[Path(finding["file"]).name]
        line = block.body.splitlines()[finding["line"] - 1].strip()
        why = WORD_SPLITTING.get(finding["code"], finding["message"])
        problems.append((block.line + finding["line"], f"SC{finding['code']} {why}: {line}"))
    return [f"{page_path.name}:{number}: {problem}" for number, problem in sorted(problems)]


@pytest.mark.parametrize("page_path", PAGES, ids=lambda p: str(p.relative_to(REPO / "docs")))
def test_every_command_block_reads_the_same_in_bash_and_zsh(page_path, shellcheck, tmp_path):
    problems = shellcheck_problems(page_path, shellcheck, tmp_path) + zsh_problems(parse_page(page_path, REPO))
    assert problems == [], "\n".join(problems)


def test_an_unquoted_word_splitting_expansion_fails_the_test(shellcheck, tmp_path):
    # Lab 02 once built kubectl's arguments in a variable and relied on bash splitting it: zsh passes it as one word.
    page = tmp_path / "99-split.md"
    page.write_text("# Lab 99 · split\n\n```bash\n"
                    "ANSWERS=\"--from-literal=a=1 --from-literal=b=2\"\n"
                    "kubectl create configmap answer $ANSWERS --dry-run=client -o yaml | kubectl apply -f -\n"
                    "```\n\n```bash\nkubectl delete pod $(kubectl get pods -o name)\n```\n", encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    problems = shellcheck_problems(page, shellcheck, work)
    assert [p.split(": ")[0:2] for p in problems] == [["99-split.md:5", "SC2086 unquoted $VAR is split into words and globbed"],
                                                      ["99-split.md:9", "SC2046 unquoted $(...) is split into words"]]
    page.write_text(page.read_text().replace("$ANSWERS", '"$ANSWERS"').replace("$(kubectl get pods -o name)",
                                                                                '"$(kubectl get pods -o name)"'))
    assert shellcheck_problems(page, shellcheck, work) == []
