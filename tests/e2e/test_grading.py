"""Grading a class on a real kind cluster.

Eleven learners, each a namespace lab01-<learner> of the `netlabs` cluster,
solved with `labcheck solve` up to a step of their own. The class is graded
live with one namespace deleted mid-batch; a learner's real submission is
graded again offline; submissions from two real clusters are told apart and a
copy is not; the least-privileged ServiceAccount (exec only in the learners'
namespaces) grades the same, changes nothing, and cannot exec into kube-system
or read a Secret; and three shards run as a Kubernetes Indexed Job under that
account, marking the step that needs a node "not gradable here".
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from labcheck import __version__
from labcheck.errors import ExitStatus
from labcheck.loader import clusters_dir, find_lab
from labcheck.toolchain import Kind

CONTEXT = "kind-netlabs"
# learner -> steps solved; zoe's namespace is deleted while the class is graded.
CLASS = {"ana": 6, "ben": 6, "cleo": 6, "dan": 1, "eva": 2, "finn": 3, "gus": 4, "hana": 5, "ivo": 0, "jade": 6,
         "zoe": 6}
VICTIM = "zoe"
GRADER = "system:serviceaccount:labcheck-grading:labcheck-grader"
IMAGE = f"netlabs/labcheck:{__version__}"
LAB = find_lab("01")


def namespace(learner: str) -> str:
    return f"lab01-{learner}"


def run(env, *args, check=True, timeout=600, input_text=None) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), env=env, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check and done.returncode != 0:
        pytest.fail(f"`{' '.join(args[:6])}` exited {done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
    return done


def labcheck(env, *args, **kw) -> subprocess.CompletedProcess:
    return run(env, sys.executable, "-m", "labcheck", *args, **kw)


def kubectl(env, *args, **kw) -> subprocess.CompletedProcess:
    return run(env, "kubectl", "--context", CONTEXT, *args, **kw)


def _solve(env, learner: str, level: int) -> None:
    ns = namespace(learner)
    kubectl(env, "delete", "namespace", ns, "--ignore-not-found", "--wait=true", "--timeout=180s")
    kubectl(env, "create", "namespace", ns)
    for step in range(1, level + 1):
        for _attempt in range(3):
            labcheck(env, "solve", "01", "--step", str(step), "--namespace", ns)
            if step not in (1, 2, 5):
                break
            kubectl(env, "-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=180s")
            time.sleep(3)
            if step != 2:
                break
            # Step 3 reads the sidecar's first request in nginx's log; if the sidecar asked
            # before nginx listened, it sleeps 300 s: start the Pod again instead.
            logs = kubectl(env, "-n", ns, "logs", "multicontainerpod", "-c", "nginx-container", check=False)
            if "curl" in logs.stdout:
                break


@pytest.fixture(scope="module")
def classroom(e2e_env, cleanup_clusters):
    assert labcheck(e2e_env, "start", "01").returncode == ExitStatus.PASSED
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda item: _solve(e2e_env, *item), CLASS.items()))
    yield e2e_env
    for learner in CLASS:
        kubectl(e2e_env, "delete", "namespace", namespace(learner), "--ignore-not-found", "--wait=false",
                check=False)


def write_roster(path: Path, learners) -> Path:
    path.write_text("learner,name,namespace\n" + "".join(f"{l},{l.title()},{namespace(l)}\n" for l in learners))
    return path


def rows_of(folder: Path) -> dict[str, dict[str, str]]:
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((folder / "grades.csv").read_text()))}


def expected_row(level: int, steps=range(1, 7)) -> dict[str, str]:
    columns = {f"{n}-{s.id}": ("1" if n <= level else "0") for n, s in enumerate(LAB.steps, 1) if n in steps}
    return {**columns, "total": str(sum(int(v) for v in columns.values())),
            "status": "PASS" if level >= max(steps) else "FAIL"}


def graded_part(row: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k[:1].isdigit() or k in ("total", "status")}


def test_a_class_is_graded_live_and_a_deleted_namespace_is_one_error(classroom, tmp_path):
    env = classroom
    roster = write_roster(tmp_path / "roster.csv", CLASS)
    out = tmp_path / "grades"
    grading = subprocess.Popen([sys.executable, "-m", "labcheck", "grade", "01", "--roster", str(roster), "--jobs", "2",
                                "-o", str(out), "--format", "csv,json,junit,gradescope", "--html",
                                str(tmp_path / "report.html")],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = out / "results.jsonl"
    deadline = time.monotonic() + 300
    while not (store.exists() and store.read_text().count("\n") >= 1):  # the batch is under way
        assert grading.poll() is None and time.monotonic() < deadline, grading.communicate()
        time.sleep(0.2)
    kubectl(env, "delete", "namespace", namespace(VICTIM), "--wait=false")
    stdout, stderr = grading.communicate(timeout=600)
    print(stdout, stderr)
    assert grading.returncode == ExitStatus.CANNOT_GRADE, stderr  # one learner could not be graded
    rows = rows_of(out)
    assert set(rows) == set(CLASS)
    victim = rows.pop(VICTIM)
    assert victim["status"] == "ERROR" and victim["total"] == "0"
    assert victim["note"] in (f"namespace {namespace(VICTIM)} is being deleted",
                              f"namespace {namespace(VICTIM)} does not exist")
    for learner, row in rows.items():
        assert graded_part(row) == expected_row(CLASS[learner]), (learner, row["note"])
    assert len(list(JUnitXml.fromfile(str(out / "grades.junit.xml")))) == len(CLASS)
    assert len(list((out / "gradescope").glob("*/results.json"))) == len(CLASS)
    assert "step 1 create-pod: 9/10 passed" in stdout and "most often stopped at" in stdout
    assert (tmp_path / "report.html").read_text().count('class="bar"') == len(LAB.steps)


def test_a_real_submission_grades_offline_as_it_does_live(classroom, tmp_path):
    env = classroom
    key = tmp_path / "course.key"
    key.write_text(os.urandom(32).hex())
    for learner in ("ben", "gus"):
        labcheck(env, "submit", "01", "--namespace", namespace(learner), "--learner", learner, "--course-key",
                 str(key), "-o", str(tmp_path / "submissions" / f"{learner}.json"))
    document = json.loads((tmp_path / "submissions" / "ben.json").read_text())
    assert document["namespace"] == "lab01-ben" and document["signature"]["alg"] == "HMAC-SHA256"
    text = json.dumps(document)
    # No credential: no bearer token (a JWT), no client key or certificate from the kubeconfig.
    assert "eyJhbGci" not in text and "client-key" not in text and "PRIVATE KEY" not in text
    offline = labcheck(env, "grade", "01", str(tmp_path / "submissions"), "--course-key", str(key), "-o",
                       str(tmp_path / "offline"), check=False)
    live = labcheck(env, "grade", "01", "--roster", str(write_roster(tmp_path / "r.csv", ["ben", "gus"])), "-o",
                    str(tmp_path / "live"), check=False)
    assert offline.returncode == live.returncode == ExitStatus.PASSED, offline.stderr + live.stderr
    offline_rows, live_rows = rows_of(tmp_path / "offline"), rows_of(tmp_path / "live")
    for learner in ("ben", "gus"):
        assert offline_rows[learner]["integrity"] == "verified"
        assert graded_part(offline_rows[learner]) == graded_part(live_rows[learner]) == expected_row(CLASS[learner])


@pytest.fixture(scope="module")
def grader_rbac(classroom, tmp_path_factory):
    """rbac.yaml, and the RoleBindings `labcheck grade --rbac` writes for the class's namespaces."""
    env = classroom
    kubectl(env, "apply", "-f", str(clusters_dir() / "grading" / "rbac.yaml"))
    learners = [l for l in CLASS if l != VICTIM]  # its namespace went in the first test
    roster = write_roster(tmp_path_factory.mktemp("rbac") / "roster.csv", learners)
    bindings = labcheck(env, "grade", "01", "--roster", str(roster), "--rbac").stdout
    assert bindings.count("kind: RoleBinding") == len(learners)
    kubectl(env, "apply", "-f", "-", input_text=bindings)
    yield env
    kubectl(env, "delete", "namespace", "labcheck-grading", "--ignore-not-found", "--wait=true", "--timeout=180s",
            check=False)
    kubectl(env, "delete", "clusterrolebinding,clusterrole", "labcheck-grader", "--ignore-not-found", check=False)
    kubectl(env, "delete", "clusterrole", "labcheck-grader-exec", "labcheck-grader-logs", "--ignore-not-found",
            check=False)


