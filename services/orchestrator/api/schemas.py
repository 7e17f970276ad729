"""The management API's request and response bodies, and their translation from the SDK.

JSON is camelCase, as everywhere on the platform. The translation functions are pure
(a `WorkflowState` or history events in, a model out), so they are tested without a sidecar.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from services.contracts.messages import StockLevel
from services.orchestrator.api.validation import (
    GO_DURATION_PATTERN,
    RUN_STATUS_NAMES,
    STATUS_LIST_PATTERN,
    Rfc3339,
)

InstanceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]

# The statuses a run can report, as `dapr workflow list` shows them.
RUN_STATUSES = RUN_STATUS_NAMES


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# --- requests --------------------------------------------------------------------------


class StartRun(ApiModel):
    input: Any = Field(default=None, description="The workflow's input (JSON).")
    instance_id: InstanceId | None = Field(
        default=None,
        description="Instance id; default `order-<orderId>` for order_saga, "
        "`approval-<orderId>` for approval, a random id otherwise.",
    )
    start_time: Rfc3339 | None = Field(
        default=None,
        description="When the run starts (RFC 3339; UTC when it names no zone), as `dapr "
        "workflow run --start-time`; until then it is PENDING. Default: now.",
    )


class RaiseEvent(ApiModel):
    data: Any = Field(default=None, description="The event's payload (JSON).")


class Reason(ApiModel):
    reason: Annotated[str, Field(max_length=1000)] | None = None


class Terminate(ApiModel):
    output: Any = Field(default=None, description="Recorded as the run's output.")
    reason: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, description="Why, for the audit trail."
    )


class Rerun(ApiModel):
    event_id: int | None = Field(
        default=None,
        ge=0,
        le=4_294_967_295,
        description="The history event the new run starts again from (a scheduled "
        "activity's `eventId`); everything before it is replayed, not re-executed. "
        "Default: the first activity, timer or child workflow the run scheduled (a rerun "
        "from the beginning).",
    )
    new_instance_id: InstanceId | None = Field(
        default=None, description="The new run's instance id; default a random id."
    )
    input: Any = Field(
        default=None,
        description="Replaces the recorded input of that event (JSON); leave the field out "
        "to keep it.",
    )


class PurgeRuns(ApiModel):
    """Exactly one of `olderThan`, `createdBefore` and `all` says which runs go."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["olderThan"], "properties": {"olderThan": {"type": "string"}}},
                {
                    "required": ["createdBefore"],
                    "properties": {"createdBefore": {"type": "string"}},
                },
                {"required": ["all"], "properties": {"all": {"const": True}}},
            ]
        }
    )

    older_than: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] | None = Field(
        default=None,
        description="Go duration (`720h`, `1h30m`): purge runs created before now minus this.",
        examples=["720h"],
    )
    created_before: Rfc3339 | None = Field(
        default=None, description="Purge runs created before this moment (RFC 3339)."
    )
    all: bool = Field(default=False, description="Purge runs whatever their age.")
    status: Annotated[str, Field(pattern=STATUS_LIST_PATTERN)] | None = Field(
        default=None,
        description="Only runs with this runtime status (or several, comma-separated); "
        "default every terminal status. A status that is not terminal needs `force`.",
    )
    force: bool = Field(
        default=False,
        description="Purge outside the workflow state machine, whatever the run's state "
        "(as `dapr workflow purge --force`); only for runs no worker is processing.",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> PurgeRuns:
        chosen = [self.older_than is not None, self.created_before is not None, self.all]
        if sum(chosen) != 1:
            raise ValueError("give exactly one of olderThan, createdBefore and all: true")
        return self


class Approve(ApiModel):
    """The approver is the caller (the token's subject), never a field of the body."""

    reason: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class Reject(ApiModel):
    """The approver is the caller (the token's subject), never a field of the body."""

    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class CancelOrder(ApiModel):
    reason: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="Why; recorded in the audit trail and the saga's outcome."
    )


# --- responses -------------------------------------------------------------------------


class RunStarted(ApiModel):
    instance_id: str


class Accepted(ApiModel):
    instance_id: str


class Failure(ApiModel):
    type: str
    message: str
    stack_trace: str | None = None


class Run(ApiModel):
    instance_id: str
    name: str
    status: str
    created_at: datetime
    last_updated_at: datetime
    input: Any = None
    output: Any = None
    custom_status: Any = None
    failure: Failure | None = None


class RunPage(ApiModel):
    items: list[Run]
    continuation_token: str | None = Field(
        default=None, description="Pass back to get the next page; null on the last page."
    )


class HistoryEvent(ApiModel):
    kind: str = Field(description="Event type, e.g. TaskScheduled, EventRaised.")
    event_id: int = Field(description="The event's id in the run; -1 when it has none.")
    timestamp: datetime
    name: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class History(ApiModel):
    instance_id: str
    events: list[HistoryEvent]


