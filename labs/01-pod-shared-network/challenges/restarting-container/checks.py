"""Checks of challenge 01-restarting-container: the shop page and its metrics, as the client gets them."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, http_answer, http_command, interpret, objects, register

#: A container restarted this often is crash-looping: waiting will not make it stay up.
CRASH_LOOPING = 2


def _restarting(pods: list[dict]) -> tuple[str, bool]:
    """Which container of the Pods keeps restarting, and why it last stopped."""
    for pod in pods:
        for status in pod.get("status", {}).get("containerStatuses") or []:
            count = status.get("restartCount", 0)
            if not count:
                continue
            ended = (status.get("lastState") or {}).get("terminated") or {}
            why = f"exit code {ended['exitCode']}" if "exitCode" in ended else "stopped"
            return (f"container {status.get('name')} of Pod {objects.name_of(pod)} has restarted {count} time(s) "
                    f"(last: {why}); `kubectl logs {objects.name_of(pod)} -c {status.get('name')} --previous` "
                    "says why", count >= CRASH_LOOPING)
    return "", False


@register
def shop_and_metrics_answer(ctx: CheckContext, client: str, deployment: str, exporter: str, page_url: str,
                            page_text: str, metrics_url: str, metrics_text: str) -> Outcome:
    """From the client, the shop page and the exporter's metrics both answer, through the Service."""
    objects.pod(ctx, client, running=True)
    found = ctx.get("Deployment", deployment, "apps/v1")
    if found is None:
        raise TargetUnavailable(f"Deployment {deployment} does not exist", final=True,
                                cause=f"Deployment {deployment} is the shop: keep it")
    page, metrics = ctx.exec_many([(client, None, http_command(page_url, 4)),
                                   (client, None, http_command(metrics_url, 4))], timeout=8)
    answers = {page_url: (http_answer(page), page, page_text), metrics_url: (http_answer(metrics), metrics, metrics_text)}
    missing = {url: (f"HTTP {answer.status}" if answer.status else interpret(result) or "no answer")
               for url, (answer, result, text) in answers.items() if answer.status != 200 or text not in answer.body}
    if not missing:
        return Outcome.passed(f"the client got the shop page from {page_url} and nginx's status from {metrics_url}")
    pods = objects.deployment_pods(ctx, found)
    template = found.get("spec", {}).get("template", {}).get("spec", {})
    summary = "the client does not get " + " nor ".join(missing)
    observed = "; ".join(f"{url}: {what}" for url, what in missing.items())
    if exporter not in [c.get("name") for c in template.get("containers") or []]:
        return Outcome.failed(f"{summary}: the shop Pods have no {exporter} container, so nothing serves the metrics",
                              expected=f"{page_text!r} and {metrics_text!r}", observed=observed, final=True,
                              cause=f"the {exporter} reads nginx's status over localhost, which only a container "
                                    "of the same Pod can: it belongs in the Pod, beside nginx")
    restarting, looping = _restarting(pods)
    return Outcome.failed(summary, expected=f"{page_text!r} from {page_url}, {metrics_text!r} from {metrics_url}",
                          observed=observed, final=looping,
                          cause=restarting or "are the shop Pod's containers both running and ready?")
