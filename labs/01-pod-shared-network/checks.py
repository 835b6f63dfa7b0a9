"""Python checks of lab 01: what the declarative kinds in lab.yaml cannot say.

Each function is named by a `python: {function: ...}` check in lab.yaml.
"""

from __future__ import annotations

import re

from labcheck.lab import CheckContext, Outcome, objects, register

POD = "multicontainerpod"
LOOPBACK = ("127.0.0.1", "::1")
#: nginx's access log, as much as the check needs: from step 2 the readiness probe adds a line
#: every two seconds, so a short tail could miss the sidecar's requests.
_LOG_LINES = 2000


def _requests(log: str) -> list[tuple[str, str]]:
    """(client address, user agent) of each access-log line (nginx's combined format quotes
    request, referer and user agent in that order; the image's "main" format adds more after)."""
    found = []
    for line in log.splitlines():
        quoted = re.findall(r'"([^"]*)"', line)
        if line.split() and len(quoted) >= 3:
            found.append((line.split()[0], quoted[2]))
    return found


def _command(container: dict) -> str:
    return " ".join(str(w) for w in (container.get("command") or []) + (container.get("args") or []))


@register
def sidecar_asked_over_loopback(ctx: CheckContext) -> Outcome:
    """Judged by the effect: nginx logged the sidecar's request (curl or wget) from a loopback
    address, however the sidecar's command spells it. Not there: what the sidecar printed says why."""
    pod = objects.pod(ctx, POD, running=True)
    clients = [a for a, agent in _requests(ctx.logs(POD, "nginx-container", tail_lines=_LOG_LINES))
               if agent.startswith(("curl/", "Wget"))]
    loopback = [a for a in clients if a in LOOPBACK]
    if loopback:
        return Outcome.passed(f"nginx logged the sidecar's request from {loopback[-1]}: it asked over localhost")
    sidecar = next((c for c in objects.containers_of(pod) if c.get("name") == "sidecar"), {})
    if clients:
        named = [f"{a} ({what})" if (what := objects.identify(ctx, a)) else a for a in sorted(set(clients))]
        return Outcome.failed(
            f"nginx logged the sidecar's requests from {', '.join(named)}, never from a loopback address",
            expected="requests from 127.0.0.1 or ::1 (the sidecar asking localhost:80)",
            observed=f"sidecar's command: {_command(sidecar) or '(the image default)'}",
            cause="the sidecar asks nginx at an address outside the Pod's loopback: ask localhost:80 (a Pod's "
                  "containers cannot be changed in place: delete the Pod and apply it again)", final=True)
    printed = ctx.logs(POD, "sidecar", tail_lines=20)
    errors = [line for line in printed.splitlines() if re.match(r"(curl: \(\d+\)|wget: )", line)]
    last = errors[-1] if errors else ""
    early = (re.search(r"refused|couldn't connect", last, re.I) and re.search(r"localhost|127\.0\.0\.1|::1", last)
             and not re.search(r"port (?!80\b)\d+", last))
    if early:  # it asked the right place before nginx listened; a loop asks again after its sleep
        cause = ("the sidecar's request came before nginx listened, and its loop asks again only after its "
                 f"sleep: wait, or ask now from the sidecar: `kubectl exec {POD} -c sidecar -- curl -s localhost:80`")
    elif last:
        cause = "the sidecar's request did not reach nginx: ask localhost:80, where nginx listens in the Pod"
    else:
        cause = "the sidecar has asked nothing yet: its command must run `curl localhost:80` (in a loop, as on the lab page)"
    return Outcome.failed(
        "nginx's access log shows no request from the sidecar (curl or wget)",
        expected="an access-log line from curl on a loopback address",
        observed=f"the sidecar printed: {last}" if last else f"the sidecar's command: {_command(sidecar) or '(none)'}",
        cause=cause, final=bool(last) and not early)  # a Pod's command does not change by waiting


_NETNS = ["sh", "-c", "readlink /proc/self/ns/net 2>/dev/null || ls -l /proc/self/ns/net | sed 's/.*-> //'; "
                      "echo ---; cat /proc/net/dev"]


@register
def containers_share_network_namespace(ctx: CheckContext, pod: str) -> Outcome:
    names = [c["name"] for c in objects.containers_of(objects.pod(ctx, pod))]
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
    observed = "; ".join(f"{n}: {ns} with {', '.join(sorted(ifs))}" for n, (ns, ifs) in seen.items()) + skipped
    if len(namespaces) == 1 and len({v[1] for v in seen.values()}) == 1:
        return Outcome.passed(f"{len(seen)} containers are in {namespaces.pop()}{skipped}", observed=observed)
    return Outcome.failed(
        "the containers of the Pod are not in one network namespace",
        expected="the same net namespace and interfaces in every container", observed=observed,
        cause="containers of one Pod always share the sandbox's namespace unless hostNetwork differs")


def _mounts(pod: dict) -> dict[str, dict[str, str]]:
    """container -> {volume name: mount path}, for the volumes the Pod's author declared (the
    ServiceAccount token volume the API server adds to every container says nothing about sharing)."""
    return {c["name"]: {m["name"]: m["mountPath"] for m in c.get("volumeMounts") or []
                        if not m["name"].startswith("kube-api-access-")
                        and not m["mountPath"].startswith("/var/run/secrets/kubernetes.io/")}
            for c in objects.containers_of(pod)}


