"""The `matrix:` check (checks/connectivity.py) over a fake cluster: every verdict path of a cell,
the report (summary, cause, evidence), parallelism, and the lab format's validation."""

from __future__ import annotations

import re
import time

import pytest
from pydantic import ValidationError
from rich.console import Console

from labcheck.checks.outcome import Status
from labcheck.checks.kinds.matrix import Matrix
from labcheck.render.text import table_of
from tests.conftest import FakeCluster, grade_checks, make_lab, ok, pod

NS = "lab01"
IPS = {"frontend": "10.244.0.10", "backend": "10.244.0.11", "db": "10.244.0.12", "monitor": "10.244.0.13"}
CLIENTS = {"frontend": {"pod": "frontend"}, "backend": {"pod": "backend"},
           "monitor": {"pod": "monitor", "namespace": "$LAB_NAMESPACE-monitoring"}}
TARGETS = {"backend:8080": {"pod": "backend", "service": "backend", "port": 8080},
           "db:6379": {"pod": "db", "service": "db", "port": 6379, "protocol": "tcp"},
           "frontend:80": {"pod": "frontend", "port": 80}}

HTTP_OK = ok("hello\nLABCHECK-HTTP-STATUS 200\n")
TCP_OK = ok("\nLABCHECK-TCP-CONNECT 0.000412\n", returncode=52, stderr="curl: (52) Empty reply from server")
REFUSED = ok("\nLABCHECK-TCP-CONNECT 0.000000\n", returncode=7,
             stderr="curl: (7) Failed to connect to 10.244.0.11 port 8080 after 1 ms: Couldn't connect to server")
TIMED_OUT = ok("", returncode=28, stderr="curl: (28) Connection timed out after 2001 milliseconds")
NO_NAME = ok("", returncode=6, stderr="curl: (6) Could not resolve host: db.lab01")
NO_CURL = ok("", returncode=127, stderr="curl is not in this container's image")


def world(extra=()):
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
                 "spec": {"clusterIP": f"10.96.0.{i + 20}"}} for i, name in enumerate(("frontend", "backend", "db"))]
    pods = [pod(name, namespace=NS if name != "monitor" else f"{NS}-monitoring", labels={"app": name}, ip=ip)
            for name, ip in IPS.items()]
    return pods + services + list(extra)


def target_of(script: str) -> str:
    for name, ip in IPS.items():
        if f"{name}.{NS}" in script or f"//{ip}:" in script:
            return name
    raise AssertionError(f"no target in {script}")


def scripts_of(command: list[str]) -> list[str]:
    """The scripts of a batch command (one background job each)."""
    assert command[:2] == ["sh", "-c"]
    return re.findall(r"out=\$\( \{ (.*?)\n\} 2>&1 \)", command[2], re.DOTALL)


def batch_output(results) -> str:
    """What the batch's shell prints: each script's exit code and both its streams, between marks."""
    return "".join(f"LABCHECK-CELL-BEGIN {i} {r.returncode}\n{(r.stdout + r.stderr).rstrip(chr(10))}\n"
                   f"LABCHECK-CELL-END {i}\n" for i, r in enumerate(results))


def answering(table: dict[tuple[str, str], object], control=None, delay: float = 0.0):
    """exec answers: (client, target) -> result; node controls answer `control` (default: they get through)."""
    def one(where, script):
        target = target_of(script)
        tcp = "TCP-CONNECT" in script
        if where.startswith("node/"):
            result = control(target) if control else None
        else:
            result = table.get((where.split("/")[0], target))
        return result if result is not None else (TCP_OK if tcp else HTTP_OK)

    def answer(where, command):
        time.sleep(delay)
        return ok(batch_output([one(where, script) for script in scripts_of(command)]))
    return answer


def matrix(expect, **extra):
    return {"id": "m", "title": "matrix", "matrix": {"clients": CLIENTS, "targets": TARGETS, "expect": expect, **extra}}


