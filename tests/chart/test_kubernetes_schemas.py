"""Every built-in Kubernetes object the chart renders (and its CRD) validates strictly, unknown
fields refused, against the schemas of Kubernetes 1.30 (the chart's kubeVersion floor) and of
the newest release kubernetes-validate knows."""

from __future__ import annotations

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import latest_version  # type: ignore[import-untyped]

from tests.chart.rendering import Manifest, Render

KUBERNETES_VERSIONS = ["1.30.0", latest_version()]


def _built_in(render: Render) -> list[Manifest]:
    """The objects of Kubernetes' own API groups (Dapr's are checked against Dapr's CRDs)."""
    return [
        obj
        for obj in [*render.objects, *render.crds]
        if not obj["apiVersion"].startswith("dapr.io/")
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_objects_validate_strictly(each_render: Render, version: str) -> None:
    objects = _built_in(each_render)
    assert objects
    failures = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{obj['kind']} {obj['metadata']['name']}: {error.message}")
    assert failures == []


def test_strict_validation_refuses_an_unknown_field(each_render: Render) -> None:
    """The validator is strict: a misspelt field of a rendered object fails."""
    deployment = next(obj for obj in each_render.objects if obj["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)
