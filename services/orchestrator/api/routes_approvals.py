"""Approvals: list the pending ones, approve, reject."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from services.contracts.messages import IDENTIFIER_PATTERN
from services.orchestrator.api import approvals
from services.orchestrator.api.dependencies import GatewayDep
from services.orchestrator.api.errors import error_responses
from services.orchestrator.api.schemas import (
    ApprovalDecisionAccepted,
    ApprovalList,
    Approve,
    Reject,
)

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

OrderIdPath = Annotated[
    str, Path(alias="orderId", pattern=IDENTIFIER_PATTERN, description="The order's id.")
]


@router.get("", summary="List pending approvals", responses=error_responses(401, 422))
def list_approvals(
    gateway: GatewayDep,
    status: Annotated[Literal["pending"], Query(description="Only `pending` for now.")] = "pending",
) -> ApprovalList:
    return ApprovalList(items=approvals.pending_approvals(gateway))


@router.post(
    "/{orderId}/approve",
    status_code=HTTPStatus.ACCEPTED,
    summary="Approve an order",
    responses=error_responses(401, 404, 409, 422),
)
def approve(order_id: OrderIdPath, body: Approve, gateway: GatewayDep) -> ApprovalDecisionAccepted:
    return approvals.decide(gateway, order_id, approved=True, approver=body.approver)


@router.post(
    "/{orderId}/reject",
    status_code=HTTPStatus.ACCEPTED,
    summary="Reject an order",
    responses=error_responses(401, 404, 409, 422),
)
def reject(order_id: OrderIdPath, body: Reject, gateway: GatewayDep) -> ApprovalDecisionAccepted:
    return approvals.decide(
        gateway, order_id, approved=False, approver=body.approver, reason=body.reason
    )