def grade(expect, table=None, control=None, objects=None, delay=0.0):
    cluster = FakeCluster(world() if objects is None else objects, exec_answer=answering(table or {}, control, delay))
    return grade_checks([matrix(expect)], cluster).checks[0], cluster


def cells(check):
    item = next(e for e in check.evidence if e.get("kind") == "matrix")
    return {(c["client"], c["target"]): c for c in item["cells"]}


# --- open ----------------------------------------------------------------------------------------


def test_all_open_passes_without_running_a_control():
    check, cluster = grade({"frontend": {"backend:8080": "open", "db:6379": "open"}, "monitor": {"frontend:80": "open"}})
    assert check.status == Status.PASS and "all 3 cells (3 open, 0 blocked)" in check.summary
    assert not [c for c in cluster.calls if c[0] == "node"]
    assert cells(check)[("frontend", "db:6379")]["detail"] == "TCP connection opened"


def test_cells_connect_by_service_name_or_pod_ip_as_the_target_says():
    check, cluster = grade({"monitor": {"backend:8080": "open", "frontend:80": "open"}})
    commands = [script for c in cluster.calls if c[0] == "exec" for script in scripts_of(list(c[3]))]
    assert any("http://backend.lab01:8080/" in c for c in commands)
    assert any(f"http://{IPS['frontend']}:80/" in c for c in commands)


def test_client_namespace_follows_the_graded_namespace():
    seen = []

    class Recording(FakeCluster):
        def exec_in_pod(self, namespace, pod_name, container, command, timeout):
            seen.append((namespace, pod_name))
            return super().exec_in_pod(namespace, pod_name, container, command, timeout)

    cluster = Recording(world(), exec_answer=answering({}))
    assert grade_checks([matrix({"monitor": {"backend:8080": "open"}})], cluster).status == Status.PASS
    assert seen == [(f"{NS}-monitoring", "monitor")]


# --- blocked -------------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [REFUSED, TIMED_OUT], ids=["rejected", "timed-out"])
def test_blocked_passes_when_rejected_or_timed_out_while_the_node_gets_through(failure):
    check, cluster = grade({"frontend": {"backend:8080": "blocked"}}, {("frontend", "backend"): failure})
    assert check.status == Status.PASS
    assert [c for c in cluster.calls if c[0] == "node"], "a blocked cell needs its control"
    node_command = scripts_of(list(next(c for c in cluster.calls if c[0] == "node")[2]))[0]
    assert f"//{IPS['backend']}:8080/" in node_command  # the control goes straight to the server Pod
    assert "the server's node got through" in cells(check)[("frontend", "backend:8080")]["detail"]


def test_open_where_blocked_is_expected_fails_naming_the_cell():
    check, _ = grade({"frontend": {"backend:8080": "blocked", "db:6379": "blocked"}},
                     {("frontend", "backend"): REFUSED})
    assert check.status == Status.FAIL
    assert "1 of 2 cells differ: frontend→db:6379 expected blocked, observed open" in check.summary
    assert "nothing stops frontend→db:6379" in check.cause


def test_blocked_where_open_is_expected_fails_naming_the_cell():
    check, _ = grade({"monitor": {"backend:8080": "open"}}, {("monitor", "backend"): REFUSED})
    assert check.status == Status.FAIL
    assert "monitor→backend:8080 expected open, observed blocked" in check.summary
    assert "a policy rejects monitor→backend:8080" in check.cause


def test_a_lab_cause_replaces_only_the_generic_mismatch_cause():
    spec = matrix({"monitor": {"backend:8080": "open"}})
    spec["cause"] = "label the monitoring namespace"
    cluster = FakeCluster(world(), exec_answer=answering({("monitor", "backend"): REFUSED}))
    assert grade_checks([spec], cluster).checks[0].cause == "label the monitoring namespace"
    cluster = FakeCluster(world(), exec_answer=answering({("monitor", "backend"): NO_NAME}))
    assert "cannot resolve" in grade_checks([spec], cluster).checks[0].cause


