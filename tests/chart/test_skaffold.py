"""skaffold.yaml validates against skaffold's published JSON schema for its apiVersion (read
in place from ../shared/schemas/skaffold/), builds the five Dockerfile targets and hands each
image to the value the chart reads it from."""

from __future__ import annotations

import json
import re
from typing import Any

import helm_python as helm
import jsonschema
import pytest
import yaml

from tests.chart.rendering import COMPONENTS, REPO, SHARED_SCHEMAS, render

SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())
RELEASE = SKAFFOLD["deploy"]["helm"]["releases"][0]


def _sanitized(image: str) -> str:
    """skaffold's template name of an artifact: `/ - . :` become `_`."""
    return re.sub(r"[/\-.:]", "_", image)


def test_skaffold_yaml_validates_against_the_published_schema() -> None:
    version = SKAFFOLD["apiVersion"].removeprefix("skaffold/")
    path = SHARED_SCHEMAS / "skaffold" / f"{version}.json"
    if not path.is_file():
        pytest.skip(f"skaffold schema {path} not found (shared/schemas is absent)")
    schema = json.loads(path.read_text())
    errors = [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(SKAFFOLD)
    ]
    assert errors == []


def test_each_dockerfile_target_is_built_once() -> None:
    targets = re.findall(r"^FROM \S+ AS (\w+)$", (REPO / "Dockerfile").read_text(), re.M)
    artifacts = SKAFFOLD["build"]["artifacts"]
    assert sorted(a["docker"]["target"] for a in artifacts) == sorted(COMPONENTS)
    assert set(COMPONENTS) <= set(targets)
    for artifact in artifacts:
        assert artifact["image"] == f"saga-platform/{artifact['docker']['target']}"


def test_each_image_reaches_its_chart_value() -> None:
    templates = RELEASE["setValueTemplates"]
    for artifact in SKAFFOLD["build"]["artifacts"]:
        app, name = artifact["docker"]["target"], _sanitized(artifact["image"])
        assert templates[f"{app}.image.repository"] == f"{{{{.IMAGE_REPO_{name}}}}}"
        assert templates[f"{app}.image.tag"] == (
            f"{{{{.IMAGE_TAG_{name}}}}}@{{{{.IMAGE_DIGEST_{name}}}}}"
        )
    assert len(templates) == 2 * len(COMPONENTS)


def _as_values(flat: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = values
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = {"true": True, "false": False}.get(value, value)
    return values


def _expand(template: str, digest: str) -> str:
    """What skaffold makes of a value template, for an image built as registry.local/<name>:v1."""
    fields = {
        "REPO": lambda name: f"registry.local/{name}",
        "TAG": lambda _: "v1",
        "DIGEST": lambda _: digest,
    }
    return re.sub(
        r"\{\{\.IMAGE_(REPO|TAG|DIGEST)_(\w+)\}\}",
        lambda match: fields[match[1]](match[2]),
        template,
    )


@pytest.mark.parametrize("digest", ["", "sha256:" + "b" * 64], ids=["kind-loaded", "pushed"])
def test_the_values_skaffold_sets_render(chart: helm.Chart, digest: str) -> None:
    """What skaffold passes (`--set`) satisfies the values schema and renders, with a digest
    (pushed images) or without one (images loaded into kind), for the kind profile too."""
    flat = {
        key: _expand(template, digest) for key, template in RELEASE["setValueTemplates"].items()
    }
    [kind] = [profile for profile in SKAFFOLD["profiles"] if profile["name"] == "kind"]
    [set_values] = [p["value"] for p in kind["patches"] if p["path"].endswith("/setValues")]
    values = _as_values({**flat, **set_values})
    chart.validate_schema(values)
    rendered = render(
        chart, values, name="skaffold", release=RELEASE["name"], namespace=RELEASE["namespace"]
    )
    for component in COMPONENTS:
        [container] = rendered.deployment(component)["spec"]["template"]["spec"]["containers"]
        expected = f"registry.local/saga_platform_{component}:v1" + (f"@{digest}" if digest else "")
        assert container["image"] == expected


def test_the_kind_profile_loads_images_instead_of_pushing() -> None:
    [kind] = [profile for profile in SKAFFOLD["profiles"] if profile["name"] == "kind"]
    assert kind["activation"] == [{"kubeContext": "kind-.*"}]
    assert {"op": "add", "path": "/build/local/push", "value": False} in kind["patches"]


def test_the_api_is_port_forwarded(chart: helm.Chart) -> None:
    rendered = render(
        chart, {}, name="skaffold", release=RELEASE["name"], namespace=RELEASE["namespace"]
    )
    [forward] = SKAFFOLD["portForward"]
    service = rendered.one("Service", forward["resourceName"])
    assert forward["resourceType"] == "service"
    assert forward["namespace"] == RELEASE["namespace"]
    assert forward["port"] in [port["port"] for port in service["spec"]["ports"]]
    assert RELEASE["chartPath"] == "charts/saga-platform"
