"""The narrow seam between the grader and a cluster.

Everything above this package sees plain dicts and ExecResult objects. Two
sides: `live` (a real cluster; the only module importing `kubernetes`) and
`recorded` (evidence saved to a JSON file, graded again without a cluster).
"""

from .base import Cluster, ExecResult

__all__ = ["Cluster", "ExecResult"]
