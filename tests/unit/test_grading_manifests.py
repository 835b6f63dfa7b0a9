"""The shipped grading manifests: least privilege that still covers what labs read, and a Job the CLI accepts."""

from __future__ import annotations

import re

import yaml

from labcheck import __version__
from labcheck.cluster.live import _KNOWN_KINDS
from labcheck.grading.commands import grade_command
from labcheck.loader import all_labs, clusters_dir
from labcheck.model import check_kind

GRADING = clusters_dir() / "grading"
READ = {"get", "list", "watch"}


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((GRADING / name).read_text()) if d]


def grants(name: str = "labcheck-grader") -> dict[tuple[str, str], set[str]]:
    role = next(d for d in documents("rbac.yaml") if d["kind"] == "ClusterRole" and d["metadata"]["name"] == name)
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}  # no resourceNames tricks, no nonResourceURLs
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def kinds_labs_read() -> set[tuple[str, str]]:
    """(apiVersion, kind) of every object a lab's checks read, declared or in its checks.py."""
    found = {("v1", "Namespace"), ("v1", "Pod")}  # grading checks the namespace; probes exec into Pods
    for lab in all_labs():
        for step in lab.steps:
            for check in step.checks:
                pattern = check.spec if check_kind(check) in ("assert", "absent") else None
                if pattern is not None:
                    found.add((pattern.apiVersion, pattern.kind))
        code = lab.folder / "checks.py"
        if code.is_file():
            text = code.read_text()
            for kind, version in re.findall(r"ctx\.(?:get|list)\(\s*\"(\w+)\"(?:[^)]*api_version=\"([^\"]+)\")?", text):
                found.add((version or "v1", kind))
            # list(kind, api_version, ...) and get(kind, name, api_version) may name the version positionally
            positional = re.findall(r"ctx\.list\(\s*\"(\w+)\"\s*,\s*\"([\w./]+)\"", text) + re.findall(
                r"ctx\.get\(\s*\"(\w+)\"\s*,\s*[^,()]+,\s*\"([\w./]+)\"", text)
            for kind, version in positional:
                found.discard(("v1", kind))
                found.add((version, kind))
    return found


def test_the_cluster_wide_role_only_reads_and_exec_is_a_role_of_its_own():
    for (group, resource), verbs in grants().items():
        assert verbs <= READ and "/" not in resource, (resource, verbs)  # no subresource: no exec, no logs
    assert ("", "secrets") not in grants()
    assert grants("labcheck-grader-exec") == {("", "pods/exec"): {"get", "create"}, ("", "pods/log"): {"get"}}
    assert grants("labcheck-grader-logs") == {("", "pods/log"): {"get"}}


def test_the_role_covers_every_kind_the_labs_read():
    granted = grants()
    for api_version, kind in sorted(kinds_labs_read()):
        plural, _namespaced = _KNOWN_KINDS[(api_version, kind)]
        group = api_version.split("/")[0] if "/" in api_version else ""
        assert {"get", "list"} <= granted.get((group, plural), set()), f"{kind} ({api_version}) is not readable"


def test_only_the_read_role_is_bound_cluster_wide():
    docs = documents("rbac.yaml")
    account = next(d for d in docs if d["kind"] == "ServiceAccount")
    (binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == "labcheck-grader"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": account["metadata"]["namespace"]}]
    assert not [d for d in docs if d["kind"] == "RoleBinding"]  # exec is bound per learner namespace (--rbac)


def test_the_job_is_indexed_and_its_arguments_are_ones_labcheck_takes():
    job = next(d for d in documents("job.yaml") if d["kind"] == "Job")
    account = next(d for d in documents("rbac.yaml") if d["kind"] == "ServiceAccount")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    (container,) = pod["containers"]
    assert container["image"] == f"netlabs/labcheck:{__version__}"
    args = container["args"]
    shard = args[args.index("--shard") + 1]
    assert shard == f"$(JOB_COMPLETION_INDEX)/{spec['completions']}"
    assert args[0] == "grade" and "--in-cluster" in args
    context = grade_command.make_context("grade", [a.replace("$(JOB_COMPLETION_INDEX)", "0") for a in args[1:]])
    assert context.params["shard"] == f"0/{spec['completions']}" and context.params["resume"]
    claim = pod["volumes"][[v["name"] for v in pod["volumes"]].index("grades")]["persistentVolumeClaim"]["claimName"]
    reader = documents("reader.yaml")[0]["spec"]
    assert claim == next(d for d in documents("job.yaml") if d["kind"] == "PersistentVolumeClaim")["metadata"]["name"]
    assert any(v.get("persistentVolumeClaim", {}).get("claimName") == claim for v in reader["volumes"])


def test_the_grader_image_takes_the_wheels_of_the_machine_it_is_built_on():
    import platform
    import subprocess
    import sys

    script = (GRADING / "build-image.sh").read_text()
    for name in ("x86_64", "amd64", "aarch64", "arm64"):
        assert name not in script, f"build-image.sh names a CPU ({name})"
    # What the image's interpreter is asked: run the same program with this machine's Python.
    program = re.search(r"python3 - <<'PY'\n(.*?)\nPY\n", script, re.S).group(1)
    version, *tags = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                                    check=True).stdout.split()
    assert version == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert f"manylinux_2_17_{platform.machine()}" in tags and all(t.endswith(platform.machine()) for t in tags)


def test_prepare_builds_the_grader_image_and_records_it():
    prepare = (clusters_dir() / "prepare.sh").read_text()
    assert 'run grader-image "$REPO/clusters/grading/prepare-image.sh"' in prepare
    assert "GRADER_IMAGE=$GRADER_IMAGE" in prepare
    assert "build-image.sh" in (GRADING / "prepare-image.sh").read_text()