def _versions(env, learners) -> dict[tuple[str, str, str], str]:
    kinds = "pods,configmaps,services,serviceaccounts,persistentvolumeclaims,deployments,replicasets"
    found = {}
    for learner in learners:
        items = json.loads(kubectl(env, "-n", namespace(learner), "get", kinds, "-o", "json").stdout)["items"]
        found.update({(namespace(learner), i["kind"], i["metadata"]["name"]): i["metadata"]["resourceVersion"]
                      for i in items})
    return found


def _grader_kubeconfig(env, tmp_path) -> dict[str, str]:
    """An env whose kubeconfig's context `grader` authenticates as the ServiceAccount (docs/instructors.md)."""
    token = kubectl(env, "-n", "labcheck-grading", "create", "token", "labcheck-grader", "--duration", "1h").stdout
    grader_env = {**env, "KUBECONFIG": str(tmp_path / "grader-kubeconfig")}
    (tmp_path / "grader-kubeconfig").write_text(
        kubectl(env, "config", "view", "--raw", "--minify", "--flatten").stdout)
    run(grader_env, "kubectl", "config", "set-credentials", "labcheck-grader", f"--token={token.strip()}")
    run(grader_env, "kubectl", "config", "set-context", "grader", "--cluster", CONTEXT, "--user", "labcheck-grader")
    run(grader_env, "kubectl", "config", "use-context", "grader")
    return grader_env


