"""Python checks of lab 07: your own images on the node, two containers talking over localhost,
and a NodePort Service in front of them. The app is judged by what it does: its answers, and
the count in the Pod's own Redis. A FAIL the cluster may still fix by itself (a container
starting, kube-proxy catching up) is not final: the engine asks again within the check's timeout.
"""

from __future__ import annotations

import json
import re
import shlex

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, objects, register

# Two requests, one after the other, each printed as "<status> <body>" on a line of its own.
_TWO_REQUESTS = ("const ask = (n) => n && require('http').get(process.argv[1], (res) => { let body = ''; "
                 "res.on('data', (chunk) => body += chunk); res.on('end', () => { console.log(res.statusCode + ' ' + "
                 "body.trim()); ask(n - 1); }); }).on('error', (e) => { console.log('000 ' + e.message); ask(n - 1); }); "
                 "ask(2);")
_VISIT = re.compile(r"visit number (\d+)")


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reference(image: str) -> str:
    """An image name as containerd lists it: docker.io/library/ or docker.io/ added, a tag always."""
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    first = name.split("/")[0] if "/" in name else ""
    return f"{'' if '.' in first or ':' in first or first == 'localhost' else 'docker.io/'}" \
           f"{name if '/' in name else 'library/' + name}:{tag}"


def node_images(listing: str) -> dict[str, str]:
    """`crictl images -o json` as {reference: image ID}."""
    try:
        return {tag: image.get("id", "") for image in json.loads(listing).get("images") or []
                for tag in image.get("repoTags") or []}
    except (ValueError, AttributeError):
        return {}


def same_image(recorded: str, actual: str) -> bool:
    """The ID `docker image inspect` prints (sha256:...) or the 12 characters `docker images` shows."""
    mine = recorded.strip().lower().removeprefix("sha256:")
    return len(mine) >= 12 and actual.lower().removeprefix("sha256:").startswith(mine)


def _ready(ctx: CheckContext, name: str) -> dict:
    found = objects.pod(ctx, name, running=True)
    if not objects.is_ready(found):
        cause, final = objects.why_not_ready(ctx, [found])
        raise TargetUnavailable(f"Pod {name} is running, not ready", cause=cause, final=final)
    return found


def _redis_count(ctx: CheckContext, pod: str, container: str, key: str, after: bool = False) -> int | None:
    """The counter as Redis holds it (0 when the key is not set yet). The reading after the requests
    adds `--raw` (same output): a replay of evidence answers each distinct command once."""
    got = ctx.exec(pod, container, ["redis-cli", *(["--raw"] if after else []), "GET", key])
    if got.returncode != 0:
        raise TargetUnavailable(f"redis-cli in container {container} failed: {_short(got.stderr or got.stdout)}")
    value = got.stdout.strip()
    return 0 if value in ("", "(nil)") else int(value) if value.isdigit() else None


def _answers(output: str) -> list[tuple[int, str]]:
    """Lines of "<status> <body>" as (status, body); status 0 when no HTTP answer came."""
    return [(int(head), body) for head, _, body in (line.partition(" ") for line in output.splitlines())
            if head.isdigit()]


def _why_redis_unreachable(body: str) -> tuple[str, bool]:
    """The app's own words on why it could not reach Redis ("cannot reach Redis at HOST:PORT: ..."),
    turned into a cause: where it looked is what it says, whatever set it (env, ConfigMap, default)."""
    where = re.search(r"Redis at (\S+):(\d+)", body)
    host, port = (where[1], where[2]) if where else ("?", "?")
    if "ENOTFOUND" in body or "EAI_AGAIN" in body:
        return (f"the name {host!r} in REDIS_HOST does not resolve: no Service or host has that name. "
                "Both containers are in one Pod and share its network, so Redis is at localhost", True)
    if "ECONNREFUSED" in body:
        return (f"nothing listens at {host}:{port}, where the app looks for Redis: Redis listens on port 6379 "
                "of the Pod (REDIS_HOST=localhost)", True)
    return ("the app could not reach Redis: see `kubectl logs multi-container-pod -c web-app`", False)


def _counted(ctx: CheckContext, pod: str, redis: str, key: str, where: str, ask, silent: str) -> Outcome:
    """`ask()` sends two requests to the app; judged by its answers and by the count in the Pod's own
    Redis. `silent` is the cause when no request got an answer at all."""
    before = _redis_count(ctx, pod, redis, key)
    answers = _answers(ask().stdout)
    after = _redis_count(ctx, pod, redis, key, after=True)
    return _judge_counts(answers, before, after, where, f"GET {key} in container {redis}", silent)


