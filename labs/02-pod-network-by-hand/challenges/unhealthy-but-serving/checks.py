"""Checks of challenge 02-unhealthy-but-serving: what the health sidecar says, and what it watches."""

from __future__ import annotations

from urllib.parse import urlsplit

from labcheck.lab import CheckContext, Outcome, objects, register

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@register
def sidecar_says_healthy(ctx: CheckContext, deployment: str, sidecar: str) -> Outcome:
    """The last line the sidecar of every running Pod of the Deployment logged says healthy."""
    unhealthy = []
    for pod in objects.running_pods(ctx, deployment):
        name = objects.name_of(pod)
        lines = [line for line in ctx.logs(name, sidecar, tail_lines=5, what="its latest verdicts").splitlines()
                 if line.strip()]
        if not lines or not lines[-1].rstrip().endswith(" healthy"):
            unhealthy.append(f"{name}: {lines[-1].strip() if lines else '(nothing logged yet)'}")
    if not unhealthy:
        return Outcome.passed(f"the {sidecar} sidecar of every {deployment} Pod last logged healthy")
    return Outcome.failed(f"the {sidecar} sidecar does not say healthy in {len(unhealthy)} Pod(s)",
                          expected="its latest line ends in 'healthy'", observed="; ".join(unhealthy),
                          cause="the sidecar asks the nginx beside it over localhost, while clients reach the "
                                "same nginx through the Pod's eth0: what differs between the two paths, inside "
                                "the Pod's network namespace?")


@register
def sidecar_watches_own_nginx(ctx: CheckContext, deployment: str, sidecar: str, env: str) -> Outcome:
    """The sidecar's target ($env) is a loopback address: the nginx of its own Pod."""
    elsewhere = []
    for pod in objects.running_pods(ctx, deployment):
        container = next((c for c in objects.containers_of(pod) if c.get("name") == sidecar), None)
        if container is None:
            elsewhere.append(f"{objects.name_of(pod)} has no {sidecar} container")
            continue
        target = next((e.get("value") for e in container.get("env") or [] if e.get("name") == env), None) or ""
        host = urlsplit(target).hostname or "(none)"
        if host not in LOOPBACK_HOSTS:
            elsewhere.append(f"{objects.name_of(pod)}'s {sidecar} asks {target or '(nothing)'} (host {host})")
    if not elsewhere:
        return Outcome.passed(f"every {sidecar} sidecar asks its own Pod's nginx over localhost")
    return Outcome.failed(f"the {sidecar} sidecar does not watch its own Pod's nginx: {'; '.join(elsewhere)}",
                          expected=f"${env} on localhost (127.0.0.1 or ::1)", observed="; ".join(elsewhere), final=True,
                          cause=f"the {sidecar} sidecar is there to watch the nginx beside it, over localhost; through "
                                "the Service (or the Pod's IP) it watches another path, and a Pod whose loopback is "
                                "broken goes unnoticed")
