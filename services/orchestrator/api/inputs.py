"""Validates a workflow's input before a run starts, and picks its default instance id.

A run started with a malformed input would fail deep inside the workflow; the API refuses
it up front (422) instead. Sagas and batches get the API's configured `SagaConfig` unless
the input carries its own, so runs started here behave as runs started from `orders`.
"""

from __future__ import annotations

from typing import Any

from services.contracts.messages import InvalidMessage, OrderPlaced
from services.contracts.names import WorkflowName, approval_instance_id, saga_instance_id
from services.orchestrator.api.errors import validation_failed
from services.orchestrator.workflow_io import (
    ApprovalRequest,
    BatchInput,
    SagaConfig,
    SagaInput,
    StockMonitorInput,
)


def _with_config(raw: dict[str, Any], config: SagaConfig) -> dict[str, Any]:
    return raw if "config" in raw else {**raw, "config": config.to_data()}


def prepare_input(
    name: WorkflowName, raw: Any, config: SagaConfig
) -> tuple[dict[str, Any], str | None]:
    """The validated input (JSON-ready) and the default instance id for workflow `name`."""
    if not isinstance(raw, dict):
        raise validation_failed(f"the input of '{name}' must be a JSON object")
    try:
        match name:
            case WorkflowName.ORDER_SAGA:
                # A bare order (what `orders` carries) or a full SagaInput.
                if "order" in raw:
                    saga = SagaInput.parse(_with_config(raw, config))
                else:
                    saga = SagaInput(order=OrderPlaced.parse(raw), config=config)
                return saga.to_data(), saga_instance_id(saga.order.order_id)
            case WorkflowName.APPROVAL:
                request = ApprovalRequest.parse(raw)
                return request.to_data(), approval_instance_id(request.order_id)
            case WorkflowName.ORDER_BATCH:
                return BatchInput.parse(_with_config(raw, config)).to_data(), None
            case WorkflowName.STOCK_MONITOR:
                return StockMonitorInput.parse(raw).to_data(), None
    except InvalidMessage as error:
        raise validation_failed(error.reason) from None
    raise AssertionError(f"no input model for workflow '{name}'")  # pragma: no cover
