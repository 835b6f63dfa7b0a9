"""Grade in a cluster what a cluster can grade: a step the grader cannot look at from where it runs (a
node from a Pod, the learner's machine from a roster) is "not gradable here", counted apart, never ERROR
or FAIL; the gradebook scores the gradable steps and says so; docs/instructors.md's table comes from a run.
Also the RoleBindings `labcheck grade --rbac` writes from a roster."""

from __future__ import annotations

import csv
import io
import re

import pytest
import yaml

from labcheck.checks.outcome import Status
from labcheck.cluster.recorded import RecordedCluster
from labcheck.engine import run_step
from labcheck.errors import NotGradableHere
from labcheck.grading import batch, gradable, rbac, roster
from labcheck.loader import all_labs, find_lab
from labcheck.selftest import evidence_path
from tests.conftest import REPO, run_labcheck
from tests.grading_data import ClassroomCluster, learner_layers

LAB = find_lab("01")


def graded_in(classroom: roster.Classroom, tmp_path, formats=("csv",)) -> batch.Outcome:
    classroom.cluster_for = lambda learner: ClassroomCluster(learner_layers(6))
    options = batch.Options(lab=LAB, steps=list(LAB.steps), out=tmp_path, formats=list(formats), classroom=classroom)
    return batch.run(options, batch.roster_tasks([roster.Learner("ana", "Ana", namespace="lab01")]))


def test_a_grader_in_a_pod_marks_node_steps_not_gradable_and_scores_the_rest(tmp_path):
    outcome = graded_in(roster.Classroom(context=None, in_cluster=True), tmp_path, ("csv", "junit", "gradescope"))
    (record,) = outcome.records.values()
    statuses = [s["status"] for s in record["steps"]]
    assert statuses == ["PASS"] * 5 + ["NOT_GRADABLE"]
    assert record["status"] == "PASS" and record["total"] == 5 and record["max_total"] == 5
    assert record["not_gradable"] == ["pause-container"] and not outcome.count("ERROR")
    why = record["steps"][5]["checks"]
    assert any("runs a command on node" in c["summary"] and "a grader in a Pod" in c["summary"] for c in why)
    (row,) = csv.DictReader(io.StringIO((tmp_path / "grades.csv").read_text()))
    assert row["6-pause-container"] == "" and row["not_gradable"] == "6" and row["max"] == "5"
    assert "scored on 5 of 6 steps: step(s) 6 not gradable here" in row["note"]
    assert "step 6 pause-container: 0/0 passed, 1 not gradable here (not counted)" in outcome.report
    assert '<skipped message="not gradable here' in (tmp_path / "grades.junit.xml").read_text()


def test_the_classroom_cluster_graded_from_its_host_grades_node_steps(tmp_path):
    outcome = graded_in(roster.Classroom(context="kind-netlabs"), tmp_path)
    (record,) = outcome.records.values()
    assert [s["status"] for s in record["steps"]] == ["PASS"] * 6 and record["max_total"] == 6


def test_a_learners_own_cluster_is_not_reached_on_its_nodes():
    classroom = roster.Classroom(context="kind-netlabs")
    assert classroom.reaches_nodes(roster.Learner("ana", namespace="lab01"))
    assert not classroom.reaches_nodes(roster.Learner("bo", context="kind-bo"))
    assert not roster.Classroom(context=None, in_cluster=True).reaches_nodes(roster.Learner("ana", namespace="x"))


def test_host_steps_are_not_gradable_from_any_roster():
    lab = find_lab("05")
    step = lab.step(1)
    recording = RecordedCluster(evidence_path(lab, step, "solved"))
    seam = roster.ReadOnceCluster(recording, nodes=None)  # even beside the nodes
    result = run_step(lab, step, seam, namespace=recording.meta.get("namespace"))
    assert result.status == Status.NOT_GRADABLE
    assert not [c for c in result.checks if c.status in (Status.ERROR, Status.FAIL)]


