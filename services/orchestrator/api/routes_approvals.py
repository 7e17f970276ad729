"""Approvals: list the pending ones, approve, reject (the approver is the caller)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from services.contracts.messages import IDENTIFIER_PATTERN
from services.orchestrator.api import approvals
from services.orchestrator.api.audit import AuditAction
from services.orchestrator.api.dependencies import Approver, AuditDep, GatewayDep, Reader
from services.orchestrator.api.errors import error_responses
from services.orchestrator.api.schemas import (
    ApprovalDecisionAccepted,
    ApprovalList,
    Approve,
    Reject,
)
from services.orchestrator.api.validation import strict_body

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

OrderIdPath = Annotated[
    str, Path(alias="orderId", pattern=IDENTIFIER_PATTERN, description="The order's id.")
]


@router.get("", summary="List pending approvals", responses=error_responses(422, 501))
def list_approvals(
    gateway: GatewayDep,
    caller: Reader,
    status: Annotated[Literal["pending"], Query(description="Only `pending` for now.")] = "pending",
) -> ApprovalList:
    return ApprovalList(items=approvals.pending_approvals(gateway))


@router.post(
    "/{orderId}/approve",
    status_code=HTTPStatus.ACCEPTED,
    summary="Approve an order (as the caller; not the order's own customer)",
    responses=error_responses(400, 404, 409, 422),
)
def approve_order(
    order_id: OrderIdPath,
    gateway: GatewayDep,
    caller: Approver,
    strict: Annotated[None, Depends(strict_body(Approve))],
    audit: AuditDep,
    body: Approve | None = None,
) -> ApprovalDecisionAccepted:
    reason = body.reason if body else None
    accepted = approvals.decide(gateway, order_id, approved=True, approver=caller, reason=reason)
    audit.record(caller, AuditAction.APPROVE, order_id, reason=reason)
    return accepted


@router.post(
    "/{orderId}/reject",
    status_code=HTTPStatus.ACCEPTED,
    summary="Reject an order (as the caller; not the order's own customer)",
    responses=error_responses(400, 404, 409, 422),
)
def reject_order(
    order_id: OrderIdPath,
    body: Reject,
    gateway: GatewayDep,
    caller: Approver,
    strict: Annotated[None, Depends(strict_body(Reject))],
    audit: AuditDep,
) -> ApprovalDecisionAccepted:
    accepted = approvals.decide(
        gateway, order_id, approved=False, approver=caller, reason=body.reason
    )
    audit.record(caller, AuditAction.REJECT, order_id, reason=body.reason)
    return accepted
