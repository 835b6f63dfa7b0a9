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

from . import __version__, session
from .console import Table, err, out
from .errors import ExitStatus, LabcheckError, UsageError

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


def _exit_for(statuses) -> ExitStatus:
    from .checks.outcome import Status

    if Status.ERROR in statuses:
        return ExitStatus.CANNOT_GRADE
    if Status.FAIL in statuses:
        return ExitStatus.FAILED
    return ExitStatus.PASSED


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
    session.start_lab(lab_ref)


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
        lab = session.lab_for(lab_ref) if lab_ref else session.recorded_lab(cluster, from_path)
        namespace = cluster.meta.get("namespace")  # where it was recorded (self-tests use their own)
        if namespace is not None and not isinstance(namespace, str):
            from .errors import EvidenceError

            raise EvidenceError(f"{from_path}: \"namespace\" must be a namespace name")
        if step_ref:
            steps = [session.step_of(lab, step_ref)]
        elif all_steps:
            steps = list(lab.steps)
        else:
            steps = session.recorded_steps(lab, cluster, from_path)
        source = cluster.describe()
    else:
        lab = session.lab_for(lab_ref)
        progress = Progress.load()
        if step_ref:
            steps = [session.step_of(lab, step_ref)]
        elif all_steps:
            steps = list(lab.steps)
        else:
            current = progress.lab(lab.id)["current_step"]
            if current > len(lab.steps):
                out.print(f"All steps of lab {lab.id} have passed. Check one again with --step N.")
                sys.exit(ExitStatus.PASSED)
            steps = [lab.steps[current - 1]]
        cluster = session.live_cluster(lab, context)
        if record_path:
            from .cluster.recorded import RecordingCluster

            cluster = RecordingCluster(cluster)
        source = cluster.describe()

    results = []
    # An earlier step that no longer holds is the likely root of a failing one (when the steps
    # are not all being graded anyway, and on a live cluster: a recording holds no such answers).
    recheck = not from_path and not all_steps
    for step in steps:
        if output_format == "text" and sys.stdout.isatty():
            with err.status(f"Checking step {lab.step_number(step)}: {step.title}..."):
                result = run_step(lab, step, cluster, wait=wait, namespace=namespace, recheck_earlier=recheck)
        else:
            result = run_step(lab, step, cluster, wait=wait, namespace=namespace, recheck_earlier=recheck)
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
            session.announce_step(lab, after)
    sys.exit(_exit_for([r.status for r in results]))


@cli.command("watch")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Step number or id to start at (default: your current step).")
@click.option("--namespace", help="Namespace to check (default: the lab's).")
@click.option("--context", help="kubeconfig context to watch (default: the lab cluster's).")
def watch_command(lab_ref=None, step_ref=None, namespace=None, context=None) -> None:
    """Re-check the current step live as the cluster changes; moves on when it passes. Ctrl-C stops."""
    from .watch import run_watch

    lab = session.lab_for(lab_ref)
    if step_ref:
        session.step_of(lab, step_ref)  # an unknown step is a usage error, before any cluster is asked
    sys.exit(run_watch(lab, lambda: session.live_cluster(lab, context), step_ref=step_ref, namespace=namespace,
                       out=out.real(), err=err.real()))


@cli.command("hint")
@click.argument("lab_ref", metavar="[LAB]", required=False)
@click.option("--step", "step_ref", help="Step number or id (default: your current step).")
@click.option("--all", "all_hints", is_flag=True, help="Show every hint of the step at once.")
def hint_command(lab_ref=None, step_ref=None, all_hints=False) -> None:
    """Show the next hint for a step; each call reveals one more."""
    from .state import Progress

    lab = session.lab_for(lab_ref)
    progress = Progress.load()
    # Asking for a hint neither starts a lab nor moves a step: only the count of hints seen is kept.
    step = session.step_of(lab, step_ref) if step_ref else lab.steps[min(progress.current_step(lab.id), len(lab.steps)) - 1]
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

    lab = session.lab_for(lab_ref)
    progress = Progress.load()
    entry = progress.lab(lab.id)
    if step_ref:
        step = session.step_of(lab, step_ref)
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
        if lab.teardown.prepare or lab.teardown.manifests or lab.teardown.commands:
            actions.perform(lab, lab.teardown, context=context, cluster_name=name)
        actions.delete_namespace(context, lab.namespace)
        actions.ensure_namespace(context, lab.namespace)
        if lab.setup.manifests or lab.setup.commands or lab.setup.prepare:
            actions.perform(lab, lab.setup, context=context, cluster_name=name)
    progress.labs.pop(lab.id, None)
    progress.hints.pop(lab.id, None)
    progress.lab(lab.id)
    progress.save()
    out.print(f"Lab {lab.id} starts over with an empty namespace {lab.namespace}.")
    session.announce_step(lab, 1)


