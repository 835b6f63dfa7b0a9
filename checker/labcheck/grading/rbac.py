"""Least privilege for a roster: exec and logs only in the learners' namespaces.

clusters/grading/rbac.yaml gives the grader's ServiceAccount read-only verbs
cluster-wide (ClusterRole labcheck-grader) and defines, without binding it
anywhere, ClusterRole labcheck-grader-exec: `pods/exec` and `pods/log`. That
one is bound by a RoleBinding in each namespace the grader must run commands
in: every learner's namespace, and the namespaces a lab's checks derive from it
(lab 08's clients in `<namespace>-monitoring`). `labcheck grade LAB --roster
roster.csv --rbac` prints those RoleBindings; kube-system and every other
namespace stay out of reach of exec.
"""

from __future__ import annotations

from typing import Iterable

from ..model import Lab, check_kind
from .roster import Learner

SERVICE_ACCOUNT = ("labcheck-grading", "labcheck-grader")
EXEC_ROLE = "labcheck-grader-exec"


def derived_namespaces(lab: Lab, namespace: str) -> list[str]:
    """The namespaces a lab's checks run commands or read logs in, for a learner graded in `namespace`."""
    from ..checks.commands import in_namespace

    found = [namespace]
    for step in lab.steps:
        for check in step.checks:
            if check_kind(check) != "matrix":
                continue
            for client in check.spec.clients.values():
                if client.namespace:
                    found.append(in_namespace(client.namespace, namespace))
    return list(dict.fromkeys(found))


def learner_namespaces(lab: Lab, learners: Iterable[Learner]) -> tuple[list[str], list[str]]:
    """(namespaces of the classroom cluster to bind, learners skipped because their row names a context)."""
    namespaces: list[str] = []
    skipped: list[str] = []
    for learner in learners:
        if learner.context:
            skipped.append(learner.learner)
            continue
        namespaces.extend(derived_namespaces(lab, learner.namespace or lab.namespace))
    return sorted(set(namespaces)), skipped


def role_bindings(namespaces: list[str]) -> str:
    """YAML of one RoleBinding per namespace, giving the grader exec and logs there and nowhere else."""
    import yaml

    account_namespace, account = SERVICE_ACCOUNT
    documents = [{
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": EXEC_ROLE, "namespace": namespace,
                     "labels": {"app.kubernetes.io/managed-by": "labcheck-grade"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": EXEC_ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
    } for namespace in namespaces]
    header = ("# The grader may exec into Pods and read their logs in these namespaces only:\n"
              "#   kubectl apply -f clusters/grading/rbac.yaml -f THIS_FILE\n")
    return header + yaml.safe_dump_all(documents, sort_keys=False)
