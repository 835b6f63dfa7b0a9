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

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, objects, register


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Answer:
    """One HTTP answer that curl printed with -i (headers are what tell nginx from the app)."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        head, _, self.body = stdout.replace("\r\n", "\n").partition("\n\n")
        lines = head.splitlines()
        found = re.match(r"HTTP/\S+ (\d{3})", lines[0]) if lines else None
        self.status = int(found.group(1)) if found else None
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.returncode, self.error = returncode, stderr.strip()

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


def _config_text(ctx: CheckContext, configmap: str) -> str:
    found = (ctx.get("ConfigMap", configmap) or {}).get("data") or {}
    if "nginx.conf" not in found:
        raise TargetUnavailable(f"ConfigMap {configmap} has no nginx.conf in namespace {ctx.namespace}",
                                cause="apply nginx-config.yaml (step 1)", final=True)
    return found["nginx.conf"]


def _proxy_target(config: str) -> tuple[str, int] | None:
    """Where `proxy_pass` sends requests: (host, port), 127.0.0.1 and [::1] as well as names."""
    found = re.search(r"proxy_pass\s+http(s?)://(\[[^\]]*\]|[^:/;\s]+)(?::(\d+))?", config)
    if not found:
        return None
    return found[2], int(found[3]) if found[3] else (443 if found[1] else 80)


def _container_ports(template: dict, name: str) -> list[int]:
    container = next((c for c in objects.containers_of(template) if c.get("name") == name), {})
    return [p["containerPort"] for p in container.get("ports") or [] if "containerPort" in p]


def _ready_pods(ctx: CheckContext, name: str) -> tuple[dict, list[dict]]:
    """The Deployment and its Pods, every one ready; TargetUnavailable saying why not (final when
    waiting cannot help: an image that cannot be had, a probe the kubelet has judged failing)."""
    deployment = ctx.get("Deployment", name, "apps/v1")
    if deployment is None:
        raise TargetUnavailable(f"Deployment {name} does not exist in namespace {ctx.namespace}",
                                cause="apply tut-deployment.yaml (step 1)", final=True)
    ready, waiting = objects.ready_replicas(ctx, deployment)
    if waiting or len(ready) < deployment["spec"].get("replicas", 1):
        cause, final = objects.why_not_ready(ctx, waiting)
        raise TargetUnavailable(f"{len(ready)} of {len(ready) + len(waiting)} Pods of Deployment {name} are ready",
                                cause=cause or "the Pods are still starting; check again in a few seconds", final=final)
    return deployment, ready


# --- step 1: nginx in front of the app -------------------------------------------------------------


@register(needs=("node",))
def each_pod_proxies(ctx: CheckContext, deployment: str, proxy: str, app: str, configmap: str) -> Outcome:
    obj, pods = _ready_pods(ctx, deployment)
    app_port = (_container_ports(obj["spec"]["template"], app) or [2368])[0]
    served = []
    for pod in pods:
        name, node, ip = objects.name_of(pod), pod["spec"]["nodeName"], pod["status"]["podIP"]
        direct, proxied = _get(ctx, node, ip, app_port), _get(ctx, node, ip, 80)
        if direct.status != 200:
            return Outcome.failed(f"the app in Pod {name} does not answer on {ip}:{app_port}", observed=direct.shown(),
                                  cause=f"container {app} should serve its page on port {app_port}; "
                                        f"see `kubectl logs {name} -c {app}`")
        if proxied.status == 200 and proxied.via_nginx and proxied.body == direct.body:
            served.append(f"{name}: {ip}:80 -> nginx -> localhost:{app_port}")
            continue
        cause, final = "nginx must hand every request to the app: `proxy_pass http://localhost:2368;` in location /", True
        if proxied.status in (502, 504):
            target = _proxy_target(_config_text(ctx, configmap))
            listening = commands.listening_ports(ctx.exec(name, proxy, commands.LISTENING_COMMAND))
            if target is not None and listening is not None and target[1] not in listening:
                cause = (f"nginx answered {proxied.status}: it proxies to {target[0]}:{target[1]}, but nothing listens "
                         f"on {target[1]} in the Pod (listening: {', '.join(map(str, sorted(listening)))}); "
                         f"the app listens on {app_port}")
            else:
                cause = f"nginx answered {proxied.status}: the app it proxies to did not answer"
        elif proxied.status is None:
            cause, final = f"nothing answered on {ip}:80: is nginx running? `kubectl logs {name} -c {proxy}`", False
        elif proxied.body != direct.body:
            cause = ("port 80 answers with a page that is not the app's: nginx serves its own files; "
                     "mount ConfigMap nginx-config at /etc/nginx/nginx.conf and proxy_pass to the app")
        return Outcome.failed(f"Pod {name}'s port 80 does not answer with the app's page",
                              expected=f"HTTP 200 from nginx with the same page as {ip}:{app_port}",
                              observed=proxied.shown(), cause=cause, final=final)
    return Outcome.passed(f"all {len(pods)} Pods answer through their own nginx", observed="; ".join(served))


# --- step 2: the NodePort Service -------------------------------------------------------------------


@register
def node_port_published(ctx: CheckContext, service: str, published: list[int]) -> Outcome:
    svc = objects.service(ctx, service, made_by="tut-service.yaml")
    ports = [p.get("nodePort") for p in objects.service_ports(svc)]
    chosen = next((p for p in ports if p in published), None)
    if chosen:
        return Outcome.passed(f"nodePort {chosen}: your machine reaches it at http://localhost:{chosen}")
    # Only a free port can be advised: the API refuses one another Service holds ("already allocated").
    holders = {p.get("nodePort"): f"{s['metadata']['namespace']}/{objects.name_of(s)}"
               for s in ctx.list("Service", namespace=None) if s["metadata"].get("uid") != svc["metadata"].get("uid")
               for p in s.get("spec", {}).get("ports") or [] if p.get("nodePort") in published}
    held = "; ".join(f"{port} is held by Service {holders[port]}" for port in published if port in holders)
    free = [port for port in published if port not in holders]
    cause = f"kind forwards only {', '.join(map(str, published))} from your machine's localhost to the node"
    if free:
        cause += f"{' (' + held + ')' if held else ''}: set `nodePort: {free[0]}` under spec.ports"
    else:
        cause += (f", and both are taken ({held}): delete the Service you no longer need "
                  f"(`kubectl delete service -n <namespace> <name>`), then set `nodePort: {published[0]}`")
    return Outcome.failed(f"Service {service} has nodePort {', '.join(map(str, ports)) or 'none'}",
                          expected=f"nodePort one of {', '.join(map(str, published))}",
                          observed=f"nodePort {', '.join(map(str, ports))}", cause=cause, final=True)


@register(needs=("node",))
def node_port_through_proxy(ctx: CheckContext, service: str, proxy: str) -> Outcome:
    svc, node_port = objects.node_port(ctx, service, made_by="tut-service.yaml")
    spec_port = objects.service_ports(svc)[0]
    node = sorted(objects.nodes(ctx).values(), key=objects.name_of)[0]
    address = objects.internal_ip(node)
    answers = [_get(ctx, objects.name_of(node), address, node_port) for _ in range(4)]
    good = [a for a in answers if a.status == 200 and a.via_nginx]
    if len(good) == len(answers):
        return Outcome.passed(f"{len(answers)} requests to {address}:{node_port} were answered by nginx",
                              observed=answers[0].shown())
    bad = next(a for a in answers if a not in good)
    pods = objects.selected_pods(ctx, svc)
    targets, target = objects.target_ports(spec_port, pods), spec_port.get("targetPort", spec_port.get("port"))
    numbers = ", ".join(map(str, sorted(targets)))
    shown = str(target) if numbers == str(target) or not targets else f"{target} (port {numbers})"
    nginx_port, final = (_container_ports((pods or [{}])[0], proxy) or [80])[0], True
    if not targets:
        cause = (f"targetPort {target!r} names no port of the Pods the Service selects: name nginx's containerPort "
                 f"{target!r}, or set targetPort {nginx_port}")
    elif bad.status == 200:
        cause = (f"targetPort {shown} is not nginx's port: the Service bypasses nginx and hands requests "
                 f"straight to the app; set targetPort {nginx_port}")
    elif bad.status is None:
        cause = (f"no answer on node port {node_port}: does targetPort {shown} lead to nginx's port {nginx_port}? "
                 "kube-proxy may also still be writing the rules for a new Service")
        final = False
    else:
        cause = f"{'nginx' if bad.via_nginx else 'not nginx but something else'} answered {bad.status}: see step 1"
    return Outcome.failed(f"requests to node port {node_port} are not answered by nginx",
                          expected="HTTP 200 with Server: nginx (the app's page, through the proxy)",
                          observed=bad.shown(), cause=cause, final=final)


# --- step 3: a changed ConfigMap and a running nginx ----------------------------------------------------


_ADD_HEADER = re.compile(r"add_header\s+([A-Za-z0-9-]+)\s+(\"[^\"]*\"|'[^']*'|[^;\s]+)")


@register(needs=("node",))
def nginx_serves_configmap(ctx: CheckContext, deployment: str, proxy: str, configmap: str) -> Outcome:
    config = _config_text(ctx, configmap)
    headers = {m.group(1).lower(): m.group(2).strip("\"'") for m in _ADD_HEADER.finditer(config)}
    obj, pods = _ready_pods(ctx, deployment)  # a rollout in progress: not final, the engine asks again
    good, stale = [], []
    for pod in pods:
        name = objects.name_of(pod)
        answer = _get(ctx, pod["spec"]["nodeName"], pod["status"]["podIP"], 80)
        # $hostname is the Pod's name; a value with another variable depends on the request: present is enough.
        wanted = {h: v.replace("$hostname", name) for h, v in headers.items()}
        wrong = [f"{h}: {answer.headers.get(h, '(missing)')}" for h, v in wanted.items()
                 if h not in answer.headers or ("$" not in v and answer.headers[h] != v)]
        (stale if wrong or answer.status != 200 else good).append(f"{name}: {', '.join(wrong) or answer.shown()}")
    if not stale:
        return Outcome.passed(f"all {len(pods)} Pods serve the headers ConfigMap {configmap} asks for",
                              observed="; ".join(good))
    # Why the running nginx differs: compare the file it was started with to the ConfigMap.
    files = ctx.exec_many([(objects.name_of(p), proxy, ["cat", "/etc/nginx/nginx.conf"]) for p in pods])
    old = [objects.name_of(p) for p, f in zip(pods, files) if f.returncode == 0 and f.stdout != config]
    rolling = (obj.get("status", {}).get("updatedReplicas", 0) < obj["spec"].get("replicas", 1)
               or obj.get("status", {}).get("observedGeneration", 0) < obj["metadata"].get("generation", 0))
    roll = f"roll the Deployment (`kubectl rollout restart deployment {deployment}`)"
    if old:
        cause = (f"the nginx.conf inside {', '.join(old)} is not the ConfigMap's: a file mounted with subPath "
                 f"is copied when the container starts and never updated, and nginx read it at start; {roll}")
    else:
        cause = ("the file in the container is the ConfigMap's, but nginx still runs its old configuration: "
                 f"nginx reads it only at start or reload; {roll}")
    return Outcome.failed(f"{len(stale)} of {len(pods)} Pods do not serve what ConfigMap {configmap} says",
                          expected=", ".join(f"{h}: {v}" for h, v in headers.items()),
                          observed="; ".join(stale), cause=cause, final=not rolling)
