"""Python checks of lab 07: your own images on the node, two containers talking over localhost,
and a NodePort Service in front of them.

Each function is named by a `python: {function: ...}` check in lab.yaml. A FAIL that the
cluster may still fix by itself (a container starting, kube-proxy catching up) is returned
non-final, and the engine asks again within the check's timeout; a FAIL waiting cannot fix
(a name that does not resolve, a port nothing listens on) is final and reported at once.
"""

from __future__ import annotations

import json
import re
import shlex
from labcheck.lab import CheckContext, Outcome, TargetUnavailable, pod_cause, register


LOCALHOST = ("localhost", "127.0.0.1", "::1")

# Two requests, one after the other, each printed as "<status> <body>" on a line of its own.
_TWO_REQUESTS = """
const http = require('http');
function ask(left) {
  if (left === 0) return;
  http.get(process.argv[1], (res) => {
    let body = '';
    res.on('data', (chunk) => body += chunk);
    res.on('end', () => { console.log(res.statusCode + ' ' + body.trim()); ask(left - 1); });
  }).on('error', (err) => { console.log('000 ' + err.message); ask(left - 1); });
}
ask(2);
"""

_VISIT = re.compile(r"visit number (\d+)")


# --- reading the cluster --------------------------------------------------------------------


def _nodes(ctx: CheckContext) -> list[dict]:
    return sorted(ctx.list("Node"), key=lambda n: n["metadata"]["name"])


def _internal_ip(node: dict) -> str | None:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address")
    return None


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reference(image: str) -> str:
    """An image name as containerd lists it: docker.io/library/ or docker.io/ added, a tag always."""
    name, tag = (image.rsplit(":", 1) + ["latest"])[:2] if ":" in image.split("/")[-1] else (image, "latest")
    if "/" not in name:
        name = f"library/{name}"
    if "." not in name.split("/")[0] and ":" not in name.split("/")[0] and name.split("/")[0] != "localhost":
        name = f"docker.io/{name}"
    return f"{name}:{tag}"


def node_images(listing: str) -> dict[str, str]:
    """`crictl images -o json` as {reference: image ID}."""
    try:
        images = json.loads(listing).get("images") or []
    except (ValueError, AttributeError):
        return {}
    found = {}
    for image in images:
        for tag in image.get("repoTags") or []:
            found[tag] = image.get("id", "")
    return found


def _pod(ctx: CheckContext, name: str) -> tuple[dict | None, Outcome | None]:
    """The Pod with both containers running, or the FAIL that says why not."""
    pod = ctx.get("Pod", name)
    if pod is None:
        return None, Outcome.failed(f"no Pod {name} in namespace {ctx.namespace}", expected=f"Pod {name}",
                                    observed="nothing", cause="apply multi-container-pod.yaml", final=True)
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return None, Outcome.failed(f"Pod {name} is being deleted", observed="Terminating",
                                    cause="wait until it is gone, then apply it again")
    statuses = pod.get("status", {}).get("containerStatuses") or []
    if pod.get("status", {}).get("phase") != "Running" or not statuses or not all(s.get("ready") for s in statuses):
        cause = pod_cause(pod, ctx)
        return None, Outcome.failed(f"Pod {name} is not running with every container ready",
                                    expected="phase Running, containers ready",
                                    observed=pod.get("status", {}).get("phase", "unknown"),
                                    cause=cause.text or "wait a few seconds and check again", final=cause.final)
    return pod, None


def _redis_count(ctx: CheckContext, pod: str, container: str, key: str, after: bool = False) -> int | None:
    """The counter as Redis holds it (0 when the key is not set yet).

    The reading after the requests is asked with `--raw` (same output): a replay of recorded
    evidence answers each distinct command once, so before and after must differ.
    """
    got = ctx.exec(pod, container, ["redis-cli", *(["--raw"] if after else []), "GET", key])
    if got.returncode != 0:
        raise TargetUnavailable(f"redis-cli in container {container} failed: {_short(got.stderr or got.stdout)}")
    value = got.stdout.strip()
    if value in ("", "(nil)"):
        return 0
    return int(value) if value.isdigit() else None


