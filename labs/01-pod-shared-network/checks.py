"""Python checks of lab 01: what a partial object alone cannot say.

Each function is named by a `python: {function: ...}` check in lab.yaml.
"""

from __future__ import annotations

import re

from labcheck.checks.context import CheckContext
from labcheck.checks.outcome import Outcome
from labcheck.checks.python_check import register

POD = "multicontainerpod"
LOOPBACK = {"127.0.0.1", "::1"}
_WHY_LOCALHOST = (
    "each Pod has its own network namespace, so localhost in one Pod never reaches a container "
    "in another Pod; put both containers in one Pod's spec.containers"
)


def _containers(pod: dict) -> list[str]:
    return [c["name"] for c in pod.get("spec", {}).get("containers", [])]


def _pod(ctx: CheckContext, name: str) -> dict:
    pod = ctx.get("Pod", name)
    if pod is None:
        from labcheck.errors import TargetUnavailable

        raise TargetUnavailable(f"Pod {name} does not exist in namespace {ctx.namespace}")
    return pod


@register
def one_pod_with_both_containers(ctx: CheckContext) -> Outcome:
    wanted = ["nginx-container", "sidecar"]
    pod = _pod(ctx, POD)
    names = _containers(pod)
    missing = [n for n in wanted if n not in names]
    if not missing:
        return Outcome.passed(f"Pod {POD} runs {', '.join(names)}")
    elsewhere = {
        other["metadata"]["name"]: _containers(other)
        for other in ctx.list("Pod")
        if other["metadata"]["name"] != POD and set(_containers(other)) & set(missing)
    }
    if elsewhere:
        where = ", ".join(f"{n} in Pod {p}" for p, cs in elsewhere.items() for n in cs if n in missing)
        return Outcome.failed(
            f"{', '.join(missing)} runs in a separate Pod ({where}), not in {POD}",
            expected=f"one Pod {POD} with containers {', '.join(wanted)}",
            observed=f"Pod {POD} has {', '.join(names) or 'no containers'}; {where}",
            cause=_WHY_LOCALHOST,
        )
    return Outcome.failed(
        f"Pod {POD} lacks container(s) {', '.join(missing)}",
        expected=f"containers named {', '.join(wanted)}",
        observed=f"containers {', '.join(names) or 'none'}",
        cause="check the container names under spec.containers (they are part of the lesson's commands)",
    )


@register
def sidecar_asks_localhost(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, POD)
    sidecar = next((c for c in pod["spec"]["containers"] if c["name"] == "sidecar"), {})
    words = " ".join((sidecar.get("command") or []) + (sidecar.get("args") or []))
    if re.search(r"(localhost|127\.0\.0\.1)(:80)?(?![\d:])", words):
        return Outcome.passed("the sidecar's loop asks localhost:80")
    return Outcome.failed(
        "the sidecar does not ask localhost:80",
        expected="a command that curls localhost:80",
        observed=words or "(no command: the image's default)",
        cause="the lesson is that the sidecar reaches nginx over localhost: use `curl localhost:80` in its loop",
    )


@register
def sidecar_got_nginx_page(ctx: CheckContext) -> Outcome:
    text = ctx.logs(POD, "sidecar")
    if "Welcome to nginx" in text:
        return Outcome.passed("the sidecar printed nginx's welcome page")
    lowered = text.lower()
    if "connection refused" in lowered or "couldn't connect" in lowered:
        cause = ("the sidecar asked before nginx was listening, and sleeps 300 s between requests: "
                 "delete and re-apply the Pod, or wait for the next request")
    elif not text.strip():
        cause = "the sidecar has printed nothing yet: its first curl may still be running"
    else:
        cause = "whatever answers on localhost:80 is not nginx: is nginx-container in this Pod?"
    return Outcome.failed(
        "the sidecar's output does not contain nginx's welcome page",
        expected="'Welcome to nginx' in `kubectl logs multicontainerpod -c sidecar`",
        observed=text.strip()[-300:] or "(empty log)",
        cause=cause,
    )


def _curl_clients(log: str) -> list[str]:
    """Client addresses of requests curl made, from nginx's access log."""
    return [line.split()[0] for line in log.splitlines() if "curl/" in line and line.split()]


