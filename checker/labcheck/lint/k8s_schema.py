"""The kubernetes client's object schema, read offline as text: which API group and version
serves each built-in kind, and each object's fields (for `labcheck lint`)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

# --- the client's object schema, read offline (for `labcheck lint`) ----------------
#
# The kubernetes client's generated code describes every built-in kind: which
# API group and version serves it (its *_api.py modules) and each object's fields
# (its models' `openapi_types` and `attribute_map`). Lint reads those files as
# text rather than importing the client, which costs ~0.4 s against a few
# milliseconds for the handful of models a lab's asserts touch. No API calls.


class ClientSchema:
    """Built-in kinds and their fields, as the installed kubernetes client knows them."""

    def __init__(self, client_dir: Path):
        self._dir = client_dir
        self._api_text: dict[str, str | None] = {}
        self._model_modules: dict[str, str] | None = None
        self._fields: dict[str, dict[str, str] | None] = {}
        self._served: dict[tuple[str, str], bool] = {}

    # API groups and versions -------------------------------------------------------

    @staticmethod
    def _module_prefix(group: str) -> str:
        # "" -> core, "apps" -> apps, "rbac.authorization.k8s.io" -> rbac_authorization
        if not group:
            return "core"
        return group.removesuffix(".k8s.io").replace(".", "_").replace("-", "_")

    @staticmethod
    def _split(api_version: str) -> tuple[str, str]:
        group, _, version = api_version.rpartition("/")
        return group, version

    def _api_source(self, api_version: str) -> str | None:
        """The source of the client's API class for a group/version, or None when it has none."""
        if api_version not in self._api_text:
            group, version = self._split(api_version)
            text = None
            if re.fullmatch(r"[a-z0-9.-]*", group) and re.fullmatch(r"v\d+(?:(?:alpha|beta)\d+)?", version):
                path = self._dir / "api" / f"{self._module_prefix(group)}_{version}_api.py"
                marker = "'/api/v1/" if not group and version == "v1" else f"'/apis/{group}/{version}/"
                try:
                    source = path.read_text(encoding="utf-8")
                except OSError:
                    source = ""
                text = source if marker in source else None
            self._api_text[api_version] = text
        return self._api_text[api_version]

    def knows_api_version(self, api_version: str) -> bool:
        """Whether the client has this group/version at all (custom resources: no)."""
        return self._api_source(api_version) is not None

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether this group/version serves the kind (False also for unknown group/versions)."""
        key = (api_version, kind)
        if key not in self._served:
            source = self._api_source(api_version)
            self._served[key] = source is not None and re.search(self._operation(kind), source) is not None
        return self._served[key]

    @staticmethod
    def _operation(kind: str) -> str:
        snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", kind).lower()
        return rf"    def (?:read|list)_(?:namespaced_)?{re.escape(snake)}(?:_for_all_namespaces)?\(self"

    def api_versions_serving(self, kind: str) -> list[str]:
        """Every group/version of the client that serves a kind, stable versions first."""
        found: list[str] = []
        pattern = re.compile(self._operation(kind))
        for path in sorted((self._dir / "api").glob("*_v*_api.py")):
            try:
                source = path.read_text(encoding="utf-8")
            except OSError:
                continue
            if not pattern.search(source):
                continue
            route = re.search(r"'/api/(v1)/|'/apis/([^/']+)/([^/']+)/", source)
            if route:
                found.append("v1" if route.group(1) else f"{route.group(2)}/{route.group(3)}")
        return sorted(found, key=lambda v: ("alpha" in v or "beta" in v, v))

    # object fields -------------------------------------------------------------------

    def model_of(self, api_version: str, kind: str) -> str | None:
        """The client's model class name for a kind (V1Pod, V1Deployment, EventsV1Event)."""
        if not self.serves(api_version, kind):
            return None
        group, version = self._split(api_version)
        prefix = "".join(part.capitalize() for part in self._module_prefix(group).split("_"))
        for name in (f"{prefix}{version.capitalize()}{kind}", f"{version.capitalize()}{kind}"):
            if name in self._models():
                return name
        return None

    def _models(self) -> dict[str, str]:
        if self._model_modules is None:
            try:
                index = (self._dir / "models" / "__init__.py").read_text(encoding="utf-8")
            except OSError:
                index = ""
            self._model_modules = dict(
                (name, module) for module, name in
                re.findall(r"^from kubernetes\.client\.models\.(\w+) import (\w+)$", index, re.M)
            )
        return self._model_modules

    def kinds(self) -> set[str]:
        """Names of the built-in kinds (those with a list type: V1Pod has V1PodList), for suggestions."""
        models = self._models()
        names = {m[: -len("List")] for m in models if m.endswith("List") and m[: -len("List")] in models}
        return {re.sub(r"^(?:[A-Z][a-z]+)*?V\d+(?:(?:alpha|beta)\d+)?(?=[A-Z])", "", n) for n in names}

    def fields(self, model: str) -> dict[str, str] | None:
        """JSON field name -> the client's type string ('str', 'list[V1Container]', 'dict[str, str]')."""
        if model not in self._fields:
            self._fields[model] = self._read_fields(model)
        return self._fields[model]

    def _read_fields(self, model: str) -> dict[str, str] | None:
        import ast

        module = self._models().get(model)
        if module is None:
            return None
        try:
            source = (self._dir / "models" / f"{module}.py").read_text(encoding="utf-8")
            types = ast.literal_eval(re.search(r"^    openapi_types = (\{.*?^    \}|\{\})$", source, re.M | re.S)[1])
            names = ast.literal_eval(re.search(r"^    attribute_map = (\{.*?^    \}|\{\})$", source, re.M | re.S)[1])
        except (OSError, TypeError, ValueError, SyntaxError):
            # The generated layout changed: ask the class itself (slower: imports the client).
            import importlib

            cls = getattr(importlib.import_module(f"kubernetes.client.models.{module}"), model)
            types, names = cls.openapi_types, cls.attribute_map
        return {names.get(attribute, attribute): kind for attribute, kind in types.items()}


_client_schema: ClientSchema | None = None


def client_schema() -> ClientSchema | None:
    """The installed client's schema, or None when the client is not installed."""
    global _client_schema
    if _client_schema is None:
        loaded = sys.modules.get("kubernetes")  # perhaps cluster.live.skeleton's stand-in, which has no spec
        locations = list(getattr(loaded, "__path__", None) or [])
        if not locations:
            spec = importlib.util.find_spec("kubernetes")  # finds the package without importing it
            locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            return None
        _client_schema = ClientSchema(Path(locations[0]) / "client")
    return _client_schema
