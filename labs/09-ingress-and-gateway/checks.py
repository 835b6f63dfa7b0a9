"""Python checks of lab 09: what a route's status says, and a weighted split told apart by counting."""

from __future__ import annotations

import math
import shlex

from labcheck.lab import CheckContext, Outcome, TargetUnavailable, commands, objects, register



@register(watches=(("gateway.networking.k8s.io/v1", "HTTPRoute"), ("gateway.networking.k8s.io/v1", "Gateway"),
                   ("v1", "Service")))
def route_accepted(ctx: CheckContext, route: str) -> Outcome:
    """Every parent of the HTTPRoute says Accepted and ResolvedRefs True; else its own reason."""
    found = ctx.get("HTTPRoute", route, "gateway.networking.k8s.io/v1")
    if found is None:
        raise TargetUnavailable(f"HTTPRoute {route} does not exist in namespace {ctx.namespace}",
                                cause="apply the routes' manifest", final=True)
    parents = found.get("status", {}).get("parents") or []
    if not parents:
        return Outcome.failed(f"HTTPRoute {route} has no status from any Gateway yet",
                              cause="no Gateway has taken it up yet: do its parentRefs name lab-gateway?")
    problems = []
    for parent in parents:
        ref = parent.get("parentRef") or {}
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        for wanted in ("Accepted", "ResolvedRefs"):
            condition = conditions.get(wanted) or {}
            if condition.get("status") != "True":
                problems.append(f"{wanted}={condition.get('status', 'missing')} for Gateway {ref.get('name')}"
                                f"{'/' + ref['sectionName'] if ref.get('sectionName') else ''}: "
                                f"{condition.get('reason', '')} ({condition.get('message', '').strip()})")
    if not problems:
        return Outcome.passed(f"HTTPRoute {route} is accepted and its backends resolve")
    reason = problems[0]
    if "NoMatchingParent" in reason:
        cause = ("the Gateway has no listener the route names (sectionName): `kubectl get gateway lab-gateway "
                 "-o yaml` lists its listeners by name")
    elif "BackendNotFound" in reason or "RefNotPermitted" in reason:
        cause = "a backendRef names a Service (and port) that does not exist in the route's namespace"
    else:
        cause = "the Gateway said why in the condition's reason and message"
    return Outcome.failed(f"HTTPRoute {route} is not taken up: {'; '.join(problems)}", cause=cause, final=True)


def _acceptable(requests: int, share: float, rival: float, error: float = 1e-6) -> tuple[int, int, float]:
    """The counts of the minority backend that a split of `share` gives, except with probability
    below `error` on each side, and the chance that a `rival` split lands among them too."""
    def cdf(k: int, p: float) -> float:
        return sum(math.comb(requests, i) * p ** i * (1 - p) ** (requests - i) for i in range(0, k + 1))

    low = next(k for k in range(requests + 1) if cdf(k, share) > error / 2)
    high = next(k for k in range(requests + 1) if 1 - cdf(k, share) < error / 2)
    return low, high, cdf(high, rival) - (cdf(low - 1, rival) if low else 0.0)


@register(needs=("host",), watches=(("gateway.networking.k8s.io/v1", "HTTPRoute"),))
def split_is(ctx: CheckContext, host: str, gateway: str, requests: int, share: float) -> Outcome:
    """`requests` requests for `host` through the Gateway's address: the share answered by green
    must be `share` (e.g. 0.1), told from an even split by a binomial bound, not a tolerance."""
    found = ctx.get("Gateway", gateway, "gateway.networking.k8s.io/v1")
    addresses = objects.field_values(found or {}, "status.addresses[0].value")
    if not addresses:
        raise TargetUnavailable(f"Gateway {gateway} has no address yet", cause="see the previous step")
    low, high, even_lands = _acceptable(requests, share, 0.5)
    url = f"http://{host}/"
    loop = (f"i=0; while [ $i -lt {requests} ]; do "
            f"curl -s -m 3 --connect-to {shlex.quote(f'{host}:80:{addresses[0]}:80')} {shlex.quote(url)} "
            f"| head -c 12; echo; i=$((i+1)); done")
    result = ctx.exec_on_host(["sh", "-c", loop], timeout=requests * 0.5 + 30)
    if commands.command_missing(result):
        raise TargetUnavailable("curl is not on this machine: it is needed to send the requests", final=True)
    lines = result.stdout.splitlines()
    green = sum(1 for line in lines if line.startswith("green app"))
    blue = sum(1 for line in lines if line.startswith("blue app"))
    observed = f"blue {blue}, green {green}, other {len(lines) - blue - green} of {requests}"
    if blue + green < requests * 0.9:
        return Outcome.failed(f"only {blue + green} of {requests} requests reached an app", observed=observed,
                              cause="the route does not send every request to blue or green: is it accepted?")
    if low <= green <= high:
        return Outcome.passed(f"green answered {green} of {requests}: a {share:.0%} share "
                              f"(accepted {low}-{high}; an even split lands there with a chance of "
                              f"{even_lands:.0e})",
                              observed=observed)
    return Outcome.failed(
        f"green answered {green} of {requests}: not a {round((1 - share) * 100)}/{round(share * 100)} split",
        expected=f"green between {low} and {high} of {requests} (a wrong verdict has a chance below 1e-6)",
        observed=observed,
        cause=f"the weights of the route's backendRefs decide the split: blue {round((1 - share) * 100)}, "
              f"green {round(share * 100)}", final=True)


@register(watches=(("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "IngressClass")))
def ingress_served(ctx: CheckContext, ingress: str) -> Outcome:
    """A controller serves the Ingress (its address is in the Ingress's status); if none does,
    which class it asks for against the classes the cluster has."""
    found = ctx.get("Ingress", ingress, "networking.k8s.io/v1")
    if found is None:
        raise TargetUnavailable(f"Ingress {ingress} does not exist in namespace {ctx.namespace}",
                                cause="apply the Ingress's manifest", final=True)
    addresses = objects.field_values(found, "status.loadBalancer.ingress[*].ip")
    if addresses:
        return Outcome.passed(f"Ingress {ingress} is served on {', '.join(addresses)}")
    classes = ctx.list("IngressClass", "networking.k8s.io/v1")
    default = [objects.name_of(c) for c in classes
               if (c["metadata"].get("annotations") or {}).get("ingressclass.kubernetes.io/is-default-class") == "true"]
    shown = ", ".join(f"{objects.name_of(c)} ({c.get('spec', {}).get('controller')})" for c in classes) or "none"
    asked = found.get("spec", {}).get("ingressClassName")
    if not asked and not default:
        cause = (f"the Ingress names no class, and no IngressClass here is the default, so no controller serves it: "
                 f"set ingressClassName to one of the classes the cluster has: {shown}")
        return Outcome.failed(f"no controller serves Ingress {ingress}", observed=f"ingressClassName unset; {shown}",
                              cause=cause, final=True)
    if asked and asked not in [objects.name_of(c) for c in classes]:
        return Outcome.failed(f"Ingress {ingress} asks for class {asked!r}, which does not exist", final=True,
                              observed=f"classes: {shown}", cause=f"ingressClassName must name a class: {shown}")
    return Outcome.failed(f"Ingress {ingress} has no address yet", observed=f"class {asked or default[0]}",
                          cause="its controller writes the address into the status within seconds: check again")
