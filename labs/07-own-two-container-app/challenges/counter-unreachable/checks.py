"""Checks of challenge 07-counter-unreachable: the visit counter through its node port, and the port
the app listens on and declares. Judged by what the app does: its answers, and the ports it listens
on as its Pod's network namespace lists them."""

from __future__ import annotations

import re

from labcheck.lab import (CheckContext, Outcome, TargetUnavailable, commands, http_answer, http_command, interpret,
                          objects, register)

_ANSWER = re.compile(r"visit number (\d+)")


def _listening(ctx: CheckContext, pod: str, web: str) -> set[int]:
    ports = commands.listening_ports(ctx.exec(pod, web, commands.LISTENING_COMMAND))
    if ports is None:
        raise TargetUnavailable(f"cannot list the ports Pod {pod} listens on")
    return ports


@register(needs=("node",))
def counter_answers(ctx: CheckContext, deployment: str, service: str, web: str) -> Outcome:
    """A request from the node to its own address and the Service's node port gets a visit number."""
    pods = objects.settled_pods(ctx, deployment)
    svc = objects.service(ctx, service)
    entry = objects.service_ports(svc)[0]
    if not entry.get("nodePort"):
        return Outcome.failed(f"Service {service} has no node port", final=True,
                              cause=f"Service {service} must stay a NodePort Service: visitors reach it there")
    node, found = sorted(objects.nodes(ctx).items())[0]
    url = f"http://{objects.internal_ip(found)}:{entry['nodePort']}/"
    result = ctx.exec_on_node(node, http_command(url, 4), timeout=8)
    answer = http_answer(result)
    visit = _ANSWER.search(answer.body) if answer.status == 200 else None
    if visit:
        return Outcome.passed(f"{url} answered visit {visit[1]}")
    # Waiting cannot help when nothing in the Pods listens where the Service sends (kube-proxy may
    # otherwise still be catching up with a new Pod or a changed Service).
    targets = objects.target_ports(entry, pods)
    final = all(not targets & _listening(ctx, objects.name_of(p), web) for p in pods)
    return Outcome.failed(f"{url} did not answer with a visit number", expected="HTTP 200, 'visit number N'",
                          observed=f"HTTP {answer.status}: {answer.body.strip()[:160]}" if answer.status
                          else f"no answer: {interpret(result) or result.stderr.strip()[:160]}", final=final,
                          cause="the counter's Pod is ready, yet what the node port sends it gets no answer: "
                                "follow the Service to the Pod, port by port")


@register
def app_port_kept(ctx: CheckContext, deployment: str, web: str, name: str, port: int) -> Outcome:
    """web-app still listens on its port, and its Pod declares that port under its name."""
    for pod in objects.settled_pods(ctx, deployment):
        listening = _listening(ctx, objects.name_of(pod), web)
        if port not in listening:
            return Outcome.failed(
                f"web-app no longer listens on port {port} (it listens on {', '.join(map(str, sorted(listening)))})",
                expected=f"web-app listening on {port}, the port its image exposes and everything else uses",
                final=True, cause="the app was moved to fit the mistake instead of the mistake being undone: "
                                  f"whatever else reaches it on {port} (its readiness probe, other clients) is lost")
        declared = {p.get("name"): p.get("containerPort") for c in objects.containers_of(pod) if c.get("name") == web
                    for p in c.get("ports") or []}
        if declared.get(name) != port:
            return Outcome.failed(
                f"the Pod declares port {name} as {declared.get(name)}, where web-app does not listen",
                expected=f"containerPort {port} named {name}", observed=f"ports of {web}: {declared}", final=True,
                cause=f"whatever finds web-app by the port's name ({name}: a Service's targetPort, a probe, "
                      "a NetworkPolicy) is sent to a port nothing listens on: declare the port the app listens on")
    return Outcome.passed(f"web-app listens on {port} and its Pod declares it as {name}")