class TraceSpan(ApiModel):
    """One span of a run's trace, as the local span store keeps it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    start: datetime
    duration_ms: float
    status: str
    attributes: dict[str, Any]


class RunTrace(ApiModel):
    instance_id: str
    spans: list[TraceSpan] = Field(description="Every span of the run's traces, by start time.")


class Purged(ApiModel):
    purged: int
    instance_ids: list[str]


class Approval(ApiModel):
    order_id: str
    instance_id: str
    status: str
    saga_id: str | None = None
    customer_id: str | None = None
    amount_cents: int | None = None
    currency: str | None = None
    requested_at: datetime
    expires_at: datetime | None = None


class ApprovalList(ApiModel):
    items: list[Approval]


class ApprovalDecisionAccepted(ApiModel):
    order_id: str
    instance_id: str
    approved: bool


class OrderAccepted(ApiModel):
    order_id: str
    saga_id: str


class CancelAccepted(ApiModel):
    order_id: str
    saga_id: str
    approval_withdrawn: bool = Field(
        description="A pending approval of the order was ended with the cancellation."
    )


class StockList(ApiModel):
    items: list[StockLevel]


class Health(ApiModel):
    status: str = "ok"


class Readiness(ApiModel):
    status: str = "ready"
    checks: dict[str, str] = Field(description="Each dependency's state: `ok` or why not.")


# --- translation -----------------------------------------------------------------------


def as_utc(moment: datetime) -> datetime:
    """The SDK hands out naive datetimes that are UTC; the API says so."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def decode_payload(text: str | None) -> Any:
    """Workflow payloads are JSON strings; one that is not is shown as it is."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def status_name(state: Any) -> str:
    return str(state.runtime_status.name)


def run_from_state(state: Any) -> Run:
    failure = state.failure_details
    return Run(
        instance_id=state.instance_id,
        name=state.name,
        status=status_name(state),
        created_at=as_utc(state.created_at),
        last_updated_at=as_utc(state.last_updated_at),
        input=decode_payload(state.serialized_input),
        output=decode_payload(state.serialized_output),
        custom_status=decode_payload(state.serialized_custom_status),
        failure=None
        if failure is None
        else Failure(
            type=failure.error_type or "",
            message=failure.message or "",
            stack_trace=failure.stack_trace,
        ),
    )


# Fields of the durable-task payloads that describe plumbing (tracing, attestation,
# rerun bookkeeping), not what happened.
_PLUMBING = frozenset(
    {
        "name",
        "parentTraceContext",
        "attestation",
        "signerCertificate",
        "rerunParentInstanceInfo",
        "retryParentInstanceInfo",
        "historyPropagationScope",
        "taskExecutionId",
        "workflowSpanID",
    }
)


def _kind(field_name: str) -> str:
    return field_name[:1].upper() + field_name[1:] if field_name else "Unknown"


def _failure(failure_details: dict[str, Any]) -> dict[str, Any]:
    failure = {
        "type": failure_details.get("errorType", ""),
        "message": failure_details.get("errorMessage", ""),
    }
    if failure_details.get("stackTrace"):
        failure["stackTrace"] = failure_details["stackTrace"]
    return failure


def history_event_from_proto(event: Any) -> HistoryEvent:
    """One durable-task `HistoryEvent` message, with its payload's fields as `details`."""
    field_name = event.WhichOneof("eventType") or ""
    payload = getattr(event, field_name) if field_name else None
    details: dict[str, Any] = {}
    if payload is not None:
        details = {
            key: value
            for key, value in json_format.MessageToDict(payload).items()
            if key not in _PLUMBING and value != {}
        }
        # Ids that default to 0 are left out by MessageToDict, yet 0 is a real event id.
        for correlation in ("taskScheduledId", "timerId"):
            if correlation in payload.DESCRIPTOR.fields_by_name:
                details[correlation] = getattr(payload, correlation)
        for key in ("input", "result"):
            if key in details:
                details[key] = decode_payload(details[key])
        if "failureDetails" in details:
            details["failure"] = _failure(details.pop("failureDetails"))
        if field_name in {"executionSuspended", "executionResumed"}:
            # The payload is the operator's reason, plain text rather than JSON.
            details = {"reason": payload.input.value} if payload.HasField("input") else {}
        if "workflowStatus" in details:
            details["workflowStatus"] = str(details["workflowStatus"]).removeprefix(
                "ORCHESTRATION_STATUS_"
            )
    name = getattr(payload, "name", "") if payload is not None else ""
    return HistoryEvent(
        kind=_kind(field_name),
        event_id=event.eventId,
        timestamp=as_utc(event.timestamp.ToDatetime()),
        name=name or None,
        details=details,
    )


def history_event_from_summary(event: Any) -> HistoryEvent:
    """The public SDK's `WorkflowHistoryEvent` (names and correlation ids, no payloads)."""
    details: dict[str, Any] = {}
    if event.task_scheduled_id is not None:
        details["taskScheduledId"] = event.task_scheduled_id
    if event.failure_details is not None:
        details["failure"] = {
            "type": event.failure_details.error_type or "",
            "message": event.failure_details.message or "",
        }
    return HistoryEvent(
        kind=_kind(str(event.event_type.value)),
        event_id=event.event_id,
        timestamp=as_utc(event.timestamp),
        name=event.name,
        details=details,
    )
