"""`approval`: a human decision on a big order, with an expiry and an optional reminder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dapr.ext.workflow as wf

from services.contracts.messages import ApprovalDecided, ApprovalRequested, InvalidMessage
from services.contracts.names import APPROVAL_DECISION_EVENT
from services.orchestrator.activities import ActivityName
from services.orchestrator.workflow_io import ApprovalRequest, ApprovalResult
from services.orchestrator.workflows.common import IO_RETRY, Flow, log_once, set_status


def approval(ctx: wf.DaprWorkflowContext, data: dict[str, Any]) -> Flow:
    """Publishes `approval.requested` and waits for `approval_decision`, a reminder timer
    (re-publishes the request once, `reminder: true`) and the expiry timer."""
    request = ApprovalRequest.parse(data)
    started = ctx.current_utc_datetime
    expires = started + timedelta(seconds=request.timeout_seconds)
    announcement = ApprovalRequested(
        order_id=request.order_id,
        saga_id=request.saga_id,
        approval_id=ctx.instance_id,
        customer_id=request.customer_id,
        amount_cents=request.amount_cents,
        currency=request.currency,
        expires_at=_aware(expires),
    )
    set_status(ctx, step="awaiting_decision", expiresAt=announcement.expires_at.isoformat())
    yield ctx.call_activity(
        ActivityName.PUBLISH_APPROVAL_REQUEST, input=announcement.to_data(), retry_policy=IO_RETRY
    )
    log_once(ctx, "approval requested", request.saga_id, order_id=request.order_id)

    expiry = ctx.create_timer(expires)
    reminder = None
    if request.reminder_seconds is not None and request.reminder_seconds < request.timeout_seconds:
        reminder = ctx.create_timer(started + timedelta(seconds=request.reminder_seconds))
    decision_event = ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
    while True:
        waiting = [decision_event, expiry] + ([reminder] if reminder is not None else [])
        winner = yield wf.when_any(waiting)
        if winner is expiry:
            result = ApprovalResult(decision="timed_out")
            break
        if winner is reminder:
            reminder = None
            yield ctx.call_activity(
                ActivityName.PUBLISH_APPROVAL_REQUEST,
                input=announcement.model_copy(update={"reminder": True}).to_data(),
                retry_policy=IO_RETRY,
            )
            log_once(ctx, "approval reminder sent", request.saga_id, order_id=request.order_id)
            continue
        decided = _decision(ctx, decision_event.get_result(), request)
        if decided is not None:
            result = ApprovalResult(
                decision="approved" if decided.approved else "rejected",
                approver=decided.approver,
                reason=decided.reason,
            )
            break
        decision_event = ctx.wait_for_external_event(APPROVAL_DECISION_EVENT)
    set_status(ctx, step="decided", decision=result.decision)
    log_once(ctx, "approval finished", request.saga_id, decision=result.decision)
    return result.to_data()


def _decision(
    ctx: wf.DaprWorkflowContext, data: Any, request: ApprovalRequest
) -> ApprovalDecided | None:
    """A valid decision for this order, or None (logged) for anything else."""
    try:
        if not isinstance(data, dict | str):
            raise InvalidMessage(f"decision is a {type(data).__name__}, not an object")
        decided = ApprovalDecided.parse(data)
    except InvalidMessage as error:
        log_once(ctx, "malformed approval decision ignored", request.saga_id, error=error.reason)
        return None
    if decided.order_id != request.order_id:
        log_once(ctx, "decision for another order ignored", request.saga_id, other=decided.order_id)
        return None
    return decided


def _aware(moment: datetime) -> datetime:
    """The SDK's clock is naive UTC; published timestamps carry their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
