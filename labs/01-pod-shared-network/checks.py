"""Python checks of lab 01: what a partial object alone cannot say.

Each function is named by a `python: {function: ...}` check in lab.yaml.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit
from labcheck.lab import CheckContext, Outcome, TargetUnavailable, pod_cause, register


POD = "multicontainerpod"
LOOPBACK = {"127.0.0.1", "::1"}
_WHY_LOCALHOST = (
    "each Pod has its own network namespace, so localhost in one Pod never reaches a container "
    "in another Pod; put both containers in one Pod's spec.containers"
)


def _container_specs(pod: dict) -> list[dict]:
    """The Pod's long-running containers: spec.containers plus native sidecars
    (init containers with restartPolicy Always, which run beside the others)."""
    spec = pod.get("spec", {})
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return list(spec.get("containers") or []) + sidecars


def _containers(pod: dict) -> list[str]:
    return [c["name"] for c in _container_specs(pod)]


def _statuses(pod: dict) -> dict[str, dict]:
    status = pod.get("status", {})
    every = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    return {s["name"]: s for s in every}


def _pod(ctx: CheckContext, name: str) -> dict:
    pod = ctx.get("Pod", name)
    if pod is None:
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


_SEPARATORS = {";", "&&", "||", "|", "&", "\n", "(", ")", "do", "done", "then", "else", "fi", "while", "until"}
_VALUE_OPTIONS = {"-o", "-H", "-A", "-m", "-X", "-d", "-w", "-u", "-e", "-U", "-T", "-O", "-P", "-Y",
                  "--output", "--header", "--user-agent", "--max-time", "--request", "--data", "--connect-timeout"}


def _expand(word: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), m.group(0)), word)


def http_targets(words: list[str], env: dict[str, str]) -> list[str]:
    """The URLs that the curl/wget invocations in a container's command ask, variables expanded."""
    if len(words) >= 3 and words[0].split("/")[-1] in ("sh", "bash", "ash") and words[1] == "-c":
        script = " ".join(words[2:3])
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # unbalanced quotes: fall back to plain words
            tokens = script.split()
    else:
        tokens = words
    targets: list[str] = []
    in_client = False
    skip_value = False
    for token in tokens:
        if token in _SEPARATORS or token.strip(";") in _SEPARATORS:
            in_client = False
            continue
        if token.split("/")[-1] in ("curl", "wget"):
            in_client = True
            continue
        if not in_client:
            continue
        if skip_value:
            skip_value = False
            continue
        if token in _VALUE_OPTIONS:
            skip_value = True
            continue
        if token.startswith("-"):
            continue
        targets.append(_expand(token, env))
    return targets


def is_loopback_port_80(target: str) -> bool:
    url = target if "://" in target else f"http://{target}"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return False
    if host is None or parts.scheme not in ("http", ""):
        return False
    loopback = host == "localhost" or host == "::1" or host.startswith("127.")
    return loopback and port in (None, 80)


@register
def sidecar_asks_localhost(ctx: CheckContext) -> Outcome:
    pod = _pod(ctx, POD)
    sidecar = next((c for c in _container_specs(pod) if c["name"] == "sidecar"), {})
    words = [str(w) for w in (sidecar.get("command") or []) + (sidecar.get("args") or [])]
    env = {e["name"]: str(e.get("value", "")) for e in sidecar.get("env") or [] if "name" in e}
    targets = http_targets(words, env)
    if any(is_loopback_port_80(t) for t in targets):
        hit = next(t for t in targets if is_loopback_port_80(t))
        return Outcome.passed(f"the sidecar's loop asks {hit}, nginx's port on the loopback interface")
    return Outcome.failed(
        "the sidecar does not ask localhost:80",
        expected="a curl (or wget) in the sidecar's command whose address is localhost, 127.0.0.1 or [::1], port 80",
        observed=("it asks " + ", ".join(targets)) if targets else (
            "its command runs no curl or wget: " + (" ".join(words) or "(no command: the image's default)")),
        cause="the lesson is that the sidecar reaches nginx over localhost: use `curl localhost:80` in its loop",
    )


#: nginx's access log, as much as the checks need: the readiness probe adds a line every few
#: seconds, so a short tail could miss the sidecar's requests.
_LOG_LINES = 2000
_CLIENTS = ("curl/", "Wget", "labcheck-probe")


