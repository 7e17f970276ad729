"""Cancelling an order: its saga compensates what it did, in reverse, and ends `cancelled`.

The API raises `cancel_order` (a `CancelRequest`: who, why) into the saga `order-<orderId>`,
which takes it at its next wait: beside a step's reply (the step in flight is compensated
too) or the approval. A pending approval of the order is withdrawn as well (its run is
terminated), after the saga already holds the cancellation, so the saga sees the
cancellation first and never the withdrawn approval as a failure. Unlike terminate (Dapr's
raw operation, which leaves the reservation and the charge in place), nothing stays done.
"""

from __future__ import annotations

from services.common.spans import tag_saga
from services.contracts.names import WorkflowName, approval_instance_id, saga_instance_id
from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.errors import ErrorCode, conflict, not_found
from services.orchestrator.api.identity import Identity
from services.orchestrator.api.schemas import CancelAccepted, decode_payload, status_name
from services.orchestrator.api.workflow_gateway import WorkflowGateway
from services.orchestrator.workflow_io import CANCEL_ORDER_EVENT, CancelRequest

# The saga's custom-status steps past which a cancellation comes too late: compensating a
# failure already, or completing an order that has shipped.
_TOO_LATE = {
    "compensating": "is already compensating a failure",
    "completing": "has shipped the order and is completing it",
}


def cancel_order(
    gateway: WorkflowGateway, order_id: str, caller: Identity, reason: str | None
) -> CancelAccepted:
    saga_id = saga_instance_id(order_id)
    state = gateway.find(saga_id, payloads=False)
    if state is None or state.name != WorkflowName.ORDER_SAGA:
        raise not_found(ErrorCode.ORDER_NOT_FOUND, f"no saga runs for order '{order_id}'")
    status = status_name(state)
    if status in TERMINAL_RUNTIME_STATUSES:
        raise conflict(
            ErrorCode.ORDER_NOT_CANCELLABLE,
            f"the saga of order '{order_id}' has ended ({status}); nothing is left to cancel",
        )
    custom = decode_payload(state.serialized_custom_status)
    step = custom.get("step") if isinstance(custom, dict) else None
    if step in _TOO_LATE:
        raise conflict(
            ErrorCode.ORDER_NOT_CANCELLABLE, f"the saga of order '{order_id}' {_TOO_LATE[step]}"
        )
    request = CancelRequest(requested_by=caller.subject, reason=reason)
    tag_saga(saga_id, order_id)  # the request's trace is one of the saga's
    gateway.raise_event(saga_id, CANCEL_ORDER_EVENT, request.to_data())
    return CancelAccepted(
        order_id=order_id,
        saga_id=saga_id,
        approval_withdrawn=_withdraw_approval(gateway, order_id, request),
    )


def _withdraw_approval(gateway: WorkflowGateway, order_id: str, request: CancelRequest) -> bool:
    instance_id = approval_instance_id(order_id)
    approval = gateway.find(instance_id, payloads=False)
    if approval is None or approval.name != WorkflowName.APPROVAL:
        return False
    if status_name(approval) in TERMINAL_RUNTIME_STATUSES:
        return False
    gateway.terminate(instance_id, {"withdrawn": "order cancelled", **request.to_data()})
    return True
