"""Checks of challenge 04-dark-after-deploy: the readiness probe is the app's own say in whether it
gets traffic, so it must ask where the app answers that question."""

from __future__ import annotations

from labcheck.lab import (CheckContext, Outcome, TargetUnavailable, http_answer, http_command, interpret, objects,
                          register)

REQUEST_SECONDS = 4

WHY_HEALTH = ("{path} is where the catalog says whether it wants traffic (ConfigMap catalog-site): 200 while it "
              "serves, 503 once a Pod is draining (`touch /tmp/draining`)")


@register
def answered_by_app(ctx: CheckContext, pod: str, service: str, contains: str) -> Outcome:
    """A GET of http://<service>/ from the client Pod gets the app's own page. When it does not and the
    Service has no ready endpoint that waiting would bring, that is said at once (final)."""
    url = f"http://{service}/"
    result = ctx.exec(pod, None, http_command(url, REQUEST_SECONDS), timeout=REQUEST_SECONDS + 2)
    answer = http_answer(result)
    if answer.status == 200 and contains in answer.body:
        return Outcome.passed(f"GET {url} from {pod} was answered: {answer.body.strip()[:80]}")
    seen = (f"HTTP {answer.status}, not the app's page" if answer.status else interpret(result) or "no answer")
    svc = objects.service(ctx, service)
    ready = [e for e in objects.endpoints(ctx, service)[0] if e.ready]
    if ready:
        return Outcome.failed(f"GET {url} from {pod} was not answered by the app", observed=seen,
                              expected=f"HTTP 200 with {contains!r}",
                              cause="the Service has ready endpoints: kube-proxy may still be catching up, check again")
    pods = objects.selected_pods(ctx, svc)
    _cause, stuck = objects.why_not_ready(ctx, pods) if pods else ("", False)  # none yet: a rollout, say
    return Outcome.failed(f"GET {url} from {pod} was not answered by the app: Service {service} has no ready "
                          "endpoint", expected=f"HTTP 200 with {contains!r}", observed=seen, final=stuck,
                          cause="a ClusterIP leads only to the ready endpoints of its Service, and there is none")


def _container(ctx: CheckContext, deployment: str, container: str) -> dict:
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"Deployment {deployment} is the app: keep it, and fix it in place")
    template = found.get("spec", {}).get("template", {})
    chosen = next((c for c in objects.containers_of(template) if c.get("name") == container), None)
    if chosen is None:
        raise TargetUnavailable(f"Deployment {deployment} has no container {container}", final=True,
                                cause=f"the catalog runs in container {container}: keep it")
    return chosen


def _port_numbers(container: dict, port) -> set[int]:
    if isinstance(port, int):
        return {port}
    return {p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port}


@register
def readiness_asks_health(ctx: CheckContext, deployment: str, container: str, path: str, port: int) -> Outcome:
    """The container's readiness probe is an HTTP GET of the app's health endpoint on the app's port."""
    chosen = _container(ctx, deployment, container)
    probe = chosen.get("readinessProbe")
    why = WHY_HEALTH.format(path=path)
    expected = f"readinessProbe httpGet {path} on port {port}"
    if not probe:
        return Outcome.failed(
            f"container {container} of Deployment {deployment} has no readiness probe",
            expected=expected, observed="no readinessProbe", final=True,
            cause=f"without a readiness probe a Pod counts as ready as soon as it runs, so a Pod that is starting "
                  f"or draining still gets requests. {why}: put the probe back on {path}")
    get = probe.get("httpGet")
    if not get:
        how = next((k for k in ("tcpSocket", "exec", "grpc") if k in probe), "not an HTTP GET")
        return Outcome.failed(f"the readiness probe of container {container} is {how}, not the app's health "
                              f"endpoint {path}", expected=expected, observed=f"readinessProbe {how}", final=True,
                              cause=f"{why}; a {how} probe succeeds while the Pod is draining")
    asked, target = get.get("path") or "/", get.get("port")
    if asked != path:
        return Outcome.failed(
            f"the readiness probe of container {container} asks {asked}, not the app's health endpoint {path}",
            expected=expected, observed=f"readinessProbe httpGet {asked} on port {target}", final=True,
            cause=f"{why}. Another path either is a page the app does not have (the probe never succeeds, so no "
                  f"Pod is ever ready and the Service has no endpoint) or answers 200 even while the Pod drains")
    if port not in _port_numbers(chosen, target):
        return Outcome.failed(f"the readiness probe of container {container} asks port {target!r}, not {port}",
                              expected=expected, observed=f"readinessProbe httpGet {asked} on port {target}",
                              cause=f"the catalog listens on port {port} (named http)", final=True)
    return Outcome.passed(f"the readiness probe asks GET {path} on port {target}: the app decides when it gets traffic")


@register
def unready_get_no_traffic(ctx: CheckContext, service: str) -> Outcome:
    """The Service sends only to ready Pods: publishNotReadyAddresses is not set."""
    svc = objects.service(ctx, service)
    if svc.get("spec", {}).get("publishNotReadyAddresses"):
        return Outcome.failed(
            f"Service {service} publishes Pods that are not ready (publishNotReadyAddresses: true)",
            expected="publishNotReadyAddresses unset (false)", observed="publishNotReadyAddresses: true", final=True,
            cause="its EndpointSlices then list every Pod as ready, so a Pod that is starting or draining gets "
                  "requests; that setting is for peers that must find each other before they are ready (a "
                  "StatefulSet's headless Service), not for a Service clients use. Remove it and make the Pods "
                  "ready instead")
    return Outcome.passed(f"Service {service} sends only to ready Pods")