def _requests(log: str) -> list[tuple[str, str]]:
    """(client address, user agent) of each access-log line.

    nginx's combined format quotes request, referer and user agent in that order;
    the image's "main" format adds X-Forwarded-For after them.
    """
    requests = []
    for line in log.splitlines():
        quoted = re.findall(r'"([^"]*)"', line)
        if line.split() and len(quoted) >= 3:
            requests.append((line.split()[0], quoted[2]))
    return requests


def _sidecar_clients(log: str) -> list[str]:
    """Addresses of requests made by an HTTP client in a container (not the kubelet's kube-probe)."""
    return [address for address, agent in _requests(log) if any(agent.startswith(c) for c in _CLIENTS)]


def _nginx_log(ctx: CheckContext) -> str:
    return ctx.logs(POD, "nginx-container", tail_lines=_LOG_LINES)


@register
def nginx_saw_loopback_client(ctx: CheckContext) -> Outcome:
    clients = _sidecar_clients(_nginx_log(ctx))
    loopback = [c for c in clients if c in LOOPBACK]
    if loopback:
        # Other clients (kube-probe from the node, a learner's own curl from another Pod) are not the lesson.
        return Outcome.passed(f"nginx logged the sidecar's requests from {loopback[-1]}")
    if not clients:
        return Outcome.failed(
            "nginx's access log shows no request from the sidecar",
            expected="an access-log line from curl on a loopback address",
            observed="only requests from other clients" if _requests(_nginx_log(ctx)) else "an empty log",
            cause="the sidecar has not reached nginx yet (see the previous check), or nginx logs elsewhere",
        )
    strangers = sorted(set(clients))
    return Outcome.failed(
        f"nginx logged curl's requests from {', '.join(strangers)}, never from a loopback address",
        expected="requests from 127.0.0.1 or ::1 (the sidecar over localhost)",
        observed=", ".join(strangers),
        cause="requests that reach nginx from outside the Pod do not use localhost: the sidecar must ask localhost:80",
    )


@register
def answer_is_loopback(ctx: CheckContext) -> Outcome:
    answer = (ctx.get("ConfigMap", "answer-client-address") or {}).get("data", {}).get("address", "").strip()
    log = _nginx_log(ctx)
    clients = set(_sidecar_clients(log))
    if answer in LOOPBACK | {"localhost"} and (not clients or answer == "localhost" or answer in clients):
        return Outcome.passed(f"you recorded {answer}, the loopback address nginx logged for the sidecar")
    pod = _pod(ctx, POD)
    logged = ", ".join(sorted(c for c in clients if c in LOOPBACK)) or "127.0.0.1"
    probes = {address for address, agent in _requests(log) if agent.startswith("kube-probe")}
    if answer == pod.get("status", {}).get("podIP"):
        why = "that is the Pod's IP, where requests from other Pods arrive; "
    elif answer in probes:
        why = ("that address sent the `kube-probe` lines: the kubelet's readiness probe, coming from the node "
               "to the Pod's IP. The sidecar's lines carry user agent curl; ")
    else:
        why = ""
    return Outcome.failed(
        f"you recorded {answer!r}, but nginx logged the sidecar's requests from {logged}",
        expected=f"address={logged}",
        observed=f"address={answer!r}",
        cause=why + "a request to localhost never leaves the Pod: it arrives from the loopback address",
    )


_NETNS = ["sh", "-c", "readlink /proc/self/ns/net 2>/dev/null || ls -l /proc/self/ns/net | sed 's/.*-> //'; "
                      "echo ---; cat /proc/net/dev"]


@register
def containers_share_network_namespace(ctx: CheckContext, pod: str) -> Outcome:
    names = _containers(_pod(ctx, pod))
    if len(names) < 2:
        return Outcome.failed(
            f"Pod {pod} has only {', '.join(names) or 'no container'}: there is nothing to compare",
            expected="two containers in the Pod", observed=", ".join(names) or "none",
            cause="put nginx-container and sidecar in one Pod (step 1)", final=True)
    answers = dict(zip(names, ctx.exec_many([(pod, name, _NETNS) for name in names])))  # side by side
    seen: dict[str, tuple[str, frozenset[str]]] = {}
    unreadable: list[str] = []
    for name, answer in answers.items():
        netns, _, devices = answer.stdout.partition("---")
        if answer.returncode != 0 or not netns.strip() or not devices.strip():
            unreadable.append(name)  # an image without a shell: nothing to compare there
            continue
        interfaces = frozenset(line.split(":")[0].strip() for line in devices.splitlines() if ":" in line)
        seen[name] = (netns.strip(), interfaces)
    skipped = f" ({', '.join(unreadable)} skipped: no shell or cat in the image)" if unreadable else ""
    if len(seen) < 2:
        return Outcome.error(f"could look into only {len(seen)} container(s) of {pod}{skipped}: "
                             "two are needed to compare")
    namespaces = {v[0] for v in seen.values()}
    interface_sets = {v[1] for v in seen.values()}
    observed = "; ".join(f"{n}: {ns} with {', '.join(sorted(ifs))}" for n, (ns, ifs) in seen.items()) + skipped
    if len(namespaces) == 1 and len(interface_sets) == 1:
        return Outcome.passed(f"{len(seen)} containers are in {namespaces.pop()}{skipped}", observed=observed)
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


