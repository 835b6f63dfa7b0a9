"""Traffic from outside the cluster: `host` probes, the exec_on_host seam, its recording and its refusal in rosters."""

from __future__ import annotations

import pytest

from labcheck.checks.outcome import Status
from labcheck.cluster.host import run_on_host
from labcheck.cluster.recorded import RecordedCluster, RecordingCluster
from labcheck.engine import run_step
from labcheck.errors import NotGradableHere
from labcheck.grading.roster import ReadOnceCluster
from labcheck.checks.kinds.probe import Probe
from tests.conftest import FakeCluster, grade_checks, make_lab, ok


def host_probe(target: dict, expect: dict | None = None) -> dict:
    probe = {"host": target}
    if expect is not None:
        probe["expect"] = expect
    return {"id": "h", "title": "h", "probe": probe}


def test_host_url_probe_runs_on_this_machine_and_judges_the_status():
    cluster = FakeCluster([], exec_answer=lambda where, cmd: ok("Served by web-1\nLABCHECK-HTTP-STATUS 200\n"))
    result = grade_checks([host_probe({"url": "http://localhost:30080/"}, {"contains": "Served by"})], cluster)
    assert result.status == Status.PASS
    assert cluster.calls[0][0] == "host" and "localhost:30080" in " ".join(cluster.calls[0][1])
    assert "from this machine" in result.checks[0].summary


def test_host_url_probe_fails_on_an_error_status_and_explains_a_refusal():
    served = FakeCluster([], exec_answer=lambda where, cmd: ok("oops\nLABCHECK-HTTP-STATUS 503\n"))
    assert "HTTP 503" in grade_checks([host_probe({"url": "http://localhost:30080/"})], served).checks[0].summary
    refused = FakeCluster([], exec_answer=lambda where, cmd: ok(
        stderr="curl: (7) Failed to connect to localhost port 30080: Connection refused", returncode=7))
    check = grade_checks([host_probe({"url": "http://localhost:30080/"})], refused).checks[0]
    assert check.status == Status.FAIL and "nothing listens" in check.cause


def test_host_without_a_client_is_an_error_not_the_learners_fail():
    missing = FakeCluster([], exec_answer=lambda where, cmd: ok(stderr="sh: curl: not found", returncode=127))
    check = grade_checks([host_probe({"url": "http://localhost:30080/"})], missing).checks[0]
    assert check.status == Status.ERROR and "install curl" in check.summary


def test_host_command_probe_is_judged_by_exit_code_and_output():
    cluster = FakeCluster([], exec_answer=lambda where, cmd: ok("172.18.0.1 dev br-1 lladdr 02:42:ac:12:00:03\n"))
    passed = grade_checks([host_probe({"command": ["ip", "neigh"]}, {"contains": "lladdr"})], cluster)
    assert passed.status == Status.PASS and cluster.calls == [("host", ("ip", "neigh"))]


@pytest.mark.parametrize("target", [{}, {"url": "http://x", "command": ["true"]}])
def test_host_probe_needs_exactly_one_of_url_and_command(target):
    with pytest.raises(ValueError, match="exactly one of url, command"):
        Probe.model_validate({"host": target})


def test_host_probe_cannot_claim_blocked():
    with pytest.raises(ValueError, match="blocked"):
        Probe.model_validate({"host": {"url": "http://x"}, "expect": {"blocked": True}, "control": {"pod": "a"}})


def test_host_answers_are_recorded_and_replayed(tmp_path):
    lab = make_lab([host_probe({"url": "http://localhost:30080/"}, {"contains": "Served by"})])
    live = FakeCluster([], exec_answer=lambda where, cmd: ok("Served by web-1\nLABCHECK-HTTP-STATUS 200\n"))
    recording = RecordingCluster(live)
    first = run_step(lab, lab.steps[0], recording, wait=0)
    path = tmp_path / "evidence.json"
    recording.save(path, {"lab": "99", "steps": ["s"]})
    replayed = run_step(lab, lab.steps[0], RecordedCluster(path), wait=0)
    assert first.status == replayed.status == Status.PASS
    assert replayed.checks[0].evidence == first.checks[0].evidence


def test_a_roster_cannot_send_traffic_from_a_learners_machine():
    reads = ReadOnceCluster.__new__(ReadOnceCluster)
    with pytest.raises(NotGradableHere, match="learner's own machine"):  # not gradable here, never ERROR
        reads.exec_on_host(["curl", "http://localhost:30080/"], timeout=5)


def test_run_on_host_reports_exit_codes_timeouts_and_missing_programs():
    assert run_on_host(["sh", "-c", "echo hi; exit 3"], timeout=5).returncode == 3
    slow = run_on_host(["sleep", "5"], timeout=0.2)
    assert slow.timed_out and slow.returncode == 124
    missing = run_on_host(["no-such-program-here"], timeout=5)
    assert missing.returncode == 127 and missing.extra["not_started"] and missing.where == "this machine"


