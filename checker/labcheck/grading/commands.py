"""`labcheck submit` (learners) and `labcheck grade` (instructors).

Only click is imported here: the commands import the grader, the Kubernetes
client and the output writers when they run, so `labcheck --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from ..errors import ExitStatus, UsageError


def _consoles():
    from ..console import err, out

    return out, err


def _course_key(path: Path | None):
    from .submission import CourseKey

    return CourseKey.load(path) if path else None


@click.command("submit")
@click.argument("lab_ref", metavar="[LAB|CHALLENGE]", required=False)
@click.option("--learner", envvar="LABCHECK_LEARNER", help="Your learner id (or set LABCHECK_LEARNER).")
@click.option("--name", "learner_name", envvar="LABCHECK_LEARNER_NAME", default="",
              help="Your name as the gradebook shows it (or set LABCHECK_LEARNER_NAME).")
@click.option("--course-key", type=click.Path(dir_okay=False, path_type=Path), envvar="LABCHECK_COURSE_KEY",
              help="The course key file your instructor gave you: signs the submission (or set LABCHECK_COURSE_KEY).")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: submission-labNN-<learner>.json; for a challenge "
                   "submission-<challenge>-<learner>.json).")
@click.option("--context", help="kubeconfig context to grade (default: the lab cluster's).")
@click.option("--namespace", help="Namespace the lab was done in (default: the lab's).")
def submit_command(lab_ref=None, learner=None, learner_name="", course_key=None, out_path=None, context=None,
                   namespace=None) -> None:
    """Grade every step of a lab (or a challenge you started) on your cluster and write the submission file
    to hand in."""
    from ..session import lab_for, live_cluster
    from ..state import Progress
    from . import challenge, submission

    out, err = _consoles()
    if not learner:
        raise UsageError("give your learner id with --learner ID (or set LABCHECK_LEARNER)")
    if not submission.LEARNER_ID.match(learner):
        raise UsageError(f"learner id {learner!r} must be letters, digits and . _ @ + - (at most 128)")
    if namespace and not submission.NAMESPACE.match(namespace):
        raise UsageError(f"{namespace!r} is not a namespace name")
    key = _course_key(course_key)
    lab = challenge.resolve(lab_ref) if lab_ref else lab_for(None)
    progress, entry = None, None
    if challenge.is_challenge(lab.id):
        progress = Progress.load()
        entry = progress.challenges.get(lab.id)
        if entry is None:
            raise UsageError(f"challenge {lab.id} is not started here: `labcheck challenge start {lab.id}` starts "
                             "it (your hints and time come from that start)")
    cluster = live_cluster(lab, context)
    path = out_path or Path(f"submission-lab{lab.id}-{learner}.json" if entry is None
                            else f"submission-{lab.id}-{learner}.json")

    def shown(result) -> None:
        out.print(f"{result.status.value:<5} step {result.step_number} {result.step_id}", highlight=False)

    with err.status(f"Grading every step of {challenge.label(lab.id)} for your submission..."):
        document, results = submission.build(lab, cluster, learner=learner, name=learner_name, namespace=namespace,
                                             key=key, on_step=shown, challenge=entry)
    submission.write(document, path)
    if entry is not None and document["challenge"]["fixed_at"] and not entry.get("fixed_at"):
        entry["fixed_at"] = document["challenge"]["fixed_at"]  # this grading was the first passing check
        progress.save()
    passed = sum(1 for r in results if r.status.value == "PASS")
    signed = f"signed with course key {key.key_id}" if key else "NOT signed (no --course-key)"
    errors = sum(1 for r in results if r.status.value == "ERROR")
    if errors:
        click.echo(f"{errors} step(s) could not be checked (ERROR); your instructor will see that.", err=True)
    if entry is not None:
        fields = challenge.gradebook_fields(lab, learner, document["challenge"])
        verdict = "passes" if passed == len(results) else "does not pass"
        click.echo(f"Wrote {path}: {verdict} ({challenge.summary(fields)}), {signed}. Hand this file in.")
    else:
        click.echo(f"Wrote {path}: {passed}/{len(results)} steps pass, {signed}. Hand this file in.")
    if key is None:
        click.echo("Your instructor may require a signed submission: run again with --course-key FILE.", err=True)
    sys.exit(ExitStatus.PASSED)


def _formats(values: tuple[str, ...]) -> list[str]:
    from .outputs import FORMATS

    chosen: list[str] = []
    for value in values:
        for name in (v.strip().lower() for v in value.split(",")):
            if name not in FORMATS:
                raise UsageError(f"--format {name!r}: choose from {', '.join(FORMATS)}")
            if name not in chosen:
                chosen.append(name)
    return chosen or ["csv"]


def _progress(verbose: bool):
    from rich.markup import escape

    from .batch import Progress

    _out, err = _consoles()
    live = err.is_terminal and not os.environ.get("CI")

    class Shown(Progress):
        def start(self, total: int, already: int) -> None:
            self.bar = None
            self.errors = 0
            if live and total:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

                self.bar = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                               TextColumn("{task.fields[errors]} error(s)"), TimeElapsedColumn(), console=err,
                               transient=True)
                self.bar.start()
                self.task = self.bar.add_task("grading", total=total, completed=already, errors=0)

        def advance(self, record) -> None:
            self.errors += record["status"] == "ERROR"
            if self.bar is not None:
                self.bar.update(self.task, advance=1, errors=self.errors)
            if verbose:
                line = f"{record['status']:<5} {escape(record['learner'])}  {record['total']:g}/{record['max_total']:g}"
                if record.get("error"):
                    line += f"  {escape(record['error'])}"
                (self.bar.console if self.bar else err).print(line, highlight=False, soft_wrap=True)

        def stop(self) -> None:
            if self.bar is not None:
                self.bar.stop()

    return Shown()


@click.command("grade")
@click.argument("lab_ref", metavar="LAB|CHALLENGE")
@click.argument("sources", nargs=-1, type=click.Path(path_type=Path))
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path),
              help="Grade live: a CSV of learners, each with a kubeconfig context and/or a namespace.")
@click.option("--context", help="Classroom cluster for roster rows naming only a namespace (default: the lab's).")
@click.option("--in-cluster", is_flag=True, help="Classroom cluster = the one this Pod runs in (an Indexed Job).")
@click.option("--rbac", "print_rbac", is_flag=True,
              help="Print the RoleBindings that let the grader exec and read logs in the roster's namespaces "
                   "(and nowhere else), then stop.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (default: grades-labNN, or grades-<challenge>).")
@click.option("--format", "formats", multiple=True, metavar="FORMAT[,FORMAT]",
              help="csv, json, junit, gradescope, canvas, moodle; several at once (default: csv).")
@click.option("--jobs", type=click.IntRange(1, 256),
              help="Live learners graded at once (default: 4 per core, at most 32); files take two threads.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True,
              help="Seconds one learner may take; past it, that learner is an ERROR row and the batch goes on.")
@click.option("--resume", is_flag=True, help="Keep the results already in the output folder; grade only the rest "
                                             "(and what changed since).")
@click.option("--only", "only", metavar="LEARNER",
              help="Regrade this learner only, keeping every other result in the output folder.")
@click.option("--shard", metavar="I/N", help="Grade only shard I (0-based) of N: one per Indexed Job completion.")
@click.option("--merge", is_flag=True, help="Join shard results (SOURCES: their folders; default --out) into one "
                                            "gradebook.")
@click.option("--course-key", type=click.Path(dir_okay=False, path_type=Path), envvar="LABCHECK_COURSE_KEY",
              help="Check each submission's signature with this course key (or set LABCHECK_COURSE_KEY).")
@click.option("--accept-lab-digest", "accepted", multiple=True, metavar="DIGEST",
              help="Also grade submissions made against this earlier version of the lab.")
@click.option("--step", "step_refs", multiple=True, help="Grade only these steps (number or id; repeat).")
@click.option("--expected", type=click.Path(dir_okay=False, path_type=Path),
              help="A CSV of the learners expected (learner[,name]): each one missing gets a 'no submission' row.")
@click.option("--due", metavar="TIME", help="Due date and time (ISO 8601, e.g. 2026-12-01T23:59+01:00): later "
                                            "submissions are flagged late.")
@click.option("--late-penalty", metavar="PERCENT[/day]", help="With --due: take this share of a late score off, "
                                                              "once or per day late.")
@click.option("--anonymize", is_flag=True, help="Pseudonyms for learner ids (stable, salted with the course key or "
                                                "--salt) and no names, namespaces or paths in the outputs.")
@click.option("--salt", type=click.Path(dir_okay=False, path_type=Path),
              help="A file whose content salts --anonymize's pseudonyms (default: the course key).")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Also write the class report as HTML.")
@click.option("--max-submission-mb", type=click.FloatRange(min=0.01), default=8.0, show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="A line per learner as they finish.")
def grade_command(lab_ref, sources, roster=None, context=None, in_cluster=False, print_rbac=False, out=None,
                  formats=(), jobs=None, timeout=120.0, resume=False, only=None, shard=None, merge=False,
                  course_key=None, accepted=(), step_refs=(), expected=None, due=None, late_penalty=None,
                  anonymize=False, salt=None, html=None, max_submission_mb=8.0, verbose=False) -> None:
    """Grade a class: submission files (offline) or a roster of live learners; write the gradebook and report.
    A challenge id (04-silent-shop) grades a challenge's submissions: hints used and time to fix included."""
    from . import batch, challenge, store

    lab = challenge.resolve(lab_ref)
    if print_rbac:
        _print_rbac(lab, roster)
        return
    chosen = {lab.step(ref).id for ref in step_refs}
    steps = [s for s in lab.steps if s.id in chosen] if step_refs else list(lab.steps)
    key = _course_key(course_key)
    options = batch.Options(
        lab=lab, steps=steps, out=out or Path(f"grades-{lab.id}" if challenge.is_challenge(lab.id)
                                                        else f"grades-lab{lab.id}"), formats=_formats(formats),
        jobs=jobs or min(32, 4 * (os.cpu_count() or 2)), timeout=timeout, resume=resume,
        shard=store.parse_shard(shard) if shard else None, course_key=key,
        accepted=frozenset(a.strip().removeprefix("sha256:") for a in accepted),
        max_bytes=int(max_submission_mb * 1024 * 1024), html=html, only=only,
        rules=_rules(expected, due, late_penalty, anonymize, salt, key, roster))
    if only and (merge or options.shard):
        raise UsageError("--only regrades one learner in a gradebook: it takes no --merge or --shard")
    expected_tasks, notes = _tasks(lab, sources if not merge else (), roster, context, in_cluster, options)
    started = time.monotonic()
    if merge:
        if options.shard:
            raise UsageError("--merge joins shards: it takes no --shard")
        outcome = batch.merge(options, list(sources), expected_tasks or None)
    else:
        if not expected_tasks:
            raise UsageError("nothing to grade: name submission files or folders, or give --roster")
        if options.course_key is None and any(t.path for t in expected_tasks):
            click.echo("Signatures are not checked (no --course-key): edited submissions would not be noticed.",
                       err=True)
        outcome = batch.run(options, expected_tasks, _progress(verbose))
    for note in notes + outcome.notes:
        click.echo(f"note: {note}", err=True)
    elapsed = time.monotonic() - started
    shown = ["PASS", "FAIL", "ERROR"] + [s for s in ("NOT_GRADABLE", "MISSING") if outcome.count(s)]
    counts = ", ".join(f"{outcome.count(s)} {s}" for s in shown)
    what = f"graded {outcome.graded_now}" + (f", kept {outcome.kept} from before" if outcome.kept else "")
    label = f"shard {options.shard[0]}/{options.shard[1]}: " if options.shard else ""
    rows = len(outcome.book.rows) if outcome.book is not None else len(outcome.records)
    click.echo(f"{label}{rows} learners ({what}) in {elapsed:.1f} s: {counts}.", err=True)
    if outcome.report:
        click.echo(outcome.report, nl=False)
    click.echo("Wrote " + _listing(outcome.written), err=True)
    if options.shard:
        click.echo(f"Join the shards with: labcheck grade {lab.id} --merge {options.out}", err=True)
    # A shard's exit code tells the Job whether its work is done: ERROR rows are results, and a
    # failing exit would only make Kubernetes retry them. Elsewhere ERROR rows ask for a look (3).
    sys.exit(ExitStatus.CANNOT_GRADE if outcome.count("ERROR") and not options.shard else ExitStatus.PASSED)


