"""Lint rejects labs that would go wrong at grading time for every learner (issue 6, item 8).

Each case adds one broken check to a copy of lab 01 and expects a problem on
that check's own line. None of these was a lint problem at a88ff55.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labcheck.checks.matching import mismatches
from labcheck.errors import ExitStatus
from labcheck.lint.patterns import OPERATORS
from labcheck.loader import lint
from tests.conftest import REPO, copy_lab, edit, line_of, run_labcheck

FIRST_HINTS = "    hints:\n      - Save the Pod"


def with_checks(tmp_path: Path, checks_yaml: str) -> Path:
    """Lab 01 with extra checks appended to step 1 (indented as in lab.yaml)."""
    path = copy_lab(tmp_path)
    edit(path, FIRST_HINTS, checks_yaml.rstrip("\n") + "\n" + FIRST_HINTS)
    return path


TYPO_CHECK = """\
      - id: typo
        title: t
        assert:
          kind: Pod
          metadata: {name: web, labels: {app: {$exist: true}}}
"""


def found(path: Path) -> set[tuple[int, str]]:
    return {(p.line, p.message) for p in lint([path]) if p.severity == "error"}


def test_probe_needs_exactly_one_target(tmp_path):
    path = with_checks(tmp_path, """\
      - id: no-target
        title: t
        probe:
          expect: {contains: welcome}
      - id: two-targets
        title: t
        probe:
          http: {pod: multicontainerpod, url: "http://localhost"}
          exec: {pod: multicontainerpod, command: [hostname]}
""")
    text = path.read_text().splitlines()
    no_target = text.index("      - id: no-target") + 3
    two = text.index("      - id: two-targets") + 3
    assert found(path) == {  # the schema's own rule (model.Probe), reported alongside everything else
        (no_target, "steps.0.checks.3.probe: a probe needs exactly one of exec, http, dns, logs, node, host (found: none)"),
        (two, "steps.0.checks.4.probe: a probe needs exactly one of exec, http, dns, logs, node, host (found: exec, http)"),
    }


def test_unknown_operator_and_operator_misuse(tmp_path):
    path = with_checks(tmp_path, TYPO_CHECK + """\
      - id: crowded
        title: t
        assert:
          kind: Pod
          metadata: {name: web}
          spec: {nodeName: {$regex: "^kind", $exists: true}}
      - id: bad-args
        title: t
        absent:
          kind: Pod
          metadata: {name: {$oneOf: []}, labels: {tier: {$exists: "yes"}}}
""")
    problems = found(path)
    assert (line_of(path, "$exist: true"),
            "metadata.labels.app: unknown operator $exist (did you mean $exists?) "
            "(known: $contains, $exists, $oneOf, $regex)") in problems
    assert (line_of(path, '$regex: "^kind"'),
            "spec.nodeName: an operator must be the only key of its mapping (found $regex, $exists)") in problems
    assert (line_of(path, "$oneOf: []"), "metadata.name: $oneOf needs a list of the values allowed") in problems
    assert (line_of(path, "$oneOf: []"), "metadata.labels.tier: $exists needs true or false") in problems
    assert len(problems) == 4


def test_invalid_regular_expressions(tmp_path):
    path = with_checks(tmp_path, """\
      - id: bad-regex
        title: t
        assert:
          kind: Pod
          metadata:
            name: multicontainerpod
            labels: {tier: {$regex: "front-(end"}}
      - id: bad-matches
        title: t
        probe:
          exec: {pod: multicontainerpod, command: [hostname]}
          expect:
            matches: "[a-"
