"""Checks of challenge 06-bad-gateway: the blog answers through nginx (which marks every answer with a
header), on the node port and in every Pod; when it does not, whether the running nginx still uses an
older nginx.conf than ConfigMap proxy-config (a subPath mount is never refreshed)."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, objects, register

REQUESTS = 4  # to the node port: kube-proxy spreads them over the Pods


def _get(ctx: CheckContext, node: str, url: str) -> commands.HttpResponse:
    return commands.http_response(ctx.exec_on_node(node, commands.headed_http_command(url, 3), timeout=8))


def _first_node(ctx: CheckContext) -> tuple[str, str]:
    name, node = sorted(objects.nodes(ctx).items())[0]
    return name, objects.internal_ip(node) or ""


def _past_the_proxy(ctx: CheckContext, svc: dict, ready: list[dict], proxy: str) -> set[int]:
    """The Service's target ports when none of them is the proxy's (it sends past nginx), else nothing."""
    targets = set().union(*(objects.target_ports(port, ready) for port in objects.service_ports(svc))) if ready else set()
    proxy_ports = {p.get("containerPort") for pod in ready for c in objects.containers_of(pod) if c.get("name") == proxy
                   for p in c.get("ports") or []}
    return targets if targets and proxy_ports and not targets & proxy_ports else set()


def _why_not(ctx: CheckContext, answer: commands.HttpResponse, deployment: str, proxy: str,
             configmap: str, svc: dict | None = None) -> tuple[str, bool]:
    """(likely cause, final) for an answer that is not the blog's page through the proxy."""
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        return f"Deployment {deployment} is the app: keep it", True
    ready, waiting = objects.ready_replicas(ctx, found)
    past = _past_the_proxy(ctx, svc, ready, proxy) if svc is not None and answer.status in (502, 504) else set()
    if past:  # nginx answered, though the Service now sends past it: kube-proxy has not caught up yet
        return (f"nginx answered {answer.status}, though Service {objects.name_of(svc)} now sends to port "
                f"{', '.join(map(str, sorted(past)))}, past nginx: kube-proxy is still catching up, check again"), False
    status = found.get("status", {})
    rolling = bool(waiting) or status.get("updatedReplicas", 0) < found["spec"].get("replicas", 1) or \
        status.get("observedGeneration", 0) < found["metadata"].get("generation", 0)
    config = ((ctx.get("ConfigMap", configmap) or {}).get("data") or {}).get("nginx.conf")
    if config is not None and ready:
        files = ctx.exec_many([(objects.name_of(p), proxy, ["cat", "/etc/nginx/nginx.conf"]) for p in ready])
        stale = [objects.name_of(p) for p, f in zip(ready, files) if f.returncode == 0 and f.stdout != config]
        if stale:
            return (f"the nginx.conf inside {', '.join(stale)} is not what ConfigMap {configmap} says now: a file "
                    "mounted with subPath is copied when the container starts and never updated, and nginx reads "
                    f"it only at start; roll the Deployment (`kubectl rollout restart deployment {deployment}`)",
                    not rolling)
    if answer.status in (502, 504):
        return (f"nginx answered {answer.status}: it got no answer from where it sends requests "
                "(the app behind it, in the same Pod)", not rolling)
    if answer.status is None:  # a new Service or Pod kube-proxy has not caught up with, say
        return (answer.failure or "nothing answered") + ": check again in a moment", False
    return f"HTTP {answer.status} is not the blog's page", not rolling


@register(needs=("node",))
def node_port_through_proxy(ctx: CheckContext, service: str, deployment: str, proxy: str, configmap: str,
                            contains: str, header: str) -> Outcome:
    """Requests to the Service's node port get the blog's page with the proxy's header."""
    svc = objects.service(ctx, service)
    node_port = (svc["spec"].get("ports") or [{}])[0].get("nodePort")
    if not node_port:
        raise TargetUnavailable(f"Service {service} has no node port", final=True,
                                cause="readers reach the blog on its node port: keep the Service a NodePort")
    node, address = _first_node(ctx)
    url = f"http://{address}:{node_port}/"
    answers = [_get(ctx, node, url) for _ in range(REQUESTS)]
    good = [a for a in answers if a.status == 200 and contains in a.body and header.lower() in a.headers]
    if len(good) == len(answers):
        return Outcome.passed(f"{len(answers)} requests to node port {node_port} got the blog through nginx "
                              f"({header}: {', '.join(sorted({a.headers[header.lower()] for a in good}))})")
    bad = next(a for a in answers if a not in good)
    expected = f"HTTP 200 with {contains!r} and a {header} header"
    if bad.status == 200 and contains in bad.body:
        return Outcome.failed(
            f"node port {node_port} is answered by the blog itself, not through nginx: the Service bypasses the proxy",
            expected=expected, observed=f"{bad.shown()}, no {header} header", final=True,
            cause=f"nginx in front of the blog is the app's design (it marks every answer with {header}); the "
                  "Service must send to nginx's port 80, and nginx to the blog")
    cause, final = _why_not(ctx, bad, deployment, proxy, configmap, svc)
    return Outcome.failed(f"{len(answers) - len(good)} of {len(answers)} requests to node port {node_port} did not "
                          "get the blog's page", expected=expected, observed=bad.shown(), cause=cause, final=final)


@register(needs=("node",))
def every_pod_proxies(ctx: CheckContext, deployment: str, proxy: str, configmap: str, contains: str,
                      header: str) -> Outcome:
    """Port 80 of each ready Pod (its nginx) answers with the blog's page and the proxy's header."""
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"Deployment {deployment} is the app: keep it, and fix it in place")
    ready, waiting = objects.ready_replicas(ctx, found)
    if waiting or not ready:
        cause, final = objects.why_not_ready(ctx, waiting)
        raise TargetUnavailable(f"{len(ready)} of {len(ready) + len(waiting)} Pods of {deployment} are ready",
                                cause=cause or "the Pods are still starting: check again", final=final)
    served, failing = [], None
    for pod in ready:
        name = objects.name_of(pod)
        answer = _get(ctx, pod["spec"]["nodeName"], f"http://{pod['status']['podIP']}:80/")
        if answer.status == 200 and contains in answer.body and header.lower() in answer.headers:
            served.append(name)
        elif failing is None:
            failing = (name, answer)
    if failing is None:
        return Outcome.passed(f"all {len(served)} Pods answer with the blog through their own nginx")
    name, answer = failing
    cause, final = _why_not(ctx, answer, deployment, proxy, configmap)
    return Outcome.failed(f"Pod {name}'s nginx (port 80) does not answer with the blog's page",
                          expected=f"HTTP 200 with {contains!r} and a {header} header", observed=answer.shown(),
                          cause=cause, final=final)
