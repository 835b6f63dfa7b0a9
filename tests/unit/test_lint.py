"""Lab definitions: the schema, the linter's file:line reports, and exit code 4."""

import json
import re
import shutil
from pathlib import Path

import pytest

from labcheck.errors import ExitStatus
from labcheck.loader import lab_files, lint
from labcheck.model import json_schema
from tests.conftest import REPO, copy_lab, edit, line_of, run_labcheck


def test_shipped_labs_are_valid():
    assert lab_files(), "no labs found"
    assert [p for p in lint(lab_files()) if p.severity == 'error'] == []


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "title: Create the two-container Pod", "title: [Create the two-container Pod")
    problems = [p for p in lint([path]) if p.severity == "error"]
    assert len(problems) == 1
    assert problems[0].line >= line_of(path, "[Create the two")
    assert "YAML syntax" in problems[0].message


def test_unknown_field_points_at_its_line(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "    title: Two containers share a volume", "    title: Two containers share a volume\n    colour: blue")
    problems = [p for p in lint([path]) if p.severity == "error"]
    assert [(p.line, p.message) for p in problems] == [(line_of(path, "colour: blue"), "steps.4.colour: unknown field")]


def test_missing_field_and_bad_check_kind(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "summary: >-", "summery: >-")
    edit(path, "        python:\n          function: sidecar_asks_localhost",
         "        pythn:\n          function: sidecar_asks_localhost")
    messages = {p.message for p in lint([path]) if p.severity == "error"}
    assert "summary: required field is missing" in messages
    assert any("exactly one of: assert, absent, probe, python" in m for m in messages)


def test_references_are_checked(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "unsolved_fails: [pod-exists]", "unsolved_fails: [pod-exist]")
    edit(path, "function: one_pod_with_both_containers", "function: no_such_function")
    edit(path, "manifests: [manifests/shared-volume-pod.yaml]", "manifests: [manifests/nope.yaml]")
    problems = [p for p in lint([path]) if p.severity == "error"]
    found = {(p.line, p.message) for p in problems}
    assert (line_of(path, "[pod-exist]"), "unknown check id 'pod-exist' (did you mean pod-exists?)") in found
    assert any("no registered function 'no_such_function'" in m for _, m in found)
    assert (line_of(path, "manifests/nope.yaml"), "manifest 'manifests/nope.yaml' not found") in found


def test_duplicate_keys_are_problems(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "namespace: lab01", "namespace: lab01\nnamespace: lab02")
    assert any(p.message == "duplicate key 'namespace'" and p.line == line_of(path, "lab02") for p in lint([path]) if p.severity == "error")


def test_cli_lint_exit_code_and_format(tmp_path):
    path = copy_lab(tmp_path)
    edit(path, "cluster: single-node", "cluster: 7")
    done = run_labcheck("lint", str(path.parent.parent))
    assert done.returncode == ExitStatus.INVALID_LAB, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.endswith(f"lab.yaml:{line_of(path, 'cluster: 7')}: cluster: Input should be a valid string")
    assert "Traceback" not in done.stderr
    assert run_labcheck("lint").returncode == ExitStatus.PASSED


def test_check_with_a_malformed_lab_exits_4_with_file_and_line(tmp_path, isolated_env):
    path = copy_lab(tmp_path)
    edit(path, "steps:\n", "steps: {\n")
    done = run_labcheck("check", "01", env={**isolated_env, "LABCHECK_LABS_DIR": str(path.parent.parent)})
    assert done.returncode == ExitStatus.INVALID_LAB
    assert "lab.yaml:" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_schema_command_prints_the_json_schema():
    done = run_labcheck("schema")
    assert done.returncode == ExitStatus.PASSED
    schema = json.loads(done.stdout)
    assert schema == json.loads(json.dumps(json_schema()))
    assert set(schema["required"]) >= {"id", "title", "steps", "cluster", "namespace"}


def test_fewer_than_three_alternative_solutions_is_a_warning_not_an_error(tmp_path, capsys):
    from tests.conftest import call_main

    folder = tmp_path / "labs" / "01-pod-shared-network"
    shutil.copytree(REPO / "labs" / "01-pod-shared-network", folder, ignore=shutil.ignore_patterns("evidence", "__pycache__"))
    text = (folder / "lab.yaml").read_text()
    text = re.sub(r"\n    alternative_solutions:\n(?:      .*\n|        .*\n)*", "\n", text)
    (folder / "lab.yaml").write_text(text)
    warnings = [p for p in lint([folder / "lab.yaml"]) if p.severity == "warning"]
    assert len(warnings) == 1 and "alternative solution(s); give at least 3" in warnings[0].message
    assert ": warning: " in str(warnings[0])
    code, _out, err = call_main(capsys, "lint", str(folder / "lab.yaml"))
    assert code == 0 and "1 lab(s) and challenge(s) valid, 1 warning(s)." in err