def _answers(output: str) -> list[tuple[int, str]]:
    """Lines of "<status> <body>" as (status, body); status 0 when no HTTP answer came."""
    answers = []
    for line in output.splitlines():
        head, _, body = line.partition(" ")
        if head.isdigit():
            answers.append((int(head), body))
    return answers


def _why_redis_unreachable(body: str, host: str | None) -> tuple[str, bool]:
    """The app's own words on why it could not reach Redis, turned into a cause."""
    if "ENOTFOUND" in body or "EAI_AGAIN" in body:
        return (f"the name {host!r} in REDIS_HOST does not resolve: no Service or host has that name. "
                "Both containers are in one Pod and share its network, so Redis is at localhost", True)
    if "ECONNREFUSED" in body:
        return ("nothing listens where REDIS_HOST and REDIS_PORT point: Redis listens on port 6379 of the Pod "
                "(REDIS_HOST=localhost)", True)
    return ("the app could not reach Redis: see `kubectl logs multi-container-pod -c web-app`", False)


def _judge_counts(answers: list[tuple[int, str]], before: int | None, after: int | None, where: str,
                  host: str | None, redis_where: str) -> Outcome:
    observed = "; ".join(f"{status} {_short(body, 120)}" for status, body in answers) or "no answer"
    bad = [(status, body) for status, body in answers if status != 200]
    if len(answers) < 2 or bad:
        status, body = bad[0] if bad else (0, "")
        if status == 503:
            cause, final = _why_redis_unreachable(body, host)
        else:
            cause, final = "the app did not answer: see `kubectl logs multi-container-pod -c web-app`", False
        return Outcome.failed(f"{where} did not answer with a count", expected="two answers with status 200",
                              observed=observed, cause=cause, final=final)
    counts = [int(m.group(1)) if (m := _VISIT.search(body)) else None for _, body in answers]
    if None in counts:
        return Outcome.failed(f"{where} answered without a visit number", expected="'visit number N'",
                              observed=observed, cause="the answer does not come from the lab's web-app", final=True)
    if counts[1] != counts[0] + 1:
        return Outcome.failed(f"the count {where} gave did not grow by one per request", expected="N, then N+1",
                              observed=observed, cause="another client may be sending requests; check again")
    if before is None or after is None or after < counts[1] or (before and before >= counts[1]):
        return Outcome.failed(f"the count in Redis ({redis_where}) does not follow the answers",
                              expected=f"visits grows from {before} to at least {counts[1]}",
                              observed=f"visits={after}; {observed}",
                              cause="the app must keep its count in the Redis container of its own Pod", final=True)
    return Outcome.passed(f"{where} answered visit {counts[0]} then {counts[1]}; Redis's visits went {before} -> {after}",
                          observed=observed)


# --- step 1: the images ------------------------------------------------------------------------


@register(needs=('node',))
def images_on_node(ctx: CheckContext, images: dict[str, str], answer: str | None = None) -> Outcome:
    """Every node of the cluster has the images; the recorded image IDs (if asked) are the node's."""
    nodes = _nodes(ctx)
    if not nodes:
        raise TargetUnavailable("the cluster lists no nodes")
    recorded = None
    if answer:
        config = ctx.get("ConfigMap", answer)
        if config is None:
            return Outcome.failed(f"no ConfigMap {answer}", expected=f"ConfigMap {answer} with the image IDs",
                                  observed="nothing", cause="record the IDs `docker image inspect` shows", final=True)
        recorded = config.get("data") or {}
    seen = []
    for node in nodes:
        name = node["metadata"]["name"]
        listing = ctx.exec_on_node(name, ["crictl", "images", "-o", "json"], timeout=20)
        if listing.returncode != 0:
            raise TargetUnavailable(f"crictl images on node {name} failed: {_short(listing.stderr)}")
        present = node_images(listing.stdout)
        for key, image in images.items():
            reference = _reference(image)
            if reference not in present:
                return Outcome.failed(
                    f"node {name} has no image {image}", expected=f"{reference} in `crictl images`",
                    observed=", ".join(sorted(r for r in present if "myrepo" in r)) or "no myrepo/ image",
                    cause=f"build it, then `kind load docker-image {image} --name <cluster>` copies it into every "
                          "node (a push to a registry would not reach this cluster)", final=True)
            if recorded is not None:
                mine = (recorded.get(key) or "").strip()
                if not mine:
                    return Outcome.failed(f"ConfigMap {answer} has no key {key}", expected=f"key {key}: the ID of {image}",
                                          observed=", ".join(sorted(recorded)) or "no keys", final=True,
                                          cause=f"--from-literal={key}=$(docker image inspect {image} -f '{{{{.Id}}}}')")
                theirs = present[reference]
                if mine.removeprefix("sha256:") != theirs.removeprefix("sha256:"):
                    return Outcome.failed(
                        f"the {image} on node {name} is not the one you recorded", expected=mine, observed=theirs,
                        cause="the node has another build: load the image again after each `docker build`, "
                              "and record the ID of the image you built", final=True)
            seen.append(f"{name}: {reference} {present[reference][:19]}")
    return Outcome.passed("every node has the images" + (" you recorded" if recorded is not None else ""),
                          observed="; ".join(seen))