def _judge_counts(answers: list[tuple[int, str]], before: int | None, after: int | None, where: str,
                  redis_where: str, silent: str = "the app did not answer") -> Outcome:
    observed = "; ".join(f"{status} {_short(body, 120)}" for status, body in answers) or "no answer"
    bad = [(status, body) for status, body in answers if status != 200]
    if len(answers) < 2 or bad:
        status, body = bad[0] if bad else (0, "")
        cause, final = _why_redis_unreachable(body) if status == 503 else (silent if not status else (
            f"the app answered HTTP {status}: see `kubectl logs multi-container-pod -c web-app`"), False)
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


@register(needs=("node",))
def images_on_node(ctx: CheckContext, images: dict[str, str], answer: str | None = None) -> Outcome:
    """Every node of the cluster has the images; the recorded image IDs (if asked) are the node's."""
    recorded = {key: objects.answer(ctx, answer, key) for key in images} if answer else None
    seen = []
    for name in sorted(objects.nodes(ctx)):
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
            if recorded is not None and not same_image(recorded[key], present[reference]):
                several = len(recorded[key].split()) > 1
                return Outcome.failed(
                    f"the {image} on node {name} is not the one you recorded", expected=recorded[key],
                    observed=present[reference], final=True,
                    cause=f"you recorded {len(recorded[key].split())} IDs under {key}: `docker images -q "
                          f"{image.split(':')[0]}` lists one per tag of the repository; record the one of "
                          f"{image} (`docker image inspect {image} -f '{{{{.Id}}}}'`)" if several else
                          "the node has another build: load the image again after each `docker build`, "
                          "and record the ID of the image you built")
            seen.append(f"{name}: {reference} {present[reference][:19]}")
    if not seen:
        raise TargetUnavailable("the cluster lists no nodes")
    return Outcome.passed("every node has the images" + (" you recorded" if recorded is not None else ""),
                          observed="; ".join(seen))


@register
def counts_in_redis(ctx: CheckContext, pod: str, web: str, redis: str, key: str, port: int) -> Outcome:
    """Two requests to the app inside its Pod; each adds one to the key in the Pod's own Redis."""
    _ready(ctx, pod)
    command = ["node", "--dns-result-order=ipv4first", "-e", _TWO_REQUESTS, f"http://localhost:{port}/"]
    return _counted(ctx, pod, redis, key, f"the app on localhost:{port}", lambda: ctx.exec(pod, web, command, timeout=15),
                    "the app did not answer: see `kubectl logs multi-container-pod -c web-app`")


@register(needs=("node",))
def nodeport_counts(ctx: CheckContext, service: str, pod: str, web: str, redis: str, key: str) -> Outcome:
    """From a node, its InternalIP and the Service's nodePort answer twice, the count growing in Redis."""
    svc, node_port = objects.node_port(ctx, service, made_by="service.yaml")
    entry = objects.service_ports(svc)[0]
    found = _ready(ctx, pod)
    target = entry.get("targetPort", entry.get("port"))
    targets = objects.target_ports(entry, [found])
    if not targets:
        return Outcome.failed(f"targetPort {target!r} names no port of Pod {pod}", final=True,
                              cause=f"name web-app's containerPort {target!r}, or give targetPort as the number 3000")
    listening = commands.listening_ports(ctx.exec(pod, web, commands.LISTENING_COMMAND))
    if listening is not None and not targets & listening:
        shown = "/".join(map(str, sorted(targets))) + (f" (targetPort {target})" if isinstance(target, str) else "")
        return Outcome.failed(f"nothing in Pod {pod} listens on port {shown}, the Service's targetPort", final=True,
                              observed=f"the Pod listens on {', '.join(map(str, sorted(listening)))}",
                              cause="targetPort must be the port the app listens on: 3000")
    node = found["spec"]["nodeName"]
    address = objects.internal_ip(ctx.get("Node", node) or {})
    if not address:
        raise TargetUnavailable(f"node {node} has no InternalIP")
    url = f"http://{address}:{node_port}/"
    # a file of its own per run: other checks may ask the same node at the same time
    script = (f"f=$(mktemp); for i in 1 2; do : > $f; curl -s -m 3 -o $f -w '%{{http_code}} ' {shlex.quote(url)} "
              "|| true; tr '\\n' ' ' < $f; echo; done; rm -f $f")
    return _counted(ctx, pod, redis, key, f"{address}:{node_port} from node {node}",
                    lambda: ctx.exec_on_node(node, ["bash", "-c", script], timeout=20),
                    "no answer: kube-proxy may still be writing the rules for the new Service; check again in a moment")