def _files(ctx: CheckContext, pod: str, container: str, path: str) -> dict[str, tuple[str, int]]:
    """name -> (inode, size) of the regular files in a directory, as the container sees it."""
    files = {}
    for line in ctx.exec(pod, container, ["ls", "-lin", path]).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 9 and parts[1].startswith("-") and parts[5].isdigit():
            files[parts[-1]] = (parts[0], int(parts[5]))
    return files


@register
def reader_sees_writer_files(ctx: CheckContext, pod: str, writer: str, reader: str) -> Outcome:
    """One volume mounted in both containers, and the reader sees the very file (same inode) the
    writer writes into it: the effect, not the manifest's wording."""
    obj = objects.pod(ctx, pod)
    mounts = _mounts(obj)
    common = sorted(set(mounts.get(writer, {})) & set(mounts.get(reader, {})))
    if not common:
        return Outcome.failed(
            "no volume is mounted in both containers: each container mounts its own volume",
            expected=f"one volume name in the volumeMounts of {writer} and {reader}",
            observed="; ".join(f"{c}: {', '.join(v) or 'no volume'}" for c, v in mounts.items()),
            cause="containers share files only through a volume both of them mount; give both mounts the same "
                  "volume name (delete the Pod and apply it again)", final=True)
    volume = common[0]
    written_to, read_from = mounts[writer][volume], mounts[reader][volume]
    command = _command(next((c for c in objects.containers_of(obj) if c["name"] == writer), {}))
    if written_to.rstrip("/") + "/" not in command + "/" and written_to not in command:
        return Outcome.failed(
            f"{writer}'s command never writes under {written_to}, where volume {volume} is mounted",
            expected=f"{writer} writes a file under {written_to}", observed=command or "(no command)",
            cause=f"{writer} writes outside the shared volume: files written elsewhere stay in its own filesystem",
            final=True)
    writer_files = {n: f for n, f in _files(ctx, pod, writer, written_to).items() if f[1] > 0}
    if not writer_files:
        return Outcome.failed(
            f"volume {volume} holds no file with data yet, as {writer} sees it at {written_to}",
            expected=f"a non-empty file that {writer} wrote", observed="no non-empty file",
            cause=f"{writer} has not written yet, or writes outside {written_to}")
    reader_files = _files(ctx, pod, reader, read_from)
    same = [n for n, (inode, _size) in writer_files.items() if reader_files.get(n, ("", 0))[0] == inode]
    if same:
        return Outcome.passed(f"{reader} sees {read_from}/{same[0]}, the very file (inode {writer_files[same[0]][0]}) "
                              f"{writer} writes at {written_to}/{same[0]} in volume {volume}")
    return Outcome.failed(
        f"{reader} does not see what {writer} wrote in volume {volume}",
        expected=f"{', '.join(writer_files)} under {read_from} in {reader}, with the same inode",
        observed=f"{reader} sees {', '.join(reader_files) or 'nothing'} at {read_from}",
        cause="the two mounts are not the same volume")


@register(needs=("node",))
def sandbox_is_pause_on_node(ctx: CheckContext, pod: str) -> Outcome:
    answer = objects.answer(ctx, "answer-sandbox", "sandbox-id")
    obj = objects.pod(ctx, pod)
    node = objects.node_of(obj)
    listed = ctx.exec_on_node(node, ["crictl", "pods", "--name", pod, "--namespace", ctx.namespace,
                                     "--state", "ready", "-q"])
    if listed.returncode != 0:
        return Outcome.error(f"crictl pods failed on node {node}: {listed.stderr.strip()[:200]}")
    sandboxes = listed.stdout.split()
    sandbox = next((s for s in sandboxes if len(answer) >= 12 and s.startswith(answer)), None)
    if sandbox:
        inspected = ctx.exec_on_node(node, ["crictl", "inspectp", sandbox])
        if "pause" in inspected.stdout:
            return Outcome.passed(f"{answer[:13]} is {pod}'s sandbox on {node}, held open by a pause container")
        return Outcome.failed(f"sandbox {answer[:13]} on {node} shows no pause container",
                              observed=inspected.stdout.strip()[:300],
                              cause="the node's runtime did not report a pause image for this sandbox")
    container_ids = {cs.get("containerID", "").split("://")[-1]: cs["name"]
                     for cs in obj.get("status", {}).get("containerStatuses") or []}
    hit = next((name for cid, name in container_ids.items() if answer and cid.startswith(answer)), None)
    cause = (f"that is the ID of container {hit}, not of the Pod sandbox: `crictl pods` lists sandboxes, "
             "`crictl ps` lists containers") if hit else (
        f"use the ID that `crictl pods --name {pod} --state ready -q` prints (at least 12 characters); "
        "an older, NotReady sandbox belongs to a Pod that was deleted")
    return Outcome.failed(
        f"{answer[:20]!r} is not the sandbox of Pod {pod}",
        expected=f"one of: {', '.join(s[:13] for s in sandboxes) or '(no sandbox found)'}",
        observed=answer or "(empty)", cause=cause, final=True)