# --- step 2: the Pod ----------------------------------------------------------------------------


@register
def pod_running(ctx: CheckContext, pod: str, containers: list[str]) -> Outcome:
    obj = ctx.get("Pod", pod)
    if obj is not None:
        names = [c.get("name") for c in obj.get("spec", {}).get("containers") or []]
        missing = [c for c in containers if c not in names]
        if missing:
            return Outcome.failed(f"Pod {pod} has no container {', '.join(missing)}", expected=", ".join(containers),
                                  observed=", ".join(names), final=True,
                                  cause="name the containers as in multi-container-pod.yaml; delete the Pod and apply it again")
    found, failed = _pod(ctx, pod)
    if failed:
        return failed
    images = ", ".join(f"{c['name']}={c.get('image')}" for c in found["spec"]["containers"])
    return Outcome.passed(f"Pod {pod} runs with containers {', '.join(containers)}", observed=images)


@register
def env_is_localhost(ctx: CheckContext, pod: str, container: str, variable: str) -> Outcome:
    obj = ctx.get("Pod", pod)
    if obj is None:
        return Outcome.failed(f"no Pod {pod}", observed="nothing", cause="apply multi-container-pod.yaml", final=True)
    spec = next((c for c in obj["spec"]["containers"] if c.get("name") == container), None)
    if spec is None:
        return Outcome.failed(f"Pod {pod} has no container {container}", observed="no such container", final=True)
    env = {e.get("name"): e.get("value") for e in spec.get("env") or []}
    value = env.get(variable)
    if value in LOCALHOST:
        return Outcome.passed(f"{container} has {variable}={value}", observed=f"{variable}={value}")
    cause = "the two containers share the Pod's network namespace: Redis is at localhost"
    if value and ctx.get("Service", value) is None:
        cause = f"no Service named {value} exists in namespace {ctx.namespace}, and none is needed: {cause}"
    return Outcome.failed(f"{container}'s {variable} is {value!r}", expected=f"{variable}=localhost",
                          observed=f"{variable}={value}" if value is not None else f"no {variable}", cause=cause, final=True)


@register
def counts_in_redis(ctx: CheckContext, pod: str, web: str, redis: str, key: str, port: int) -> Outcome:
    """Two requests to the app inside its Pod; each adds one to the key in the Pod's own Redis."""
    found, failed = _pod(ctx, pod)
    if failed:
        return failed
    spec = next((c for c in found["spec"]["containers"] if c.get("name") == web), {})
    host = {e.get("name"): e.get("value") for e in spec.get("env") or []}.get("REDIS_HOST")
    before = _redis_count(ctx, pod, redis, key)
    asked = ctx.exec(pod, web, ["node", "--dns-result-order=ipv4first", "-e", _TWO_REQUESTS, f"http://localhost:{port}/"], timeout=15)
    after = _redis_count(ctx, pod, redis, key, after=True)
    return _judge_counts(_answers(asked.stdout), before, after, f"the app on localhost:{port}", host,
                         f"GET {key} in container {redis}")


# --- step 3: the Service ------------------------------------------------------------------------


