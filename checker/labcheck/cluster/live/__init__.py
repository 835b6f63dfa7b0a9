"""A real cluster: the Kubernetes API for objects, logs and pod exec; docker for node exec.

This package is the only code that imports the `kubernetes` client. It returns
plain dicts and turns every client error into ClusterUnavailable (the grader
cannot look) or TargetUnavailable (what the learner should have made is not
there).

`client` is LiveCluster (objects, watches, logs); `execs` runs commands in Pods
and on nodes and reads their exit status; `kubeconfig` reads a kubeconfig;
`skeleton` keeps the client's import light for a one-shot `labcheck`.
"""

from .client import _KNOWN_KINDS, LiveCluster

__all__ = ["LiveCluster", "_KNOWN_KINDS"]
