"""Checks of challenge 05-front-door-silent: the shop answers from outside at its external address,
and that address is the one customers were given, asked for by the Service (not whatever MetalLB
has free)."""

from __future__ import annotations

import ipaddress

from labcheck.lab import (CheckContext, Outcome, TargetUnavailable, http_answer, http_command, interpret, objects,
                          register)

METALLB_NAMESPACE = "metallb-system"
REQUESTED_IP_ANNOTATIONS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")
REQUEST_SECONDS = 4


def _requested(svc: dict) -> list[str]:
    """The addresses a LoadBalancer Service asks MetalLB for (annotation, or the older spec field)."""
    annotations = svc["metadata"].get("annotations") or {}
    asked = [ip.strip() for key in REQUESTED_IP_ANNOTATIONS for ip in (annotations.get(key) or "").split(",")
             if ip.strip()]
    spec_ip = svc.get("spec", {}).get("loadBalancerIP")
    return list(dict.fromkeys(asked + ([spec_ip] if spec_ip else [])))


def _external(svc: dict) -> list[str]:
    return [e["ip"] for e in svc.get("status", {}).get("loadBalancer", {}).get("ingress") or [] if e.get("ip")]


def _in_a_pool(pools: list[dict], address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for pool in pools:
        for first, _, last in (entry.partition("-") for entry in pool.get("spec", {}).get("addresses") or []):
            network = ipaddress.ip_network(first.strip(), strict=False)
            high = ipaddress.ip_address(last.strip()) if last else network[-1]
            if network[0].version == ip.version and network[0] <= ip <= high:
                return True
    return False


@register(needs=("host",))
def answers_from_outside(ctx: CheckContext, service: str, contains: str) -> Outcome:
    """A GET from this machine to the Service's external address and port reaches the app."""
    svc = objects.service(ctx, service)
    addresses = _external(svc)
    if not addresses:
        pools = ctx.list("IPAddressPool", "metallb.io/v1beta1", namespace=METALLB_NAMESPACE)
        # Waiting cannot help a Service that asks for an address no pool holds; the message leaves the finding to you.
        hopeless = any(not _in_a_pool(pools, ip) for ip in _requested(svc))
        return Outcome.failed(f"Service {service} has no external address (EXTERNAL-IP <pending>)",
                              expected="an address from MetalLB", observed="status.loadBalancer is empty",
                              cause=f"MetalLB has not given it one: `kubectl describe service {service}` shows "
                                    "MetalLB's events about it", final=hopeless)
    port = (svc["spec"].get("ports") or [{}])[0].get("port", 80)
    url = f"http://{addresses[0]}/" if port == 80 else f"http://{addresses[0]}:{port}/"
    result = ctx.exec_on_host(http_command(url, REQUEST_SECONDS + 1), timeout=REQUEST_SECONDS + 2)
    answer = http_answer(result)
    if answer.status == 200 and contains in answer.body:
        return Outcome.passed(f"GET {url} from this machine was answered: {answer.body.strip()[:80]}")
    seen = f"HTTP {answer.status}, not the app's page" if answer.status else interpret(result) or "no answer"
    return Outcome.failed(f"GET {url} from this machine was not answered by the app", observed=seen,
                          expected=f"HTTP 200 with {contains!r}",
                          cause="MetalLB's speaker announces an address a moment after assigning it, and kube-proxy "
                                "needs a moment for its rules: check again")


@register
def keeps_published_address(ctx: CheckContext, service: str, configmap: str, key: str) -> Outcome:
    """The Service asks MetalLB for the address recorded in the ConfigMap, and has it."""
    recorded = (ctx.get("ConfigMap", configmap) or {}).get("data") or {}
    if not recorded.get(key):
        raise TargetUnavailable(f"ConfigMap {configmap} has no {key}", final=True,
                                cause=f"ConfigMap {configmap} is part of the app (the address customers were "
                                      "given): keep it")
    published = recorded[key].strip()
    svc = objects.service(ctx, service)
    requested, has = _requested(svc), _external(svc)
    expected = f"Service {service} asks for {published} (annotation {REQUESTED_IP_ANNOTATIONS[0]}) and has it"
    if not requested:
        now = (f"MetalLB happened to give it {published} again, but nothing keeps it there" if published in has
               else f"it has {', '.join(has) or 'none'} now, but customers were given {published}")
        return Outcome.failed(
            f"Service {service} asks for no particular address: {now}", expected=expected,
            observed="no address asked for", final=True,
            cause="an address MetalLB picks is whichever is free when the Service is made or changed, and the next "
                  f"change may move it; the one customers' DNS record points at must be asked for: annotation "
                  f"{REQUESTED_IP_ANNOTATIONS[0]}: {published}")
    if requested != [published]:
        return Outcome.failed(
            f"Service {service} asks for {', '.join(requested)}, not {published}, the address customers were given",
            expected=expected, observed=f"asks for {', '.join(requested)}", final=True,
            cause=f"ConfigMap {configmap} holds the address customers' DNS record points at")
    if published not in has:
        return Outcome.failed(f"Service {service} asks for {published} but has {', '.join(has) or 'no address'}",
                              expected=expected, observed=f"has {', '.join(has) or 'none'}",
                              cause="MetalLB assigns a requested address within a second or two: check again")
    return Outcome.passed(f"Service {service} asks for {published}, the address customers were given, and has it")
