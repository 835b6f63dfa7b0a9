"""Checks of challenge 07-counter-errors: the visit counter through its node port, where it keeps its
count and where it looks for Redis. Judged by what the app does (its answers, its start line) and by
the count in the Redis container of its own Pod."""

from __future__ import annotations

import re
import shlex

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, objects, register

#: web-app's answer: "Hello from <its Pod>: visit number N, counted in Redis at HOST:PORT".
_ANSWER = re.compile(r"Hello from (\S+): visit number (\d+), counted in Redis at (\S+):(\d+)")
#: web-app's start line: "... counts visits in Redis at HOST:PORT".
_STARTED = re.compile(r"counts visits in Redis at (\S+):(\d+)")
_LOCAL = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|::1)$")


def _ask_node_port(ctx: CheckContext, service: str, tag: str) -> tuple[str, list[tuple[int, str]]]:
    """Two requests, one after the other, from the node to its own address and the Service's node
    port: (url, [(HTTP status or 0, body or curl's error)]). `tag` keeps each check's command its own."""
    port = objects.service_ports(objects.service(ctx, service))[0].get("nodePort")
    if not port:
        raise TargetUnavailable(f"Service {service} has no node port", final=True,
                                cause=f"Service {service} must stay a NodePort Service: users reach it there")
    node, found = sorted(objects.nodes(ctx).items())[0]
    url = f"http://{objects.internal_ip(found)}:{port}/"
    script = (f": {tag}; f=$(mktemp); e=$(mktemp); for i in 1 2; do : > $f; "
              f"code=$(curl -sS -m 3 -o $f -w '%{{http_code}}' {shlex.quote(url)} 2>$e); "
              "echo \"$code $(tr '\\n' ' ' < $f)$(tr '\\n' ' ' < $e)\"; done; rm -f $f $e")
    lines = ctx.exec_on_node(node, ["bash", "-c", script], timeout=15).stdout.splitlines()
    return url, [(int(code), body.strip()) for code, _, body in (line.partition(" ") for line in lines)
                 if code.isdigit()]


def _shown(answers: list[tuple[int, str]]) -> str:
    return "; ".join(f"HTTP {status}: {body[:160]}" if status else f"no answer: {body[:160]}"
                     for status, body in answers) or "nothing"


def _looks_at(ctx: CheckContext, pod: str, web: str) -> tuple[str, str] | None:
    """Where web-app in the Pod looks for Redis, as its start line says: (host, port)."""
    said = _STARTED.findall(ctx.logs(pod, web, tail_lines=50))
    return said[-1] if said else None


@register(needs=("node",))
def counter_answers(ctx: CheckContext, deployment: str, service: str, web: str) -> Outcome:
    """The node port answers each request with a visit number."""
    pods = objects.settled_pods(ctx, deployment)
    url, answers = _ask_node_port(ctx, service, "counter-answers")
    visits = [m for _status, body in answers if (m := _ANSWER.search(body))]
    if len(answers) == 2 and len(visits) == 2 and all(status == 200 for status, _ in answers):
        return Outcome.passed(f"{url} answered visit {visits[0][2]}, then visit {visits[1][2]}")
    errors = [body for status, body in answers if status == 503]
    if errors:
        # Final when the error comes from the Pods as they are now (an old Pod may answer for a
        # moment after a rollout) and names a host that stays unknown (DNS may remember for a few
        # seconds that a Service just made did not exist).
        said = re.search(r"Redis at (\S+):(\d+): ", errors[0])
        current = {_looks_at(ctx, objects.name_of(p), web) for p in pods}
        final = bool(said) and current == {(said[1], said[2])} and ctx.get("Service", said[1].split(".")[0]) is None
        return Outcome.failed(f"{url} answers with an error, not a visit number", expected="HTTP 200, 'visit number N'",
                              observed=_shown(answers), final=final,
                              cause="the counter runs but cannot reach its Redis: its answer says where it looks "
                                    "and what went wrong")
    return Outcome.failed(f"{url} did not answer with a visit number", expected="HTTP 200, 'visit number N'",
                          observed=_shown(answers), cause="the Service may still be catching up with a new Pod")