# --- what is not blocked -------------------------------------------------------------------------


def test_server_down_is_not_blocked():
    check, _ = grade({"frontend": {"backend:8080": "blocked"}}, {("frontend", "backend"): REFUSED},
                     control=lambda target: REFUSED)
    assert check.status == Status.FAIL
    assert cells(check)[("frontend", "backend:8080")]["observed"] == "server down"
    assert "answers nobody" in check.cause


def test_dns_failure_is_not_blocked_and_names_the_egress_gotcha():
    check, cluster = grade({"backend": {"db:6379": "open", "frontend:80": "blocked"}},
                           {("backend", "db"): NO_NAME,
                            ("backend", "frontend"): ok("", 28, "curl: (28) Resolving timed out after 2000 ms")})
    assert check.status == Status.FAIL
    observed = {k: c["observed"] for k, c in cells(check).items()}
    assert observed == {("backend", "db:6379"): "no DNS", ("backend", "frontend:80"): "no DNS"}
    assert "backend cannot resolve names" in check.cause and "port 53" in check.cause


def test_client_without_curl_is_error_not_blocked():
    check, _ = grade({"frontend": {"backend:8080": "blocked"}}, {("frontend", "backend"): NO_CURL})
    assert check.status == Status.ERROR and "cannot judge frontend→backend:8080" in check.summary


def test_other_failures_say_what_they_were():
    empty = ok("", 52, "curl: (52) Empty reply from server")
    check, _ = grade({"frontend": {"backend:8080": "open"}}, {("frontend", "backend"): empty})
    assert check.status == Status.FAIL
    assert cells(check)[("frontend", "backend:8080")]["observed"] == "failed"
    assert "not speaking HTTP" in check.cause


def test_missing_client_pod_is_a_fail_that_waits_not_an_error():
    objects = [o for o in world() if o["metadata"]["name"] != "monitor"]
    check, _ = grade({"monitor": {"backend:8080": "open"}}, objects=objects)
    assert check.status == Status.FAIL
    assert "client Pod monitor does not exist in namespace lab01-monitoring" in check.summary


def test_server_pod_that_cannot_start_fails_at_once():
    from labcheck.engine import run_step

    stuck = pod("db", namespace=NS, running=False, waiting_reason="ImagePullBackOff")
    objects = [o for o in world() if o["metadata"]["name"] != "db" or o["kind"] != "Pod"] + [stuck]
    lab = make_lab([matrix({"backend": {"db:6379": "open"}})])
    result = run_step(lab, lab.steps[0], FakeCluster(objects, exec_answer=answering({})), wait=5)
    check = result.checks[0]
    assert check.status == Status.FAIL and check.attempts == 1 and "kind load" in check.cause


def test_missing_service_fails():
    objects = [o for o in world() if not (o["kind"] == "Service" and o["metadata"]["name"] == "db")]
    check, _ = grade({"backend": {"db:6379": "open"}}, objects=objects)
    assert check.status == Status.FAIL and "Service db does not exist" in check.summary


# --- speed and evidence --------------------------------------------------------------------------


def test_nine_cells_run_side_by_side():
    expect = {"frontend": {"backend:8080": "blocked", "db:6379": "open", "frontend:80": "open"},
              "backend": {"backend:8080": "open", "db:6379": "blocked", "frontend:80": "open"},
              "monitor": {"backend:8080": "blocked", "db:6379": "open", "frontend:80": "blocked"}}
    table = {("frontend", "backend"): REFUSED, ("backend", "db"): REFUSED, ("monitor", "backend"): REFUSED,
             ("monitor", "frontend"): REFUSED}
    started = time.monotonic()
    check, cluster = grade(expect, table, delay=0.3)
    assert check.status == Status.PASS, check.summary
    # 9 cells and 3 controls: one exec per client row and one for the node's controls, side by side.
    assert time.monotonic() - started < 1.0
    assert [c[0] for c in cluster.calls if c[0] in ("exec", "node")].count("exec") == 3
    assert len([c for c in cluster.calls if c[0] == "node"]) == 1


