"""LiveCluster's reads (objects, discovery, logs, kubeconfig) against a fake API server.

The server is real HTTP on 127.0.0.1, so the kubernetes client, urllib3 and
cluster.live's error mapping all run as they do against a cluster.
"""

from __future__ import annotations

import json

import pytest

from labcheck.cluster import live
from labcheck.cluster.live import LiveCluster
from labcheck.errors import ClusterUnavailable, ExitStatus, TargetUnavailable
from tests.conftest import pod
from tests.fake_kube import NAMESPACE, Hang, status_body

POD_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods/web"


def config_map(name: str, **labels: str) -> dict:
    # As the API lists items: without apiVersion/kind.
    return {"metadata": {"name": name, "namespace": NAMESPACE, "labels": labels}, "data": {"k": "v"}}


# --- version, get, list ------------------------------------------------------------


def test_ping_reads_the_version_and_sends_the_kubeconfig_token(api, cluster):
    assert cluster.ping() == "v1.33.1"
    assert api.requests[-1].path == "/version"
    assert api.requests[-1].headers.get("authorization") == "Bearer t0ken"
    assert cluster.describe() == f"context kind-fake ({api.url})"


def test_get_returns_the_api_json_with_its_type(api, cluster):
    api.reply(f"/api/v1/namespaces/{NAMESPACE}/configmaps/answer", config_map("answer"))
    obj = cluster.get("v1", "ConfigMap", NAMESPACE, "answer")
    assert obj["data"] == {"k": "v"}
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "ConfigMap")


def test_get_of_a_missing_object_is_none(api, cluster):
    assert cluster.get("v1", "ConfigMap", NAMESPACE, "nothing-here") is None
    assert api.paths()[-1] == f"/api/v1/namespaces/{NAMESPACE}/configmaps/nothing-here"


def test_list_passes_the_label_selector_and_types_each_item(api, cluster):
    api.reply(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments",
              {"kind": "DeploymentList", "items": [config_map("a"), config_map("b")]})
    items = cluster.list("apps/v1", "Deployment", NAMESPACE, label_selector="app=web,tier!=db")
    assert [i["metadata"]["name"] for i in items] == ["a", "b"]
    assert {(i["apiVersion"], i["kind"]) for i in items} == {("apps/v1", "Deployment")}
    assert api.requests[-1].query == {"labelSelector": ["app=web,tier!=db"]}


def test_cluster_scoped_kind_ignores_the_namespace(api, cluster):
    api.reply("/api/v1/nodes", {"items": [{"metadata": {"name": "netlabs-control-plane"}}]})
    assert [n["metadata"]["name"] for n in cluster.list("v1", "Node", NAMESPACE)] == ["netlabs-control-plane"]
    assert api.paths()[-1] == "/api/v1/nodes"


# --- the API says no, or is not there --------------------------------------------------


@pytest.mark.parametrize("code", [401, 403])
def test_refused_access_is_cluster_unavailable(api, cluster, code):
    api.reply(POD_PATH, status_body(code, "Forbidden", "pods is forbidden"), status=code)
    with pytest.raises(ClusterUnavailable, match=f"refused access \\({code} "):
        cluster.get("v1", "Pod", NAMESPACE, "web")


def test_server_error_is_cluster_unavailable(api, cluster):
    api.reply(POD_PATH, status_body(500, "InternalError", "etcdserver: request timed out"), status=500)
    with pytest.raises(ClusterUnavailable, match=f"answered 500 .* for GET {POD_PATH}"):
        cluster.get("v1", "Pod", NAMESPACE, "web")


def test_an_answer_that_is_not_json_is_cluster_unavailable(api, cluster):
    # A proxy or a wrong server answering 200 with a page: the grader cannot read it.
    api.reply(POD_PATH, "<html>Welcome to nginx!</html>", content_type="text/html")
    with pytest.raises(ClusterUnavailable, match="is not JSON"):
        cluster.get("v1", "Pod", NAMESPACE, "web")


def test_a_stopped_server_is_unreachable(api, cluster):
    api.stop()
    with pytest.raises(ClusterUnavailable, match="unreachable: connection refused") as raised:
        cluster.ping()
    assert "labcheck start" in str(raised.value)
    with pytest.raises(ClusterUnavailable, match="unreachable"):
        cluster.list("v1", "Pod", NAMESPACE)


