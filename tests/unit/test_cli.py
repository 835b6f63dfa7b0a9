"""The command line as a person meets it: exit codes, one-line errors, progress."""

import json
import shutil
import signal
from pathlib import Path

import pytest

from labcheck.cluster.recorded import RecordingCluster
from labcheck.errors import ExitStatus
from labcheck.loader import find_lab
from tests.conftest import ARTICLE_POD, FakeCluster, run_labcheck


def test_exit_statuses_keep_their_numbers():
    # Scripts, CI jobs and the docs' table name these numbers: renaming must never renumber.
    assert {status.name: int(status) for status in ExitStatus} == {
        "PASSED": 0, "FAILED": 1, "USAGE": 2, "CANNOT_GRADE": 3, "INVALID_LAB": 4, "INTERRUPTED": 130}
    assert ExitStatus.INTERRUPTED == 128 + signal.SIGINT  # what a shell reports for Ctrl-C


def test_check_without_a_cluster_exits_3_with_one_line(isolated_env):
    done = run_labcheck("check", "01", env=isolated_env)
    assert done.returncode == ExitStatus.CANNOT_GRADE
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("labcheck: ") and "labcheck start" in lines[0]
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback(isolated_env):
    done = run_labcheck("--debug", "check", "01", env=isolated_env)
    assert done.returncode != ExitStatus.PASSED and "Traceback" in done.stderr


def test_wrong_context_is_named(isolated_env, tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://127.0.0.1:1'}\n"
        "contexts:\n- name: other\n  context: {cluster: other, user: u}\ncurrent-context: other\n"
        "users:\n- name: u\n  user: {token: sekrit-token}\n")
    done = run_labcheck("check", "01", env={**isolated_env, "KUBECONFIG": str(kubeconfig)})
    assert done.returncode == ExitStatus.CANNOT_GRADE
    assert "no context 'kind-netlabs'" in done.stderr
    done = run_labcheck("check", "01", "--context", "other", "--wait", "0", env={**isolated_env, "KUBECONFIG": str(kubeconfig)})
    assert done.returncode == ExitStatus.CANNOT_GRADE
    assert "unreachable" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "sekrit-token" not in done.stdout + done.stderr


def test_usage_errors_exit_2(isolated_env):
    assert run_labcheck("bogus", env=isolated_env).returncode == ExitStatus.USAGE
    done = run_labcheck("check", "01", "--step", "99", env=isolated_env)
    assert done.returncode == ExitStatus.USAGE and "no step '99'" in done.stderr
    assert run_labcheck("check", "42", env=isolated_env).returncode == ExitStatus.USAGE
    assert run_labcheck("check", env=isolated_env).returncode == ExitStatus.USAGE  # no lab started


def record(tmp_path: Path, objects, step: str, name: str = "evidence.json") -> Path:
    from labcheck.engine import run_step

    lab = find_lab("01")
    recording = RecordingCluster(FakeCluster(objects))
    run_step(lab, lab.step(step), recording, wait=0)
    path = tmp_path / name
    recording.save(path, {"lab": "01", "steps": [step]})
    return path


def test_grading_recorded_evidence(isolated_env, tmp_path):
    solved = record(tmp_path, [ARTICLE_POD], "create-pod", "solved.json")
    done = run_labcheck("check", "--from", str(solved), env=isolated_env)
    assert done.returncode == ExitStatus.PASSED, done.stdout + done.stderr
    assert "PASS  pod-exists" in done.stdout
    unsolved = record(tmp_path, [], "create-pod", "unsolved.json")
    done = run_labcheck("check", "--from", str(unsolved), "--output", "json", env=isolated_env)
    assert done.returncode == ExitStatus.FAILED
    data = json.loads(done.stdout)
    assert data["steps"][0]["checks"][0]["status"] == "FAIL"
    done = run_labcheck("check", "--from", str(unsolved), "--output", "junit", env=isolated_env)
    assert done.returncode == ExitStatus.FAILED and "<testsuite" in done.stdout


