"""Python checks of lab 04: a ClusterIP Service, its endpoints, DNS names and kube-proxy's rules.

Each function is named by a `python: {function: ...}` check in lab.yaml.

Some of what these checks look at takes a moment to converge (Pods becoming
ready, the EndpointSlice controller and kube-proxy catching up). Such a FAIL
is not final, and the engine asks again within the check's `timeout` in
lab.yaml. A FAIL that waiting cannot fix (a selector that matches no Pod, a
targetPort nothing listens on, a readiness probe that keeps failing, a name in
another namespace) is final: it is reported at once.
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
    dns_command,
    http_command,
    interpret,
    pod_cause,
    register,
    replaced_pods,
)


_DISCOVERY = "discovery.k8s.io/v1"
_NAME_TOKEN = re.compile(r"[a-z0-9][a-z0-9.-]*")


# --- reading the cluster --------------------------------------------------------------------


def _name(obj: dict) -> str:
    return obj["metadata"]["name"]


def _labels(obj: dict) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _is_running(pod: dict) -> bool:
    return pod.get("status", {}).get("phase") == "Running"


def _live_pods(ctx: CheckContext) -> list[dict]:
    """Pods of the namespace that are not being deleted."""
    return [p for p in ctx.list("Pod") if not p["metadata"].get("deletionTimestamp")]


def _own_labels(pod: dict) -> dict[str, str]:
    """A Pod's labels without the ones controllers add (pod-template-hash and the like)."""
    return {k: v for k, v in _labels(pod).items() if not k.endswith("-hash") and "/" not in k}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _show_selector(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "(none)"


def _service(ctx: CheckContext, name: str) -> dict:
    svc = ctx.get("Service", name)
    if svc is None:  # an object the learner makes: it does not appear by waiting
        raise TargetUnavailable(f"Service {name} does not exist in namespace {ctx.namespace}",
                                cause=f"apply the Service (step 2): kubectl apply -f {name}-service.yaml", final=True)
    return svc


def _service_port(svc: dict) -> dict:
    ports = svc.get("spec", {}).get("ports") or []
    if not ports:
        raise TargetUnavailable(f"Service {_name(svc)} has no ports")
    return ports[0]


def _selected_pods(ctx: CheckContext, svc: dict) -> list[dict]:
    selector = svc.get("spec", {}).get("selector") or {}
    return [p for p in _live_pods(ctx) if _matches(selector, _labels(p))]


@dataclass
class _Endpoint:
    address: str
    ready: bool
    pod: str | None
    node: str | None


def _endpoints(ctx: CheckContext, service: str) -> tuple[list[_Endpoint], list[int], list[str]]:
    """Endpoints of a Service from its EndpointSlices, their port numbers, and the slices' names."""
    slices = ctx.list("EndpointSlice", "discovery.k8s.io/v1", label_selector=f"kubernetes.io/service-name={service}")
    endpoints: list[_Endpoint] = []
    ports: list[int] = []
    for endpoint_slice in slices:
        ports.extend(p["port"] for p in endpoint_slice.get("ports") or [] if p.get("port") is not None)
        for ep in endpoint_slice.get("endpoints") or []:
            # The API's rule: an unknown readiness (no `ready` field) counts as ready.
            ready = (ep.get("conditions") or {}).get("ready") is not False
            ref = ep.get("targetRef") or {}
            for address in ep.get("addresses") or []:
                endpoints.append(_Endpoint(address, ready, ref.get("name"), ep.get("nodeName")))
    return endpoints, sorted(set(ports)), [_name(s) for s in slices]


def _container_ports(pods: list[dict]) -> set[int]:
    return {
        port["containerPort"]
        for pod in pods
        for container in pod.get("spec", {}).get("containers", [])
        for port in container.get("ports") or []
        if port.get("containerPort") is not None
    }


def _served_by(output: str, pod_names: set[str]) -> list[str]:
    """For each line of output, the Pod it names (or '' when it names none of them)."""
    found = []
    for line in output.splitlines():
        if not line.strip():
            continue
        names = [t for t in _NAME_TOKEN.findall(line) if t in pod_names]
        found.append(names[0] if names else "")
    return found


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


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- step 1: replicas that name themselves --------------------------------------------------


def _deployment_pods(ctx: CheckContext, deployment: dict) -> list[dict]:
    selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    return [p for p in _live_pods(ctx) if _matches(selector, _labels(p))]


#: Causes from `pod_cause` that a Pod does not outgrow by waiting, though it does not say so.
_STUCK = ("has exited", "not scheduled", "is waiting")


def _why_not_ready(ctx: CheckContext, pods: list[dict]) -> tuple[str, bool]:
    """The likely cause for Pods that are not ready, and whether it is final (waiting cannot help).

    Final when the kubelet itself has judged the readiness probe failing (its
    Events), never by how long the Pod has run: that depends on the machine.
    """
    for pod in pods:
        if _is_ready(pod):
            continue
        found = pod_cause(pod, ctx)
        cause = found.text or "it is not ready yet"
        return f"Pod {_name(pod)}: {cause}", found.final or any(word in cause for word in _STUCK)
    return "", False


def _replicated(ctx: CheckContext, min_replicas: int, min_ready: int) -> tuple[dict | None, Outcome | None]:
    """The Deployment of at least `min_replicas` replicas, `min_ready` of them ready; or why there is none.

    Step 5 makes one replica unready on purpose, and load balancing still needs
    two ready ones afterwards: hence three replicas, of which two must be ready.
    """
    deployments = ctx.list("Deployment", "apps/v1")
    if not deployments:
        return None, Outcome.failed(
            f"no Deployment exists in namespace {ctx.namespace}",
            expected=f"a Deployment with {min_replicas} replicas",
            observed="none",
            cause="apply the Deployment (kubectl apply -f webserver.yaml)",
            final=True,
        )
    observed = "; ".join(
        f"{_name(d)}: {d.get('status', {}).get('readyReplicas') or 0}/{d.get('spec', {}).get('replicas', 1)} ready"
        for d in deployments
    )
    wide = [d for d in deployments if d.get("spec", {}).get("replicas", 1) >= min_replicas]
    if not wide:
        return None, Outcome.failed(
            f"no Deployment asks for {min_replicas} or more replicas",
            expected=f"spec.replicas >= {min_replicas}",
            observed=observed,
            cause=f"set `replicas: {min_replicas}` (or `kubectl scale deployment <name> --replicas {min_replicas}`): "
                  "the Service spreads requests over the replicas, and later one of them is made unready",
            final=True,
        )
    deployment = max(wide, key=lambda d: d.get("status", {}).get("readyReplicas") or 0)
    pods = _deployment_pods(ctx, deployment)
    cause, stuck = _why_not_ready(ctx, pods)
    starting = (not stuck and any(not _is_ready(p) for p in pods)) or len(pods) < min_replicas
    ready = sum(1 for p in pods if _is_ready(p))
    if ready >= min_ready and not (starting and ready < min_replicas):
        return deployment, None
    return None, Outcome.failed(
        f"Deployment {_name(deployment)} has {ready} ready replica(s); at least {min_ready} must be ready",
        expected=f"{min_replicas} replicas, at least {min_ready} of them ready",
        observed=observed,
        cause=cause or "its Pods are still being created: wait a few seconds",
        final=not starting,
    )


@register
def replicas_ready(ctx: CheckContext, min_replicas: int = 3, min_ready: int = 2) -> Outcome:
    deployment, problem = _replicated(ctx, min_replicas, min_ready)
    if deployment is None:
        return problem
    pods = [p for p in _deployment_pods(ctx, deployment) if _is_ready(p)]
    nodes = sorted({p.get("spec", {}).get("nodeName", "?") for p in pods})
    return Outcome.passed(
        f"Deployment {_name(deployment)} has {len(pods)} ready replicas on node(s) {', '.join(nodes)}",
        observed=", ".join(f"{_name(p)} {p.get('status', {}).get('podIP')}" for p in pods),
    )


@register
def replicas_name_themselves(ctx: CheckContext, min_replicas: int = 3, min_ready: int = 2) -> Outcome:
    deployment, problem = _replicated(ctx, min_replicas, min_ready)
    if deployment is None:
        return problem
    pods = [p for p in _deployment_pods(ctx, deployment) if _is_ready(p)]
    anonymous: list[str] = []
    answers: list[str] = []
    for pod in pods:
        declared = sorted(_container_ports([pod]))
        url = _url(pod["status"]["podIP"], (declared or [80])[0])
        result = ctx.exec(_name(pod), None, http_command(url, 5), timeout=5)
        if result.returncode != 0:
            return Outcome.failed(
                f"cannot fetch {url} inside Pod {_name(pod)}",
                expected="an HTTP answer from the Pod's own web server",
                observed=f"exit code {result.returncode}: {_short(result.stderr or result.stdout)}",
                cause=(interpret(result) or "the Pod's image needs curl or wget") + (
                    "" if declared else "; a server on another port than 80 must be declared as containerPort"),
            )
        answers.append(f"{_name(pod)}: {_short(result.stdout, 80)}")
        if _name(pod) not in _NAME_TOKEN.findall(result.stdout):
            anonymous.append(_name(pod))
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


# --- step 2: the Service, its endpoints and its ClusterIP ----------------------------------------


@register
def service_endpoints(ctx: CheckContext, service: str) -> Outcome:
    svc = _service(ctx, service)
    selector = svc.get("spec", {}).get("selector") or {}
    if not selector:
        return Outcome.failed(
            f"Service {service} has no selector, so Kubernetes manages no endpoints for it",
            expected="spec.selector with the Pods' labels (e.g. name: webserver)",
            observed="spec.selector is empty",
            cause="add a selector; `kubectl expose deployment <name>` copies the Deployment's",
            final=True,
        )
    pods = _live_pods(ctx)
    selected = [p for p in pods if _matches(selector, _labels(p))]
    if not selected:
        carried = sorted({_show_selector(_own_labels(p)) for p in pods if _own_labels(p)})
        return Outcome.failed(
            f"0 endpoints: selector {_show_selector(selector)} matches no Pod in namespace {ctx.namespace}",
            expected=f"Pods labelled {_show_selector(selector)}",
            observed="Pod labels here: " + ("; ".join(carried[:4]) or "no Pods"),
            cause="a Service's selector must equal labels the Pods carry (see `kubectl get pods --show-labels`); "
                  "the webserver Pods are labelled name=webserver",
            # With Pods here, none of which matches, waiting changes nothing; with none, they may be coming.
            final=bool(pods),
        )
    ready = {p["status"]["podIP"]: _name(p) for p in selected if _is_ready(p) and p["status"].get("podIP")}
    if not ready:
        cause, stuck = _why_not_ready(ctx, selected)
        return Outcome.failed(
            f"0 ready endpoints: none of the {len(selected)} Pods selector {_show_selector(selector)} "
            "matches is ready",
            cause=cause,
            final=stuck,
        )
    endpoints, ports, slices = _endpoints(ctx, service)
    listed = {e.address for e in endpoints if e.ready}
    shown = ", ".join(f"{ip} ({name})" for ip, name in sorted(ready.items()))
    if listed == set(ready):
        port = "/".join(str(p) for p in ports) or "?"
        return Outcome.passed(
            f"Service {service} has {len(listed)} ready endpoints on port {port}: {shown}",
            observed=f"EndpointSlice(s) {', '.join(slices)}",
        )
    return Outcome.failed(
        f"Service {service}'s EndpointSlices do not list its ready Pods yet",
        expected=f"ready endpoints {shown}",
        observed=f"ready endpoints {', '.join(sorted(listed)) or 'none'} in {', '.join(slices) or 'no slice'}",
        cause="the EndpointSlice controller updates slices within a second or two of a Pod's readiness changing",
    )


def _target_port(svc: dict, endpoint_ports: list[int], pods: list[dict]) -> int | str | None:
    """The port a Service forwards to: the EndpointSlice's number, else spec.targetPort."""
    if endpoint_ports:
        return endpoint_ports[0]
    port = _service_port(svc)
    return port.get("targetPort", port.get("port"))


@register
def clusterip_answers(ctx: CheckContext, service: str, client: str) -> Outcome:
    svc = _service(ctx, service)
    cluster_ip = svc.get("spec", {}).get("clusterIP")
    if not cluster_ip or cluster_ip == "None":
        return Outcome.failed(
            f"Service {service} has no ClusterIP (clusterIP: {cluster_ip})",
            cause="a headless Service (clusterIP: None) gets no virtual IP; leave clusterIP out",
            final=True,
        )
    port = _service_port(svc)
    url = _url(cluster_ip, port["port"])
    pods = _selected_pods(ctx, svc)
    names = {_name(p) for p in pods}
    result = ctx.exec(client, None, http_command(url, 5), timeout=5)
    served = [n for n in _served_by(result.stdout, names) if n]
    if result.returncode == 0 and served:
        return Outcome.passed(f"{url} from Pod {client} was answered by {served[0]}",
                              observed=_short(result.stdout))
    if result.returncode == 0:
        return Outcome.failed(
            f"{url} answered, but not with the name of a Pod of Service {service}",
            expected=f"an answer naming one of {', '.join(sorted(names))}",
            observed=_short(result.stdout),
            cause="does the Service select the webserver Pods (spec.selector)?",
            final=True,
        )
    return _diagnose_port(ctx, svc, client, url, result, pods)


def _diagnose_port(ctx: CheckContext, svc: dict, client: str, url: str, result, pods: list[dict]) -> Outcome:
    """Why the ClusterIP did not answer: compare targetPort with what the Pods listen on."""
    _endpoints_found, endpoint_ports, _slices = _endpoints(ctx, _name(svc))
    target = _target_port(svc, endpoint_ports, pods)
    declared = _container_ports(pods)
    port = _service_port(svc)
    seen = f"exit code {result.returncode}: {_short(result.stderr or result.stdout) or '(no output)'}"
    ready = [p for p in pods if _is_ready(p) and p.get("status", {}).get("podIP")]
    direct = ""
    if ready and isinstance(target, int):
        # Ask one Pod directly on the targetPort: is anything listening there?
        pod_url = _url(ready[0]["status"]["podIP"], target)
        answer = ctx.exec(client, None, http_command(pod_url, 5), timeout=5)
        direct = f"; {pod_url} ({_name(ready[0])} directly): " + (
            "answers" if answer.returncode == 0 else (interpret(answer) or f"exit code {answer.returncode}"))
        listening = answer.returncode == 0
    else:
        listening = None
    if isinstance(target, str) and not endpoint_ports:
        return Outcome.failed(
            f"Service {_name(svc)}'s targetPort {target!r} names no port of its Pods' containers",
            expected=f"a containerPort named {target!r}, or a numeric targetPort",
            observed=seen,
            cause="a named targetPort must match `ports[].name` in the Pods' containers",
            final=True,
        )
    if (declared and target not in declared) or listening is False:
        listens = ", ".join(str(p) for p in sorted(declared)) or "another port"
        return Outcome.failed(
            f"Service port {port['port']} forwards to targetPort {target}, but the Pods listen on {listens}",
            expected=f"targetPort equal to the port the Pods' containers listen on ({listens})",
            observed=seen + direct,
            cause="`port` is what clients ask on the ClusterIP, `targetPort` is where the Pods listen: "
                  f"set targetPort: {listens.split(',')[0]} (Kubernetes never checks that anything listens there)",
            final=True,
        )
    # The Pods listen where the Service sends traffic: kube-proxy may not have caught up yet.
    return Outcome.failed(
        f"{url} from Pod {client} got no answer",
        expected="an answer from one of the Service's Pods",
        observed=seen + direct,
        cause=interpret(result) or "kube-proxy programs a new Service within a second or two; check again",
    )


# --- step 3: DNS names ----------------------------------------------------------------------------


def _search_list(ctx: CheckContext, client: str) -> list[str]:
    """The DNS search domains the kubelet wrote into the client Pod's /etc/resolv.conf."""
    resolv = ctx.exec(client, None, ["cat", "/etc/resolv.conf"]).stdout
    for line in resolv.splitlines():
        if line.startswith("search"):
            return line.split()[1:]
    return []


def _cluster_domain(ctx: CheckContext, search: list[str]) -> str:
    prefix = f"{ctx.namespace}.svc."
    return next((d[len(prefix):] for d in search if d.startswith(prefix)), "cluster.local")


_IP = r"(?:\d{1,3}\.){3}\d{1,3}"


def _answers(output: str) -> set[str]:
    """Addresses a lookup found: getent's "IP name" lines, or nslookup's Address lines after a Name."""
    found = set(re.findall(rf"(?m)^({_IP})\s+\S", output))
    named = False
    for line in output.splitlines():
        if line.startswith("Name:"):
            named = True
        elif named and line.startswith("Address"):
            found.update(re.findall(rf"\b{_IP}\b", line))
    return found


def _lookup(ctx: CheckContext, client: str, name: str, search: list[str]):
    """Resolve a name inside the client as its programs would: (addresses, the last command's result).

    getent asks the C library, search list included. Where the image has only
    busybox nslookup, which does not apply the search list to dotted names, try
    the name under each search domain first, as the library does (ndots:5).
    """
    result = ctx.exec(client, None, dns_command(name))
    addresses = _answers(result.stdout)
    if addresses or "Server:" not in result.stdout:
        return addresses, result
    for domain in search:
        result = ctx.exec(client, None, ["nslookup", f"{name}.{domain}."])
        addresses = _answers(result.stdout)
        if addresses:
            break
    return addresses, result


@register
def dns_names_reach_service(ctx: CheckContext, service: str, client: str, answer: str) -> Outcome:
    svc = _service(ctx, service)
    cluster_ip = svc["spec"].get("clusterIP")
    port = _service_port(svc)["port"]
    names = {_name(p) for p in _selected_pods(ctx, svc)}
    recorded = (ctx.get("ConfigMap", answer) or {}).get("data") or {}
    search = _search_list(ctx, client)
    domain = _cluster_domain(ctx, search)
    ns = ctx.namespace
    wanted = {
        "short": service,
        "namespaced": f"{service}.{ns}",
        "fqdn": f"{service}.{ns}.svc.{domain}",
    }
    reached: list[str] = []
    recorded_names = {key: (recorded.get(key) or "").strip().rstrip(".") for key in wanted}
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:  # the three lookups side by side
        lookups = dict(zip(wanted, pool.map(
            lambda key: _lookup(ctx, client, recorded_names[key], search) if recorded_names[key] else (set(), None),
            wanted)))
    fetch: dict[str, str] = {}
    for key, form in wanted.items():
        name = recorded_names[key]
        parts = name.split(".")
        addresses, lookup = lookups[key]
        looked = f"{name} resolves to {', '.join(sorted(addresses)) or 'nothing'}"
        if len(parts) >= 2 and parts[0] == service and parts[1] != ns:
            return Outcome.failed(
                f"{key}={name} asks for Service {service} in namespace {parts[1]}, "
                f"but Service {service} is in namespace {ns}",
                expected=f"{key}={form}",
                observed=looked,
                cause="the second label of a Service's DNS name is its namespace: "
                      f"<service>.<namespace>[.svc.{domain}]",
                final=True,  # a recorded answer does not change by itself
            )
        if name != form:
            return Outcome.failed(
                f"{key}={name or '(missing)'} is not the {key} name of Service {service}",
                expected=f"{key}={form}",
                observed=f"{key}={name!r}" + (f"; {looked}" if name else ""),
                cause=f"short: the Service's name; namespaced: <service>.<namespace>; "
                      f"fqdn: <service>.<namespace>.svc.{domain}",
                final=True,
            )
        if cluster_ip not in addresses:
            return Outcome.failed(
                f"{name} does not resolve to Service {service}'s ClusterIP {cluster_ip} inside Pod {client}",
                expected=f"{name} -> {cluster_ip}",
                observed=looked + f" ({_short(lookup.stderr)})" if lookup.stderr.strip() else looked,
                cause=interpret(lookup) or "is CoreDNS running (kubectl -n kube-system get pods)?",
            )
        fetch[name] = _url(name, port)
    # Every name resolves to the ClusterIP: now ask each of them, side by side.
    answers = ctx.exec_many([(client, None, http_command(url, 5)) for url in fetch.values()], timeout=5)
    for (name, url), fetched in zip(fetch.items(), answers):
        served = [n for n in _served_by(fetched.stdout, names) if n]
        if fetched.returncode != 0 or not served:
            return Outcome.failed(
                f"{url} from Pod {client} was not answered by a Pod of Service {service}",
                expected=f"an answer naming one of {', '.join(sorted(names))}",
                observed=f"exit code {fetched.returncode}: {_short(fetched.stderr or fetched.stdout)}",
                cause=interpret(fetched) or "the name resolves; does the ClusterIP answer (previous step)?",
            )
        reached.append(f"{name} -> {cluster_ip} -> {served[0]}")
    return Outcome.passed(f"all three names reach Service {service} at {cluster_ip}", observed="; ".join(reached))


# --- step 4: load balancing -----------------------------------------------------------------------


def _ready_pod_names(ctx: CheckContext, svc: dict) -> tuple[set[str], set[str]]:
    """(ready, running but unready) names of the Pods a Service selects."""
    pods = _selected_pods(ctx, svc)
    ready = {_name(p) for p in pods if _is_ready(p)}
    unready = {_name(p) for p in pods if _is_running(p) and not _is_ready(p)}
    return ready, unready


def _tally(served: list[str]) -> str:
    counts: dict[str, int] = {}
    for name in served:
        counts[name or "(no Pod named)"] = counts.get(name or "(no Pod named)", 0) + 1
    return ", ".join(f"{name} x{n}" for name, n in sorted(counts.items()))


@register
def requests_spread(ctx: CheckContext, service: str, client: str, requests: int = 30) -> Outcome:
    svc = _service(ctx, service)
    url = _url(svc["spec"]["clusterIP"], _service_port(svc)["port"])
    ready, _unready = _ready_pod_names(ctx, svc)
    everyone = {_name(p) for p in _selected_pods(ctx, svc)}
    result = ctx.exec(client, None, _request_loop(url, requests), timeout=requests * 2 + 10)
    served = _served_by(result.stdout, everyone)
    distinct = {n for n in served if n}
    failed = len(served) - sum(1 for n in served if n)
    if len(distinct) >= 2 and failed <= requests // 10:
        return Outcome.passed(f"{requests} requests to {url} were spread over {len(distinct)} Pods",
                              observed=_tally(served))
    if len(ready) < 2:
        cause = f"only {len(ready)} Pod of Service {service} is ready: balancing needs at least two"
    elif failed > requests // 10:
        cause = interpret(result) or "many requests failed: see the previous steps"
    elif svc["spec"].get("sessionAffinity") == "ClientIP":
        cause = "the Service has sessionAffinity: ClientIP, which pins each client to one Pod"
    else:
        cause = "kube-proxy picks a ready endpoint at random for each new connection; is only one endpoint ready?"
    return Outcome.failed(
        f"{requests} requests to {url} were answered by {len(distinct)} Pod(s)",
        expected=f"answers from at least two of {', '.join(sorted(ready))}",
        observed=_tally(served) or _short(result.stderr or result.stdout),
        cause=cause,
        # Affinity pins the client for as long as the Service says so: asking again changes nothing.
        final=svc["spec"].get("sessionAffinity") == "ClientIP" and len(ready) >= 2 and failed <= requests // 10,
    )


@register
def answer_names_replicas(ctx: CheckContext, service: str, answer: str, key: str) -> Outcome:
    svc = _service(ctx, service)
    # A Pod made unready later (step 5) did answer back then: it may stay in the answer.
    ready, unready = _ready_pod_names(ctx, svc)
    value = ((ctx.get("ConfigMap", answer) or {}).get("data") or {}).get(key, "")
    recorded = {t for t in re.split(r"[\s,;]+", value) if t}
    strangers = recorded - ready - unready
    if ready <= recorded and not strangers:
        return Outcome.passed(f"you saw all {len(ready)} ready Pods of Service {service} answer")
    if strangers:
        cause = (f"{', '.join(sorted(strangers))} is not a Pod of Service {service}: "
                 "record the Pod names the answers printed (kubectl get pods lists them)")
    elif len(recorded) <= 1:
        cause = (f"only one Pod answered you: send the requests to the Service (its name or ClusterIP), "
                 f"not to one Pod's IP, and send enough of them (the Service has {len(ready)} ready Pods)")
    else:
        cause = "some ready Pods are missing: send more requests, each on a new connection"
    return Outcome.failed(
        f"you recorded {len(recorded & ready)} of the {len(ready)} ready Pods behind Service {service}",
        expected=f"{key}: {' '.join(sorted(ready))}",
        observed=f"{key}: {value.strip()!r}",
        cause=cause,
        final=True,  # a recorded answer does not change by itself
    )


# --- step 5: readiness ----------------------------------------------------------------------------


@register
def one_replica_unready(ctx: CheckContext, service: str) -> Outcome:
    svc = _service(ctx, service)
    pods = _selected_pods(ctx, svc)
    ready, unready = _ready_pod_names(ctx, svc)
    if unready and ready:
        return Outcome.passed(
            f"{', '.join(sorted(unready))} runs but is not ready; {len(ready)} Pod(s) of Service {service} are ready")
    if unready:
        return Outcome.failed(
            f"no Pod of Service {service} is ready: all of {', '.join(sorted(unready))} are unready",
            expected="one unready Pod and the others ready",
            observed=f"unready: {', '.join(sorted(unready))}",
            cause="make only one replica unready (remove /tmp/not-ready from the others)",
        )
    how = "`kubectl exec <pod> -- touch /tmp/not-ready` makes its /ready answer 503"
    cause = f"make one replica unready: {how}"
    deleted, replacements = replaced_pods(pods, ctx.list("Event"))
    if replacements:
        cause = (f"{', '.join(replacements)} replaced {', '.join(deleted)}: deleting a Pod does not make it unready, "
                 f"its Deployment replaces it with a fresh, ready one. Make one replica unready instead: {how}")
    return Outcome.failed(
        f"all {len(ready)} Pods of Service {service} are ready: none is unready",
        expected="one Pod running but not ready",
        observed=f"ready: {', '.join(sorted(ready)) or 'none'}",
        cause=cause,
    )


@register
def slice_follows_readiness(ctx: CheckContext, service: str) -> Outcome:
    svc = _service(ctx, service)
    pods = {p["status"].get("podIP"): p for p in _selected_pods(ctx, svc) if p["status"].get("podIP")}
    endpoints, _ports, slices = _endpoints(ctx, service)
    listed = {e.address: e for e in endpoints}
    wrong = []
    shown = []
    for ip, pod in sorted(pods.items()):
        ep = listed.get(ip)
        state = "absent" if ep is None else f"ready={str(ep.ready).lower()}"
        shown.append(f"{ip} ({_name(pod)}, Pod {'ready' if _is_ready(pod) else 'unready'}): {state}")
        if _is_ready(pod) and (ep is None or not ep.ready):
            wrong.append(ip)
        if not _is_ready(pod) and ep is not None and ep.ready:
            wrong.append(ip)
    if not wrong:
        return Outcome.passed(f"EndpointSlice {', '.join(slices)} follows the Pods' readiness",
                              observed="; ".join(shown))
    return Outcome.failed(
        f"the EndpointSlice of Service {service} disagrees with the Pods' readiness on {', '.join(wrong)}",
        expected="ready Pods listed with ready=true, unready Pods with ready=false (or not at all)",
        observed="; ".join(shown),
        cause="the EndpointSlice controller follows readiness within a second or two; check again",
    )


@register
def traffic_skips_unready(ctx: CheckContext, service: str, client: str, requests: int = 30) -> Outcome:
    svc = _service(ctx, service)
    url = _url(svc["spec"]["clusterIP"], _service_port(svc)["port"])
    ready, unready = _ready_pod_names(ctx, svc)
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
            expected=f"answers only from ready Pods {', '.join(sorted(ready))}",
            observed=_tally(served),
            cause="kube-proxy removes an unready endpoint within a second or two; check again",
        )
    return Outcome.failed(
        f"no request to {url} was answered",
        observed=_short(result.stderr or result.stdout),
        cause=interpret(result) or "is any Pod of the Service still ready?",
        final=True,
    )