def _rules(expected, due, late_penalty, anonymize, salt, key, roster):
    from .course import Penalty, Rules, parse_due, read_expected

    if late_penalty and not due:
        raise UsageError("--late-penalty needs --due")
    if due and roster:
        raise UsageError("--due judges submission files by when they were made; a roster is graded as it is now")
    if expected and roster:
        raise UsageError("--expected lists the learners of submission files; a roster already names everyone")
    if salt and not anonymize:
        raise UsageError("--salt is for --anonymize")
    secret = None
    if anonymize:
        if salt:
            try:
                secret = Path(salt).read_bytes().strip()
            except OSError as exc:
                raise UsageError(f"cannot read --salt {salt}: {exc.strerror or exc}") from None
        elif key is not None:
            secret = b"labcheck anonymize\0" + key.secret
        if not secret or len(secret) < 16:
            raise UsageError("--anonymize needs a secret salt of 16 bytes or more: --salt FILE, or --course-key "
                             "(make one with `openssl rand -hex 32 > salt`)")
    return Rules(expected=read_expected(expected) if expected else None, due=parse_due(due) if due else None,
                 penalty=Penalty.parse(late_penalty) if late_penalty else None, anonymize=secret)


def _print_rbac(lab, roster) -> None:
    from .rbac import learner_namespaces, role_bindings
    from .roster import read_roster

    if not roster:
        raise UsageError("--rbac writes RoleBindings for a roster's namespaces: give --roster")
    execs, logs, skipped = learner_namespaces(lab, read_roster(roster))
    if skipped:
        click.echo(f"note: {len(skipped)} learner(s) on their own cluster (a context) are left out: bind "
                   f"labcheck-grader-exec in their cluster ({', '.join(skipped[:5])})", err=True)
    click.echo(role_bindings(execs, logs), nl=False)


def _listing(paths: list[Path]) -> str:
    # Gradescope writes a file per learner: name the folder once rather than every file.
    shown, folders = [], set()
    for path in paths:
        if path.name == "results.json" and path.parent.parent.name == "gradescope":
            if path.parent.parent not in folders:
                folders.add(path.parent.parent)
                shown.append(f"{path.parent.parent}/*/results.json")
        else:
            shown.append(str(path))
    return ", ".join(shown)


def _tasks(lab, sources, roster, context, in_cluster, options):
    from . import batch

    tasks, notes = batch.file_tasks(sources) if sources else ([], [])
    if roster:
        from .roster import Classroom, read_roster
        from ..toolchain import cluster_config, kube_context

        if in_cluster and context:
            raise UsageError("--in-cluster and --context name two classroom clusters: give one")
        if not in_cluster and not context:
            context = kube_context(cluster_config(lab.cluster)[1])
        options.classroom = Classroom(context=context, in_cluster=in_cluster, pool_size=options.jobs * 4)
        tasks += batch.roster_tasks(read_roster(roster))
    return tasks, notes
