"""`labcheck watch`: the current step as a live checklist, graded again as the cluster changes.

Kubernetes API watches, not a polling loop, say when to grade: an event on any
kind the step's checks read (and on Pods) has the engine grade the step again
within a fraction of a second. What is costly to ask — commands in containers
or on nodes, container logs — is answered from a cache that is emptied at most
every few seconds after a Pod or something on a packet's path (Service,
EndpointSlice, NetworkPolicy) changed, and now and then without any event,
because network state can change without one. When a step passes,
progress is recorded as `labcheck check` records it and the next step is
watched; when the last one passes, the command ends.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from rich.console import Console, Group
from rich.markup import escape

from .checks.outcome import Status, StepResult
from .cluster.base import ExecResult, WatchableCluster
from .engine import run_step
from .errors import ClusterUnavailable, ExitStatus, TargetUnavailable
from .checks.kinds import kind_of
from .checks.kinds.base import NETWORK_PATH, POD
from .model import Lab, Step
from .render.text import check_line

Kind = tuple[str, str]  # (apiVersion, kind)
# A change to these can change what a command in a container sees. A change to any
# other kind (a ConfigMap holding an answer, say) has the objects graded again, but
# the commands' answers are kept until the periodic re-run.
ANSWER_CHANGING_KINDS: frozenset[Kind] = frozenset(
    {*NETWORK_PATH, ("v1", "Namespace"), ("networking.k8s.io/v1", "Ingress")})


@dataclass(frozen=True)
class Timing:
    debounce: float = 0.15  # quiet time that ends a burst of events (one `kubectl apply` makes several)
    max_delay: float = 0.5  # a steady stream of events is still graded this soon after it began
    min_interval: float = 3.0  # commands and logs are asked again at most this often while changes keep coming
    periodic: float = 15.0  # ... and this often without any change


def watched_kinds(lab: Lab, step: Step) -> list[Kind]:
    """The kinds whose changes can change the step's result: what each check's kind says it
    reads, and Pods (every step's objects live in them)."""
    kinds = [POD]
    for check in step.checks:
        wanted = kind_of(check).watches(check.spec, lab.folder)
        kinds.extend(kind for kind in wanted if kind not in kinds)
    return kinds


class CachedAnswers:
    """The cluster seam, with answers to commands and log reads kept until `forget()`.

    Objects (get, list) are always read afresh: they are cheap, and they are
    what the watches report on.
    """

    replay = False

    def __init__(self, inner):
        self.inner = inner
        self.asked = 0  # commands and log reads that reached the cluster
        self._kept: dict[tuple, Any] = {}
        self._lock = threading.Lock()  # the engine may run probes in parallel

    def describe(self) -> str:
        return self.inner.describe()

    def get(self, api_version, kind, namespace, name):
        return self.inner.get(api_version, kind, namespace, name)

    def list(self, api_version, kind, namespace, label_selector=None):
        return self.inner.list(api_version, kind, namespace, label_selector)

    def logs(self, namespace, pod, container, tail_lines=200) -> str:
        return self._answer(("logs", namespace, pod, container, tail_lines),
                            lambda: self.inner.logs(namespace, pod, container, tail_lines))

    def exec_in_pod(self, namespace, pod, container, command, timeout) -> ExecResult:
        return self._answer(("exec", namespace, pod, container, tuple(command)),
                            lambda: self.inner.exec_in_pod(namespace, pod, container, command, timeout))

    def exec_on_node(self, node, command, timeout) -> ExecResult:
        return self._answer(("node", node, tuple(command)), lambda: self.inner.exec_on_node(node, command, timeout))

    def exec_on_host(self, command, timeout) -> ExecResult:
        return self._answer(("host", tuple(command)), lambda: self.inner.exec_on_host(command, timeout))

    @property
    def holds_answers(self) -> bool:
        return bool(self._kept)

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()

    def _answer(self, key: tuple, ask: Callable[[], Any]) -> Any:
        with self._lock:
            known = key in self._kept
            kept = self._kept.get(key)
        if not known:
            with self._lock:
                self.asked += 1
            try:
                kept = ask()
            except TargetUnavailable as exc:
                kept = exc  # a missing Pod stays missing until a Pod event says otherwise
            # ClusterUnavailable is not kept: the next grading asks again.
            with self._lock:
                self._kept[key] = kept
        if isinstance(kept, TargetUnavailable):
            raise TargetUnavailable(str(kept))
        return kept


class StepWatcher:
    """Which step is watched, when to grade it next, and grading it; the caller brings clock and events."""

    def __init__(self, lab: Lab, cluster, *, namespace: str, step_number: int, timing: Timing = Timing()):
        self.lab = lab
        self.namespace = namespace
        self.timing = timing
        self.answers = CachedAnswers(cluster)
        self.step_number = step_number
        self._restart()

    def _restart(self) -> None:
        self.result: StepResult | None = None
        self._first_change: float | None = None  # the earliest change not yet graded
        self._last_change = -math.inf
        self._stale = False  # kept answers may predate a change
        self._asked_at = -math.inf  # when the kept answers were last thrown away
        self._asked_for_change = False  # ... and whether a change was why (then min_interval paces the next)
        self.answers.forget()

    @property
    def done(self) -> bool:
        return self.step_number > len(self.lab.steps)

    @property
    def step(self) -> Step:
        return self.lab.steps[self.step_number - 1]

    def kinds(self) -> list[Kind]:
        return watched_kinds(self.lab, self.step)

    def changed(self, now: float, *, answers_too: bool = True) -> None:
        """A watched object changed (or a watch restarted and may have missed changes).

        `answers_too`: the change may also change what commands in containers see.
        """
        if self._first_change is None:
            self._first_change = now
        self._last_change = now
        self._stale = self._stale or answers_too

    def due(self, now: float) -> float:
        """When to grade next, on the caller's clock; infinity: not before a change."""
        if self.result is None:
            return now
        t = self.timing
        times = [math.inf]
        if self._first_change is not None:
            times.append(min(self._last_change + t.debounce, self._first_change + t.max_delay))
        if self.answers.holds_answers and not self._stale:
            times.append(self._asked_at + t.periodic)
        elif self.answers.holds_answers and self._asked_for_change:  # else the change's own time asks
            times.append(self._asked_at + t.min_interval)
        return min(times)

    def _change_pace(self) -> float:
        """How long after the last asking a change may ask commands again: at once after a quiet
        spell (the learner's one apply), min_interval while changes keep coming (a rollout)."""
        return self.timing.min_interval if self._asked_for_change else 0.0

    def grade(self, now: float) -> StepResult:
        t = self.timing
        # The same sums as due(): a grading at the time due() gave asks again, float rounding or not.
        if (not self.answers.holds_answers or (self._stale and now >= self._asked_at + self._change_pace())
                or now >= self._asked_at + t.periodic):
            self.answers.forget()
            self._asked_at = now
            self._asked_for_change = self._stale
            self._stale = False
        self._first_change = None
        self.result = run_step(self.lab, self.step, self.answers, wait=0, namespace=self.namespace,
                               recheck_earlier=True)
        return self.result

    def advance(self) -> None:
        self.step_number += 1
        self._restart()


# --- showing it ------------------------------------------------------------------


def _kind_names(kinds: list[Kind]) -> str:
    return ", ".join(kind for _version, kind in kinds)


class PlainView:
    """No terminal: one line (with its details) for each check whose result changed."""

    def __init__(self, out: Console, err: Console):
        self.out, self.err = out, err
        self._shown: dict[str, tuple] = {}

    def __enter__(self) -> "PlainView":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def start_step(self, watcher: StepWatcher) -> None:
        self._shown = {}
        self.out.print(_header(watcher), highlight=False)

    def watching(self, watcher: StepWatcher) -> None:
        self.err.print(f"Watching {_kind_names(watcher.kinds())} in namespace {watcher.namespace}; Ctrl-C stops.",
                       highlight=False)

    def show(self, watcher: StepWatcher, result: StepResult) -> None:
        width = _width(result)
        regression = str(result.regression) if result.regression else None
        if self._shown.get("regression") != regression:
            self._shown["regression"] = regression
            if regression:
                self.out.print(f"  [yellow]{escape(regression)}[/yellow]", highlight=False, soft_wrap=True)
        for check in result.checks:
            seen = (check.status, check.summary, check.expected, check.observed, check.cause)
            if self._shown.get(check.check_id) != seen:
                self._shown[check.check_id] = seen
                self.out.print(check_line(check, width), highlight=False, soft_wrap=True)

    def passed(self, watcher: StepWatcher, result: StepResult) -> None:
        self.out.print(_passed_line(watcher, result), highlight=False)

    def finished(self, lab: Lab) -> None:
        self.out.print(f"All {len(lab.steps)} steps of lab {lab.id} are done.", highlight=False)


class LiveView:
    """A terminal: the step's checklist redrawn in place, passed steps kept above it."""

    def __init__(self, out: Console):
        from rich.live import Live

        self._live = Live(console=out, auto_refresh=False, transient=False)
        self._watcher: StepWatcher | None = None
        self._result: StepResult | None = None
        self._state = "connecting..."
        self._graded = ""

    def __enter__(self) -> "LiveView":
        self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        self._live.stop()

    def _draw(self) -> None:
        assert self._watcher is not None
        parts: list[Any] = [_header(self._watcher)]
        if self._result is not None:
            width = _width(self._result)
            if self._result.regression is not None:
                parts.append(f"  [yellow]{escape(str(self._result.regression))}[/yellow]")
            parts.extend(check_line(check, width) for check in self._result.checks)
        parts.append(f"[dim]{escape(self._state)}{self._graded}[/dim]")
        self._live.update(Group(*parts), refresh=True)

    def start_step(self, watcher: StepWatcher) -> None:
        self._watcher, self._result = watcher, None
        self._state, self._graded = f"namespace {watcher.namespace} · connecting...", ""
        self._draw()

    def watching(self, watcher: StepWatcher) -> None:
        self._state = f"watching {_kind_names(watcher.kinds())} in namespace {watcher.namespace} · Ctrl-C stops"
        self._draw()

    def show(self, watcher: StepWatcher, result: StepResult) -> None:
        self._result, self._graded = result, f" · graded {time.strftime('%H:%M:%S')}"
        self._draw()

    def passed(self, watcher: StepWatcher, result: StepResult) -> None:
        self._live.console.print(_passed_line(watcher, result), highlight=False)

    def finished(self, lab: Lab) -> None:
        self._live.update("", refresh=True)
        self._live.console.print(f"All {len(lab.steps)} steps of lab {lab.id} are done.", highlight=False)


def _header(watcher: StepWatcher) -> str:
    return (f"[bold]Lab {watcher.lab.id} · step {watcher.step_number}/{len(watcher.lab.steps)} · "
            f"{escape(watcher.step.title)}[/bold]")


def _width(result: StepResult) -> int:
    return max((len(c.check_id) for c in result.checks), default=10)


def _passed_line(watcher: StepWatcher, result: StepResult) -> str:
    return (f"[green]PASS[/green] · step {result.step_number}/{len(watcher.lab.steps)} · "
            f"{escape(result.step_title)} passed")


# --- running it -------------------------------------------------------------------


def _pump(cluster: WatchableCluster, kind: Kind, namespace: str, events: queue.Queue) -> None:
    """Carry one kind's watch events to the main loop (a thread; the client's watch blocks)."""
    try:
        for event in cluster.watch(kind[0], kind[1], namespace):
            events.put(("event", kind, event))
        events.put(("gone", kind, ClusterUnavailable(f"the watch of {kind[1]} objects ended")))
    except ClusterUnavailable as exc:
        events.put(("gone", kind, exc))
    except Exception as exc:  # a client bug must end the command with one line, not hang it
        events.put(("gone", kind, ClusterUnavailable(f"watching {kind[1]} failed: {type(exc).__name__}: {exc}")))


def record_pass(lab: Lab, result: StepResult) -> None:
    from .state import Progress

    progress = Progress.load()
    progress.mark_passed(lab.id, result.step_id, result.step_number, len(lab.steps))
    progress.save()


def watch_steps(
    lab: Lab,
    cluster: WatchableCluster,
    *,
    step_number: int,
    namespace: str | None = None,
    view,
    on_pass: Callable[[Lab, StepResult], None] = record_pass,
    timing: Timing = Timing(),
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Grade steps from `step_number` on as the cluster changes, until the last one passes."""
    watcher = StepWatcher(lab, cluster, namespace=namespace or lab.namespace, step_number=step_number,
                          timing=timing)
    events: queue.Queue = queue.Queue()
    pumps: set[Kind] = set()
    synced: set[Kind] = set()
    announced = False
    with view:
        view.start_step(watcher)
        while not watcher.done:
            kinds = watcher.kinds()
            for kind in kinds:
                if kind not in pumps:
                    pumps.add(kind)
                    threading.Thread(target=_pump, args=(cluster, kind, watcher.namespace, events),
                                     name=f"watch-{kind[1]}", daemon=True).start()
            if not announced and synced.issuperset(kinds):
                announced = True
                view.watching(watcher)
            now = clock()
            wait = watcher.due(now) - now
            if wait > 0:
                try:
                    item = events.get(timeout=min(wait, 1.0))
                except queue.Empty:
                    continue
                what, kind, payload = item
                if what == "gone":
                    raise payload
                # A watch's first list closes the gap between the first grading and the watch
                # starting: objects are graded again, the commands' fresh answers are kept.
                first_sync = payload["type"] == "SYNCED" and kind not in synced
                if payload["type"] == "SYNCED":
                    synced.add(kind)
                if kind in kinds:
                    watcher.changed(clock(), answers_too=kind in ANSWER_CHANGING_KINDS and not first_sync)
                continue
            result = watcher.grade(clock())
            view.show(watcher, result)
            if result.status == Status.PASS:
                on_pass(lab, result)
                view.passed(watcher, result)
                watcher.advance()
                if not watcher.done:
                    announced = False
                    view.start_step(watcher)
        view.finished(lab)
    return ExitStatus.PASSED


def run_watch(lab: Lab, connect: Callable[[], WatchableCluster], *, step_ref: str | None,
                  namespace: str | None, out: Console, err: Console) -> int:
    """`labcheck watch`: start at --step or the learner's current step."""
    from .state import Progress

    if step_ref:
        number = lab.step_number(lab.step(step_ref))
    else:
        number = Progress.load().lab(lab.id)["current_step"]
        if number > len(lab.steps):
            out.print(f"All steps of lab {lab.id} have passed. Watch one again with --step N.")
            return ExitStatus.PASSED
    view = LiveView(out) if out.is_terminal else PlainView(out, err)
    return watch_steps(lab, connect(), step_number=number, namespace=namespace, view=view)


__all__ = ["Timing", "StepWatcher", "CachedAnswers", "watched_kinds", "watch_steps", "run_watch"]
