#!/usr/bin/env python3
"""Timings of bulk grading, printed (not asserted).

1. offline: N recorded submissions (made from lab 01's recorded evidence,
   signed, spread over every level of progress) graded with every output
   format at the default --jobs: wall time and the grader's peak RSS.
   Target: 200 in <= 5 s and <= 150 MB. Then the same folder with hostile
   files added, each signed and under every limit of a submission:
     - 8 of item 5's kind: ~245,000 small objects (tiny Pods in the answer the
       lab reads), plus a link to /dev/zero and a named pipe;
     - 8 of the costliest kind found under every limit: 15,000 tiny Pods (a
       submission may hold 20,000 objects) and small objects up to 50,000 JSON
       objects and arrays in all, in a field the API does not have (unknown
       fields are let through: a newer API server adds fields).
   Same targets: memory is bounded by the bytes being graded, not by --jobs.
2. live: M learners as M namespaces lab01-bench-NN of the `netlabs` kind
   cluster, solved with `labcheck solve` up to a step that varies by learner,
   then graded from a roster: wall time and peak RSS. Target: 50 in <= 30 s,
   <= 150 MB. The namespaces are deleted afterwards
   (--keep leaves them).

Needs the toolchain from clusters/prepare.sh for the live part (--offline-only skips it).
Usage: python scripts/benchmark_grading.py [--submissions 200] [--learners 50] [--jobs N] [--offline-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "checker"))
sys.path.insert(0, str(REPO))

LABCHECK = [sys.executable, "-m", "labcheck"]


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str, float]:
    """(seconds, peak RSS in MB, exit code, stderr, CPU seconds) of one command, its RSS and CPU from wait4.
    The CPU time says what the wall time would be on an idle machine (grading is one interpreter's work).

    A child's ru_maxrss counts what it shared with this process before exec, so this process stays
    small: it never imports labcheck, and the submissions are made by another process (`make`)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, process.returncode, stderr, usage.ru_utime + usage.ru_stime


def make(code: str) -> None:
    """Run `code` (making submission files with tests/grading_data.py) in a process of its own."""
    prelude = (f"import sys; sys.path[:0] = [{str(REPO / 'checker')!r}, {str(REPO)!r}]\n"
               "from pathlib import Path\n"
               "from labcheck.grading.submission import CourseKey\n"
               "from tests.grading_data import make_class, make_hostile\n")
    subprocess.run([sys.executable, "-c", prelude + code], check=True)


def offline(count: int, jobs: int | None, work: Path, env: dict[str, str]) -> None:
    import shutil

    key_file = work / "course.key"
    key_file.write_bytes(os.urandom(32).hex().encode())
    key = f"CourseKey(Path({str(key_file)!r}).read_bytes())"
    folder = work / "submissions"
    started = time.perf_counter()
    make(f"make_class(Path({str(folder)!r}), {count}, key={key})")
    size = sum(p.stat().st_size for p in folder.iterdir()) / count / 1024
    print(f"made {count} signed submissions ({size:.0f} KB each) in {time.perf_counter() - started:.1f} s")

    def grade(name: str, what: str, source: Path) -> None:
        args = LABCHECK + ["grade", "01", str(source), "--course-key", str(key_file), "-o", str(work / name),
                           "--format", "csv,json,junit,gradescope,canvas,moodle",
                           "--html", str(work / f"{name}.html")]
        args += ["--jobs", str(jobs)] if jobs else []
        seconds, rss, code, stderr, cpu = measured(args, env)
        load = os.getloadavg()[0]
        print(f"offline, {what}: graded in {seconds:.2f} s (target <= 5 s; {cpu:.2f} s of CPU, load {load:.1f} on "
              f"{os.cpu_count()} cores), peak RSS {rss:.0f} MB (target <= 150 MB), exit {code}")
        summary = [line for line in stderr.splitlines() if " learners (" in line]
        print("  " + (summary[-1] if summary else stderr.strip()[-300:]))

    grade("offline", f"{count} submissions", folder)
    for name, kind, arguments in (
            ("hostile-item5", "item 5's kind (245,000 small objects)", "pods=122_000, objects=245_000"),
            ("hostile-costliest", "the costliest kind (15,000 Pods + 19,000 small objects in an unknown field)",
             "pods=15_000, objects=49_000")):
        hostile = work / name
        shutil.copytree(folder, hostile)
        make(f"[make_hostile(Path({str(hostile)!r}), f'zz-hostile{{n}}', key={key}, {arguments}) for n in range(8)]")
        (hostile / "zz-zero.json").symlink_to("/dev/zero")
        os.mkfifo(hostile / "zz-pipe.json")
        sizes = sorted(p.stat().st_size for p in hostile.glob("zz-hostile*.json"))
        grade(name, f"{count} submissions + 8 hostile files of {kind}, "
              f"{sizes[0] / 1e6:.1f}-{sizes[-1] / 1e6:.1f} MB each, + /dev/zero + a named pipe", hostile)


def _kubectl(env, *args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        sys.exit(f"benchmark: kubectl {' '.join(args[:4])} failed: {done.stderr.strip()[:300]}")
    return done


def _prepare_learner(env, context: str, namespace: str, level: int) -> None:
    _kubectl(env, "--context", context, "create", "namespace", namespace)
    for step in range(1, level + 1):
        done = subprocess.run(LABCHECK + ["solve", "01", "--step", str(step), "--namespace", namespace], env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"solve step {step} in {namespace}: {done.stderr.strip()[-300:]}")
        if step in (1, 2, 5):  # those steps start Pods; the next step reads what they did
            _kubectl(env, "--context", context, "-n", namespace, "wait", "--for=condition=Ready", "pod", "--all",
                     "--timeout=180s")
            time.sleep(3)


def _wait_for_leftovers(env, context: str, wanted: set[str]) -> None:
    """An earlier run deletes its namespaces without waiting; wait here until they are gone."""
    existing = _kubectl(env, "--context", context, "get", "namespaces", "-o", "name").stdout.split()
    leftovers = [name for name in existing if name.removeprefix("namespace/") in wanted]
    if leftovers:
        print(f"live: waiting for {len(leftovers)} namespaces of an earlier run to be deleted")
        _kubectl(env, "--context", context, "wait", "--for=delete", *leftovers, "--timeout=300s")


def live(count: int, jobs: int | None, work: Path, env: dict[str, str], keep: bool) -> None:
    from labcheck.toolchain import read_toolchain

    toolchain = read_toolchain()
    if not toolchain:
        print("live: skipped (no prepared toolchain: run `bash clusters/prepare.sh`)")
        return
    env = {**env, "PATH": f"{Path(toolchain['KIND']).parent}{os.pathsep}{env['PATH']}"}
    started = subprocess.run(LABCHECK + ["start", "01"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        sys.exit(f"benchmark: labcheck start 01 failed: {started.stderr.strip()[-300:]}")
    context = "kind-netlabs"
    learners = [(f"bench{i:02d}", f"lab01-bench-{i:02d}", i % 7) for i in range(count)]
    _wait_for_leftovers(env, context, {namespace for _, namespace, _ in learners})
    roster = work / "roster.csv"
    roster.write_text("learner,namespace\n" + "".join(f"{l},{ns}\n" for l, ns, _ in learners))
    try:
        began = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda item: _prepare_learner(env, context, item[1], item[2]), learners))
        print(f"live: {count} namespaces made and solved (levels 0-6) in {time.perf_counter() - began:.0f} s")
        args = LABCHECK + ["grade", "01", "--roster", str(roster), "--context", context, "-o", str(work / "live"),
                           "--format", "csv,json,junit,gradescope"]
        args += ["--jobs", str(jobs)] if jobs else []
        seconds, rss, code, stderr, _cpu = measured(args, env)
        print(f"live: {count} learners graded in {seconds:.2f} s (target <= 30 s), peak RSS {rss:.0f} MB "
              f"(target <= 150 MB), exit {code}")
        print("  " + stderr.strip().splitlines()[-2] if stderr.strip() else "")
    finally:
        if not keep:
            for _learner, namespace, _level in learners:
                _kubectl(env, "--context", context, "delete", "namespace", namespace, "--wait=false",
                         "--ignore-not-found", check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--jobs", type=int, help="passed to labcheck grade (default: its own)")
    parser.add_argument("--offline-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the live namespaces")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labcheck-bench-grading-"))
    # A private kubeconfig and state: `labcheck start` writes the cluster's context there, not in yours.
    env = {**os.environ, "KUBECONFIG": str(work / "kubeconfig"), "LABCHECK_STATE_DIR": str(work / "state"),
           "NO_COLOR": "1", "CI": "1"}
    print(f"labcheck grading benchmark on {os.cpu_count()} cores; files in {work}")
    offline(options.submissions, options.jobs, work, env)
    if not options.offline_only:
        live(options.learners, options.jobs, work, env, options.keep)


if __name__ == "__main__":
    main()
