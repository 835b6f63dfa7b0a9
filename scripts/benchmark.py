#!/usr/bin/env python3
"""Timings of labcheck on a real kind cluster, printed (not asserted).

- `labcheck check` wall time, median of N runs, for a state-only step
  (01 create-pod: objects read through the API) and a probe step
  (01 same-network: commands exec'd in two containers), each beside an
  equivalent verify script of plain `kubectl` calls, as a ratio from the same run;
- `labcheck start 01` cold (cluster created) and warm (cluster reused);
- `labcheck selftest LAB` wall time for each lab named with --selftest (median of --selftest-runs);
- `labcheck watch` reaction time (apply -> PASS shown), when scripts/benchmark_watch.py exists.

Needs the toolchain from clusters/prepare.sh. Uses a private kubeconfig and
state directory. Usage:
  python scripts/benchmark.py [--runs 10] [--skip-cold] [--selftest 01 02 ...] [--selftest-runs 3]
                              [--probe-step] [--matrix-step]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "checker"))

from labcheck.toolchain import read_toolchain  # noqa: E402

STATE_ONLY_KUBECTL = r"""
set -e
pod=$(kubectl get pod multicontainerpod -o jsonpath='{.metadata.labels.name} {.metadata.labels.environment} {.metadata.labels.tier}')
[ "$pod" = "multi-container-pod production front-end" ]
names=$(kubectl get pod multicontainerpod -o jsonpath='{.spec.containers[*].name}')
case " $names " in *" nginx-container "*) ;; *) exit 1;; esac
case " $names " in *" sidecar "*) ;; *) exit 1;; esac
kubectl get pod multicontainerpod -o jsonpath='{.spec.containers[?(@.name=="sidecar")].command}' | grep -q 'localhost:80'
"""

PROBE_KUBECTL = r"""
set -e
a=$(kubectl exec multicontainerpod -c nginx-container -- readlink /proc/self/ns/net)
b=$(kubectl exec multicontainerpod -c sidecar -- readlink /proc/self/ns/net)
[ "$a" = "$b" ]
x=$(kubectl exec multicontainerpod -c nginx-container -- cat /proc/net/dev | cut -d: -f1 | sort)
y=$(kubectl exec multicontainerpod -c sidecar -- cat /proc/net/dev | cut -d: -f1 | sort)
[ "$x" = "$y" ]
ip=$(kubectl get pod multicontainerpod -o jsonpath='{.status.podIP}')
[ "$(kubectl get configmap answer-pod-ip -o jsonpath='{.data.nginx-container}')" = "$ip" ]
[ "$(kubectl get configmap answer-pod-ip -o jsonpath='{.data.sidecar}')" = "$ip" ]
"""


# What lab 04's dns-names step does, one kubectl call at a time: three DNS probes, the answer
# ConfigMap, then for each recorded name a lookup and a request that a webserver Pod answers.
PARALLEL_PROBES_KUBECTL = r"""
set -e
names="webserver webserver.lab04 webserver.lab04.svc.cluster.local"
for name in $names; do kubectl exec client -- getent hosts "$name" | grep -q "svc"; done
kubectl get configmap answer-dns-names -o jsonpath='{.data.short} {.data.namespaced} {.data.fqdn}' | grep -q webserver
ip=$(kubectl get service webserver -o jsonpath='{.spec.clusterIP}')
kubectl get pods -o name >/dev/null
kubectl exec client -- cat /etc/resolv.conf >/dev/null
for name in $names; do
  kubectl exec client -- getent hosts "$name" | grep -q "$ip"
  kubectl exec client -- curl -s -m 5 "http://$name/" | grep -q "Served by"
