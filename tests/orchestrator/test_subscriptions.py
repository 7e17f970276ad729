"""The orchestrator's pub/sub handlers: `orders` starts one saga per order, whatever the
duplicates; what fails its contract is dead-lettered with the reason; a reply or decision
nobody waits for is acknowledged, not retried."""

from __future__ import annotations

import json

import dapr.ext.workflow as wf

from services.contracts.messages import (
    IDENTIFIER_MAX_LENGTH,
    MAX_ORDER_ID_LENGTH,
    ApprovalDecided,
    DeadLetter,
    InventoryReserved,
)
from services.contracts.names import EventType, Topic
from testkit.polling import wait_until
from tests.orchestrator.harness import Delivery, Orchestrator, order


def _handled(orchestrator: Orchestrator, topic: Topic, count: int) -> list[Delivery]:
    def probe() -> list[Delivery] | None:
        found = orchestrator.deliveries.of(str(topic))
        return found if len(found) >= count else None

    return wait_until(probe, timeout=30, what=f"{count} deliveries on {topic}")


def _dead_letter(orchestrator: Orchestrator, topic: Topic) -> DeadLetter:
    [received] = wait_until(
        lambda: [
            d for d in orchestrator.services.dead_letters if d.topic == f"{topic}-dead-letter"
        ],
        timeout=30,
        what=f"a dead letter for {topic}",
    )
    assert received.event_type == EventType.DEAD_LETTER
    return DeadLetter.parse(received.data)


def test_order_placed_starts_the_saga_under_the_order_id(orchestrator: Orchestrator) -> None:
    orchestrator.publish(Topic.ORDERS, EventType.ORDER_PLACED, order("sub-1"))

    state = wait_until(
        lambda: orchestrator.workflows.get_workflow_state("order-sub-1"),
        timeout=30,
        what="the saga of sub-1",
    )
    assert state.name == "order_saga"
    assert orchestrator.saga_result("order-sub-1").outcome == "completed"


def test_duplicate_order_placed_starts_one_saga_even_after_it_finished(
    orchestrator: Orchestrator,
) -> None:
    placed = order("dup-1")
    orchestrator.publish(Topic.ORDERS, EventType.ORDER_PLACED, placed)
    orchestrator.publish(Topic.ORDERS, EventType.ORDER_PLACED, placed)  # while it runs
    _handled(orchestrator, Topic.ORDERS, 2)
    first = orchestrator.finished("order-dup-1")

    # Again once it has finished: the sidecar would reuse a terminal id, so this must not
    # reach schedule_new_workflow.
    orchestrator.publish(Topic.ORDERS, EventType.ORDER_PLACED, placed)
    deliveries = _handled(orchestrator, Topic.ORDERS, 3)

    assert [d.status for d in deliveries] == ["SUCCESS"] * 3
    again = orchestrator.finished("order-dup-1")
    assert again.created_at == first.created_at
    assert orchestrator.services.commands_for("dup-1") == [
        EventType.INVENTORY_RESERVE,
        EventType.PAYMENT_CHARGE,
        EventType.SHIPPING_CREATE,
        EventType.INVENTORY_COMMIT,
    ]
    assert orchestrator.services.dead_letters == []


