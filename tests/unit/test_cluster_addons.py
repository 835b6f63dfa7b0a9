"""Cluster add-ons: which kind configs get a CNI installed after create, and which images it needs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from labcheck.loader import clusters_dir
from labcheck.toolchain import addon_images, cluster_addons, cluster_config


def test_policy_clusters_have_addons_and_no_default_cni():
    for stem in ("policy", "policy-multi"):
        config = clusters_dir() / f"{stem}.yaml"
        assert cluster_addons(config) == clusters_dir() / f"{stem}.addons"
        spec = yaml.safe_load(config.read_text())
        assert spec["networking"]["disableDefaultCNI"] is True
        assert not any(n.get("extraPortMappings") for n in spec["nodes"]), "must run beside netlabs"


def test_shared_clusters_are_unchanged():
    for stem, name in (("single-node", "netlabs"), ("multi-node", "netlabs-multi")):
        assert cluster_addons(clusters_dir() / f"{stem}.yaml") is None
        assert cluster_config(stem)[1] == name


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
    rendered = subprocess.run(["kubectl", "kustomize", str(clusters_dir() / "policy.addons")],
                              capture_output=True, text=True, check=True).stdout
    pinned = dict(line.split("=", 1) for line in (clusters_dir() / "toolchain" / "versions.env").read_text().splitlines()
                  if "=" in line and not line.startswith("#"))["KUBE_ROUTER_VERSION"]
    # prepare.sh builds exactly this name; with a registry the published image is pulled
    assert addon_images(rendered) == [f"docker.io/cloudnativelabs/kube-router:{pinned}"]
    daemonset = next(d for d in yaml.safe_load_all(rendered) if d["kind"] == "DaemonSet")
    args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--run-router=true", "--run-firewall=true", "--run-service-proxy=false",
            "--enable-overlay=false"} <= set(args)
