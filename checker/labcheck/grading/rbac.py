"""Least privilege for a roster: exec only in the learners' namespaces, logs only where a lab reads them.

clusters/grading/rbac.yaml gives the grader's ServiceAccount read-only verbs
cluster-wide (ClusterRole labcheck-grader) and defines, without binding them
anywhere, ClusterRole labcheck-grader-exec (`pods/exec` and `pods/log`) and
labcheck-grader-logs (`pods/log` only). `labcheck grade LAB --roster
roster.csv --rbac` prints the RoleBindings a class needs:

- labcheck-grader-exec in each namespace the grader runs commands in: every
  learner's namespace, and the namespaces a lab's checks derive from it (lab
  08's clients in `<namespace>-monitoring`);
- labcheck-grader-logs in a namespace whose logs a lab's checks read and where
  they run nothing (lab 10 reads CoreDNS's log in kube-system).

kube-system and every other namespace stay out of reach of exec. What a lab's
own Python checks read in other namespaces is not seen here: a lab that does
so declares it with a `logs:` or `matrix:` check.
"""

from __future__ import annotations

from typing import Iterable

from ..model import Lab, check_kind
from .roster import Learner

SERVICE_ACCOUNT = ("labcheck-grading", "labcheck-grader")
EXEC_ROLE = "labcheck-grader-exec"
LOGS_ROLE = "labcheck-grader-logs"


def derived_namespaces(lab: Lab, namespace: str) -> tuple[list[str], list[str]]:
    """(namespaces the lab's checks run commands in, namespaces they only read logs in), for a learner
    graded in `namespace`."""
    from ..checks.commands import in_namespace

    execs, logs = [namespace], []
    for step in lab.steps:
        for check in step.checks:
            kind = check_kind(check)
            if kind == "matrix":
                execs += [in_namespace(c.namespace, namespace) for c in check.spec.clients.values() if c.namespace]
            elif kind == "logs" and check.spec.namespace:
                logs.append(in_namespace(check.spec.namespace, namespace))
    execs = list(dict.fromkeys(execs))
    return execs, [n for n in dict.fromkeys(logs) if n not in execs]


def learner_namespaces(lab: Lab, learners: Iterable[Learner]) -> tuple[list[str], list[str], list[str]]:
    """(namespaces to bind exec in, namespaces to bind logs in, learners left out because their row names
    a context: their cluster is not the classroom's)."""
    execs: set[str] = set()
    logs: set[str] = set()
    skipped: list[str] = []
    for learner in learners:
        if learner.context:
            skipped.append(learner.learner)
            continue
        mine, read = derived_namespaces(lab, learner.namespace or lab.namespace)
        execs.update(mine)
        logs.update(read)
    return sorted(execs), sorted(logs - execs), skipped


def role_bindings(exec_namespaces: list[str], log_namespaces: list[str] = ()) -> str:
    """YAML of one RoleBinding per namespace: exec and logs, or logs only."""
    import yaml

    account_namespace, account = SERVICE_ACCOUNT

    def binding(role: str, namespace: str) -> dict:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": role, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": "labcheck-grade"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": account_namespace}],
        }

    documents = [binding(EXEC_ROLE, n) for n in exec_namespaces] + [binding(LOGS_ROLE, n) for n in log_namespaces]
    header = ("# The grader may exec into Pods (and read their logs) in the namespaces bound to " + EXEC_ROLE
              + ",\n# and read logs only in those bound to " + LOGS_ROLE + ":\n"
              "#   kubectl apply -f clusters/grading/rbac.yaml -f THIS_FILE\n")
    return header + yaml.safe_dump_all(documents, sort_keys=False)
