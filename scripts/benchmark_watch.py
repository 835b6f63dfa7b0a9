#!/usr/bin/env python3
"""Reaction time of `labcheck watch`: from `kubectl apply` of lab 01 step 1's solution to its PASS shown.

Each trial starts `labcheck watch 01 --step 1 --namespace NS` with plain output,
waits until it watches and shows the step failing, applies the step's solution
manifest into NS, times the PASS line, and stops the watch with Ctrl-C (SIGINT).
Figures are printed, not asserted.

`reaction_trial(env, namespace)` and `reaction_times(env, namespace, trials)`
are what scripts/benchmark.py and tests/e2e/test_watch.py call; `env` must
carry a kubeconfig where `labcheck start 01` has run (the cluster and images).

Usage: python scripts/benchmark_watch.py [--trials 5] [--namespace lab01-watch-bench]
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTEXT = "kind-netlabs"  # lab 01's single-node cluster
SOLUTION = REPO / "labs" / "01-pod-shared-network" / "manifests" / "multicontainerpod.yaml"
POD = "multicontainerpod"


@dataclass
class Trial:
    apply_to_pass: float  # kubectl apply returned -> PASS line read
    start_to_pass: float  # kubectl apply started -> PASS line read
    exit_code: int  # of the watch after SIGINT: 130 expected
    output: str


class _Lines:
    """A child's output, line by line, read in the background so waiting can time out."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> float:
        """perf_counter() when a line containing `text` was read."""
        deadline = time.perf_counter() + timeout
        while not any(text in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                raise TimeoutError(f"no line with {text!r} in {timeout:.0f} s; output:\n{''.join(self.lines)}") from None
            if line is None:
                raise TimeoutError(f"output ended without {text!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
        return time.perf_counter()

    def rest(self, timeout: float = 10) -> str:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "".join(self.lines)


def kubectl(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["kubectl", "--context", CONTEXT, *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def remove_pod(env: dict[str, str], namespace: str) -> None:
    kubectl(env, "-n", namespace, "delete", "pod", POD, "--ignore-not-found", "--grace-period=0", "--force")
    kubectl(env, "-n", namespace, "wait", "--for=delete", f"pod/{POD}", "--timeout=60s", check=False)


def reaction_trial(env: dict[str, str], namespace: str, timeout: float = 60) -> Trial:
    """One apply -> PASS measurement in `namespace` (which must exist); leaves the Pod there."""
    remove_pod(env, namespace)
    watch = subprocess.Popen(
        [sys.executable, "-m", "labcheck", "watch", "01", "--step", "1", "--namespace", namespace],
        env={**env, "NO_COLOR": "1", "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )
    lines = _Lines(watch.stdout)
    try:
        lines.wait_for("FAIL  pod-exists", timeout)
        lines.wait_for("Watching ", timeout)
        started = time.perf_counter()
        kubectl(env, "-n", namespace, "apply", "-f", str(SOLUTION))
        applied = time.perf_counter()
        passed = lines.wait_for("PASS · step 1/", timeout)
        lines.wait_for("step 2/", timeout)  # moved on to the next step by itself
    finally:
        watch.send_signal(signal.SIGINT)
        try:
            code = watch.wait(timeout=15)
        except subprocess.TimeoutExpired:
            watch.kill()
            code = watch.wait()
    return Trial(passed - applied, passed - started, code, lines.rest())


def reaction_times(env: dict[str, str], namespace: str, trials: int = 5) -> list[Trial]:
    return [reaction_trial(env, namespace) for _ in range(trials)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--namespace", default="lab01-watch-bench", help="a namespace of its own, created and deleted")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labcheck-watch-bench-"))
    env = {**os.environ, "KUBECONFIG": str(work / "kubeconfig"), "LABCHECK_STATE_DIR": str(work / "state")}
    sys.path.insert(0, str(REPO / "checker"))
    from labcheck.toolchain import read_toolchain

    toolchain = read_toolchain()
    if toolchain:
        env["PATH"] = f"{Path(toolchain['KIND']).parent}{os.pathsep}{env['PATH']}"
    started = subprocess.run([sys.executable, "-m", "labcheck", "start", "01"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"benchmark_watch: labcheck start 01 failed: {started.stderr.strip()[-300:]}")
    kubectl(env, "create", "namespace", options.namespace, check=False)
    try:
        results = reaction_times(env, options.namespace, options.trials)
    finally:
        kubectl(env, "delete", "namespace", options.namespace, "--wait=false", check=False)
    for number, trial in enumerate(results, 1):
        print(f"trial {number}: apply returned -> PASS shown {trial.apply_to_pass:6.3f} s   "
              f"(apply started -> PASS {trial.start_to_pass:6.3f} s; watch exit {trial.exit_code})")
    after = [t.apply_to_pass for t in results]
    print(f"labcheck watch reaction (apply -> PASS), {len(after)} trials: median {statistics.median(after):.3f} s, "
          f"max {max(after):.3f} s")


if __name__ == "__main__":
    main()
