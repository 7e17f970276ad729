"""What the generator sends the platform, as an upstream system and a person would: orders
through `POST /v1/orders` (published on `orders`), and approval decisions through
`POST /v1/approvals/{id}/approve|reject` (the `approval_decision` event the `approvals`
topic raises too), decided as the subject of the demo's token."""

from __future__ import annotations

import time

from demo.orders import DemoError
from demo.scenarios import NEEDS_APPROVAL, Kind
from demo.tracking import Progress, Tracked, View
from sagactl.api_client import ApiCallFailed, CannotConnect, SagaApi

REJECT_REASON = "over the customer's credit limit"


def place(api: SagaApi, item: Tracked) -> None:
    """Places an order; a duplicate publish is harmless (the orchestrator starts one saga
    per order id), so transient API failures are retried."""
    for attempt in range(5):
        try:
            api.place_order(item.demo.order.to_data())
            return
        except CannotConnect as error:
            failure: Exception = error
        except ApiCallFailed as error:
            if error.status < 500:
                raise DemoError(f"order {item.demo.order_id} refused: {error}") from None
            failure = error
        time.sleep(0.2 * 2**attempt)
    raise DemoError(f"cannot place order {item.demo.order_id}: {failure}")


def decide_approvals(api: SagaApi, progress: Progress, delay: float, view: View) -> None:
    """Approves or rejects (as the order's kind says) each approval that has been pending
    for `delay` seconds; a call that fails is tried again next round."""
    waiting = {
        item.demo.order_id: item
        for item in progress.tracked
        if item.demo.kind in NEEDS_APPROVAL
        and item.placed_at is not None
        and not item.decided
        and not item.terminal
    }
    if not waiting:
        return
    try:
        pending = {str(a["orderId"]): a for a in api.approvals()["items"]}
    except (ApiCallFailed, CannotConnect):
        return
    for order_id, item in waiting.items():
        if order_id not in pending:
            continue
        if item.approval_seen_at is None:
            item.approval_seen_at = progress.elapsed
            amount = int(pending[order_id].get("amountCents") or 0)
            view.event(progress, f"{order_id} waits for approval (${amount / 100:,.2f})")
        if progress.elapsed - item.approval_seen_at < delay:
            continue
        try:
            if item.demo.kind == Kind.APPROVED:
                api.approve(order_id, None)
                text = f"{order_id} approved"
            else:
                api.reject(order_id, REJECT_REASON)
                text = f"{order_id} rejected: {REJECT_REASON}"
        except ApiCallFailed as error:
            if error.code != "APPROVAL_NOT_PENDING":
                continue
            text = f"{order_id}: approval no longer pending"
        except CannotConnect:
            continue
        item.decided = True
        view.event(progress, text)
