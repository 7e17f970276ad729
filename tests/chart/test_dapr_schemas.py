"""Every Dapr object the chart renders (and each local resource in components/) validates
against the CustomResourceDefinitions of Dapr v1.18.3, read in place from
../shared/schemas/dapr-v1.18.3/.

The CRDs' schemas are structural, and the API server refuses unknown fields under strict field
validation (kubectl's default): the schemas are closed the same way here, every object that
declares its properties refusing others unless it preserves unknown fields.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.chart.rendering import REPO, SHARED_SCHEMAS, Manifest, Render

DAPR_SCHEMAS = SHARED_SCHEMAS / "dapr-v1.18.3"

Validators = dict[tuple[str, str], jsonschema.Draft7Validator]


def _closed(schema: Any) -> Any:
    """The schema with unknown fields refused where the API server would prune them."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if (
            "properties" in closed
            and "additionalProperties" not in closed
            and not closed.get("x-kubernetes-preserve-unknown-fields")
        ):
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def dapr_validators() -> Validators:
    """(apiVersion, kind) -> validator, for every served version of every Dapr CRD."""
    if not DAPR_SCHEMAS.is_dir():
        pytest.skip(f"Dapr CRD schemas not found at {DAPR_SCHEMAS} (shared/schemas is absent)")
    validators: Validators = {}
    for path in sorted(DAPR_SCHEMAS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served", True):
                    schema = _closed(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                    validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(
                        schema
                    )
    assert validators, f"no CustomResourceDefinition in {DAPR_SCHEMAS}"
    return validators


def _errors(validators: Validators, obj: Manifest) -> Iterator[str]:
    validator = validators.get((obj["apiVersion"], obj["kind"]))
    if validator is None:
        yield f"{obj['apiVersion']} {obj['kind']} is not a resource of Dapr v1.18.3"
        return
    for error in validator.iter_errors(obj):
        where = "/".join(str(part) for part in error.absolute_path)
        yield f"{obj['kind']} {obj['metadata']['name']} at /{where}: {error.message}"


def test_dapr_objects_validate_against_the_dapr_crds(
    each_render: Render, dapr_validators: Validators
) -> None:
    dapr_objects = [obj for obj in each_render.objects if obj["apiVersion"].startswith("dapr.io/")]
    if each_render.name != "components-off":
        assert dapr_objects
    failures = [error for obj in dapr_objects for error in _errors(dapr_validators, obj)]
    assert failures == []


def test_the_closed_schemas_refuse_a_misspelt_field(dapr_validators: Validators) -> None:
    component = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "pubsub"},
        "spec": {"type": "pubsub.redis", "version": "v1", "metadatas": []},
    }
    assert list(_errors(dapr_validators, component))


@pytest.mark.parametrize(
    "path", sorted((REPO / "components").glob("*.yaml")), ids=lambda path: Path(path).name
)
def test_local_components_validate_against_the_dapr_crds(
    path: Path, dapr_validators: Validators
) -> None:
    failures = [
        error
        for obj in yaml.safe_load_all(path.read_text())
        if obj
        for error in _errors(dapr_validators, obj)
    ]
    assert failures == []
