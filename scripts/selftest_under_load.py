#!/usr/bin/env python3
"""Every lab's selftest on a quiet machine and on one kept busy: the verdicts must not depend on
the machine's speed (a diagnosis that holds only when the machine is fast is a bug).

For each lab named (default: all), `labcheck selftest LAB` runs once as the machine is, and once
while this script keeps every core busy with a bounded busy loop (one process per core, killed
when the selftest ends, and in any case after --max-load-seconds). It prints each run's time,
the load average it saw and its verdict, then a summary; exit 1 when any run failed.

    python scripts/selftest_under_load.py [LAB ...] [--repeat N] [--only quiet|loaded] [--log-dir DIR]

Needs the clusters `labcheck start LAB` makes (the toolchain of clusters/prepare.sh).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "checker"))

from labcheck.loader import all_labs  # noqa: E402


def _spin(deadline: float) -> None:
    while time.monotonic() < deadline:
        pass


def busy(seconds: float) -> list[multiprocessing.Process]:
    """One spinning process per core, each ending by itself after `seconds` at the latest."""
    deadline = time.monotonic() + seconds
    spinners = [multiprocessing.Process(target=_spin, args=(deadline,), daemon=True) for _ in range(os.cpu_count() or 2)]
    for spinner in spinners:
        spinner.start()
    return spinners


def selftest(lab: str, env: dict[str, str], log: Path) -> tuple[bool, float, str, tuple[float, float]]:
    started = time.monotonic()
    loads = []
    process = subprocess.Popen([sys.executable, "-m", "labcheck", "selftest", lab], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env)
    while process.poll() is None:
        loads.append(os.getloadavg()[0])
        time.sleep(2)
    out = process.stdout.read() if process.stdout else ""
    log.write_text(out, encoding="utf-8")  # the whole run, so that a failure can be read afterwards
    last = out.strip().splitlines()[-1] if out.strip() else "(no output)"
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    detail = last if not failing else f"{last}; first failure: {failing[0][:200]}"
    return process.returncode == 0, time.monotonic() - started, detail, (min(loads or [0]), max(loads or [0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labs", nargs="*", help="lab ids (default: every lab)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each lab in each condition")
    parser.add_argument("--only", choices=["quiet", "loaded"], help="one condition only")
    parser.add_argument("--max-load-seconds", type=float, default=1800, help="the busy loop's bound")
    parser.add_argument("--log-dir", type=Path, help="where each run's output is kept (default: a new temporary folder)")
    args = parser.parse_args()
    logs = args.log_dir or Path(tempfile.mkdtemp(prefix="selftest-under-load-"))
    logs.mkdir(parents=True, exist_ok=True)
    print(f"each run's output goes to {logs}/", flush=True)
    labs = args.labs or [lab.id for lab in all_labs()]
    env = dict(os.environ, NO_COLOR="1")
    rows = []
    for lab in labs:
        subprocess.run([sys.executable, "-m", "labcheck", "start", lab], env=env, capture_output=True)
        for condition in ("quiet", "loaded"):
            if args.only and condition != args.only:
                continue
            for run in range(1, args.repeat + 1):
                spinners = busy(args.max_load_seconds) if condition == "loaded" else []
                try:
                    log = logs / f"{lab}-{condition}-{run}.log"
                    ok, seconds, detail, (low, high) = selftest(lab, env, log)
                finally:
                    for spinner in spinners:
                        spinner.terminate()
                row = (lab, condition, run, "passed" if ok else "FAILED", seconds, low, high, detail)
                rows.append(row)
                print(f"lab {lab} {condition:<6} run {run}: {row[3]} in {seconds:.0f} s (load {low:.1f}-{high:.1f}) "
                      f"{detail}" + ("" if ok else f" (whole output: {log})"), flush=True)
    print("\nlab  condition  run  verdict  seconds  load")
    for lab, condition, run, verdict, seconds, low, high, _detail in rows:
        print(f"{lab:<4} {condition:<9}  {run:<3}  {verdict:<7}  {seconds:7.0f}  {low:.1f}-{high:.1f}")
    return 0 if all(row[3] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
