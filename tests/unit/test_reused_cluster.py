"""A reused cluster after a Docker restart: its nodes may come back on new addresses, and the
Pod routes kube-router learned from its old peers are then missing until it restarts."""

import json
import subprocess

import pytest

from labcheck.errors import ClusterUnavailable

NODES = {"items": [{"metadata": {"name": f"netlabs-multi-{n}"}, "spec": {"podCIDR": f"10.244.{i}.0/24"}}
                   for i, n in enumerate(("control-plane", "worker", "worker2"))]}


def _routes(node: str, lacking: set[str]) -> str:
    """`ip route` on a kind node running kube-router: its own range on kube-bridge, the others via peers."""
    own = {"netlabs-multi-control-plane": 0, "netlabs-multi-worker": 1, "netlabs-multi-worker2": 2}[node]
    lines = ["default via 172.18.0.1 dev eth0"]
    for i in range(3):
        cidr = f"10.244.{i}.0/24"
        if i == own:
            lines.append(f"{cidr} dev kube-bridge proto kernel scope link src 10.244.{i}.1")
        elif f"{node} -> {cidr}" not in lacking:
            lines.append(f"{cidr} via 172.18.0.{i + 2} dev eth0 proto 17")
    return "\n".join(lines + ["172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.9"]) + "\n"


@pytest.fixture
def network(monkeypatch):
    """Kind.settle_network with kubectl and docker answered in memory; `lacking` are the missing routes."""
    from labcheck import toolchain

    state = {"lacking": set(), "calls": [], "heals": True}
    monkeypatch.setattr("labcheck.actions.kubectl", lambda: "kubectl")
    monkeypatch.setattr(toolchain.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(toolchain.time, "sleep", lambda s: None)

    def run(args, what, timeout=120, input_text=None):
        state["calls"].append(args)
        if args[:2] == ["/usr/bin/docker", "exec"]:
            return subprocess.CompletedProcess(args, 0, _routes(args[2], state["lacking"]), "")
        if "restart" in args and state["heals"]:
            state["lacking"] = set()
        return subprocess.CompletedProcess(args, 0, json.dumps(NODES), "")

    monkeypatch.setattr(toolchain, "_kubectl", run)
    return state


def test_a_cluster_with_every_pod_route_is_left_alone(network):
    from labcheck.toolchain import Kind

    assert Kind("kind", None).settle_network("netlabs-multi") is None
    assert not [args for args in network["calls"] if "restart" in args]


def test_missing_pod_routes_restart_kube_router_and_wait_for_coredns(network):
    from labcheck.toolchain import Kind

    network["lacking"] = {"netlabs-multi-control-plane -> 10.244.2.0/24", "netlabs-multi-worker2 -> 10.244.0.0/24"}
    said = Kind("kind", None).settle_network("netlabs-multi")
    assert "Restarted kube-router in netlabs-multi" in said and "netlabs-multi-worker2 -> 10.244.0.0/24" in said
    kubectl_calls = [args for args in network["calls"] if args[0] == "kubectl"]
    assert ["rollout", "restart", "daemonset/kube-router"] == kubectl_calls[1][-3:]
    assert "k8s-app=kube-dns" in kubectl_calls[-1] and "--for=condition=Ready" in kubectl_calls[-1]


def test_routes_that_do_not_come_back_are_one_clear_error(network, monkeypatch):
    from labcheck import toolchain
    from labcheck.toolchain import Kind

    network["lacking"], network["heals"] = {"netlabs-multi-worker -> 10.244.2.0/24"}, False
    clock = iter(range(0, 10_000, 10))
    monkeypatch.setattr(toolchain.time, "monotonic", lambda: next(clock))
    with pytest.raises(ClusterUnavailable, match=r"lacks routes \(netlabs-multi-worker -> 10.244.2.0/24\).*"
                                                 r"kind delete cluster --name netlabs-multi"):
        Kind("kind", None).settle_network("netlabs-multi")


@pytest.mark.parametrize("lab_id, checked", [("05", True), ("01", False)])
def test_start_checks_the_pod_routes_of_a_reused_cluster_of_several_nodes(monkeypatch, capsys, lab_id, checked):
    import labcheck.session as session
    from labcheck import toolchain
    from labcheck.loader import find_lab
    from tests.conftest import FakeKind

    lab = find_lab(lab_id).model_copy(update={"addons": [], "images": []})
    kind = FakeKind(docker_images=set())
    kind.clusters = lambda: ["netlabs", "netlabs-multi"]
    asked = []
    kind.settle_network = lambda name: asked.append(name) or f"Restarted kube-router in {name}: (test)"
    monkeypatch.setattr(toolchain.Kind, "find", classmethod(lambda cls: kind))
    context, name = session.prepare_cluster(lab)
    said = capsys.readouterr().err
    assert asked == ([name] if checked else [])
    assert ("Restarted kube-router in netlabs-multi" in said) is checked