def test_evidence_holds_every_command_and_the_matrix_as_data():
    check, _ = grade({"frontend": {"backend:8080": "blocked"}}, {("frontend", "backend"): REFUSED})
    kinds = [e["kind"] for e in check.evidence]
    assert kinds.count("exec") == 2 and kinds.count("matrix") == 1  # the client's batch and the node's
    item = next(e for e in check.evidence if e["kind"] == "matrix")
    assert item["clients"] == list(CLIENTS) and item["targets"] == list(TARGETS)
    assert item["cells"][0] | {"detail": ""} == {"client": "frontend", "target": "backend:8080", "expected": "blocked",
                                                 "observed": "blocked", "detail": "", "as_expected": True}


def test_the_table_shows_expected_and_observed():
    check, _ = grade({"frontend": {"backend:8080": "blocked", "db:6379": "blocked"}},
                     {("frontend", "backend"): REFUSED})
    console = Console(width=120, record=True, color_system=None)
    console.print(table_of(check.table))
    text = console.export_text()
    assert re.search(r"frontend\s+│\s+blocked\s+│\s+open \(want blocked\)", text), text
    assert "frontend:80" not in text  # a column without cells is left out


# --- the lab format --------------------------------------------------------------------------------


def test_expect_must_name_known_clients_and_targets():
    with pytest.raises(ValidationError, match="client 'nobody'"):
        Matrix.model_validate({"clients": CLIENTS, "targets": TARGETS, "expect": {"nobody": {"db:6379": "open"}}})
    with pytest.raises(ValidationError, match="target 'db:5432'"):
        Matrix.model_validate({"clients": CLIENTS, "targets": TARGETS, "expect": {"frontend": {"db:5432": "open"}}})
    with pytest.raises(ValidationError):
        Matrix.model_validate({"clients": CLIENTS, "targets": TARGETS, "expect": {"frontend": {"db:6379": "maybe"}}})


def test_a_target_needs_an_address():
    with pytest.raises(ValidationError, match="needs `pod`, `service` or both"):
        Matrix.model_validate({"clients": CLIENTS, "targets": {"x:1": {"port": 1}}, "expect": {"frontend": {"x:1": "open"}}})


def test_batch_output_is_split_per_cell_even_when_jobs_finish_out_of_order():
    from labcheck.checks.kinds.matrix import batch_command, split_batch

    scripts = ["echo a", "echo b", "exit 7"]
    command = batch_command(scripts)
    assert command[:2] == ["sh", "-c"] and scripts_of(command) == scripts
    printed = ("LABCHECK-CELL-BEGIN 2 7\ncurl: (7) refused\nLABCHECK-CELL-END 2\n"
               "LABCHECK-CELL-BEGIN 0 0\nfirst\nline two\nLABCHECK-CELL-END 0\n")
    parts = split_batch(ok(printed), scripts)
    assert [(p.returncode, p.stdout) for p in parts[::2]] == [(0, "first\nline two"), (7, "curl: (7) refused")]
    assert parts[1].returncode == 0 and parts[1].stdout == ""  # a job that printed nothing shares the batch's fate
    assert parts[0].args == ["sh", "-c", "echo a"]


def test_batch_command_runs_in_a_real_shell():
    import subprocess

    from labcheck.checks.kinds.matrix import batch_command, split_batch
    from labcheck.cluster.base import ExecResult

    scripts = ["echo out; echo err >&2; exit 3", "printf 'no newline'", "sleep 0.2; echo late"]
    done = subprocess.run(batch_command(scripts), capture_output=True, text=True, timeout=10)
    parts = split_batch(ExecResult(args=[], returncode=done.returncode, stdout=done.stdout), scripts)
    assert [(p.returncode, p.stdout) for p in parts] == [(3, "out\nerr"), (0, "no newline"), (0, "late")]
