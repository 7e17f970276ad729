"""components-daprd/ (daprd's resources outside Kubernetes: `dapr.daprd.yaml`, the daprd e2e
tier) are the chart's Dapr resources as its default values render them. Only what locates
them in a cluster may differ: namespace, labels, object names, the `kubernetes` secret store,
scopes (every app of a local run uses them, the tests' observer too) and the Redis address
(`localhost:6379`, where `dapr init` starts Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.rendering import DEFAULT, REPO, Manifest, Render

FOLDER = REPO / "components-daprd"
LOCAL_REDIS = "localhost:6379"


def _local(path: Path) -> Manifest:
    document: Manifest = yaml.safe_load(path.read_text())
    return document


def _spec_without_redis_host(resource: Manifest) -> tuple[dict[str, Any], list[str]]:
    """The spec with its `redisHost` values taken out, and those values."""
    spec = dict(resource["spec"])
    items = spec.get("metadata", [])
    hosts = [item["value"] for item in items if item["name"] == "redisHost"]
    if "metadata" in spec:
        spec["metadata"] = [item for item in items if item["name"] != "redisHost"]
    return spec, hosts


LOCAL = {path.name: _local(path) for path in sorted(FOLDER.glob("*.yaml"))}


def test_the_folder_holds_the_charts_components_and_resiliency(
    renders: dict[str, Render],
) -> None:
    rendered = renders[DEFAULT]
    wanted = {
        (obj["kind"], obj["metadata"]["name"] if obj["kind"] == "Component" else obj["kind"])
        for obj in rendered.objects
        if obj["apiVersion"].startswith("dapr.io") and obj["kind"] in {"Component", "Resiliency"}
    }
    held = {
        (doc["kind"], doc["metadata"]["name"] if doc["kind"] == "Component" else doc["kind"])
        for doc in LOCAL.values()
    }
    assert held == wanted


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_each_resource_is_the_charts_but_for_where_it_runs(
    renders: dict[str, Render], name: str
) -> None:
    local = LOCAL[name]
    rendered = renders[DEFAULT]
    if local["kind"] == "Component":
        chart = rendered.one("Component", local["metadata"]["name"])
    else:
        [chart] = rendered.of_kind(local["kind"])
    assert local["apiVersion"] == chart["apiVersion"]
    local_spec, local_hosts = _spec_without_redis_host(local)
    chart_spec, chart_hosts = _spec_without_redis_host(chart)
    assert local_spec == chart_spec
    assert len(local_hosts) == len(chart_hosts)
    assert set(local_hosts) <= {LOCAL_REDIS}
    assert set(local) == {"apiVersion", "kind", "metadata", "spec"}  # no scopes, no auth
