"""A real cluster: the Kubernetes API for objects, logs and pod exec; docker for node exec.

This is the only module that imports the `kubernetes` client. It returns plain
dicts and turns every client error into ClusterUnavailable (the grader cannot
look) or TargetUnavailable (what the learner should have made is not there).

It also holds `client_schema()`, the built-in kinds and fields the client's
generated code describes, read offline for `labcheck lint` (no API call).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any, Iterator

from ..errors import ClusterUnavailable, TargetUnavailable
from .base import ExecResult
from .host import run_on_host

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
}

_REQUEST_TIMEOUT = (3.0, 15.0)  # connect, read


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _lazy_kubernetes() -> None:
    """Make `import kubernetes...` load only the modules used, not the whole client.

    The package's __init__ files import every API group and ~800 generated models
    (most of the client's import time, and a one-shot `labcheck` pays it on every
    run). We register the packages as plain module objects with the right
    __path__, so submodules load on demand; attribute look-ups that code may do
    on the packages (`kubernetes.client.ApiClient`, `...models.V1Pod`) resolve
    lazily to the same classes. Reads go through the same client code as before.
    """
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import below reports it
    root = spec.submodule_search_locations[0]
    known = {"ApiClient": "api_client", "Configuration": "configuration"}

    def package(name: str, path: str, resolve) -> None:
        module = types.ModuleType(name)
        module.__path__ = [path]
        module.__package__ = name

        def __getattr__(attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            try:
                return resolve(attr)
            except ImportError as exc:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from exc

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)

    def client_attr(attr: str):
        if attr in known:
            return getattr(importlib.import_module(f"kubernetes.client.{known[attr]}"), attr)
        if attr.endswith("Api") and attr[0].isupper():
            return getattr(importlib.import_module(f"kubernetes.client.api.{_snake(attr)}"), attr)
        if attr[0].isupper():
            return getattr(sys.modules["kubernetes.client.models"], attr)
        return importlib.import_module(f"kubernetes.client.{attr}")

    package("kubernetes", root, lambda attr: importlib.import_module(f"kubernetes.{attr}"))
    package("kubernetes.client", os.path.join(root, "client"), client_attr)
    package("kubernetes.client.api", os.path.join(root, "client", "api"),
            lambda attr: getattr(importlib.import_module(f"kubernetes.client.api.{_snake(attr)}"), attr))
    package("kubernetes.client.models", os.path.join(root, "client", "models"),
            lambda attr: getattr(importlib.import_module(f"kubernetes.client.models.{_snake(attr)}"), attr))


# Helpers the client imports at module level but calls only in cases labs do not reach:
# a proxy with a no_proxy list (requests), and parsing dates into generated models (dateutil;
# our reads keep the raw JSON). Importing them costs a one-shot check ~15 % of its time.
_DEFERRED_HELPERS = {"requests.utils": "should_bypass_proxies", "dateutil.parser": "parse"}


@contextlib.contextmanager
def _deferring_helpers():
    """While the client's modules load, hand them stand-ins for the helpers above that import
    the real function on first call. The stand-in modules are gone from sys.modules afterwards,
    so anything else importing requests or dateutil gets the real thing."""
    placed: list[str] = []
    for dotted, function in _DEFERRED_HELPERS.items():
        parent = dotted.partition(".")[0]
        if parent in sys.modules or dotted in sys.modules:
            continue

        def deferred(*args, _module=dotted, _name=function, **kwargs):
            return getattr(importlib.import_module(_module), _name)(*args, **kwargs)

        stand_in = types.ModuleType(dotted)
        setattr(stand_in, function, deferred)
        package = types.ModuleType(parent)
        package.__path__ = []  # a package: `from requests.utils import ...` needs one
        setattr(package, dotted.partition(".")[2], stand_in)
        sys.modules[parent], sys.modules[dotted] = package, stand_in
        placed += [dotted, parent]
    try:
        yield
    finally:
        for name in placed:
            sys.modules.pop(name, None)


_WATCH_SECONDS = 60  # the server ends each watch request after this long; it is then resumed

# Channels of the exec stream (the remotecommand protocol): data, then one Status on _ERROR.
_STDOUT, _STDERR, _ERROR = 1, 2, 3

# How runc (kind's runtime) and crun report a command the image does not have.
_MISSING_EXECUTABLE = (
    re.compile(r'exec: "(?P<name>[^"]+)": (?:executable file not found|stat \S+: no such file or directory)'),
    re.compile(r"executable file `(?P<name>[^`]+)` not found"),
)


class LiveCluster:
    replay = False

    def __init__(self, context: str | None, kubeconfig: str | None = None, *, pool_size: int | None = None):
        """A cluster by kubeconfig context; context None means in-cluster (a Pod's ServiceAccount).

        `pool_size` is the number of API connections kept open: a grader with
        many threads needs one per thread, or urllib3 drops and warns.
        """
        _lazy_kubernetes()
        with _deferring_helpers():
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
                raise ClusterUnavailable(f"not running in a Pod with a ServiceAccount ({_first_line(exc)})") from None
            self._api = ApiClient(configuration=configuration)
        else:
            try:
                contexts, document = _kubeconfig_contexts(path)
            except _kubeconfig_errors() as exc:
                raise ClusterUnavailable(
                    f"no usable kubeconfig at {path} ({_first_line(exc)}); run: labcheck start"
                ) from None
            if context not in contexts:
                raise ClusterUnavailable(
                    f"kubeconfig has no context {context!r}: the lab's cluster is not running (run: labcheck start)"
                )
            if document is not None and _configure_plainly(document, Path(path).expanduser().parent, context,
                                                           configuration):
                self._api = ApiClient(configuration=configuration)
            else:
                from kubernetes import config

                try:
                    self._api = config.new_client_from_config(
                        config_file=path, context=context, persist_config=False, client_configuration=configuration
                    )
                except _kubeconfig_errors() as exc:
                    raise ClusterUnavailable(f"cannot use context {context!r}: {_first_line(exc)}") from None
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
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {_first_line(exc)}") from None
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
            message = _status_message(exc.body, exc.reason)
            raise TargetUnavailable(f"cannot read logs of {pod}/{container}: {message}") from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnavailable(f"Kubernetes API at {self.server} unreachable: {_first_line(exc)}") from None

    def _open_exec(self, namespace: str, pod: str, container: str, command: list[str]) -> Any:
        """The exec websocket (a kubernetes.stream WSClient); tests put a fake stream here."""
        import threading

        from kubernetes.client.exceptions import ApiException

        with _deferring_helpers():
            from kubernetes.stream import stream

        opened: dict[str, Any] = {}

        def open_stream() -> None:
            try:
                opened["ws"] = stream(
                    self._exec_core().connect_get_namespaced_pod_exec,
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
            except AttributeError as exc:
                # When the websocket does not open, the client's call_api runs `e.body.decode()` on
                # the ApiException it got, whose body is None; that ApiException says what happened.
                opened["error"] = exc.__context__ if isinstance(exc.__context__, ApiException) else exc
            except Exception as exc:  # noqa: BLE001 - handed to the caller, which sorts it
                opened["error"] = exc

        # The client opens the websocket with no timeout at all; a thread bounds the wait.
        opener = threading.Thread(target=open_stream, name="exec-open", daemon=True)
        opener.start()
        opener.join(sum(_REQUEST_TIMEOUT))
        if opener.is_alive():
            raise ClusterUnavailable(f"exec into {pod}/{container}: the API did not open the stream in time")
        if "error" in opened:
            raise opened["error"]
        return opened["ws"]

    def exec_in_pod(
        self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float
    ) -> ExecResult:
        import yaml
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
        from websocket import WebSocketException

        container = self._running_container(namespace, pod, container)
        target = f"{pod}/{container}"
        # The client raises ValueError/TypeError (and YAML errors) from its own parsing of odd answers.
        client_errors = (OSError, HTTPError, WebSocketException, ValueError, TypeError, yaml.YAMLError)
        started = time.monotonic()
        try:
            ws = self._open_exec(namespace, pod, container, command)
        except ApiException as exc:
            raise _exec_refused(exc, self.server, namespace, target) from None
        except client_errors as exc:
            raise ClusterUnavailable(f"exec into {target} failed: {_first_line(exc)}") from None
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
                out.append(ws.read_channel(_STDOUT))
                err.append(ws.read_channel(_STDERR))
            # Frames that arrived with the last update (or just before close) are still buffered.
            out.append(ws.read_channel(_STDOUT))
            err.append(ws.read_channel(_STDERR))
            status = None if timed_out else ws.read_channel(_ERROR)
        except client_errors as exc:
            raise ClusterUnavailable(f"exec into {target} broke off: {_first_line(exc)}") from None
        finally:
            try:
                ws.close()
            except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real outcome
                pass
        stderr = "".join(_text(part) for part in err)
        extra: dict[str, Any] = {}
        if timed_out:
            returncode = 124
        else:
            returncode, problem = _exit_status(status, pod, container, command)
            if problem is not None:
                extra["not_started"] = True
                stderr = problem + ("\n" + stderr if stderr else "")
        return ExecResult(
            args=command,
            returncode=returncode,
            stdout="".join(_text(part) for part in out),
            stderr=stderr,
            duration=round(time.monotonic() - started, 3),
            where=f"pod {namespace}/{pod} container {container}",
            timed_out=timed_out,
            extra=extra,
        )

    # --- on this machine ---------------------------------------------------------

    def exec_on_host(self, command: list[str], timeout: float) -> ExecResult:
        return run_on_host(command, timeout)

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
        except OSError as exc:
            raise ClusterUnavailable(f"cannot run docker: {_first_line(exc)}") from None
        # What docker itself says (not the command run on the node) means the grader cannot look.
        if "No such container" in done.stderr:
            raise ClusterUnavailable(f"no kind node container {node!r}: is this the lab's cluster?")
        lowered = done.stderr.lower()
        if "cannot connect to the docker daemon" in lowered or "docker daemon socket" in lowered:
            raise ClusterUnavailable(f"docker exec on node {node} failed: {_first_line(done.stderr)}")
        if done.returncode == 125 or done.stderr.startswith("Error response from daemon"):
            raise ClusterUnavailable(f"docker exec on node {node} failed: {_first_line(done.stderr)}")
        extra: dict[str, Any] = {}
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
        if done.returncode in (126, 127) and "OCI runtime exec failed" in done.stdout + done.stderr:
            # The command never ran on the node. docker 20.10 prints why on stdout and exits 126
            # even for a missing command; give the codes exec in a Pod gives (127: not there).
            why = (done.stderr + done.stdout).strip()
            returncode, stderr = _start_failure(why, f"is not on node {node}", f"node {node}", command)
            stdout = ""
            extra["not_started"] = True
        return ExecResult(
            args=command,
            returncode=returncode,
            stdout=stdout,
            stderr=stderr,
            duration=round(time.monotonic() - started, 3),
            where=f"node {node}",
            extra=extra,
        )


def _kubeconfig_errors() -> tuple[type[BaseException], ...]:
    """What the client raises for a kubeconfig it cannot use: its own error, or a raw one
    for bad YAML (YAMLError), bytes that are not UTF-8 (ValueError) or a wrong shape (TypeError...)."""
    import yaml
    from kubernetes.config.config_exception import ConfigException

    return (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError)


def _kubeconfig_contexts(path: str) -> tuple[set[str], dict | None]:
    """Context names in a kubeconfig (a KUBECONFIG-style list of files is merged), and the
    parsed file itself when there is just one (for _configure_plainly)."""
    files = [name for name in path.split(os.pathsep) if name]
    if len(files) == 1:
        # Read here, not with the client's loader: importing kubernetes.config costs more than the check.
        import yaml

        text = Path(files[0]).expanduser().read_text(encoding="utf-8")
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(document, dict):
            raise ValueError("not a kubeconfig (a mapping with contexts, clusters and users)")
        names = set()
        for entry in document.get("contexts") or []:
            names.add(entry["name"])
        return names, document

    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigMerger

    # Not config.list_kube_config_contexts: it fails when current-context is unset, which
    # `kind delete cluster` leaves behind after deleting the current one of several clusters.
    merged = KubeConfigMerger(path).config
    if merged is None:
        raise ConfigException("no such file")
    names = set()
    for entry in merged.value.get("contexts") or []:
        entry = getattr(entry, "value", entry)
        names.add(entry["name"])
    return names, None


# What a plain kubeconfig entry holds (kind, kubeadm and k3d write only these). Anything else
# (exec plugins, auth providers, proxies, user names and passwords) goes to the client's loader.
_PLAIN_CLUSTER_KEYS = {"server", "certificate-authority", "certificate-authority-data",
                       "insecure-skip-tls-verify", "tls-server-name"}
_PLAIN_USER_KEYS = {"client-certificate", "client-certificate-data", "client-key", "client-key-data", "token"}
_MATERIAL_FILES: dict[bytes, str] = {}


def _configure_plainly(document: dict, folder: Path, context: str, configuration: Any) -> bool:
    """Fill the client's Configuration from a plain kubeconfig entry; False when the entry needs
    the client's own loader.

    Why by hand: kubernetes.config.kube_config imports requests, oauthlib and dateutil for the
    auth kinds it supports, about a sixth of a one-shot check's time, and a kind cluster needs
    none of them. The settings made are the ones that loader makes for these keys.
    """
    def entry(section: str, name: Any, field: str) -> dict | None:
        for item in document.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                value = item.get(field)
                return value if isinstance(value, dict) else None
        return None

    ctx = entry("contexts", context, "context")
    if not ctx:
        return False
    cluster = entry("clusters", ctx.get("cluster"), "cluster")
    user = entry("users", ctx.get("user"), "user") if ctx.get("user") is not None else {}
    if cluster is None or user is None or not set(cluster) <= _PLAIN_CLUSTER_KEYS or not set(user) <= _PLAIN_USER_KEYS:
        return False
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        return False
    try:
        ca = _material(cluster, "certificate-authority", folder)
        cert = _material(user, "client-certificate", folder)
        key = _material(user, "client-key", folder)
    except (ValueError, TypeError):
        return False  # undecodable data: the client's loader words the error
    configuration.host = server.rstrip("/")
    if server.startswith("https"):
        configuration.ssl_ca_cert = ca
        configuration.cert_file = cert
        configuration.key_file = key
        configuration.verify_ssl = not cluster.get("insecure-skip-tls-verify", False)
        if cluster.get("tls-server-name"):
            configuration.tls_server_name = cluster["tls-server-name"]
    token = user.get("token")
    if token:
        configuration.api_key["authorization"] = f"Bearer {token}"
    return True


def _material(entry: dict, field: str, folder: Path) -> str | None:
    """A certificate or key as a file path: `field` names a file (relative to the kubeconfig's
    folder), `field-data` holds it base64-encoded and is written to a private temporary file."""
    data = entry.get(f"{field}-data")
    if data:
        import base64

        content = base64.b64decode(data, validate=True)
        if content not in _MATERIAL_FILES:
            import atexit
            import tempfile

            handle, name = tempfile.mkstemp(prefix="labcheck-")  # mode 0600: it may hold a private key
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            atexit.register(_remove_quietly, name)
            _MATERIAL_FILES[content] = name
        return _MATERIAL_FILES[content]
    name = entry.get(field)
    if name:
        return str((folder / str(name)).expanduser())
    return None


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def _exit_status(payload: Any, pod: str, container: str, command: list[str]) -> tuple[int, str | None]:
    """The exit code from the exec stream's Status, and a problem line when the command never started.

    Parsed here rather than by WSClient.returncode, which raises ValueError/TypeError on
    these answers and whose None ("unknown") must never read as success.
    """
    target = f"{pod}/{container}"
    text = _text(payload).strip()
    if not text:
        raise ClusterUnavailable(f"exec into {target} ended without an exit status")
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    unreadable = ClusterUnavailable(f"exec into {target} ended with an unreadable exit status: {_first_line(text)}")
    if not isinstance(status, dict):
        raise unreadable
    if status.get("status") == "Success":
        return 0, None
    if status.get("reason") == "NonZeroExitCode":
        causes = (status.get("details") or {}).get("causes") or []
        for cause in causes:
            if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), None
                except (TypeError, ValueError):
                    break
        raise unreadable
    if status.get("status") == "Failure":
        return _start_failure(
            str(status.get("message") or "no message"), f"is not in container {container}'s image", target, command
        )
    raise unreadable


def _start_failure(message: str, missing: str, where: str, command: list[str]) -> tuple[int, str]:
    """A command that could not start: 127 when its executable is absent, else 126 (the shell's codes)."""
    for pattern in _MISSING_EXECUTABLE:
        found = pattern.search(message)
        if found:
            return 127, f"`{found.group('name')}` {missing}\n{message}"
    if "executable file not found" in message:
        return 127, f"`{command[0] if command else '?'}` {missing}\n{message}"
    return 126, f"`{command[0] if command else '?'}` could not start in {where}\n{message}"


def _exec_refused(exc: Any, server: str, namespace: str, target: str) -> Exception:
    """The error for an exec the API did not open. The stream wraps every failure in
    ApiException(status=0), so the handshake's status is read from the reason text."""
    reason = str(exc.reason or "")
    status = exc.status
    body = exc.body
    if not status:
        found = re.match(r"Handshake status (\d{3})", reason)
        if found is None:
            return ClusterUnavailable(f"Kubernetes API at {server} unreachable for exec: {_first_line(reason)}")
        status = int(found.group(1))
        body = reason.rsplit(" -+-+- ", 1)[-1]
    message = _status_message(body, f"HTTP {status}")
    if status in (401, 403):
        return ClusterUnavailable(f"the API server refused access to exec into {target} ({status}: {message})")
    if 400 <= status < 500:
        # 404: the Pod went away; 400: the container stopped, both since it was looked up.
        return TargetUnavailable(f"cannot exec in {target} (namespace {namespace}): {message}")
    return ClusterUnavailable(f"the API server answered {status} to exec into {target}: {message}")


def _status_message(body: Any, fallback: Any) -> str:
    """The message of a Kubernetes Status answer, or the fallback when the body is not one."""
    import ast

    text = _text(body).strip()
    if text.startswith(("b'", 'b"')):  # older websocket-client put the body's repr in the message
        try:
            text = _text(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            pass
    try:
        status = json.loads(text)
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("message"):
        return _first_line(status["message"])
    return str(fallback or "no reason given")


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
