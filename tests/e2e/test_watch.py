"""`labcheck watch` on a real cluster: PASS shown soon after the solution is applied, in plain output and on a terminal.

Lab 01 is watched in a namespace of its own (not lab01, which other runs use),
through --namespace.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

from labcheck.errors import ExitStatus
from tests.e2e.conftest import drop_namespace, labcheck
from scripts.benchmark_watch import CONTEXT, SOLUTION, reaction_trial

NAMESPACE = "lab01-watch-e2e"


@pytest.fixture
def watch_env(e2e_env, cleanup_clusters, tmp_path):
    env = {**e2e_env, "LABCHECK_STATE_DIR": str(tmp_path / "state")}  # progress of its own
    started = subprocess.run([sys.executable, "-m", "labcheck", "start", "01"], env=env, capture_output=True,
                             text=True, timeout=900)
    assert started.returncode == ExitStatus.PASSED, started.stderr
    subprocess.run(["kubectl", "--context", CONTEXT, "create", "namespace", NAMESPACE], env=env, capture_output=True)
    yield env
    subprocess.run(["kubectl", "--context", CONTEXT, "delete", "namespace", NAMESPACE, "--wait=false"], env=env,
                   capture_output=True)


def test_watch_shows_pass_soon_after_apply_and_stops_on_ctrl_c(watch_env):
    trial = reaction_trial(watch_env, NAMESPACE)
    print(f"labcheck watch reaction: apply returned -> PASS shown {trial.apply_to_pass:.3f} s "
          f"(apply started -> PASS {trial.start_to_pass:.3f} s)\n{trial.output}")
    assert "FAIL  pod-exists" in trial.output and "PASS  pod-exists" in trial.output
    assert "Lab 01 · step 2/6" in trial.output  # moved on by itself
    assert trial.apply_to_pass < 10  # a sanity bound; the figure itself is printed
    assert trial.exit_code == ExitStatus.INTERRUPTED
    assert trial.output.strip().splitlines()[-1] == "labcheck: interrupted"
    assert "Traceback" not in trial.output
    status = subprocess.run([sys.executable, "-m", "labcheck", "status"], env=watch_env, capture_output=True,
                            text=True)
    assert "create-pod" in status.stdout and "PASS" in status.stdout  # progress recorded as `check` does


def read_until(fd: int, text: str, seen: bytearray, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} on the terminal; it shows:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, f"terminal closed before {text!r}:\n{seen.decode(errors='replace')}"
            seen.extend(chunk)


def test_watch_on_a_terminal_redraws_in_place_and_ctrl_c_stops_it(watch_env):
    subprocess.run(["kubectl", "--context", CONTEXT, "-n", NAMESPACE, "apply", "-f", str(SOLUTION)], env=watch_env,
                   capture_output=True, check=True)
    env = {**watch_env, "TERM": "xterm", "COLUMNS": "160", "LINES": "40"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: labcheck with the pty as its controlling terminal
        os.execvpe(sys.executable, [sys.executable, "-m", "labcheck", "watch", "01", "--step", "1",
                                    "--namespace", NAMESPACE], env)
    seen = bytearray()
    try:
        read_until(fd, "step 1/6 · Create the two-container Pod passed", seen, 60)
        read_until(fd, "FAIL  readiness-probe", seen, 60)  # step 2 on screen, with its cause
        read_until(fd, "likely cause", seen, 10)
        os.write(fd, b"\x03")  # Ctrl-C, through the terminal's line discipline
        read_until(fd, "labcheck: interrupted", seen, 15)
        _pid, status = os.waitpid(pid, 0)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(fd)
    shown = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == ExitStatus.INTERRUPTED
    assert "\x1b[" in shown  # cursor movement: the checklist is redrawn in place, not appended
    assert "Traceback" not in shown


class _SeenPass(Exception):
    """Ends the watch once the watched step has passed."""


class _RecordingView:
    """A view for watch_steps that keeps what it is shown, with the time it was shown."""

    def __init__(self):
        self.watching_since = threading.Event()
        self.shown: list[tuple[float, str]] = []
        self.kinds: list[str] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def start_step(self, watcher):
        pass

    def watching(self, watcher):
        self.kinds = [kind for _version, kind in watcher.kinds()]
        self.watching_since.set()

    def show(self, watcher, result):
        self.shown.append((time.perf_counter(), result.status.value))

    def passed(self, watcher, result):
        raise _SeenPass()

    def finished(self, lab):
        pass


def test_watch_08_grades_again_as_soon_as_a_network_policy_is_applied(e2e_env, cleanup_clusters, monkeypatch):
    """Lab 08's matrix depends on NetworkPolicies: applying one is graded again by its own event
    (the periodic re-run is off here, so nothing else could). Grading's start and the PASS are timed
    from `kubectl apply` returning and printed."""
    import labcheck.watch as watch
    from labcheck.engine import run_step
    from labcheck.loader import find_lab
    from labcheck.session import live_cluster
    from labcheck.toolchain import cluster_config, kube_context

    lab = find_lab("08")
    context = kube_context(cluster_config(lab.cluster)[1])
    assert labcheck(e2e_env, "start", "08").returncode == ExitStatus.PASSED
    try:
        assert labcheck(e2e_env, "solve", "08", "--step", "1").returncode == ExitStatus.PASSED

        def kubectl(*args):
            return subprocess.run(["kubectl", "--context", context, *args], env=e2e_env, capture_output=True,
                                  text=True, timeout=300)

        kubectl("-n", lab.namespace, "delete", "networkpolicy", "--all")
        for namespace in (lab.namespace, f"{lab.namespace}-monitoring"):
            ready = kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=240s")
            assert ready.returncode == 0, ready.stderr
        for name in ("KUBECONFIG", "LABCHECK_STATE_DIR"):
            monkeypatch.setenv(name, e2e_env[name])

        grading_started: list[float] = []

        def timed_run_step(*args, **kwargs):
            grading_started.append(time.perf_counter())
            return run_step(*args, **kwargs)

        monkeypatch.setattr(watch, "run_step", timed_run_step)
        view = _RecordingView()
        ended: list[BaseException] = []

        def run():
            try:
                watch.watch_steps(lab, live_cluster(lab, context), step_number=2, view=view,
                                  on_pass=lambda *_: None, timing=watch.Timing(periodic=3600))
            except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
                ended.append(exc)

        watcher_thread = threading.Thread(target=run, daemon=True)
        watcher_thread.start()
        assert view.watching_since.wait(120), f"the watch never started: {ended}"
        assert "NetworkPolicy" in view.kinds, view.kinds
        deadline = time.monotonic() + 120
        while not view.shown and time.monotonic() < deadline:
            time.sleep(0.1)
        assert view.shown and view.shown[0][1] == "FAIL", view.shown  # no policy yet: nothing is blocked
        policy = lab.folder / "manifests" / "default-deny-ingress.yaml"
        applied = kubectl("-n", lab.namespace, "apply", "-f", str(policy))
        after_apply = time.perf_counter()
        assert applied.returncode == 0, applied.stderr
        watcher_thread.join(120)
        assert ended and isinstance(ended[0], _SeenPass), f"the step did not pass: {ended} {view.shown}"
        regrade = next(t for t in grading_started if t > after_apply) - after_apply
        passed_at = view.shown[-1][0] - after_apply
        print(f"labcheck watch 08: kubectl apply returned -> grading started {regrade:.3f} s, "
              f"PASS shown {passed_at:.3f} s")
        assert view.shown[-1][1] == "PASS"
    finally:
        drop_namespace(e2e_env, lab)