def test_not_gradable_never_hides_a_failure():
    from labcheck.checks.outcome import CheckResult, StepResult

    def step(*statuses):
        return StepResult("01", "s", 1, "s", [CheckResult(f"c{n}", "t", "probe", s, "") for n, s in enumerate(statuses)])

    assert step(Status.NOT_GRADABLE, Status.FAIL).status == Status.FAIL
    assert step(Status.NOT_GRADABLE, Status.ERROR).status == Status.ERROR
    assert step(Status.PASS, Status.NOT_GRADABLE).status == Status.NOT_GRADABLE


def test_the_seam_raises_not_gradable_and_the_check_reports_it():
    seam = roster.ReadOnceCluster(ClassroomCluster(learner_layers(6)),
                                  nodes="and a grader in a Pod has no way onto a node")
    with pytest.raises(NotGradableHere, match="runs a command on node n1, and a grader in a Pod"):
        seam.exec_on_node("n1", ["true"], 5)
    result = run_step(LAB, LAB.steps[5], seam, namespace="lab01")
    assert result.status == Status.NOT_GRADABLE
    assert run_step(LAB, LAB.steps[0], seam, namespace="lab01").status == Status.PASS  # the API is still read


def test_the_table_in_docs_instructors_is_made_from_the_declared_needs():
    page = (REPO / "docs" / "instructors.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- gradable-table: .*? -->\n(.*?)\n<!-- /gradable-table -->", page, re.S)
    assert shown, "docs/instructors.md lost its gradable-table markers"
    assert shown.group(1) + "\n" == gradable.table(list(all_labs())), \
        "the table is out of date: paste `python -m labcheck.grading.gradable` between the markers"


def test_a_run_finds_the_needs_the_checks_declare():
    assert gradable.observed(LAB) == {**{s.id: set() for s in LAB.steps[:5]}, "pause-container": {"node"}}
    found = gradable.observed(find_lab("05"))
    assert [len(needs) for needs in found.values()] == [1, 1, 1, 0, 1] and set().union(*found.values()) == {"host"}
    for lab in all_labs():  # what the table is made from holds against what grading does
        assert gradable.declared(lab) == gradable.observed(lab), lab.id


# --- RoleBindings from a roster ---------------------------------------------------------------------


def test_rbac_binds_exec_in_each_learner_namespace_and_the_ones_a_lab_derives(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("learner,namespace,context\nana,lab08-ana,\nbo,lab08-bo,\ncy,,kind-cy\n")
    done = run_labcheck("grade", "08", "--roster", str(path), "--rbac")
    assert done.returncode == 0, done.stderr
    bindings = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == [
        "lab08-ana", "lab08-ana-monitoring", "lab08-bo", "lab08-bo-monitoring"]
    for binding in bindings:  # exec (and logs) there, nowhere else
        assert binding["kind"] == "RoleBinding" and binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "labcheck-grader-exec"}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "labcheck-grader",
                                        "namespace": "labcheck-grading"}]
    assert "1 learner(s) on their own cluster (a context) are left out" in done.stderr
    assert rbac.derived_namespaces(LAB, "lab01-x") == (["lab01-x"], [])
    assert run_labcheck("grade", "08", "--rbac").returncode == 2


def test_rbac_binds_only_logs_where_a_lab_reads_logs_and_runs_nothing(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("learner,namespace\nana,lab10-ana\nbo,lab10-bo\n")
    done = run_labcheck("grade", "10", "--roster", str(path), "--rbac")
    assert done.returncode == 0, done.stderr
    roles = {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in yaml.safe_load_all(done.stdout) if b}
    assert roles == {("lab10-ana", "labcheck-grader-exec"), ("lab10-bo", "labcheck-grader-exec"),
                     ("kube-system", "labcheck-grader-logs")}  # CoreDNS's log: read, never exec
