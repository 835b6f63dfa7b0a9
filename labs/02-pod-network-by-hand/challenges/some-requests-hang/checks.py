"""Checks of challenge 02-some-requests-hang: every Pod of the app, reached on its own IP."""

from __future__ import annotations

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, http_answer, http_command, interpret, objects, register

REQUEST_SECONDS = 4


@register
def every_pod_answers(ctx: CheckContext, client: str, service: str, contains: str) -> Outcome:
    """From the client, every other Pod of the namespace answers on its own IP with `contains`:
    a Pod moved out of the Service's sight is still a Pod that must work."""
    objects.pod(ctx, client, running=True)
    selector = objects.service(ctx, service).get("spec", {}).get("selector") or {}
    pods = [p for p in objects.live_pods(ctx) if objects.name_of(p) != client]
    if not pods:
        raise TargetUnavailable(f"no Pod besides {client} runs in namespace {ctx.namespace}")
    waiting = [objects.name_of(p) for p in pods if not p.get("status", {}).get("podIP")]
    if waiting:
        raise TargetUnavailable(f"Pod {', '.join(waiting)} has no IP yet")
    results = ctx.exec_many([(client, None, http_command(f"http://{p['status']['podIP']}/", REQUEST_SECONDS))
                             for p in pods], timeout=REQUEST_SECONDS + 3)
    silent, aside = [], []
    for pod, result in zip(pods, results):
        answer = http_answer(result)
        if answer.status == 200 and contains in answer.body:
            continue
        name, ip = objects.name_of(pod), pod["status"]["podIP"]
        silent.append(f"{name} ({ip}): {f'HTTP {answer.status}' if answer.status else interpret(result) or 'no answer'}")
        if not objects.selector_matches(selector, objects.labels_of(pod)):
            aside.append(name)
    if not silent:
        return Outcome.passed(f"all {len(pods)} Pods answered the client on their own IPs")
    if aside:
        cause = (f"Service {service} no longer selects {', '.join(aside)}, but a Pod out of sight still has a broken "
                 "network: moving a Pod aside leaves it broken; repair its link to the node, or replace it")
    else:
        cause = ("these Pods run and are Ready, yet nothing reaches their own IP: Kubernetes sees no fault, so "
                 "follow the packets from the node into the Pod")
    return Outcome.failed(f"{len(silent)} of {len(pods)} Pods do not answer the client on their own IP",
                          expected=f"every Pod answers http://<its IP>/ with {contains!r}",
                          observed="; ".join(silent), cause=cause, final=bool(aside))
