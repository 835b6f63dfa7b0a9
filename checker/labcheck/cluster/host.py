"""Commands run on the machine labcheck runs on: traffic that enters the cluster from outside.

A NodePort or a load balancer's address is only proven from outside the cluster; kind
publishes both to this machine (its Docker network and the port mappings on localhost).
No Kubernetes client here: this is a plain subprocess, wrapped like a node exec.

Where Docker runs in a VM (Docker Desktop on macOS and Windows), kind's Docker
network lives inside that VM and this machine cannot reach the nodes' addresses.
There a request to such an address runs in a short-lived container on kind's
network instead (`HostPath`), which is as outside the cluster as this machine
is; the result says which way it went. Requests to localhost (kind's published
ports) always run here.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterUnavailable
from .base import ExecResult

WHERE = "this machine"
_URL_HOST = re.compile(r"\b[a-z]+://\[?([0-9A-Za-z.:-]+?)\]?(?::\d+)?(?:/|\s|'|\"|$)")
#: LABCHECK_HOST_PATH forces one way: "direct" (this machine) or "container" (a container on kind's network).
_FORCE = "LABCHECK_HOST_PATH"


def kind_network() -> str:
    """The Docker network kind puts its nodes on."""
    return os.environ.get("KIND_EXPERIMENTAL_DOCKER_NETWORK") or "kind"


def cluster_addresses(command: list[str]) -> bool:
    """Whether the command asks a cluster address (a node's, a load balancer's), not localhost."""
    for host in _URL_HOST.findall(" ".join(command)):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                return True
            continue
        if not address.is_loopback:
            return True
    return False


@dataclass
class HostPath:
    """How requests from outside the cluster reach it from this machine: decided once per cluster
    (can this machine open a connection to a node's address?) and kept in the user's cache."""

    cluster: str  # the kind cluster's name: its nodes are the containers <name>-*
    node_address: str | None  # a node's InternalIP, to try
    network: str = "kind"
    cache: Path | None = None
    _container: bool | None = None

    def through_container(self) -> bool:
        if self._container is None:
            forced = os.environ.get(_FORCE)
            if forced in ("direct", "container"):
                self._container = forced == "container"
            else:
                self._container = self._remembered()
        return self._container

    def _remembered(self) -> bool:
        key = f"{self.cluster} {self.node_address}"
        known: dict[str, bool] = {}
        if self.cache is not None:
            try:
                known = json.loads(self.cache.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                known = {}
        if key not in known:
            known[key] = not _reaches(self.node_address)
            if self.cache is not None:
                try:
                    self.cache.parent.mkdir(parents=True, exist_ok=True)
                    self.cache.write_text(json.dumps(known), encoding="utf-8")
                except OSError:
                    pass  # decided again next time
        return bool(known[key])

    def run(self, command: list[str], timeout: float) -> ExecResult:
        if not cluster_addresses(command) or not self.through_container():
            return run_on_host(command, timeout)
        return run_in_container(command, timeout, self.cluster, self.network)


def _reaches(address: str | None, port: int = 6443) -> bool:
    """A TCP connection from here to a node (the API server's port on the control plane answers)."""
    if not address:
        return True
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def run_in_container(command: list[str], timeout: float, cluster: str, network: str) -> ExecResult:
    """Run `command` in a throw-away container of the cluster's node image on kind's network."""
    docker = shutil.which("docker")
    if docker is None:
        raise ClusterUnavailable("this machine cannot reach kind's network, and docker is not on PATH to "
                                 "reach it from a container")
    image = subprocess.run([docker, "inspect", "-f", "{{.Config.Image}}", f"{cluster}-control-plane"],
                           capture_output=True, text=True, check=False).stdout.strip()
    if not image:
        raise ClusterUnavailable(f"cannot find the node image of cluster {cluster} (docker inspect "
                                 f"{cluster}-control-plane)")
    wrapped = [docker, "run", "--rm", "--network", network, "--entrypoint", command[0], image, *command[1:]]
    result = run_on_host(wrapped, timeout + 10)  # a container takes a moment to start
    result.args = list(command)
    result.where = f"a container on Docker network {network} (this machine does not reach the nodes' addresses)"
    return result


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
