"""Doing what a person would do: kubectl apply and shell commands, in the lab's context.

Used by `labcheck start` (namespace, setup), `solve` and the self-tests. The
commands see a private kubeconfig whose current context and namespace are the
lab's, so a person's own kubectl settings are never changed by a self-test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ClusterUnavailable, LabcheckError
from .model import Actions, Lab


class ActionFailed(LabcheckError):
    """A manifest or command of a lab did not apply: the lab or the cluster is broken."""


def kubectl() -> str:
    binary = shutil.which("kubectl")
    if binary is None:
        raise ClusterUnavailable("kubectl is not installed (labcheck doctor tells how to get it)")
    return binary


def _run(args: list[str], *, env: dict[str, str] | None = None, input_text: str | None = None,
         timeout: float = 300, shell: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args if not shell else args[0], shell=shell, env=env, input=input_text,
                              capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        shown = args[0] if shell else " ".join(args[:3])
        raise ActionFailed(f"`{shown}` did not finish in {int(timeout)} s") from None


_VIEWS: dict[str, str] = {}  # context -> its minified kubeconfig, read once per process


def _context_view(context: str) -> dict:
    import yaml

    if context not in _VIEWS:
        view = _run([kubectl(), "config", "view", "--raw", "--minify", "--flatten", "--context", context], timeout=30)
        if view.returncode != 0:
            raise ClusterUnavailable(f"kubeconfig has no context {context!r} (run: labcheck start)")
        _VIEWS[context] = view.stdout
    return yaml.safe_load(_VIEWS[context])


@contextmanager
def lab_kubeconfig(context: str, namespace: str) -> Iterator[str]:
    """A private kubeconfig with only the lab's context, set to the given namespace."""
    import yaml

    config = _context_view(context)
    for entry in config.get("contexts") or []:
        if entry.get("name") == context:
            entry.setdefault("context", {})["namespace"] = namespace
    config["current-context"] = context
    handle, path = tempfile.mkstemp(prefix="labcheck-kubeconfig-")
    try:
        with os.fdopen(handle, "w") as out:  # mkstemp made it 0600: it holds credentials
            yaml.safe_dump(config, out)
        yield path
    finally:
        os.unlink(path)


def ensure_namespace(context: str, namespace: str, labels: dict[str, str] | None = None) -> None:
    label_lines = "".join(f"\n    {key}: \"{value}\"" for key, value in (labels or {}).items())
    manifest = (f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
                + (f"  labels:{label_lines}\n" if labels else ""))
    done = _run([kubectl(), "--context", context, "apply", "-f", "-"], input_text=manifest, timeout=60)
    if done.returncode != 0:
        raise ClusterUnavailable(f"cannot create namespace {namespace}: {done.stderr.strip()[:200]}")


def delete_namespace(context: str, namespace: str, *, wait: bool = True) -> None:
    """Delete a namespace; with wait=False the API server empties it in the background."""
    done = _run([kubectl(), "--context", context, "delete", "namespace", namespace, "--ignore-not-found",
                 f"--wait={'true' if wait else 'false'}", "--timeout=180s"], timeout=200)
    if done.returncode != 0:
        raise ClusterUnavailable(f"cannot delete namespace {namespace}: {done.stderr.strip()[:200]}")


def delete_namespaces(context: str, selector: str) -> None:
    """Delete, without waiting, every namespace with these labels (an earlier self-test's leftovers)."""
    _run([kubectl(), "--context", context, "delete", "namespace", "-l", selector, "--wait=false"], timeout=60)


def set_default_namespace(context: str, namespace: str) -> None:
    """Make the learner's kubectl use the lab's cluster and namespace."""
    _run([kubectl(), "config", "use-context", context], timeout=30)
    _run([kubectl(), "config", "set-context", context, "--namespace", namespace], timeout=30)


def perform(lab: Lab, actions: Actions, *, context: str, cluster_name: str,
            namespace: str | None = None, variables: dict[str, str] | None = None) -> list[str]:
    """Apply manifests, then run commands, in the lab's namespace (or another given one).
    `variables` (a challenge's drawn details) are set for the commands too."""
    log: list[str] = []
    namespace = namespace or lab.namespace
    with lab_kubeconfig(context, namespace) as config:
        env = {**os.environ, **(variables or {}), "KUBECONFIG": config, "LAB_NAMESPACE": namespace,
               "KUBE_CONTEXT": context, "KIND_CLUSTER": cluster_name}
        for command in actions.prepare:
            log.append(_shell(command, env, lab.folder))
        for manifest in actions.manifests:
            done = _run([kubectl(), "apply", "-f", str(lab.folder / manifest)], env=env)
            if done.returncode != 0:
                raise ActionFailed(f"kubectl apply -f {manifest} failed: {done.stderr.strip()[:300]}")
            log.append(f"kubectl apply -f {manifest}")
        for command in actions.commands:
            log.append(_shell(command, env, lab.folder))
    return log


def _shell(command: str, env: dict[str, str], cwd: Path) -> str:
    """Run a lab's command in its folder, so it may name the lab's files by relative path."""
    done = _run(["set -e\n" + command], env=env, shell=True, timeout=300, cwd=cwd)
    if done.returncode != 0:
        raise ActionFailed(f"command failed ({done.returncode}): {command.strip()[:120]}: {done.stderr.strip()[:300]}")
    return command
