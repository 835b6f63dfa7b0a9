"""Traefik, the lab add-on for Ingress and the Gateway API, on a copy of clusters/multi-node.yaml: MetalLB
and Traefik installed as `labcheck start` installs them for a lab listing `addons: [metallb, traefik]`,
then proven from the host through Traefik's LoadBalancer address: an Ingress routes by Host header, an
unknown host and an Ingress without the (non-default) class get Traefik's own 404, TLS by SNI serves the
Secret's certificate, a Gateway with HTTP and HTTPS listeners accepts HTTPRoutes (status conditions) and
routes them, a route to a listener that does not exist is refused, and backendRefs weights are honoured.

The copy has its own cluster name and no host ports, so it runs beside the shared clusters."""

from __future__ import annotations

import json
import math
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from labcheck.toolchain import Kind, cluster_addons
from labcheck.loader import clusters_dir
from tests.e2e.cluster_apps import copy_of_config, require_prepared_images, run

NAME = "netlabs-traefik"
NAMESPACE = "traefik-test"
CANARY_WEIGHTS = {"blue": 80, "green": 20}
REQUESTS = 200

APPS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: COLOR}
spec:
  replicas: 1
  selector: {matchLabels: {app: COLOR}}
  template:
    metadata: {labels: {app: COLOR}}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        command: ["sh", "-c", "mkdir -p /www && echo COLOR > /www/index.html && httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: COLOR}
spec:
  selector: {app: COLOR}
  ports: [{port: 80, targetPort: 8080}]
"""

INGRESSES = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: by-host}
spec:
  ingressClassName: traefik
  tls: [{hosts: [secure.lab.test], secretName: secure-tls}]
  rules:
  - host: blue.lab.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: blue, port: {number: 80}}}}]}
  - host: green.lab.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 80}}}}]}
  - host: secure.lab.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: green, port: {number: 80}}}}]}
---
# no ingressClassName, and traefik is not the default class: nobody serves it
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: classless}
spec:
  rules:
  - host: classless.lab.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: blue, port: {number: 80}}}}]}
"""

GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: traefik
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - name: https
    protocol: HTTPS
    port: 443
    tls: {mode: Terminate, certificateRefs: [{name: gateway-tls}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: blue}
spec:
  parentRefs: [{name: web}]
  hostnames: [blue.gw.test]
  rules: [{backendRefs: [{name: blue, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: canary}
spec:
  parentRefs: [{name: web, sectionName: http}]
  hostnames: [canary.gw.test]
  rules: [{backendRefs: [{name: blue, port: 80, weight: BLUE_WEIGHT}, {name: green, port: 80, weight: GREEN_WEIGHT}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: wrong-listener}
spec:
  parentRefs: [{name: web, sectionName: no-such-listener}]
  hostnames: [wrong.gw.test]
  rules: [{backendRefs: [{name: blue, port: 80}]}]
"""


@pytest.fixture(scope="module")
def addon_images(toolchain):
    """The MetalLB and Traefik images prepare.sh builds; loud when they are missing."""
    require_prepared_images(toolchain, {"METALLB_IMAGES": "metallb", "TRAEFIK_IMAGE": "traefik"})


def certificate(folder, host: str) -> tuple[str, str]:
    """A self-signed certificate for <host> made with openssl, as a learner makes one: (cert.pem, key.pem)."""
    cert, key = folder / f"{host}.crt", folder / f"{host}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={host}",
                    "-addext", f"subjectAltName=DNS:{host}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def lab_cluster(toolchain, addon_images, e2e_env, cleanup_clusters, tmp_path_factory):
    """netlabs-traefik with kube-router, MetalLB and Traefik, the apps, the Ingresses and the Gateway applied.

    Yields (kubectl, env, Traefik's address, certificates by host)."""
    folder = tmp_path_factory.mktemp("traefik")
    config = copy_of_config("multi-node", NAME, folder)
    kind = Kind(toolchain["KIND"], toolchain["NODE_IMAGE"])
    kubectl = ["kubectl", "--context", f"kind-{NAME}"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", e2e_env["KUBECONFIG"])
        run([kind.binary, "delete", "cluster", "--name", NAME], e2e_env, check=False)
        started = time.monotonic()
        kind.create(config, NAME, addons=cluster_addons(clusters_dir() / "multi-node.yaml"))
        print(f"\n{NAME} created (3 nodes, kube-router) in {time.monotonic() - started:.0f} s")
        for addon in ("metallb", "traefik"):  # as `labcheck start` does for `addons: [metallb, traefik]`
            started = time.monotonic()
            print(kind.install_lab_addon(addon, NAME), f"(wall {time.monotonic() - started:.0f} s)")
        started = time.monotonic()
        again = kind.install_lab_addon("traefik", NAME)
        assert again == f"Add-on traefik is ready in {NAME}.", again
        print(f"second install of traefik: {again} ({time.monotonic() - started:.1f} s)")
    run([kind.binary, "load", "docker-image", "busybox:1.36", "--name", NAME], e2e_env, timeout=600)
    ns = kubectl + ["-n", NAMESPACE]
    run(kubectl + ["create", "namespace", NAMESPACE], e2e_env)
    certs = {host: certificate(folder, host) for host in ("secure.lab.test", "secure.gw.test")}
    for secret, host in (("secure-tls", "secure.lab.test"), ("gateway-tls", "secure.gw.test")):
        cert, key = certs[host]
        run(ns + ["create", "secret", "tls", secret, f"--cert={cert}", f"--key={key}"], e2e_env)
    apps = "---".join(APPS.replace("COLOR", color) for color in CANARY_WEIGHTS)
    gateway = GATEWAY.replace("BLUE_WEIGHT", str(CANARY_WEIGHTS["blue"])).replace(
        "GREEN_WEIGHT", str(CANARY_WEIGHTS["green"]))
    run(ns + ["apply", "-f", "-"], e2e_env, input_text=apps + "---" + INGRESSES + "---" + gateway)
    for color in CANARY_WEIGHTS:
        run(ns + ["rollout", "status", f"deployment/{color}", "--timeout=180s"], e2e_env)
    service = json.loads(run(kubectl + ["-n", "traefik", "get", "service", "traefik", "-o", "json"], e2e_env).stdout)
    address = service["status"]["loadBalancer"]["ingress"][0]["ip"]
    yield kubectl, e2e_env, address, certs
    run([kind.binary, "delete", "cluster", "--name", NAME], e2e_env, check=False)


def get(address: str, host: str, path: str = "/") -> tuple[int, str]:
    """An HTTP request from the host to Traefik's address with the given Host header: (status, body)."""
    request = urllib.request.Request(f"http://{address}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def eventually(probe, expected, seconds: float = 60):
    """probe() until it returns expected (Traefik picks up new objects within seconds); the last answer."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            got = probe()
        except (OSError, ssl.SSLError) as error:
            got = error
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(1)


def served_certificate(address: str, sni: str) -> bytes:
    """The DER certificate Traefik presents on port 443 for the SNI name (unverified: we compare it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, 443), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=sni) as tls:
            return tls.getpeercert(binary_form=True)


def https_get(address: str, host: str, ca_file: str) -> tuple[int, str]:
    """GET https://<host>/ at Traefik's address, verifying the chain against ca_file and the name."""
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection((address, 443), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := tls.recv(4096):
                answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def der(pem_file: str) -> bytes:
    with open(pem_file, encoding="ascii") as handle:
        return ssl.PEM_cert_to_DER_cert(handle.read())


def conditions(kubectl, env, kind: str, name: str) -> dict[str, tuple[str, str]]:
    """type -> (status, reason) of a Gateway's conditions or of an HTTPRoute's first parent's."""
    obj = json.loads(run(kubectl + ["-n", NAMESPACE, "get", kind, name, "-o", "json"], env).stdout)
    status = obj.get("status") or {}
    found = status.get("conditions") if kind == "gateway" else ((status.get("parents") or [{}])[0].get("conditions"))
    return {c["type"]: (c["status"], c["reason"]) for c in found or []}


def test_traefik_has_a_metallb_address_and_publishes_it_in_ingress_status(lab_cluster):
    kubectl, env, address, _certs = lab_cluster
    assert address.count(".") == 3
    published = eventually(lambda: json.loads(run(kubectl + ["-n", NAMESPACE, "get", "ingress", "by-host", "-o", "json"],
                                                  env).stdout)["status"].get("loadBalancer", {}).get("ingress"),
                           [{"ip": address}])
    assert published == [{"ip": address}]


def test_ingress_routes_by_host_header(lab_cluster):
    _kubectl, _env, address, _certs = lab_cluster
    for color in CANARY_WEIGHTS:
        assert eventually(lambda: get(address, f"{color}.lab.test"), (200, f"{color}\n")) == (200, f"{color}\n")
        assert get(address, f"{color}.lab.test", "/any/path")[0] == 404  # the app's own 404: Traefik routed it
    assert get(address, "blue.lab.test", "/any/path")[1] != "404 page not found\n"


def test_unknown_host_and_classless_ingress_get_traefiks_404(lab_cluster):
    _kubectl, _env, address, _certs = lab_cluster
    assert eventually(lambda: get(address, "blue.lab.test"), (200, "blue\n")) == (200, "blue\n")  # routes are loaded
    assert get(address, "nobody.lab.test") == (404, "404 page not found\n")
    assert get(address, "classless.lab.test") == (404, "404 page not found\n"), \
        "an Ingress without ingressClassName must not be served: traefik is not the default class"


def test_tls_by_sni_serves_the_secrets_certificate(lab_cluster):
    _kubectl, _env, address, certs = lab_cluster
    cert, _key = certs["secure.lab.test"]
    assert eventually(lambda: served_certificate(address, "secure.lab.test"), der(cert)) == der(cert)
    assert https_get(address, "secure.lab.test", cert) == (200, "green\n")  # chain and name verified
    assert served_certificate(address, "other.lab.test") != der(cert), "another SNI name gets Traefik's default"
    assert get(address, "secure.lab.test") == (200, "green\n"), "plain HTTP on port 80 is served too (no redirect)"


def test_gateway_and_httproute_are_accepted_resolved_and_route(lab_cluster):
    kubectl, env, address, certs = lab_cluster
    gateway = eventually(lambda: {t: s for t, (s, _r) in conditions(kubectl, env, "gateway", "web").items()},
                         {"Accepted": "True", "Programmed": "True"})
    assert gateway == {"Accepted": "True", "Programmed": "True"}
    addresses = json.loads(run(kubectl + ["-n", NAMESPACE, "get", "gateway", "web", "-o", "json"], env).stdout)
    assert [a["value"] for a in addresses["status"]["addresses"]] == [address]
    for route in ("blue", "canary"):
        got = eventually(lambda: conditions(kubectl, env, "httproute", route),
                         {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")})
        assert got == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}, route
    assert eventually(lambda: get(address, "blue.gw.test"), (200, "blue\n")) == (200, "blue\n")
    # the route names no listener, so it is attached to the HTTPS one too, with the Gateway's certificate
    cert, _key = certs["secure.gw.test"]
    assert served_certificate(address, "secure.gw.test") == der(cert)
    assert get(address, "unrouted.gw.test") == (404, "404 page not found\n")


def test_route_to_a_listener_that_does_not_exist_is_not_accepted(lab_cluster):
    kubectl, env, address, _certs = lab_cluster
    got = eventually(lambda: conditions(kubectl, env, "httproute", "wrong-listener").get("Accepted"),
                     ("False", "NoMatchingParent"))
    assert got == ("False", "NoMatchingParent")
    assert get(address, "wrong.gw.test") == (404, "404 page not found\n")


def binomial_interval(n: int, p: float, tail: float) -> tuple[int, int]:
    """The smallest lo and largest hi with P(X < lo) <= tail and P(X > hi) <= tail, X ~ Binomial(n, p)."""
    pmf = [math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo = next(k for k in range(n + 1) if sum(pmf[:k + 1]) > tail)
    hi = next(k for k in range(n, -1, -1) if sum(pmf[k:]) > tail)
    return lo, hi


def test_backend_weights_are_honoured(lab_cluster):
    _kubectl, _env, address, _certs = lab_cluster
    assert eventually(lambda: get(address, "canary.gw.test")[0], 200) == 200
    share = CANARY_WEIGHTS["green"] / sum(CANARY_WEIGHTS.values())
    # a wrong result (in range though the weights are 80/20) has probability <= 2e-6
    lo, hi = binomial_interval(REQUESTS, share, 1e-6)
    # and a 50/50 split lands in that range with probability < 1e-4: the test tells them apart
    assert sum(math.comb(REQUESTS, k) * 0.5 ** REQUESTS for k in range(lo, hi + 1)) < 1e-4
    answers = [get(address, "canary.gw.test") for _ in range(REQUESTS)]
    assert {status for status, _body in answers} == {200}
    green = sum(body == "green\n" for _status, body in answers)
    assert sum(body == "blue\n" for _status, body in answers) + green == REQUESTS
    print(f"canary 80/20: {green}/{REQUESTS} to green (accepted {lo}-{hi})")
    assert lo <= green <= hi, f"{green} of {REQUESTS} requests reached green; weights 80/20 put {lo}-{hi} there"
