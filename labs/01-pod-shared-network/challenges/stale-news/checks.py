"""Checks of challenge 01-stale-news: what the client reads, and whether the writer's files reach nginx."""

from __future__ import annotations

import re

from datetime import datetime

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, interpret, objects, register

NEWS = re.compile(r"news #(\d+) written by writer at (\d+)")
#: How long every Pod of a rolled-out Deployment has been ready before a stale page is final.
SETTLED_SECONDS = 8


def _settled(ctx: CheckContext, deployment: str, now: int) -> bool:
    """The Deployment is rolled out and its Pods have been ready a while: waiting changes nothing."""
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        return False
    spec, status = found.get("spec", {}), found.get("status", {})
    if status.get("observedGeneration") != found["metadata"].get("generation") or any(
            status.get(key) != spec.get("replicas", 1) for key in ("updatedReplicas", "readyReplicas", "replicas")):
        return False
    for pod in objects.deployment_pods(ctx, found):
        ready = next((c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        if ready.get("status") != "True" or not ready.get("lastTransitionTime"):
            return False
        since = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00")).timestamp()
        if now - since < SETTLED_SECONDS:
            return False
    return True


@register
def page_is_fresh_news(ctx: CheckContext, client: str, url: str, within: int, deployment: str) -> Outcome:
    """The client's GET of `url` returns news stamped less than `within` seconds ago (final when
    the Deployment has settled: its page will not change by waiting)."""
    objects.pod(ctx, client, running=True)
    result = ctx.exec(client, None, ["sh", "-c", f"curl -sS -m 4 {url}; echo; echo \"CLIENT-CLOCK $(date +%s)\""],
                      timeout=8)
    clock = re.search(r"CLIENT-CLOCK (\d+)", result.stdout)
    page = result.stdout.split("CLIENT-CLOCK")[0].strip()
    if result.returncode != 0 or not clock:
        return Outcome.failed(f"the client got no page from {url}", expected="the news page",
                              observed=(result.stderr.strip() or result.stdout.strip())[:200],
                              cause=interpret(result) or "is the news Pod running and ready?")
    found = NEWS.search(page)
    settled = _settled(ctx, deployment, int(clock.group(1)))
    if not found:
        return Outcome.failed(f"the page at {url} is not the writer's news: {page[:80]!r}",
                              expected="'news #N written by writer at <time>', rewritten every two seconds",
                              observed=page[:200], final=settled,
                              cause="nginx serves its directory as it is: the writer's news never arrive in it")
    age = int(clock.group(1)) - int(found.group(2))
    if age > within:
        return Outcome.failed(f"the page at {url} is news #{found.group(1)}, written {age} s ago: it no longer changes",
                              expected=f"news written in the last {within} s", observed=page[:200], final=settled,
                              cause="nginx serves its directory as it is: the writer's news no longer arrive in it")
    return Outcome.passed(f"the client read news #{found.group(1)}, written {max(age, 0)} s ago")


def _volume_at(container: dict, path: str) -> tuple[str | None, str | None]:
    """The volume a path of the container lies on (its deepest mount above the path), and that mount."""
    best = None
    for mount in container.get("volumeMounts") or []:
        where = mount.get("mountPath", "").rstrip("/") or "/"
        if (path == where or path.startswith(where.rstrip("/") + "/")) and (
                best is None or len(where) > len(best.get("mountPath", ""))):
            best = mount
    return (best.get("name"), best.get("mountPath")) if best else (None, None)


@register
def writer_feeds_nginx(ctx: CheckContext, deployment: str, writer: str, server: str, served: str,
                       out_env: str) -> Outcome:
    """In every Pod of the Deployment, the directory the writer writes to ($out_env) and the one
    nginx serves (`served`) lie on the same volume."""
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"Deployment {deployment} is the app: keep it")
    pods = objects.deployment_pods(ctx, found)
    if not pods:
        raise TargetUnavailable(f"Deployment {deployment} has no Pod yet")
    for pod in pods:
        name = objects.name_of(pod)
        containers = {c.get("name"): c for c in objects.containers_of(pod)}
        if writer not in containers or server not in containers:
            missing = " and ".join(n for n in (writer, server) if n not in containers)
            return Outcome.failed(f"Pod {name} has no container {missing}", final=True,
                                  expected=f"containers {server} and {writer} in one Pod",
                                  observed=", ".join(containers),
                                  cause=f"the news are the {writer} container's work, served by {server}: "
                                        "both belong in the Pod")
        env = {e.get("name"): e.get("value") for e in containers[writer].get("env") or []}
        out_dir = (env.get(out_env) or "").rstrip("/") or "/"
        written_on, written_at = _volume_at(containers[writer], out_dir)
        served_on, _ = _volume_at(containers[server], served)
        if served_on is None:
            return Outcome.failed(f"in Pod {name}, {server} serves {served} from its own filesystem",
                                  final=True, expected=f"{served} on a volume the {writer} writes to",
                                  observed=f"no volume mounted at {served} in {server}",
                                  cause=f"{server} must serve the shared volume, as the Deployment first had it")
        if written_on != served_on:
            where = (f"volume {written_on} (mounted at {written_at})" if written_on
                     else "no volume at all: its own filesystem")
            return Outcome.failed(
                f"in Pod {name}, {writer} writes to {out_dir} on {where}: not the volume nginx serves "
                f"({served} is volume {served_on})",
                final=True, expected=f"{writer}'s ${out_env} ({out_dir}) on volume {served_on}",
                observed=f"{out_dir} is on {where}",
                cause=f"containers share files only through a volume both mount: mount volume {served_on} "
                      f"in {writer} where it writes")
    return Outcome.passed(f"{writer} writes to ${out_env} on volume {served_on}, which {server} serves at {served}")
