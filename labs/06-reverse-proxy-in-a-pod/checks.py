"""Python checks of lab 06: nginx as a reverse proxy in front of an app, in one Pod.

Each function is named by a `python: {function: ...}` check in lab.yaml.

What the proxy does is observed from the node, as the Service would reach a
Pod: port 80 of a Pod's IP is nginx, port 2368 is the app. A proxy "really
forwards" when nginx's answer carries the app's own page, byte for byte, with
nginx's Server header. FAILs that waiting can fix (Pods starting, a rollout in
progress) are not final, so the engine asks again within the check's timeout.
"""

from __future__ import annotations

import re
from labcheck.lab import CheckContext, Outcome, TargetUnavailable, pod_cause, register


# --- reading the cluster ---------------------------------------------------------------------


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _existing(ctx: CheckContext, kind: str, name: str, api_version: str = "v1") -> dict:
    obj = ctx.get(kind, name, api_version=api_version)
    if obj is None:
        raise TargetUnavailable(f"{kind} {name} does not exist in namespace {ctx.namespace}")
    return obj


def _deployment(ctx: CheckContext, name: str) -> dict:
    return _existing(ctx, "Deployment", name, "apps/v1")


def _selector(deployment: dict) -> str:
    labels = deployment["spec"]["selector"].get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _pods(ctx: CheckContext, deployment: dict) -> list[dict]:
    """The Deployment's Pods that are not on their way out."""
    pods = ctx.list("Pod", label_selector=_selector(deployment))
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _container(pod_or_template: dict, name: str) -> dict | None:
    for container in pod_or_template.get("spec", {}).get("containers") or []:
        if container.get("name") == name:
            return container
    return None


def _ports(container: dict | None) -> list[int]:
    return [p["containerPort"] for p in (container or {}).get("ports") or [] if "containerPort" in p]


def _config_text(ctx: CheckContext, configmap: str) -> str | None:
    obj = ctx.get("ConfigMap", configmap)
    if obj is None:
        return None
    return (obj.get("data") or {}).get("nginx.conf")


def _proxy_port(config: str) -> int | None:
    found = re.search(r"proxy_pass\s+https?://[^:/;\s]+:(\d+)", config)
    if found:
        return int(found.group(1))
    return 80 if re.search(r"proxy_pass\s+http://[^:/;\s]+[/;\s]", config) else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- HTTP as seen from the node -----------------------------------------------------------------