def _count(ctx: CheckContext, pod: str, redis: str, key: str, after: bool) -> int:
    """The key as the Pod's own Redis holds it (0 when unset). The reading after the requests adds
    `--raw` (same output): a replay of evidence answers each distinct command once."""
    got = ctx.exec(pod, redis, ["redis-cli", *(["--raw"] if after else []), "GET", key])
    if got.returncode != 0:
        raise TargetUnavailable(f"redis-cli in container {redis} of Pod {pod} failed: {(got.stderr or got.stdout)[:200]}",
                                cause=f"the app's Pod must keep its Redis container {redis}")
    value = got.stdout.strip()
    return int(value) if value.isdigit() else 0


@register(needs=("node",))
def counted_beside(ctx: CheckContext, deployment: str, service: str, redis: str, key: str) -> Outcome:
    """The visit numbers the node port gives are the count in the Redis container of the Pod that answered."""
    pods = {objects.name_of(p) for p in objects.settled_pods(ctx, deployment)}
    before = {pod: _count(ctx, pod, redis, key, after=False) for pod in sorted(pods)}
    _url, answers = _ask_node_port(ctx, service, "counted-beside")
    visits = [m for _status, body in answers if (m := _ANSWER.search(body))]
    if len(visits) < 2:
        return Outcome.failed("the node port did not answer with visit numbers", observed=_shown(answers))
    after = {pod: _count(ctx, pod, redis, key, after=True) for pod in {m[1] for m in visits} & pods}
    wrong = [m for m in visits if m[1] not in after or not before[m[1]] < int(m[2]) <= after[m[1]]]
    if not wrong:
        return Outcome.passed(f"visits {', '.join(m[2] for m in visits)} were counted in container {redis} of the "
                              f"answering Pod ({key}: {before} -> {after})")
    where = f"{wrong[0][3]}:{wrong[0][4]}"
    return Outcome.failed(
        f"the visits are not counted in the Redis container of its own Pod: the counter counts in Redis at {where}",
        expected=f"{key} in container {redis} of the answering Pod grows with each visit",
        observed=f"answers: {_shown(answers)}; {key} in Pods {', '.join(sorted(pods))}: {before} -> {after or 'unread'}",
        cause=f"the counter's Pod carries its own Redis (container {redis}), and that is where the count belongs: "
              "a Redis somewhere else makes the errors go, while the Pod's own Redis stays unused", final=True)


@register
def redis_beside(ctx: CheckContext, deployment: str, web: str) -> Outcome:
    """web-app looks for Redis at localhost: the Redis container beside it in its Pod."""
    elsewhere = []
    for pod in sorted(objects.name_of(p) for p in objects.settled_pods(ctx, deployment)):
        said = _looks_at(ctx, pod, web)
        if not said:
            return Outcome.failed(f"web-app in Pod {pod} has not said yet where it looks for Redis",
                                  cause="it says so when it starts: see `kubectl logs <pod> -c web-app`")
        host, port = said
        if not _LOCAL.match(host):
            elsewhere.append(f"{pod}: {host}:{port}")
    if not elsewhere:
        return Outcome.passed("web-app looks for Redis at localhost, in its own Pod")
    return Outcome.failed(
        f"web-app looks for Redis outside its Pod ({'; '.join(elsewhere)})",
        expected="REDIS_HOST=localhost (or unset: the app's default)", observed="; ".join(elsewhere), final=True,
        cause="both containers share the Pod's network namespace, so Redis is at localhost:6379; a name that "
              "leads out of the Pod and back (a Service in front of it) works around the fault, and with a "
              "second replica each app would count in whichever Pod's Redis the Service picked")
