"""LiveCluster.exec_in_pod: the exit status read from the exec stream, and every way it goes wrong.

Most tests inject a FakeExecStream (LiveCluster._open_exec); the `real stream`
tests run the kubernetes client's own websocket code against the fake API
server, so the parsing is proven on what the client really hands over.
"""

from __future__ import annotations

import json
import time

import pytest
from websocket import WebSocketConnectionClosedException

from labcheck.cluster import live
from labcheck.errors import ClusterUnavailable, TargetUnavailable
from tests.conftest import pod
from tests.fake_kube import NAMESPACE, Drop, FakeExecStream, Hang, status_body

POD_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods/web"
EXEC_PATH = f"{POD_PATH}/exec"
STDOUT, STDERR, ERROR = 1, 2, 3

SUCCESS = json.dumps({"metadata": {}, "status": "Success"})
EXIT_3 = json.dumps({
    "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
    "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
    "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
})
# What containerd/runc answer when the image has no such command (kubectl prints this message).
NOT_FOUND_MESSAGE = (
    'Internal error occurred: error executing command in container: failed to exec in container: '
    'failed to start exec "0f3c": OCI runtime exec failed: exec failed: unable to start container process: '
    'exec: "readlink": executable file not found in $PATH: unknown'
)
NOT_FOUND = status_body(500, "InternalError", NOT_FOUND_MESSAGE,
                        details={"causes": [{"message": NOT_FOUND_MESSAGE}]}).decode()
NO_SUCH_PATH = status_body(500, "InternalError",
                           'OCI runtime exec failed: exec failed: unable to start container process: '
                           'exec: "/opt/probe": stat /opt/probe: no such file or directory: unknown').decode()
PERMISSION = status_body(500, "InternalError",
                         'OCI runtime exec failed: exec failed: unable to start container process: '
                         'exec: "/data/run.sh": permission denied: unknown').decode()


@pytest.fixture
def web(api):
    api.reply(POD_PATH, pod("web", namespace=NAMESPACE, containers=("nginx", "sidecar")))


def inject(cluster, stream: FakeExecStream) -> list[tuple]:
    opened: list[tuple] = []

    def open_exec(namespace, pod_name, container, command):
        opened.append((namespace, pod_name, container, tuple(command)))
        return stream

    cluster._open_exec = open_exec
    return opened


# --- fake stream: the outcomes the API can report ------------------------------------------


def test_success_collects_stdout_and_stderr(cluster, web):
    stream = FakeExecStream([(STDOUT, "net:[4026532"), (STDERR, "warn\n"), (STDOUT, "513]\n"), (ERROR, SUCCESS)])
    opened = inject(cluster, stream)
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["readlink", "/proc/1/ns/net"], timeout=5)
    assert (result.returncode, result.stdout, result.stderr) == (0, "net:[4026532513]\n", "warn\n")
    assert opened == [(NAMESPACE, "web", "sidecar", ("readlink", "/proc/1/ns/net"))]
    assert result.where == f"pod {NAMESPACE}/web container sidecar"
    assert not result.timed_out and result.extra == {}
    assert stream.closed_by_caller


def test_the_first_container_is_used_when_none_is_named(cluster, web):
    opened = inject(cluster, FakeExecStream([(ERROR, SUCCESS)]))
    cluster.exec_in_pod(NAMESPACE, "web", None, ["true"], timeout=5)
    assert opened[0][2] == "nginx"


def test_a_non_zero_exit_is_its_code(cluster, web):
    inject(cluster, FakeExecStream([(STDERR, "curl: (7) Failed to connect\n"), (ERROR, EXIT_3)]))
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["sh", "-c", "exit 3"], timeout=5)
    assert (result.returncode, result.stderr) == (3, "curl: (7) Failed to connect\n")
    assert "not_started" not in result.extra


def test_a_command_missing_from_the_image_is_127_with_one_clear_line(cluster, web):
    inject(cluster, FakeExecStream([(ERROR, NOT_FOUND)]))
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["readlink", "/proc/1/ns/net"], timeout=5)
    assert result.returncode == 127
    assert result.extra == {"not_started": True}
    first, api_message = result.stderr.split("\n", 1)
    assert first == "`readlink` is not in container sidecar's image"
    assert api_message == NOT_FOUND_MESSAGE


def test_a_command_path_missing_from_the_image_is_127(cluster, web):
    inject(cluster, FakeExecStream([(ERROR, NO_SUCH_PATH)]))
    result = cluster.exec_in_pod(NAMESPACE, "web", "nginx", ["/opt/probe"], timeout=5)
    assert result.returncode == 127 and result.extra == {"not_started": True}
    assert result.stderr.startswith("`/opt/probe` is not in container nginx's image\n")


