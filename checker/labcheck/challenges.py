"""Troubleshooting challenges: a working app on a lab's cluster, broken on purpose.

`start` builds the app in the challenge's own namespace, waits until it works,
breaks it (objects or a node) with details drawn for this learner, puts up the
guard rails, and prints only the symptom. `check` grades the learner's fix with
the challenge's checks (the symptom gone *and* the app's intent kept: a
workaround fails with the reason it is not a fix); `hint` reveals one more
hint; `give-up` shows the fault and the fix; `reset` undoes it all (the
namespace, node state, guards). A challenge is graded as a one-step lab
(`Challenge.as_lab`), so recording, submitting and bulk grading work as for labs.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from .console import Table, err, out
from .errors import ClusterUnavailable, UsageError


def _challenge(ref: str | None, progress) -> Any:
    from .loader import find_challenge

    ref = ref or progress.current_challenge
    if not ref:
        raise UsageError("no challenge started yet: `labcheck challenge list` shows them, "
                         "`labcheck challenge start ID` starts one")
    return find_challenge(ref)


def _lab_of(challenge):
    from .loader import find_lab

    return find_lab(challenge.lab_id)


def _seed(learner: str | None) -> str:
    # A learner id makes the details stable for that learner (and different from others');
    # without one, a random seed kept in the progress file does the same for this machine.
    return learner.strip() if learner and learner.strip() else secrets.token_hex(8)


def _entry(progress, challenge) -> dict[str, Any]:
    entry = progress.challenges.get(challenge.id)
    if entry is None:
        raise UsageError(f"challenge {challenge.id} is not started: run `labcheck challenge start {challenge.id}`")
    return entry


def _elapsed(entry: dict[str, Any], until: str | None = None) -> str:
    from datetime import datetime, timezone

    started = datetime.fromisoformat(entry["started_at"])
    ended = datetime.fromisoformat(until) if until else datetime.now(timezone.utc)
    seconds = max(0, int((ended - started).total_seconds()))
    return f"{seconds // 60} min {seconds % 60:02d} s"


def list_challenges() -> None:
    from .loader import all_challenges
    from .state import Progress

    progress = Progress.load()
    table = Table("id", "difficulty", "fault", "title", "exercises", "you", box=None, pad_edge=False)
    for challenge in sorted(all_challenges(), key=lambda c: c.id):
        entry = progress.challenges.get(challenge.id) or {}
        mine = ("fixed" if entry.get("fixed_at") else "gave up" if entry.get("gave_up")
                else "started" if entry else "-")
        table.add_row(challenge.id, challenge.difficulty, challenge.fault_kind, challenge.title,
                      challenge.exercises, mine)
    out.print(table)


def start(ref: str, learner: str | None = None) -> None:
    from . import actions
    from .engine import run_step
    from .selftest import FAULT_SHOWS_WITHIN, fault_shows
    from .session import cluster_identity, live_cluster, prepare_cluster
    from .state import Progress, now

    progress = Progress.load()
    challenge = _challenge(ref, progress)
    lab = _lab_of(challenge)
    started = time.monotonic()
    context, name = prepare_cluster(lab)
    graded = challenge.as_lab(lab)
    seed = _seed(learner)
    variables = challenge.variables(seed)
    with err.status(f"Building the app in namespace {challenge.namespace}..."):
        cleanup(challenge, lab, context, name, variables)
        actions.ensure_namespace(context, challenge.namespace, {"labcheck.io/challenge": challenge.id})
        actions.perform(graded, challenge.setup, context=context, cluster_name=name, variables=variables)
        cluster = live_cluster(lab, context)
        working = run_step(graded, graded.steps[0], cluster)
    if working.status.value != "PASS":
        failing = next(c for c in working.checks if c.status.value != "PASS")
        raise ClusterUnavailable(f"the challenge's app did not come up working ({failing.check_id}: "
                                 f"{failing.summary}); run `labcheck challenge reset {challenge.id}` and start again")
    with err.status("Setting up the challenge..."):
        actions.perform(graded, challenge.fault, context=context, cluster_name=name, variables=variables)
    # The learner is handed the cluster only once it shows what the report says.
    with err.status("Waiting for the reported symptom to show..."):
        problems = fault_shows(challenge, graded, cluster)
    if problems:
        raise ClusterUnavailable(f"the fault did not show within {FAULT_SHOWS_WITHIN:.0f} s ({problems[0]}); "
                                 f"run `labcheck challenge reset {challenge.id}` and start again")
    actions.perform(graded, challenge.guards, context=context, cluster_name=name, variables=variables)
    actions.set_default_namespace(context, challenge.namespace)
    progress.current_challenge = challenge.id
    progress.challenges[challenge.id] = {"started_at": now(), "seed": seed, "hints": 0, "fixed_at": None,
                                         "gave_up": False, "cluster": cluster_identity(cluster)}
    progress.save()
    err.print(f"kubectl now uses context {context}, namespace {challenge.namespace}. "
              f"Ready in {time.monotonic() - started:.0f} s.")
    out.print(f"[bold]Challenge {challenge.id}: {challenge.title}[/bold] ({challenge.difficulty})")
    out.print(f"Reported: {challenge.symptom.strip()}", soft_wrap=True)
    out.print("Find the cause and fix it, then run `labcheck challenge check`. Stuck? `labcheck challenge hint`.")


def check(ref: str | None = None, *, output_format: str = "text", verbose: bool = False) -> int:
    from .checks.outcome import Status
    from .engine import run_step
    from .errors import ExitStatus
    from .render import render_json, render_text
    from .session import live_cluster
    from .state import Progress, now

    progress = Progress.load()
    challenge = _challenge(ref, progress)
    entry = _entry(progress, challenge)
    lab = _lab_of(challenge)
    graded = challenge.as_lab(lab)
    cluster = live_cluster(lab, None)
    result = run_step(graded, graded.steps[0], cluster)
    if output_format == "json":
        print(render_json([result], source=cluster.describe()))
    else:
        render_text(result, out, step_count=1, verbose=verbose)
    if result.status == Status.PASS:
        if not entry.get("fixed_at"):
            entry["fixed_at"] = now()
            progress.save()
        if output_format == "text":
            out.print(f"Fixed in {_elapsed(entry, entry['fixed_at'])} with {entry.get('hints', 0)} hint(s). "
                      f"`labcheck challenge reset {challenge.id}` cleans up.")
        return ExitStatus.PASSED
    return ExitStatus.CANNOT_GRADE if result.status == Status.ERROR else ExitStatus.FAILED


def hint(ref: str | None = None) -> None:
    from .state import Progress

    progress = Progress.load()
    challenge = _challenge(ref, progress)
    entry = _entry(progress, challenge)
    shown = min(entry.get("hints", 0) + 1, len(challenge.hints))
    out.print(f"[bold]Challenge {challenge.id}: {challenge.title}[/bold]")
    for number, text in enumerate(challenge.hints[:shown], 1):
        out.print(f"  hint {number}/{len(challenge.hints)}: {text}", soft_wrap=True)
    if shown >= len(challenge.hints):
        out.print("  (no more hints; `labcheck challenge give-up` shows the fault and the fix)")
    if shown != entry.get("hints", 0):
        entry["hints"] = shown
        progress.save()


def give_up(ref: str | None = None) -> None:
    from .state import Progress

    progress = Progress.load()
    challenge = _challenge(ref, progress)
    entry = _entry(progress, challenge)
    entry["gave_up"] = True
    progress.save()
    out.print(f"[bold]Challenge {challenge.id}: {challenge.title}[/bold]")
    out.print(f"What was broken: {challenge.explanation.strip()}", soft_wrap=True)
    steps = [*challenge.fix.prepare, *(f"kubectl apply -f {m}" for m in challenge.fix.manifests), *challenge.fix.commands]
    out.print("The fix:")
    for line in steps:
        out.print(f"  {line.strip()}", soft_wrap=True)
    variables = challenge.variables(entry["seed"])
    if variables:
        out.print("Your details: " + ", ".join(f"${k}={v}" for k, v in sorted(variables.items())), soft_wrap=True)


def status() -> None:
    from .loader import find_challenge
    from .state import Progress

    progress = Progress.load()
    if not progress.challenges:
        out.print("No challenge started yet: `labcheck challenge list` shows them.")
        return
    table = Table("challenge", "started", "hints", "result", "time", box=None, pad_edge=False)
    for challenge_id, entry in sorted(progress.challenges.items()):
        try:
            hints = len(find_challenge(challenge_id).hints)
        except UsageError:
            hints = 0
        result = "fixed" if entry.get("fixed_at") else "gave up" if entry.get("gave_up") else "open"
        table.add_row(challenge_id, entry.get("started_at", "?"), f"{entry.get('hints', 0)}/{hints}", result,
                      _elapsed(entry, entry.get("fixed_at")) if entry.get("started_at") else "-")
    out.print(table)


def cleanup(challenge, lab, context: str, name: str, variables: dict[str, str]) -> None:
    """Undo a challenge: its cleanup actions (node state, guards), then its namespace."""
    from . import actions

    graded = challenge.as_lab(lab)
    if challenge.cleanup.prepare or challenge.cleanup.manifests or challenge.cleanup.commands:
        actions.perform(graded, challenge.cleanup, context=context, cluster_name=name, variables=variables,
                        namespace=challenge.namespace)
    actions.delete_namespace(context, challenge.namespace)


def reset(ref: str | None = None) -> None:
    from .state import Progress
    from .toolchain import cluster_config, kube_context

    progress = Progress.load()
    challenge = _challenge(ref, progress)
    lab = _lab_of(challenge)
    _config, name = cluster_config(lab.cluster)
    entry = progress.challenges.get(challenge.id) or {}
    with err.status(f"Removing challenge {challenge.id} (namespace {challenge.namespace}, its guards, node state)..."):
        cleanup(challenge, lab, kube_context(name), name, challenge.variables(entry.get("seed", "")))
    progress.challenges.pop(challenge.id, None)
    if progress.current_challenge == challenge.id:
        progress.current_challenge = None
    progress.save()
    out.print(f"Challenge {challenge.id} is removed; `labcheck challenge start {challenge.id}` starts it again.")


def page_markdown() -> str:
    """The challenges for the site's Challenges page, made from the challenge files at build time:
    what each exercises and its symptom in the open, hints and the fix folded (spoilers)."""
    import textwrap

    from .loader import all_challenges, find_lab

    parts = []
    for lab_id in sorted({c.lab_id for c in all_challenges()}):
        lab = find_lab(lab_id)
        parts.append(f"## Lab {lab.id} · {lab.title}\n")
        for challenge in sorted((c for c in all_challenges() if c.lab_id == lab_id), key=lambda c: c.id):
            parts.append(f"### {challenge.title} {{#{challenge.id}}}\n")
            parts.append(f"**{challenge.difficulty}** · {challenge.fault_kind} fault · exercises "
                         f"{challenge.exercises}\n")
            parts.append(f"> {challenge.symptom.strip()}\n")
            parts.append(f"```console\n$ labcheck challenge start {challenge.id}\n```\n")
            hints = "\n".join(f"    {n}. {text}" for n, text in enumerate(challenge.hints, 1))
            parts.append(f'??? note "Hints (one at a time: `labcheck challenge hint`)"\n{hints}\n')
            fix = [*challenge.fix.prepare, *(f"kubectl apply -f {m}" for m in challenge.fix.manifests),
                   *challenge.fix.commands]
            # every line of a command indented, a heredoc's too, to stay inside the folded block
            shown_fix = "\n".join(textwrap.indent(line.strip(), "        ") for line in fix)
            parts.append(f'??? danger "The fault and the fix (spoiler)"\n    {challenge.explanation.strip()}\n\n'
                         f"    ```text\n{shown_fix}\n    ```\n")
    return "\n".join(parts)
