"""`resolves:` — a name looked up from inside a Pod, as its own resolver sees it (kind `resolves`).

    resolves: {pod: client, name: web, to: {kind: Pod, selector: app=web, field: status.podIP, ready: true}}
    resolves: {pod: client, name: db.lab.internal, to_addresses: ["10.10.10.10"]}
    resolves: {pod: client, name: nosuch.lab10.svc.cluster.local, fails: nxdomain}

The lookup uses the Pod's own resolv.conf (search list, ndots, nameserver).
Addresses are asked as an application asks them, through the C library
(`getent ahostsv4`: a name with fewer dots than ndots is tried with each search
domain first, any other as it is first and then with them); a failure is asked
of `dig +search`, whose header tells NXDOMAIN, SERVFAIL and a timeout apart. With
`to`, the addresses must be exactly those read from the cluster when the check
runs (every ready Pod of a headless Service, and no other); with `fails`, the
lookup must fail that way.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from ..commands import command_missing, in_namespace
from ..context import CheckContext
from ..objects import pod, read_reference
from ..outcome import Outcome
from ..spec import CheckBase, Reference, Strict
from .base import NETWORK_PATH, ApiKind, CheckKind

Failure = Literal["nxdomain", "servfail", "timeout"]


class Resolves(Strict):
    pod: str = Field(description="the Pod the lookup runs in")
    container: str | None = None
    name: str = Field(description="the name looked up; may use $LAB_NAMESPACE")
    to: Reference | None = Field(None, description="exactly these addresses, read from the cluster")
    to_addresses: list[str] | None = Field(None, min_length=1, description="exactly these addresses")
    fails: Failure | None = Field(None, description="the lookup must fail this way")
    attempt_timeout: float = Field(8, gt=0, description="seconds one lookup may take")

    @model_validator(mode="after")
    def _one_expectation(self) -> "Resolves":
        given = [n for n in ("to", "to_addresses", "fails") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"resolves needs exactly one of to, to_addresses, fails (found: {', '.join(given) or 'none'})")
        return self


class ResolvesCheck(CheckBase):
    kind: ClassVar[str] = "resolves"
    spec: Resolves = Field(alias="resolves")


def lookup_command(name: str, *, status: bool) -> list[str]:
    """The addresses as the C library resolves the name, or (status) dig's answer with its status."""
    quoted = shlex.quote(name)
    if status:
        return ["dig", "+search", "+time=2", "+tries=2", "A", name]
    return ["sh", "-c", f"getent ahostsv4 {quoted} | awk '{{print \"ADDRESS \" $1}}' | sort -u"]


def read_lookup(output: str, exit_code: int) -> tuple[str, list[str]]:
    """(outcome, addresses): outcome is noerror, nxdomain, servfail, timeout, or notfound (getent's
    one word for every failure)."""
    addresses = sorted(set(re.findall(r"^ADDRESS (\S+)$", output, re.M)
                           + re.findall(r"^\S+\s+\d+\s+IN\s+A\s+(\S+)$", output, re.M)))
    if "connection timed out" in output or "no servers could be reached" in output:
        return "timeout", addresses
    status = re.search(r"status: (\w+)", output)
    if status:
        return status.group(1).lower(), addresses
    return ("noerror" if addresses else "notfound"), addresses


def evaluate(spec: Resolves, ctx: CheckContext, lab_folder: Path | None = None) -> Outcome:
    pod(ctx, spec.pod, running=True)
    name = in_namespace(spec.name, ctx.namespace)
    wants_status = spec.fails is not None
    result = ctx.exec(spec.pod, spec.container, lookup_command(name, status=wants_status),
                      timeout=spec.attempt_timeout)
    if command_missing(result):
        tool = "dig" if wants_status else "getent"
        return Outcome.failed(f"{tool} is not in Pod {spec.pod}'s image", final=True,
                              cause="run the lookup from a Pod whose image has it (the dnsutils image has both)")
    outcome, addresses = read_lookup(result.stdout + result.stderr, result.returncode)
    if result.timed_out:
        outcome = "timeout"
    shown = f"{outcome.upper()}" + (f": {', '.join(addresses)}" if addresses else "")
    if spec.fails is not None:
        if outcome == spec.fails:
            return Outcome.passed(f"looking up {name} in {spec.pod} ends in {outcome.upper()}", observed=shown)
        return Outcome.failed(f"looking up {name} in {spec.pod} gives {shown}, not {spec.fails.upper()}",
                              expected=spec.fails.upper(), observed=shown, cause_generic=True,
                              cause="see what the earlier steps set up for this lookup")
    if spec.to is not None:
        expected = sorted(set(read_reference(ctx, spec.to)))
        what = spec.to.shown()
    else:
        expected, what = sorted(set(spec.to_addresses or [])), ", ".join(spec.to_addresses or [])
    if outcome == "noerror" and addresses == expected:
        return Outcome.passed(f"{name} resolves in {spec.pod} to {', '.join(addresses)}")
    if outcome in ("timeout", "servfail"):
        cause = f"the lookup itself failed ({outcome.upper()}): is the Pod's nameserver answering?"
    elif not addresses:
        cause = f"{name} does not resolve from {spec.pod}: check the name, and the search list in its resolv.conf"
    else:
        extra = sorted(set(addresses) - set(expected))
        missing = sorted(set(expected) - set(addresses))
        cause = "; ".join(filter(None, [f"not expected: {', '.join(extra)}" if extra else "",
                                        f"missing: {', '.join(missing)}" if missing else ""]))
    return Outcome.failed(f"{name} resolves in {spec.pod} to {shown}", expected=f"{', '.join(expected) or '(none)'} "
                          f"({what})", observed=shown, cause=cause, cause_generic=True)


def watches(spec: Resolves, lab_folder: Path) -> tuple[ApiKind, ...]:
    refs = (spec.to,) if spec.to is not None else ()
    return (*NETWORK_PATH, ("v1", "ConfigMap"), *{(r.apiVersion, r.kind) for r in refs})


KIND = CheckKind("resolves", ResolvesCheck, evaluate, default_timeout=15.0, parallel=True, watches=watches)