def test_the_least_privileged_account_grades_the_same_and_changes_nothing(grader_rbac, tmp_path):
    env = grader_rbac
    learners = [l for l in CLASS if l != VICTIM]
    for verb, resource, where, allowed in (
            ("get", "pods", namespace("ana"), "yes"), ("list", "configmaps", namespace("ana"), "yes"),
            ("create", "pods --subresource=exec", namespace("ana"), "yes"),
            ("get", "pods --subresource=exec", namespace("ana"), "yes"),
            ("get", "pods --subresource=log", namespace("ana"), "yes"),
            ("create", "pods --subresource=exec", "kube-system", "no"),
            ("get", "pods --subresource=exec", "kube-system", "no"),
            ("get", "pods --subresource=log", "kube-system", "no"),
            ("get", "pods", "kube-system", "yes"),
            ("create", "pods", namespace("ana"), "no"), ("delete", "configmaps", namespace("ana"), "no"),
            ("patch", "pods", namespace("ana"), "no"), ("get", "secrets", namespace("ana"), "no"),
            ("list", "secrets", "kube-system", "no"), ("create", "namespaces", "default", "no")):
        answer = kubectl(env, "auth", "can-i", verb, *resource.split(), "-n", where, "--as", GRADER, check=False)
        assert answer.stdout.strip() == allowed, (verb, resource, where, answer.stdout)

    grader_env = _grader_kubeconfig(env, tmp_path)
    roster = write_roster(tmp_path / "roster.csv", learners)
    before = _versions(env, learners)
    as_grader = labcheck(grader_env, "grade", "01", "--roster", str(roster), "--context", "grader", "-o",
                         str(tmp_path / "grader"), check=False)
    after = _versions(env, learners)
    assert as_grader.returncode == ExitStatus.PASSED, as_grader.stderr  # no 403 anywhere: no ERROR row
    assert before == after  # not one object changed
    as_admin = labcheck(env, "grade", "01", "--roster", str(roster), "-o", str(tmp_path / "admin"), check=False)
    grader_rows, admin_rows = rows_of(tmp_path / "grader"), rows_of(tmp_path / "admin")
    assert {l: graded_part(r) for l, r in grader_rows.items()} == {l: graded_part(r) for l, r in admin_rows.items()}
    assert {l: graded_part(r) for l, r in grader_rows.items()} == {l: expected_row(CLASS[l]) for l in learners}


def _exec_as(env, namespace_, pod, transport: str) -> subprocess.CompletedProcess:
    """`kubectl exec` over a websocket or SPDY (`create`; kubectl falls back to it when a websocket is
    refused). labcheck's own exec, the kubernetes client's websocket, asks as `get` before 1.35."""
    return run({**env, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "true" if transport == "websocket" else "false"},
               "kubectl", "exec", "-n", namespace_, pod, "--", "true", check=False, timeout=60)


