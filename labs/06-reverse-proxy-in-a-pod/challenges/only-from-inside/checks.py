"""Checks of challenge 06-only-from-inside: the blog is reached through nginx in its Pod (which marks
every answer with a header), and only so: the blog itself answers nobody outside its Pod."""

from __future__ import annotations

import ipaddress

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, objects, register

REQUESTS = 4  # to the node port: kube-proxy spreads them over the Pods
LOOPBACK = {"127.0.0.1", "::1"}


def _get(ctx: CheckContext, node: str, url: str) -> commands.HttpResponse:
    return commands.http_response(ctx.exec_on_node(node, commands.headed_http_command(url, 3), timeout=8))


def _listeners(text: str) -> dict[int, set[str]]:
    """Port -> the local addresses listening on it, from /proc/net/tcp and tcp6 (hex, little-endian words)."""
    found: dict[int, set[str]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A" or ":" not in fields[1]:
            continue
        address, port = fields[1].split(":")
        words = [bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8)]
        found.setdefault(int(port, 16), set()).add(str(ipaddress.ip_address(b"".join(words))))
    return found


def _ready_pods(ctx: CheckContext, deployment: str) -> list[dict]:
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"Deployment {deployment} is the app: keep it, and fix it in place")
    ready, waiting = objects.ready_replicas(ctx, found)
    if waiting or not ready:
        cause, final = objects.why_not_ready(ctx, waiting)
        raise TargetUnavailable(f"{len(ready)} of {len(ready) + len(waiting)} Pods of {deployment} are ready",
                                cause=cause or "the Pods are still starting: check again", final=final)
    return ready


def _refused_why(ctx: CheckContext, svc: dict, pods: list[dict], container: str) -> tuple[str, bool]:
    """(likely cause, final) when the node port gets no HTTP answer: how the Pods listen on the targetPort."""
    spec_port = (svc["spec"].get("ports") or [{}])[0]
    targets = objects.target_ports(spec_port, pods)
    written = spec_port.get("targetPort", spec_port.get("port"))
    if not targets:
        return f"targetPort {written!r} names no port of the Pods' containers", True
    seen = ctx.exec(objects.name_of(pods[0]), container, commands.LISTENING_COMMAND)
    listening = _listeners(seen.stdout)
    port = sorted(targets)[0]
    if seen.returncode != 0 and not seen.stdout:
        return "nothing answered on the node port: check again in a moment", False
    if port not in listening:
        return f"nothing listens on port {port} (the Service's targetPort) in the Pods", True
    if listening[port] <= LOOPBACK:
        return f"the Pods refuse connections to port {port} (the Service's targetPort) from outside the Pod", True
    return "the Pods listen on the targetPort, yet nothing answered: kube-proxy may be catching up, check again", False


@register(needs=("node",))
def node_port_through_proxy(ctx: CheckContext, service: str, deployment: str, proxy: str, contains: str,
                            header: str) -> Outcome:
    """Requests to the Service's node port get the blog's page with the proxy's header."""
    svc = objects.service(ctx, service)
    node_port = (svc["spec"].get("ports") or [{}])[0].get("nodePort")
    if not node_port:
        raise TargetUnavailable(f"Service {service} has no node port", final=True,
                                cause="readers reach the blog on its node port: keep the Service a NodePort")
    pods = _ready_pods(ctx, deployment)
    node, found = sorted(objects.nodes(ctx).items())[0]
    url = f"http://{objects.internal_ip(found)}:{node_port}/"
    answers = [_get(ctx, node, url) for _ in range(REQUESTS)]
    good = [a for a in answers if a.status == 200 and contains in a.body and header.lower() in a.headers]
    if len(good) == len(answers):
        return Outcome.passed(f"{len(answers)} requests to node port {node_port} got the blog through nginx "
                              f"({header}: {', '.join(sorted({a.headers[header.lower()] for a in good}))})")
    bad = next(a for a in answers if a not in good)
    expected = f"HTTP 200 with {contains!r} and a {header} header"
    summary = f"{len(answers) - len(good)} of {len(answers)} requests to node port {node_port} did not get the blog"
    if bad.status == 200 and contains in bad.body:
        return Outcome.failed(
            f"node port {node_port} is answered by the blog itself, not through nginx: the Service bypasses the proxy",
            expected=expected, observed=f"{bad.shown()}, no {header} header", final=True,
            cause=f"nginx in front of the blog is the app's design (it marks every answer with {header}), and the "
                  "blog listens on 127.0.0.1 so that only nginx reaches it: leave the blog so, and send the Service "
                  "to nginx")
    if bad.status is not None:
        return Outcome.failed(summary, expected=expected, observed=bad.shown(), final=False,
                              cause=f"HTTP {bad.status} is not the blog's page: is the Pods' nginx starting?")
    cause, final = _refused_why(ctx, svc, pods, proxy)
    return Outcome.failed(summary, expected=expected, observed=bad.shown(), cause=cause, final=final)


@register(needs=("node",))
def app_only_inside_pod(ctx: CheckContext, deployment: str, port: int) -> Outcome:
    """No Pod's blog answers on <Pod IP>:<port> from outside the Pod (from the node)."""
    pods = _ready_pods(ctx, deployment)
    open_to_all = []
    for pod in pods:
        ip = pod["status"]["podIP"]
        if _get(ctx, pod["spec"]["nodeName"], f"http://{ip}:{port}/").status is not None:
            open_to_all.append(f"{objects.name_of(pod)} ({ip}:{port})")
    if not open_to_all:
        return Outcome.passed(f"the blog answers nobody outside its Pod on port {port} ({len(pods)} Pods asked)")
    return Outcome.failed(
        f"the blog answers on port {port} from outside its Pod: {', '.join(open_to_all)}",
        expected=f"no answer on <Pod IP>:{port} from outside the Pod", observed="HTTP answers", final=True,
        cause="the blog listens on 127.0.0.1:2368 so that only nginx, beside it in the Pod, reaches it (and every "
              "request passes the proxy): keep `listen 127.0.0.1:2368` in ConfigMap blog-site, and send the "
              "Service to nginx")
