"""Reading a kubeconfig: its context names, and a plain entry (what kind writes) into the client's
Configuration without the client's own loader, which anything else still goes through."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def kubeconfig_errors() -> tuple[type[BaseException], ...]:
    """What the client raises for a kubeconfig it cannot use: its own error, or a raw one
    for bad YAML (YAMLError), bytes that are not UTF-8 (ValueError) or a wrong shape (TypeError...)."""
    import yaml
    from kubernetes.config.config_exception import ConfigException

    return (ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError)


def kubeconfig_contexts(path: str) -> tuple[set[str], dict | None]:
    """Context names in a kubeconfig (a KUBECONFIG-style list of files is merged), and the
    parsed file itself when there is just one (for configure_plainly)."""
    files = [name for name in path.split(os.pathsep) if name]
    if len(files) == 1:
        # Read here, not with the client's loader: importing kubernetes.config costs more than the check.
        import yaml

        text = Path(files[0]).expanduser().read_text(encoding="utf-8")
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if not isinstance(document, dict):
            raise ValueError("not a kubeconfig (a mapping with contexts, clusters and users)")
        names = set()
        for entry in document.get("contexts") or []:
            names.add(entry["name"])
        return names, document

    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigMerger

    # Not config.list_kube_config_contexts: it fails when current-context is unset, which
    # `kind delete cluster` leaves behind after deleting the current one of several clusters.
    merged = KubeConfigMerger(path).config
    if merged is None:
        raise ConfigException("no such file")
    names = set()
    for entry in merged.value.get("contexts") or []:
        entry = getattr(entry, "value", entry)
        names.add(entry["name"])
    return names, None


# What a plain kubeconfig entry holds (kind, kubeadm and k3d write only these). Anything else
# (exec plugins, auth providers, proxies, user names and passwords) goes to the client's loader.
_PLAIN_CLUSTER_KEYS = {"server", "certificate-authority", "certificate-authority-data",
                       "insecure-skip-tls-verify", "tls-server-name"}
_PLAIN_USER_KEYS = {"client-certificate", "client-certificate-data", "client-key", "client-key-data", "token"}
_MATERIAL_FILES: dict[bytes, str] = {}


def configure_plainly(document: dict, folder: Path, context: str, configuration: Any) -> bool:
    """Fill the client's Configuration from a plain kubeconfig entry; False when the entry needs
    the client's own loader.

    Why by hand: kubernetes.config.kube_config imports requests, oauthlib and dateutil for the
    auth kinds it supports, about a sixth of a one-shot check's time, and a kind cluster needs
    none of them. The settings made are the ones that loader makes for these keys.
    """
    def entry(section: str, name: Any, field: str) -> dict | None:
        for item in document.get(section) or []:
            if isinstance(item, dict) and item.get("name") == name:
                value = item.get(field)
                return value if isinstance(value, dict) else None
        return None

    ctx = entry("contexts", context, "context")
    if not ctx:
        return False
    cluster = entry("clusters", ctx.get("cluster"), "cluster")
    user = entry("users", ctx.get("user"), "user") if ctx.get("user") is not None else {}
    if cluster is None or user is None or not set(cluster) <= _PLAIN_CLUSTER_KEYS or not set(user) <= _PLAIN_USER_KEYS:
        return False
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        return False
    try:
        ca = _material(cluster, "certificate-authority", folder)
        cert = _material(user, "client-certificate", folder)
        key = _material(user, "client-key", folder)
    except (ValueError, TypeError):
        return False  # undecodable data: the client's loader words the error
    configuration.host = server.rstrip("/")
    if server.startswith("https"):
        configuration.ssl_ca_cert = ca
        configuration.cert_file = cert
        configuration.key_file = key
        configuration.verify_ssl = not cluster.get("insecure-skip-tls-verify", False)
        if cluster.get("tls-server-name"):
            configuration.tls_server_name = cluster["tls-server-name"]
    token = user.get("token")
    if token:
        configuration.api_key["authorization"] = f"Bearer {token}"
    return True


def _material(entry: dict, field: str, folder: Path) -> str | None:
    """A certificate or key as a file path: `field` names a file (relative to the kubeconfig's
    folder), `field-data` holds it base64-encoded and is written to a private temporary file."""
    data = entry.get(f"{field}-data")
    if data:
        import base64

        content = base64.b64decode(data, validate=True)
        if content not in _MATERIAL_FILES:
            import atexit
            import tempfile

            handle, name = tempfile.mkstemp(prefix="labcheck-")  # mode 0600: it may hold a private key
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            atexit.register(_remove_quietly, name)
            _MATERIAL_FILES[content] = name
        return _MATERIAL_FILES[content]
    name = entry.get(field)
    if name:
        return str((folder / str(name)).expanduser())
    return None


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass
