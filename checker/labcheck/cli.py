"""The `labcheck` command: the learner's journey, and the author's and instructor's tools.

Exit codes: 0 passed, 1 a check failed, 2 usage, 3 could not grade, 4 invalid lab.
Errors are one line on stderr; `--debug` (or LABCHECK_DEBUG=1) adds the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import (
    EXIT_CANNOT_GRADE,
    EXIT_FAILED,
    EXIT_INVALID_LAB,
    EXIT_PASSED,
    EXIT_USAGE,
    LabcheckError,
    UsageError,
)

class _LazyConsole:
    """A rich Console made on first use: commands that print little do not pay for importing rich."""

    def __init__(self, **options):
        self._options = options
        self._console = None

    def real(self):
        """The rich Console itself, for code that needs the object (rich.live.Live)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str):
        return getattr(self.real(), name)

    def __enter__(self):
        return self.real().__enter__()

    def __exit__(self, *exc):
        return self.real().__exit__(*exc)


def Table(*args, **kwargs):  # noqa: N802 - stands in for rich.table.Table, imported when a table is drawn
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


out = _LazyConsole(highlight=False)
err = _LazyConsole(stderr=True, highlight=False)


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """--debug may come before or after the subcommand: take it out wherever it is (not after `--`)."""
    end = argv.index("--") if "--" in argv else len(argv)
    rest = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return rest, len(rest) != len(argv) or os.environ.get("LABCHECK_DEBUG") == "1"


