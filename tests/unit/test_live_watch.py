"""LiveCluster.watch over a scripted API client: resuming, expiry (410), a server that went away."""

from __future__ import annotations

import json

import pytest

from labcheck.cluster import live
from labcheck.errors import ClusterUnavailable


class Response:
    def __init__(self, lines):
        self.data = b""
        self._lines = lines

    def stream(self, amt=None, decode_content=False):
        for line in self._lines:
            yield (json.dumps(line) + "\n").encode()

    def close(self):
        pass

    def release_conn(self):
        pass


class ScriptedApi:
    """Answers lists with a resourceVersion and watches from a script, keeping what was asked."""

    configuration = object()

    def __init__(self, lists, watches):
        self.lists = list(lists)
        self.watches = list(watches)
        self.watched_from: list[str | None] = []

    def call_api(self, path, method, query_params=(), **kwargs):
        query = dict(query_params)
        if query.get("watch") == "true":
            self.watched_from.append(query.get("resourceVersion"))
            step = self.watches.pop(0)
            if isinstance(step, BaseException):
                raise step
            return Response(step)
        step = self.lists.pop(0)
        if isinstance(step, BaseException):
            raise step
        response = Response([])
        response.data = json.dumps({"metadata": {"resourceVersion": step}, "items": []}).encode()
        return response


def scripted_cluster(monkeypatch, api):
    import kubernetes.client

    monkeypatch.setattr(kubernetes.client, "ApiClient", lambda *args, **kwargs: api)
    monkeypatch.setattr(live.client.time, "sleep", lambda seconds: None)
    cluster = live.LiveCluster.__new__(live.LiveCluster)
    cluster.context, cluster.server, cluster._api = "kind-test", "https://127.0.0.1:6443", api
    cluster._resources = dict(live._KNOWN_KINDS)
    return cluster


def pod_event(kind, name, version):
    return {"type": kind, "object": {"metadata": {"name": name, "resourceVersion": version}}}


def test_watch_resumes_relists_after_expiry_and_reports_a_lost_server(monkeypatch):
    from urllib3.exceptions import NewConnectionError, ProtocolError

    api = ScriptedApi(
        lists=["100", "200", NewConnectionError(None, "Connection refused")],
        watches=[
            # The server ends a watch after timeoutSeconds; a bookmark moves the version on.
            [pod_event("ADDED", "a", "101"), {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "105"}}}],
            [{"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}],
            ProtocolError("Connection broken"),
        ],
    )
    events = scripted_cluster(monkeypatch, api).watch("v1", "Pod", "lab01")
    assert next(events) == {"type": "SYNCED", "object": None}
    added = next(events)
    assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "a"
    assert added["object"]["kind"] == "Pod" and added["object"]["apiVersion"] == "v1"
    assert next(events) == {"type": "SYNCED", "object": None}  # after 410: listed again, changes may be unseen
    with pytest.raises(ClusterUnavailable, match="unreachable"):
        next(events)
    assert api.watched_from == ["100", "105", "200"]


def test_a_refused_watch_is_cluster_unavailable(monkeypatch):
    from kubernetes.client.exceptions import ApiException

    api = ScriptedApi(lists=["7"], watches=[ApiException(status=403, reason="Forbidden")])
    events = scripted_cluster(monkeypatch, api).watch("v1", "ConfigMap", "lab01")
    next(events)
    with pytest.raises(ClusterUnavailable, match="403 Forbidden"):
        next(events)
