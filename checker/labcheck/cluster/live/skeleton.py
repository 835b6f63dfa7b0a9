"""The import skeleton: a one-shot `labcheck` loads only the parts of the kubernetes client it uses.

What is skipped costs time on every run and is never reached by a lab's reads;
the client's own code still makes each request.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import sys
import types


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def lazy_kubernetes() -> None:
    """Make `import kubernetes...` load only the modules used, not the whole client.

    The package's __init__ files import every API group and ~800 generated models
    (most of the client's import time, and a one-shot `labcheck` pays it on every
    run). We register the packages as plain module objects with the right
    __path__, so submodules load on demand; attribute look-ups that code may do
    on the packages (`kubernetes.client.ApiClient`, `...models.V1Pod`) resolve
    lazily to the same classes. Reads go through the same client code as before.
    """
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import below reports it
    root = spec.submodule_search_locations[0]
    known = {"ApiClient": "api_client", "Configuration": "configuration"}

    def package(name: str, path: str, resolve) -> None:
        module = types.ModuleType(name)
        module.__path__ = [path]
        module.__package__ = name

        def __getattr__(attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            try:
                return resolve(attr)
            except ImportError as exc:
                raise AttributeError(f"module {name!r} has no attribute {attr!r}") from exc

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)

    def client_attr(attr: str):
        if attr in known:
            return getattr(importlib.import_module(f"kubernetes.client.{known[attr]}"), attr)
        if attr.endswith("Api") and attr[0].isupper():
            return getattr(importlib.import_module(f"kubernetes.client.api.{_snake(attr)}"), attr)
        if attr[0].isupper():
            return getattr(sys.modules["kubernetes.client.models"], attr)
        return importlib.import_module(f"kubernetes.client.{attr}")

    package("kubernetes", root, lambda attr: importlib.import_module(f"kubernetes.{attr}"))
    package("kubernetes.client", os.path.join(root, "client"), client_attr)
    package("kubernetes.client.api", os.path.join(root, "client", "api"),
            lambda attr: getattr(importlib.import_module(f"kubernetes.client.api.{_snake(attr)}"), attr))
    package("kubernetes.client.models", os.path.join(root, "client", "models"),
            lambda attr: getattr(importlib.import_module(f"kubernetes.client.models.{_snake(attr)}"), attr))


# Helpers the client imports at module level but calls only in cases labs do not reach:
# a proxy with a no_proxy list (requests), and parsing dates into generated models (dateutil;
# our reads keep the raw JSON). Importing them costs a one-shot check ~15 % of its time.
_DEFERRED_HELPERS = {"requests.utils": "should_bypass_proxies", "dateutil.parser": "parse"}


@contextlib.contextmanager
def deferring_helpers():
    """While the client's modules load, hand them stand-ins for the helpers above that import
    the real function on first call. The stand-in modules are gone from sys.modules afterwards,
    so anything else importing requests or dateutil gets the real thing."""
    placed: list[str] = []
    for dotted, function in _DEFERRED_HELPERS.items():
        parent = dotted.partition(".")[0]
        if parent in sys.modules or dotted in sys.modules:
            continue

        def deferred(*args, _module=dotted, _name=function, **kwargs):
            return getattr(importlib.import_module(_module), _name)(*args, **kwargs)

        stand_in = types.ModuleType(dotted)
        setattr(stand_in, function, deferred)
        package = types.ModuleType(parent)
        package.__path__ = []  # a package: `from requests.utils import ...` needs one
        setattr(package, dotted.partition(".")[2], stand_in)
        sys.modules[parent], sys.modules[dotted] = package, stand_in
        placed += [dotted, parent]
    try:
        yield
    finally:
        for name in placed:
            sys.modules.pop(name, None)