def test_a_server_that_never_answers_times_out(api, cluster, monkeypatch):
    monkeypatch.setattr(live.client, "_REQUEST_TIMEOUT", (0.5, 0.5))
    api.routes[POD_PATH] = Hang()
    with pytest.raises(ClusterUnavailable, match="unreachable: timed out"):
        cluster.get("v1", "Pod", NAMESPACE, "web")
    assert api.paths().count(POD_PATH) == 1  # asked once: no silent retries multiplying the wait


# --- discovery of kinds cluster.live does not know ------------------------------------------


def test_an_unknown_core_kind_is_found_in_the_api_v1_resource_list(api, cluster):
    api.reply("/api/v1", {"resources": [
        {"name": "limitranges", "kind": "LimitRange", "namespaced": True},
        {"name": "pods/log", "kind": "Pod", "namespaced": True},
    ]})
    api.reply(f"/api/v1/namespaces/{NAMESPACE}/limitranges/cpu", {"metadata": {"name": "cpu"}})
    assert cluster.get("v1", "LimitRange", NAMESPACE, "cpu")["kind"] == "LimitRange"
    assert api.paths()[-2:] == ["/api/v1", f"/api/v1/namespaces/{NAMESPACE}/limitranges/cpu"]
    cluster.get("v1", "LimitRange", NAMESPACE, "cpu")
    assert api.paths().count("/api/v1") == 1  # discovered once, then remembered


def test_an_unknown_group_kind_is_found_in_its_group_version(api, cluster):
    # A subresource of the same kind comes first: only the resource itself may be used.
    api.reply("/apis/example.com/v1", {"resources": [
        {"name": "widgets/status", "kind": "Widget", "namespaced": True},
        {"name": "widgets", "kind": "Widget", "namespaced": True},
        {"name": "gadgets", "kind": "Gadget", "namespaced": False},
    ]})
    api.reply(f"/apis/example.com/v1/namespaces/{NAMESPACE}/widgets", {"items": [{"metadata": {"name": "w"}}]})
    api.reply("/apis/example.com/v1/gadgets/g", {"metadata": {"name": "g"}})
    assert [w["kind"] for w in cluster.list("example.com/v1", "Widget", NAMESPACE)] == ["Widget"]
    assert cluster.get("example.com/v1", "Gadget", NAMESPACE, "g")["apiVersion"] == "example.com/v1"
    assert api.paths()[-1] == "/apis/example.com/v1/gadgets/g"


def test_a_kind_the_cluster_does_not_serve_is_cluster_unavailable(api, cluster):
    with pytest.raises(ClusterUnavailable, match="serves no Widget in example.com/v1"):
        cluster.get("example.com/v1", "Widget", NAMESPACE, "w")


# --- logs ------------------------------------------------------------------------------


def serve_web_pod(api, **kwargs):
    api.reply(POD_PATH, pod("web", namespace=NAMESPACE, containers=("app", "sidecar"), **kwargs))


def test_logs_are_decoded_text_not_a_bytes_repr(api, cluster):
    serve_web_pod(api)
    text = '127.0.0.1 - - "GET / HTTP/1.1" 200 615 "-" "curl/8.11.1" \u2713\n'
    api.reply(f"{POD_PATH}/log", text.encode(), content_type="text/plain")
    assert cluster.logs(NAMESPACE, "web", "sidecar", tail_lines=50) == text
    assert api.requests[-1].query == {"container": ["sidecar"], "tailLines": ["50"]}


def test_logs_of_the_first_container_when_none_is_named(api, cluster):
    serve_web_pod(api)
    api.reply(f"{POD_PATH}/log", b"hello\n", content_type="text/plain")
    assert cluster.logs(NAMESPACE, "web", None) == "hello\n"
    assert api.requests[-1].query["container"] == ["app"]


def test_logs_of_a_container_that_is_not_running_are_not_asked_for(api, cluster):
    serve_web_pod(api, running=False, waiting_reason="ImagePullBackOff")
    with pytest.raises(TargetUnavailable, match="not running \\(ImagePullBackOff\\)"):
        cluster.logs(NAMESPACE, "web", "app")
    assert f"{POD_PATH}/log" not in api.paths()