def test_malformed_order_is_dead_lettered_with_the_reason_and_starts_nothing(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.publish_raw(
        "orders", "order.placed", json.dumps({"orderId": "bad-1", "customerId": "c"})
    )

    letter = _dead_letter(orchestrator, Topic.ORDERS)

    assert letter.topic == "orders"
    assert letter.app_id == "orchestrator"
    assert letter.event_type == "order.placed"
    assert "invalid OrderPlaced" in letter.reason
    assert "items" in letter.reason
    assert json.loads(letter.data) == {"orderId": "bad-1", "customerId": "c"}
    [delivery] = orchestrator.deliveries.of("orders")
    assert delivery.status == "SUCCESS"  # dead-lettered, so not redelivered
    assert orchestrator.workflows.get_workflow_state("order-bad-1") is None


def test_unexpected_event_type_on_orders_is_dead_lettered(orchestrator: Orchestrator) -> None:
    orchestrator.publish(Topic.ORDERS, EventType.ORDER_COMPLETED, order("odd-1"))

    letter = _dead_letter(orchestrator, Topic.ORDERS)

    assert "unexpected event type 'order.completed'" in letter.reason
    assert orchestrator.workflows.get_workflow_state("order-odd-1") is None


def test_reply_for_an_unknown_saga_is_acknowledged_once(orchestrator: Orchestrator) -> None:
    reply = InventoryReserved(
        saga_id="order-nobody",
        command_id="order-nobody:reserve",
        order_id="nobody",
        reservation_id="res-x",
        items=[],
    )
    orchestrator.publish(Topic.SAGA_REPLIES, EventType.INVENTORY_RESERVED, reply)

    [delivery] = _handled(orchestrator, Topic.SAGA_REPLIES, 1)

    assert delivery.status == "SUCCESS"  # acknowledged: the sidecar does not redeliver it
    assert orchestrator.services.dead_letters == []
    assert orchestrator.workflows.get_workflow_state("order-nobody") is None


def test_reply_for_a_finished_saga_is_acknowledged(orchestrator: Orchestrator) -> None:
    result = orchestrator.saga_result(orchestrator.start_saga(order("late-1")))
    assert result.outcome == "completed"
    late = InventoryReserved(
        saga_id="order-late-1",
        command_id="order-late-1:reserve",
        order_id="late-1",
        reservation_id="res-late-1",
        items=[],
    )
    before = len(orchestrator.deliveries.of("saga-replies"))

    orchestrator.publish(Topic.SAGA_REPLIES, EventType.INVENTORY_RESERVED, late)

    deliveries = _handled(orchestrator, Topic.SAGA_REPLIES, before + 1)
    assert deliveries[-1].status == "SUCCESS"
    state = orchestrator.workflows.get_workflow_state("order-late-1")
    assert state is not None
    assert state.runtime_status == wf.WorkflowStatus.COMPLETED


def test_malformed_reply_is_dead_lettered(orchestrator: Orchestrator) -> None:
    orchestrator.publish_raw("saga-replies", "payment.charged", json.dumps({"sagaId": "x"}))

    letter = _dead_letter(orchestrator, Topic.SAGA_REPLIES)

    assert "invalid PaymentCharged" in letter.reason


def test_decision_for_an_unknown_approval_is_acknowledged(orchestrator: Orchestrator) -> None:
    orchestrator.publish(
        Topic.APPROVALS,
        EventType.APPROVAL_DECIDED,
        ApprovalDecided(order_id="ghost-1", approved=True, approver="alice"),
    )

    [delivery] = _handled(orchestrator, Topic.APPROVALS, 1)

    assert delivery.status == "SUCCESS"
    assert orchestrator.workflows.get_workflow_state("approval-ghost-1") is None


def test_order_id_too_long_for_its_command_ids_is_dead_lettered(
    orchestrator: Orchestrator,
) -> None:
    """Refused by the `OrderPlaced` contract itself: one character over the bound, and the
    longest id an `Identifier` allows, whose command ids would be longer still."""
    long_ids = ["L" * (MAX_ORDER_ID_LENGTH + 1), "M" * IDENTIFIER_MAX_LENGTH]
    for long_id in long_ids:
        body = {**order("template").to_data(), "orderId": long_id}
        orchestrator.publish_raw("orders", "order.placed", json.dumps(body))

    def probe() -> list[DeadLetter] | None:
        found = [
            DeadLetter.parse(d.data)
            for d in orchestrator.services.dead_letters
            if d.topic == "orders-dead-letter"
        ]
        return found if len(found) >= len(long_ids) else None

    letters = wait_until(probe, timeout=30, what="the long orders' dead letters")

    assert sorted(json.loads(letter.data)["orderId"] for letter in letters) == long_ids
    for letter in letters:
        assert f"longer than {MAX_ORDER_ID_LENGTH} characters" in letter.reason
        assert letter.reason.startswith("invalid OrderPlaced: orderId: longer than")
    for long_id in long_ids:
        assert orchestrator.workflows.get_workflow_state(f"order-{long_id}") is None