@cli.command("stop")
@click.argument("lab_ref", metavar="[LAB]", required=False)
def stop_command(lab_ref=None) -> None:
    """Delete the lab's kind cluster and what was built on it."""
    from .toolchain import Kind, cluster_config

    lab = session.lab_for(lab_ref)
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
    sys.exit(ExitStatus.CANNOT_GRADE if failed else ExitStatus.PASSED)


@cli.command("docs")
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1 to serve the pages on.")
def docs_command(port: int) -> None:
    """Serve the lab pages on http://127.0.0.1:PORT/ (the installed pages; a checkout's, live, with the docs extra)."""
    from .docs_site import serve

    sys.exit(serve(port, say=err.print))


# --- troubleshooting challenges ------------------------------------------------


@cli.group("challenge")
def challenge_group() -> None:
    """Troubleshooting challenges: a working app broken on purpose; you get only the symptom."""


@challenge_group.command("list")
def challenge_list_command() -> None:
    """List the challenges: difficulty, kind of fault, what each exercises."""
    from .challenges import list_challenges

    list_challenges()


@challenge_group.command("start")
@click.argument("challenge_id", metavar="ID")
@click.option("--learner", envvar="LABCHECK_LEARNER",
              help="Your learner id (or set LABCHECK_LEARNER): the fault's details are drawn from it.")
def challenge_start_command(challenge_id: str, learner: str | None = None) -> None:
    """Build the app on the lab's cluster, break it, and tell you the symptom."""
    from .challenges import start

    start(challenge_id, learner)