""")
    problems = sorted(found(path))
    assert [line for line, _ in problems] == [line_of(path, "front-(end"), line_of(path, 'matches: "[a-"')]
    assert problems[0][1].startswith("metadata.labels.tier: $regex is not a valid regular expression: "
                                     "missing ), unterminated subpattern")
    assert problems[1][1].startswith("expect.matches is not a valid regular expression: unterminated character set")


def test_a_probe_that_expects_nothing_is_a_problem(tmp_path):
    path = with_checks(tmp_path, """\
      - id: any-exit
        title: t
        probe:
          exec: {pod: multicontainerpod, command: [hostname]}
          expect: {exit_code: null}
      - id: any-logs
        title: t
        probe:
          logs: {pod: multicontainerpod, container: sidecar}
      - id: empty-text
        title: t
        probe:
          http: {pod: multicontainerpod, url: "http://localhost"}
          expect: {exit_code: null, contains: ""}
      - id: fine-exit-only
        title: t
        probe:
          exec: {pod: multicontainerpod, command: [hostname]}
      - id: fine-logs
        title: t
        probe:
          logs: {pod: multicontainerpod, container: sidecar}
          expect: {contains: Welcome}
""")
    text = path.read_text().splitlines()
    expect_line = line_of(path, "expect: {exit_code: null}")
    logs_probe = text.index("      - id: any-logs") + 3
    empty = line_of(path, 'expect: {exit_code: null, contains: ""}')
    assert found(path) == {
        (expect_line, "this probe expects nothing, so it passes whenever the command runs: "
                      "give expect.contains, not_contains or matches, or an exit_code"),
        (logs_probe, "this probe expects nothing, so it passes whenever the logs can be read: "
                     "give expect.contains, not_contains or matches"),
        (empty, "expect.contains is empty, so every output satisfies it"),
        # (an http probe still demands a good HTTP status, so it does expect something)
    }


def test_assert_fields_are_checked_against_the_kubernetes_schema(tmp_path):
    path = with_checks(tmp_path, """\
      - id: misspelt
        title: t
        assert:
          kind: Pod
          metadata: {name: multicontainerpod, lables: {app: web}}
          stauts: {phase: Running}
          spec:
            containers:
              - {name: nginx-container, readinesProbe: {$exists: true}}
      - id: wrong-shapes
        title: t
        assert:
          kind: Pod
          metadata: {name: multicontainerpod, labels: {enabled: true}}
          spec: {containers: {name: sidecar}}
          status:
            containerStatuses:
              - {name: sidecar, ready: "yes", restartCount: none}
      - id: empty-value
        title: t
        assert:
          kind: Pod
          metadata: {name: multicontainerpod}
          spec:
            containers:
              - name: nginx-container
                readinessProbe:
""")
    assert found(path) == {
        (line_of(path, "lables: {app: web}"), "Pod has no field metadata.lables (did you mean labels?)"),
        (line_of(path, "stauts: {phase"), "Pod has no field stauts (did you mean status?)"),
        (line_of(path, "readinesProbe:"),
         "Pod has no field spec.containers[0].readinesProbe (did you mean readinessProbe?)"),
        (line_of(path, "{enabled: true}"),
         "Pod field metadata.labels.enabled is text, not true (quote it if you mean the text: 'true')"),
        (line_of(path, "{containers: {name: sidecar}}"),
         "Pod field spec.containers is a list: give its items as a YAML list (- ...)"),
        (line_of(path, 'ready: "yes"'), "Pod field status.containerStatuses[0].ready is true or false, not 'yes'"),
        (line_of(path, 'ready: "yes"'),
         "Pod field status.containerStatuses[0].restartCount is a whole number, not 'none'"),
        (line_of(path, "readinessProbe:"),
         "spec.containers[0].readinessProbe is empty (null), which no object ever matches: "
         "give it a value, or {$exists: false} for 'not set'"),
    }


def test_a_kind_outside_the_core_api_needs_its_apiVersion(tmp_path):
    path = with_checks(tmp_path, """\
      - id: no-api-version
        title: t
        assert:
          kind: Deployment
          metadata: {name: web}
      - id: wrong-api-version
        title: t
        absent:
          apiVersion: v1
          kind: NetworkPolicy
      - id: no-such-kind
        title: t
        assert:
          apiVersion: apps/v1
          kind: Deploymnt
      - id: right
        title: t
        assert:
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: web}
          spec: {replicas: 2, template: {spec: {containers: [{name: web}]}}}
      - id: custom-resource
        title: t
        assert:
          apiVersion: example.com/v1
          kind: Widget
          spec: {anything: {goes: here}}
