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
