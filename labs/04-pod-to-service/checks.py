"""Python checks of lab 04: what needs requests sent or rules read (the rest is declarative).

Each function is named by a `python: {function: ...}` check in lab.yaml.

Some of what these checks look at takes a moment to converge (kube-proxy
catching up with a Service or an endpoint). Such a FAIL is not final, and the
engine asks again within the check's `timeout` in lab.yaml. A FAIL that waiting
cannot fix (a targetPort nothing listens on, sessionAffinity, a wrong chain
recorded, a Service that selects no Pod any more) is final: it is reported at once.
"""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labcheck.lab import (
    CheckContext,
    Outcome,
    TargetUnavailable,
    http_command,
    interpret,
    objects,
    register,
    replaced_pods,
    service_selects_nothing,
)

_NAME_TOKEN = re.compile(r"[a-z0-9][a-z0-9.-]*")
UNREADY_HOW = "`kubectl exec <pod> -- touch /tmp/not-ready` makes its /ready answer 503"


# --- shared ---------------------------------------------------------------------------------------


def _backends(ctx: CheckContext, service: str) -> tuple[dict, list[dict]]:
    """The Service and the live Pods it selects. A Service that selects none is this check's
    precondition broken (step 2's), said as such: no advice of the check's own applies then."""
    svc = objects.service(ctx, service, made_by=f"{service}-service.yaml (step 2)")
    pods = objects.selected_pods(ctx, svc)
    if pods:
        return svc, pods
    selector = svc.get("spec", {}).get("selector") or {}
    why = service_selects_nothing(ctx, svc)
    raise TargetUnavailable(
        f"Service {service} selects no Pod" + (f" (selector {_selector(selector)})" if selector else
                                               " (it has no selector)") + ", so there is nothing behind it to check",
        cause=(why.text if why else "give the Service the selector name=webserver") +
              ": fix the Service first (step 2, create-service, checks it)",
        final=why.final if why else True)


def _selector(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _ready_names(pods: list[dict]) -> tuple[set[str], set[str]]:
    """(ready, running but unready) Pod names."""
    ready = {objects.name_of(p) for p in pods if objects.is_ready(p)}
    return ready, {objects.name_of(p) for p in pods if objects.is_running(p) and not objects.is_ready(p)}


def _served_by(output: str, pod_names: set[str]) -> list[str]:
    """For each line of output, the Pod it names (or '' when it names none of them)."""
    found = []
    for line in output.splitlines():
        if line.strip():
            names = [t for t in _NAME_TOKEN.findall(line) if t in pod_names]
            found.append(names[0] if names else "")
    return found


def _sibling_named(output: str, pods: list[dict]) -> str | None:
    """A name in the answer shaped like the selected Pods' own (<deployment>-<replicaset hash>-<suffix>)
    but of none of them: a Pod of another ReplicaSet of the same Deployment, replaced or new."""
    current = {objects.name_of(p) for p in pods}
    prefixes = {name.rsplit("-", 2)[0] + "-" for name in current if name.count("-") >= 2}
    for token in _NAME_TOKEN.findall(output):
        if token not in current and any(token.startswith(prefix) and token[len(prefix):].count("-") == 1
                                        for prefix in prefixes):
            return token
    return None


def _request_loop(url: str, count: int, seconds: int = 2) -> list[str]:
    """One command that sends `count` requests, each on a new connection, one answer per line."""
    quoted = shlex.quote(url)
    return [
        "sh", "-c",
        f"if command -v curl >/dev/null 2>&1; then get() {{ curl -sS -m {seconds} {quoted}; }}; "
        f"else get() {{ wget -q -T {seconds} -O - {quoted}; }}; fi; "
        # $(...) drops the answer's own newline; echo gives each answer exactly one line.
        f"i=0; while [ $i -lt {count} ]; do a=$(get) || a='request failed'; echo \"$a\"; i=$((i+1)); done",
    ]


def _url(host: str, port: int) -> str:
    return f"http://{host}:{port}/"


def _cluster_url(svc: dict) -> str:
    return _url(svc["spec"]["clusterIP"], objects.service_ports(svc)[0]["port"])


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tally(served: list[str]) -> str:
    counts: dict[str, int] = {}
    for name in served:
        counts[name or "(no Pod named)"] = counts.get(name or "(no Pod named)", 0) + 1
    return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items()))