def test_another_start_failure_is_126_with_the_api_message(cluster, web):
    inject(cluster, FakeExecStream([(ERROR, PERMISSION)]))
    result = cluster.exec_in_pod(NAMESPACE, "web", "nginx", ["/data/run.sh"], timeout=5)
    assert result.returncode == 126 and result.extra == {"not_started": True}
    assert "is not in" not in result.stderr  # it is there, it just could not run
    assert "permission denied" in result.stderr and "/data/run.sh" in result.stderr


@pytest.mark.parametrize("events", [
    pytest.param([], id="no-error-frame"),
    pytest.param([(STDOUT, "partial output")], id="output-then-nothing"),
    pytest.param([(ERROR, "  \n")], id="blank-error-frame"),
])
def test_a_stream_that_ends_without_an_exit_status_is_never_success(cluster, web, events):
    stream = FakeExecStream(events)
    inject(cluster, stream)
    with pytest.raises(ClusterUnavailable, match="exec into web/sidecar ended without an exit status"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)
    assert stream.closed_by_caller


@pytest.mark.parametrize("status", [
    pytest.param("not json at all", id="not-json"),
    pytest.param('["Success"]', id="not-an-object"),
    pytest.param(json.dumps({"status": "Failure", "reason": "NonZeroExitCode", "details": {}}), id="no-exit-cause"),
    pytest.param(json.dumps({"status": "Failure", "reason": "NonZeroExitCode",
                             "details": {"causes": [{"reason": "ExitCode", "message": "three"}]}}), id="bad-exit-code"),
    pytest.param(json.dumps({"status": "Unknown"}), id="unknown-status"),
])
def test_an_unreadable_exit_status_is_cluster_unavailable(cluster, web, status):
    inject(cluster, FakeExecStream([(ERROR, status)]))
    with pytest.raises(ClusterUnavailable, match="unreadable exit status"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_a_command_that_never_ends_times_out_with_what_it_printed(cluster, web):
    stream = FakeExecStream([(STDOUT, "PING 10.244.0.7\n")], closes=False)
    inject(cluster, stream)
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["ping", "10.244.0.7"], timeout=0.3)
    assert (result.returncode, result.timed_out, result.stdout) == (124, True, "PING 10.244.0.7\n")
    assert 0.3 <= result.duration < 2
    assert stream.closed_by_caller


@pytest.mark.parametrize("error", [
    pytest.param(WebSocketConnectionClosedException("Connection to remote host was lost."), id="socket-lost"),
    pytest.param(ConnectionResetError(104, "Connection reset by peer"), id="reset"),
    pytest.param(ValueError("file descriptor cannot be a negative integer (-1)"), id="client-value-error"),
    pytest.param(TypeError("'NoneType' object is not subscriptable"), id="client-type-error"),
])
def test_a_stream_that_breaks_mid_way_is_cluster_unavailable(cluster, web, error):
    stream = FakeExecStream([(STDOUT, "half"), error])
    inject(cluster, stream)
    with pytest.raises(ClusterUnavailable, match="exec into web/sidecar broke off: ") as raised:
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)
    assert "\n" not in str(raised.value)
    assert stream.closed_by_caller


def test_a_stream_that_cannot_open_is_cluster_unavailable(cluster, web):
    def open_exec(*args):
        raise ValueError("bad websocket url")

    cluster._open_exec = open_exec
    with pytest.raises(ClusterUnavailable, match="exec into web/sidecar failed: bad websocket url"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_a_refusal_reported_by_an_older_websocket_client_is_read_too(cluster, web):
    # Older websocket-client releases put the body's bytes repr into the handshake message.
    from kubernetes.client.exceptions import ApiException

    body = json.dumps({"kind": "Status", "message": 'pods "web" is forbidden'}).encode()
    reason = f"Handshake status 403 Forbidden -+-+- {{'content-type': 'application/json'}} -+-+- {body!r}"

    def open_exec(*args):
        raise ApiException(status=0, reason=reason)

    cluster._open_exec = open_exec
    with pytest.raises(ClusterUnavailable) as raised:
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)
    assert str(raised.value) == 'the API server refused access to exec into web/sidecar (403: pods "web" is forbidden)'