def test_the_grader_cannot_exec_into_kube_system_nor_read_a_secret(grader_rbac, tmp_path):
    from labcheck.cluster.live import LiveCluster
    from labcheck.errors import ClusterUnavailable

    env = grader_rbac
    grader_env = _grader_kubeconfig(env, tmp_path)
    system_pods = json.loads(kubectl(env, "-n", "kube-system", "get", "pods", "-o", "json").stdout)["items"]
    etcd = next(p["metadata"]["name"] for p in system_pods if p["metadata"]["name"].startswith("etcd-"))
    router = next(p["metadata"]["name"] for p in system_pods if p["metadata"]["name"].startswith("kube-router"))
    for transport in ("websocket", "spdy"):
        # The control: the same account, the same transport, into a learner's Pod, works.
        allowed = _exec_as(grader_env, namespace("ana"), "multicontainerpod", transport)
        assert allowed.returncode == 0, (transport, allowed.stderr)
        for pod in (etcd, router):
            refused = _exec_as(grader_env, "kube-system", pod, transport)
            assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), (transport, pod, refused)
    # labcheck's own exec (the kubernetes client's websocket) is refused alike.
    seam = LiveCluster("grader", str(tmp_path / "grader-kubeconfig"))
    with pytest.raises(ClusterUnavailable, match="refused access to exec"):
        seam.exec_in_pod("kube-system", etcd, None, ["etcdctl", "version"], 20)
    assert seam.exec_in_pod(namespace("ana"), "multicontainerpod", "nginx-container", ["true"], 20).returncode == 0
    for args in (["-n", "kube-system", "get", "secrets"], ["-n", namespace("ana"), "get", "secrets"],
                 ["get", "secrets", "-A"]):
        read = run(grader_env, "kubectl", *args, check=False)
        assert read.returncode != 0 and "forbidden" in read.stderr.lower(), (args, read.stderr)


def _image(env) -> None:
    """The grader's image as clusters/prepare.sh makes it (rebuilt when this checkout changed), loaded into netlabs."""
    made = run(env, "bash", str(clusters_dir() / "grading" / "prepare-image.sh"), timeout=1800)
    assert made.stdout.split()[0] == IMAGE, made.stdout
    Kind.find().load_image(IMAGE, "netlabs")


def expected_in_a_pod(level: int) -> dict[str, str]:
    """A Pod reaches no node: step 6's node check is not gradable there, so a learner who did step 6 is
    scored on steps 1-5; one who did not fails step 6 on its first check (the answer is not recorded)."""
    row = expected_row(level)
    if level < 6:
        return row
    return {**row, "6-pause-container": "", "total": "5", "status": "PASS"}


def test_three_shards_run_as_an_indexed_job_and_merge(grader_rbac, tmp_path):
    env = grader_rbac
    _image(env)
    learners = [l for l in CLASS if l != VICTIM]
    roster = write_roster(tmp_path / "roster.csv", learners)
    kubectl(env, "-n", "labcheck-grading", "create", "configmap", "labcheck-roster", f"--from-file=roster.csv={roster}")
    kubectl(env, "apply", "-f", str(clusters_dir() / "grading" / "job.yaml"))
    try:
        waited = kubectl(env, "-n", "labcheck-grading", "wait", "--for=condition=complete", "job/labcheck-grade",
                         "--timeout=600s", check=False)
        logs = kubectl(env, "-n", "labcheck-grading", "logs", "job/labcheck-grade", "--all-containers", check=False)
        pods = kubectl(env, "-n", "labcheck-grading", "get", "pods", "-o", "wide", check=False)
        assert waited.returncode == 0, f"{waited.stderr}\n{pods.stdout}\n{logs.stdout}{logs.stderr}"
        indexes = kubectl(env, "-n", "labcheck-grading", "get", "job", "labcheck-grade", "-o",
                          "jsonpath={.status.completedIndexes}").stdout
        assert indexes == "0-2"
        kubectl(env, "apply", "-f", str(clusters_dir() / "grading" / "reader.yaml"))
        kubectl(env, "-n", "labcheck-grading", "wait", "--for=condition=Ready", "pod/labcheck-grades-reader",
                "--timeout=180s")
        shards = tmp_path / "shards"
        kubectl(env, "-n", "labcheck-grading", "cp", "labcheck-grades-reader:/grades", str(shards))
    finally:
        kubectl(env, "-n", "labcheck-grading", "delete", "job/labcheck-grade", "pod/labcheck-grades-reader",
                "configmap/labcheck-roster", "pvc/labcheck-grades", "--ignore-not-found", "--wait=false", check=False)

    files = sorted(p.name for p in shards.glob("results.shard-*.jsonl"))
    assert files == [f"results.shard-{i}-of-3.jsonl" for i in range(3)]
    keys = [json.loads(line)["key"] for name in files for line in (shards / name).read_text().splitlines()]
    assert sorted(keys) == sorted(f"live:{l}" for l in learners)  # disjoint, and every learner once
    merged = labcheck(env, "grade", "01", "--merge", str(shards), "--roster", str(roster), "-o",
                      str(tmp_path / "merged"), check=False)
    assert merged.returncode == ExitStatus.PASSED, merged.stderr  # not gradable is never ERROR
    merged_rows = rows_of(tmp_path / "merged")
    assert {l: graded_part(r) for l, r in merged_rows.items()} == {l: expected_in_a_pod(CLASS[l]) for l in learners}
    for learner, row in merged_rows.items():
        done_all = CLASS[learner] == 6
        assert row["not_gradable"] == ("6" if done_all else ""), (learner, row)
        assert row["max"] == ("5" if done_all else "6"), (learner, row)
    assert "step 6 pause-container:" in merged.stdout and "not gradable here (not counted)" in merged.stdout


