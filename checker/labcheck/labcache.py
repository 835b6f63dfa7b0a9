"""Validated labs kept between runs, so a one-shot `labcheck` need not validate its lab again.

Validating a lab builds pydantic's schemas for the whole lab format and runs the
lint rules: most of a one-shot check's own time. A lab that validated is
pickled under the user's cache directory, keyed by everything validation read:
the lab folder's files (names, sizes, contents of lab.yaml and checks.py), the
cluster configs' names, the code that defines and validates the format (the
check kinds included), and the installed kubernetes client's version, whose
schema lint checks asserts against.
Any change gives a new key, so a stale entry is never used; an unreadable entry
is ignored and the lab is validated as usual. The cache holds only what this
user's own labcheck wrote there (files are 0600).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
#: The code validation runs: the format, the loader, the lint rules, every check kind.
_CODE = ("model.py", "loader.py", "lab_rules.py", "lint/*.py", "checks/spec.py", "checks/matching.py",
         "checks/kinds/*.py")


def _client_version() -> str:
    """The kubernetes client's __version__, read from its __init__.py without importing it."""
    import importlib.util
    import re

    loaded = sys.modules.get("kubernetes")  # perhaps cluster.live.skeleton's stand-in, which has no spec
    folders = list(getattr(loaded, "__path__", None) or [])
    if not folders:
        spec = importlib.util.find_spec("kubernetes")
        folders = list(spec.submodule_search_locations or []) if spec else []
    try:
        text = (Path(folders[0]) / "__init__.py").read_text(encoding="utf-8") if folders else ""
    except OSError:
        text = ""
    found = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    return found[1] if found else "-"


def cache_dir() -> Path:
    configured = os.environ.get("LABCHECK_CACHE_DIR")
    if configured:
        return Path(configured)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("labcheck", appauthor=False))


def key(lab_file: Path, clusters: Path) -> str:
    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:2]} kubernetes {_client_version()}".encode())
    for pattern in _CODE:
        for path in sorted(_PACKAGE.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    folder = lab_file.parent
    for path in sorted(folder.rglob("*")):
        if "evidence" in path.relative_to(folder).parts or "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes() if path.suffix in (".yaml", ".yml", ".py") else str(path.stat().st_size).encode())
    digest.update(" ".join(sorted(p.name for p in clusters.glob("*.yaml"))).encode())
    return digest.hexdigest()[:32]


def load(lab_key: str) -> Any | None:
    try:
        with open(cache_dir() / f"{lab_key}.pickle", "rb") as handle:
            return pickle.load(handle)
    except Exception:  # missing, unreadable, or from another version: validate instead
        return None


def store(lab_key: str, lab: Any) -> None:
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".lab.", suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            pickle.dump(lab, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, directory / f"{lab_key}.pickle")
    except Exception:  # a read-only home must not stop grading
        pass