# --- step 1: replicas that name themselves ------------------------------------------------------


@register
def replicas_name_themselves(ctx: CheckContext) -> Outcome:
    """Each ready replica's own page names it (the `replicas` check before has judged readiness)."""
    pods = max((objects.ready_replicas(ctx, d)[0] for d in ctx.list("Deployment", "apps/v1")), key=len, default=[])
    if not pods:
        raise TargetUnavailable("no Deployment has a ready replica", cause="see the check before this one")
    declared = [[p["containerPort"] for c in objects.containers_of(pod) for p in c.get("ports") or []
                 if p.get("containerPort")] for pod in pods]
    urls = [_url(pod["status"]["podIP"], (ports or [80])[0]) for pod, ports in zip(pods, declared)]
    results = ctx.exec_many([(objects.name_of(p), None, http_command(u, 5)) for p, u in zip(pods, urls)], timeout=5)
    answers, anonymous = [], []
    for pod, ports, url, result in zip(pods, declared, urls, results):
        name = objects.name_of(pod)
        if result.returncode != 0:
            return Outcome.failed(
                f"cannot fetch {url} inside Pod {name}",
                expected="an HTTP answer from the Pod's own web server",
                observed=f"exit code {result.returncode}: {_short(result.stderr or result.stdout)}",
                cause=(interpret(result) or "the Pod's image needs curl or wget")
                + ("" if ports else "; a server on another port than 80 must be declared as containerPort"))
        answers.append(f"{name}: {_short(result.stdout, 80)}")
        if name not in _NAME_TOKEN.findall(result.stdout):
            anonymous.append(name)
    if not anonymous:
        return Outcome.passed(f"each of the {len(pods)} replicas answers with its own Pod name",
                              observed="; ".join(answers))
    return Outcome.failed(
        f"the page served by {', '.join(anonymous)} does not name the Pod that served it",
        expected="each replica's answer contains its own Pod name",
        observed="; ".join(answers),
        cause="identical answers cannot show which replica served a request: serve a page that names the "
              "Pod, e.g. nginx `return 200 \"Served by $hostname\\n\";` from a ConfigMap (webserver.yaml does this)",
        final=True,  # a server's page does not change by itself
    )


# --- step 2: the ClusterIP ------------------------------------------------------------------------


@register
def clusterip_answers(ctx: CheckContext, service: str, client: str) -> Outcome:
    svc, pods = _backends(ctx, service)
    cluster_ip = svc.get("spec", {}).get("clusterIP")
    if not cluster_ip or cluster_ip == "None":
        return Outcome.failed(f"Service {service} has no ClusterIP (clusterIP: {cluster_ip})", final=True,
                              cause="a headless Service (clusterIP: None) gets no virtual IP; leave clusterIP out")
    url = _cluster_url(svc)
    names = {objects.name_of(p) for p in pods}
    result = ctx.exec(client, None, http_command(url, 5), timeout=5)
    served = [n for n in _served_by(result.stdout, names) if n]
    if result.returncode == 0 and served:
        return Outcome.passed(f"{url} from Pod {client} was answered by {served[0]}", observed=_short(result.stdout))
    sibling = _sibling_named(result.stdout, pods) if result.returncode == 0 else None
    if sibling:  # a rollout under way: kube-proxy still sent to a Pod just replaced (or one not read yet)
        return Outcome.failed(
            f"{url} was answered by {sibling}, a Pod of the same Deployment that is not among the Pods "
            f"Service {service} selects right now", observed=_short(result.stdout), final=False,
            cause="the Deployment's Pods are being replaced (a rollout): check again once `kubectl rollout status "
                  "deployment webserver` says it is done")
    if result.returncode == 0:
        # Not final: until kube-proxy has written a new Service's rules, the ClusterIP is an address like
        # any other, and whatever answers it beyond the node (a proxy of the host's network) may answer.
        return Outcome.failed(
            f"{url} answered, but not with the name of a Pod of Service {service}",
            expected=f"an answer naming one of {', '.join(sorted(names))}", observed=_short(result.stdout),
            cause="does the Service select the webserver Pods (spec.selector)? A Service made a moment ago "
                  "may not be in kube-proxy's rules yet", final=False)
    return _diagnose_port(ctx, svc, client, url, result, pods)


