"""Python checks of lab 10: what the declarative kinds cannot say."""

from __future__ import annotations

import shlex

from labcheck.lab import CheckContext, Outcome, objects, register


@register
def pod_record_answer(ctx: CheckContext, pod: str, answer: str, key: str) -> Outcome:
    """The recorded name is the Pod record of `pod`'s IP (a-b-c-d.<namespace>.pod.cluster.local),
    and looking it up from that Pod gives its IP back."""
    found = objects.pod(ctx, pod, running=True)
    ip = found.get("status", {}).get("podIP") or ""
    expected = f"{ip.replace('.', '-')}.{ctx.namespace}.pod.cluster.local"
    recorded = objects.answer(ctx, answer, key)
    if not objects.same_value(recorded, expected):
        named = "a Pod's name" if recorded.split(".")[0] == pod else "that"
        return Outcome.failed(
            f"you recorded {recorded!r}, not the Pod record of {pod}'s IP {ip}",
            expected=f"{key}={expected}", observed=f"{key}={recorded}",
            cause=f"{named} is not how Pod records are named: a Pod's record is its IP with the dots turned into "
                  "dashes, then <namespace>.pod.cluster.local", final=True)
    lookup = ctx.exec(pod, None, ["sh", "-c", f"dig +short {shlex.quote(recorded)}"])
    if ip not in lookup.stdout.split():
        return Outcome.failed(f"{recorded} does not resolve to {ip} from {pod}", observed=lookup.stdout.strip()[:200],
                              cause="CoreDNS answers Pod records with `pods insecure` in its kubernetes plugin: "
                                    "is that line still in the Corefile?")
    return Outcome.passed(f"{recorded} resolves to {pod}'s IP {ip}")
