"""A check kind is one module plus one registry line: a throwaway kind, added in a fresh
process before the lab format is built, is linted, run, watched and rendered like the
built-in ones, with no other change to labcheck."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO

KIND_MODULE = '''
"""`keys:` -- a ConfigMap holds at least `at_least` keys (a throwaway kind for the test)."""
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from labcheck.checks.kinds.base import CheckKind
from labcheck.checks.outcome import Outcome, Table, TableCell, TableRow
from labcheck.checks.spec import CheckBase, Strict


class Keys(Strict):
    configmap: str
    at_least: int


class KeysCheck(CheckBase):
    kind: ClassVar[str] = "keys"
    spec: Keys = Field(alias="keys")


def evaluate(spec, ctx, lab_folder):
    found = ctx.get("ConfigMap", spec.configmap)
    keys = sorted((found or {}).get("data") or {})
    table = Table("keys", "configmap", ["count"], [TableRow(spec.configmap, [TableCell(str(len(keys)),
                                                                                        len(keys) >= spec.at_least)])])
    if len(keys) >= spec.at_least:
        return Outcome.passed(f"{len(keys)} keys", table=table)
    return Outcome.failed(f"only {len(keys)} keys", cause="add keys", table=table, final=True)


def lint(spec, at, env):
    if isinstance(spec, dict) and spec.get("at_least") == 0:
        yield at + ("at_least",), "at_least: 0 passes whatever the ConfigMap holds"


def watches(spec, lab_folder):
    return (("v1", "ConfigMap"),)


KIND = CheckKind("keys", KeysCheck, evaluate, default_timeout=0, lint=lint, watches=watches)
'''

LAB = '''
format: 1
id: "99"
title: Keys
summary: a lab with a throwaway kind
cluster: single-node
namespace: lab99
steps:
  - id: record
    title: record two answers
    checks:
      - id: enough-keys
        title: two keys
        keys: {configmap: answers, at_least: 2}
    hints: [create it]
    solution: {commands: [kubectl create configmap answers --from-literal=a=1 --from-literal=b=2]}
    unsolved_fails: [enough-keys]
'''

SCRIPT = '''
import io, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from labcheck.checks import kinds
import keys_kind
kinds.add(keys_kind.KIND)                         # the one registry line

from rich.console import Console
from labcheck.engine import run_step
from labcheck.loader import lint, load_lab
from labcheck.render import render_text
from labcheck.watch import watched_kinds
from tests.conftest import FakeCluster

lab_file = Path(sys.argv[2])
lab = load_lab(lab_file)
bad = Path(sys.argv[3])
problems = [str(p) for p in lint([bad]) if p.severity == 'error']
answers = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "answers", "namespace": "lab99"},
           "data": {"a": "1"}}
result = run_step(lab, lab.steps[0], FakeCluster([answers]))
console = Console(file=io.StringIO(), width=100, no_color=True)
render_text(result, console, step_count=1)
print(json.dumps({"status": result.status.value, "cause": result.checks[0].cause,
                  "watched": watched_kinds(lab, lab.steps[0]), "problems": problems,
                  "text": console.file.getvalue(), "schema": "keys" in json.dumps(__import__("labcheck.model").model.json_schema())}))
'''


def test_a_new_kind_is_one_module_and_one_registry_line(tmp_path):
    (tmp_path / "keys_kind.py").write_text(KIND_MODULE)
    folder = tmp_path / "labs" / "99-keys"
    folder.mkdir(parents=True)
    (folder / "lab.yaml").write_text(textwrap.dedent(LAB))
    bad_folder = tmp_path / "bad" / "99-keys"
    bad_folder.mkdir(parents=True)
    (bad_folder / "lab.yaml").write_text(textwrap.dedent(LAB).replace("at_least: 2", "at_least: 0"))
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "LABCHECK_CACHE_DIR": str(tmp_path / "cache"),
           "LABCHECK_CLUSTERS_DIR": str(REPO / "clusters"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(folder / "lab.yaml"),
                           str(bad_folder / "lab.yaml")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["status"] == "FAIL" and seen["cause"] == "add keys"  # run, through the engine
    assert seen["watched"] == [["v1", "Pod"], ["v1", "ConfigMap"]]  # watched
    assert len(seen["problems"]) == 1 and "at_least: 0 passes whatever" in seen["problems"][0]  # linted
    assert "only 1 keys" in seen["text"] and "answers" in seen["text"] and "count" in seen["text"]  # rendered
    assert seen["schema"]  # in `labcheck schema`
