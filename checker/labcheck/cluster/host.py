"""Commands run on the machine labcheck runs on: traffic that enters the cluster from outside.

A NodePort or a load balancer's address is only proven from outside the cluster; kind
publishes both to this machine (its Docker network and the port mappings on localhost).
No Kubernetes client here: this is a plain subprocess, wrapped like a node exec.
"""

from __future__ import annotations

import shutil
import subprocess
import time

from ..errors import ClusterUnavailable
from .base import ExecResult

WHERE = "this machine"


def run_on_host(command: list[str], timeout: float) -> ExecResult:
    """Run `command` here; a missing program exits 127, as in a container."""
    started = time.monotonic()
    if shutil.which(command[0]) is None:
        return ExecResult(args=command, returncode=127, stdout="", stderr=f"{command[0]}: command not found",
                          where=WHERE, extra={"not_started": True})
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return ExecResult(args=command, returncode=124, stdout=_text(exc.stdout), stderr=_text(exc.stderr),
                          duration=round(time.monotonic() - started, 3), where=WHERE, timed_out=True)
    except OSError as exc:
        raise ClusterUnavailable(f"cannot run {command[0]} on this machine: {exc}") from None
    return ExecResult(args=command, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr,
                      duration=round(time.monotonic() - started, 3), where=WHERE)


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
