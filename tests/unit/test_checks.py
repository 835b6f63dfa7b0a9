"""The check kinds and the engine, over an in-memory cluster."""

from labcheck.checks import CheckContext, run_check
from labcheck.checks.outcome import Status
from labcheck.checks.commands import http_command, http_response, interpret
from labcheck.engine import run_step
from labcheck.errors import ClusterUnavailable
from labcheck.loader import find_lab
from tests.conftest import FakeCluster, grade_checks, make_lab, ok, pod


POD_ASSERT = {"id": "pod", "title": "pod", "assert": {"kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}}}}


def test_assert_passes_on_partial_match():
    result = grade_checks([POD_ASSERT], FakeCluster([pod("web", labels={"app": "web", "extra": "x"})]))
    assert result.status == Status.PASS


def test_assert_on_missing_object_lists_what_is_there():
    result = grade_checks([POD_ASSERT], FakeCluster([pod("webb")]))
    check = result.checks[0]
    assert check.status == Status.FAIL
    assert "does not exist" in check.summary and "webb" in check.observed
    assert "metadata.name" in check.cause


def test_assert_finds_object_in_default_namespace():
    result = grade_checks([POD_ASSERT], FakeCluster([pod("web", namespace="default")]))
    assert "exists in namespace default, not lab01" in result.checks[0].cause


def test_assert_mismatch_names_field_and_pod_cause():
    waiting = pod("web", labels={"app": "api"}, running=False, waiting_reason="ImagePullBackOff")
    check = grade_checks([POD_ASSERT], FakeCluster([waiting])).checks[0]
    assert check.status == Status.FAIL
    assert "metadata.labels.app: expected 'web', found 'api'" in check.summary
    assert "ImagePullBackOff" in check.cause and "kind load" in check.cause


def test_checks_after_a_failure_are_skipped():
    absent = {"id": "gone", "title": "gone", "absent": {"kind": "Pod", "metadata": {"name": "x"}}}
    result = grade_checks([POD_ASSERT, absent], FakeCluster([]))
    assert [c.status for c in result.checks] == [Status.FAIL, Status.SKIP]
    assert "pod did not pass" in result.checks[1].summary


def test_absent():
    absent = {"id": "gone", "title": "gone", "absent": {"kind": "Pod", "metadata": {"name": "x"}}}
    assert grade_checks([absent], FakeCluster([])).status == Status.PASS
    check = grade_checks([absent], FakeCluster([pod("x")])).checks[0]
    assert check.status == Status.FAIL and "still exists" in check.summary


class Broken(FakeCluster):
    def get(self, *args):
        raise ClusterUnavailable("Kubernetes API at https://127.0.0.1:1 unreachable: connection refused")

    list = get


def test_unreachable_api_is_error_not_fail():
    result = grade_checks([POD_ASSERT], Broken())
    assert result.status == Status.ERROR
    assert "unreachable" in result.checks[0].summary


def test_probe_http_passes_and_keeps_evidence():
    probe = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://localhost:80"},
                                               "expect": {"contains": "Welcome"}}}
    result = grade_checks([probe], FakeCluster([pod("web")], exec_answer=lambda where, cmd: ok("<h1>Welcome to nginx!</h1>")))
    check = result.checks[0]
    assert check.status == Status.PASS
    assert check.evidence[0]["command"][0] == "sh" and check.evidence[0]["exit_code"] == 0


def test_probe_failure_explains_connection_refused():
    probe = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://10.244.0.9:8080"}}}
    answer = lambda where, cmd: ok(stderr="curl: (7) Failed to connect to 10.244.0.9 port 8080: Connection refused",
                                   returncode=7)
    check = grade_checks([probe], FakeCluster([pod("web")], exec_answer=answer)).checks[0]
    assert check.status == Status.FAIL
    assert "no HTTP response" in check.summary and "exit code 7" in check.observed
    assert "nothing listens" in check.cause


