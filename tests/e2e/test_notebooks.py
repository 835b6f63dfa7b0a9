"""Every lab page, run as its notebook on a real kind cluster.

The notebook is made from the page exactly as the docs build makes it
(labcheck.pages). After `labcheck start NN`, nbclient runs every cell in
order: each command cell must succeed, and each "Check your work" cell's
`labcheck check` must exit 0. A page whose commands stop working fails here.
The executed notebooks (with their outputs) are saved under
tests/artifacts/notebooks/ (or $LABCHECK_ARTIFACTS/notebooks/), and so is what
each teaching command (a block marked `<!-- output -->`) printed; with
LABCHECK_RECORD_OUTPUTS=1 that goes to docs/outputs/ too, where the site's
"The output is similar to" boxes come from (labcheck.page_outputs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from labcheck.errors import ExitStatus
from labcheck import page_outputs
from labcheck.loader import all_labs
from labcheck.pages import parse_page, to_notebook
from labcheck.toolchain import cluster_config
from tests.conftest import REPO
from tests.e2e.conftest import drop_namespace, labcheck

ARTIFACTS = Path(os.environ.get("LABCHECK_ARTIFACTS") or REPO / "tests" / "artifacts") / "notebooks"
CELL_TIMEOUT = 600  # seconds; a check waits for Pods, a start may create a cluster


def _with_page():
    return [lab for lab in all_labs() if (REPO / "docs" / "labs" / f"{lab.slug}.md").is_file()]


@pytest.mark.parametrize("lab", _with_page(), ids=lambda lab: lab.slug)
def test_lab_page_runs_as_a_notebook(lab, e2e_env, cleanup_clusters, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    started = labcheck(e2e_env, "start", lab.id)
    assert started.returncode == ExitStatus.PASSED, started.stderr
    # The page starts from an empty namespace, as a learner does; its first cell
    # (`labcheck start`) makes the namespace again.
    drop_namespace(e2e_env, lab)

    # The kernel, and every %%bash cell, inherit this environment: the private
    # kubeconfig and state of the e2e tier, and this interpreter's labcheck on PATH.
    for key, value in e2e_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{e2e_env['PATH']}")

    page = parse_page(REPO / "docs" / "labs" / f"{lab.slug}.md", REPO)
    notebook = to_notebook(page)
    work = tmp_path / "work"  # the learner's folder, where %%writefile cells save their files
    work.mkdir()
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    executed = ARTIFACTS / f"{lab.slug}.ipynb"
    try:
        client.execute()
    except CellExecutionError as failure:
        pytest.fail(f"a cell of {lab.slug}.ipynb failed (outputs in {executed}):\n{str(failure)[-3000:]}")
    finally:
        nbformat.write(notebook, executed)
        drop_namespace(e2e_env, lab)

    recorded = [(cell.source.removeprefix("%%bash\nset -e\n"), _printed(cell))
                for cell in notebook.cells if "output" in cell.metadata.get("tags", [])]
    assert [commands for commands, _ in recorded] == [block.body for block in page_outputs.marked(page)]
    silent = [commands.splitlines()[0] for commands, output in recorded if not output.strip()]
    assert not silent, f"a command marked to show its output printed nothing: {silent}"
    cluster = cluster_config(lab.cluster)[1]
    page_outputs.save(ARTIFACTS / "outputs", page.path, recorded, cluster)
    if recorded and os.environ.get("LABCHECK_RECORD_OUTPUTS") == "1":
        page_outputs.save(REPO / "docs" / "outputs", page.path, recorded, cluster)

    checks = [cell for cell in notebook.cells if "check" in cell.metadata.get("tags", [])]
    assert len(checks) == len(lab.steps)
    for cell, step in zip(checks, lab.steps):
        text = "".join(out.get("text", "") for out in cell.outputs)
        assert f"--step {step.id}" in cell.source and "PASS" in text, f"step {step.id}: {text[-500:]}"


def _printed(cell) -> str:
    """What a cell printed, stdout and stderr in the order they came."""
    return "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")
