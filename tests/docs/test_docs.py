"""The docs site builds strictly, and each lab page agrees with its lab.yaml."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from labcheck.loader import all_labs
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


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    if shutil.which("mkdocs") is None and subprocess.run([sys.executable, "-m", "mkdocs", "--version"],
                                                         capture_output=True).returncode != 0:
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]'")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / "site" / "labs" / "01-pod-shared-network" / "index.html").read_text()
    assert "multicontainerpod" in page and "curlimages/curl" in page  # the snippet include worked