def test_probe_into_missing_pod_is_fail():
    probe = {"id": "p", "title": "p", "probe": {"exec": {"pod": "web", "command": ["true"]}}}
    check = grade_checks([probe], FakeCluster([])).checks[0]
    assert check.status == Status.FAIL and "does not exist" in check.summary


def test_blocked_probe_needs_a_block_and_a_control_that_gets_through():
    probe = {"id": "p", "title": "p", "probe": {"http": {"pod": "web", "url": "http://db"}, "expect": {"blocked": True},
                                               "control": {"pod": "admin"}}}
    pods = [pod("web"), pod("admin")]
    through = grade_checks([probe], FakeCluster(pods, exec_answer=lambda w, c: ok("hello\nLABCHECK-HTTP-STATUS 200\n")))
    assert through.status == Status.FAIL and "should be blocked" in through.checks[0].summary

    def dropped_for_web(where, cmd):
        if where.startswith("web/"):
            return ok(stderr="curl: (28) Connection timed out after 4001 ms", returncode=28)
        return ok("hello\nLABCHECK-HTTP-STATUS 200\n")

    dropped = grade_checks([probe], FakeCluster(pods, exec_answer=dropped_for_web))
    assert dropped.status == Status.PASS and "admin got through" in dropped.checks[0].summary


def test_node_probe_runs_on_the_pods_node():
    probe = {"id": "n", "title": "n", "probe": {"node": {"pod": "web", "command": ["ip", "netns"]},
                                               "expect": {"contains": "cni-"}}}
    cluster = FakeCluster([pod("web", node="netlabs-worker")], exec_answer=lambda w, c: ok("cni-1234 (id: 0)"))
    assert grade_checks([probe], cluster).status == Status.PASS
    assert ("node", "netlabs-worker", ("ip", "netns")) in cluster.calls


def test_node_probe_without_a_node_runs_on_the_first_node():
    """A single-node cluster's node needs no name in lab.yaml (lab 02 works on `kubectl get nodes | head -1`)."""
    probe = {"id": "n", "title": "n", "probe": {"node": {"command": ["ip", "netns"]}, "expect": {"contains": "cni-"}}}
    nodes = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}} for name in ("netlabs-worker", "netlabs-a")]
    cluster = FakeCluster(nodes, exec_answer=lambda w, c: ok("cni-1234 (id: 0)"))
    assert grade_checks([probe], cluster).status == Status.PASS
    assert ("node", "netlabs-a", ("ip", "netns")) in cluster.calls


def test_a_failing_node_command_gets_the_checks_cause_not_a_client_guess():
    """`ip -n gone ...` prints "No such file": on a node that is no missing client; the lab's cause knows better."""
    probe = {"id": "n", "title": "n", "cause": "bring lo up: `ip -n mypodns link set lo up`",
             "probe": {"node": {"node": "n1", "command": ["ip", "-n", "mypodns", "-br", "link", "show", "lo"]},
                       "expect": {"matches": "UP"}}}
    missing = ok(stderr='Cannot open network namespace "mypodns": No such file or directory', returncode=1)
    check = grade_checks([probe], FakeCluster([], exec_answer=lambda w, c: missing)).checks[0]
    assert check.status == Status.FAIL and check.cause == "bring lo up: `ip -n mypodns link set lo up`"
    assert "No such file or directory" in check.observed


def test_a_long_script_is_shortened_in_the_summary_and_kept_whole_in_the_evidence():
    script = "p=/run/netns/mypodns; if findmnt -rn -t nsfs \"$p\" >/dev/null; then echo ok; else echo missing; fi"
    probe = {"id": "n", "title": "n", "probe": {"node": {"node": "n1", "command": ["sh", "-c", script]},
                                               "expect": {"contains": "ok"}}}
    check = grade_checks([probe], FakeCluster([], exec_answer=lambda w, c: ok("missing"))).checks[0]
    assert "`sh -c p=/run/netns/mypodns; if findmnt" in check.summary and script not in check.summary
    assert check.evidence[0]["command"] == ["sh", "-c", script]


