"""Renderers: terminal text, JSON and JUnit show the same results."""

import io
import json

from junitparser import JUnitXml
from rich.console import Console

from labcheck.checks.outcome import CheckResult, Status, StepResult
from labcheck.render import render_json, render_junit, render_text


def sample() -> StepResult:
    return StepResult("01", "create-pod", 1, "Create the Pod", [
        CheckResult("pod-exists", "Pod exists", "assert", Status.PASS, "Pod multicontainerpod matches"),
        CheckResult("one-pod", "One Pod", "python", Status.FAIL, "sidecar runs in a separate Pod",
                    expected="one Pod", observed="two Pods", cause="each Pod has its own network namespace"),
        CheckResult("later", "Later", "probe", Status.SKIP, "not run: one-pod did not pass"),
    ], duration=1.25)


def test_text_has_status_words_expected_observed_cause_and_no_colour_off_a_terminal():
    buffer = io.StringIO()
    render_text(sample(), Console(file=buffer, width=200), step_count=6)
    text = buffer.getvalue()
    assert "\x1b[" not in text
    for needle in ("PASS  pod-exists", "FAIL  one-pod", "SKIP  later", "expected: one Pod", "observed: two Pods",
                   "likely cause: each Pod has its own network namespace", "FAIL · 1 passed, 1 failed, 1 skipped"):
        assert needle in text, needle


def test_text_uses_colour_on_a_terminal():
    buffer = io.StringIO()
    render_text(sample(), Console(file=buffer, force_terminal=True, width=200), step_count=6)
    assert "\x1b[" in buffer.getvalue()


def test_json_document():
    data = json.loads(render_json([sample()], source="fake"))
    assert data["status"] == "FAIL"
    assert [c["status"] for c in data["steps"][0]["checks"]] == ["PASS", "FAIL", "SKIP"]
    assert data["steps"][0]["checks"][1]["cause"] == "each Pod has its own network namespace"


def test_junit_counts(tmp_path):
    path = tmp_path / "r.xml"
    path.write_text(render_junit([sample()]))
    suites = list(JUnitXml.fromfile(str(path)))
    assert suites[0].tests == 3 and suites[0].failures == 1 and suites[0].skipped == 1


def test_a_table_comes_under_the_summary_and_a_cause_of_several_reasons_is_a_list():
    from labcheck.checks.outcome import Table, TableCell, TableRow

    table = Table("connectivity: expected / observed", "from \\ to", ["db:6379"],
                  [TableRow("frontend", [TableCell("open (want blocked)", False)])])
    check = CheckResult("m", "matrix", "matrix", Status.FAIL, "1 of 1 cells differs: frontend→db:6379 open",
                        cause="- no NetworkPolicy selects Pod db (frontend → db:6379)\n- another reason (x → y)",
                        table=table)
    buffer = io.StringIO()
    render_text(StepResult("08", "s", 1, "Step", [check]), Console(file=buffer, width=200), step_count=1)
    lines = buffer.getvalue().splitlines()
    summary, table_title = lines.index("        1 of 1 cells differs: frontend→db:6379 open"), \
        next(i for i, line in enumerate(lines) if "connectivity: expected / observed" in line)
    cause = lines.index("        likely cause:")
    assert summary < table_title < cause
    assert lines[cause + 1:cause + 3] == ["          - no NetworkPolicy selects Pod db (frontend → db:6379)",
                                          "          - another reason (x → y)"]


def test_verbose_evidence_names_where_each_command_ran():
    """Where a probe ran is printed in brackets: rich must not take it for markup and drop it."""
    exec_item = {"kind": "exec", "command": ["curl", "http://172.18.0.2:30080/"], "exit_code": 0, "duration": 1.5,
                 "where": "a container on Docker network kind (this machine does not reach the nodes' addresses)",
                 "stdout": "Served by webserver-1"}
    logs_item = {"kind": "logs", "where": "Pod lab05/webserver-1 [nginx]", "output": "GET / 200"}
    check = CheckResult("every-node-answers", "every node answers", "python", Status.PASS, "3 nodes answered",
                        evidence=[exec_item, logs_item])
    buffer = io.StringIO()
    render_text(StepResult("05", "nodeport", 1, "Step", [check]), Console(file=buffer, width=300), step_count=1,
                verbose=True)
    text = buffer.getvalue()
    assert "[a container on Docker network kind (this machine does not reach the nodes' addresses)] exit 0" in text
    assert "logs of Pod lab05/webserver-1 [nginx]:" in text
