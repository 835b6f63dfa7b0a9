"""The traefik add-on (clusters/addons/traefik/) and prepare.sh's traefik phase (toolchain/phase-traefik.sh).

The add-on is read as files and as `kubectl kustomize` renders it; its install is
run against kubectl answered in memory. The phase runs as prepare.sh sources it,
with prepare's helpers and the build scripts replaced by recorders, so the test
sees what it builds, what it takes from the cache and what it refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from labcheck.errors import ClusterUnavailable
from labcheck.loader import clusters_dir
from labcheck.toolchain import (addon_crds, addon_folder, addon_images, addon_load_balancers, addon_workloads,
                                crds_manifest)
from tests.conftest import REPO, prepare

STANDARD_CRDS = ["gatewayclasses", "gateways", "grpcroutes", "httproutes", "referencegrants", "backendtlspolicies"]


def versions() -> dict[str, str]:
    text = (clusters_dir() / "toolchain" / "versions.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((addon_folder("traefik") / name).read_text()) if d]


def one(kind: str) -> dict:
    [found] = [d for d in docs("traefik.yaml") if d["kind"] == kind]
    return found


def traefik_args() -> list[str]:
    return one("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]


def entry_point_ports() -> dict[str, int]:
    """entry point name -> the port its address listens on, from Traefik's arguments."""
    ports = {}
    for arg in traefik_args():
        if arg.startswith("--entryPoints.") and ".address=" in arg:
            name = arg.split(".")[1]
            ports[name] = int(arg.rsplit(":", 1)[1])
    return ports


# --- the add-on's files --------------------------------------------------------------------------

