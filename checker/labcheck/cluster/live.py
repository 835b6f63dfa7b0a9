"""A real cluster: the Kubernetes API for objects, logs and pod exec; docker for node exec.

This is the only module that imports the `kubernetes` client. It returns plain
dicts and turns every client error into ClusterUnavailable (the grader cannot
look) or TargetUnavailable (what the learner should have made is not there).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from typing import Any

from ..errors import ClusterUnavailable, TargetUnavailable
from .base import ExecResult

# Kinds the labs use, so the common case needs no API discovery round trip.
_KNOWN_KINDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Pod"): ("pods", True),
    ("v1", "Service"): ("services", True),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("endpointslices", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
}

_REQUEST_TIMEOUT = (3.0, 15.0)  # connect, read


class LiveCluster:
    replay = False

    def __init__(self, context: str | None, kubeconfig: str | None = None, *, pool_size: int | None = None):
        """A cluster by kubeconfig context; context None means in-cluster (a Pod's ServiceAccount).

        `pool_size` is the number of API connections kept open: a grader with
        many threads needs one per thread, or urllib3 drops and warns.
        """
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException

        self.context = context or "in-cluster"
        configuration = client.Configuration()
        if context is None:
            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise ClusterUnavailable(f"not running in a Pod with a ServiceAccount ({_first_line(exc)})") from None
        else:
            try:
                contexts, _active = config.list_kube_config_contexts(config_file=kubeconfig)
            except (ConfigException, OSError) as exc:
                raise ClusterUnavailable(f"no usable kubeconfig ({_first_line(exc)}); run: labcheck start") from None
            if context not in {c["name"] for c in contexts}:
                raise ClusterUnavailable(
                    f"kubeconfig has no context {context!r}: the lab's cluster is not running (run: labcheck start)"
                )
            try:
                config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                        persist_config=False)
            except (ConfigException, OSError) as exc:
                raise ClusterUnavailable(f"cannot use context {context!r}: {_first_line(exc)}") from None
        configuration.retries = 0
        if pool_size:
            configuration.connection_pool_maxsize = pool_size
        self._configuration = configuration
        self._api = client.ApiClient(configuration=configuration)
        self._core = client.CoreV1Api(self._api)
        self._exec_clients = threading.local()
        self.server = self._api.configuration.host
        self._resources: dict[tuple[str, str], tuple[str, bool]] = dict(_KNOWN_KINDS)

    def describe(self) -> str:
        return f"context {self.context} ({self.server})"

    def ping(self) -> str:
        """The server's version; ClusterUnavailable when it does not answer."""
        try:
            version = self._call("/version") or {}
        except ClusterUnavailable as exc:
            raise ClusterUnavailable(f"{exc} (is the lab's cluster running? `labcheck start` brings it up)") from None
        return version.get("gitVersion", "?")

    # --- objects -------------------------------------------------------------

    def _call(self, path: str, query: list[tuple[str, Any]] | None = None) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            # Raw JSON, not generated models: checks want the API's own field names,
            # and the raw response reads the same across client versions.
            response = self._api.call_api(
                path,
                "GET",
                query_params=query or [],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
                _preload_content=False,
                _request_timeout=_REQUEST_TIMEOUT,
            )
            return json.loads(response.data)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise ClusterUnavailable(f"the API server refused access ({exc.status} {exc.reason})") from None
            raise ClusterUnavailable(f"the API server answered {exc.status} {exc.reason} for GET {path}") from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {_first_line(exc)}") from None

    def _resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        key = (api_version, kind)
        if key not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self._call(base)
            for resource in (listing or {}).get("resources", []):
                if resource.get("kind") == kind and "/" not in resource.get("name", ""):
                    self._resources[key] = (resource["name"], bool(resource.get("namespaced")))
                    break
            else:
                raise ClusterUnavailable(f"the cluster serves no {kind} in {api_version}")
        return self._resources[key]

    def _path(self, api_version: str, kind: str, namespace: str | None, name: str | None = None) -> str:
        plural, namespaced = self._resource(api_version, kind)
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{plural}"
        if name:
            path += f"/{name}"
        return path

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        obj = self._call(self._path(api_version, kind, namespace, name))
        return _with_type(obj, api_version, kind) if obj else None

    def list(
        self, api_version: str, kind: str, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        listing = self._call(self._path(api_version, kind, namespace), query) or {}
        return [_with_type(item, api_version, kind) for item in listing.get("items", [])]

    # --- inside Pods -----------------------------------------------------------

    def _exec_api(self):
        # kubernetes.stream.stream swaps its ApiClient's `request` while it opens the
        # websocket: on a client shared between threads, another thread's GET would go
        # out as a websocket. Each thread execs through a client of its own.
        core = getattr(self._exec_clients, "core", None)
        if core is None:
            from kubernetes import client

            core = self._exec_clients.core = client.CoreV1Api(client.ApiClient(configuration=self._configuration))
        return core

    def _running_container(self, namespace: str, pod: str, container: str | None) -> str:
        obj = self.get("v1", "Pod", namespace, pod)
        if obj is None:
            raise TargetUnavailable(f"Pod {pod} does not exist in namespace {namespace}")
        names = [c["name"] for c in obj.get("spec", {}).get("containers", [])]
        container = container or (names[0] if names else None)
        if container not in names:
            raise TargetUnavailable(f"Pod {pod} has no container {container!r} (it has: {', '.join(names)})")
        for status in obj.get("status", {}).get("containerStatuses", []) or []:
            if status.get("name") == container:
                state = status.get("state", {})
                if "running" in state:
                    return container
                detail = state.get("waiting") or state.get("terminated") or {}
                reason = detail.get("reason", "not started")
                raise TargetUnavailable(f"container {container} of Pod {pod} is not running ({reason})")
        raise TargetUnavailable(f"container {container} of Pod {pod} has not started yet")

    def logs(self, namespace: str, pod: str, container: str | None, tail_lines: int = 200) -> str:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        container = self._running_container(namespace, pod, container)
        try:
            # Unparsed: the client's own decoding turns the log into the repr of bytes ("b'...'").
            response = self._core.read_namespaced_pod_log(
                pod, namespace, container=container, tail_lines=tail_lines, _request_timeout=_REQUEST_TIMEOUT,
                _preload_content=False,
            )
            return response.data.decode("utf-8", "replace")
        except ApiException as exc:
            raise TargetUnavailable(f"cannot read logs of {pod}/{container}: {exc.reason}") from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {_first_line(exc)}") from None

    def exec_in_pod(
        self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float
    ) -> ExecResult:
        from kubernetes.client.exceptions import ApiException
        from kubernetes.stream import stream
        from urllib3.exceptions import HTTPError
        from websocket import WebSocketException

        container = self._running_container(namespace, pod, container)
        started = time.monotonic()
        try:
            ws = stream(
                self._exec_api().connect_get_namespaced_pod_exec,
                pod,
                namespace,
                container=container,
                command=command,
                stdin=False,
                stdout=True,
                stderr=True,
                tty=False,
                _preload_content=False,
                _request_timeout=_REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            raise TargetUnavailable(f"cannot exec in {pod}/{container}: {exc.reason or exc.status}") from None
        except (HTTPError, OSError, WebSocketException) as exc:
            raise ClusterUnavailable(f"exec into {pod}/{container} failed: {_first_line(exc)}") from None
        out: list[str] = []
        err: list[str] = []
        timed_out = False
        try:
            while ws.is_open():
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0:
                    timed_out = True
                    break
                ws.update(timeout=min(remaining, 1.0))
                if ws.peek_stdout():
                    out.append(ws.read_stdout())
                if ws.peek_stderr():
                    err.append(ws.read_stderr())
            returncode = 124 if timed_out else (ws.returncode if ws.returncode is not None else 0)
        except (OSError, WebSocketException) as exc:
            raise ClusterUnavailable(f"exec into {pod}/{container} broke off: {_first_line(exc)}") from None
        finally:
            ws.close()
        return ExecResult(
            args=command,
            returncode=returncode,
            stdout="".join(out),
            stderr="".join(err),
            duration=round(time.monotonic() - started, 3),
            where=f"pod {namespace}/{pod} container {container}",
            timed_out=timed_out,
        )

    # --- on nodes --------------------------------------------------------------

    def exec_on_node(self, node: str, command: list[str], timeout: float) -> ExecResult:
        docker = shutil.which("docker")
        if docker is None:
            raise ClusterUnavailable("docker is not installed: node checks exec into kind node containers")
        started = time.monotonic()
        try:
            done = subprocess.run(
                [docker, "exec", node, *command], capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            return ExecResult(
                args=command,
                returncode=124,
                stdout=_text(exc.stdout),
                stderr=_text(exc.stderr),
                duration=round(time.monotonic() - started, 3),
                where=f"node {node}",
                timed_out=True,
            )
        if done.returncode in (125, 126, 127) or "No such container" in done.stderr:
            # 125: docker itself failed (daemon down, no such container).
            if "No such container" in done.stderr:
                raise ClusterUnavailable(f"no kind node container {node!r}: is this the lab's cluster?")
            if done.returncode == 125:
                raise ClusterUnavailable(f"docker exec on node {node} failed: {_first_line(done.stderr)}")
        return ExecResult(
            args=command,
            returncode=done.returncode,
            stdout=done.stdout,
            stderr=done.stderr,
            duration=round(time.monotonic() - started, 3),
            where=f"node {node}",
        )


def _with_type(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    # List items come without apiVersion/kind; keep objects self-describing.
    obj.setdefault("apiVersion", api_version)
    obj.setdefault("kind", kind)
    return obj


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__