# --- the way to kind's network: this machine, or a container on it ---------------------------


def test_only_requests_to_cluster_addresses_may_need_a_container():
    from labcheck.checks.commands import http_command
    from labcheck.cluster.host import cluster_addresses

    assert cluster_addresses(http_command("http://172.18.0.3:30080/", 5))
    assert cluster_addresses(http_command("http://[fc00:f853::3]:30080/", 5))
    assert not cluster_addresses(http_command("http://localhost:30080/", 5))
    assert not cluster_addresses(http_command("http://127.0.0.1:30080/", 5))
    assert not cluster_addresses(["ip", "neigh", "show"])


def test_a_machine_that_cannot_reach_the_nodes_asks_from_a_container_and_remembers(tmp_path, monkeypatch):
    from labcheck.checks.commands import http_command
    from labcheck.cluster import host

    tried = []
    monkeypatch.delenv("LABCHECK_HOST_PATH", raising=False)
    monkeypatch.setattr(host, "_reaches", lambda address, port=6443: tried.append(address) or False)
    ran = []
    monkeypatch.setattr(host, "run_in_container", lambda command, timeout, cluster, network:
                        ran.append(("container", cluster, network)) or ok("in a container"))
    monkeypatch.setattr(host, "run_on_host", lambda command, timeout: ran.append(("here",)) or ok("here"))
    cache = tmp_path / "host-path.json"
    path = host.HostPath("netlabs-multi", "172.18.0.2", "kind", cache)
    path.run(http_command("http://172.18.0.3:30080/", 5), 5)
    path.run(http_command("http://localhost:30080/", 5), 5)  # kind's published port: always from here
    assert ran == [("container", "netlabs-multi", "kind"), ("here",)]
    again = host.HostPath("netlabs-multi", "172.18.0.2", "kind", cache)
    assert again.through_container() and tried == ["172.18.0.2"]  # decided once, kept


def test_the_container_way_can_be_forced_and_says_where_it_ran(monkeypatch):
    from labcheck.cluster import host

    monkeypatch.setenv("LABCHECK_HOST_PATH", "container")
    assert host.HostPath("c", "10.0.0.1").through_container()
    monkeypatch.setenv("LABCHECK_HOST_PATH", "direct")
    assert not host.HostPath("c", "10.0.0.1").through_container()
    calls = []

    def fake_run(command, timeout):
        calls.append(command)
        return ok("LABCHECK-HTTP-STATUS 200")

    monkeypatch.setattr(host, "run_on_host", fake_run)
    monkeypatch.setattr(host.subprocess, "run", lambda *a, **k: type("Done", (), {"stdout": "kindest/node:x\n"})())
    monkeypatch.setattr(host.shutil, "which", lambda name: "/usr/bin/docker")
    result = host.run_in_container(["sh", "-c", "curl http://172.18.0.3:30080/"], 5, "netlabs-multi", "kind")
    assert calls[0][:8] == ["/usr/bin/docker", "run", "--rm", "--network", "kind", "--entrypoint", "sh", "kindest/node:x"]
    assert result.args == ["sh", "-c", "curl http://172.18.0.3:30080/"]
    assert "a container on Docker network kind" in result.where


def test_a_request_by_name_to_an_address_read_from_the_cluster_verified_against_a_recorded_ca():
    traefik = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "traefik", "namespace": "traefik"},
               "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.240"}]}}}
    ca = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answer-ca", "namespace": "lab01"},
          "data": {"ca": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}}
    asked = []

    def answer(where, command):
        asked.append(" ".join(command))
        return ok("blue app\nLABCHECK-HTTP-STATUS 200\n")

    probe = {"id": "tls", "title": "tls", "probe": {
        "host": {"url": "https://secure.lab.test/", "headers": {"x-canary": "always"},
                 "connect_to": {"kind": "Service", "name": "traefik", "namespace": "traefik",
                                "field": "status.loadBalancer.ingress[0].ip"},
                 "verify_with": {"kind": "ConfigMap", "name": "answer-ca", "field": "data.ca"}},
        "expect": {"contains": "blue app"}}}
    cluster = FakeCluster([traefik, ca], exec_answer=answer)
    result = grade_checks([probe], cluster).checks[0]
    assert result.status == Status.PASS, result
    assert "--connect-to secure.lab.test:443:172.18.0.240:443" in asked[0]
    assert "-H 'x-canary: always'" in asked[0] and '--cacert "$ca"' in asked[0] and "MIIB" in asked[0]
    pending = FakeCluster([{**traefik, "status": {}}, ca], exec_answer=answer)
    waiting = grade_checks([probe], pending).checks[0]
    assert waiting.status == Status.FAIL and "has no value yet" in waiting.summary
