"""Approvals are `approval` workflow runs (instance id `approval-<orderId>`): pending ones
are listed from the runtime, and a decision is the `approval_decision` external event
carrying an `ApprovalDecided` — the same message the `approvals` topic carries.

The approver of a decision is the caller's token subject; the customer who placed the
order (the approval request's `customerId`) may not decide on it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.common.spans import tag_saga
from services.contracts.messages import ApprovalDecided, InvalidMessage
from services.contracts.names import (
    APPROVAL_DECISION_EVENT,
    WorkflowName,
    approval_instance_id,
    saga_instance_id,
)
from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.errors import (
    ErrorCode,
    conflict,
    forbidden,
    not_found,
    validation_failed,
)
from services.orchestrator.api.identity import Identity
from services.orchestrator.api.schemas import (
    Approval,
    ApprovalDecisionAccepted,
    as_utc,
    decode_payload,
    status_name,
)
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.workflow_io import ApprovalRequest

_PREFIX = approval_instance_id("")


def approval_from_state(state: Any) -> Approval:
    requested_at = as_utc(state.created_at)
    order_id = str(state.instance_id).removeprefix(_PREFIX)
    approval = Approval(
        order_id=order_id,
        instance_id=state.instance_id,
        status=status_name(state),
        requested_at=requested_at,
    )
    try:
        request = ApprovalRequest.parse(decode_payload(state.serialized_input) or {})
    except InvalidMessage:
        return approval  # listed all the same: a person can still decide on it
    return approval.model_copy(
        update={
            "order_id": request.order_id,
            "saga_id": request.saga_id,
            "customer_id": request.customer_id,
            "amount_cents": request.amount_cents,
            "currency": request.currency,
            "expires_at": requested_at + timedelta(seconds=request.timeout_seconds),
        }
    )


def pending_approvals(gateway: WorkflowGateway) -> list[Approval]:
    """Every `approval` run not yet finished (running, pending or suspended)."""
    ids = [instance_id for instance_id in gateway.all_ids() if instance_id.startswith(_PREFIX)]
    return [
        approval_from_state(state)
        for state in gateway.states(ids)
        if state.name == WorkflowName.APPROVAL
        and status_name(state) not in TERMINAL_RUNTIME_STATUSES
    ]


def decide(
    gateway: WorkflowGateway,
    order_id: str,
    *,
    approved: bool,
    approver: Identity,
    reason: str | None = None,
) -> ApprovalDecisionAccepted:
    instance_id = approval_instance_id(order_id)
    state = gateway.find(instance_id, payloads=True)
    if state is None or state.name != WorkflowName.APPROVAL:
        raise not_found(
            ErrorCode.APPROVAL_NOT_FOUND, f"no approval was requested for order '{order_id}'"
        )
    status = status_name(state)
    if status in TERMINAL_RUNTIME_STATUSES:
        raise conflict(
            ErrorCode.APPROVAL_NOT_PENDING,
            f"the approval of order '{order_id}' is no longer pending (its run is {status})",
        )
    customer = approval_from_state(state).customer_id
    if customer is not None and customer == approver.subject:
        raise forbidden(
            ErrorCode.SELF_APPROVAL_FORBIDDEN,
            f"'{approver.subject}' placed order '{order_id}' and cannot decide on it",
        )
    try:
        decision = ApprovalDecided(
            order_id=order_id, approved=approved, approver=approver.subject, reason=reason
        )
    except ValueError as error:
        raise validation_failed(str(error)) from None
    # The request's trace is one of the saga's (`sagactl workflow trace` shows the decision).
    tag_saga(saga_instance_id(order_id), order_id)
    gateway.raise_event(instance_id, APPROVAL_DECISION_EVENT, decision.to_data())
    return ApprovalDecisionAccepted(order_id=order_id, instance_id=instance_id, approved=approved)