def _service(ctx: CheckContext, name: str) -> tuple[dict | None, dict | None, Outcome | None]:
    svc = ctx.get("Service", name)
    if svc is None:
        return None, None, Outcome.failed(f"no Service {name} in namespace {ctx.namespace}", observed="nothing",
                                          cause="apply service.yaml", final=True)
    ports = svc.get("spec", {}).get("ports") or []
    return svc, (ports[0] if ports else {}), None


@register
def service_ports(ctx: CheckContext, service: str, port: int, target_port: int) -> Outcome:
    svc, entry, failed = _service(ctx, service)
    if failed:
        return failed
    spec = svc["spec"]
    shown = f"type {spec.get('type')}, port {entry.get('port')} -> targetPort {entry.get('targetPort')}"
    if spec.get("type") != "NodePort":
        return Outcome.failed(f"Service {service} is of type {spec.get('type')}", expected="type NodePort",
                              observed=shown, cause="only a NodePort (or LoadBalancer) Service opens a port on the nodes",
                              final=True)
    if entry.get("port") != port or entry.get("targetPort") != target_port:
        return Outcome.failed(f"Service {service} maps {entry.get('port')} -> {entry.get('targetPort')}",
                              expected=f"port {port} -> targetPort {target_port}", observed=shown, final=True,
                              cause=f"port is where the Service listens; targetPort is where the Pod listens, and "
                                    f"web-app listens on {target_port}")
    return Outcome.passed(f"Service {service}: {shown}, nodePort {entry.get('nodePort')}", observed=shown)


def _listening_ports(ctx: CheckContext, pod: str, container: str) -> set[int] | None:
    """The TCP ports something listens on in the Pod's network namespace (from /proc/net/tcp{,6})."""
    read = ctx.exec(pod, container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    if read.returncode != 0 and not read.stdout:
        return None
    ports = set()
    for line in read.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A" and ":" in fields[1]:  # 0A: LISTEN
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@register(needs=('node',))
def nodeport_counts(ctx: CheckContext, service: str, pod: str, web: str, redis: str, key: str) -> Outcome:
    """From a node, its InternalIP and the Service's nodePort answer twice, the count growing in Redis."""
    svc, entry, failed = _service(ctx, service)
    if failed:
        return failed
    node_port = entry.get("nodePort")
    if not node_port:
        return Outcome.failed(f"Service {service} has no nodePort", observed=f"type {svc['spec'].get('type')}",
                              cause="make it type NodePort", final=True)
    found, failed = _pod(ctx, pod)
    if failed:
        return failed
    target = entry.get("targetPort")
    listening = _listening_ports(ctx, pod, web)
    if isinstance(target, int) and listening is not None and target not in listening:
        return Outcome.failed(
            f"nothing in Pod {pod} listens on port {target}, the Service's targetPort",
            expected=f"a listener on {target}", observed=f"the Pod listens on {', '.join(map(str, sorted(listening)))}",
            cause="targetPort must be the port the app listens on: 3000", final=True)
    node = found.get("spec", {}).get("nodeName") or _nodes(ctx)[0]["metadata"]["name"]
    node_obj = ctx.get("Node", node) or {}
    address = _internal_ip(node_obj)
    if not address:
        raise TargetUnavailable(f"node {node} has no InternalIP")
    url = f"http://{address}:{node_port}/"
    before = _redis_count(ctx, pod, redis, key)
    # a file of its own per run: other checks may ask the same node at the same time
    script = (f"f=$(mktemp); for i in 1 2; do : > $f; curl -s -m 3 -o $f -w '%{{http_code}} ' {shlex.quote(url)} "
              "|| true; tr '\\n' ' ' < $f; echo; done; rm -f $f")
    asked = ctx.exec_on_node(node, ["bash", "-c", script], timeout=20)
    after = _redis_count(ctx, pod, redis, key, after=True)
    answers = [(0 if status == 0 else status, body) for status, body in _answers(asked.stdout)]
    outcome = _judge_counts(answers, before, after, f"{address}:{node_port} from node {node}", None,
                            f"GET {key} in container {redis}")
    if outcome.status.value == "FAIL" and all(status == 0 for status, _ in answers):
        outcome.cause = "kube-proxy may still be writing the rules for the new Service: check again in a moment"
        outcome.final = False
    return outcome