def _files(ctx: CheckContext, pod: str, container: str, path: str) -> dict[str, tuple[str, int]]:
    """name -> (inode, size) of the regular files in a directory, as the container sees it."""
    listing = ctx.exec(pod, container, ["ls", "-lin", path])
    files = {}
    for line in listing.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 9 and parts[1].startswith("-") and parts[5].isdigit():
            files[parts[-1]] = (parts[0], int(parts[5]))
    return files


@register
def reader_sees_writer_files(ctx: CheckContext, pod: str, writer: str, reader: str) -> Outcome:
    obj = _pod(ctx, pod)
    mounts = _mounts(obj)
    common = set(mounts.get(writer, {})) & set(mounts.get(reader, {}))
    if not common:
        return Outcome.failed(f"{writer} and {reader} mount no common volume", cause="see the previous check")
    volume = sorted(common)[0]
    written_to, read_from = mounts[writer][volume], mounts[reader][volume]
    spec = next((c for c in _container_specs(obj) if c["name"] == writer), {})
    command = " ".join(str(w) for w in (spec.get("command") or []) + (spec.get("args") or []))
    if written_to.rstrip("/") + "/" not in command + "/" and written_to not in command:
        return Outcome.failed(
            f"{writer}'s command never writes under {written_to}, where volume {volume} is mounted",
            expected=f"{writer} writes a file under {written_to}",
            observed=command or "(no command)",
            cause=f"{writer} writes outside the shared volume: files written elsewhere stay in its own filesystem",
            final=True,
        )
    writer_files = {n: f for n, f in _files(ctx, pod, writer, written_to).items() if f[1] > 0}
    if not writer_files:
        return Outcome.failed(
            f"volume {volume} holds no file with data yet, as {writer} sees it at {written_to}",
            expected=f"a non-empty file that {writer} wrote",
            observed="no non-empty file",
            cause=f"{writer} has not written yet, or writes outside {written_to}",
        )
    reader_files = _files(ctx, pod, reader, read_from)
    same = [n for n, (inode, _size) in writer_files.items() if reader_files.get(n, ("", 0))[0] == inode]
    if same:
        name = same[0]
        return Outcome.passed(f"{reader} sees {read_from}/{name}, the very file (inode {writer_files[name][0]}) "
                              f"{writer} writes at {written_to}/{name}")
    return Outcome.failed(
        f"{reader} does not see what {writer} wrote in volume {volume}",
        expected=f"{', '.join(writer_files)} under {read_from} in {reader}, with the same inode",
        observed=f"{reader} sees {', '.join(reader_files) or 'nothing'} at {read_from}",
        cause="the two mounts are not the same volume",
    )


@register(needs=('node',))
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


@register
def containers_running_and_ready(ctx: CheckContext, pod: str, containers: list[str]) -> Outcome:
    """Each named container runs and is ready, whether a regular container or a native sidecar."""
    obj = _pod(ctx, pod)
    statuses = _statuses(obj)
    state = {name: statuses.get(name, {}) for name in containers}
    not_ready = [n for n, s in state.items() if not (s.get("ready") and "running" in s.get("state", {}))]
    observed = ", ".join(f"{n}: {'ready' if n not in not_ready else next(iter(s.get('state', {'not started': 0})))}"
                         f"{'' if n not in not_ready or not s else ' (not ready)'}" for n, s in state.items())
    if not not_ready:
        return Outcome.passed(f"{', '.join(containers)} run and are ready", observed=observed)
    cause = pod_cause(obj, ctx)
    return Outcome.failed(
        f"{', '.join(not_ready)} of Pod {pod} not running and ready",
        expected=", ".join(f"{n}: running, ready" for n in containers),
        observed=observed,
        cause=cause.text or "wait a few seconds: the containers are starting",
        final=cause.final,
    )