class Answer:
    """One HTTP answer that curl printed with -i."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode = returncode
        head, _, body = stdout.replace("\r\n", "\n").partition("\n\n")
        lines = head.splitlines()
        found = re.match(r"HTTP/\S+ (\d{3})", lines[0]) if lines else None
        self.status = int(found.group(1)) if found else None
        self.headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self.body = body
        self.error = stderr.strip()

    @property
    def via_nginx(self) -> bool:
        return self.headers.get("server", "").lower().startswith("nginx")

    def shown(self) -> str:
        if self.status is None:
            return f"no HTTP answer ({_short(self.error) or f'curl exit code {self.returncode}'})"
        server = self.headers.get("server", "no Server header")
        return f"HTTP {self.status}, Server: {server}, body {_short(self.body, 80)!r}"


def _get(ctx: CheckContext, node: str, host: str, port: int) -> Answer:
    result = ctx.exec_on_node(node, ["curl", "-sS", "-i", "-m", "3", f"http://{host}:{port}/"], timeout=8)
    return Answer(result.returncode, result.stdout, result.stderr)


def _listening(ctx: CheckContext, pod: str, container: str) -> set[int] | None:
    """TCP ports something listens on in the Pod's network namespace (any container sees them all)."""
    result = ctx.exec(pod, container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    if result.returncode != 0:
        return None
    ports = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":  # state LISTEN
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _pods_ready(ctx: CheckContext, deployment: dict, replicas: int) -> Outcome | list[dict]:
    """The Deployment's ready Pods, or why they are not there yet."""
    pods = _pods(ctx, deployment)
    ready = [p for p in pods if _is_ready(p)]
    if len(ready) >= replicas and len(pods) == len(ready):
        return ready
    waiting = [p for p in pods if not _is_ready(p)]
    cause = pod_cause(waiting[0], ctx) if waiting else None
    return Outcome.failed(
        f"{len(ready)} of {len(pods)} Pods of Deployment {_name(deployment)} are ready",
        expected=f"{replicas} ready Pods",
        observed=", ".join(f"{_name(p)} {'ready' if _is_ready(p) else 'not ready'}" for p in pods) or "no Pods",
        cause=(cause.text if cause and cause.text else "the Pods are still starting; check again in a few seconds"),
        final=bool(cause and cause.final),
    )


# --- step 1: nginx in front of the app -------------------------------------------------------------


@register
def replicas_ready(ctx: CheckContext, deployment: str, replicas: int, containers: list[str]) -> Outcome:
    obj = _deployment(ctx, deployment)
    template = obj["spec"]["template"]
    names = [c["name"] for c in template["spec"].get("containers") or []]
    missing = [c for c in containers if c not in names]
    if missing:
        return Outcome.failed(
            f"the Pod template of Deployment {deployment} lacks container(s) {', '.join(missing)}",
            expected=f"containers {', '.join(containers)} in one Pod template",
            observed=f"containers {', '.join(names) or 'none'}",
            cause="both containers go under one spec.template.spec.containers list: only then do they share localhost",
            final=True,
        )
    wanted = obj["spec"].get("replicas", 1)
    if wanted != replicas:
        return Outcome.failed(
            f"Deployment {deployment} asks for {wanted} replica(s)",
            expected=f"replicas: {replicas}", observed=f"replicas: {wanted}",
            cause=f"set spec.replicas to {replicas} and apply the file again", final=True,
        )
    pods = _pods_ready(ctx, obj, replicas)
    if isinstance(pods, Outcome):
        return pods
    return Outcome.passed(f"{len(pods)} Pods ready, each running {', '.join(names)}",
                          observed=", ".join(_name(p) for p in pods))


@register
def config_mounted(ctx: CheckContext, deployment: str, container: str, configmap: str) -> Outcome:
    template = _deployment(ctx, deployment)["spec"]["template"]
    volumes = {
        v["name"]: v["configMap"].get("name")
        for v in template["spec"].get("volumes") or [] if v.get("configMap")
    }
    mounts = (_container(template, container) or {}).get("volumeMounts") or []
    for mount in mounts:
        if volumes.get(mount.get("name")) != configmap:
            continue
        path = mount.get("mountPath", "")
        if path == "/etc/nginx/nginx.conf" or (path == "/etc/nginx" and not mount.get("subPath")):
            return Outcome.passed(f"volume {mount['name']} (ConfigMap {configmap}) is mounted at {path}"
                                  + (f" (subPath {mount['subPath']})" if mount.get("subPath") else ""))
    shown = "; ".join(f"{m.get('name')} at {m.get('mountPath')}" for m in mounts) or "no volume mounts"
    return Outcome.failed(
        f"container {container} does not read /etc/nginx/nginx.conf from ConfigMap {configmap}",
        expected=f"a configMap volume of {configmap} mounted at /etc/nginx/nginx.conf (subPath nginx.conf)",
        observed=shown,
        cause="without it nginx runs its image's default configuration, which serves its own page, not the app",
        final=True,
    )


@register(needs=('node',))
def each_pod_proxies(ctx: CheckContext, deployment: str, proxy: str, app: str, configmap: str) -> Outcome:
    obj = _deployment(ctx, deployment)
    pods = _pods_ready(ctx, obj, obj["spec"].get("replicas", 1))
    if isinstance(pods, Outcome):
        return pods
    app_ports = _ports(_container(obj["spec"]["template"], app)) or [2368]
    served = []
    for pod in pods:
        node, ip = pod["spec"]["nodeName"], pod["status"]["podIP"]
        direct = _get(ctx, node, ip, app_ports[0])
        proxied = _get(ctx, node, ip, 80)
        if direct.status != 200:
            return Outcome.failed(
                f"the app in Pod {_name(pod)} does not answer on {ip}:{app_ports[0]}",
                observed=direct.shown(),
                cause=f"container {app} should serve its page on port {app_ports[0]}; see `kubectl logs {_name(pod)} -c {app}`",
            )
        if proxied.status == 200 and proxied.via_nginx and proxied.body == direct.body:
            served.append(f"{_name(pod)}: {ip}:80 -> nginx -> localhost:{app_ports[0]}")
            continue
        cause = "nginx must hand every request to the app: `proxy_pass http://localhost:2368;` in location /"
        final = True
        if proxied.status in (502, 504):
            config = _config_text(ctx, configmap) or ""
            port = _proxy_port(config)
            listening = _listening(ctx, _name(pod), proxy)
            if port is not None and listening is not None and port not in listening:
                cause = (f"nginx answered {proxied.status}: it proxies to localhost:{port}, but nothing listens on "
                         f"{port} in the Pod (listening: {', '.join(map(str, sorted(listening)))}); "
                         f"the app listens on {app_ports[0]}")
            elif listening is None:
                cause = f"nginx answered {proxied.status}: the app it proxies to did not answer"
        elif proxied.status is None:
            cause = f"nothing answered on {ip}:80: is nginx running? `kubectl logs {_name(pod)} -c {proxy}`"
            final = False
        elif proxied.body != direct.body:
            cause = ("port 80 answers with a page that is not the app's: nginx serves its own files; "
                     "mount ConfigMap nginx-config at /etc/nginx/nginx.conf and proxy_pass to the app")
        return Outcome.failed(
            f"Pod {_name(pod)}'s port 80 does not answer with the app's page",
            expected=f"HTTP 200 from nginx with the same page as {ip}:{app_ports[0]}",
            observed=proxied.shown(),
            cause=cause,
            final=final,
        )
    return Outcome.passed(f"all {len(pods)} Pods answer through their own nginx", observed="; ".join(served))


# --- step 2: the NodePort Service -------------------------------------------------------------------


@register
def node_port_published(ctx: CheckContext, service: str, published: list[int]) -> Outcome:
    svc = _existing(ctx, "Service", service)
    ports = [p.get("nodePort") for p in svc["spec"].get("ports") or []]
    if any(p in published for p in ports):
        port = next(p for p in ports if p in published)
        return Outcome.passed(f"nodePort {port}: your machine reaches it at http://localhost:{port}")
    return Outcome.failed(
        f"Service {service} has nodePort {', '.join(map(str, ports)) or 'none'}",
        expected=f"nodePort one of {', '.join(map(str, published))}",
        observed=f"nodePort {', '.join(map(str, ports))}",
        cause=("kind forwards only these ports from your machine's localhost to the node: set "
               f"`nodePort: {published[0]}` under spec.ports"),
        final=True,
    )


@register(needs=('node',))
def node_port_through_proxy(ctx: CheckContext, service: str, deployment: str, proxy: str, app: str) -> Outcome:
    svc = _existing(ctx, "Service", service)
    spec_port = (svc["spec"].get("ports") or [{}])[0]
    node_port = spec_port.get("nodePort")
    template = _deployment(ctx, deployment)["spec"]["template"]
    nodes = ctx.list("Node")
    if not nodes or not node_port:
        return Outcome.error("the cluster lists no node, or the Service has no nodePort")
    node = _name(nodes[0])
    address = next((a["address"] for a in nodes[0]["status"].get("addresses") or []
                    if a.get("type") == "InternalIP"), None)
    answers = [_get(ctx, node, address, node_port) for _ in range(4)]
    good = [a for a in answers if a.status == 200 and a.via_nginx]
    if len(good) == len(answers):
        return Outcome.passed(f"{len(answers)} requests to {address}:{node_port} were answered by nginx",
                              observed=answers[0].shown())
    target = spec_port.get("targetPort", spec_port.get("port"))
    app_ports = _ports(_container(template, app))
    proxy_ports = _ports(_container(template, proxy)) or [80]
    bad = next(a for a in answers if a not in good)
    if target in app_ports or target == app:
        cause = (f"targetPort {target} is the app's own port: the Service bypasses nginx and hands requests "
                 f"straight to container {app}; set targetPort {proxy_ports[0]}")
        final = True
    elif bad.status is None:
        cause = (f"no answer on node port {node_port}: does targetPort {target} name nginx's port "
                 f"{proxy_ports[0]}, and does the selector match the Pods' labels?")
        final = False
    else:
        cause = "the answer did not come from nginx: see step 1"
        final = True
    return Outcome.failed(
        f"requests to node port {node_port} are not answered by nginx",
        expected="HTTP 200 with Server: nginx (the app's page, through the proxy)",
        observed=bad.shown(),
        cause=cause,
        final=final,
    )


# --- step 3: a changed ConfigMap and a running nginx ----------------------------------------------------


_ADD_HEADER = re.compile(r"add_header\s+([A-Za-z0-9-]+)\s+(\"[^\"]*\"|'[^']*'|[^;\s]+)")


def _added_headers(config: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2).strip("\"'") for m in _ADD_HEADER.finditer(config)}