@register
def nginx_saw_loopback_client(ctx: CheckContext) -> Outcome:
    clients = _curl_clients(ctx.logs(POD, "nginx-container"))
    if not clients:
        return Outcome.failed(
            "nginx's access log shows no request from curl",
            expected="an access-log line with user agent curl/...",
            observed="no such line",
            cause="the sidecar has not reached nginx yet (see the previous check), or nginx logs elsewhere",
        )
    if all(c in LOOPBACK for c in clients):
        return Outcome.passed(f"nginx logged curl's requests from {clients[0]}")
    strangers = sorted({c for c in clients if c not in LOOPBACK})
    return Outcome.failed(
        f"nginx logged curl's requests from {', '.join(strangers)}",
        expected="requests from 127.0.0.1 or ::1 (the sidecar over localhost)",
        observed=", ".join(clients),
        cause="something outside the Pod is calling nginx; the sidecar's own requests arrive over loopback",
    )


@register
def answer_is_loopback(ctx: CheckContext) -> Outcome:
    answer = (ctx.get("ConfigMap", "answer-client-address") or {}).get("data", {}).get("address", "").strip()
    clients = set(_curl_clients(ctx.logs(POD, "nginx-container")))
    if answer in LOOPBACK and (not clients or answer in clients):
        return Outcome.passed(f"you recorded {answer}, the loopback address nginx logged")
    pod = _pod(ctx, POD)
    logged = ", ".join(sorted(clients)) or "127.0.0.1"
    if answer == pod.get("status", {}).get("podIP"):
        why = "that is the Pod's IP; "
    else:
        why = ""
    return Outcome.failed(
        f"you recorded {answer!r}, but nginx logged the sidecar's requests from {logged}",
        expected=f"address={logged}",
        observed=f"address={answer!r}",
        cause=why + "a request to localhost never leaves the Pod: it arrives from the loopback address",
    )


@register
def containers_share_network_namespace(ctx: CheckContext, pod: str) -> Outcome:
    names = _containers(_pod(ctx, pod))
    seen: dict[str, tuple[str, frozenset[str]]] = {}
    for name in names:
        netns = ctx.exec(pod, name, ["readlink", "/proc/self/ns/net"]).stdout.strip()
        devices = ctx.exec(pod, name, ["cat", "/proc/net/dev"]).stdout
        interfaces = frozenset(line.split(":")[0].strip() for line in devices.splitlines() if ":" in line)
        seen[name] = (netns, interfaces)
    namespaces = {v[0] for v in seen.values()}
    interface_sets = {v[1] for v in seen.values()}
    observed = "; ".join(f"{n}: {ns} with {', '.join(sorted(ifs))}" for n, (ns, ifs) in seen.items())
    if len(namespaces) == 1 and "" not in namespaces and len(interface_sets) == 1:
        return Outcome.passed(f"all {len(names)} containers are in {namespaces.pop()}", observed=observed)
    return Outcome.failed(
        "the containers of the Pod are not in one network namespace",
        expected="the same net namespace and interfaces in every container",
        observed=observed,
        cause="containers of one Pod always share the sandbox's namespace unless hostNetwork differs",
    )


@register
def answers_are_pod_ip(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, POD)
    status = pod.get("status", {})
    pod_ip, host_ip = status.get("podIP"), status.get("hostIP")
    data = (ctx.get("ConfigMap", "answer-pod-ip") or {}).get("data", {})
    wrong = {k: v.strip() for k, v in data.items() if k in ("nginx-container", "sidecar") and v.strip() != pod_ip}
    if not wrong:
        return Outcome.passed(f"both containers see the Pod IP {pod_ip}")
    if host_ip and host_ip in wrong.values():
        cause = f"{host_ip} is the node's IP (status.hostIP); inside the Pod each container sees the Pod's IP"
    else:
        cause = "run `hostname -i` inside each container (kubectl exec -c <name>) and record what it prints"
    return Outcome.failed(
        "recorded addresses differ from the Pod IP: " + ", ".join(f"{k}={v}" for k, v in wrong.items()),
        expected=f"nginx-container={pod_ip}, sidecar={pod_ip}",
        observed=", ".join(f"{k}={v}" for k, v in data.items()),
        cause=cause,
    )


def _mounts(pod: dict) -> dict[str, dict[str, str]]:
    """container -> {volume name: mount path}, for the volumes the Pod's author declared.

    The ServiceAccount token volume (kube-api-access-*) is added to every
    container by the API server; it says nothing about the learner's sharing.
    """
    return {
        c["name"]: {
            m["name"]: m["mountPath"]
            for m in c.get("volumeMounts", []) or []
            if not m["name"].startswith("kube-api-access-")
            and not m["mountPath"].startswith("/var/run/secrets/kubernetes.io/")
        }
        for c in pod.get("spec", {}).get("containers", [])
    }


