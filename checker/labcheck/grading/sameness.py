"""Same-cluster detection: two submissions whose evidence holds facts only one cluster can have.

Every object a cluster makes gets a UID (a random UUID) when it is created; no
other cluster, and no later object of the same name, gets the same one. Two
learners who each built the lab on their own cluster share no UID. A file
copied from another learner and relabelled (and signed again: every learner
holds the course key) still holds the original's UIDs. Weaker facts back that
up: when the learner's objects were created (to the second) and the set of
their Pods' IP addresses.

Facts kept per submission (`fingerprint` in its record):

    ["uid", "Pod lab01/multicontainerpod", "7c1e..."]     any object's UID: Pods, Nodes, Namespaces, ...
    ["created", "Pod multicontainerpod", "2026-..."]      objects in the learner's namespace
    ["pod-ips", "Pods in lab01", "10.244.0.5,10.244.0.6"]

A pair sharing a UID is reported as "same cluster". A pair sharing no UID but
both their creation times and their Pod IP set is reported as "possibly": fresh
kind clusters hand out the same first Pod IPs, and two learners can create a Pod
in the same second, so that alone proves little. What this does not catch: a
copier who also rewrites every UID, timestamp and address consistently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

MAX_FACTS = 400  # a hostile file of 100,000 Pods must not make a record of 100,000 facts


def _objects(calls: Iterable[dict[str, Any]]):
    """(kind, namespace asked about, object) of every object in the answers."""
    for call in calls:
        if call.get("raises") is not None:
            continue
        result, args = call.get("result"), call.get("args") or {}
        if call.get("op") == "get" and isinstance(result, dict):
            yield args.get("kind"), args.get("namespace"), result
        elif call.get("op") == "list" and isinstance(result, list):
            for obj in result:
                if isinstance(obj, dict):
                    yield args.get("kind"), args.get("namespace"), obj


def facts(calls: list[dict[str, Any]], namespace: str) -> list[list[str]]:
    """The cluster's facts in a submission's evidence calls, sorted, at most MAX_FACTS."""
    found: set[tuple[str, str, str]] = set()
    pod_ips: set[str] = set()
    for kind, asked, obj in _objects(calls):
        metadata = obj.get("metadata") or {}
        name, where = metadata.get("name"), metadata.get("namespace")
        label = f"{kind} {where}/{name}" if where else f"{kind} {name}"
        uid = metadata.get("uid")
        if isinstance(uid, str) and uid:
            found.add(("uid", label, uid))
        if asked == namespace:  # the learner's own objects
            created = metadata.get("creationTimestamp")
            if isinstance(created, str) and created:
                found.add(("created", f"{kind} {name}", created))
            ip = (obj.get("status") or {}).get("podIP") if kind == "Pod" else None
            if isinstance(ip, str) and ip:
                pod_ips.add(ip)
    if pod_ips:
        found.add(("pod-ips", f"Pods in {namespace}", ",".join(sorted(pod_ips))))
    ordered = sorted(found, key=_strongest_first)
    return [list(fact) for fact in ordered[:MAX_FACTS]]


def _strongest_first(fact) -> tuple:
    return {"uid": 0, "pod-ips": 1}.get(fact[0], 2), tuple(fact)


@dataclass(frozen=True)
class Pair:
    first: str  # record keys
    second: str
    strength: str  # "same cluster" or "possibly"
    shared: tuple[str, ...]  # what they share, for people

    def describe(self, records: dict[str, dict[str, Any]]) -> str:
        return f"{records[self.first]['learner']} and {records[self.second]['learner']}: {self.strength} " \
               f"({'; '.join(self.shared)})"


def _shown(fact: tuple[str, str, str]) -> str:
    kind, label, value = fact
    if kind == "uid":
        return f"UID of {label}"
    if kind == "created":
        return f"{label} created {value}"
    return f"Pod IPs {value}"


def pairs(records: dict[str, dict[str, Any]]) -> list[Pair]:
    """Pairs of records (different learners) whose evidence comes from one cluster, strongest first."""
    by_fact: dict[tuple[str, str, str], list[str]] = {}
    for key, record in records.items():
        for fact in record.get("fingerprint") or []:
            if isinstance(fact, list) and len(fact) == 3:
                by_fact.setdefault((fact[0], fact[1], fact[2]) if fact[0] != "uid" else ("uid", "", fact[2]),
                                   []).append(key)
    shared: dict[tuple[str, str], set[tuple[str, str, str]]] = {}
    for fact, keys in by_fact.items():
        keys = sorted(set(keys))
        for i, first in enumerate(keys):
            for second in keys[i + 1:]:
                if records[first]["learner"] != records[second]["learner"]:
                    shared.setdefault((first, second), set()).add(fact)
    found = []
    for (first, second), common in shared.items():
        kinds = {fact[0] for fact in common}
        if "uid" in kinds:
            strength = "same cluster"
        elif {"created", "pod-ips"} <= kinds:
            strength = "possibly"
        else:
            continue
        labels = {}
        for fact in records[first].get("fingerprint") or []:
            labels.setdefault(("uid", "", fact[2]) if fact[0] == "uid" else tuple(fact), tuple(fact))
        shown = [_shown(labels.get(fact, fact)) for fact in sorted(common, key=_strongest_first)]
        found.append(Pair(first, second, strength, tuple(shown[:3] + ([f"{len(shown) - 3} more"] if len(shown) > 3
                                                                         else []))))
    return sorted(found, key=lambda p: (p.strength != "same cluster", records[p.first]["learner"],
                                        records[p.second]["learner"]))
