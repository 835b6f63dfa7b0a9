"""`labcheck watch` over a fake cluster that reports changes: when it grades, what it asks, how it ends."""

from __future__ import annotations

import _thread
import io
import queue
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from labcheck.checks.outcome import Status
from labcheck.errors import ClusterUnavailable, ExitStatus
from labcheck.loader import find_lab
from labcheck.checks.kinds.base import NETWORK_PATH
from labcheck.model import Lab
from labcheck.watch import (
    POD,
    CachedAnswers,
    LiveView,
    PlainView,
    StepWatcher,
    Timing,
    watch_steps,
    watched_kinds,
)
from tests.conftest import FakeCluster, ok, pod


class EventfulCluster(FakeCluster):
    """A fake cluster whose watches report what the test changes, as the API would."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._streams: dict[str, list[queue.Queue]] = {}
        self._lock = threading.Lock()
        self.watching: set[str] = set()

    def watch(self, api_version, kind, namespace):
        stream: queue.Queue = queue.Queue()
        with self._lock:
            self._streams.setdefault(kind, []).append(stream)
            self.watching.add(kind)
        yield {"type": "SYNCED", "object": None}
        while True:
            event = stream.get()
            if isinstance(event, BaseException):
                raise event
            yield event

    def _send(self, kind, event):
        with self._lock:
            streams = list(self._streams.get(kind, []))
        for stream in streams:
            stream.put(event)

    def apply(self, obj):
        self.objects = [o for o in self.objects if (o["kind"], o["metadata"]["name"]) !=
                        (obj["kind"], obj["metadata"]["name"])] + [obj]
        self._send(obj["kind"], {"type": "ADDED", "object": obj})

    def break_watch(self, kind, exc):
        self._send(kind, exc)

    def wait_watching(self, *kinds, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not self.watching.issuperset(kinds):
            assert time.monotonic() < deadline, f"never watched {kinds}; watching {self.watching}"
            time.sleep(0.01)


def make_lab(steps: list[list[dict]]) -> Lab:
    lab = Lab.model_validate({
        "format": 1, "id": "99", "title": "t", "summary": "s", "cluster": "single-node", "namespace": "lab99",
        "steps": [{"id": f"s{n}", "title": f"step {n}", "checks": checks, "hints": ["h"],
                   "solution": {"commands": ["true"]}, "unsolved_fails": [checks[0]["id"]]}
                  for n, checks in enumerate(steps, 1)],
    })
    lab._folder = Path("/nonexistent/99-test")
    return lab


WEB_POD = {"id": "web", "title": "Pod web", "assert": {"kind": "Pod", "metadata": {"name": "web"}}}
ANSWER = {"id": "answer", "title": "answer", "assert": {"kind": "ConfigMap", "metadata": {"name": "answer"}}}
PROBE = {"id": "reach", "title": "web answers", "probe": {"http": {"pod": "web", "url": "http://localhost"},
                                                           "expect": {"contains": "hello"}}}


def configmap(name, namespace="lab99", **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def counting_exec(answer="hello"):
    calls = []

    def answer_fn(where, command):
        calls.append(where)
        return ok(answer)

    return answer_fn, calls


# --- which kinds ---------------------------------------------------------------------


def test_watched_kinds_follow_the_step_checks():
    lab01 = find_lab("01")
    # Each check's kind says what it reads: an assert its own kind, a probe the packet's path,
    # a python function what it declares (or the usual kinds: the path, ConfigMaps, Deployments).
    assert watched_kinds(make_lab([[WEB_POD]]), make_lab([[WEB_POD]]).steps[0]) == [POD]
    probing = make_lab([[PROBE]])
    assert watched_kinds(probing, probing.steps[0]) == [*NETWORK_PATH]
    assert watched_kinds(lab01, lab01.step("sidecar-reaches-nginx")) == [*NETWORK_PATH, ("v1", "ConfigMap")]
    assert set(watched_kinds(lab01, lab01.step("pause-container"))) == {*NETWORK_PATH, ("v1", "ConfigMap"),
                                                                       ("apps/v1", "Deployment")}


# --- when it grades and what it asks (a fake clock, no threads) ----------------------


def test_a_check_turns_pass_soon_after_the_event():
    lab = make_lab([[WEB_POD]])
    cluster = FakeCluster([])
    watcher = StepWatcher(lab, cluster, namespace="lab99", step_number=1)
    assert watcher.due(0.0) == 0.0  # graded at once when watching starts
    assert watcher.grade(0.0).status == Status.FAIL
    assert watcher.due(5.0) == float("inf")  # nothing to do until something changes
    cluster.objects.append(pod("web", namespace="lab99"))
    watcher.changed(10.0)
    assert 10.0 < watcher.due(10.0) <= 10.5
    assert watcher.grade(watcher.due(10.0)).status == Status.PASS


def test_a_burst_of_events_is_graded_once_but_not_later_than_max_delay():
    watcher = StepWatcher(make_lab([[WEB_POD]]), FakeCluster([]), namespace="lab99", step_number=1)
    watcher.grade(0.0)
    for tick in range(10):  # an event every 0.1 s keeps pushing the debounce back...
        watcher.changed(1.0 + tick / 10)
    assert watcher.due(1.9) == pytest.approx(1.5)  # ...but not past first event + max_delay


def test_probes_are_asked_again_at_once_after_a_change_then_at_most_every_min_interval():
    answer, calls = counting_exec()
    lab = make_lab([[WEB_POD, PROBE]])
    cluster = FakeCluster([pod("web", namespace="lab99")], exec_answer=answer)
    timing = Timing()
    watcher = StepWatcher(lab, cluster, namespace="lab99", step_number=1, timing=timing)
    assert watcher.grade(0.0).status == Status.PASS
    assert len(calls) == 1
    # No event: the next grading is the slow periodic one, nothing sooner.
    assert watcher.due(1.0) == pytest.approx(timing.periodic)
    # The learner's apply 1 s in: graded again at once, the probe asked afresh...
    watcher.changed(1.0)
    watcher.grade(watcher.due(1.0))
    assert len(calls) == 2
    # ...but while changes keep coming (a rollout), objects are graded at once and the probe's
    # answer is kept until min_interval after it was last asked.
    watcher.changed(1.5)
    watcher.grade(watcher.due(1.5))
    assert len(calls) == 2
    asked = 1.0 + timing.debounce
    assert watcher.due(2.0) == pytest.approx(asked + timing.min_interval)
    watcher.grade(asked + timing.min_interval)
    assert len(calls) == 3
    # Quiet again: the periodic re-run asks once more, since network state can change unseen.
    assert watcher.due(5.0) == pytest.approx(asked + timing.min_interval + timing.periodic)
    watcher.grade(asked + timing.min_interval + timing.periodic)
    assert len(calls) == 4
    # A change after a quiet spell is asked at once again.
    watcher.changed(40.0)
    watcher.grade(watcher.due(40.0))
    assert len(calls) == 5


def test_a_change_commands_cannot_see_keeps_their_answers():
    answer, calls = counting_exec()
    watcher = StepWatcher(make_lab([[PROBE, ANSWER]]), FakeCluster([pod("web", namespace="lab99")],
                                                                   exec_answer=answer),
                          namespace="lab99", step_number=1)
    watcher.grade(0.0)
    watcher.changed(5.0, answers_too=False)  # say, the answer ConfigMap was created
    watcher.grade(watcher.due(5.0))
    assert len(calls) == 1
    assert watcher.due(6.0) == pytest.approx(Timing().periodic)


def test_objects_are_always_read_afresh_and_missing_pods_are_kept_until_a_change():
    cluster = FakeCluster([])  # exec raises TargetUnavailable: no such Pod
    answers = CachedAnswers(cluster)
    for _ in range(2):
        with pytest.raises(Exception, match="does not exist"):
            answers.exec_in_pod("lab99", "web", None, ["true"], 5)
        assert answers.get("v1", "Pod", "lab99", "web") is None
    assert answers.asked == 1
    assert [c[0] for c in cluster.calls] == ["exec", "get", "get"]
    answers.forget()
    with pytest.raises(Exception):
        answers.exec_in_pod("lab99", "web", None, ["true"], 5)
    assert answers.asked == 2


def test_an_unreachable_cluster_is_asked_again_not_kept():
    class Down(FakeCluster):
        def exec_in_pod(self, *args):
            self.calls.append(("exec",))
            raise ClusterUnavailable("API unreachable")

    answers = CachedAnswers(Down([]))
    for _ in range(2):
        with pytest.raises(ClusterUnavailable):
            answers.exec_in_pod("lab99", "web", None, ["true"], 5)
    assert answers.asked == 2


# --- the whole loop, with threads and watches ------------------------------------------


def run_in_thread(lab, cluster, view, **kwargs):
    outcome: dict = {}
    passed: list = []

    def target():
        try:
            outcome["code"] = watch_steps(lab, cluster, step_number=1, view=view,
                                          on_pass=lambda lab, result: passed.append((time.monotonic(), result)),
                                          **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome, passed


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def plain_view():
    out, err = io.StringIO(), io.StringIO()
    return PlainView(Console(file=out, width=200), Console(file=err, width=200)), out, err


def test_steps_advance_by_themselves_until_the_lab_is_done():
    lab = make_lab([[WEB_POD], [ANSWER]])
    cluster = EventfulCluster([])
    view, out, err = plain_view()
    thread, outcome, passed = run_in_thread(lab, cluster, view)
    wait_for(lambda: "FAIL  web" in out.getvalue() and "Watching" in err.getvalue())
    applied = time.monotonic()
    cluster.apply(pod("web", namespace="lab99"))
    cluster.wait_watching("Pod", "ConfigMap")  # step 2 watches its ConfigMap
    assert passed and passed[0][0] - applied < 1.0  # PASS within a second of the change
    assert passed[0][1].step_id == "s1"
    cluster.apply(configmap("answer", address="127.0.0.1"))
    thread.join(5)
    assert outcome == {"code": 0}
    assert [r.step_id for _t, r in passed] == ["s1", "s2"]
    text = out.getvalue()
    assert "FAIL  web" in text and "PASS  web" in text and "PASS  answer" in text
    assert "step 1/2 · step 1 passed" in text and "All 2 steps of lab 99 are done." in text
    assert "Watching Pod in namespace lab99" in err.getvalue()


def test_only_changed_checks_are_printed_again():
    lab = make_lab([[WEB_POD, ANSWER]])
    cluster = EventfulCluster([pod("web", namespace="lab99")])
    view, out, _err = plain_view()
    thread, outcome, _passed = run_in_thread(lab, cluster, view)
    wait_for(lambda: "FAIL  answer" in out.getvalue())
    cluster.apply(pod("web", namespace="lab99"))  # a change that changes no result
    time.sleep(0.4)
    cluster.apply(configmap("answer"))
    thread.join(5)
    assert outcome == {"code": 0}
    assert out.getvalue().count("PASS  web") == 1
    assert out.getvalue().count("FAIL  answer") == 1


def test_only_pod_and_network_events_ask_commands_again():
    answer, calls = counting_exec()
    lab = make_lab([[PROBE, {**ANSWER, "assert": {**ANSWER["assert"], "data": {"address": "127.0.0.1"}}}]])
    cluster = EventfulCluster([pod("web", namespace="lab99")], exec_answer=answer)
    view, out, err = plain_view()
    timing = Timing(min_interval=0.3, periodic=60)
    thread, outcome, _passed = run_in_thread(lab, cluster, view, timing=timing)
    wait_for(lambda: "FAIL  answer" in out.getvalue() and "Watching" in err.getvalue())
    time.sleep(0.5)
    assert len(calls) == 1  # the watches starting asked nothing again
    cluster.apply(configmap("answer", address="10.244.0.7"))
    wait_for(lambda: "10.244.0.7" in out.getvalue())
    time.sleep(0.5)
    assert len(calls) == 1  # a ConfigMap cannot change what curl in the Pod sees
    cluster.apply(pod("web", namespace="lab99"))
    wait_for(lambda: len(calls) == 2)
    cluster.apply(configmap("answer", address="127.0.0.1"))
    thread.join(5)
    assert outcome == {"code": 0}
    assert len(calls) == 2


def test_a_failing_check_shows_expected_observed_and_cause_on_a_terminal():
    lab = make_lab([[WEB_POD]])
    cluster = EventfulCluster([pod("webb", namespace="lab99")])
    buffer = io.StringIO()
    view = LiveView(Console(file=buffer, force_terminal=True, color_system=None, width=120))
    thread, outcome, _passed = run_in_thread(lab, cluster, view)
    wait_for(lambda: "likely cause:" in buffer.getvalue())
    shown = buffer.getvalue()
    assert "FAIL  web" in shown and "expected:" in shown and "observed:" in shown and "likely cause:" in shown
    cluster.apply(pod("web", namespace="lab99"))
    thread.join(5)
    assert outcome == {"code": 0}
    assert "PASS · step 1/1" in buffer.getvalue()


def test_the_api_going_away_ends_the_watch_with_cluster_unavailable():
    lab = make_lab([[WEB_POD]])
    cluster = EventfulCluster([])
    view, _out, _err = plain_view()
    thread, outcome, _passed = run_in_thread(lab, cluster, view)
    cluster.wait_watching("Pod")
    cluster.break_watch("Pod", ClusterUnavailable("Kubernetes API at https://127.0.0.1:1 unreachable"))
    thread.join(5)
    assert isinstance(outcome.get("error"), ClusterUnavailable)


# --- the command: Ctrl-C and a lost API, as a person sees them --------------------------


class InterruptingCluster(EventfulCluster):
    """Presses Ctrl-C (a real SIGINT to the main thread) once the watches are up: once, however
    many kinds the step watches (a second press would land in whatever runs next)."""

    pressed = threading.Lock()

    def watch(self, api_version, kind, namespace):
        yield {"type": "SYNCED", "object": None}
        time.sleep(0.3)
        if self.pressed.acquire(blocking=False):
            _thread.interrupt_main()
        yield from super().watch(api_version, kind, namespace)


def run_cli(monkeypatch, capsys, cluster, *args):
    from labcheck import cli, session

    monkeypatch.setattr(session, "live_cluster", lambda lab, context: cluster)
    with pytest.raises(SystemExit) as exited:
        cli.main(["watch", "01", "--step", "1", *args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_ctrl_c_exits_130_with_one_line(isolated_env, monkeypatch, capsys):
    cluster = InterruptingCluster([])
    cluster.pressed = threading.Lock()
    code, out, err = run_cli(monkeypatch, capsys, cluster)
    assert code == ExitStatus.INTERRUPTED
    assert err.strip().splitlines()[-1] == "labcheck: interrupted"
    assert "Traceback" not in out + err
    assert "FAIL  pod-exists" in out  # it did grade before it was stopped


def test_lost_api_exits_3_with_one_line(isolated_env, monkeypatch, capsys):
    class Lost(EventfulCluster):
        def watch(self, api_version, kind, namespace):
            yield {"type": "SYNCED", "object": None}
            raise ClusterUnavailable("Kubernetes API at https://127.0.0.1:1 unreachable: connection refused")

    code, _out, err = run_cli(monkeypatch, capsys, Lost([]))
    assert code == ExitStatus.CANNOT_GRADE
    assert err.strip().splitlines()[-1] == ("labcheck: Kubernetes API at https://127.0.0.1:1 unreachable: "
                                            "connection refused")


def test_grades_the_namespace_it_is_given(isolated_env, monkeypatch, capsys):
    cluster = InterruptingCluster([pod("multicontainerpod", namespace="elsewhere",
                                       containers=("nginx-container", "sidecar"),
                                       labels={"name": "multi-container-pod", "environment": "production",
                                               "tier": "front-end"})])
    _code, out, _err = run_cli(monkeypatch, capsys, cluster, "--namespace", "elsewhere")
    assert "PASS  pod-exists" in out
