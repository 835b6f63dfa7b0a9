"""LiveCluster: objects, watches and logs through the Kubernetes API; commands handed to `execs`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from ...errors import ClusterUnavailable, TargetUnavailable
from ..base import ExecResult
from . import execs
from .answers import first_line, status_message
from .kubeconfig import configure_plainly, kubeconfig_contexts, kubeconfig_errors
from .skeleton import deferring_helpers, lazy_kubernetes

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
    ("v1", "Event"): ("events", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("discovery.k8s.io/v1", "EndpointSlice"): ("endpointslices", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("networking.k8s.io/v1", "IngressClass"): ("ingressclasses", False),
    ("gateway.networking.k8s.io/v1", "Gateway"): ("gateways", True),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): ("httproutes", True),
    ("gateway.networking.k8s.io/v1", "GatewayClass"): ("gatewayclasses", False),
}

_REQUEST_TIMEOUT = (3.0, 15.0)  # connect, read
_WATCH_SECONDS = 60  # the server ends each watch request after this long; it is then resumed


class LiveCluster:
    replay = False

    _host_path = None

    def __init__(self, context: str | None, kubeconfig: str | None = None, *, pool_size: int | None = None):
        """A cluster by kubeconfig context; context None means in-cluster (a Pod's ServiceAccount).

        `pool_size` is the number of API connections kept open: a grader with
        many threads needs one per thread, or urllib3 drops and warns.
        """
        lazy_kubernetes()
        with deferring_helpers():
            from kubernetes.client.api_client import ApiClient
            from kubernetes.client.configuration import Configuration

        self.context = context or "in-cluster"
        # No retries: an API that does not answer should be an ERROR at once, not after four
        # timeouts. Set before the ApiClient exists; its connection pool reads it only then.
        configuration = Configuration()
        configuration.retries = 0
        if pool_size:
            configuration.connection_pool_maxsize = pool_size
        path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        if context is None:
            from kubernetes import config
            from kubernetes.config.config_exception import ConfigException

            try:
                config.load_incluster_config(client_configuration=configuration)
            except ConfigException as exc:
                raise ClusterUnavailable(f"not running in a Pod with a ServiceAccount ({first_line(exc)})") from None
            self._api = ApiClient(configuration=configuration)
        else:
            try:
                contexts, document = kubeconfig_contexts(path)
            except kubeconfig_errors() as exc:
                raise ClusterUnavailable(
                    f"no usable kubeconfig at {path} ({first_line(exc)}); run: labcheck start"
                ) from None
            if context not in contexts:
                raise ClusterUnavailable(
                    f"kubeconfig has no context {context!r}: the lab's cluster is not running (run: labcheck start)"
                )
            if document is not None and configure_plainly(document, Path(path).expanduser().parent, context,
                                                          configuration):
                self._api = ApiClient(configuration=configuration)
            else:
                from kubernetes import config

                try:
                    self._api = config.new_client_from_config(
                        config_file=path, context=context, persist_config=False, client_configuration=configuration
                    )
                except kubeconfig_errors() as exc:
                    raise ClusterUnavailable(f"cannot use context {context!r}: {first_line(exc)}") from None
        self._configuration = configuration
        self._kubeconfig = path
        self._core_instance = None
        self.server = self._api.configuration.host
        self._resources: dict[tuple[str, str], tuple[str, bool]] = dict(_KNOWN_KINDS)

    @property
    def _core(self):
        # The core API class is only needed for logs and exec; state-only steps never build it.
        if self._core_instance is None:
            from kubernetes.client.api.core_v1_api import CoreV1Api

            self._core_instance = CoreV1Api(self._api)
        return self._core_instance

    def _exec_core(self):
        """A core API on a client of its own, one per exec.

        kubernetes.stream swaps the ApiClient's `request` for a websocket opener while an exec
        starts, which would break reads, and other execs, running on other threads with the
        same client. A client costs well under a millisecond; its websocket is its own anyway.
        The same configuration (in-cluster or kubeconfig), another client.
        """
        from kubernetes.client.api.core_v1_api import CoreV1Api
        from kubernetes.client.api_client import ApiClient

        return CoreV1Api(ApiClient(configuration=self._configuration))

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
            data = response.data  # read here: a body cut short raises as the request did
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise ClusterUnavailable(f"the API server refused access ({exc.status} {exc.reason})") from None
            raise ClusterUnavailable(f"the API server answered {exc.status} {exc.reason} for GET {path}") from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {first_line(exc)}") from None
        try:
            return json.loads(data)
        except ValueError:
            # A proxy's HTML page instead of the API: the grader cannot read the answer.
            raise ClusterUnavailable(f"the API server's answer to GET {path} is not JSON") from None

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

    # --- changes ----------------------------------------------------------------

    def watch(self, api_version: str, kind: str, namespace: str | None) -> Iterator[dict[str, Any]]:
        """Changes to objects of a kind, as {"type": ADDED | MODIFIED | DELETED, "object": {...}}, endlessly.

        A list fixes the starting point; a "SYNCED" event (object None) follows
        it, and follows every later list too: after a watch expired (410) or
        the connection dropped, changes in between may be unseen, so a consumer
        treats SYNCED as "anything may have changed". Raises ClusterUnavailable
        when the API server no longer answers.
        """
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException
        from kubernetes.watch import Watch
        from urllib3.exceptions import HTTPError

        path = self._path(api_version, kind, namespace)
        # A connection pool of its own: a watch holds its connection for a minute
        # at a time and must not take one the checks' calls need.
        api = client.ApiClient(self._api.configuration)

        def request(watch=True, resource_version=None, timeout_seconds=_WATCH_SECONDS, _preload_content=False):
            query: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true"),
                                            ("timeoutSeconds", timeout_seconds)]
            if resource_version:
                query.append(("resourceVersion", resource_version))
            return api.call_api(path, "GET", query_params=query, header_params={"Accept": "application/json"},
                                auth_settings=["BearerToken"], _return_http_data_only=True,
                                _preload_content=False, _request_timeout=(_REQUEST_TIMEOUT[0], timeout_seconds + 15))

        version = self._list_version(path)
        yield {"type": "SYNCED", "object": None}
        watcher = Watch()
        while True:
            try:
                # Raw events (the request names no model type), resumed by hand from the
                # last resourceVersion seen, so an expiry is ours to handle.
                for event in watcher.stream(request, resource_version=version, timeout_seconds=_WATCH_SECONDS):
                    obj = event.get("raw_object") or {}
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        yield {"type": event["type"], "object": _with_type(obj, api_version, kind)}
                continue  # the server ended this watch request: resume where it stopped
            except ApiException as exc:
                if exc.status != 410:
                    raise ClusterUnavailable(f"watching {kind} failed: {exc.status} {exc.reason}") from None
            except (HTTPError, OSError):
                # The connection dropped; the list below tells whether the server is still there.
                time.sleep(0.5)
            version = self._list_version(path)
            yield {"type": "SYNCED", "object": None}

    def _list_version(self, path: str) -> str:
        listing = self._call(path, [("limit", 1)]) or {}
        return listing.get("metadata", {}).get("resourceVersion", "")

    # --- inside Pods -----------------------------------------------------------

    def _running_container(self, namespace: str, pod: str, container: str | None,
                           finished_ok: bool = False) -> str:
        """The container's name once it runs (or, with finished_ok, has run: its logs stay readable)."""
        obj = self.get("v1", "Pod", namespace, pod)
        if obj is None:
            raise TargetUnavailable(f"Pod {pod} does not exist in namespace {namespace}")
        spec, status_of = obj.get("spec", {}), obj.get("status", {})
        names = [c["name"] for c in spec.get("containers", [])]
        # Native sidecars (init containers with restartPolicy Always) run beside the others.
        sidecars = [c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        container = container or (names[0] if names else None)
        if container not in names + sidecars:
            raise TargetUnavailable(
                f"Pod {pod} has no container {container!r} (it has: {', '.join(names + sidecars)})")
        for status in (status_of.get("containerStatuses") or []) + (status_of.get("initContainerStatuses") or []):
            if status.get("name") == container:
                state = status.get("state", {})
                if "running" in state or (finished_ok and "terminated" in state):
                    return container
                detail = state.get("waiting") or state.get("terminated") or {}
                reason = detail.get("reason", "not started")
                raise TargetUnavailable(f"container {container} of Pod {pod} is not running ({reason})")
        raise TargetUnavailable(f"container {container} of Pod {pod} has not started yet")

    def logs(self, namespace: str, pod: str, container: str | None, tail_lines: int = 200) -> str:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        container = self._running_container(namespace, pod, container, finished_ok=True)
        try:
            # Unparsed: the client's own decoding turns the log into the repr of bytes ("b'...'").
            response = self._core.read_namespaced_pod_log(
                pod, namespace, container=container, tail_lines=tail_lines, _request_timeout=_REQUEST_TIMEOUT,
                _preload_content=False,
            )
            return response.data.decode("utf-8", "replace")
        except ApiException as exc:
            if exc.status in (401, 403):
                raise ClusterUnavailable(f"the API server refused access to logs ({exc.status} {exc.reason})") from None
            if exc.status >= 500:
                raise ClusterUnavailable(
                    f"the API server answered {exc.status} {exc.reason} for logs of {pod}"
                ) from None
            # 400/404: the container is not (or no longer) there to read, which is the learner's state.
            message = status_message(exc.body, exc.reason)
            raise TargetUnavailable(f"cannot read logs of {pod}/{container}: {message}") from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {first_line(exc)}") from None

    def _open_exec(self, namespace: str, pod: str, container: str, command: list[str]) -> Any:
        """The exec websocket (a kubernetes.stream WSClient); tests put a fake stream here."""
        return execs.open_stream(self._exec_core, namespace, pod, container, command, _REQUEST_TIMEOUT)

    def exec_in_pod(
        self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float
    ) -> ExecResult:
        container = self._running_container(namespace, pod, container)
        return execs.exec_in_pod(lambda: self._open_exec(namespace, pod, container, command), self.server,
                                 namespace, pod, container, command, timeout)

    # --- on this machine ---------------------------------------------------------

    def exec_on_host(self, command: list[str], timeout: float) -> ExecResult:
        if self._host_path is None:
            self._host_path = self._find_host_path()
        return self._host_path.run(command, timeout)

    def _find_host_path(self):
        """How this machine reaches kind's network: directly, or from a container on it."""
        from ..host import HostPath, kind_network

        nodes = self.list("v1", "Node", None)
        planes = [n for n in nodes if "node-role.kubernetes.io/control-plane" in (n["metadata"].get("labels") or {})]
        address = next((a.get("address") for n in planes or nodes for a in n.get("status", {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), None)
        name = (planes or nodes or [{"metadata": {"name": ""}}])[0]["metadata"]["name"].removesuffix("-control-plane")
        cache = None
        try:
            from platformdirs import user_cache_dir

            cache = Path(user_cache_dir("labcheck", appauthor=False)) / "host-path.json"
        except Exception:  # no cache dir: the reachability test runs once per command instead
            pass
        return HostPath(name, address, kind_network(), cache)

    # --- on nodes --------------------------------------------------------------

    def exec_on_node(self, node: str, command: list[str], timeout: float) -> ExecResult:
        return execs.exec_on_node(node, command, timeout)


def _with_type(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    # List items come without apiVersion/kind; keep objects self-describing.
    obj.setdefault("apiVersion", api_version)
    obj.setdefault("kind", kind)
    return obj