def test_submissions_from_two_real_clusters_are_not_paired_and_a_copy_is(classroom, toolchain, tmp_path):
    """`netlabs` and `netlabs-multi` are two real clusters: the same lab done on each shares no fact; a copy of
    one, relabelled and signed again, shares them all."""
    env = {**classroom, "KUBECONFIG": str(tmp_path / "kubeconfig")}
    (tmp_path / "kubeconfig").write_text(Path(classroom["KUBECONFIG"]).read_text())
    if "netlabs-multi" not in run(env, toolchain["KIND"], "get", "clusters").stdout.split():
        labcheck(env, "start", "03", timeout=1800)  # makes the multi-node cluster (the tier deletes it after)
    run(env, toolchain["KIND"], "export", "kubeconfig", "--name", "netlabs-multi", "--kubeconfig",
        str(tmp_path / "kubeconfig"))
    run(env, "kubectl", "config", "use-context", CONTEXT)
    other, ns = "kind-netlabs-multi", "lab01-elsewhere"
    run(env, "kubectl", "--context", other, "delete", "namespace", ns, "--ignore-not-found", "--wait=true",
        "--timeout=180s")
    run(env, "kubectl", "--context", other, "create", "namespace", ns)
    try:
        run(env, "kubectl", "--context", other, "-n", ns, "apply", "-f",
            str(LAB.folder / "manifests" / "multicontainerpod.yaml"))
        run(env, "kubectl", "--context", other, "-n", ns, "wait", "--for=condition=Ready", "pod/multicontainerpod",
            "--timeout=180s")
        key = tmp_path / "course.key"
        key.write_text(os.urandom(32).hex())
        folder = tmp_path / "submissions"
        labcheck(env, "submit", "01", "--namespace", namespace("ben"), "--learner", "ben", "--course-key", str(key),
                 "-o", str(folder / "ben.json"))
        labcheck(env, "submit", "01", "--context", other, "--namespace", ns, "--learner", "eli", "--course-key",
                 str(key), "-o", str(folder / "eli.json"))
    finally:
        run(env, "kubectl", "--context", other, "delete", "namespace", ns, "--wait=false", check=False)
    separate = labcheck(env, "grade", "01", str(folder), "--course-key", str(key), "-o", str(tmp_path / "a"),
                        check=False)
    assert separate.returncode == ExitStatus.PASSED, separate.stderr
    assert {l: r["same_cluster_as"] for l, r in rows_of(tmp_path / "a").items()} == {"ben": "", "eli": ""}
    from labcheck.grading.submission import CourseKey, sign

    document = json.loads((folder / "ben.json").read_text())
    document.pop("signature")
    document["learner"] = {"id": "copycat", "name": "Copy Cat"}
    document["signature"] = sign(document, CourseKey(key.read_bytes().strip()))
    (folder / "copycat.json").write_text(json.dumps(document))
    copied = labcheck(env, "grade", "01", str(folder), "--course-key", str(key), "-o", str(tmp_path / "b"),
                      check=False)
    rows = rows_of(tmp_path / "b")
    assert rows["copycat"]["integrity"] == "verified"
    assert rows["copycat"]["same_cluster_as"] == "ben (same cluster)" and rows["eli"]["same_cluster_as"] == ""
    assert "ben and copycat: same cluster (UID of" in copied.stdout
