"""Build hook: the wheel carries the built lab pages, so `labcheck docs` serves them anywhere.

When a wheel is built (not an editable install, not the sdist), the site is
built strictly from docs/ with mkdocs, notebooks and PASS/FAIL examples
included, and added to the wheel as labcheck/_bundled/site. The hook's build
environment gets labcheck's own dependencies and its docs extra (pyproject.toml);
the docs build imports labcheck from checker/. HATCH_BUILD_NO_HOOKS=true builds
a wheel without the pages (the grading image needs none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class LabPagesHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        self._work = Path(tempfile.mkdtemp(prefix="netlabs-site-"))
        site = self._work / "site"
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "checker"), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                               "--config-file", str(root / "mkdocs.yml"), "--site-dir", str(site)],
                              cwd=self._work, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"building the lab pages for the wheel failed:\n{done.stderr[-3000:]}")
        build_data["force_include"][str(site)] = "labcheck/_bundled/site"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
