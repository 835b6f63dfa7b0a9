"""Cluster add-ons: which kind configs get a CNI installed after create, and which images it needs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from labcheck.loader import clusters_dir
from labcheck.toolchain import addon_images, cluster_addons, cluster_config


def test_every_lab_cluster_runs_kube_router_instead_of_the_default_cni():
    for stem, name in (("single-node", "netlabs"), ("multi-node", "netlabs-multi")):
        config = clusters_dir() / f"{stem}.yaml"
        assert cluster_addons(config) == clusters_dir() / f"{stem}.addons"
        assert cluster_config(stem)[1] == name
        spec = yaml.safe_load(config.read_text())
        assert spec["networking"]["disableDefaultCNI"] is True
        assert spec["networking"]["kubeProxyMode"] == "iptables"
        kustomization = yaml.safe_load((clusters_dir() / f"{stem}.addons" / "kustomization.yaml").read_text())
        assert kustomization["resources"] == ["../kube-router"]


def test_lab_clusters_publish_distinct_host_ports_on_loopback():
    published = {}
    for stem in ("single-node", "multi-node"):
        spec = yaml.safe_load((clusters_dir() / f"{stem}.yaml").read_text())
        for node in spec["nodes"]:
            for mapping in node.get("extraPortMappings") or []:
                assert mapping["listenAddress"] == "127.0.0.1"
                assert mapping["hostPort"] not in published, "both clusters must run side by side"
                published[mapping["hostPort"]] = stem
    # lab 05 reaches a NodePort of the three-node cluster; labs 06 and 07 of the single-node one
    assert published == {30080: "multi-node", 30081: "single-node", 30082: "single-node"}


def test_addon_images_reads_containers_and_init_containers_once():
    manifests = """
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d}
spec:
  template:
    spec:
      initContainers: [{name: i, image: a:1}]
      containers: [{name: c, image: a:1}, {name: s, image: b:2}]
"""
    assert addon_images(manifests) == ["a:1", "b:2"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kube_router_addon_renders_with_the_published_image_name():
    rendered = subprocess.run(["kubectl", "kustomize", str(clusters_dir() / "single-node.addons")],
                              capture_output=True, text=True, check=True).stdout
    pinned = dict(line.split("=", 1) for line in (clusters_dir() / "toolchain" / "versions.env").read_text().splitlines()
                  if "=" in line and not line.startswith("#"))["KUBE_ROUTER_VERSION"]
    # prepare.sh builds exactly this name; with a registry the published image is pulled
    assert addon_images(rendered) == [f"docker.io/cloudnativelabs/kube-router:{pinned}"]
    daemonset = next(d for d in yaml.safe_load_all(rendered) if d["kind"] == "DaemonSet")
    args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--run-router=true", "--run-firewall=true", "--run-service-proxy=false",
            "--enable-overlay=false"} <= set(args)


# --- lab add-ons (clusters/addons/<name>/, installed by `labcheck start` for labs that list them) ---

from labcheck.errors import ClusterUnavailable  # noqa: E402
from labcheck.loader import all_labs  # noqa: E402
from labcheck.toolchain import (addon_folder, addon_load_balancers, addon_workloads,  # noqa: E402
                                metallb_pool_manifest, pool_range)


def kind_network(subnet: str, *addresses: str) -> dict:
    return {"Name": "kind", "IPAM": {"Config": [{"Subnet": "fc00:f853:ccd:e793::/64"}, {"Subnet": subnet}]},
            "Containers": {str(i): {"IPv4Address": f"{a}/16"} for i, a in enumerate(addresses)}}


def test_every_add_on_a_lab_names_exists():
    for lab in all_labs():
        for addon in lab.addons:
            assert (addon_folder(addon) / "kustomization.yaml").is_file()
    assert any("metallb" in lab.addons for lab in all_labs())


def addon_balancers(addon: str) -> list[tuple[str, str]]:
    """The LoadBalancer Services an add-on's own files hold (read as files: no kubectl needed)."""
    return [service for path in sorted(addon_folder(addon).glob("*.yaml")) if path.name != "kustomization.yaml"
            for service in addon_load_balancers(path.read_text())]


