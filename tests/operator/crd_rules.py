"""The WorkflowRun CRD as the API server applies it, for tests: its OpenAPI schema (checked with
`jsonschema`) and its CEL rules (`x-kubernetes-validations`, evaluated with `cel`).

The CEL rules are evaluated where the API server evaluates them: each at its place in the schema,
with `self` the value there; a transition rule (one that reads `oldSelf`) only on an update and
only where the old object has a value too; items of a `list-type: map` list correlated with the
old items by their keys. Unknown fields are refused, as `kubectl apply` does by default (strict
field validation), rather than silently pruned.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import cel
import jsonschema
import yaml

CRD_PATH = Path(__file__).resolve().parents[2] / "operator" / "crd" / "workflowruns.yaml"
SAMPLES = Path(__file__).resolve().parents[2] / "operator" / "samples"

_ABSENT = object()


@cache
def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_PATH.read_text())
    return loaded


def openapi_schema(version: str = "v1alpha1") -> dict[str, Any]:
    for served in crd()["spec"]["versions"]:
        if served["name"] == version:
            schema: dict[str, Any] = served["schema"]["openAPIV3Schema"]
            return schema
    raise KeyError(version)


def json_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI v3 schema as a JSON schema that refuses unknown fields."""
    converted: dict[str, Any] = {}
    for key, value in openapi.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            converted[key] = {name: json_schema(sub) for name, sub in value.items()}
        elif key == "items":
            converted[key] = json_schema(value)
        else:
            converted[key] = copy.deepcopy(value)
    if "properties" in openapi and not openapi.get("x-kubernetes-preserve-unknown-fields"):
        converted["additionalProperties"] = False
    return converted


def schema_errors(obj: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(json_schema(openapi_schema()))
    return sorted(
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(obj)
    )


def rule_errors(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[str]:
    """The messages of the CEL rules `new` breaks (as an update of `old`, when given)."""
    return [
        f"{path}: {message}"
        for path, message in _walk(openapi_schema(), new, old if old is not None else _ABSENT, "")
    ]


def admission_errors(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[str]:
    """Everything the API server would refuse `new` for: schema first, then CEL rules."""
    return schema_errors(new) or rule_errors(new, old)


def _walk(schema: Mapping[str, Any], new: Any, old: Any, path: str) -> Iterator[tuple[str, str]]:
    for rule in schema.get("x-kubernetes-validations", ()):
        reads_old = "oldSelf" in rule["rule"]
        if reads_old and old is _ABSENT:
            continue
        variables = {"self": new, **({"oldSelf": old} if reads_old else {})}
        try:
            passed = cel.compile(rule["rule"]).execute(variables)
        except Exception as error:  # an evaluation error refuses the object too
            yield path or "<root>", f"{rule['rule']}: {error}"
            continue
        if passed is not True:
            yield path or "<root>", str(rule.get("message") or rule["rule"])
    if isinstance(new, Mapping):
        for name, sub in (schema.get("properties") or {}).items():
            if name in new:
                old_value = old.get(name, _ABSENT) if isinstance(old, Mapping) else _ABSENT
                yield from _walk(sub, new[name], old_value, f"{path}.{name}".lstrip("."))
    elif isinstance(new, list) and "items" in schema:
        keys = schema.get("x-kubernetes-list-map-keys") or ()
        old_items: dict[tuple[Any, ...], Any] = {}
        if schema.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            old_items = {tuple(item.get(k) for k in keys): item for item in old}
        for index, item in enumerate(new):
            key = tuple(item.get(k) for k in keys) if isinstance(item, Mapping) else ()
            yield from _walk(schema["items"], item, old_items.get(key, _ABSENT), f"{path}[{index}]")


def load_sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())
    return loaded