# --- step 6: kube-proxy's rules ---------------------------------------------------------------------


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
    svc_chains = [
        _jump(rule) for chain, rule in rules
        if chain == "KUBE-SERVICES" and f"-d {cluster_ip}/32" in rule and f"--dport {port}" in rule
        and (_jump(rule) or "").startswith("KUBE-SVC-")
    ]
    sep_chains = [
        _jump(rule) for chain, rule in rules
        if chain in svc_chains and (_jump(rule) or "").startswith("KUBE-SEP-")
    ]
    destinations = {}
    owners: dict[str, str] = {}
    for chain, rule in rules:
        owners.setdefault(chain, _comment(rule))
        found = re.search(r"--to-destination (\S+)", rule)
        if found and chain.startswith("KUBE-SEP-"):
            destinations[chain] = found.group(1)
    return _NodeRules(svc_chains, sep_chains, destinations, owners)


@register(needs=('node',))
def kube_proxy_chain(ctx: CheckContext, service: str, answer: str, key: str) -> Outcome:
    svc = _service(ctx, service)
    cluster_ip = svc["spec"]["clusterIP"]
    port = _service_port(svc)["port"]
    recorded = (((ctx.get("ConfigMap", answer) or {}).get("data") or {}).get(key) or "").strip()
    endpoints, ports, _slices = _endpoints(ctx, service)
    target = ports[0] if ports else _service_port(svc).get("targetPort")
    expected = {f"{e.address}:{target}" for e in endpoints if e.ready}
    nodes = sorted(_name(n) for n in ctx.list("Node"))
    if not nodes:
        return Outcome.error("the cluster lists no nodes")
    patterns = ["-e", f"{ctx.namespace}/{service}"]
    if re.fullmatch(r"[A-Z0-9-]+", recorded):
        patterns += ["-e", recorded]
    command = ["sh", "-c", "iptables-save -t nat | grep -F " + " ".join(shlex.quote(p) for p in patterns)]
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:  # the nodes' tables side by side
        results = list(pool.map(lambda node: ctx.exec_on_node(node, command, 10), nodes))
    found: dict[str, _NodeRules] = {}
    for node, result in zip(nodes, results):
        if result.returncode not in (0, 1):  # grep's 1: no line matched
            return Outcome.error(f"iptables-save failed on node {node}: {_short(result.stderr)}")
        found[node] = _parse_nat(result.stdout, cluster_ip, port)
    missing = [n for n, r in found.items() if not r.svc_chains]
    if missing:
        return Outcome.failed(
            f"no KUBE-SERVICES rule for {cluster_ip}:{port} on node(s) {', '.join(missing)}",
            cause="kube-proxy writes a Service's rules within a second or two of its creation; "
                  "is kube-proxy running (kubectl -n kube-system get pods -l k8s-app=kube-proxy)?",
        )
    chains = {r.svc_chains[0] for r in found.values()}
    chain = sorted(chains)[0]
    first = found[nodes[0]]
    if recorded not in chains:
        if recorded in first.destinations:
            cause = (f"{recorded} is the chain of one endpoint (it DNATs to {first.destinations[recorded]}), "
                     f"not the Service's: record the KUBE-SVC chain that KUBE-SERVICES jumps to for {cluster_ip}")
        elif recorded in first.owners:
            cause = (f"{recorded} belongs to {first.owners[recorded] or 'another rule'}, not to "
                     f"{ctx.namespace}/{service}")
        else:
            cause = f"find the rule for {cluster_ip} in the KUBE-SERVICES chain and record the chain it jumps to"
        return Outcome.failed(
            f"you recorded {recorded or '(nothing)'}, but KUBE-SERVICES sends {cluster_ip}:{port} to {chain}",
            expected=f"{key}: {chain}",
            observed=f"{key}: {recorded!r}",
            cause=cause,
            final=True,  # a recorded answer does not change by itself
        )
    seen = {
        node: {rules.destinations.get(sep, f"{sep}?") for sep in rules.sep_chains}
        for node, rules in found.items()
    }
    astray = {node: dests for node, dests in seen.items() if dests != expected}
    if astray:
        return Outcome.failed(
            f"kube-proxy's endpoint chains for {chain} differ from the Service's ready endpoints",
            expected=", ".join(sorted(expected)),
            observed="; ".join(f"{n}: {', '.join(sorted(d)) or 'none'}" for n, d in astray.items()),
            cause="kube-proxy rewrites the chains within a second or two of an endpoint change; check again",
        )
    return Outcome.passed(
        f"on all {len(nodes)} nodes KUBE-SERVICES sends {cluster_ip}:{port} to {chain}, which picks one of "
        f"{len(expected)} KUBE-SEP chains (DNAT to {', '.join(sorted(expected))})",
    )
