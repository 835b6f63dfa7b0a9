"""The command line's rough edges (issue 6, item 11), each as a learner meets it.

Every test here failed at a88ff55.
"""

import json
from pathlib import Path

import pytest

from labcheck import actions, doctor, toolchain
from labcheck.errors import ExitStatus
from labcheck.loader import find_lab
from tests.conftest import ARTICLE_LOGS, ARTICLE_POD, FakeCluster, FakeKind, call_main, namespace, run_labcheck


def write_progress(env: dict[str, str], data) -> Path:
    state = Path(env["LABCHECK_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    path = state / "progress.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def read_progress(env: dict[str, str]) -> dict:
    return json.loads((Path(env["LABCHECK_STATE_DIR"]) / "progress.json").read_text())


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- a hand-edited progress file ---------------------------------------------------


@pytest.mark.parametrize("content, named", [
    ({"current_lab": "01", "labs": {"01": {"current_step": "three"}}}, "labs.01.current_step is wrong"),
    ({"current_lab": "01", "labs": {"01": {"current_step": 0}}}, "labs.01.current_step is wrong"),
    ({"current_lab": "01", "labs": {"01": {"passed": {"create-pod": True}}}}, "labs.01.passed.create-pod is wrong"),
    ({"current_lab": "01", "labs": ["01"]}, "labs is wrong"),
    ({"current_lab": "01", "labs": {"01": []}}, "labs.01 is wrong"),
    ([1, 2], "the file is wrong"),
])
def test_a_broken_progress_file_is_one_clear_line(isolated_env, capsys, content, named):
    path = write_progress(isolated_env, content)
    before = path.read_text()
    for command in (["check"], ["hint"], ["status"], ["start", "01"]):
        code, _out, err = call_main(capsys, *command)
        line = one_line(err)
        assert code == ExitStatus.CANNOT_GRADE, (command, err)
        assert line.startswith(f"labcheck: progress file {path}: {named}") and "move it aside" in line, line
    assert path.read_text() == before  # never overwritten


def test_a_progress_entry_missing_keys_is_filled_in(isolated_env):
    write_progress(isolated_env, {"current_lab": "01", "labs": {"01": {}}})
    done = run_labcheck("hint", env=isolated_env)
    assert done.returncode == ExitStatus.PASSED, done.stderr
    assert "Step 1: Create the two-container Pod" in done.stdout


@pytest.mark.parametrize("content", [
    {},
    {"current_lab": "01", "labs": {"01": {}}, "hints_shown": {"01": {"create-pod": 2}}},
    {"current_lab": None, "labs": {"01": {"current_step": 3, "passed": {"a": "2026-01-01T00:00:00+00:00"},
                                          "cluster": "uid", "later": [1]}}, "newer": True},
    {"current_lab": "01", "labs": {"01": {"current_step": "3"}}},  # coerced by the model, not the quick check
])
def test_the_quick_check_of_a_progress_file_reads_as_the_model_does(tmp_path, monkeypatch, content):
    from labcheck import state

    monkeypatch.setenv("LABCHECK_STATE_DIR", str(tmp_path))
    (tmp_path / "progress.json").write_text(json.dumps(content))
    progress = state.Progress.load()
    modelled = state._validated(content)
    assert (progress.current_lab, progress.labs, progress.hints) == (
        modelled["current_lab"], modelled["labs"], modelled["hints_shown"])


@pytest.mark.parametrize("command", ["check", "watch", "hint", "solve", "reset"])
def test_an_unknown_step_is_still_a_usage_error(isolated_env, capsys, command):
    code, _out, err = call_main(capsys, command, "01", "--step", "99")
    assert code == ExitStatus.USAGE and "no step '99'" in one_line(err)


def test_a_stray_key_error_is_an_internal_error_not_a_usage_error(monkeypatch, capsys, isolated_env):
    import labcheck.cli as cli
    import labcheck.session as session

    def broken() -> None:
        raise KeyError("current_step")

    monkeypatch.setattr(session, "lab_for", lambda ref: broken())
    code, _out, err = call_main(capsys, "hint")
    assert code == ExitStatus.CANNOT_GRADE
    assert one_line(err) == "labcheck: internal error: KeyError: 'current_step' (run with --debug for details)"


# --- --debug anywhere ----------------------------------------------------------------


def test_debug_works_after_the_subcommand_too(isolated_env):
    for args in (["check", "01", "--debug"], ["check", "--debug", "01"]):
        done = run_labcheck(*args, env=isolated_env)
        assert done.returncode == ExitStatus.CANNOT_GRADE, done.stderr
        assert "Traceback" in done.stderr and "ClusterUnavailable" in done.stderr


# --- reset from a script -------------------------------------------------------------


def test_reset_without_a_terminal_asks_for_yes(isolated_env):
    done = run_labcheck("reset", "01", env=isolated_env)  # stdin is not a terminal
    assert done.returncode == ExitStatus.USAGE
    line = one_line(done.stderr)
    assert "--yes" in line and "interrupted" not in line and "namespace lab01" in line


# --- hint ----------------------------------------------------------------------------------


def test_hint_neither_starts_a_lab_nor_moves_a_step(isolated_env):
    first = run_labcheck("hint", "01", env=isolated_env)
    second = run_labcheck("hint", "01", env=isolated_env)
    assert "hint 1/2" in first.stdout and "hint 2/2" not in first.stdout and "hint 2/2" in second.stdout
    saved = read_progress(isolated_env)
    assert saved["labs"] == {} and saved["current_lab"] is None  # lab 01 was not started by asking
    assert saved["hints_shown"] == {"01": {"create-pod": 2}}
    status = run_labcheck("status", env=isolated_env)
    assert "current" not in status.stdout

    progress = {"current_lab": "01",
                "labs": {"01": {"current_step": 3, "passed": {"create-pod": "t1", "containers-ready": "t2"}}}}
    write_progress(isolated_env, progress)
    for args in (["hint"], ["hint", "--step", "1"], ["hint", "--all", "--step", "5"]):
        assert run_labcheck(*args, env=isolated_env).returncode == ExitStatus.PASSED
    saved = read_progress(isolated_env)
    assert saved["current_lab"] == "01"
    assert {k: saved["labs"]["01"][k] for k in ("current_step", "passed")} == progress["labs"]["01"]
    assert saved["hints_shown"] == {"01": {"sidecar-reaches-nginx": 1, "create-pod": 1, "shared-volume": 2}}


# --- doctor ----------------------------------------------------------------------------------


def test_doctor_warns_not_fails_on_stock_inotify_limits(monkeypatch):
    stock = {"max_user_watches": 8192, "max_user_instances": 128}
    monkeypatch.setattr(doctor, "_read_sysctl", lambda name: stock[name])
    items = {item.name: item for item in doctor._inotify()}
    assert {name: item.level for name, item in items.items()} == {
        "inotify max_user_watches": "warn", "inotify max_user_instances": "warn"}
    assert "enough for one small cluster" in items["inotify max_user_instances"].found
    assert items["inotify max_user_instances"].fix == "sudo sysctl fs.inotify.max_user_instances=512"
    monkeypatch.setattr(doctor, "_read_sysctl", lambda name: 64)
    assert {item.level for item in doctor._inotify()} == {"fail"}
    monkeypatch.setattr(doctor, "_read_sysctl", lambda name: 1048576)
    assert {item.level for item in doctor._inotify()} == {"ok"}


@pytest.mark.parametrize("from_source", [True, False])
def test_doctor_offers_kinds_own_install_and_prepare_only_from_a_checkout(monkeypatch, isolated_env, from_source):
    prepare = "bash clusters/prepare.sh" if from_source else None
    monkeypatch.setattr(toolchain, "prepare_command", lambda: prepare)
    monkeypatch.setattr(doctor, "prepare_command", lambda: prepare)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    kind = doctor._kind()
    assert kind.level == "fail"
    assert "go install sigs.k8s.io/kind@v0.30.0" in kind.fix and "kind.sigs.k8s.io" in kind.fix
    docker = doctor._docker()[0]
    node_image = doctor._node_image()
    fixes = " ".join(item.fix or "" for item in (kind, docker, node_image))
    assert ("prepare.sh" in fixes) == from_source
    assert "apt-get install docker.io" in docker.fix


# --- actions -------------------------------------------------------------------------------------


def test_shell_commands_run_in_the_lab_folder(tmp_path):
    lab = find_lab("01")
    out = tmp_path / "where"
    actions._shell(f"test -f lab.yaml && pwd > {out}", {"PATH": "/usr/bin:/bin"}, lab.folder)
    assert Path(out.read_text().strip()) == lab.folder


# --- start ------------------------------------------------------------------------------------------


@pytest.fixture
def fake_start(monkeypatch, isolated_env):
    """`labcheck start` with kind, kubectl and the API faked; returns a setter for the cluster's objects."""
    import labcheck.cli as cli
    import labcheck.session as session

    kind = FakeKind(docker_images={"nginx:1.27", "curlimages/curl:8.11.1"})
    monkeypatch.setattr(toolchain.Kind, "find", classmethod(lambda cls: kind))
    for name in ("ensure_namespace", "set_default_namespace", "perform"):
        monkeypatch.setattr(actions, name, lambda *a, **k: [])
    monkeypatch.setattr(toolchain, "prepare_command", lambda: "bash clusters/prepare.sh")
    cluster = FakeCluster([])
    cluster.kind = kind
    monkeypatch.setattr(session, "live_cluster", lambda lab, context: cluster)
    return cluster


def test_start_recreates_a_listed_cluster_whose_nodes_stopped(fake_start, capsys):
    fake_start.kind.stopped = ["netlabs-control-plane"]
    fake_start.objects = [namespace("kube-system", "uid-1")]
    code, _out, err = call_main(capsys, "start", "01")
    assert code == ExitStatus.PASSED, err
    assert fake_start.kind.loaded[:2] == ["deleted netlabs", "created netlabs"]
    assert "its nodes netlabs-control-plane had stopped" in " ".join(err.split())


def test_start_reuses_a_running_cluster(fake_start, capsys):
    fake_start.objects = [namespace("kube-system", "uid-1")]
    code, _out, err = call_main(capsys, "start", "01")
    assert code == ExitStatus.PASSED and "Reusing kind cluster netlabs" in " ".join(err.split())
    assert "deleted netlabs" not in fake_start.kind.loaded


def test_start_says_which_lab_image_docker_lacks_and_how_to_get_it(fake_start, capsys):
    fake_start.objects = [namespace("kube-system", "uid-1")]
    code, out, err = call_main(capsys, "start", "01")
    assert code == ExitStatus.PASSED, err
    text = " ".join(err.split())
    assert "Docker has no image busybox:1.36, so it was not loaded into cluster netlabs" in text
    assert "`docker pull busybox:1.36`" in text and "`bash clusters/prepare.sh` builds them" in text
    assert "Image nginx:1.27 is in the cluster." in text


PROGRESS_AT_STEP_3 = {"current_lab": "01", "labs": {"01": {
    "current_step": 3, "passed": {"create-pod": "t1", "containers-ready": "t2"}, "cluster": "old-uid"}}}


def start_on(fake_start, capsys, env, objects):
    """`labcheck start 01` with progress at step 3 made on cluster old-uid: (entry after, stdout, stderr)."""
    write_progress(env, PROGRESS_AT_STEP_3)
    fake_start.objects = objects
    fake_start.log_texts = ARTICLE_LOGS
    code, out, err = call_main(capsys, "start", "01")
    assert code == ExitStatus.PASSED, err
    return read_progress(env)["labs"]["01"], out, " ".join(err.split())


def test_start_on_a_new_empty_cluster_starts_the_lab_over_and_says_so(fake_start, capsys, isolated_env):
    entry, out, err = start_on(fake_start, capsys, isolated_env, [namespace("kube-system", "new-uid")])
    assert (entry["current_step"], entry["passed"], entry["cluster"]) == (1, {}, "new-uid")
    assert "is not the one your progress in lab 01 was made on (that one was at step 3)" in err
    assert "step 1 does not pass here, so lab 01 starts over at step 1" in err
    assert "Lab 01, step 1/6" in out


def test_start_on_a_new_cluster_keeps_the_steps_that_still_pass(fake_start, capsys, isolated_env):
    # step 1 passes on the new cluster, step 2 does not
    entry, out, err = start_on(fake_start, capsys, isolated_env, [namespace("kube-system", "new-uid"), ARTICLE_POD])
    assert (entry["current_step"], entry["passed"]) == (2, {"create-pod": "t1"})
    assert "step 1 passes, step 2 does not, so you go back to step 2" in err
    assert "Lab 01, step 2/6" in out


def test_start_on_the_same_cluster_keeps_progress(fake_start, capsys, isolated_env):
    entry, out, err = start_on(fake_start, capsys, isolated_env, [namespace("kube-system", "old-uid")])
    assert (entry["current_step"], len(entry["passed"])) == (3, 2)
    assert "checked again" not in err and "Lab 01, step 3/6" in out
    assert not any(call[0] == "get" and call[1] == "Pod" for call in fake_start.calls)  # nothing re-checked


# --- evidence naming what this labcheck lacks -------------------------------------------------


@pytest.mark.parametrize("meta, said", [
    ({"lab": "42", "steps": ["create-pod"]}, "recorded for lab '42'"),
    ({"lab": "01", "steps": ["no-such-step"]}, "has no step 'no-such-step'"),
    ({"lab": 1, "steps": ["create-pod"]}, "names no lab"),
    ({"lab": "01", "steps": [{"id": 1}]}, '"steps" must be a list of step ids'),
    ({"lab": "01"}, "names no step"),
])
def test_evidence_naming_an_unknown_lab_or_step_cannot_be_graded(isolated_env, tmp_path, meta, said):
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({"format": "labcheck-evidence", "version": 1, "calls": [], **meta}))
    done = run_labcheck("check", "--from", str(path), env=isolated_env)
    assert done.returncode == ExitStatus.CANNOT_GRADE
    assert said in one_line(done.stderr)
