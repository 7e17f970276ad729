"""The orchestrator's activities: all of its workflows' I/O, through the Dapr SDK.

Workflow code must replay deterministically, so it never publishes or reads state itself;
it calls these activities, whose results the workflow history records. Each activity takes
and returns JSON-ready dicts (the contracts' camelCase form), validates its input against
the contract before anything leaves the process, and raises on failure so the workflow's
retry policy (`IO_RETRY`, `workflows/common.py`) runs it again.

Publishing is at-least-once (an activity may run again after a crash): every command
carries its deterministic `commandId`, so the services' handlers make a second copy
harmless, and status events are idempotent facts about a saga.

Each command is sent inside a span of its saga step, compensation or completion (`saga.id`,
`order.id`, `saga.step`), a child of the span the SDK opens for the activity in the
workflow's trace; the workflows themselves make no span (they replay). The command's
service continues that trace.

The saga metrics are counted here, not in the workflows (which replay), once per saga id
(`services.orchestrator.metrics`): started with the first command, finished with the
outcome and the durations the saga measured on its own clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from dapr.clients import DaprClient
from dapr.ext.workflow import WorkflowActivityContext

from services.common.messaging import publish
from services.common.spans import saga_span, tag_saga
from services.contracts.messages import ApprovalRequested, InvalidMessage, OrderStatus, StockLevel
from services.contracts.names import STATESTORE, EventType, Topic, stock_key
from services.contracts.topology import (
    COMMAND_TOPICS,
    COMMANDS,
    SAGA_COMPLETIONS,
    SAGA_STEPS,
    STATUS_EVENT_TYPES,
)
from services.orchestrator import metrics
from services.orchestrator.workflow_io import SagaTimings

log = logging.getLogger("services.orchestrator.activities")


class ActivityName(StrEnum):
    """The names the activities are registered under (and called by, from workflows)."""

    SEND_COMMAND = "send_command"
    PUBLISH_ORDER_STATUS = "publish_order_status"
    PUBLISH_APPROVAL_REQUEST = "publish_approval_request"
    READ_STOCK_LEVELS = "read_stock_levels"
    PUBLISH_LOW_STOCK_ALERT = "publish_low_stock_alert"


Activity = Callable[[WorkflowActivityContext, Any], Any]

# Each command's place in the saga, for its span: (kind, name).
SAGA_PLACES: dict[EventType, tuple[str, str]] = {
    **{step.command: ("step", str(step.name)) for step in SAGA_STEPS},
    **{
        step.compensation.command: ("compensation", str(step.compensation.name))
        for step in SAGA_STEPS
    },
    **{done.command: ("completion", str(done.name)) for done in SAGA_COMPLETIONS},
}


def command_input(event_type: EventType, command: dict[str, Any]) -> dict[str, Any]:
    """The input of `send_command`: the command's CloudEvent type and its body."""
    return {"type": str(event_type), "command": command}


def status_input(
    event_type: EventType, status: dict[str, Any], timings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The input of `publish_order_status`: the status event's type, its body and what the
    saga measured (`SagaTimings`, for the metrics; absent from runs of older code)."""
    data = {"type": str(event_type), "status": status}
    return data if timings is None else {**data, "timings": timings}


class OrchestratorActivities:
    """The activities, bound to one `DaprClient` (thread-safe; activities run in a pool)."""

    def __init__(self, dapr: DaprClient) -> None:
        self.dapr = dapr

    def by_name(self) -> dict[ActivityName, Activity]:
        return {
            ActivityName.SEND_COMMAND: self.send_command,
            ActivityName.PUBLISH_ORDER_STATUS: self.publish_order_status,
            ActivityName.PUBLISH_APPROVAL_REQUEST: self.publish_approval_request,
            ActivityName.READ_STOCK_LEVELS: self.read_stock_levels,
            ActivityName.PUBLISH_LOW_STOCK_ALERT: self.publish_low_stock_alert,
        }

    def send_command(self, ctx: WorkflowActivityContext, data: dict[str, Any]) -> None:
        """Publishes one saga command on its service's command topic."""
        event_type = EventType(data["type"])
        command = COMMANDS[event_type].parse(data["command"])
        if event_type == SAGA_STEPS[0].command:
            metrics.record_saga_started(command.saga_id)
        kind, step = SAGA_PLACES.get(event_type, ("command", str(event_type)))
        with saga_span(kind, step, command.saga_id, command.order_id):
            publish(self.dapr, COMMAND_TOPICS[event_type], event_type, command)
            log.info(
                "command sent",
                extra={
                    "saga_id": command.saga_id,
                    "command": str(event_type),
                    "command_id": command.command_id,
                },
            )

    def publish_order_status(self, ctx: WorkflowActivityContext, data: dict[str, Any]) -> None:
        """Publishes how a saga ended (`order.completed` / `order.failed` / ...)."""
        event_type = EventType(data["type"])
        if event_type not in STATUS_EVENT_TYPES:
            raise InvalidMessage(f"'{event_type}' is not an order status event")
        status = OrderStatus.parse(data["status"])
        timings = SagaTimings.parse(data.get("timings") or {})
        tag_saga(status.saga_id, status.order_id)
        publish(self.dapr, Topic.ORDER_STATUS, event_type, status)
        metrics.record_saga_finished(status, timings)
        log.info(
            "order status published",
            extra={
                "saga_id": status.saga_id,
                "event_type": str(event_type),
                "outcome": status.outcome,
            },
        )

    def publish_approval_request(self, ctx: WorkflowActivityContext, data: dict[str, Any]) -> None:
        """Publishes `approval.requested` (also as the reminder, with `reminder: true`)."""
        request = ApprovalRequested.parse(data)
        tag_saga(request.saga_id, request.order_id)
        publish(self.dapr, Topic.ORDER_STATUS, EventType.APPROVAL_REQUESTED, request)
        if not request.reminder:
            metrics.record_approval_requested(request.approval_id)
        log.info(
            "approval requested",
            extra={
                "saga_id": request.saga_id,
                "reminder": request.reminder,
                "expires_at": request.expires_at.isoformat(),
            },
        )

    def read_stock_levels(
        self, ctx: WorkflowActivityContext, data: dict[str, Any]
    ) -> dict[str, dict[str, Any] | None]:
        """Each SKU's `StockLevel` as the inventory keeps it; None for a SKU it does not
        know, or whose stored value does not match the contract (logged as an error)."""
        levels: dict[str, dict[str, Any] | None] = {}
        for sku in data["skus"]:
            item = self.dapr.get_state(STATESTORE, stock_key(sku))
            levels[sku] = None
            if not item.data:
                continue
            try:
                levels[sku] = StockLevel.parse(item.data).to_data()
            except InvalidMessage as error:
                log.error(
                    "unreadable stock level",
                    extra={"sku": sku, "reason": error.reason},
                )
        return levels

    def publish_low_stock_alert(self, ctx: WorkflowActivityContext, data: dict[str, Any]) -> None:
        """Publishes `inventory.low-stock` on `order-status` with the SKU's `StockLevel`."""
        level = StockLevel.parse(data)
        publish(self.dapr, Topic.ORDER_STATUS, EventType.INVENTORY_LOW_STOCK, level)
        log.warning(
            "low stock",
            extra={"sku": level.sku, "available": level.available},
        )