def _diagnose_port(ctx: CheckContext, svc: dict, client: str, url: str, result, pods: list[dict]) -> Outcome:
    """Why the ClusterIP did not answer: the targetPort (a name resolved in the Pods) against what
    the Pods declare, and whether one Pod answers there directly."""
    port = objects.service_ports(svc)[0]
    written = port.get("targetPort", port.get("port"))
    targets = objects.target_ports(port, pods)
    shown = f"{written!r} ({', '.join(map(str, sorted(targets)))})" if isinstance(written, str) else str(written)
    seen = f"exit code {result.returncode}: {_short(result.stderr or result.stdout) or '(no output)'}"
    if not targets:
        return Outcome.failed(
            f"Service {objects.name_of(svc)}'s targetPort {written!r} names no port of its Pods' containers",
            expected=f"a containerPort named {written!r}, or a numeric targetPort", observed=seen,
            cause="a named targetPort must match `ports[].name` in the Pods' containers", final=True)
    declared = {p["containerPort"] for pod in pods for c in objects.containers_of(pod)
                for p in c.get("ports") or [] if p.get("containerPort") is not None}
    ready = [p for p in pods if objects.is_ready(p) and p.get("status", {}).get("podIP")]
    direct, listening = "", None
    if ready:  # ask one Pod directly on the targetPort: is anything listening there?
        pod_url = _url(ready[0]["status"]["podIP"], min(targets))
        answer = ctx.exec(client, None, http_command(pod_url, 5), timeout=5)
        listening = answer.returncode == 0
        direct = f"; {pod_url} ({objects.name_of(ready[0])} directly): " + (
            "answers" if listening else (interpret(answer) or f"exit code {answer.returncode}"))
    if (declared and not targets & declared) or listening is False:
        listens = ", ".join(str(p) for p in sorted(declared)) or "another port"
        return Outcome.failed(
            f"Service port {port['port']} forwards to targetPort {shown}, but the Pods listen on {listens}",
            expected=f"targetPort equal to the port the Pods' containers listen on ({listens})",
            observed=seen + direct,
            cause="`port` is what clients ask on the ClusterIP, `targetPort` is where the Pods listen: "
                  f"set targetPort: {listens.split(',')[0]} (Kubernetes never checks that anything listens there)",
            final=True)
    # The Pods listen where the Service sends traffic: kube-proxy may not have caught up yet.
    return Outcome.failed(
        f"{url} from Pod {client} got no answer", expected="an answer from one of the Service's Pods",
        observed=seen + direct,
        cause=interpret(result) or "kube-proxy programs a new Service within a second or two; check again")


# --- step 4: load balancing -----------------------------------------------------------------------


@register
def requests_spread(ctx: CheckContext, service: str, client: str, requests: int = 30) -> Outcome:
    svc, pods = _backends(ctx, service)
    url = _cluster_url(svc)
    ready, _unready = _ready_names(pods)
    result = ctx.exec(client, None, _request_loop(url, requests), timeout=requests * 2 + 10)
    served = _served_by(result.stdout, {objects.name_of(p) for p in pods})
    distinct = {n for n in served if n}
    failed = len(served) - sum(1 for n in served if n)
    if len(distinct) >= 2 and failed <= requests // 10:
        return Outcome.passed(f"{requests} requests to {url} were spread over {len(distinct)} Pods",
                              observed=_tally(served))
    affinity = svc["spec"].get("sessionAffinity") == "ClientIP"
    if len(ready) < 2:
        cause = f"only {len(ready)} Pod of Service {service} is ready: balancing needs at least two"
    elif failed > requests // 10:
        cause = interpret(result) or "many requests failed: see the previous steps"
    elif affinity:
        cause = "the Service has sessionAffinity: ClientIP, which pins each client to one Pod"
    else:
        cause = "kube-proxy picks a ready endpoint at random for each new connection; is only one endpoint ready?"
    return Outcome.failed(
        f"{requests} requests to {url} were answered by {len(distinct)} Pod(s)",
        expected=f"answers from at least two of {', '.join(sorted(ready))}",
        observed=_tally(served) or _short(result.stderr or result.stdout),
        cause=cause,
        # Affinity pins the client for as long as the Service says so: asking again changes nothing.
        final=affinity and len(ready) >= 2 and failed <= requests // 10,
    )


