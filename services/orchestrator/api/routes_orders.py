"""Orders and stock: place an order (published on `orders`, as an upstream system would),
cancel one (its saga compensates), and read stock levels from the state store."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from services.common.messaging import publish
from services.contracts.messages import IDENTIFIER_PATTERN, OrderPlaced
from services.contracts.names import EventType, Topic, saga_instance_id
from services.orchestrator.api.audit import AuditAction
from services.orchestrator.api.cancellation import cancel_order as cancel
from services.orchestrator.api.dependencies import AuditDep, DaprDep, GatewayDep, Operator, Reader
from services.orchestrator.api.errors import error_responses
from services.orchestrator.api.schemas import (
    CancelAccepted,
    CancelOrder,
    OrderAccepted,
    StockList,
)
from services.orchestrator.api.stock import stock_levels
from services.orchestrator.api.validation import strict_body

router = APIRouter(prefix="/v1")


@router.post(
    "/orders",
    status_code=HTTPStatus.ACCEPTED,
    tags=["orders"],
    summary="Place an order (publishes order.placed on the orders topic)",
    responses=error_responses(422),
)
def place_order(
    order: OrderPlaced,
    dapr: DaprDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(OrderPlaced))],
    audit: AuditDep,
) -> OrderAccepted:
    publish(dapr, Topic.ORDERS, EventType.ORDER_PLACED, order)
    audit.record(caller, AuditAction.PLACE_ORDER, order.order_id)
    return OrderAccepted(order_id=order.order_id, saga_id=saga_instance_id(order.order_id))


@router.post(
    "/orders/{orderId}/cancel",
    status_code=HTTPStatus.ACCEPTED,
    tags=["orders"],
    summary="Cancel an order: its saga compensates what it did and ends `cancelled`",
    description="Asynchronous: the saga takes the cancellation at its next wait and "
    "compensates the steps it completed (and the one in flight) in reverse; watch "
    "`GET /v1/runs/order-{orderId}` for the `cancelled` outcome. A pending approval is "
    "withdrawn. 409 once the saga has ended or is compensating a failure. A suspended saga "
    "cancels when it is resumed.",
    responses=error_responses(404, 409, 422),
)
def cancel_order(
    order_id: Annotated[
        str, Path(alias="orderId", pattern=IDENTIFIER_PATTERN, description="The order's id.")
    ],
    gateway: GatewayDep,
    caller: Operator,
    strict: Annotated[None, Depends(strict_body(CancelOrder))],
    audit: AuditDep,
    body: CancelOrder | None = None,
) -> CancelAccepted:
    reason = body.reason if body else None
    accepted = cancel(gateway, order_id, caller, reason)
    audit.record(
        caller,
        AuditAction.CANCEL,
        order_id,
        reason=reason,
        approvalWithdrawn=accepted.approval_withdrawn or None,
    )
    return accepted


@router.get(
    "/inventory/stock",
    tags=["inventory"],
    summary="Stock levels, of the given SKUs or of the whole catalogue",
    responses=error_responses(404, 422),
)
def get_stock(
    dapr: DaprDep,
    caller: Reader,
    sku: Annotated[list[str] | None, Query(description="A SKU; repeat for several.")] = None,
) -> StockList:
    return StockList(items=stock_levels(dapr, sku))
