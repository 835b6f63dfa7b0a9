"""What the e2e cluster test uses: a two-replica echo app behind a ClusterIP and a NodePort
Service, a client Pod, a command runner that fails with the command's output, and a copy of a lab
cluster's kind config to run beside the shared clusters."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from labcheck.loader import clusters_dir


def echo_app(node_port: int) -> str:
    """The echo Deployment (one replica per node), Services `echo` and `echo-nodeport`, Pod `client`."""
    return ECHO.replace("NODE_PORT", str(node_port))


ECHO = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: echo}}}
      containers:
      - name: echo
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo-nodeport}
spec:
  type: NodePort
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080, nodePort: NODE_PORT}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: client, image: busybox:1.36, command: ["sleep", "3600"]}
"""


def run(args, env, check=True, timeout=300, input_text=None):
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {done.returncode}: {done.stdout}{done.stderr}")
    return done


def copy_of_config(stem: str, name: str, folder: Path) -> Path:
    """clusters/<stem>.yaml under another cluster name and without host ports; all else as it is."""
    spec = yaml.safe_load((clusters_dir() / f"{stem}.yaml").read_text(encoding="utf-8"))
    spec["name"] = name
    for node in spec["nodes"]:
        node.pop("extraPortMappings", None)
    copy = folder / f"{name}.yaml"
    copy.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return copy


def require_prepared_images(toolchain: dict[str, str], phases: dict[str, str]) -> None:
    """Fail (LABCHECK_E2E_REQUIRED=1) or skip, naming the prepare.sh phase, unless Docker has every image
    the toolchain.env keys list (comma-separated), keyed to the phase that builds them. A registry
    toolchain needs none: the nodes pull the published images the manifests name."""
    if toolchain.get("SOURCE") == "registry":
        return
    problem = None
    for key, phase in phases.items():
        images = [image for image in toolchain.get(key, "").split(",") if image]
        if not images:
            problem = f"the prepared toolchain predates its {phase} phase (no {key} in toolchain.env)"
        for image in images:
            if problem is None and subprocess.run(["docker", "image", "inspect", image],
                                                  capture_output=True).returncode != 0:
                problem = f"{phase} image {image} is not in Docker"
        if problem:
            problem += f": run `bash clusters/prepare.sh` (phase {phase})"
            if os.environ.get("LABCHECK_E2E_REQUIRED") == "1":
                pytest.fail(problem)
            pytest.skip(problem)