@register
def config_adds_header(ctx: CheckContext, configmap: str) -> Outcome:
    config = _config_text(ctx, configmap)
    if config is None:
        raise TargetUnavailable(f"ConfigMap {configmap} has no nginx.conf in namespace {ctx.namespace}")
    headers = _added_headers(config)
    if headers:
        return Outcome.passed(f"nginx.conf adds {', '.join(f'{k}: {v}' for k, v in headers.items())}")
    return Outcome.failed(
        f"ConfigMap {configmap}'s nginx.conf adds no response header",
        expected="an add_header line, e.g. `add_header X-Proxied-By $hostname;` in location /",
        observed="no add_header",
        cause="save the new nginx-config.yaml from the lab page and apply it",
        final=True,
    )


def _expected_value(value: str, pod: str) -> str | None:
    """The value nginx sends for an add_header value; None if it depends on the request."""
    value = value.replace("$hostname", pod)
    return None if "$" in value else value


@register(needs=('node',))
def nginx_serves_configmap(ctx: CheckContext, deployment: str, proxy: str, configmap: str) -> Outcome:
    obj = _deployment(ctx, deployment)
    config = _config_text(ctx, configmap)
    if config is None:
        raise TargetUnavailable(f"ConfigMap {configmap} has no nginx.conf in namespace {ctx.namespace}")
    headers = _added_headers(config)
    pods = _pods_ready(ctx, obj, obj["spec"].get("replicas", 1))
    if isinstance(pods, Outcome):
        return pods  # a rollout in progress: wait
    good, stale = [], []
    for pod in pods:
        name = _name(pod)
        answer = _get(ctx, pod["spec"]["nodeName"], pod["status"]["podIP"], 80)
        wrong = [
            f"{h}: {answer.headers.get(h, '(missing)')}" for h, v in headers.items()
            if h not in answer.headers or (_expected_value(v, name) not in (None, answer.headers[h]))
        ]
        (stale if wrong or answer.status != 200 else good).append(f"{name}: {', '.join(wrong) or answer.shown()}")
    if not stale:
        return Outcome.passed(f"all {len(pods)} Pods serve the headers ConfigMap {configmap} asks for",
                              observed="; ".join(good))
    # Why the running nginx differs: compare the file it was started with to the ConfigMap.
    files = ctx.exec_many([(_name(p), proxy, ["cat", "/etc/nginx/nginx.conf"]) for p in pods])
    old = [_name(p) for p, f in zip(pods, files) if f.returncode == 0 and f.stdout != config]
    rolling = (obj.get("status", {}).get("updatedReplicas", 0) < obj["spec"].get("replicas", 1)
               or obj.get("status", {}).get("observedGeneration", 0) < obj["metadata"].get("generation", 0))
    if old:
        cause = (f"the nginx.conf inside {', '.join(old)} is not the ConfigMap's: a file mounted with subPath "
                 "is copied when the container starts and never updated, and nginx read it at start; "
                 f"roll the Deployment (`kubectl rollout restart deployment {deployment}`)")
    else:
        cause = ("the file in the container is the ConfigMap's, but nginx still runs its old configuration: "
                 f"nginx reads it only at start or reload; roll the Deployment (`kubectl rollout restart deployment {deployment}`)")
    return Outcome.failed(
        f"{len(stale)} of {len(pods)} Pods do not serve what ConfigMap {configmap} says",
        expected=", ".join(f"{h}: {v}" for h, v in headers.items()),
        observed="; ".join(stale),
        cause=cause,
        final=not rolling,
    )