@challenge_group.command("check")
@click.argument("challenge_id", metavar="[ID]", required=False)
@click.option("--output", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Show each check's evidence.")
def challenge_check_command(challenge_id: str | None = None, output_format: str = "text", verbose: bool = False) -> None:
    """Check your fix (default: the challenge you started last)."""
    from .challenges import check

    sys.exit(check(challenge_id, output_format=output_format, verbose=verbose))


@challenge_group.command("hint")
@click.argument("challenge_id", metavar="[ID]", required=False)
def challenge_hint_command(challenge_id: str | None = None) -> None:
    """Reveal one more hint: the direction, then the command that shows it, then the answer."""
    from .challenges import hint

    hint(challenge_id)


@challenge_group.command("give-up")
@click.argument("challenge_id", metavar="[ID]", required=False)
def challenge_give_up_command(challenge_id: str | None = None) -> None:
    """Show what was broken and how to fix it."""
    from .challenges import give_up

    give_up(challenge_id)


@challenge_group.command("status")
def challenge_status_command() -> None:
    """Show the challenges you started: hints used, fixed or not, time taken."""
    from .challenges import status

    status()


@challenge_group.command("reset")
@click.argument("challenge_id", metavar="[ID]", required=False)
def challenge_reset_command(challenge_id: str | None = None) -> None:
    """Remove a challenge: its namespace, its guard rails and what it changed on a node."""
    from .challenges import reset

    reset(challenge_id)


# --- author commands ------------------------------------------------------------


@cli.command("lint")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def lint_command(path: Path | None) -> None:
    """Validate lab definitions; problems are printed as file:line: message."""
    from .loader import challenge_files, lab_files, lint

    if path is not None and not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    files = sorted({*lab_files(path), *challenge_files(path)})
    if not files:
        raise UsageError(f"no lab.yaml found under {path or 'labs/'}")
    problems = lint(files)
    for problem in problems:
        click.echo(str(problem))
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    also = f" and {warnings} warning(s)" if warnings else ""
    if errors:
        err.print(f"{len(errors)} problem(s){also} in {len({p.file for p in problems})} file(s).")
        sys.exit(ExitStatus.INVALID_LAB)
    err.print(f"{len(files)} lab(s) and challenge(s) valid{also.replace(' and', ',')}.")


@cli.command("schema")
@click.option("--challenge", is_flag=True, help="The schema of challenge.yaml instead.")
def schema_command(challenge: bool = False) -> None:
    """Print the JSON Schema of lab.yaml (or of challenge.yaml)."""
    from .model import challenge_schema, json_schema

    click.echo(json.dumps(challenge_schema() if challenge else json_schema(), indent=2))


@cli.command("solve")
@click.argument("lab_ref", metavar="LAB")
@click.option("--step", "step_ref", required=True, help="Step number or id.")
@click.option("--wrong", "wrong_id", help="Apply this known-wrong solution instead.")
@click.option("--alternative", "alternative_id", help="Apply this alternative (correct) solution instead.")
@click.option("--namespace", help="Apply it in this namespace (default: the lab's); it must exist.")
def solve_command(lab_ref: str, step_ref: str, wrong_id: str | None, alternative_id: str | None = None,
                  namespace: str | None = None) -> None:
    """Apply a step's reference solution (or a known-wrong or alternative one) to the lab's cluster."""
    from . import actions
    from .loader import find_lab
    from .toolchain import cluster_config, kube_context

    if wrong_id and alternative_id:
        raise UsageError("give --wrong or --alternative, not both")
    lab = find_lab(lab_ref)
    step = session.step_of(lab, step_ref)
    chosen, what = step.solution, "solution"
    for wanted, options, word in ((wrong_id, step.wrong_solutions, "wrong"),
                                  (alternative_id, step.alternative_solutions, "alternative")):
        if wanted:
            chosen = next((option for option in options if option.id == wanted), None)
            if chosen is None:
                known = ", ".join(option.id for option in options) or "none"
                raise UsageError(f"step {step.id} has no {word} solution {wanted!r} (it has: {known})")
            what = f"{word} solution {wanted}"
    _config, name = cluster_config(lab.cluster)
    for line in actions.perform(lab, chosen, context=kube_context(name), cluster_name=name, namespace=namespace):
        err.print(f"  did: {line.strip().splitlines()[0][:100]}")
    out.print(f"Applied the {what} of step {step.id}.")


@cli.command("selftest")
@click.argument("lab_ref", metavar="LAB|CHALLENGE")
@click.option("--record-evidence", is_flag=True, help="Re-record the evidence/ files from this run.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Wrong-solution cases graded at once, each in its own namespace, beside the main line.")
@click.option("--challenges", "with_challenges", is_flag=True, help="Also prove every challenge of the lab.")
@click.option("--only-challenges", is_flag=True, help="Prove the lab's challenges, not the lab itself.")
def selftest_command(lab_ref: str, record_evidence: bool, workers: int, with_challenges: bool = False,
                     only_challenges: bool = False) -> None:
    """On a running cluster, prove every step FAILS before its solution and PASSES after (or, for a
    challenge, that its fault breaks the app, its fix passes and its workarounds do not)."""
    from .loader import all_challenges, find_challenge, find_lab
    from .selftest import run_challenge_selftest, run_selftest

    started = time.monotonic()
    log = lambda line: err.print(line)  # noqa: E731
    reports = []
    try:
        lab = find_lab(lab_ref)
        challenge = None
    except UsageError:  # not a lab: a challenge's id, or the lab's error stands
        try:
            challenge = find_challenge(lab_ref)
        except UsageError:
            raise UsageError(f"no lab or challenge {lab_ref!r} (`labcheck list`, `labcheck challenge list`)") from None
    if challenge is not None:
        reports.append(run_challenge_selftest(challenge, find_lab(challenge.lab_id), record=record_evidence,
                                              log=log, workers=workers))
        subject = f"challenge {challenge.id}"
    else:
        subject = f"lab {lab.id}"
        if not only_challenges:
            reports.append(run_selftest(lab, record=record_evidence, log=log, workers=workers))
        if with_challenges or only_challenges:
            for challenge in [c for c in all_challenges() if c.lab_id == lab.id]:
                reports.append(run_challenge_selftest(challenge, lab, record=record_evidence, log=log,
                                                      workers=workers))
            subject += " and its challenges" if not only_challenges else "'s challenges"
    lines = [line for report in reports for line in report.lines]
    failures = [f for report in reports for f in report.failures]
    for line in lines:
        out.print(line)
    verdict = "passed" if not failures else f"failed ({len(failures)} case(s))"
    out.print(f"selftest {subject} {verdict} in {time.monotonic() - started:.0f} s")
    sys.exit(ExitStatus.PASSED if not failures else ExitStatus.FAILED)


# --- entry point -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    argv, debug = _take_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        code = cli.main(args=argv, prog_name="labcheck", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        message = exc.format_message().replace("\n", " ")
        click.echo(f"labcheck: {message} (see labcheck --help)", err=True)
        code = ExitStatus.USAGE
    except click.exceptions.Abort:
        click.echo("labcheck: interrupted", err=True)
        code = ExitStatus.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("labcheck: interrupted", err=True)
        code = ExitStatus.INTERRUPTED
    except LabcheckError as exc:
        if debug:
            import traceback

            traceback.print_exc()  # and still exit with the code the error stands for
        click.echo(f"labcheck: {exc}", err=True)
        code = exc.exit_code
    except SystemExit as exc:  # sys.exit(None) exits 0 and sys.exit("message") 1, as Python does
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # a bug: still one line, unless asked for more
        if debug:
            import traceback

            traceback.print_exc()  # and still exit with the code the error stands for
        click.echo(f"labcheck: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        code = ExitStatus.CANNOT_GRADE
    sys.exit(code if isinstance(code, int) else ExitStatus.PASSED)