def test_logs_the_api_cannot_give_carry_its_message(api, cluster):
    # The container restarted between the Pod read and the log read.
    serve_web_pod(api)
    api.reply(f"{POD_PATH}/log", status_body(400, "BadRequest", 'container "app" in pod "web" is waiting to start'),
              status=400)
    with pytest.raises(TargetUnavailable, match='container "app" in pod "web" is waiting to start'):
        cluster.logs(NAMESPACE, "web", "app")


@pytest.mark.parametrize("code", [403, 503])
def test_logs_refused_or_broken_api_is_cluster_unavailable(api, cluster, code):
    # Not the learner's fault: FAIL would tell them to fix something they cannot.
    serve_web_pod(api)
    api.reply(f"{POD_PATH}/log", status_body(code, "Forbidden", "no"), status=code)
    with pytest.raises(ClusterUnavailable):
        cluster.logs(NAMESPACE, "web", "app")


def test_pod_or_container_missing_is_target_unavailable(api, cluster):
    with pytest.raises(TargetUnavailable, match="Pod web does not exist in namespace lab"):
        cluster.logs(NAMESPACE, "web", None)
    serve_web_pod(api)
    with pytest.raises(TargetUnavailable, match="has no container 'db' \\(it has: app, sidecar\\)"):
        cluster.logs(NAMESPACE, "web", "db")


# --- kubeconfig ------------------------------------------------------------------------


def test_a_kubeconfig_without_the_context_names_the_context(api, tmp_path):
    path = api.kubeconfig(tmp_path, context="kind-other")
    with pytest.raises(ClusterUnavailable, match="no context 'kind-fake'"):
        LiveCluster("kind-fake", kubeconfig=str(path))


def test_a_kubeconfig_without_current_context_still_serves_the_named_one(api, tmp_path):
    # `kind delete cluster` unsets current-context when it deletes the current cluster;
    # the lab's own context is named explicitly and still works.
    path = api.kubeconfig(tmp_path, current=False)
    assert LiveCluster("kind-fake", kubeconfig=str(path)).ping() == "v1.33.1"


def test_kubeconfig_files_listed_in_KUBECONFIG_are_merged(api, tmp_path, monkeypatch):
    (tmp_path / "other").mkdir()
    other = api.kubeconfig(tmp_path / "other", context="kind-other")
    ours = api.kubeconfig(tmp_path)
    monkeypatch.setenv("KUBECONFIG", f"{other}:{ours}")
    assert LiveCluster("kind-fake").ping() == "v1.33.1"


@pytest.mark.parametrize("content", [
    pytest.param(b"apiVersion: v1\nclusters: [\n  - broken", id="yaml-syntax"),
    pytest.param(b"just a sentence\n", id="scalar"),
    pytest.param(b"- a\n- b\n", id="list"),
    pytest.param(b"\xff\xfe\x00garbage", id="not-utf8"),
    pytest.param(b"", id="empty"),
    pytest.param(b"contexts:\n- context: {cluster: x}\n", id="context-without-name"),
])
def test_a_broken_kubeconfig_is_cluster_unavailable(tmp_path, content):
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    with pytest.raises(ClusterUnavailable, match=f"no usable kubeconfig at {path}"):
        LiveCluster("kind-fake", kubeconfig=str(path))


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_kubeconfig_path_that_is_no_file_is_cluster_unavailable(tmp_path, kind):
    path = tmp_path / "kubeconfig"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(ClusterUnavailable, match="no usable kubeconfig"):
        LiveCluster("kind-fake", kubeconfig=str(path))


def test_a_context_whose_cluster_entry_is_missing_is_cluster_unavailable(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({"apiVersion": "v1", "clusters": [], "users": [],
                                "contexts": [{"name": "kind-fake", "context": {"cluster": "gone", "user": "u"}}]}))
    with pytest.raises(ClusterUnavailable, match="cannot use context 'kind-fake'"):
        LiveCluster("kind-fake", kubeconfig=str(path))