def test_kustomization_applies_the_crds_and_traefik():
    kustomization = yaml.safe_load((addon_folder("traefik") / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["gateway-api-crds.yaml", "traefik.yaml"]


def test_crds_are_the_standard_channel_at_the_pinned_gateway_api_version():
    crds = docs("gateway-api-crds.yaml")
    assert [d["kind"] for d in crds] == ["CustomResourceDefinition"] * len(crds)
    assert [d["metadata"]["name"] for d in crds] == [f"{n}.gateway.networking.k8s.io" for n in STANDARD_CRDS]
    for crd in crds:
        annotations = crd["metadata"]["annotations"]
        assert annotations["gateway.networking.k8s.io/bundle-version"] == versions()["GATEWAY_API_VERSION"]
        assert annotations["gateway.networking.k8s.io/channel"] == "standard"


def test_trimming_drops_prose_but_keeps_fields_named_description():
    gatewayclass = docs("gateway-api-crds.yaml")[0]
    served = next(v for v in gatewayclass["spec"]["versions"] if v["name"] == "v1")
    spec = served["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "description" not in served["schema"]["openAPIV3Schema"]  # the prose is gone
    # GatewayClass has a field called description: without its schema the API server would prune it
    assert spec["properties"]["description"] == {"maxLength": 64, "type": "string"}


def test_crds_file_is_what_the_generator_makes_from_the_module(tmp_path):
    module = (Path(os.environ.get("GOMODCACHE") or Path.home() / ".cache" / "netlabs" / "go" / "mod")
              / "sigs.k8s.io" / f"gateway-api@{versions()['GATEWAY_API_VERSION']}")
    if not (module / "config" / "crd" / "kustomization.yaml").is_file():
        pytest.skip(f"the Gateway API module is not in the Go module cache ({module}): "
                    "`bash clusters/prepare.sh` (phase traefik) or `go mod download sigs.k8s.io/gateway-api@<version>`")
    out = tmp_path / "crds.yaml"
    subprocess.run(["python3", str(clusters_dir() / "toolchain" / "trim-manifests.py"), "gateway-api", str(module),
                    str(out)], check=True)
    assert out.read_text() == (addon_folder("traefik") / "gateway-api-crds.yaml").read_text()


def test_deployment_runs_the_image_prepare_builds():
    manifests = (addon_folder("traefik") / "traefik.yaml").read_text()
    assert addon_images(manifests) == [f"traefik:{versions()['TRAEFIK_VERSION']}"]
    assert addon_workloads(manifests) == [("traefik", "deployment", "traefik")]
    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container, "args only: the official image's entrypoint prepends `traefik` to them"


def test_both_providers_are_on_and_only_the_traefik_class_is_served():
    args = traefik_args()
    assert {"--providers.kubernetesingress=true", "--providers.kubernetesgateway=true",
            "--providers.kubernetesingress.ingressClass=traefik", "--global.checkNewVersion=false"} <= set(args)
    ingress_class = one("IngressClass")
    assert ingress_class["metadata"]["name"] == "traefik"
    assert ingress_class["spec"]["controller"] == "traefik.io/ingress-controller"
    assert "ingressclass.kubernetes.io/is-default-class" not in (ingress_class["metadata"].get("annotations") or {})
    gateway_class = one("GatewayClass")
    assert gateway_class["metadata"]["name"] == "traefik"
    assert gateway_class["spec"]["controllerName"] == "traefik.io/gateway-controller"


def test_service_gets_an_address_and_reaches_the_web_and_websecure_entry_points():
    service = one("Service")
    assert service["spec"]["type"] == "LoadBalancer"
    assert addon_load_balancers((addon_folder("traefik") / "traefik.yaml").read_text()) == [("traefik", "traefik")]
    container = one("Deployment")["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    routes = {p["port"]: container_ports[p["targetPort"]] for p in service["spec"]["ports"]}
    # Gateway listeners bind to the entry point of the same port: 80 and 443, as documented in traefik.yaml
    assert routes == {80: entry_point_ports()["web"], 443: entry_point_ports()["websecure"]} == {80: 80, 443: 443}
    assert "--entryPoints.websecure.http.tls=true" in traefik_args()
    header = (addon_folder("traefik") / "traefik.yaml").read_text().split("\napiVersion", 1)[0]
    assert "port 80 (protocol HTTP) or 443" in header
    # without root: the sysctl lets a non-root process bind below 1024
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in pod["securityContext"]["sysctls"]


def test_status_addresses_come_from_the_service():
    args = traefik_args()
    assert "--providers.kubernetesingress.ingressEndpoint.publishedService=traefik/traefik" in args
    assert {"--providers.kubernetesgateway.statusAddress.service.name=traefik",
            "--providers.kubernetesgateway.statusAddress.service.namespace=traefik"} <= set(args)


def test_rbac_lets_traefik_read_routes_and_write_their_status():
    rules = one("ClusterRole")["rules"]
    granted = {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    for resource in ("ingresses", "ingressclasses"):
        assert ("networking.k8s.io", resource, "watch") in granted
    assert ("networking.k8s.io", "ingresses/status", "update") in granted
    for resource in ("gatewayclasses", "gateways", "httproutes", "referencegrants"):
        assert ("gateway.networking.k8s.io", resource, "watch") in granted
        assert ("gateway.networking.k8s.io", f"{resource}/status", "update") in granted
    for resource in ("services", "secrets", "nodes"):  # nodes: the Ingress provider waits for that cache
        assert ("", resource, "watch") in granted
    assert ("discovery.k8s.io", "endpointslices", "watch") in granted
    binding = one("ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "traefik", "namespace": "traefik"}]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_rendered_addon_yields_its_crds_apart_from_the_rest():
    rendered = subprocess.run(["kubectl", "kustomize", str(addon_folder("traefik"))],
                              capture_output=True, text=True, check=True).stdout
    assert sorted(addon_crds(rendered)) == sorted(f"{n}.gateway.networking.k8s.io" for n in STANDARD_CRDS)
    only_crds = json.loads(crds_manifest(rendered))["items"]
    assert [d["kind"] for d in only_crds] == ["CustomResourceDefinition"] * len(STANDARD_CRDS)
    assert addon_images(rendered) == [f"traefik:{versions()['TRAEFIK_VERSION']}"]


# --- installing it (kubectl answered in memory) ---------------------------------------------------

@pytest.fixture
def traefik_install(monkeypatch):
    """install_lab_addon("traefik") with kubectl faked; returns (install, calls, inputs, addresses)."""
    from labcheck import toolchain
    from labcheck.toolchain import Kind

    rendered = "\n---\n".join((addon_folder("traefik") / f).read_text() for f in ("gateway-api-crds.yaml",
                                                                                   "traefik.yaml"))
    calls, inputs, addresses = [], [], []
    monkeypatch.setattr("labcheck.actions.kubectl", lambda: "kubectl")

    def kubectl(args, what, timeout=120, input_text=None):
        calls.append(args)
        inputs.append(input_text)
        return subprocess.CompletedProcess(args, 0, rendered, "")

    monkeypatch.setattr(toolchain, "_kubectl", kubectl)
    monkeypatch.setattr(toolchain, "_workloads_ready", lambda *a: False)
    monkeypatch.setattr(toolchain, "_lb_address", lambda *a: addresses.pop(0) if addresses else None)
    monkeypatch.setattr(toolchain.time, "sleep", lambda s: None)
    monkeypatch.setattr(Kind, "load_image", lambda self, image, name: True)
    monkeypatch.setattr(toolchain, "read_toolchain", lambda: {"READY": "1"})

    def install() -> str:
        return Kind("kind", None).install_lab_addon("traefik", "netlabs-multi")

    return install, calls, inputs, addresses


def test_install_applies_crds_waits_for_them_then_the_rest_then_waits_for_the_address(traefik_install):
    install, calls, inputs, addresses = traefik_install
    addresses.extend([None, None, None, "172.18.255.239"])  # the ready check, then two polls without one
    assert "Installed add-on traefik" in install()
    steps = [next((w for w in ("kustomize", "apply", "wait", "rollout") if w in args), None) for args in calls]
    assert steps == ["kustomize", "apply", "wait", "apply", "rollout"]
    crd_apply, established, full_apply = calls[1], calls[2], calls[3]
    assert crd_apply[-2:] == ["-f", "-"] and "--server-side" in crd_apply
    assert [d["kind"] for d in json.loads(inputs[1])["items"]] == ["CustomResourceDefinition"] * len(STANDARD_CRDS)
    assert "--for=condition=Established" in established
    assert [a for a in established if a.startswith("crd/")] == [f"crd/{n}.gateway.networking.k8s.io"
                                                                for n in STANDARD_CRDS]
    assert full_apply[-2] == "-k" and full_apply[-1].endswith("addons/traefik")
    assert calls[4][-2:] == ["deployment/traefik", "--timeout=180s"]
    assert addresses == []  # it polled until the address came


def test_without_a_load_balancer_the_install_names_metallb(traefik_install, monkeypatch):
    from labcheck import toolchain

    install, _calls, _inputs, _addresses = traefik_install
    clock = iter(range(0, 10_000, 30))
    monkeypatch.setattr(toolchain.time, "monotonic", lambda: next(clock))
    with pytest.raises(ClusterUnavailable, match=r"traefik/traefik .* no LoadBalancer address in 60 s.*list metallb before traefik"):
        install()


def test_a_cluster_that_runs_it_with_an_address_is_left_alone(traefik_install, monkeypatch):
    from labcheck import toolchain

    install, calls, _inputs, addresses = traefik_install
    monkeypatch.setattr(toolchain, "_workloads_ready", lambda *a: True)
    addresses.append("172.18.255.239")
    assert install() == "Add-on traefik is ready in netlabs-multi."
    assert [args for args in calls if "apply" in args] == []


def test_start_installs_add_ons_in_the_order_the_lab_lists_them(monkeypatch, isolated_env, capsys):
    import labcheck.loader as loader
    import labcheck.session as session
    from tests.conftest import FakeCluster, FakeKind, call_main, namespace

    from labcheck import actions, toolchain

    lab = loader.find_lab("05").model_copy(update={"addons": ["metallb", "traefik"]})
    monkeypatch.setattr(loader, "find_lab", lambda ref: lab)
    kind = FakeKind(docker_images=set())
    installed = []
    kind.install_lab_addon = lambda addon, name: installed.append(addon) or f"Installed add-on {addon}."
    kind.clusters = lambda: ["netlabs-multi"]
    monkeypatch.setattr(toolchain.Kind, "find", classmethod(lambda cls: kind))
    for name in ("ensure_namespace", "set_default_namespace", "perform"):
        monkeypatch.setattr(actions, name, lambda *a, **k: [])
    cluster = FakeCluster([namespace("kube-system", "uid-1")])
    monkeypatch.setattr(session, "live_cluster", lambda lab, context: cluster)
    code, _out, err = call_main(capsys, "start", "05")
    assert code == 0, err
    assert installed == ["metallb", "traefik"]


# --- prepare.sh's traefik phase ------------------------------------------------------------------

HARNESS = r"""
set -euo pipefail
say() { echo "$*"; }
phase() { echo "phase $1"; }
phase_done() { echo "done: $1"; }
die() { echo "DIE: $*" >&2; exit 1; }
run() { local name=$1; shift; echo "run $name: $*" >> "$CALLS"; "$@" > /dev/null; }
restore_images() { [ -s "$1" ] && [ -s "$2" ]; }
record_images() { echo "record $*" >> "$CALLS"; echo x > "$1"; echo "$3 sha256:x" > "$2"; }
. "$TC/phase-traefik.sh"
echo "TRAEFIK_IMAGE=$TRAEFIK_IMAGE ids=$traefik_ids"
"""

FAKE_BUILD = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0")" in build-go-tool.sh) mkdir -p "$3" && : > "$3/traefik" ;; esac
"""


@pytest.fixture
def phase(tmp_path):
    """Run the phase with fake builders; returns (run, calls file, module go.mod, crds file)."""
    tc = tmp_path / "toolchain"
    tc.mkdir()
    shutil.copy(REPO / "clusters" / "toolchain" / "phase-traefik.sh", tc)
    for name in ("build-go-tool.sh", "build-static-image.sh"):
        (tc / name).write_text(FAKE_BUILD)
        (tc / name).chmod(0o755)
    repo = tmp_path / "repo"
    crds = repo / "clusters" / "addons" / "traefik" / "gateway-api-crds.yaml"
    crds.parent.mkdir(parents=True)
    crds.write_text((addon_folder("traefik") / "gateway-api-crds.yaml").read_text())
    pinned = versions()
    module = tmp_path / "gomod" / "github.com" / "traefik" / "traefik" / f"v3@{pinned['TRAEFIK_VERSION']}"
    module.mkdir(parents=True)
    (module / "go.mod").write_text(f"module github.com/traefik/traefik/v3\n\nrequire (\n"
                                   f"\tsigs.k8s.io/gateway-api {pinned['GATEWAY_API_VERSION']}\n)\n")
    (module / "LICENSE.md").write_text("MIT\n")
    cache = tmp_path / "cache"
    (cache / "images").mkdir(parents=True)
    calls = tmp_path / "calls"
    env = {"PATH": "/usr/bin:/bin", "TC": str(tc), "REPO": str(repo), "CACHE": str(cache), "IMAGES": str(cache / "images"),
           "GOMODCACHE": str(tmp_path / "gomod"), "CALLS": str(calls), "RECIPE_REVISION": "1",
           "TRAEFIK_VERSION": pinned["TRAEFIK_VERSION"], "GATEWAY_API_VERSION": pinned["GATEWAY_API_VERSION"]}

    def run(**extra) -> subprocess.CompletedProcess:
        calls.write_text("")
        return subprocess.run(["bash", "-c", HARNESS], env={**env, **extra}, capture_output=True, text=True,
                              timeout=60)

    return run, calls, module / "go.mod", crds


def test_cold_phase_builds_the_binary_and_the_image_under_the_published_name(phase):
    run, calls, _gomod, _crds = phase
    done = run()
    assert done.returncode == 0, done.stderr
    version = versions()["TRAEFIK_VERSION"]
    log = calls.read_text()
    assert f"build-go-tool.sh traefik {version}" in log and "nice -n 19" in log
    assert f"build-static-image.sh traefik:{version} /usr/local/bin/traefik" in log
    assert "record " in log and f" traefik:{version}" in log
    assert f"TRAEFIK_IMAGE=traefik:{version}" in done.stdout and "built binary, built image" in done.stdout


def test_warm_phase_builds_nothing(phase):
    run, calls, _gomod, _crds = phase
    assert run().returncode == 0
    done = run()
    assert done.returncode == 0, done.stderr
    assert calls.read_text() == "" and "cached binary, cached image" in done.stdout


def test_phase_refuses_crds_of_another_version_than_traefik_requires(phase):
    run, calls, gomod, crds = phase
    gomod.write_text(gomod.read_text().replace(versions()["GATEWAY_API_VERSION"], "v1.9.9"))
    done = run()
    assert done.returncode == 1
    assert "requires sigs.k8s.io/gateway-api v1.9.9" in done.stderr and "GATEWAY_API_VERSION=" in done.stderr
    assert "build-static-image.sh" not in calls.read_text()


def test_phase_refuses_a_crds_file_of_another_version(phase):
    run, _calls, _gomod, crds = phase
    crds.write_text(crds.read_text().replace(f"bundle-version: {versions()['GATEWAY_API_VERSION']}",
                                             "bundle-version: v0.0.1"))
    done = run()
    assert done.returncode == 1 and "regenerate it with toolchain/trim-manifests.py" in done.stderr


def test_prepare_runs_the_phase_after_metallb_and_records_the_image():
    text = (REPO / "clusters" / "prepare.sh").read_text()
    assert text.index("phase metallb") < text.index('. "$TC/phase-traefik.sh"') < text.index("phase env")
    assert 'images_present "$traefik_ids"' in text and "TRAEFIK_IMAGE=$TRAEFIK_IMAGE" in text


def test_a_registry_machine_builds_no_traefik(machine):
    """Phase 0 finds kind working the normal way: the nodes will pull the published traefik image."""
    env, home = machine
    done = prepare(env, REGISTRY_UP="1", NETLABS_PREPARE="registry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "phase traefik" not in done.stdout and "TRAEFIK_IMAGE" not in (home / "cache" / "toolchain.env").read_text()
