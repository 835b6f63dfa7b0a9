"""kind clusters: finding kind and the node image, creating, reusing, deleting.

On a machine prepared by clusters/prepare.sh, the toolchain file it writes
names the kind binary and a locally built node image; elsewhere the `kind` on
PATH and its default node image are used.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .cluster.host import kind_network
from .errors import ClusterUnavailable
from .loader import clusters_dir


def toolchain_file() -> Path:
    cache = os.environ.get("NETLABS_CACHE") or str(Path.home() / ".cache" / "netlabs")
    return Path(cache) / "toolchain.env"


def read_toolchain() -> dict[str, str]:
    """The KEY=VALUE pairs of the prepared toolchain, or {} when there is none or it is incomplete."""
    path = toolchain_file()
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values if values.get("READY") == "1" else {}


def prepare_command() -> str | None:
    """`bash clusters/prepare.sh` when labcheck runs from a source checkout; None when installed from a wheel.

    The script builds the toolchain from the checkout it lives in, so it is only
    worth offering to someone who has one.
    """
    script = Path(__file__).resolve().parent.parent.parent / "clusters" / "prepare.sh"
    if not script.is_file():
        return None
    try:
        shown = script.relative_to(Path.cwd())
    except ValueError:
        shown = script
    return f"bash {shown}"


def kind_version() -> str:
    """The kind release the labs are tested with (clusters/toolchain/versions.env)."""
    try:
        text = (clusters_dir() / "toolchain" / "versions.env").read_text(encoding="utf-8")
    except OSError:
        return "latest"
    for line in text.splitlines():
        if line.startswith("KIND_VERSION="):
            return line.split("=", 1)[1].strip().strip("'\"") or "latest"
    return "latest"


def install_kind_hint() -> str:
    """How to get kind: its own install, and the offline toolchain where this is a source checkout."""
    hint = (f"install kind: `go install sigs.k8s.io/kind@{kind_version()}`, or a release binary "
            "(https://kind.sigs.k8s.io/docs/user/quick-start/#installation)")
    prepare = prepare_command()
    return f"{hint}; where no registry can be reached, `{prepare}` builds it" if prepare else hint


@dataclass
class Kind:
    binary: str
    node_image: str | None

    @classmethod
    def find(cls) -> "Kind":
        prepared = read_toolchain()
        binary = os.environ.get("LABCHECK_KIND") or prepared.get("KIND") or shutil.which("kind")
        if not binary or not Path(binary).exists():
            raise ClusterUnavailable(f"kind is not installed ({install_kind_hint()})")
        image = os.environ.get("LABCHECK_NODE_IMAGE") or prepared.get("NODE_IMAGE") or None
        return cls(binary, image)

    def _run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ClusterUnavailable(f"kind {' '.join(args[:2])} did not finish in {int(timeout)} s") from None
        except OSError as exc:
            raise ClusterUnavailable(f"cannot run kind: {exc}") from None

    def clusters(self) -> list[str]:
        done = self._run("get", "clusters", timeout=60)
        if done.returncode != 0:
            raise ClusterUnavailable(f"kind get clusters failed: {_last_line(done.stderr)}")
        return [line.strip() for line in done.stdout.splitlines() if line.strip() and "No kind clusters" not in line]

    def create(self, config: Path, name: str, addons: Path | None = None) -> None:
        """Create the cluster; then install its add-ons (e.g. its CNI) and wait until it is Ready.

        `addons` defaults to the config's own <name>.addons/; a copy of a config
        written elsewhere (a test's, under another cluster name) passes the original's.
        """
        addons = addons or cluster_addons(config)
        # without its CNI no node gets Ready, so kind's own wait would only time out
        args = ["create", "cluster", "--name", name, "--config", str(config)]
        if addons is None:
            args += ["--wait", "120s"]
        if self.node_image:
            args += ["--image", self.node_image]
        done = self._run(*args, timeout=900)
        if done.returncode != 0:
            raise ClusterUnavailable(f"kind could not create cluster {name}: {_last_line(done.stderr)}")
        if addons is not None:
            self.install_addons(addons, name)

    def install_addons(self, addons: Path, name: str) -> None:
        """Apply <config>.addons/ (a kustomization) to a new cluster and wait for its nodes and DNS.

        Images the add-ons name are loaded from the local Docker when it has them
        (a machine without a registry); otherwise the nodes pull them as usual.
        """
        from .actions import kubectl

        binary = kubectl()
        context = kube_context(name)
        rendered = _kubectl([binary, "kustomize", str(addons)], f"kubectl kustomize {addons.name}")
        for image in addon_images(rendered.stdout):
            self.load_image(image, name)
        _kubectl([binary, "--context", context, "apply", "-k", str(addons)], f"kubectl apply -k {addons.name}")
        _kubectl([binary, "--context", context, "wait", "--for=condition=Ready", "nodes", "--all",
                  "--timeout=180s"], f"nodes of {name} Ready after {addons.name}", timeout=240)
        _kubectl([binary, "--context", context, "-n", "kube-system", "wait", "--for=condition=Ready", "pod",
                  "-l", "k8s-app=kube-dns", "--timeout=180s"], f"CoreDNS of {name} Ready", timeout=240)

    def install_lab_addon(self, addon: str, name: str) -> str:
        """Install a lab's add-on (clusters/addons/<addon>/) into the cluster unless it is ready there.

        Idempotent: a cluster that already runs it (ready workloads, LoadBalancer addresses,
        configuration applied) is left as it is. Images are loaded from the local Docker when it has
        them, as for cluster add-ons. CRDs go first, so that objects of their kinds in the same
        folder (a GatewayClass, say) can be applied. Returns one line saying what was done.
        """
        from .actions import kubectl

        folder = addon_folder(addon)
        binary = kubectl()
        context = kube_context(name)
        configure = ADDON_CONFIGURATION.get(addon)
        rendered = _kubectl([binary, "kustomize", str(folder)], f"kubectl kustomize addons/{addon}").stdout
        workloads = addon_workloads(rendered)
        balanced = addon_load_balancers(rendered)
        if (_workloads_ready(binary, context, workloads) and all(_lb_address(binary, context, *s) for s in balanced)
                and (configure is None or configure(binary, context, True))):
            return f"Add-on {addon} is ready in {name}."
        started = time.monotonic()
        prepared = read_toolchain()
        for image in addon_images(rendered):
            if not self.load_image(image, name) and prepared and prepared.get("SOURCE") != "registry":
                # a toolchain built without a registry: the nodes could only wait for a pull that never comes
                prepare = prepare_command() or "clusters/prepare.sh"
                raise ClusterUnavailable(f"image {image} of add-on {addon} is not in Docker, and this machine's "
                                         f"toolchain was built without a registry: run `{prepare}` (it builds "
                                         "only what is missing)")
        # server-side: CRDs are too large for the annotation a client-side apply keeps
        apply = [binary, "--context", context, "apply", "--server-side", "--force-conflicts"]
        crds = addon_crds(rendered)
        if crds:
            _kubectl([*apply, "-f", "-"], f"CRDs of add-on {addon}", timeout=180, input_text=crds_manifest(rendered))
            _kubectl([binary, "--context", context, "wait", "--for=condition=Established", "--timeout=60s",
                      *(f"crd/{crd}" for crd in crds)], f"CRDs of add-on {addon} established", timeout=90)
        _kubectl([*apply, "-k", str(folder)], f"kubectl apply -k addons/{addon}", timeout=180)
        for namespace, kind, workload in workloads:
            _kubectl([binary, "--context", context, "-n", namespace, "rollout", "status", f"{kind}/{workload}",
                      "--timeout=180s"], f"{kind} {namespace}/{workload} of add-on {addon} ready", timeout=240)
        for namespace, service in balanced:
            _wait_for_lb_address(binary, context, namespace, service, addon)
        if configure is not None:
            configure(binary, context, False)
        return f"Installed add-on {addon} into {name} in {time.monotonic() - started:.0f} s."

    def stopped_nodes(self, name: str) -> list[str]:
        """The cluster's node containers that are not running (their Docker daemon restarted, say)."""
        docker = shutil.which("docker")
        if docker is None:
            return []
        done = subprocess.run([docker, "ps", "-a", "--filter", f"label=io.x-k8s.kind.cluster={name}",
                               "--format", "{{.Names}} {{.State}}"], capture_output=True, text=True, check=False)
        return [line.split()[0] for line in done.stdout.splitlines()
                if len(line.split()) == 2 and line.split()[1] != "running"]

    def missing_pod_routes(self, name: str) -> list[str]:
        """Routes to other nodes' Pod ranges that a node lacks, as "node -> podCIDR" (none on one node).

        kube-router (the clusters' CNI) learns them over BGP from its peers, which it names by node
        address; when Docker restarts, the nodes may come back on other addresses and a kube-router
        that started first keeps peering with the old ones."""
        from .actions import kubectl

        docker = shutil.which("docker")
        if docker is None:
            return []
        listed = _kubectl([kubectl(), "--context", kube_context(name), "get", "nodes", "-o", "json"],
                          f"kubectl get nodes of {name}", timeout=60)
        ranges = {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in json.loads(listed.stdout)["items"]}
        missing = []
        for node in ranges:
            routes = _kubectl([docker, "exec", node, "ip", "route"], f"ip route on node {node}", timeout=30).stdout
            present = {line.split()[0] for line in routes.splitlines() if line.split()}
            missing += [f"{node} -> {cidr}" for other, cidr in ranges.items()
                        if other != node and cidr and cidr not in present]
        return missing

    def settle_network(self, name: str) -> str | None:
        """Make a reused cluster's Pod network whole again after a Docker restart; what was done, if anything.

        Restarting kube-router makes it peer with the nodes' current addresses (its routes come back
        in seconds); then CoreDNS, which could not reach the API server, turns Ready."""
        from .actions import kubectl

        missing = self.missing_pod_routes(name)
        if not missing:
            return None
        binary, context = kubectl(), kube_context(name)
        _kubectl([binary, "--context", context, "-n", "kube-system", "rollout", "restart", "daemonset/kube-router"],
                 f"restart kube-router in {name}")
        _kubectl([binary, "--context", context, "-n", "kube-system", "rollout", "status", "daemonset/kube-router",
                  "--timeout=180s"], f"kube-router of {name} ready again", timeout=240)
        deadline = time.monotonic() + 60
        while (still := self.missing_pod_routes(name)) and time.monotonic() < deadline:
            time.sleep(2)
        if still:
            raise ClusterUnavailable(f"the Pod network of {name} lacks routes ({', '.join(still)}) even after "
                                     f"restarting kube-router: `kind delete cluster --name {name}`, then "
                                     "`labcheck start` creates it anew")
        _kubectl([binary, "--context", context, "-n", "kube-system", "wait", "--for=condition=Ready", "pod",
                  "-l", "k8s-app=kube-dns", "--timeout=120s"], f"CoreDNS of {name} Ready", timeout=180)
        return (f"Restarted kube-router in {name}: {len(missing)} route(s) between nodes' Pods were missing "
                f"({', '.join(missing)}), as a Docker restart that moves the nodes to new addresses leaves them.")

    def export_kubeconfig(self, name: str) -> None:
        """(Re)write the cluster's context into the kubeconfig, e.g. after it was reset."""
        done = self._run("export", "kubeconfig", "--name", name, timeout=60)
        if done.returncode != 0:
            raise ClusterUnavailable(f"kind could not export the kubeconfig of {name}: {_last_line(done.stderr)}")

    def delete(self, name: str) -> None:
        done = self._run("delete", "cluster", "--name", name, timeout=300)
        if done.returncode != 0:
            raise ClusterUnavailable(f"kind could not delete cluster {name}: {_last_line(done.stderr)}")

    def load_image(self, image: str, name: str) -> bool:
        """Load a local docker image into the cluster; False when docker has no such image."""
        docker = shutil.which("docker")
        if docker is None:
            return False
        present = subprocess.run([docker, "image", "inspect", image], capture_output=True, check=False)
        if present.returncode != 0:
            return False
        done = self._run("load", "docker-image", image, "--name", name, timeout=600)
        if done.returncode != 0:
            raise ClusterUnavailable(f"kind could not load {image}: {_last_line(done.stderr)}")
        return True


def cluster_config(cluster: str) -> tuple[Path, str]:
    """The kind config file of a lab's cluster, and the cluster name it sets."""
    import yaml

    path = clusters_dir() / f"{cluster}.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return path, config.get("name") or "kind"


def cluster_addons(config: Path) -> Path | None:
    """The kustomization folder applied after creating the cluster of <name>.yaml: <name>.addons/."""
    folder = config.parent / f"{config.stem}.addons"
    return folder if (folder / "kustomization.yaml").is_file() else None


def addon_folder(addon: str) -> Path:
    """clusters/addons/<addon>/, a kustomization a lab names in `addons:`."""
    folder = clusters_dir() / "addons" / addon
    if not (folder / "kustomization.yaml").is_file():
        raise ClusterUnavailable(f"no add-on {addon!r}: {folder}/kustomization.yaml does not exist")
    return folder


@functools.lru_cache(maxsize=4)
def _documents(manifests: str) -> tuple:
    """The YAML documents of rendered manifests, parsed once (CRDs make them large), with libyaml when present."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(manifests, Loader=loader) if doc)


def addon_workloads(manifests: str) -> list[tuple[str, str, str]]:
    """(namespace, kind, name) of every Deployment and DaemonSet the rendered manifests hold."""
    found = []
    for doc in _documents(manifests):
        if (doc or {}).get("kind") in ("Deployment", "DaemonSet"):
            meta = doc.get("metadata") or {}
            found.append((meta.get("namespace") or "default", doc["kind"].lower(), meta.get("name")))
    return found


def addon_crds(manifests: str) -> list[str]:
    """The names of the CustomResourceDefinitions the rendered manifests hold, in order."""
    return [doc["metadata"]["name"] for doc in _documents(manifests) if doc.get("kind") == "CustomResourceDefinition"]


def crds_manifest(manifests: str) -> str:
    """Only the CustomResourceDefinitions of the rendered manifests, as a JSON List kubectl applies."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        doc for doc in _documents(manifests) if doc.get("kind") == "CustomResourceDefinition"]})


def addon_load_balancers(manifests: str) -> list[tuple[str, str]]:
    """(namespace, name) of every Service of type LoadBalancer the rendered manifests hold."""
    return [((doc.get("metadata") or {}).get("namespace") or "default", doc["metadata"]["name"])
            for doc in _documents(manifests)
            if (doc or {}).get("kind") == "Service" and (doc.get("spec") or {}).get("type") == "LoadBalancer"]


def _lb_address(binary: str, context: str, namespace: str, service: str) -> str | None:
    """The Service's first LoadBalancer address (IP or hostname), or None while it has none."""
    done = subprocess.run([binary, "--context", context, "-n", namespace, "get", "service", service, "-o", "json"],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        return None
    for ingress in (json.loads(done.stdout).get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
        if ingress.get("ip") or ingress.get("hostname"):
            return ingress.get("ip") or ingress.get("hostname")
    return None


LB_ADDRESS_TIMEOUT = 60  # s; MetalLB answers within a second or two once it runs


def _wait_for_lb_address(binary: str, context: str, namespace: str, service: str, addon: str) -> str:
    deadline = time.monotonic() + LB_ADDRESS_TIMEOUT
    while True:
        address = _lb_address(binary, context, namespace, service)
        if address:
            return address
        if time.monotonic() > deadline:
            raise ClusterUnavailable(
                f"Service {namespace}/{service} of add-on {addon} got no LoadBalancer address in "
                f"{LB_ADDRESS_TIMEOUT} s: nothing hands out addresses (list metallb before {addon} in the lab's addons)")
        time.sleep(1)


def _workloads_ready(binary: str, context: str, workloads: list[tuple[str, str, str]]) -> bool:
    """Every workload exists with all its Pods up to date and ready (a quick read, no waiting)."""
    for namespace, kind, name in workloads:
        done = subprocess.run([binary, "--context", context, "-n", namespace, "get", kind, name, "-o", "json"],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            return False
        status = json.loads(done.stdout).get("status") or {}
        if kind == "deployment":
            wanted, ready = status.get("replicas", 0), status.get("readyReplicas", 0)
            current = status.get("updatedReplicas", 0)
        else:
            wanted, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
            current = status.get("updatedNumberScheduled", 0)
        if not wanted or ready < wanted or current < wanted:
            return False
    return True


# --- MetalLB: an address pool on kind's Docker network ------------------------------------

METALLB_NAMESPACE = "metallb-system"
METALLB_POOL = "netlabs-pool"
METALLB_POOL_SIZE = 16  # addresses; a lab needs a few LoadBalancer Services at most


def pool_range(network: dict) -> str:
    """A small range at the top of the network's IPv4 subnet that no container on it uses.

    Docker hands out addresses from the bottom of the subnet, so the top stays free; the host
    is on the same bridge, which is what lets it reach the addresses MetalLB announces (ARP).
    """
    subnets = [ipaddress.ip_network(c["Subnet"], strict=False) for c in network.get("IPAM", {}).get("Config") or []
               if c.get("Subnet")]
    subnet = next((s for s in subnets if s.version == 4), None)
    if subnet is None:
        raise ClusterUnavailable(f"Docker network {network.get('Name')} has no IPv4 subnet for MetalLB's pool")
    if subnet.num_addresses < 4 * METALLB_POOL_SIZE:
        raise ClusterUnavailable(f"Docker network {network.get('Name')} ({subnet}) is too small for an address pool")
    used = {ipaddress.ip_interface(c["IPv4Address"]).ip for c in (network.get("Containers") or {}).values()
            if c.get("IPv4Address")}
    last = subnet.broadcast_address - 1
    first = last - (METALLB_POOL_SIZE - 1)
    taken = sorted(str(ip) for ip in used if first <= ip <= last)
    if taken:
        raise ClusterUnavailable(f"the top of {subnet} ({first}-{last}) is in use ({', '.join(taken)}); "
                                 "no free range for MetalLB's pool")
    return f"{first}-{last}"


def metallb_pool_manifest(addresses: str) -> str:
    import yaml

    return yaml.safe_dump_all([
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": {"name": METALLB_POOL, "namespace": METALLB_NAMESPACE},
         "spec": {"addresses": [addresses]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": {"name": "netlabs-l2", "namespace": METALLB_NAMESPACE},
         "spec": {"ipAddressPools": [METALLB_POOL]}},
    ], sort_keys=False)


def configure_metallb(binary: str, context: str, only_check: bool) -> bool:
    """Give MetalLB its pool and announce it in L2 mode; with only_check, say whether the pool exists."""
    base = [binary, "--context", context, "-n", METALLB_NAMESPACE]
    if only_check:
        done = subprocess.run([*base, "get", "ipaddresspool", METALLB_POOL, "-o", "name"],
                              capture_output=True, text=True, timeout=60, check=False)
        return done.returncode == 0
    docker = shutil.which("docker")
    if docker is None:
        raise ClusterUnavailable("docker is not installed: MetalLB's pool comes from kind's Docker network")
    network = kind_network()
    inspected = subprocess.run([docker, "network", "inspect", network], capture_output=True, text=True,
                               timeout=60, check=False)
    if inspected.returncode != 0:
        raise ClusterUnavailable(f"docker network inspect {network} failed: {_last_line(inspected.stderr)}")
    manifest = metallb_pool_manifest(pool_range(json.loads(inspected.stdout)[0]))
    # The webhook that validates pools answers a little after the controller reports ready.
    deadline = time.monotonic() + 90
    while True:
        done = subprocess.run([*base, "apply", "-f", "-"], input=manifest, capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode == 0:
            return True
        if time.monotonic() > deadline or "webhook" not in done.stderr:
            raise ClusterUnavailable(f"MetalLB's address pool could not be applied: {_last_line(done.stderr)}")
        time.sleep(2)


#: What an add-on needs after its workloads run: (kubectl, context, only_check) -> configured?
ADDON_CONFIGURATION = {"metallb": configure_metallb}


def addon_images(manifests: str) -> list[str]:
    """Every container image the rendered add-on manifests name, in order, once each."""
    images: list[str] = []
    for doc in _documents(manifests):
        pod = ((doc or {}).get("spec") or {}).get("template", {}).get("spec") or {}
        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            image = container.get("image")
            if image and image not in images:
                images.append(image)
    return images


def _kubectl(args: list[str], what: str, timeout: float = 120, input_text: str | None = None
             ) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, input=input_text)
    except subprocess.TimeoutExpired:
        raise ClusterUnavailable(f"{what}: no answer in {int(timeout)} s") from None
    if done.returncode != 0:
        raise ClusterUnavailable(f"{what} failed: {_last_line(done.stderr or done.stdout)}")
    return done


def kube_context(cluster_name: str) -> str:
    return f"kind-{cluster_name}"


def _last_line(text: str) -> str:
    """kind's last words, without its empty "Command Output:" trailer."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip() and l.strip() != "Command Output:"]
    return lines[-1][:300] if lines else "no output"