def test_interpret_common_client_errors():
    assert "nothing listens" in interpret(ok(stderr="wget: can't connect to remote host (10.0.0.1): Connection refused", returncode=1))
    assert "does not resolve" in interpret(ok(stderr="wget: bad address 'web.lab04'", returncode=1))
    assert "does not resolve" in interpret(ok(stderr="", returncode=6))
    assert "no answer in time" in interpret(ok(stderr="curl: (28) Connection timed out after 4001 ms", returncode=28))
    assert "not in this container" in interpret(ok(stderr="sh: wget: not found", returncode=127))
    assert interpret(ok(stderr="something odd", returncode=3)) is None


def test_http_command_quotes_the_url():
    command = http_command("http://x/?a=1&b=2", 5)
    assert "'http://x/?a=1&b=2'" in command[2]


def test_http_response_reads_the_last_answer_and_its_headers():
    printed = ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\n"
               "X-Proxied-By: blog-1\r\n\r\n<html>502</html>")
    answer = http_response(ok(stdout=printed))
    assert (answer.status, answer.headers["x-proxied-by"], answer.body) == (502, "blog-1", "<html>502</html>")
    refused = http_response(ok(stderr="curl: (7) Failed to connect to 10.0.0.1 port 80: Connection refused",
                               returncode=7))
    assert refused.status is None and "nothing listens" in refused.shown()


def test_python_check_from_lab_folder():
    lab = find_lab("01")
    token = {"name": "kube-api-access-x1", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    separate = pod("shared-volume-pod", containers=("writer", "reader"))
    separate["spec"]["containers"][0]["volumeMounts"] = [{"name": "writer-data", "mountPath": "/data"}, token]
    separate["spec"]["containers"][1]["volumeMounts"] = [{"name": "reader-data", "mountPath": "/shared"}, token]
    result = run_step(lab, lab.step("shared-volume"), FakeCluster([separate]), wait=0)
    failing = result.checks[1]
    assert failing.check_id == "reader-sees-writes" and failing.kind == "python" and failing.status == Status.FAIL
    # the token volume the API server adds to every container does not count as shared
    assert "own volume" in failing.summary and failing.observed == "writer: writer-data; reader: reader-data"


def test_python_check_that_raises_is_error():
    def boom(where, cmd):
        raise ValueError("bad lab code")

    ctx = CheckContext(cluster=FakeCluster([pod("multicontainerpod", containers=("a", "b"))], exec_answer=boom),
                       namespace="lab01")
    lab = find_lab("01")
    check = lab.step("same-network").checks[0]
    result = run_check(check, ctx, lab.folder, wait=0)
    assert result.status == Status.ERROR and "ValueError" in result.summary


def test_failing_check_is_retried_until_its_timeout():
    cluster = FakeCluster([pod("web", labels={"app": "web"}, running=False)])
    lab = make_lab([{"id": "pod", "title": "pod",
                     "assert": {"kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": "Running"}}}])
    result = run_step(lab, lab.steps[0], cluster, wait=2.5)
    assert result.checks[0].attempts >= 2
    assert result.checks[0].status == Status.FAIL


def test_a_check_marked_after_previous_never_runs_beside_the_checks_before_it():
    from labcheck.engine import _groups

    probe = {"exec": {"pod": "p", "command": ["true"]}}
    lab = make_lab([{"id": "a", "title": "a", "probe": probe}, {"id": "b", "title": "b", "probe": probe},
                    {"id": "c", "title": "c", "probe": probe, "after_previous": True},
                    {"id": "d", "title": "d", "probe": probe}])
    assert [[c.id for c in group] for group in _groups(lab.steps[0])] == [["a", "b"], ["c", "d"]]