def test_a_container_that_is_not_running_is_never_exec_into(api, cluster):
    api.reply(POD_PATH, pod("web", namespace=NAMESPACE, containers=("nginx",), running=False,
                            waiting_reason="CrashLoopBackOff"))
    opened = inject(cluster, FakeExecStream([(ERROR, SUCCESS)]))
    with pytest.raises(TargetUnavailable, match="container nginx of Pod web is not running \\(CrashLoopBackOff\\)"):
        cluster.exec_in_pod(NAMESPACE, "web", None, ["true"], timeout=5)
    assert opened == []


# --- real stream: the kubernetes client's websocket against the fake server ------------------


@pytest.mark.parametrize("frames, returncode, stdout", [
    pytest.param([(STDOUT, "eth0 lo\n"), (ERROR, SUCCESS)], 0, "eth0 lo\n", id="success"),
    pytest.param([(STDOUT, "x"), (ERROR, EXIT_3)], 3, "x", id="exit-3"),
])
def test_real_stream_exit_codes(api, cluster, web, frames, returncode, stdout):
    api.exec(EXEC_PATH, frames)
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["ls", "/sys/class/net"], timeout=5)
    assert (result.returncode, result.stdout) == (returncode, stdout)
    request = api.requests[-1]
    assert request.query["command"] == ["ls", "/sys/class/net"]
    assert request.query["container"] == ["sidecar"]


def test_real_stream_command_missing_from_the_image(api, cluster, web):
    # The client's own WSClient.returncode raises ValueError on this answer.
    api.exec(EXEC_PATH, [(ERROR, NOT_FOUND)])
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["readlink", "/proc/1/ns/net"], timeout=5)
    assert result.returncode == 127 and result.extra == {"not_started": True}
    assert result.stderr.splitlines()[0] == "`readlink` is not in container sidecar's image"


def test_real_stream_without_an_exit_status(api, cluster, web):
    # The client's own WSClient.returncode raises TypeError here; "unknown" must not be success.
    api.exec(EXEC_PATH, [(STDOUT, "ok\n")])
    with pytest.raises(ClusterUnavailable, match="ended without an exit status"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_real_stream_cut_mid_way(api, cluster, web):
    api.exec(EXEC_PATH, [(STDOUT, "half")], ending="drop")
    with pytest.raises(ClusterUnavailable, match="broke off"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_real_stream_that_never_ends_times_out(api, cluster, web):
    api.exec(EXEC_PATH, [(STDOUT, "waiting\n")], ending="hang")
    result = cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["sleep", "60"], timeout=0.5)
    assert (result.returncode, result.timed_out, result.stdout) == (124, True, "waiting\n")


@pytest.mark.parametrize("code", [401, 403])
def test_real_exec_refused_by_the_api_is_cluster_unavailable(api, cluster, web, code):
    # RBAC without pods/exec: the grader cannot look, which is not the learner's FAIL.
    api.reply(EXEC_PATH, status_body(code, "Forbidden", 'pods "web" is forbidden: cannot create pods/exec'),
              status=code)
    with pytest.raises(ClusterUnavailable, match=f"refused access to exec into web/sidecar \\({code}: pods"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_real_exec_into_a_pod_that_just_went_away_is_target_unavailable(api, cluster, web):
    api.reply(EXEC_PATH, status_body(404, "NotFound", 'pods "web" not found'), status=404)
    with pytest.raises(TargetUnavailable) as raised:
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)
    assert str(raised.value) == 'cannot exec in web/sidecar (namespace lab): pods "web" not found'


def test_real_exec_answered_by_a_server_error_is_cluster_unavailable(api, cluster, web):
    api.reply(EXEC_PATH, status_body(500, "InternalError", "error dialing backend: EOF"), status=500)
    with pytest.raises(ClusterUnavailable, match="answered 500 to exec into web/sidecar: error dialing backend"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_real_exec_whose_connection_is_cut_before_the_handshake_is_cluster_unavailable(api, cluster, web):
    api.routes[EXEC_PATH] = Drop()
    with pytest.raises(ClusterUnavailable, match="unreachable for exec"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)


def test_real_exec_whose_handshake_never_comes_is_cluster_unavailable(api, cluster, web, monkeypatch):
    # The client opens the websocket without a timeout; the grader must not hang with it.
    monkeypatch.setattr(live.client, "_REQUEST_TIMEOUT", (0.3, 0.3))
    api.routes[EXEC_PATH] = Hang()
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match="the API did not open the stream in time"):
        cluster.exec_in_pod(NAMESPACE, "web", "sidecar", ["true"], timeout=5)
    assert time.monotonic() - started < 3
