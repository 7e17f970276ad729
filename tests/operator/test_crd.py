"""The WorkflowRun CRD: a structural schema the API server accepts, samples it accepts or
refuses as intended, and CEL rules that keep the run's identity immutable and events append-only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cel
import pytest

from services.contracts.names import WorkflowName
from services.orchestrator.api.inputs import prepare_input
from services.orchestrator.workflow_io import SagaConfig
from tests.operator import crd_rules
from tests.operator.crd_rules import SAMPLES, crd, load_sample, openapi_schema
from workflowrun_operator.crd import GROUP, KIND, PLURAL, VERSION

# What a structural schema may say (https://kubernetes.io/docs/tasks/extend-kubernetes/
# custom-resources/custom-resource-definitions/#specifying-a-structural-schema).
KEYWORDS = {
    "type", "format", "description", "title", "properties", "required", "items", "enum",
    "pattern", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems", "minProperties",
    "maxProperties", "default", "nullable", "additionalProperties", "example",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource",
}  # fmt: skip
TYPES = {"object", "array", "string", "integer", "number", "boolean"}


def nodes(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path or "<root>", schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from nodes(sub, f"{path}.{name}".lstrip("."))
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


# -- the CRD itself ------------------------------------------------------------------------


def test_the_resource_is_namespaced_versioned_and_short_named() -> None:
    spec = crd()["spec"]
    assert crd()["metadata"]["name"] == f"{PLURAL}.{GROUP}"
    assert (spec["group"], spec["scope"]) == (GROUP, "Namespaced")
    assert spec["names"]["kind"] == KIND
    assert spec["names"]["plural"] == PLURAL
    assert "wfr" in spec["names"]["shortNames"]
    [version] = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
    assert version["subresources"] == {"status": {}}


def test_every_schema_node_is_typed_or_explicitly_free_form() -> None:
    for path, node in nodes(openapi_schema()):
        free_form = node.get("x-kubernetes-preserve-unknown-fields") is True
        assert node.get("type") in TYPES or (free_form and "type" not in node), path
        assert set(node) <= KEYWORDS, f"{path}: unknown keywords {set(node) - KEYWORDS}"
        if node.get("type") == "array":
            assert "items" in node, f"{path}: an array says what its items are"
        if "properties" in node:
            assert "additionalProperties" not in node, path
        for required in node.get("required") or ():
            assert required in (node.get("properties") or {}), f"{path}: {required} is unknown"


def test_the_only_free_form_fields_are_the_payloads() -> None:
    free_form = {
        path
        for path, node in nodes(openapi_schema())
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert free_form == {"spec.input", "spec.events[].data", "status.output"}


def test_status_has_an_explicit_schema() -> None:
    status = openapi_schema()["properties"]["status"]
    assert status["type"] == "object"
    assert "x-kubernetes-preserve-unknown-fields" not in status
    assert set(status["properties"]) == {
        "phase", "runtimeStatus", "instanceId", "output", "failure", "createdAt",
        "lastUpdatedAt", "startedAt", "finishedAt", "observedGeneration", "processedEvents",
        "conditions",
    }  # fmt: skip
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["required"]) == {
        "type", "status", "lastTransitionTime", "reason", "message",
    }  # fmt: skip


def test_list_map_keys_are_required_scalars() -> None:
    for path, node in nodes(openapi_schema()):
        if node.get("x-kubernetes-list-type") == "map":
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in node["items"]["required"], f"{path}: {key}"
                assert node["items"]["properties"][key]["type"] == "string", f"{path}: {key}"


def test_every_cel_rule_compiles_and_says_what_it_refuses() -> None:
    rules = [
        rule
        for _, node in nodes(openapi_schema())
        for rule in node.get("x-kubernetes-validations", ())
    ]
    assert len(rules) >= 5
    for rule in rules:
        cel.compile(rule["rule"])
        assert rule["message"]


def test_printer_columns_show_workflow_phase_reason_instance_and_age() -> None:
    [version] = crd()["spec"]["versions"]
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert list(columns) == ["Workflow", "Phase", "Reason", "Instance", "Age"]
    assert columns["Workflow"]["jsonPath"] == ".spec.workflowName"
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert columns["Reason"]["jsonPath"] == '.status.conditions[?(@.type=="Succeeded")].reason'
    assert columns["Instance"]["jsonPath"] == ".status.instanceId"
    assert (columns["Age"]["type"], columns["Age"]["jsonPath"]) == (
        "date",
        ".metadata.creationTimestamp",
    )


def test_defaults_are_valid_values_of_their_fields() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    assert spec["suspend"]["default"] is False
    assert spec["purgeOnDelete"]["default"] is True


def test_the_phases_are_the_ones_the_operator_writes() -> None:
    from workflowrun_operator.status import Phase

    phases = openapi_schema()["properties"]["status"]["properties"]["phase"]["enum"]
    assert set(phases) == {str(phase) for phase in Phase}


# -- samples -------------------------------------------------------------------------------

VALID = sorted(path.name for path in SAMPLES.glob("*.yaml"))
INVALID = {
    "missing-workflow-name.yaml": "spec: 'workflowName' is a required property",
    "misspelled-field.yaml": "'workflowname' was unexpected",
    "bad-instance-id.yaml": "spec.instanceId",
    "event-without-id.yaml": "spec.events.0: 'id' is a required property",
    "negative-ttl.yaml": "spec.ttlSecondsAfterFinished",
    "terminate-without-reason.yaml": "spec.terminate: 'reason' is a required property",
    "bad-workflow-name.yaml": "spec.workflowName",
}


def test_every_invalid_sample_is_listed_here() -> None:
    assert sorted(path.name for path in (SAMPLES / "invalid").glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("name", VALID)
def test_sample_is_accepted(name: str) -> None:
    sample = load_sample(name)
    assert crd_rules.admission_errors(sample) == []
    # ... and so is its input, by the orchestrator's management API.
    workflow = WorkflowName(sample["spec"]["workflowName"])
    prepare_input(workflow, sample["spec"]["input"], SagaConfig())


@pytest.mark.parametrize(("name", "expected"), sorted(INVALID.items()))
def test_invalid_sample_is_refused(name: str, expected: str) -> None:
    errors = crd_rules.schema_errors(load_sample(str(Path("invalid") / name)))
    assert errors
    assert any(expected in error for error in errors), errors


# -- CEL transition rules ------------------------------------------------------------------

APPROVED: dict[str, Any] = {"id": "d1", "name": "approval_decision", "data": {"approved": True}}


def updated(**spec_changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    old = load_sample("approval.yaml")
    old["spec"]["events"] = [APPROVED]
    new = copy.deepcopy(old)
    for key, value in spec_changes.items():
        if value is None:
            new["spec"].pop(key, None)
        else:
            new["spec"][key] = value
    return new, old


ACCEPTED_CHANGES: dict[str, dict[str, Any]] = {
    "suspend": {"suspend": True},
    "terminate": {"terminate": {"reason": "cancelled"}},
    "append an event": {"events": [APPROVED, {**APPROVED, "id": "d2"}]},
    "reorder with an append": {"events": [{**APPROVED, "id": "d2"}, APPROVED]},
    "ttl": {"ttlSecondsAfterFinished": 60},
    "purgeOnDelete": {"purgeOnDelete": False},
    # Entries are matched by id; a raised event is not raised again, so its data is moot.
    "data of a listed event": {"events": [{**APPROVED, "data": {"approved": False}}]},
}

REFUSED_CHANGES: dict[str, tuple[dict[str, Any], str]] = {
    "workflowName": ({"workflowName": "order_saga"}, "workflowName is immutable"),
    "input": ({"input": {"orderId": "o-2"}}, "input is immutable"),
    "input removed": ({"input": None}, "input is immutable"),
    "instanceId added": ({"instanceId": "approval-x"}, "instanceId is immutable"),
    "event removed": ({"events": []}, "events is append-only"),
    "event replaced": ({"events": [{**APPROVED, "id": "d2"}]}, "events is append-only"),
    "events dropped": ({"events": None}, "events is append-only"),
    "event renamed": ({"events": [{**APPROVED, "name": "other"}]}, "an event's name cannot change"),
}


@pytest.mark.parametrize("change", sorted(ACCEPTED_CHANGES))
def test_update_is_accepted(change: str) -> None:
    new, old = updated(**ACCEPTED_CHANGES[change])
    assert crd_rules.admission_errors(new, old) == []


@pytest.mark.parametrize("change", sorted(REFUSED_CHANGES))
def test_update_is_refused(change: str) -> None:
    spec_changes, message = REFUSED_CHANGES[change]
    new, old = updated(**spec_changes)
    errors = crd_rules.rule_errors(new, old)
    assert any(message in error for error in errors), errors


def test_instance_id_once_set_cannot_change_or_go() -> None:
    old = load_sample("order-saga.yaml")
    for change in ("order-other", None):
        new = copy.deepcopy(old)
        if change is None:
            del new["spec"]["instanceId"]
        else:
            new["spec"]["instanceId"] = change
        assert any("instanceId is immutable" in e for e in crd_rules.rule_errors(new, old))


def test_transition_rules_do_not_apply_on_create() -> None:
    assert crd_rules.rule_errors(load_sample("approval.yaml")) == []
