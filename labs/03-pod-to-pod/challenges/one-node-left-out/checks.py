"""Checks of challenge 03-one-node-left-out: the server by its Pod IP from a client on every node,
what address the server saw, and the nodes' FORWARD chains."""

from __future__ import annotations

import re

from labcheck.lab import (CheckContext, ClusterUnavailable, Outcome, TargetUnavailable, http_answer, http_command,
                          interpret, objects, register)

REQUEST_SECONDS = 4
SEEN = re.compile(r"served by \S+ to (\S+)")


def _ask_server(ctx: CheckContext, server: str, clients: str) -> list[tuple[dict, str, str | None, str]]:
    """Each client Pod asks the server's Pod IP: (client, its node, the address the server saw
    or None, what went wrong)."""
    found = objects.pod(ctx, server, running=True)
    address = found.get("status", {}).get("podIP")
    if not address:
        raise TargetUnavailable(f"Pod {server} has no IP yet")
    pods = [p for p in ctx.list("Pod", label_selector=clients) if objects.is_running(p)
            and not p["metadata"].get("deletionTimestamp")]
    if not pods:
        raise TargetUnavailable(f"no running client Pod ({clients})")
    results = ctx.exec_many([(objects.name_of(p), None, http_command(f"http://{address}/", REQUEST_SECONDS))
                             for p in pods], timeout=REQUEST_SECONDS + 3)
    asked = []
    for pod, result in zip(pods, results):
        answer = http_answer(result)
        seen = SEEN.search(answer.body) if answer.status == 200 else None
        problem = "" if seen else (f"HTTP {answer.status}" if answer.status else interpret(result) or "no answer")
        asked.append((pod, objects.node_of(pod), seen.group(1) if seen else None, problem))
    return sorted(asked, key=lambda item: item[1])


@register
def every_node_reaches_server(ctx: CheckContext, server: str, clients: str) -> Outcome:
    """A client on every node gets the server's answer from its Pod IP."""
    asked = _ask_server(ctx, server, clients)
    silent = [f"from {node}: {problem}" for _pod, node, seen, problem in asked if seen is None]
    if not silent:
        return Outcome.passed(f"Pod {server} answered the clients on all {len(asked)} nodes by its Pod IP")
    if len(silent) < len(asked):
        cause = (f"Pod {server} answers the clients on the other nodes, so it is up and this is its IP: something "
                 "on the way from that node's Pods to it stops the packets (the routes between the nodes, or a "
                 "firewall on either end)")
    else:
        cause = f"no client reaches Pod {server}: is it running and ready?"
    return Outcome.failed(f"Pod {server}'s IP does not answer the client on {len(silent)} of {len(asked)} nodes",
                          expected="an answer from every node's client", observed="; ".join(silent), cause=cause)


@register
def server_sees_pod_ips(ctx: CheckContext, server: str, clients: str) -> Outcome:
    """The server saw each client's own Pod IP: no NAT between Pods."""
    asked = _ask_server(ctx, server, clients)
    masked = []
    for pod, node, seen, _problem in asked:
        if seen is not None and not objects.same_value(seen, pod.get("status", {}).get("podIP") or ""):
            what = objects.identify(ctx, seen)
            masked.append(f"the client on {node} ({pod['status'].get('podIP')}) was seen as {seen}"
                          + (f", {what}" if what else ""))
    unanswered = [node for _pod, node, seen, _problem in asked if seen is None]
    if unanswered:
        raise TargetUnavailable(f"the clients on {', '.join(unanswered)} got no answer to judge by")
    if not masked:
        return Outcome.passed(f"Pod {server} saw every client's own Pod IP")
    return Outcome.failed(f"Pod {server} did not see the client's own Pod IP: {'; '.join(masked)}", final=True,
                          expected="each client's own Pod IP, as the server sees it", observed="; ".join(masked),
                          cause="Pods reach each other without NAT: a source rewritten on the way (MASQUERADE) hides "
                                "who asks from the server and routes around the fault instead of removing it")


@register(needs=("node",))
def node_forward_kept(ctx: CheckContext, guard: str) -> Outcome:
    """Every node's FORWARD chain still holds every rule it had when the challenge started (the copy
    setup left in /run), and the node's own guard."""
    copy = f"/run/netlabs-forward-{ctx.namespace}.rules"
    mark = f"{guard} {ctx.namespace}"
    lost = []
    for name in sorted(objects.nodes(ctx)):
        result = ctx.exec_on_node(name, ["sh", "-c", f"cat {copy} && echo '=== now' && iptables -S FORWARD"])
        if result.returncode != 0 or "=== now" not in result.stdout:
            raise ClusterUnavailable(f"no copy of node {name}'s FORWARD chain ({copy}): the challenge was not "
                                     "set up here; `labcheck challenge reset`, then start it again")
        before, now = result.stdout.split("=== now", 1)
        current = {line.strip() for line in now.splitlines()}
        gone = [line.strip() for line in before.splitlines() if line.strip() and line.strip() not in current]
        if not any(mark in line for line in current):
            gone.append(f"the node's own {guard} rule")
        if gone:
            shown = [re.search(r'--comment "([^"]*)"', line) for line in gone]
            lost.append(f"{name}: " + ", ".join(m.group(1) if m else line for m, line in zip(shown, gone)))
    if not lost:
        return Outcome.passed("every node's FORWARD chain still has its rules (kube-router's, kube-proxy's, the "
                              "node's own)")
    return Outcome.failed(f"FORWARD lost rule(s) it had when the challenge started, on {len(lost)} node(s)", final=True,
                          expected="every rule of each node's FORWARD chain but the one at fault",
                          observed="; ".join(lost),
                          cause="remove only the rule that causes the trouble: flushing FORWARD takes kube-router's, "
                                "kube-proxy's and the node's own rules with it; kube-router puts its own back, "
                                "kube-proxy only at its next full resync, and the node's own guard nobody")