# --- step 5: readiness ----------------------------------------------------------------------------


@register
def one_replica_unready(ctx: CheckContext, service: str) -> Outcome:
    svc, pods = _backends(ctx, service)
    ready, unready = _ready_names(pods)
    if unready and ready:
        return Outcome.passed(
            f"{', '.join(sorted(unready))} runs but is not ready; {len(ready)} Pod(s) of Service {service} are ready")
    if unready:
        return Outcome.failed(
            f"no Pod of Service {service} is ready: all of {', '.join(sorted(unready))} are unready",
            expected="one unready Pod and the others ready", observed=f"unready: {', '.join(sorted(unready))}",
            cause="make only one replica unready (remove /tmp/not-ready from the others)")
    cause = f"make one replica unready: {UNREADY_HOW}"
    # Who replaced whom is read from the ReplicaSet's Events, never from the Pods' ages (issue 22).
    deleted, replacements = replaced_pods(pods, ctx.list("Event"))
    if replacements:
        cause = (f"{', '.join(replacements)} replaced {', '.join(deleted)}: deleting a Pod does not make it unready, "
                 f"its Deployment replaces it with a fresh, ready one. Make one replica unready instead: {UNREADY_HOW}")
    return Outcome.failed(
        f"all {len(ready)} Pods of Service {service} are ready: none is unready",
        expected="one Pod running but not ready", observed=f"ready: {', '.join(sorted(ready))}", cause=cause)


@register
def traffic_skips_unready(ctx: CheckContext, service: str, client: str, requests: int = 30) -> Outcome:
    svc, pods = _backends(ctx, service)
    url = _cluster_url(svc)
    ready, unready = _ready_names(pods)
    result = ctx.exec(client, None, _request_loop(url, requests), timeout=requests * 2 + 10)
    served = _served_by(result.stdout, ready | unready)
    strays = sorted({n for n in served if n in unready})
    answered = [n for n in served if n]
    if answered and not strays:
        return Outcome.passed(
            f"{len(answered)} of {requests} requests answered, none by unready {', '.join(sorted(unready))}",
            observed=_tally(served))
    if strays:
        return Outcome.failed(
            f"unready Pod {', '.join(strays)} still answered requests to {url}",
            expected=f"answers only from ready Pods {', '.join(sorted(ready))}", observed=_tally(served),
            cause="kube-proxy removes an unready endpoint within a second or two; check again")
    return Outcome.failed(f"no request to {url} was answered", observed=_short(result.stderr or result.stdout),
                          cause=interpret(result) or "is any Pod of the Service still ready?", final=True)


# --- step 6: kube-proxy's rules -------------------------------------------------------------------


_RULE = re.compile(r"^-A (\S+) (.*)$")


@dataclass
class _NodeRules:
    svc_chains: list[str]  # where KUBE-SERVICES sends the ClusterIP:port
    sep_chains: list[str]  # where the Service's chain sends it
    destinations: dict[str, str]  # KUBE-SEP chain -> DNAT destination
    owners: dict[str, str]  # chain -> the comment of its rules (whose chain it is)


def _jump(rule: str) -> str | None:
    found = re.search(r"-j (\S+)", rule)
    return found.group(1) if found else None


def _comment(rule: str) -> str:
    found = re.search(r'--comment (?:"([^"]*)"|(\S+))', rule)
    return (found.group(1) or found.group(2)) if found else ""


def _parse_nat(text: str, cluster_ip: str, port: int) -> _NodeRules:
    rules = [m.groups() for m in map(_RULE.match, text.splitlines()) if m]
    svc_chains = [_jump(rule) for chain, rule in rules
                  if chain == "KUBE-SERVICES" and f"-d {cluster_ip}/32" in rule and f"--dport {port}" in rule
                  and (_jump(rule) or "").startswith("KUBE-SVC-")]
    sep_chains = [_jump(rule) for chain, rule in rules
                  if chain in svc_chains and (_jump(rule) or "").startswith("KUBE-SEP-")]
    destinations: dict[str, str] = {}
    owners: dict[str, str] = {}
    for chain, rule in rules:
        owners.setdefault(chain, _comment(rule))
        found = re.search(r"--to-destination (\S+)", rule)
        if found and chain.startswith("KUBE-SEP-"):
            destinations[chain] = found.group(1)
    return _NodeRules(svc_chains, sep_chains, destinations, owners)


