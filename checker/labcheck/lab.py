"""The lab author's API: everything a lab's own checks.py may import, and nothing else.

    from labcheck.lab import CheckContext, Outcome, register, objects

    @register
    def sidecar_got_the_page(ctx: CheckContext, pod: str) -> Outcome:
        found = objects.pod(ctx, pod, running=True)   # raises TargetUnavailable, with the cause
        text = ctx.logs(pod, "sidecar", tail_lines=50)  # kept as evidence
        ...
        return Outcome.passed("...")  # or Outcome.failed(summary, expected=..., observed=..., cause=...)

Conventions:
- A check function returns an `Outcome`. FAIL means the learner's cluster is not
  right yet; `final=True` when waiting cannot change it (the engine re-tries
  other FAILs until the check's timeout). ERROR (`Outcome.error`) means the
  grader could not judge; raise `ClusterUnavailable` when a grader's own tool fails.
- "It is not there" is one convention: `objects.pod`, `objects.service`,
  `objects.answer` ... raise `TargetUnavailable(message, cause=..., final=...)`,
  which the engine turns into a FAIL; raise it yourself the same way.
- Reads go through the context (`ctx.get`, `ctx.list`: namespaced kinds in the
  graded namespace, cluster-scoped ones anywhere); observations (`ctx.exec`,
  `ctx.exec_on_node`, `ctx.exec_on_host`, `ctx.logs`) are kept as evidence, so
  a recorded run can be graded again with no cluster.
- A function that runs commands on a node or on this machine says so:
  `@register(needs=("node",))`; one that reads kinds beyond the usual ones says
  which: `@register(watches=(("v1", "Namespace"),))`.
"""

from __future__ import annotations

from .checks import commands, objects
from .checks.commands import command_missing, dns_command, http_answer, http_command, http_script, interpret
from .checks.context import CheckContext, exec_evidence
from .checks.diagnose import Cause, missing_object, pod_cause, replaced_pods, service_selects_nothing
from .checks.kinds.base import HOST, NODE
from .checks.kinds.python import register
from .checks.outcome import Outcome, Table, TableCell, TableRow
from .errors import ClusterUnavailable, TargetUnavailable

__all__ = [
    "CheckContext", "Outcome", "register", "TargetUnavailable", "ClusterUnavailable",
    "objects", "commands", "Cause", "pod_cause", "missing_object", "replaced_pods", "service_selects_nothing",
    "http_command", "http_script", "http_answer", "dns_command", "interpret", "command_missing", "exec_evidence",
    "Table", "TableRow", "TableCell", "NODE", "HOST",
]
