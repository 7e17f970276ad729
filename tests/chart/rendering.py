"""The chart rendered by the real Helm engine (helm-python-sdk binds Helm's Go SDK, so no
`helm` binary is needed), and the views of the rendered objects the tests share.

Every render uses its own release name and namespace (the values file's name), so that tools
that look at several renders at once (checkov links NetworkPolicies to pods by labels and
namespace) never mix the objects of two renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml
from helm_python import _native

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "saga-platform"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
# The API group of the Prometheus Operator's PodMonitor and PrometheusRule.
MONITORING_API = "monitoring.coreos.com/v1"
# Read in place, never copied (../shared/schemas/README.md); tests skip when it is absent.
SHARED_SCHEMAS = REPO.parent / "shared" / "schemas"

DEFAULT = "default"
RENDER_NAMES = [DEFAULT, *(path.stem for path in CI_VALUES)]
APP_IDS = ("orchestrator", "inventory", "payment", "shipping")
COMPONENTS = (*APP_IDS, "operator")

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Render:
    """One `helm template` of the chart: its values file, templates and objects."""

    name: str
    values: dict[str, Any]
    release: str
    namespace: str
    templates: dict[str, str]
    objects: list[Manifest] = field(default_factory=list)
    crds: list[Manifest] = field(default_factory=list)

    @property
    def notes(self) -> str:
        return next(text for path, text in self.templates.items() if path.endswith("NOTES.txt"))

    def of_kind(self, kind: str) -> list[Manifest]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str) -> Manifest:
        found = [obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name]
        assert len(found) == 1, f"{len(found)} {kind} named {name} in render {self.name}"
        return found[0]

    def name_of(self, component: str) -> str:
        """Object name of a component, as the chart's `saga-platform.componentName` makes it:
        the full name ("<release>-saga-platform", or the release name when it holds the chart
        name) cut to 40 characters, then the component."""
        full = self.release if "saga-platform" in self.release else f"{self.release}-saga-platform"
        return f"{full[:40].rstrip('-')}-{component}"

    def deployment(self, component: str) -> Manifest:
        return self.one("Deployment", self.name_of(component))

    def pod_specs(self) -> Iterator[tuple[str, Manifest, Manifest]]:
        """(owner name, pod metadata, pod spec) of every pod the render would create."""
        for deployment in self.of_kind("Deployment"):
            template = deployment["spec"]["template"]
            yield deployment["metadata"]["name"], template["metadata"], template["spec"]
        for pod in self.of_kind("Pod"):
            yield pod["metadata"]["name"], pod["metadata"], pod["spec"]

    def yaml_stream(self) -> str:
        """The objects as one multi-document YAML stream, as `helm template` prints them."""
        return yaml.safe_dump_all(self.objects, sort_keys=False)


def values_of(name: str) -> dict[str, Any]:
    if name == DEFAULT:
        return {}
    values: dict[str, Any] = helm.values_from_yaml((CHART / "ci" / f"{name}.yaml").read_text())
    return values


def render(
    chart: helm.Chart,
    values: dict[str, Any],
    *,
    name: str,
    release: str,
    namespace: str,
    api_versions: tuple[str, ...] = (),
) -> Render:
    """`helm template`; `api_versions` are what `--api-versions` adds to the cluster's
    `.Capabilities.APIVersions` (`Chart.render` has no such argument: the engine's
    `api_versions` option is passed as `helm template` would)."""
    if api_versions:
        options = {
            "name": release,
            "namespace": namespace,
            "is_install": True,
            "api_versions": list(api_versions),
        }
        rendered = _native.call_string(
            "helm_render", chart._raw(), json.dumps(values), json.dumps(options)
        )
        templates: dict[str, str] = json.loads(rendered)
    else:
        templates = chart.render(values=values, name=release, namespace=namespace, is_install=True)
    objects = [
        document
        for path, text in sorted(templates.items())
        if not path.endswith("NOTES.txt")
        for document in yaml.safe_load_all(text)
        if document
    ]
    crds = [yaml.safe_load(crd["data"]) for crd in chart.crds]
    return Render(name, values, release, namespace, templates, objects, crds)


def render_named(chart: helm.Chart, name: str) -> Render:
    """The render of the default values or of one ci/ values file, in its own namespace."""
    release = "saga" if name == DEFAULT else f"saga-{name}"[:30].rstrip("-")
    return render(chart, values_of(name), name=name, release=release, namespace=release)


def containers(pod_spec: Manifest) -> list[Manifest]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {item["name"]: item for item in container.get("env", [])}
