"""The docs site builds strictly, and each lab page agrees with its lab.yaml."""

import json
import os
import re
import subprocess
import sys

import pytest

from labcheck import page_outputs
from labcheck.examples import step_examples
from labcheck.loader import all_labs
from labcheck.pages import lint_commands, parse_page, to_notebook
from tests.conftest import REPO

CHECK_BOX = re.compile(r'^!!! tip "Check your work"\n\s+```bash\n\s+labcheck check (\d+) --step ([a-z0-9-]+)', re.M)
HEADING = re.compile(r"^## Step (\d+) · .*\{#step-([a-z0-9-]+)\}$", re.M)


def page_of(lab):
    return REPO / "docs" / "labs" / f"{lab.slug}.md"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_page_and_lab_have_the_same_steps_in_the_same_order(lab):
    text = page_of(lab).read_text(encoding="utf-8")
    steps = [s.id for s in lab.steps]
    boxes = CHECK_BOX.findall(text)
    assert [lab_id for lab_id, _ in boxes] == [lab.id] * len(boxes), "a check box names another lab"
    assert [step for _, step in boxes] == steps, "check boxes differ from lab.yaml's steps"
    headings = HEADING.findall(text)
    assert [step for _, step in headings] == steps
    assert [int(n) for n, _ in headings] == list(range(1, len(steps) + 1))


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_every_lab_page_is_in_the_nav(lab):
    assert f"labs/{lab.slug}.md" in (REPO / "mkdocs.yml").read_text()


def test_agreement_test_catches_a_missing_step(tmp_path):
    lab = all_labs()[0]
    text = page_of(lab).read_text(encoding="utf-8")
    removed = text.replace(f"labcheck check {lab.id} --step {lab.steps[-1].id}", "labcheck check")
    assert [s for _, s in CHECK_BOX.findall(removed)] != [s.id for s in lab.steps]


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_page_is_named_as_labcheck_names_it(lab):
    # `labcheck start` and a passing check send the learner to "Lab NN · <title>".
    first = page_of(lab).read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# Lab {lab.id} · {lab.title}"


TUTORIAL_SHAPE = ["What you will learn", "Before you begin", "Step 1", "Clean up", "What's next"]


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_page_has_the_tutorial_shape(lab):
    # Objectives, prerequisites, the steps, cleanup and what's next, in that order, as the
    # Kubernetes docs' tutorials are laid out; the last two close the page.
    sections = re.findall(r"^## (.+)$", page_of(lab).read_text(encoding="utf-8"), re.M)
    found = [want for want in TUTORIAL_SHAPE if any(s.startswith(want) for s in sections)]
    assert found == TUTORIAL_SHAPE, f"sections: {sections}"
    order = [next(i for i, s in enumerate(sections) if s.startswith(want)) for want in TUTORIAL_SHAPE]
    assert order == sorted(order), f"sections out of order: {sections}"
    assert sections[-2:] == ["Clean up", "What's next"]


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_page_follows_the_runnable_page_convention(lab):
    assert lint_commands(parse_page(page_of(lab), REPO)) == []


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_notebook_has_every_command_and_a_check_cell_per_step(lab):
    page = parse_page(page_of(lab), REPO)
    notebook = to_notebook(page)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    commands = [b for b in page.blocks if b.runs]
    files = [b for b in page.blocks if b.file_name]
    assert len(code) == len(commands) + len(files)
    assert all(cell.source.startswith(("%%bash\nset -e\n", "%%writefile ")) for cell in code)
    checks = [cell.source for cell in code if "check" in cell.metadata["tags"]]
    assert [re.search(r"--step ([\w-]+)", c)[1] for c in checks] == [s.id for s in lab.steps]
    assert not [cell for cell in notebook.cells if "--8<--" in cell.source], "a snippet was not expanded"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_every_step_shows_a_real_pass_and_a_real_fail(lab):
    for step in lab.steps:
        shown = {example.status for example in step_examples(lab, step)}
        assert shown == {"PASS", "FAIL"}, f"step {step.id} shows {sorted(shown)}"


# The commands whose output teaches most (issue 21): each page marks them, and shows what they printed.
TEACHING_COMMANDS = {
    "01": ["kubectl logs multicontainerpod -c nginx-container --tail=4"],
    "03": ["docker exec \"$WEB_NODE\" ip route"],
    "04": ["iptables-save -t nat | grep -F \"$NS/webserver\""],
    "05": ["kubectl get events --field-selector involvedObject.name=webserver-lb", "ip neigh"],
    "08": ["try \"$NS\" frontend http://backend:8080/"],
}
OUTPUTS = REPO / "docs" / "outputs"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_every_marked_command_shows_what_it_printed_on_a_real_cluster(lab):
    page = parse_page(page_of(lab), REPO)
    assert page_outputs.missing(page, page_outputs.load(OUTPUTS, page.path)) == []
    marked = [block.body for block in page_outputs.marked(page)]
    for command in TEACHING_COMMANDS.get(lab.id, []):
        assert any(command in body for body in marked), f"not marked <!-- output -->: {command}"


def test_a_marked_command_without_its_recording_fails_the_docs_test(tmp_path):
    lab = next(lab for lab in all_labs() if lab.id == "01")
    page = parse_page(page_of(lab), REPO)
    block = page_outputs.marked(page)[0]
    recorded = page_outputs.load(OUTPUTS, page.path)
    assert page_outputs.missing(page, recorded) == []
    del recorded[block.body]
    [problem] = page_outputs.missing(page, recorded)
    assert f"{page.path.name}:{block.line}: no recorded output" in problem


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_page_links_the_kubernetes_concepts_it_teaches(lab):
    text = page_of(lab).read_text(encoding="utf-8")
    assert re.search(r"\]\(https://kubernetes\.io/docs/(concepts|reference)/", text), "no link to kubernetes.io's concepts"


@pytest.mark.parametrize("lab", all_labs()[:-1], ids=lambda lab: lab.slug)
def test_whats_next_links_the_next_lab(lab):
    following = all_labs()[all_labs().index(lab) + 1]
    text = page_of(lab).read_text(encoding="utf-8")
    whats_next = text[text.index("## What's next"):]
    assert f"]({following.slug}.md)" in whats_next, f"What's next does not link lab {following.id}"


@pytest.mark.slow
def test_mkdocs_build_strict_from_any_directory(tmp_path):
    if subprocess.run([sys.executable, "-m", "mkdocs", "--version"], capture_output=True).returncode != 0:
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
                           "--site-dir", str(tmp_path / "site")], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    for lab in all_labs():
        page = (tmp_path / "site" / "labs" / lab.slug / "index.html").read_text()
        assert f'download="{lab.slug}.ipynb"' in page, "the page offers its notebook"
        assert page.count("What PASS and FAIL look like") == len(lab.steps)
        marked = page_outputs.marked(parse_page(page_of(lab), REPO))
        assert page.count("The output is similar to:") == len(marked)
        notebook = json.loads((tmp_path / "site" / "labs" / f"{lab.slug}.ipynb").read_text())
        assert sum(cell["cell_type"] == "code" for cell in notebook["cells"]) >= len(lab.steps)
    page = (tmp_path / "site" / "labs" / "01-pod-shared-network" / "index.html").read_text()
    assert "multicontainerpod" in page and "curlimages/curl" in page  # the snippet include worked
    assert page.count('class="mermaid"') >= 3
