"""A learner's session with a lab: finding the lab and its cluster, starting it, and keeping
progress tied to the cluster it was made on. The CLI and the instructors' commands
(labcheck.grading) both call these; they print progress on `console.err`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .console import err, out
from .errors import EvidenceError, LabcheckError, UsageError


def start_lab(lab_ref: str) -> None:
    """Create (or reuse) the lab's kind cluster, load its images and add-ons, prepare its namespace,
    tie the learner's progress to this cluster, and show the step to go on with."""
    from . import actions
    from .loader import find_lab
    from .state import Progress

    lab = find_lab(lab_ref)
    progress = Progress.load()  # a broken progress file stops here, before minutes of cluster work
    started = time.monotonic()
    context, name = prepare_cluster(lab)
    undo_other_labs(lab, context, name)
    with err.status(f"Preparing namespace {lab.namespace}..."):
        actions.ensure_namespace(context, lab.namespace)
        actions.set_default_namespace(context, lab.namespace)
        if lab.setup.manifests or lab.setup.commands or lab.setup.prepare:
            actions.perform(lab, lab.setup, context=context, cluster_name=name)
    progress.current_lab = lab.id
    entry = progress.lab(lab.id)
    bind_progress_to_cluster(lab, entry, context, name)
    progress.save()
    err.print(f"kubectl now uses context {context}, namespace {lab.namespace}. "
              f"Ready in {time.monotonic() - started:.0f} s.")
    announce_step(lab, entry["current_step"])


def undo_other_labs(lab, context: str, name: str) -> None:
    """Other labs on this cluster that changed it beyond their namespace (lab 10's CoreDNS) are undone:
    this lab starts on the cluster as it was made."""
    from . import actions
    from .loader import all_labs

    for other in all_labs():
        done = other.teardown
        if other.id == lab.id or other.cluster != lab.cluster or not (done.prepare or done.manifests or done.commands):
            continue
        with err.status(f"Undoing what lab {other.id} changed outside its namespace..."):
            actions.perform(other, done, context=context, cluster_name=name)


def _node_count(config) -> int:
    """How many nodes a kind config makes (one when it lists none)."""
    import yaml

    return len(yaml.safe_load(config.read_text(encoding="utf-8")).get("nodes") or [None])


def prepare_cluster(lab) -> tuple[str, str]:
    """The lab's kind cluster, created or reused, with the lab's images and add-ons in it:
    (kubeconfig context, cluster name)."""
    from .toolchain import Kind, cluster_config, kube_context

    kind = Kind.find()
    config, name = cluster_config(lab.cluster)
    context = kube_context(name)
    started = time.monotonic()
    if name in kind.clusters():
        stopped = kind.stopped_nodes(name)
        if not stopped:
            err.print(f"Reusing kind cluster [bold]{name}[/bold].")
            kind.export_kubeconfig(name)
            if _node_count(config) > 1:  # one node has no routes between nodes to lose
                with err.status(f"Checking the Pod network of {name}..."):
                    repaired = kind.settle_network(name)
                if repaired:
                    err.print(repaired)
        else:
            # Its node containers outlived their Docker daemon (a reboot, a restarted dockerd): kind
            # still lists the cluster, but nothing runs. A new one is the reliable way back. (A slow
            # API alone is no reason: the learner's work would go with the cluster.)
            with err.status(f"Kind cluster {name} has stopped nodes ({', '.join(stopped)}): creating it anew..."):
                kind.delete(name)
                kind.create(config, name)
            err.print(f"Re-created kind cluster [bold]{name}[/bold] in {time.monotonic() - started:.0f} s "
                      f"(its nodes {', '.join(stopped)} had stopped).")
    else:
        with err.status(f"Creating kind cluster {name} from {config.name} (a minute or two)..."):
            kind.create(config, name)
        err.print(f"Created kind cluster [bold]{name}[/bold] in {time.monotonic() - started:.0f} s.")
    missing = []
    for image in lab.images:
        with err.status(f"Loading image {image} into {name}..."):
            loaded = kind.load_image(image, name)
        if loaded:
            err.print(f"Image {image} is in the cluster.")
        else:
            missing.append(image)
    if missing:
        warn_missing_images(lab, missing, name)
    for addon in lab.addons:
        with err.status(f"Installing add-on {addon} into {name} (a minute the first time)..."):
            err.print(kind.install_lab_addon(addon, name))
    return context, name


# Where `labcheck docs` serves the lab pages; LABCHECK_DOCS_URL names a published copy instead.
DOCS_URL = "http://127.0.0.1:8000/"


def warn_missing_images(lab, images: list[str], cluster_name: str) -> None:
    from .toolchain import prepare_command

    names = ", ".join(images)
    pulls = " && ".join(f"docker pull {image}" for image in images)
    prepare = prepare_command()
    offline = f"; where no registry can be reached, `{prepare}` builds them" if prepare else ""
    err.print(f"[yellow]warning:[/yellow] Docker has no image {names}, so it was not loaded into cluster "
              f"{cluster_name}: Pods of lab {lab.id} will wait until the node pulls it from its registry. "
              f"To load it: `{pulls}`{offline}, then `labcheck start {lab.id}` again.")