def test_exactly_the_labs_that_make_loadbalancer_services_install_metallb():
    for lab in all_labs():
        services = [doc for path in sorted(lab.folder.glob("**/*.yaml")) if path.name != "lab.yaml"
                    for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
        balanced = any(d.get("kind") == "Service" and (d.get("spec") or {}).get("type") == "LoadBalancer"
                       for d in services)
        # an add-on of the lab may bring one too (traefik's Service): that needs MetalLB as well
        balanced = balanced or any(addon_balancers(addon) for addon in lab.addons if addon != "metallb")
        assert ("metallb" in lab.addons) == balanced, lab.id


def test_add_ons_with_loadbalancer_services_come_after_metallb():
    assert addon_balancers("traefik") == [("traefik", "traefik")] and addon_balancers("metallb") == []
    for lab in all_labs():
        for position, addon in enumerate(lab.addons):
            if addon != "metallb" and addon_balancers(addon):
                # add-ons install in the listed order, and an address needs MetalLB running
                assert "metallb" in lab.addons[:position], f"lab {lab.id}: list metallb before {addon}"


def test_pool_is_at_the_top_of_the_ipv4_subnet_and_clear_of_the_nodes():
    assert pool_range(kind_network("172.18.0.0/16", "172.18.0.2", "172.18.0.3")) == "172.18.255.239-172.18.255.254"
    assert pool_range(kind_network("192.168.200.0/24")) == "192.168.200.239-192.168.200.254"


@pytest.mark.parametrize("network, message", [
    (kind_network("172.18.0.0/16", "172.18.255.250"), "in use"),
    (kind_network("172.18.0.0/28"), "too small"),
    ({"Name": "kind", "IPAM": {"Config": [{"Subnet": "fc00::/64"}]}}, "no IPv4 subnet"),
])
def test_pool_refuses_networks_it_cannot_carve(network, message):
    with pytest.raises(ClusterUnavailable, match=message):
        pool_range(network)


def test_pool_manifest_announces_the_pool_in_l2_mode():
    pool, advertisement = yaml.safe_load_all(metallb_pool_manifest("172.18.255.239-172.18.255.254"))
    assert pool["kind"] == "IPAddressPool" and pool["spec"]["addresses"] == ["172.18.255.239-172.18.255.254"]
    assert advertisement["kind"] == "L2Advertisement"
    assert advertisement["spec"]["ipAddressPools"] == [pool["metadata"]["name"]]
    assert pool["metadata"]["namespace"] == advertisement["metadata"]["namespace"] == "metallb-system"


def test_metallb_manifest_runs_the_release_prepare_builds():
    versions = dict(line.split("=", 1) for line in (clusters_dir() / "toolchain" / "versions.env").read_text()
                    .splitlines() if "=" in line and not line.startswith("#"))
    manifests = (addon_folder("metallb") / "metallb.yaml").read_text()
    assert addon_images(manifests) == [f"quay.io/metallb/controller:{versions['METALLB_VERSION']}",
                                       f"quay.io/metallb/speaker:{versions['METALLB_VERSION']}"]
    assert addon_workloads(manifests) == [("metallb-system", "deployment", "controller"),
                                          ("metallb-system", "daemonset", "speaker")]
    kinds = {d["kind"] for d in yaml.safe_load_all(manifests)}
    assert {"CustomResourceDefinition", "ValidatingWebhookConfiguration", "Deployment", "DaemonSet"} <= kinds



@pytest.fixture
def metallb_install(monkeypatch):
    """install_lab_addon with kubectl answered in memory and no image in Docker; returns (calls, configure calls)."""
    from labcheck import toolchain
    from labcheck.toolchain import Kind

    rendered = (addon_folder("metallb") / "metallb.yaml").read_text()
    calls, configured = [], []
    monkeypatch.setattr("labcheck.actions.kubectl", lambda: "kubectl")
    monkeypatch.setattr(toolchain, "_kubectl", lambda args, what, timeout=120, input_text=None: calls.append(args) or
                        subprocess.CompletedProcess(args, 0, rendered, ""))
    monkeypatch.setattr(toolchain, "_workloads_ready", lambda *a: False)
    monkeypatch.setattr(Kind, "load_image", lambda self, image, name: False)
    monkeypatch.setitem(toolchain.ADDON_CONFIGURATION, "metallb", lambda *a: configured.append(a) or True)

    def install(prepared: dict) -> str:
        monkeypatch.setattr(toolchain, "read_toolchain", lambda: prepared)
        return Kind("kind", None).install_lab_addon("metallb", "netlabs-multi")

    return install, calls, configured


def test_an_offline_toolchain_without_the_add_ons_images_says_what_to_run(metallb_install):
    install, calls, _configured = metallb_install
    with pytest.raises(ClusterUnavailable, match="quay.io/metallb/controller.*prepare.sh"):
        install({"READY": "1", "KIND": "/x/kind"})
    assert not any("apply" in args for args in calls)  # nothing half-installed


def test_a_registry_toolchain_lets_the_nodes_pull_the_published_images(metallb_install):
    install, calls, configured = metallb_install
    assert "Installed add-on metallb" in install({"READY": "1", "SOURCE": "registry"})
    assert any("apply" in args and "--server-side" in args for args in calls)
    assert [args[-2:] for args in calls if "rollout" in args] == [["deployment/controller", "--timeout=180s"],
                                                                   ["daemonset/speaker", "--timeout=180s"]]
    assert configured == [("kubectl", "kind-netlabs-multi", False)]  # workloads not ready: no need to ask first