def test_corrupt_evidence_exits_3(isolated_env, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "labcheck-evidence", "version": 1, "calls": [')
    done = run_labcheck("check", "--from", str(path), env=isolated_env)
    assert done.returncode == ExitStatus.CANNOT_GRADE and "not valid JSON" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_hints_are_revealed_one_at_a_time(isolated_env):
    first = run_labcheck("hint", "01", env=isolated_env)
    second = run_labcheck("hint", "01", env=isolated_env)
    assert first.returncode == ExitStatus.PASSED
    assert "hint 1/2" in first.stdout and "hint 2/2" not in first.stdout
    assert "hint 2/2" in second.stdout


def test_status_and_reset_step(isolated_env):
    state = Path(isolated_env["LABCHECK_STATE_DIR"])
    state.mkdir(parents=True)
    (state / "progress.json").write_text(json.dumps({
        "current_lab": "01",
        "labs": {"01": {"current_step": 3, "passed": {"create-pod": "t1", "containers-ready": "t2"}}}}))
    done = run_labcheck("status", env=isolated_env)
    assert done.returncode == ExitStatus.PASSED and "current lab" in done.stdout
    done = run_labcheck("reset", "--step", "2", env=isolated_env)
    assert done.returncode == ExitStatus.PASSED
    saved = json.loads((state / "progress.json").read_text())
    assert saved["labs"]["01"]["current_step"] == 2
    assert list(saved["labs"]["01"]["passed"]) == ["create-pod"]


def test_unreadable_progress_file_is_not_overwritten(isolated_env):
    state = Path(isolated_env["LABCHECK_STATE_DIR"])
    state.mkdir(parents=True)
    (state / "progress.json").write_text("{half a file")
    done = run_labcheck("hint", "01", env=isolated_env)
    assert done.returncode == ExitStatus.CANNOT_GRADE and "move it aside" in done.stderr
    assert (state / "progress.json").read_text() == "{half a file"


def test_list_and_doctor_run_anywhere(isolated_env, tmp_path):
    done = run_labcheck("list", env=isolated_env, cwd=tmp_path)
    assert done.returncode == ExitStatus.PASSED and "01" in done.stdout
    done = run_labcheck("doctor", env=isolated_env, cwd=tmp_path)
    assert done.returncode in (ExitStatus.PASSED, ExitStatus.CANNOT_GRADE)
    assert "kubectl" in done.stdout and "free memory" in done.stdout


def test_next_step_names_the_page_by_title_and_url(monkeypatch):
    import io

    from rich.console import Console

    from labcheck import session

    buffer = io.StringIO()
    monkeypatch.setattr(session, "out", Console(file=buffer, width=200, no_color=True))
    lab = find_lab("01")
    monkeypatch.delenv("LABCHECK_DOCS_URL", raising=False)
    session.announce_step(lab, 2)
    text = buffer.getvalue()
    assert f"“Lab 01 · {lab.title}”" in text
    assert f"http://127.0.0.1:8000/labs/{lab.slug}/#step-{lab.steps[1].id}" in text and "labcheck docs" in text
    assert "docs/labs/" not in text  # a source path is not a page

    buffer.truncate(0)
    monkeypatch.setenv("LABCHECK_DOCS_URL", "https://labs.example.org/netlabs/")
    session.announce_step(lab, 1)
    assert f"https://labs.example.org/netlabs/labs/{lab.slug}/#step-{lab.steps[0].id}" in buffer.getvalue()


@pytest.mark.slow
def test_docs_serves_the_lab_pages(isolated_env, tmp_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "labcheck", "docs", "--port", str(port)], cwd=tmp_path,
                              env=isolated_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/labs/01-pod-shared-network/"
        deadline = time.monotonic() + 120
        while True:
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "labcheck docs did not serve the pages"
                time.sleep(1)
        assert "Lab 01" in page and "Check your work" in page
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_files_copies_a_labs_app_folder_and_refuses_labs_without_one(isolated_env, tmp_path):
    dest = tmp_path / "web-app"
    for _ in range(2):  # a second run gives the same files and succeeds
        done = run_labcheck("files", "07", str(dest), env=isolated_env)
        assert done.returncode == ExitStatus.PASSED, done.stderr
    assert {"Dockerfile.web", "Dockerfile.redis", "server.js", "redis.js", "package.json"} <= {
        p.name for p in dest.iterdir()}
    source = find_lab("07").folder / "app" / "server.js"
    assert (dest / "server.js").read_text() == source.read_text()
    done = run_labcheck("files", "01", str(tmp_path / "none"), env=isolated_env)
    assert done.returncode == ExitStatus.USAGE and "no app/ folder" in done.stderr
    assert not (tmp_path / "none").exists()