def cluster_identity(cluster) -> str | None:
    """What tells one cluster from a new one of the same name: the kube-system namespace's UID."""
    namespace = cluster.get("v1", "Namespace", None, "kube-system") or {}
    uid = namespace.get("metadata", {}).get("uid")
    return uid if isinstance(uid, str) else None


def bind_progress_to_cluster(lab, entry: dict, context: str, cluster_name: str) -> None:
    """Progress belongs to the cluster it was made on: on a new cluster, the steps passed are checked again.

    A cluster deleted and created anew keeps its name but not what the learner
    built on it, so "step 3/6" would be a step on nothing. The earlier steps are
    re-checked (no waiting) and the lab goes on from the first that fails here.
    """
    from .checks.outcome import Status
    from .engine import run_step
    from .state import now

    try:
        cluster = live_cluster(lab, context)
        identity = cluster_identity(cluster)
    except LabcheckError as exc:
        err.print(f"Could not tell whether cluster {cluster_name} is the one your progress was made on: {exc}")
        return
    previous, entry["cluster"] = entry.get("cluster"), identity
    before = entry["current_step"]
    if previous is None or identity is None or previous == identity or (before == 1 and not entry["passed"]):
        return
    passed: dict[str, str] = {}
    with err.status(f"Cluster {cluster_name} is new: checking steps 1-{before - 1} of lab {lab.id} on it..."):
        for step in lab.steps[: before - 1]:
            if run_step(lab, step, cluster, wait=0).status != Status.PASS:
                break
            passed[step.id] = entry["passed"].get(step.id) or now()
    entry["passed"], entry["current_step"] = passed, len(passed) + 1
    after = entry["current_step"]
    news = (f"Cluster {cluster_name} is not the one your progress in lab {lab.id} was made on (that one was at "
            f"step {before}), so the steps before were checked again on this one: ")
    if after == before:
        err.print(news + f"they all pass, so you go on at step {after}.")
    elif after == 1:
        err.print(news + f"step 1 does not pass here, so lab {lab.id} starts over at step 1.")
    else:
        still = "step 1 passes" if after == 2 else f"steps 1-{after - 1} pass"
        err.print(news + f"{still}, step {after} does not, so you go back to step {after}.")


def announce_step(lab, number: int) -> None:
    if number > len(lab.steps):
        out.print(f"All {len(lab.steps)} steps of lab {lab.id} are done.")
        return
    step = lab.steps[number - 1]
    base = os.environ.get("LABCHECK_DOCS_URL", DOCS_URL).rstrip("/")
    served = " (`labcheck docs` serves it)" if base == DOCS_URL.rstrip("/") else ""
    out.print(f"[bold]Lab {lab.id}, step {number}/{len(lab.steps)}: {step.title}[/bold]")
    out.print(f"Follow the page “Lab {lab.id} · {lab.title}”: {base}/labs/{lab.slug}/#step-{step.id}{served}",
              soft_wrap=True)
    out.print("Then run `labcheck`. Stuck? `labcheck hint`.")


def lab_for(ref: str | None):
    """The lab named, or the learner's current one."""
    from .loader import find_lab
    from .state import Progress

    if ref:
        return find_lab(ref)
    current = Progress.load().current_lab
    if not current:
        raise UsageError("no lab started yet: run `labcheck start 01` (or name a lab)")
    return find_lab(current)


def step_of(lab, ref):
    """A step the person named; naming one the lab lacks is a usage error."""
    try:
        return lab.step(ref)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def recorded_lab(cluster, path: Path):
    from .loader import find_lab

    ref = cluster.meta.get("lab")
    if not isinstance(ref, str) or not ref.strip():
        raise EvidenceError(f"{path}: the evidence file names no lab: give one (labcheck check LAB --from ...)")
    try:
        return find_lab(ref)
    except UsageError as exc:
        raise EvidenceError(f"{path}: the evidence was recorded for lab {ref!r}, which this labcheck lacks ({exc})") from None


def recorded_steps(lab, cluster, path: Path):
    recorded = cluster.meta.get("steps")
    if not recorded:
        raise EvidenceError(f"{path}: the evidence file names no step: give --step")
    if not isinstance(recorded, list) or not all(isinstance(s, str) for s in recorded):
        raise EvidenceError(f"{path}: \"steps\" must be a list of step ids")
    try:
        return [lab.step(s) for s in recorded]
    except KeyError as exc:
        raise EvidenceError(f"{path}: {exc.args[0]}") from None


def live_cluster(lab, context: str | None):
    """The lab's cluster (or `context`), answering: one clear error when its API is down."""
    from .cluster.live import LiveCluster
    from .toolchain import cluster_config, kube_context

    _config, name = cluster_config(lab.cluster)
    cluster = LiveCluster(context or kube_context(name))
    cluster.ping()  # one clear line when the API is down, not an ERROR per check
    return cluster