class _Commands(click.Group):
    """The learner's commands, plus the instructor's (labcheck.grading), imported only when named
    or listed: a one-shot `labcheck` does not pay for them."""

    _instructor = {"submit": "submit_command", "grade": "grade_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._instructor])

    def get_command(self, ctx: click.Context, name: str):
        if name in self._instructor:
            from .grading import commands

            return getattr(commands, self._instructor[name])
        return super().get_command(ctx, name)


@click.group(cls=_Commands, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="labcheck")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Kubernetes Networking Labs: start a lab, then run `labcheck` after each step."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(check_command)


# --- shared helpers -----------------------------------------------------------


def _lab_for(ref: str | None):
    from .loader import find_lab
    from .state import Progress

    if ref:
        return find_lab(ref)
    current = Progress.load().current_lab
    if not current:
        raise UsageError("no lab started yet: run `labcheck start 01` (or name a lab)")
    return find_lab(current)


def _step(lab, ref):
    """A step the person named; naming one the lab lacks is a usage error."""
    try:
        return lab.step(ref)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None


def _recorded_lab(cluster, path: Path):
    from .errors import EvidenceError
    from .loader import find_lab

    ref = cluster.meta.get("lab")
    if not isinstance(ref, str) or not ref.strip():
        raise EvidenceError(f"{path}: the evidence file names no lab: give one (labcheck check LAB --from ...)")
    try:
        return find_lab(ref)
    except UsageError as exc:
        raise EvidenceError(f"{path}: the evidence was recorded for lab {ref!r}, which this labcheck lacks ({exc})") from None


def _recorded_steps(lab, cluster, path: Path):
    from .errors import EvidenceError

    recorded = cluster.meta.get("steps")
    if not recorded:
        raise EvidenceError(f"{path}: the evidence file names no step: give --step")
    if not isinstance(recorded, list) or not all(isinstance(s, str) for s in recorded):
        raise EvidenceError(f"{path}: \"steps\" must be a list of step ids")
    try:
        return [lab.step(s) for s in recorded]
    except KeyError as exc:
        raise EvidenceError(f"{path}: {exc.args[0]}") from None


def _live_cluster(lab, context: str | None):
    from .cluster.live import LiveCluster
    from .toolchain import cluster_config, kube_context

    _config, name = cluster_config(lab.cluster)
    cluster = LiveCluster(context or kube_context(name))
    cluster.ping()  # one clear line when the API is down, not an ERROR per check
    return cluster


def _exit_for(statuses) -> int:
    from .checks.outcome import Status

    if Status.ERROR in statuses:
        return EXIT_CANNOT_GRADE
    if Status.FAIL in statuses:
        return EXIT_FAILED
    return EXIT_PASSED


# --- learner commands -----------------------------------------------------------


@cli.command("list")
def list_command() -> None:
    """List the labs."""
    from .loader import all_labs
    from .state import Progress

    progress = Progress.load()
    table = Table("lab", "title", "steps", "cluster", "done", box=None, pad_edge=False)
    for lab in all_labs():
        passed = len(progress.labs.get(lab.id, {}).get("passed", {}))
        table.add_row(lab.id, lab.title, str(len(lab.steps)), lab.cluster, f"{passed}/{len(lab.steps)}")
    out.print(table)


@cli.command("files")
@click.argument("lab_ref", metavar="LAB")
@click.argument("dest", metavar="DIR", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
def files_command(lab_ref: str, dest: Path) -> None:
    """Copy the files a lab hands you (its app/ folder: source code, Dockerfiles) into DIR."""
    import shutil

    from .loader import find_lab

    lab = find_lab(lab_ref)
    source = lab.folder / "app"
    if not source.is_dir():
        raise UsageError(f"lab {lab.id} hands out no files (it has no app/ folder)")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            target = dest / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # again and again gives the same files: safe to re-run
            copied.append(str(path.relative_to(source)))
    out.print(f"Copied {len(copied)} file(s) of lab {lab.id} into {dest}: {', '.join(copied)}")


@cli.command("start")
@click.argument("lab_ref", metavar="LAB")
def start_command(lab_ref: str) -> None:
    """Create (or reuse) the lab's kind cluster, prepare its namespace, show the first step."""
    from . import actions
    from .loader import find_lab
    from .state import Progress
    from .toolchain import Kind, cluster_config, kube_context

    lab = find_lab(lab_ref)
    progress = Progress.load()  # a broken progress file stops here, before minutes of cluster work
    kind = Kind.find()
    config, name = cluster_config(lab.cluster)
    context = kube_context(name)
    started = time.monotonic()
    if name in kind.clusters():
        stopped = kind.stopped_nodes(name)
        if not stopped:
            err.print(f"Reusing kind cluster [bold]{name}[/bold].")
            kind.export_kubeconfig(name)
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
        _warn_missing_images(lab, missing, name)
    for addon in lab.addons:
        with err.status(f"Installing add-on {addon} into {name} (a minute the first time)..."):
            err.print(kind.install_lab_addon(addon, name))
    with err.status(f"Preparing namespace {lab.namespace}..."):
        actions.ensure_namespace(context, lab.namespace)
        actions.set_default_namespace(context, lab.namespace)
        if lab.setup.manifests or lab.setup.commands or lab.setup.prepare:
            actions.perform(lab, lab.setup, context=context, cluster_name=name)
    progress.current_lab = lab.id
    entry = progress.lab(lab.id)
    _bind_progress_to_cluster(lab, entry, context, name)
    progress.save()
    err.print(f"kubectl now uses context {context}, namespace {lab.namespace}. "
              f"Ready in {time.monotonic() - started:.0f} s.")
    _announce_step(lab, entry["current_step"])


# Where `labcheck docs` serves the lab pages; LABCHECK_DOCS_URL names a published copy instead.
DOCS_URL = "http://127.0.0.1:8000/"


def _warn_missing_images(lab, images: list[str], cluster_name: str) -> None:
    from .toolchain import prepare_command

    names = ", ".join(images)
    pulls = " && ".join(f"docker pull {image}" for image in images)
    prepare = prepare_command()
    offline = f"; where no registry can be reached, `{prepare}` builds them" if prepare else ""
    err.print(f"[yellow]warning:[/yellow] Docker has no image {names}, so it was not loaded into cluster "
              f"{cluster_name}: Pods of lab {lab.id} will wait until the node pulls it from its registry. "
              f"To load it: `{pulls}`{offline}, then `labcheck start {lab.id}` again.")


def _cluster_identity(cluster) -> str | None:
    """What tells one cluster from a new one of the same name: the kube-system namespace's UID."""
    namespace = cluster.get("v1", "Namespace", None, "kube-system") or {}
    uid = namespace.get("metadata", {}).get("uid")
    return uid if isinstance(uid, str) else None


def _bind_progress_to_cluster(lab, entry: dict, context: str, cluster_name: str) -> None:
    """Progress belongs to the cluster it was made on: on a new cluster, the steps passed are checked again.

    A cluster deleted and created anew keeps its name but not what the learner
    built on it, so "step 3/6" would be a step on nothing. The earlier steps are
    re-checked (no waiting) and the lab goes on from the first that fails here.
    """
    from .checks.outcome import Status
    from .engine import run_step
    from .state import now

    try:
        cluster = _live_cluster(lab, context)
        identity = _cluster_identity(cluster)
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


def _announce_step(lab, number: int) -> None:
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


@cli.command("check")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Step number or id (default: your current step).")
@click.option("--all", "all_steps", is_flag=True, help="Check every step of the lab.")
@click.option("--output", "output_format", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True)
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Save the evidence read from the cluster to this file.")
@click.option("--from", "from_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Grade recorded evidence instead of a live cluster.")
@click.option("--wait", type=float, help="Seconds each failing check keeps re-trying (default: per check).")
@click.option("--context", help="kubeconfig context to grade (default: the lab cluster's).")
@click.option("-v", "--verbose", is_flag=True, help="Show each check's evidence.")
def check_command(lab_ref=None, step_ref=None, all_steps=False, output_format="text", record_path=None,
                  from_path=None, wait=None, context=None, verbose=False) -> None:
    """Check a step (default: the current step of the current lab)."""
    from .checks.outcome import Status
    from .engine import run_step
    from .render import render_json, render_junit, render_text
    from .state import Progress

    if record_path and from_path:
        raise UsageError("--record and --from cannot be used together")
    namespace = None
    if from_path:
        from .cluster.recorded import RecordedCluster

        cluster = RecordedCluster(from_path)
        lab = _lab_for(lab_ref) if lab_ref else _recorded_lab(cluster, from_path)
        namespace = cluster.meta.get("namespace")  # where it was recorded (self-tests use their own)
        if namespace is not None and not isinstance(namespace, str):
            from .errors import EvidenceError

            raise EvidenceError(f"{from_path}: \"namespace\" must be a namespace name")
        if step_ref:
            steps = [_step(lab, step_ref)]
        elif all_steps:
            steps = list(lab.steps)
        else:
            steps = _recorded_steps(lab, cluster, from_path)
        source = cluster.describe()
    else:
        lab = _lab_for(lab_ref)
        progress = Progress.load()
        if step_ref:
            steps = [_step(lab, step_ref)]
        elif all_steps:
            steps = list(lab.steps)
        else:
            current = progress.lab(lab.id)["current_step"]
            if current > len(lab.steps):
                out.print(f"All steps of lab {lab.id} have passed. Check one again with --step N.")
                sys.exit(EXIT_PASSED)
            steps = [lab.steps[current - 1]]
        cluster = _live_cluster(lab, context)
        if record_path:
            from .cluster.recorded import RecordingCluster

            cluster = RecordingCluster(cluster)
        source = cluster.describe()

    results = []
    for step in steps:
        if output_format == "text" and sys.stdout.isatty():
            with err.status(f"Checking step {lab.step_number(step)}: {step.title}..."):
                result = run_step(lab, step, cluster, wait=wait, namespace=namespace)
        else:
            result = run_step(lab, step, cluster, wait=wait, namespace=namespace)
        results.append(result)
        if output_format == "text":
            render_text(result, out, step_count=len(lab.steps), verbose=verbose)

    if record_path:
        cluster.save(record_path, {"lab": lab.id, "steps": [s.id for s in steps]})
        err.print(f"Evidence saved to {record_path}.")
    if output_format == "json":
        out.print_json(render_json(results, source=source)) if sys.stdout.isatty() else print(
            render_json(results, source=source))
    elif output_format == "junit":
        print(render_junit(results))

    if not from_path:
        progress = Progress.load()
        entry = progress.lab(lab.id)
        before = entry["current_step"]
        for result in results:
            if result.status == Status.PASS:
                progress.mark_passed(lab.id, result.step_id, result.step_number, len(lab.steps))
        progress.save()
        after = progress.lab(lab.id)["current_step"]
        if output_format == "text" and after != before:
            _announce_step(lab, after)
    sys.exit(_exit_for([r.status for r in results]))


@cli.command("watch")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Step number or id to start at (default: your current step).")
@click.option("--namespace", help="Namespace to check (default: the lab's).")
@click.option("--context", help="kubeconfig context to watch (default: the lab cluster's).")
def watch_command(lab_ref=None, step_ref=None, namespace=None, context=None) -> None:
    """Re-check the current step live as the cluster changes; moves on when it passes. Ctrl-C stops."""
    from .watch import run_watch

    lab = _lab_for(lab_ref)
    if step_ref:
        _step(lab, step_ref)  # an unknown step is a usage error, before any cluster is asked
    sys.exit(run_watch(lab, lambda: _live_cluster(lab, context), step_ref=step_ref, namespace=namespace,
                       out=out.real(), err=err.real()))


@cli.command("hint")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Step number or id (default: your current step).")
@click.option("--all", "all_hints", is_flag=True, help="Show every hint of the step at once.")
def hint_command(lab_ref=None, step_ref=None, all_hints=False) -> None:
    """Show the next hint for a step; each call reveals one more."""
    from .state import Progress

    lab = _lab_for(lab_ref)
    progress = Progress.load()
    # Asking for a hint neither starts a lab nor moves a step: only the count of hints seen is kept.
    step = _step(lab, step_ref) if step_ref else lab.steps[min(progress.current_step(lab.id), len(lab.steps)) - 1]
    shown = progress.hints_shown(lab.id, step.id)
    count = len(step.hints) if all_hints else min(shown + 1, len(step.hints))
    out.print(f"[bold]Step {lab.step_number(step)}: {step.title}[/bold]")
    for number, hint in enumerate(step.hints[:count], 1):
        out.print(f"  hint {number}/{len(step.hints)}: {hint}")
    if count >= len(step.hints):
        out.print("  (no more hints; the lab page has the full walkthrough)")
    if count != shown:
        progress.remember_hints(lab.id, step.id, count)
        progress.save()


@cli.command("status")
def status_command() -> None:
    """Show your progress through every lab."""
    from .loader import all_labs
    from .state import Progress

    progress = Progress.load()
    for lab in all_labs():
        entry = progress.labs.get(lab.id, {})
        passed = entry.get("passed", {})
        marker = " (current lab)" if progress.current_lab == lab.id else ""
        out.print(f"[bold]Lab {lab.id}: {lab.title}[/bold]{marker}")
        table = Table("step", "id", "title", "status", "passed at", box=None, pad_edge=False)
        for number, step in enumerate(lab.steps, 1):
            done = step.id in passed
            current = entry.get("current_step") == number
            word = "PASS" if done else ("current" if current else "-")
            table.add_row(str(number), step.id, step.title, word, passed.get(step.id, ""))
        out.print(table)


@cli.command("reset")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Go back to this step (progress only; the cluster is left as is).")
@click.option("--yes", is_flag=True, help="Do not ask before deleting the lab's namespace.")
def reset_command(lab_ref=None, step_ref=None, yes=False) -> None:
    """Start a lab over: empty its namespace and forget its progress (or go back to --step N)."""
    from . import actions
    from .state import Progress
    from .toolchain import cluster_config, kube_context

    lab = _lab_for(lab_ref)
    progress = Progress.load()
    entry = progress.lab(lab.id)
    if step_ref:
        step = _step(lab, step_ref)
        number = lab.step_number(step)
        entry["current_step"] = number
        entry["passed"] = {s.id: t for s, t in ((s, entry["passed"].get(s.id)) for s in lab.steps[: number - 1]) if t}
        progress.save()
        out.print(f"Lab {lab.id} is back at step {number}: {step.title}. Objects in the cluster were left as they are.")
        return
    _config, name = cluster_config(lab.cluster)
    context = kube_context(name)
    if not yes and not sys.stdin.isatty():
        raise UsageError(f"reset deletes everything in namespace {lab.namespace} of cluster {name}, and there is "
                         "no terminal to ask on: add --yes to confirm")
    if not yes and not click.confirm(f"Delete everything in namespace {lab.namespace} of cluster {name}?",
                                     err=True, default=False):
        raise UsageError("reset cancelled")
    with err.status(f"Deleting namespace {lab.namespace}..."):
        actions.delete_namespace(context, lab.namespace)
        actions.ensure_namespace(context, lab.namespace)
        if lab.setup.manifests or lab.setup.commands or lab.setup.prepare:
            actions.perform(lab, lab.setup, context=context, cluster_name=name)
    progress.labs.pop(lab.id, None)
    progress.hints.pop(lab.id, None)
    progress.lab(lab.id)
    progress.save()
    out.print(f"Lab {lab.id} starts over with an empty namespace {lab.namespace}.")
    _announce_step(lab, 1)


@cli.command("stop")
@click.argument("lab_ref", metavar="[LAB]", required=False)
def stop_command(lab_ref=None) -> None:
    """Delete the lab's kind cluster and what was built on it."""
    from .toolchain import Kind, cluster_config

    lab = _lab_for(lab_ref)
    _config, name = cluster_config(lab.cluster)
    kind = Kind.find()
    if name not in kind.clusters():
        out.print(f"Cluster {name} is not running.")
        return
    with err.status(f"Deleting kind cluster {name}..."):
        kind.delete(name)
    out.print(f"Deleted cluster {name}. `labcheck start {lab.id}` makes a new one and checks the steps you "
              "had passed again on it.")


@cli.command("doctor")
def doctor_command() -> None:
    """Check this machine can run the labs; each problem comes with the command that fixes it."""
    from .doctor import run_checks

    failed = 0
    for item in run_checks():
        word = {"ok": "[green]ok  [/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}[item.level]
        failed += item.level == "fail"
        line = f"{word}  {item.name}: {item.found}"
        if item.fix and item.level != "ok":
            line += f"\n      fix: {item.fix}"
        out.print(line, soft_wrap=True)
    sys.exit(EXIT_CANNOT_GRADE if failed else EXIT_PASSED)


@cli.command("docs")
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 to serve the pages on.")
def docs_command(port: int) -> None:
    """Serve the lab pages on http://127.0.0.1:PORT/ (the installed pages; a checkout's, live, with the docs extra)."""
    from .docs_site import serve

    sys.exit(serve(port, say=err.print))


# --- author commands ------------------------------------------------------------


@cli.command("lint")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def lint_command(path: Path | None) -> None:
    """Validate lab definitions; problems are printed as file:line: message."""
    from .loader import lab_files, lint

    if path is not None and not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    files = lab_files(path)
    if not files:
        raise UsageError(f"no lab.yaml found under {path or 'labs/'}")
    problems = lint(files)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        err.print(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s).")
        sys.exit(EXIT_INVALID_LAB)
    err.print(f"{len(files)} lab(s) valid.")


@cli.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of lab.yaml."""
    from .model import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@cli.command("solve")
@click.argument("lab_ref", metavar="LAB")
@click.option("--step", "step_ref", required=True, help="Step number or id.")
@click.option("--wrong", "wrong_id", help="Apply this known-wrong solution instead.")
@click.option("--namespace", help="Apply it in this namespace (default: the lab's); it must exist.")
def solve_command(lab_ref: str, step_ref: str, wrong_id: str | None, namespace: str | None = None) -> None:
    """Apply a step's reference solution (or a known-wrong one) to the lab's cluster."""
    from . import actions
    from .loader import find_lab
    from .toolchain import cluster_config, kube_context

    lab = find_lab(lab_ref)
    step = _step(lab, step_ref)
    chosen = step.solution
    if wrong_id:
        chosen = next((w for w in step.wrong_solutions if w.id == wrong_id), None)
        if chosen is None:
            raise UsageError(f"step {step.id} has no wrong solution {wrong_id!r}")
    _config, name = cluster_config(lab.cluster)
    for line in actions.perform(lab, chosen, context=kube_context(name), cluster_name=name, namespace=namespace):
        err.print(f"  did: {line.strip().splitlines()[0][:100]}")
    out.print(f"Applied the {'wrong solution ' + wrong_id if wrong_id else 'solution'} of step {step.id}.")


@cli.command("selftest")
@click.argument("lab_ref", metavar="LAB")
@click.option("--record-evidence", is_flag=True, help="Re-record the lab's evidence/ files from this run.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Wrong-solution cases graded at once, each in its own namespace, beside the main line.")
def selftest_command(lab_ref: str, record_evidence: bool, workers: int) -> None:
    """On a running cluster, prove every step FAILS before its solution and PASSES after."""
    from .loader import find_lab
    from .selftest import run_selftest

    lab = find_lab(lab_ref)
    started = time.monotonic()
    report = run_selftest(lab, record=record_evidence, log=lambda line: err.print(line), workers=workers)
    for line in report.lines:
        out.print(line)
    verdict = "passed" if report.ok else f"failed ({len(report.failures)} case(s))"
    out.print(f"selftest {lab.id} {verdict} in {time.monotonic() - started:.0f} s")
    sys.exit(EXIT_PASSED if report.ok else EXIT_FAILED)


# --- entry point -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    argv, debug = _take_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        code = cli.main(args=argv, prog_name="labcheck", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        message = exc.format_message().replace("\n", " ")
        click.echo(f"labcheck: {message} (see labcheck --help)", err=True)
        code = EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("labcheck: interrupted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("labcheck: interrupted", err=True)
        code = 130
    except LabcheckError as exc:
        if debug:
            import traceback

            traceback.print_exc()  # and still exit with the code the error stands for
        click.echo(f"labcheck: {exc}", err=True)
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # a bug: still one line, unless asked for more
        if debug:
            import traceback

            traceback.print_exc()  # and still exit with the code the error stands for
        click.echo(f"labcheck: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        code = EXIT_CANNOT_GRADE
    sys.exit(code if isinstance(code, int) else 0)
