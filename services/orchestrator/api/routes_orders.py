"""Orders and stock: place an order (published on `orders`, as an upstream system would)
and read stock levels from the state store."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Query

from services.common.messaging import publish
from services.contracts.messages import OrderPlaced
from services.contracts.names import EventType, Topic, saga_instance_id
from services.orchestrator.api.dependencies import DaprDep
from services.orchestrator.api.errors import error_responses
from services.orchestrator.api.schemas import OrderAccepted, StockList
from services.orchestrator.api.stock import stock_levels

router = APIRouter(prefix="/v1")


@router.post(
    "/orders",
    status_code=HTTPStatus.ACCEPTED,
    tags=["orders"],
    summary="Place an order (publishes order.placed on the orders topic)",
    responses=error_responses(401, 422, 503),
)
def place_order(order: OrderPlaced, dapr: DaprDep) -> OrderAccepted:
    publish(dapr, Topic.ORDERS, EventType.ORDER_PLACED, order)
    return OrderAccepted(order_id=order.order_id, saga_id=saga_instance_id(order.order_id))


@router.get(
    "/inventory/stock",
    tags=["inventory"],
    summary="Stock levels, of the given SKUs or of the whole catalogue",
    responses=error_responses(401, 404),
)
def get_stock(
    dapr: DaprDep,
    sku: Annotated[list[str] | None, Query(description="A SKU; repeat for several.")] = None,
) -> StockList:
    return StockList(items=stock_levels(dapr, sku))
