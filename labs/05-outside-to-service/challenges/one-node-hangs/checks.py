"""Checks of challenge 05-one-node-hangs: the node port from outside, and the nodes' own rules."""

from __future__ import annotations

from labcheck.lab import CheckContext, ClusterUnavailable, Outcome, http_answer, http_command, interpret, objects, register

REQUEST_SECONDS = 4


@register(needs=("host",))
def every_node_answers(ctx: CheckContext, service: str, contains: str) -> Outcome:
    """A GET from this machine to each node's address and the Service's node port reaches a Pod."""
    svc = objects.service(ctx, service)
    port = objects.service_ports(svc)[0].get("nodePort")
    if not port:
        return Outcome.failed(f"Service {service} has no node port", cause="it must be a NodePort Service", final=True)
    answered, silent = [], []
    for name, node in sorted(objects.nodes(ctx).items()):
        address = objects.internal_ip(node)
        if not address:
            raise ClusterUnavailable(f"node {name} has no InternalIP")
        result = ctx.exec_on_host(http_command(f"http://{address}:{port}/", REQUEST_SECONDS + 1),
                                  timeout=REQUEST_SECONDS + 2)
        answer = http_answer(result)
        if answer.status == 200 and contains in answer.body:
            answered.append(f"{name} ({address})")
        else:
            silent.append(f"{name} ({address}): {f'HTTP {answer.status}' if answer.status else interpret(result) or 'no answer'}")
    if not silent:
        return Outcome.passed(f"all {len(answered)} nodes answered on node port {port}")
    if answered:
        cause = (f"the Service and its endpoints are the same for every node, yet {len(silent)} node(s) do not answer: "
                 "something on those nodes themselves stops the traffic (compare their iptables rules with a node "
                 "that answers)")
    else:
        cause = "no node answers: are the Service's Pods ready, and does it select them?"
    return Outcome.failed(f"{len(silent)} of {len(silent) + len(answered)} nodes do not answer on node port {port}",
                          expected=f"every node's port {port} answers with '{contains}'",
                          observed="; ".join(silent), cause=cause)


@register(needs=("node",))
def node_rule_kept(ctx: CheckContext, table: str, chain: str, comment: str, what: str) -> Outcome:
    """Each node still has the rule of `chain` in `table` commented `<comment> <namespace>`."""
    mark = f"{comment} {ctx.namespace}"
    missing = []
    for name in sorted(objects.nodes(ctx)):
        rules = ctx.exec_on_node(name, ["iptables-save", "-t", table])
        if rules.returncode != 0:
            raise ClusterUnavailable(f"iptables-save failed on node {name}: {rules.stderr.strip()[:200]}")
        if not any(line.startswith(f"-A {chain} ") and mark in line for line in rules.stdout.splitlines()):
            missing.append(name)
    if not missing:
        return Outcome.passed(f"{what} is in place on every node")
    return Outcome.failed(f"{what} is gone from node {', '.join(missing)}",
                          expected=f"a rule commented {mark!r} in {table} {chain} on every node",
                          observed=f"none on {', '.join(missing)}",
                          cause="remove only the rule that causes the trouble: flushing a whole chain takes the "
                                "node's other rules with it, and nothing puts them back", final=True)