# --- kubeconfig read without the client's loader (what kind writes) ------------------------


def _cert_kubeconfig(tmp_path, user: dict, cluster_extra: dict | None = None):
    import base64

    cluster = {"server": "https://127.0.0.1:6443",
               "certificate-authority-data": base64.b64encode(b"CA PEM").decode()}
    cluster.update(cluster_extra or {})
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "kind-fake", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def test_kind_style_certificates_become_private_files_the_client_uses(tmp_path):
    import base64
    import stat
    from pathlib import Path

    path = _cert_kubeconfig(tmp_path, {
        "client-certificate-data": base64.b64encode(b"CERT PEM").decode(),
        "client-key-data": base64.b64encode(b"KEY PEM").decode(),
    })
    configuration = LiveCluster("kind-fake", kubeconfig=str(path))._configuration
    assert configuration.host == "https://127.0.0.1:6443"
    assert Path(configuration.ssl_ca_cert).read_bytes() == b"CA PEM"
    assert Path(configuration.cert_file).read_bytes() == b"CERT PEM"
    assert Path(configuration.key_file).read_bytes() == b"KEY PEM"
    assert stat.S_IMODE(Path(configuration.key_file).stat().st_mode) == 0o600
    assert configuration.verify_ssl is True


def test_certificate_files_are_found_beside_the_kubeconfig(tmp_path):
    path = _cert_kubeconfig(tmp_path, {"client-certificate": "client.crt", "client-key": "client.key"},
                            {"insecure-skip-tls-verify": True})
    configuration = LiveCluster("kind-fake", kubeconfig=str(path))._configuration
    assert configuration.cert_file == str(tmp_path / "client.crt")
    assert configuration.key_file == str(tmp_path / "client.key")
    assert configuration.verify_ssl is False


def test_other_authentication_goes_through_the_clients_own_loader(tmp_path, monkeypatch):
    from kubernetes import config

    seen = []

    def loader(**kwargs):
        seen.append(kwargs["context"])
        raise config.ConfigException("exec plugin 'aws' not found")

    monkeypatch.setattr(config, "new_client_from_config", loader)
    path = _cert_kubeconfig(tmp_path, {"exec": {"command": "aws", "apiVersion": "client.authentication.k8s.io/v1"}})
    with pytest.raises(ClusterUnavailable, match="cannot use context 'kind-fake': exec plugin 'aws' not found"):
        LiveCluster("kind-fake", kubeconfig=str(path))
    assert seen == ["kind-fake"]


def test_certificate_data_that_is_not_base64_is_left_to_the_clients_loader(tmp_path):
    path = _cert_kubeconfig(tmp_path, {"client-certificate-data": "not base64!", "client-key-data": "x"})
    with pytest.raises(ClusterUnavailable, match="cannot use context 'kind-fake'"):
        LiveCluster("kind-fake", kubeconfig=str(path))


def test_a_one_shot_check_imports_only_what_it_uses(api, tmp_path):
    # What makes `labcheck` start fast (issue 12): the client's package skeleton, the kubeconfig
    # read without kubernetes.config, the helpers deferred, the instructor commands not loaded.
    import subprocess
    import sys

    kubeconfig = api.kubeconfig(tmp_path, context="kind-netlabs")
    code = ("import json, runpy, sys\n"
            "sys.argv = ['labcheck', 'check', '01', '--step', '1', '--wait', '0']\n"
            "try:\n    runpy.run_module('labcheck', run_name='__main__')\n"
            "except SystemExit as exc:\n    code = exc.code\n"
            "print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)\n")
    env = {"KUBECONFIG": str(kubeconfig), "LABCHECK_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    exit_code, modules = json.loads(done.stderr.strip().splitlines()[-1])
    assert exit_code == ExitStatus.FAILED, done.stdout + done.stderr  # FAIL: the fake cluster has no Pod
    assert any(request.path.startswith("/api/v1/namespaces/lab01/pods") for request in api.requests)
    for heavy in ("requests", "dateutil.parser", "kubernetes.config", "kubernetes.client.models.v1_pod",
                  "labcheck.grading", "labcheck.cluster.recorded"):
        assert heavy not in modules, f"{heavy} imported by a one-shot check"
