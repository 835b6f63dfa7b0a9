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
                 "spec": {"clusterIP": f"10.96.0.{i + 20}", "ports": [{"port": port}]}}
                for i, (name, port) in enumerate((("frontend", 80), ("backend", 8080), ("db", 6379)))]
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
    assert check.summary == "1 of 2 cells differs: frontend→db:6379 open (want blocked)"
    assert check.cause == ("namespace lab01 has no NetworkPolicy, so its Pods admit every client, and no "
                           "NetworkPolicy limits the egress of frontend (frontend → db:6379)")
    assert check.expected is None and check.observed is None  # the table shows them


def test_blocked_where_open_is_expected_fails_naming_the_cell():
    check, _ = grade({"monitor": {"backend:8080": "open"}}, {("monitor", "backend"): REFUSED})
    assert check.status == Status.FAIL
    assert "monitor→backend:8080 blocked (want open)" in check.summary
    # no policy anywhere would block it: kube-router is behind, or something else drops it
    assert "the NetworkPolicies as written allow these, yet they were blocked" in check.cause


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


# --- why cells differ: the policies read as written (issue 21: verdicts that read at a glance) ------


def policy(name, selector, *, ingress=None, egress=None, types=None, namespace=NS):
    spec = {"podSelector": selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def namespaces(monitoring_labels=None):
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
            for name, labels in ((NS, {"kubernetes.io/metadata.name": NS}),
                                 (f"{NS}-monitoring", {"kubernetes.io/metadata.name": f"{NS}-monitoring",
                                                       **(monitoring_labels or {})}))]


DENY_ALL = policy("default-deny-ingress", {}, types=["Ingress"])
MONITOR_PEER = {"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}},
                "podSelector": {"matchLabels": {"app": "monitor"}}}


def graded(expect, table, objects, wait=5.0):
    """Through the engine, with its retries: a final verdict is reached in one attempt."""
    from labcheck.engine import run_step
    from tests.conftest import make_lab

    lab = make_lab([matrix(expect)])
    return run_step(lab, lab.steps[0], FakeCluster(world(objects), exec_answer=answering(table)), wait=wait).checks[0]


def test_open_cells_in_a_namespace_without_any_policy_fail_at_once():
    """No NetworkPolicy exists: nothing that waiting could change. Before, 9 cells took the whole timeout."""
    started = time.monotonic()
    check = graded({"frontend": {"backend:8080": "blocked", "db:6379": "blocked"},
                    "monitor": {"backend:8080": "blocked"}}, {}, namespaces())
    assert check.status == Status.FAIL and check.attempts == 1 and time.monotonic() - started < 2
    assert check.summary == "3 of 3 cells differ: 3 open (want blocked)"
    assert check.cause.startswith("namespace lab01 has no NetworkPolicy, so its Pods admit every client")
    assert check.cause.endswith("(all 3 cells that differ)") and "\n" not in check.cause


def test_open_cells_the_policies_block_are_retried_while_kube_router_catches_up():
    check = graded({"frontend": {"backend:8080": "blocked"}}, {}, [DENY_ALL, *namespaces()], wait=1.2)
    assert check.status == Status.FAIL and check.attempts > 1
    assert "the NetworkPolicies as written block these, yet they got through" in check.cause


def test_each_reason_is_said_once_with_its_cells_under_it():
    """A deny that selects backend only: frontend and db stay open, each told once, cells grouped by target."""
    deny_backend = policy("default-deny-ingress", {"matchLabels": {"app": "backend"}}, types=["Ingress"])
    check = graded({"backend": {"frontend:80": "blocked", "db:6379": "blocked"},
                    "frontend": {"backend:8080": "blocked", "db:6379": "blocked"},
                    "monitor": {"db:6379": "blocked", "frontend:80": "blocked"}},
                   {("frontend", "backend"): REFUSED}, [deny_backend, *namespaces()])
    assert check.attempts == 1 and check.summary == "5 of 6 cells differ: 5 open (want blocked)"
    lines = check.cause.splitlines()
    assert lines == [
        "- no NetworkPolicy selects Pod frontend (app=frontend) for ingress, so it admits every client (in namespace "
        "lab01: default-deny-ingress selects app=backend), and no NetworkPolicy limits the egress of backend, "
        "monitor (backend, monitor → frontend:80)",
        "- no NetworkPolicy selects Pod db (app=db) for ingress, so it admits every client (in namespace lab01: "
        "default-deny-ingress selects app=backend), and no NetworkPolicy limits the egress of backend, frontend, "
        "monitor (backend, frontend, monitor → db:6379)"]