done
"""


def timed(args: list[str], env: dict[str, str], expect: int = 0) -> float:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        sys.exit(f"benchmark: `{' '.join(args[:6])}` exited {done.returncode}: {(done.stdout + done.stderr)[-500:]}")
    return elapsed


def median_of(runs: int, args: list[str], env: dict[str, str]) -> float:
    return statistics.median(timed(args, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-cold", action="store_true", help="do not delete and re-create the cluster")
    parser.add_argument("--selftest", nargs="*", default=[], metavar="LAB", help="labs whose self-test to time")
    parser.add_argument("--selftest-runs", type=int, default=3)
    parser.add_argument("--only-selftest", action="store_true", help="time the self-tests and nothing else")
    parser.add_argument("--probe-step", action="store_true",
                        help="time lab 04's three-probe step against a kubectl script (starts lab 04)")
    parser.add_argument("--matrix-step", action="store_true",
                        help="time lab 08's 9-cell default-deny matrix, one attempt (starts lab 08)")
    options = parser.parse_args()
    toolchain = read_toolchain()
    if not toolchain:
        sys.exit("benchmark: no prepared toolchain: run `bash clusters/prepare.sh`")
    work = Path(tempfile.mkdtemp(prefix="labcheck-bench-"))
    env = {**os.environ, "KUBECONFIG": str(work / "kubeconfig"), "LABCHECK_STATE_DIR": str(work / "state"),
           "NO_COLOR": "1"}
    env["PATH"] = f"{Path(toolchain['KIND']).parent}{os.pathsep}{env['PATH']}"
    labcheck = [sys.executable, "-m", "labcheck"]

    print(f"labcheck benchmark: {options.runs} runs each, kind {toolchain.get('KIND_VERSION')}, "
          f"Kubernetes {toolchain.get('K8S_VERSION')}, {os.cpu_count()} cores")
    for lab in options.selftest:
        timed(labcheck + ["start", lab], env)
        walls = [timed(labcheck + ["selftest", lab], env) for _ in range(options.selftest_runs)]
        print(f"labcheck selftest {lab}: median {statistics.median(walls):6.1f} s  "
              f"(runs: {', '.join(f'{w:.1f}' for w in walls)})")
    if options.probe_step:
        timed(labcheck + ["start", "04"], env)
        for step in ("deploy-replicas", "create-service", "dns-names"):
            timed(labcheck + ["solve", "04", "--step", step], env)
            timed(labcheck + ["check", "04", "--step", step], env)
        ours = median_of(options.runs, labcheck + ["check", "04", "--step", "dns-names"], env)
        plain = median_of(options.runs, ["bash", "-c", PARALLEL_PROBES_KUBECTL], env)
        print(f"{'3-probe step (04 dns-names)':<34} labcheck {ours:6.3f} s   kubectl script {plain:6.3f} s   "
              f"ratio {ours / plain:5.2f}")
    if options.matrix_step:
        timed(labcheck + ["start", "08"], env)
        for step in ("open-baseline", "default-deny"):
            timed(labcheck + ["solve", "08", "--step", step], env)
        timed(labcheck + ["check", "08", "--step", "default-deny"], env)  # kube-router's rules in place
        ours = median_of(options.runs, labcheck + ["check", "08", "--step", "default-deny", "--wait", "0"], env)
        print(f"{'9-cell matrix (08 default-deny)':<34} labcheck {ours:6.3f} s (median, one attempt)")
    if options.only_selftest:
        return
    if not options.skip_cold:
        subprocess.run([toolchain["KIND"], "delete", "cluster", "--name", "netlabs"], capture_output=True)
        cold = timed(labcheck + ["start", "01"], env)
        print(f"labcheck start 01, cold (cluster created):   {cold:7.1f} s")
    else:
        timed(labcheck + ["start", "01"], env)
    warm = median_of(max(3, options.runs // 2), labcheck + ["start", "01"], env)
    print(f"labcheck start 01, warm (cluster reused):    {warm:7.2f} s (median)")

    subprocess.run(["kubectl", "--context", "kind-netlabs", "delete", "namespace", "lab01", "--wait=true"],
                   env=env, capture_output=True)
    timed(labcheck + ["start", "01"], env)
    for step in ("create-pod", "containers-ready", "sidecar-reaches-nginx", "same-network"):
        timed(labcheck + ["solve", "01", "--step", step], env)
        timed(labcheck + ["check", "01", "--step", step], env)  # converged before timing starts
    kube_env = {**env}
    rows = [
        ("state-only step (01 create-pod)", ["check", "01", "--step", "create-pod"], STATE_ONLY_KUBECTL),
        ("probe step (01 same-network)", ["check", "01", "--step", "same-network"], PROBE_KUBECTL),
    ]
    for label, args, script in rows:
        ours = median_of(options.runs, labcheck + args, env)
        plain = median_of(options.runs, ["bash", "-c", script], kube_env)
        print(f"{label:<34} labcheck {ours:6.3f} s   kubectl script {plain:6.3f} s   ratio {ours / plain:5.2f}")
    imports = median_of(options.runs, [sys.executable, "-c", "import labcheck.cli"], env)
    print(f"python -c 'import labcheck.cli' (start-up share):  {imports:6.3f} s (median)")
    bare = median_of(options.runs, [sys.executable, "-c", "pass"], env)
    print(f"python -c pass (interpreter alone):               {bare:6.3f} s (median)")
    watch = REPO / "scripts" / "benchmark_watch.py"
    if watch.is_file():
        subprocess.run([sys.executable, str(watch)], env=env, check=False)


if __name__ == "__main__":
    main()