""")
    assert found(path) == {
        (line_of(path, "kind: Deployment"),
         "kind Deployment needs apiVersion: apps/v1 (without one the core API, v1, is asked, and it has no Deployment)"),
        (line_of(path, "apiVersion: v1"), "apiVersion v1 serves no NetworkPolicy: write apiVersion: networking.k8s.io/v1"),
        (line_of(path, "kind: Deploymnt"), "Kubernetes has no built-in kind 'Deploymnt' (did you mean Deployment?)"),
    }


def test_schema_and_semantic_problems_are_reported_in_one_pass(tmp_path):
    path = with_checks(tmp_path, TYPO_CHECK)
    edit(path, "cluster: single-node", "cluster: 7")  # a schema error
    edit(path, "unsolved_fails: [pod-exists]", "unsolved_fails: [pod-exist]")  # a reference error
    problems = [p for p in lint([path]) if p.severity == "error"]
    messages = [p.message for p in problems]
    assert "cluster: Input should be a valid string" in messages
    assert any("unknown operator $exist" in m for m in messages)
    assert any("unknown check id 'pod-exist'" in m for m in messages)
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_lint_cli_prints_file_and_line_and_exits_4(tmp_path):
    path = with_checks(tmp_path, """\
      - id: typo
        title: t
        assert: {kind: Pod, metadata: {name: web}, stauts: {phase: Running}}
""")
    done = run_labcheck("lint", str(path))
    assert done.returncode == ExitStatus.INVALID_LAB and "Traceback" not in done.stderr
    assert done.stdout.strip().endswith(
        f"lab.yaml:{line_of(path, 'stauts')}: Pod has no field stauts (did you mean status?)")


# --- the rules agree with the code they protect ------------------------------------


def test_lint_knows_exactly_the_operators_matching_understands():
    source = (REPO / "checker" / "labcheck" / "checks" / "matching.py").read_text()
    assert set(re.findall(r'op == "(\$\w+)"', source)) == set(OPERATORS)
    for op in OPERATORS:
        mismatches({op: [1] if op == "$oneOf" else 1 if op != "$exists" else True}, 1)  # understood: no raise
    with pytest.raises(ValueError):
        mismatches({"$exist": True}, 1)


def test_offline_schema_reads_what_the_client_models_say():
    """Reading the client's models as text gives what importing them gives (in a fresh process,
    so importing the whole client here leaves this one as it was)."""
    code = """if True:
        import json
        import kubernetes.client as k8s
        from labcheck.lint.k8s_schema import client_schema
        schema = client_schema()
        models = ["V1Pod", "V1PodSpec", "V1Container", "V1ContainerStatus", "V1Deployment", "V1Service",
                  "V1ServicePort", "V1NetworkPolicy", "V1EndpointSlice", "CoreV1Event", "V1ObjectMeta"]
        differ = [m for m in models if schema.fields(m) != {
            getattr(k8s, m).attribute_map[a]: t for a, t in getattr(k8s, m).openapi_types.items()}]
        print(json.dumps([differ, schema.model_of("v1", "Pod"), schema.model_of("events.k8s.io/v1", "Event"),
                          schema.model_of("v1", "Event"), schema.api_versions_serving("NetworkPolicy")]))
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [[], "V1Pod", "EventsV1Event", "CoreV1Event", ["networking.k8s.io/v1"]]


def test_lint_stays_light_and_does_not_import_the_kubernetes_client():
    code = ("import sys, time; t = time.perf_counter(); from labcheck.loader import lint, lab_files; "
            "assert [p for p in lint(lab_files()) if p.severity == 'error'] == []; print(time.perf_counter() - t, 'kubernetes' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, imported = done.stdout.split()
    assert imported == "False"
    assert float(seconds) < 2.0