@register
def volume_shared_by_containers(ctx: CheckContext, pod: str) -> Outcome:
    mounts = _mounts(_pod(ctx, pod))
    users: dict[str, list[str]] = {}
    for container, volumes in mounts.items():
        for volume in volumes:
            users.setdefault(volume, []).append(container)
    shared = {v: cs for v, cs in users.items() if len(cs) > 1}
    if shared:
        volume, containers = next(iter(shared.items()))
        return Outcome.passed(f"volume {volume} is mounted in {', '.join(containers)}")
    observed = "; ".join(f"{c}: {', '.join(v) or 'no volume'}" for c, v in mounts.items())
    return Outcome.failed(
        "no volume is mounted in more than one container: each container mounts its own volume",
        expected="one volume name in the volumeMounts of both containers",
        observed=observed,
        cause="containers share files only through a volume both of them mount; give both mounts the same volume name",
    )


@register
def reader_sees_writer_files(ctx: CheckContext, pod: str, writer: str, reader: str) -> Outcome:
    mounts = _mounts(_pod(ctx, pod))
    common = set(mounts.get(writer, {})) & set(mounts.get(reader, {}))
    if not common:
        return Outcome.failed(f"{writer} and {reader} mount no common volume", cause="see the previous check")
    volume = sorted(common)[0]
    listings = {}
    for container in (writer, reader):
        path = mounts[container][volume]
        listings[container] = ctx.exec(pod, container, ["ls", "-1", path]).stdout.split()
    written = listings[writer]
    if written and listings[reader] == written:
        return Outcome.passed(f"{reader} sees {', '.join(written)} written by {writer}")
    return Outcome.failed(
        f"{reader} does not see what {writer} wrote in volume {volume}",
        expected=f"the same non-empty file list in both mounts of {volume}",
        observed="; ".join(f"{c}: {', '.join(f) or 'empty'}" for c, f in listings.items()),
        cause="the writer has not written yet" if not written else "the mounts do not name the same volume",
    )


@register
def sandbox_is_pause_on_node(ctx: CheckContext, pod: str) -> Outcome:
    answer = (ctx.get("ConfigMap", "answer-sandbox") or {}).get("data", {}).get("sandbox-id", "").strip()
    obj = _pod(ctx, pod)
    node = obj.get("spec", {}).get("nodeName")
    if not node:
        return Outcome.failed(f"Pod {pod} is not on a node yet", cause="wait for it to be scheduled")
    listed = ctx.exec_on_node(node, ["crictl", "pods", "--name", pod, "--namespace", ctx.namespace, "--state", "ready", "-q"])
    if listed.returncode != 0:
        return Outcome.error(f"crictl pods failed on node {node}: {listed.stderr.strip()[:200]}")
    sandboxes = listed.stdout.split()
    if len(answer) >= 12 and any(s.startswith(answer) for s in sandboxes):
        sandbox = next(s for s in sandboxes if s.startswith(answer))
        inspected = ctx.exec_on_node(node, ["crictl", "inspectp", sandbox])
        if "pause" in inspected.stdout:
            return Outcome.passed(f"{answer[:13]} is {pod}'s sandbox on {node}, held open by a pause container")
        return Outcome.failed(
            f"sandbox {answer[:13]} on {node} shows no pause container",
            observed=inspected.stdout.strip()[:300],
            cause="the node's runtime did not report a pause image for this sandbox",
        )
    container_ids = {
        cs.get("containerID", "").split("://")[-1]: cs["name"]
        for cs in obj.get("status", {}).get("containerStatuses", []) or []
    }
    hit = next((name for cid, name in container_ids.items() if answer and cid.startswith(answer)), None)
    cause = (f"that is the ID of container {hit}, not of the Pod sandbox: `crictl pods` lists sandboxes, "
             "`crictl ps` lists containers") if hit else (
        "use the ID that `crictl pods --name multicontainerpod --state ready -q` prints (at least 12 characters); "
        "an older, NotReady sandbox belongs to a Pod that was deleted")
    return Outcome.failed(
        f"{answer[:20]!r} is not the sandbox of Pod {pod}",
        expected=f"one of: {', '.join(s[:13] for s in sandboxes) or '(no sandbox found)'}",
        observed=answer or "(empty)",
        cause=cause,
    )