def test_a_namespace_selector_on_its_own_item_is_named_as_the_rule_that_admits():
    """`from: [{namespaceSelector}, {podSelector}]` is OR: debug, beside monitor, gets in."""
    clients = {**CLIENTS, "debug": {"pod": "debug", "namespace": "$LAB_NAMESPACE-monitoring"}}
    debug = pod("debug", namespace=f"{NS}-monitoring", labels={"app": "debug"}, ip="10.244.0.14")
    or_not_and = policy("backend-allow-monitoring", {"matchLabels": {"app": "backend"}}, types=["Ingress"],
                        ingress=[{"from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}},
                                           {"podSelector": {"matchLabels": {"app": "monitor"}}}]}])
    IPS["debug"] = debug["status"]["podIP"]
    try:
        spec = {"id": "m", "title": "matrix", "matrix": {"clients": clients, "targets": TARGETS,
                                                         "expect": {"debug": {"backend:8080": "blocked"}}}}
        cluster = FakeCluster(world([debug, DENY_ALL, or_not_and, *namespaces({"purpose": "monitoring"})]),
                              exec_answer=answering({}))
        check = grade_checks([spec], cluster).checks[0]
    finally:
        del IPS["debug"]
    assert check.status == Status.FAIL
    assert ("ingress rule 1 of NetworkPolicy backend-allow-monitoring admits every Pod of namespaces labelled "
            "purpose=monitoring into Pod backend; each item of its list admits on its own") in check.cause


def test_a_rule_on_another_port_says_which_port_it_allows():
    wrong_port = policy("backend-allow-monitoring", {"matchLabels": {"app": "backend"}}, types=["Ingress"],
                        ingress=[{"from": [MONITOR_PEER], "ports": [{"protocol": "TCP", "port": 9090}]}])
    check = graded({"monitor": {"backend:8080": "open"}}, {("monitor", "backend"): REFUSED},
                   [DENY_ALL, wrong_port, *namespaces({"purpose": "monitoring"})])
    assert check.attempts == 1
    assert check.cause.startswith("ingress rule 1 of NetworkPolicy backend-allow-monitoring admits Pods labelled "
                                  "app=monitor of namespaces labelled purpose=monitoring into Pod backend only on "
                                  "port 9090")


@pytest.mark.parametrize("selector", [{"matchLabels": {"app": "backend"}},
                                      {"matchExpressions": [{"key": "app", "operator": "In", "values": ["backend"]}]}],
                         ids=["matchLabels", "matchExpressions"])
def test_a_named_port_and_either_selector_form_count_as_allowing(selector):
    """Allowed as written, yet blocked: kube-router is behind, so the check waits (not final)."""
    backend = pod("backend", namespace=NS, labels={"app": "backend"}, ip=IPS["backend"])
    backend["spec"]["containers"][0]["ports"] = [{"name": "api", "containerPort": 8080}]
    by_name = policy("backend-allow-monitoring", selector, types=["Ingress"],
                     ingress=[{"from": [MONITOR_PEER], "ports": [{"port": "api"}]}])
    objects = [o for o in world([DENY_ALL, by_name, *namespaces({"purpose": "monitoring"})])
               if o["metadata"]["name"] != "backend" or o["kind"] != "Pod"] + [backend]
    from labcheck.engine import run_step
    from tests.conftest import make_lab

    lab = make_lab([matrix({"monitor": {"backend:8080": "open"}})])
    cluster = FakeCluster(objects, exec_answer=answering({("monitor", "backend"): REFUSED}))
    check = run_step(lab, lab.steps[0], cluster, wait=1.2).checks[0]
    assert check.attempts > 1 and "as written allow these" in check.cause


def test_a_rule_that_admits_nobody_lists_what_the_policies_admit():
    replaced = policy("db-allow-backend", {"matchLabels": {"app": "db"}}, types=["Ingress"],
                      ingress=[{"from": [MONITOR_PEER], "ports": [{"protocol": "TCP", "port": 6379}]}])
    check = graded({"backend": {"db:6379": "open"}}, {("backend", "db"): REFUSED},
                   [DENY_ALL, replaced, *namespaces({"purpose": "monitoring"})])
    assert check.attempts == 1
    assert ("Pod db (app=db) is selected for ingress by NetworkPolicies default-deny-ingress, db-allow-backend, and "
            "none of their rules admits these clients: default-deny-ingress admits nothing; db-allow-backend admits "
            "Pods labelled app=monitor of namespaces labelled purpose=monitoring on port 6379") in check.cause


def test_dns_blocked_by_an_egress_policy_is_final_and_names_it():
    dns = pod("coredns-1", namespace="kube-system", labels={"k8s-app": "kube-dns"}, ip="10.244.0.2")
    egress = policy("backend-egress", {"matchLabels": {"app": "backend"}}, types=["Egress"],
                    egress=[{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 6379}]}])
    check = graded({"backend": {"db:6379": "open"}}, {("backend", "db"): NO_NAME}, [dns, egress, *namespaces()])
    assert check.attempts == 1
    assert check.cause.startswith("backend cannot resolve names: Pod backend's egress is limited by NetworkPolicy "
                                  "backend-egress, and none of its rules lets it reach kube-dns on UDP port 53")


def test_a_rule_that_admits_is_the_root_and_egress_is_not_mentioned():
    allow_all = policy("backend-allow-all", {"matchLabels": {"app": "backend"}}, types=["Ingress"], ingress=[{}])
    check = graded({"frontend": {"backend:8080": "blocked"}}, {}, [DENY_ALL, allow_all, *namespaces()])
    assert check.attempts == 1
    assert check.cause == ("ingress rule 1 of NetworkPolicy backend-allow-all admits every Pod and address into Pod "
                           "backend (frontend → backend:8080)")
