"""The order saga end to end: real workflows and activities on a real sidecar, replies
from scripted services through pub/sub and the orchestrator's saga-replies subscription."""

from __future__ import annotations

from services.contracts.names import EventType
from tests.orchestrator.harness import CONFIG, Orchestrator, order

FORWARD = [EventType.INVENTORY_RESERVE, EventType.PAYMENT_CHARGE, EventType.SHIPPING_CREATE]


def test_happy_path_reserves_charges_ships_and_publishes_completed(
    orchestrator: Orchestrator,
) -> None:
    instance_id = orchestrator.start_saga(order("happy-1"))

    result = orchestrator.saga_result(instance_id)

    assert instance_id == "order-happy-1"
    assert result.outcome == "completed"
    assert result.reservation_id == "res-happy-1"
    assert result.charge_id == "ch-happy-1"
    assert result.tracking_id == "tr-happy-1"
    assert result.approval is None
    assert result.compensations == []
    # Shipped: the saga then commits the reservation (the shipment consumes it).
    assert orchestrator.services.commands_for("happy-1") == [*FORWARD, EventType.INVENTORY_COMMIT]
    # One deterministic command id per step, derived from the instance id.
    assert orchestrator.services.command_ids_for("happy-1") == [
        "order-happy-1:reserve",
        "order-happy-1:charge",
        "order-happy-1:ship",
        "order-happy-1:commit",
    ]
    [status] = orchestrator.wait_for_status("happy-1", EventType.ORDER_COMPLETED)
    assert status.data["outcome"] == "completed"
    assert status.data["trackingId"] == "tr-happy-1"
    assert status.data["amountCents"] == 5_000
    assert orchestrator.custom_status(instance_id)["step"] == "completed"


def test_inventory_rejection_ends_rejected_without_compensation(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.services.script("rej-1", {EventType.INVENTORY_RESERVE: "reject"})

    result = orchestrator.saga_result(orchestrator.start_saga(order("rej-1")))

    assert result.outcome == "rejected"
    assert result.failed_step == "reserve"
    assert result.reason is not None
    assert "out of stock" in result.reason
    assert result.compensations == []
    assert orchestrator.services.commands_for("rej-1") == [EventType.INVENTORY_RESERVE]
    [status] = orchestrator.wait_for_status("rej-1", EventType.ORDER_FAILED)
    assert status.data["outcome"] == "rejected"


def test_payment_decline_releases_the_reservation(orchestrator: Orchestrator) -> None:
    orchestrator.services.script("dec-1", {EventType.PAYMENT_CHARGE: "reject"})

    result = orchestrator.saga_result(orchestrator.start_saga(order("dec-1")))

    assert result.outcome == "compensated"
    assert result.failed_step == "charge"
    assert result.reason is not None
    assert "card declined" in result.reason
    assert result.compensations == ["release"]
    assert orchestrator.services.commands_for("dec-1") == [
        EventType.INVENTORY_RESERVE,
        EventType.PAYMENT_CHARGE,
        EventType.INVENTORY_RELEASE,
    ]
    [status] = orchestrator.wait_for_status("dec-1", EventType.ORDER_COMPENSATED)
    assert status.data["compensations"] == ["release"]


def test_shipping_failure_refunds_then_releases_in_reverse_order(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.services.script("shipfail-1", {EventType.SHIPPING_CREATE: "reject"})

    result = orchestrator.saga_result(orchestrator.start_saga(order("shipfail-1")))

    assert result.outcome == "compensated"
    assert result.failed_step == "ship"
    assert result.compensations == ["refund", "release"]
    assert orchestrator.services.commands_for("shipfail-1") == [
        *FORWARD,
        EventType.PAYMENT_REFUND,
        EventType.INVENTORY_RELEASE,
    ]
    assert orchestrator.services.command_ids_for("shipfail-1")[3:] == [
        "order-shipfail-1:refund",
        "order-shipfail-1:release",
    ]


def test_step_timeout_compensates_the_timed_out_step_too(orchestrator: Orchestrator) -> None:
    orchestrator.services.script("slow-1", {EventType.SHIPPING_CREATE: "silent"})
    config = CONFIG.model_copy(update={"step_timeout_seconds": 3.0})

    result = orchestrator.saga_result(orchestrator.start_saga(order("slow-1"), config))

    assert result.outcome == "compensated"
    assert result.failed_step == "ship"
    assert result.reason is not None
    assert "no reply to shipping.create within 3s" in result.reason
    # The shipment may exist although its reply never came: cancel it, then undo the rest.
    assert result.compensations == ["cancel_shipment", "refund", "release"]
    assert orchestrator.services.commands_for("slow-1") == [
        *FORWARD,
        EventType.SHIPPING_CANCEL,
        EventType.PAYMENT_REFUND,
        EventType.INVENTORY_RELEASE,
    ]
    orchestrator.wait_for_status("slow-1", EventType.ORDER_COMPENSATED)


def test_unacknowledged_compensation_ends_in_visible_compensation_failed(
    orchestrator: Orchestrator,
) -> None:
    orchestrator.services.script(
        "stuck-1", {EventType.PAYMENT_CHARGE: "reject", EventType.INVENTORY_RELEASE: "silent"}
    )
    config = CONFIG.model_copy(
        update={"compensation_attempts": 3, "compensation_timeout_seconds": 0.5}
    )

    instance_id = orchestrator.start_saga(order("stuck-1"), config)
    result = orchestrator.saga_result(instance_id)

    assert result.outcome == "compensation_failed"
    assert result.failed_step == "charge"
    assert result.reason is not None
    assert "compensation not acknowledged: release" in result.reason
    assert result.compensations == []
    # Retried with the same command id each time, so the service can deduplicate.
    assert orchestrator.services.command_ids_for("stuck-1")[2:] == ["order-stuck-1:release"] * 3
    status = orchestrator.custom_status(instance_id)
    assert status["step"] == "compensation_failed"
    assert status["failedCompensations"] == ["release"]
    [event] = orchestrator.wait_for_status("stuck-1", EventType.ORDER_FAILED)
    assert event.data["outcome"] == "compensation_failed"


def test_an_unacknowledged_commit_is_retried_and_the_shipped_order_still_completes(
    orchestrator: Orchestrator,
) -> None:
    """Past the shipment nothing is compensated: the commit is sent again under its one
    command id, and once it never was acknowledged the order completes, saying so."""
    orchestrator.services.script("commit-1", {EventType.INVENTORY_COMMIT: "silent"})
    config = CONFIG.model_copy(
        update={"compensation_attempts": 2, "compensation_timeout_seconds": 0.5}
    )

    instance_id = orchestrator.start_saga(order("commit-1"), config)
    result = orchestrator.saga_result(instance_id)

    assert result.outcome == "completed"
    assert result.compensations == []
    assert result.reason == "shipped; not acknowledged: commit"
    assert orchestrator.services.command_ids_for("commit-1")[3:] == ["order-commit-1:commit"] * 2
    assert orchestrator.custom_status(instance_id)["unacknowledged"] == ["commit"]
    [status] = orchestrator.wait_for_status("commit-1", EventType.ORDER_COMPLETED)
    assert status.data["reason"] == "shipped; not acknowledged: commit"