@register(needs=("node",))
def kube_proxy_chain(ctx: CheckContext, service: str, answer: str, key: str) -> Outcome:
    svc, pods = _backends(ctx, service)
    cluster_ip, port = svc["spec"]["clusterIP"], objects.service_ports(svc)[0]
    recorded = objects.answer(ctx, answer, key)
    found_endpoints, ports = objects.endpoints(ctx, service)
    target = ports[0] if ports else min(objects.target_ports(port, pods) or {port["port"]})
    expected = {f"{e.address}:{target}" for e in found_endpoints if e.ready}
    nodes = sorted(objects.nodes(ctx))
    if not nodes:
        return Outcome.error("the cluster lists no nodes")
    patterns = ["-e", f"{ctx.namespace}/{service}"] + (["-e", recorded] if re.fullmatch(r"[A-Z0-9-]+", recorded) else [])
    command = ["sh", "-c", "iptables-save -t nat | grep -F " + " ".join(shlex.quote(p) for p in patterns)]
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:  # the nodes' tables side by side
        results = list(pool.map(lambda node: ctx.exec_on_node(node, command, 10), nodes))
    found: dict[str, _NodeRules] = {}
    for node, result in zip(nodes, results):
        if result.returncode not in (0, 1):  # grep's 1: no line matched
            return Outcome.error(f"iptables-save failed on node {node}: {_short(result.stderr)}")
        found[node] = _parse_nat(result.stdout, cluster_ip, port["port"])
    missing = [n for n, r in found.items() if not r.svc_chains]
    if missing:
        return Outcome.failed(
            f"no KUBE-SERVICES rule for {cluster_ip}:{port['port']} on node(s) {', '.join(missing)}",
            cause="kube-proxy writes a Service's rules within a second or two of its creation; "
                  "is kube-proxy running (kubectl -n kube-system get pods -l k8s-app=kube-proxy)?")
    chains = {r.svc_chains[0] for r in found.values()}
    chain, first = sorted(chains)[0], found[nodes[0]]
    if recorded not in chains:
        if recorded in first.destinations:
            cause = (f"{recorded} is the chain of one endpoint (it DNATs to {first.destinations[recorded]}), "
                     f"not the Service's: record the KUBE-SVC chain that KUBE-SERVICES jumps to for {cluster_ip}")
        elif recorded in first.owners:
            cause = f"{recorded} belongs to {first.owners[recorded] or 'another rule'}, not to {ctx.namespace}/{service}"
        else:
            cause = f"find the rule for {cluster_ip} in the KUBE-SERVICES chain and record the chain it jumps to"
        return Outcome.failed(
            f"you recorded {recorded or '(nothing)'}, but KUBE-SERVICES sends {cluster_ip}:{port['port']} to {chain}",
            expected=f"{key}: {chain}", observed=f"{key}: {recorded!r}", cause=cause,
            final=True)  # a recorded answer does not change by itself
    seen = {node: {rules.destinations.get(sep, f"{sep}?") for sep in rules.sep_chains} for node, rules in found.items()}
    astray = {node: dests for node, dests in seen.items() if dests != expected}
    if astray:
        return Outcome.failed(
            f"kube-proxy's endpoint chains for {chain} differ from the Service's ready endpoints",
            expected=", ".join(sorted(expected)),
            observed="; ".join(f"{n}: {', '.join(sorted(d)) or 'none'}" for n, d in astray.items()),
            cause="kube-proxy rewrites the chains within a second or two of an endpoint change; check again")
    return Outcome.passed(
        f"on all {len(nodes)} nodes KUBE-SERVICES sends {cluster_ip}:{port['port']} to {chain}, which picks one of "
        f"{len(expected)} KUBE-SEP chains (DNAT to {', '.join(sorted(expected))})")
