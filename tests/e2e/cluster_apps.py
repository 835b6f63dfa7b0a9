"""What the e2e cluster test uses: a two-replica echo app behind a ClusterIP and a NodePort
Service, a client Pod, and a command runner that fails with the command's output."""

from __future__ import annotations

import subprocess


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
