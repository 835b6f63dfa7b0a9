"""mkdocs hook: each lab page gets its notebook, a download link to it, and real output.

The page stays the only source: the notebook (labs/NN-slug.ipynb in the site)
is generated from it at build time, the PASS/FAIL boxes come from the lab's
recorded evidence, graded again by labcheck, and "The output is similar to"
under a teaching command is what it printed when the notebook ran on a real
cluster (docs/outputs/; see labcheck.pages, labcheck.examples and
labcheck.page_outputs).
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

from mkdocs.structure.files import File

from labcheck.examples import examples_markdown
from labcheck.loader import all_labs
from labcheck import page_outputs
from labcheck.pages import lint_commands, notebook_json, parse_page

log = logging.getLogger("mkdocs.hooks.labpages")

_CHECK_BOX = re.compile(r'^!!! tip "Check your work"\n(?:(?:[ \t]+.*)?\n)*?[ \t]+labcheck check \S+ --step (?P<step>[\w-]+)'
                        r'\n[ \t]+```\n', re.M)
_H1 = re.compile(r"^# .*\n", re.M)


def _labs_by_page() -> dict[str, object]:
    return {f"labs/{lab.slug}.md": lab for lab in all_labs()}


def on_config(config):
    if not config.repo_url:  # a clone knows where it came from
        origin = subprocess.run(["git", "-C", str(Path(config.config_file_path).parent), "remote", "get-url", "origin"],
                                capture_output=True, text=True, check=False).stdout.strip()
        if origin.startswith(("https://", "git@")):
            config.repo_url = re.sub(r"^git@([^:]+):", r"https://\1/", origin).removesuffix(".git")
    return config


def on_files(files, config):
    root = Path(config.config_file_path).parent
    for src, lab in _labs_by_page().items():
        page_file = files.get_file_from_path(src)
        if page_file is None:
            continue
        page = parse_page(Path(page_file.abs_src_path), root)
        for problem in lint_commands(page):
            log.warning("%s does not follow the runnable-page convention: %s", src, problem)
        files.append(File.generated(config, src.removesuffix(".md") + ".ipynb", content=notebook_json(page)))
    return files


_CHALLENGES = "<!-- challenges: generated from labs/*/challenges/*/challenge.yaml when the site is built -->"


def _clone(config) -> str:
    """How to get the project: git clone of the repository the site was built from, when it is known."""
    if config.repo_url:
        folder = config.repo_url.rstrip("/").rsplit("/", 1)[-1]
        return f"```bash\ngit clone {config.repo_url}.git\ncd {folder}\n```\n"
    return ("Clone it with `git clone` and the address your instructor gives you, or unpack the copy they give "
            "you, and open a terminal in its folder.\n")


def on_page_markdown(markdown, page, config, files):
    markdown = markdown.replace("<!-- clone -->\n", _clone(config))
    if page.file.src_uri == "challenges.md":
        from labcheck.challenges import page_markdown

        return markdown.replace(_CHALLENGES, page_markdown())
    lab = _labs_by_page().get(page.file.src_uri)
    if lab is None:
        return markdown
    notebook = Path(page.file.src_uri).with_suffix(".ipynb").name
    download = (
        '\n!!! note "Run this lab in Jupyter"\n'
        f"    Every command on this page is also a cell of [{notebook}]({notebook}){{: download='{notebook}' }}, "
        "made from this page when the site was built and run on a real cluster by the project's tests. Open it "
        f"with `jupyter lab {notebook}` on the machine where you installed labcheck (see "
        "[Install](../install.md#run-a-lab-in-jupyter)); each cell runs in a fresh shell.\n\n"
    )
    markdown = _H1.sub(lambda m: m.group(0) + download, markdown, count=1)

    page_path = Path(page.file.abs_src_path)
    recorded = page_outputs.load(Path(config.docs_dir) / "outputs", page_path)
    markdown, missing = page_outputs.insert(markdown, parse_page(page_path, Path(config.config_file_path).parent),
                                            recorded)
    for problem in missing:
        log.warning("%s", problem)

    steps = {step.id: step for step in lab.steps}

    def add_examples(match: re.Match) -> str:
        step = steps.get(match["step"])
        if step is None:
            return match.group(0)
        box = examples_markdown(lab, step)
        if not box:
            log.warning("%s: step %s has no recorded evidence to show (labcheck selftest %s --record-evidence)",
                        page.file.src_uri, step.id, lab.id)
        return match.group(0) + "\n" + box

    return _CHECK_BOX.sub(add_examples, markdown)
