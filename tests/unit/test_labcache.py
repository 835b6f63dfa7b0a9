"""Validated labs kept between runs: used only while nothing they were validated from changed."""

from __future__ import annotations

import shutil

from labcheck import labcache
from labcheck.loader import _load_cached, clusters_dir, labs_dir


def _copy_lab(tmp_path):
    folder = tmp_path / "01-pod-shared-network"
    shutil.copytree(labs_dir() / "01-pod-shared-network", folder, ignore=shutil.ignore_patterns("evidence"))
    return folder / "lab.yaml"


def test_a_kept_lab_is_used_and_equals_the_validated_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCHECK_CACHE_DIR", str(tmp_path / "cache"))
    lab_file = _copy_lab(tmp_path)
    _load_cached.cache_clear()
    validated = _load_cached(lab_file)
    key = labcache.key(lab_file, clusters_dir())
    kept = labcache.load(key)
    assert kept == validated and kept.steps[2].checks[0].id == validated.steps[2].checks[0].id
    _load_cached.cache_clear()
    again = _load_cached(lab_file)
    assert again.folder == lab_file.parent and again.model_dump() == validated.model_dump()


def test_any_change_to_the_lab_or_its_checks_gives_a_new_key(tmp_path):
    lab_file = _copy_lab(tmp_path)
    before = labcache.key(lab_file, clusters_dir())
    checks = lab_file.parent / "checks.py"
    checks.write_text(checks.read_text() + "\n# edited\n")
    after_checks = labcache.key(lab_file, clusters_dir())
    lab_file.write_text(lab_file.read_text().replace("Create the two-container Pod", "Create the Pod"))
    assert len({before, after_checks, labcache.key(lab_file, clusters_dir())}) == 3


def test_an_unreadable_entry_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCHECK_CACHE_DIR", str(tmp_path))
    (tmp_path / "abc.pickle").write_bytes(b"not a pickle")
    assert labcache.load("abc") is None
    assert labcache.load("missing") is None
