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
import time

import pytest

from labcheck.errors import ExitStatus
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
