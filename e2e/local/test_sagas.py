"""One saga behaviour per test, on the whole platform: the four apps of `dapr.yaml` and
their embedded sidecars as real processes (`e2e.local.harness`).

The tests act only as the platform's users do: an upstream system publishing `orders` and
`approvals` through a sidecar, the management API and the `sagactl` CLI. They observe what
a downstream system sees (`order-status`, the dead-letter topics), the runs through the API
and the CLI, and the services' records in the shared state store. The tests share one
platform and each has SKUs of its own, so its stock figures are exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from e2e.local import orders
from e2e.local.conftest import module_platform
from e2e.local.harness import Platform
from e2e.local.orders import UNSHIPPABLE_COUNTRY, Line
from services.contracts.messages import ApprovalDecided, OrderPlaced, ReleaseInventory, StockLevel
from services.contracts.names import (
    EventType,
    Topic,
    approval_instance_id,
    dead_letter_topic,
    saga_instance_id,
)
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD
from services.orchestrator.workflow_io import SagaConfig, SagaResult
from testkit.observer import Delivery
from testkit.platform import PlatformSettings
from testkit.polling import wait_until
from testkit.process import ManagedProcess

WAIT = 60.0
THRESHOLD_CENTS = 100_000
APPROVAL_TIMEOUT_SECONDS = 10.0  # the timed-out test waits this long; decisions take ~1 s
BIG = THRESHOLD_CENTS + 50_000  # needs an approval
SEED = {
    "E2E-HAPPY": 10,
    "E2E-SCARCE": 1,
    "E2E-DECLINE": 10,
    "E2E-SHIPFAIL": 10,
    "E2E-APPROVE": 5,
    "E2E-REJECT": 5,
    "E2E-EXPIRE": 5,
    "E2E-DUP": 10,
    "E2E-MALFORMED": 10,
    "E2E-SUSPEND": 5,
    "E2E-TERMINATE": 5,
    "E2E-OUTAGE": 10,
    "E2E-CARD": 5,
}
SETTINGS = PlatformSettings(
    approval_threshold_cents=THRESHOLD_CENTS,
    step_timeout_seconds=20.0,
    approval_timeout_seconds=APPROVAL_TIMEOUT_SECONDS,
    compensation_attempts=3,
    compensation_timeout_seconds=10.0,
    inventory_seed=SEED,
)
# For the sagas started through the CLI that must wait for their approval as long as a
# test needs: the config travels in the saga's input.
PATIENT = SagaConfig(
    approval_threshold_cents=THRESHOLD_CENTS,
    step_timeout_seconds=20.0,
    approval_timeout_seconds=600.0,
    approval_reminder_seconds=None,
    compensation_attempts=3,
    compensation_timeout_seconds=10.0,
)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    yield from module_platform(tmp_path_factory, SETTINGS, "sagas")


# --- helpers --------------------------------------------------------------------------


def order(
    platform: Platform,
    order_id: str,
    lines: Sequence[Line],
    *,
    card: str = GOOD_TEST_CARD,
    country: str = orders.SHIPPABLE_COUNTRY,
) -> OrderPlaced:
    """An order paying with `card`, through its token from the platform's card vault."""
    return orders.order(order_id, lines, token=platform.token_for(card), country=country)


def finished_saga(platform: Platform, order_id: str) -> SagaResult:
    """The saga's result, once its run completed (a saga's outcome is its output)."""
    run = platform.wait_run_status(saga_instance_id(order_id), {"COMPLETED"}, timeout=WAIT)
    return SagaResult.parse(run["output"])


def stock(platform: Platform, sku: str) -> StockLevel:
    return platform.ledger.stock([sku])[sku]


def sent_commands(platform: Platform, order_id: str) -> list[str]:
    """The command types the saga published, in order, from its history (CLI)."""
    history = platform.cli("workflow", "history", saga_instance_id(order_id), "-o", "json").json()
    return [
        event["details"]["input"]["type"]
        for event in history
        if event["kind"] == "TaskScheduled" and event["name"] == "send_command"
    ]


def approval_requested(platform: Platform, order_id: str) -> Delivery:
    return platform.observer.wait_for(
        lambda d: d.type == EventType.APPROVAL_REQUESTED and d.order_id == order_id,
        timeout=WAIT,
        what=f"approval.requested for {order_id}",
    )[0]


def dead_letter(platform: Platform, topic: Topic, marker: str) -> Delivery:
    """The dead letter of a message on `topic` whose original data holds `marker`."""
    return platform.observer.wait_for(
        lambda d: (
            d.topic == dead_letter_topic(topic)
            and isinstance(d.data, dict)
            and marker in d.data.get("data", "")
        ),
        timeout=WAIT,
        what=f"{marker} on {dead_letter_topic(topic)}",
    )[0]


def start_patient_saga(platform: Platform, placed: OrderPlaced) -> str:
    """Starts a saga through the CLI with a long approval timeout and waits until it waits
    for its approval; returns its instance id."""
    instance_id = start_saga(platform, placed, PATIENT)
    wait_until(
        lambda: (
            (platform.run(instance_id) or {}).get("customStatus", {}).get("step")
            == "awaiting_approval"
        ),
        timeout=WAIT,
        what=f"{instance_id} to wait for its approval",
    )
    return instance_id


def start_saga(platform: Platform, placed: OrderPlaced, config: SagaConfig) -> str:
    """Starts a saga through the CLI with its own config; returns its instance id."""
    document = {"order": placed.to_data(), "config": config.to_data()}
    result = platform.cli("workflow", "run", "order_saga", "--input", json.dumps(document))
    assert result.returncode == 0, result.describe()
    instance_id = saga_instance_id(placed.order_id)
    assert instance_id in result.stdout, result.describe()
    return instance_id


def cli_status(platform: Platform, instance_id: str) -> str:
    run: dict[str, Any] = platform.cli("workflow", "get", instance_id, "-o", "json").json()
    return str(run["status"])


# --- tests ----------------------------------------------------------------------------


def test_happy_path_completes_the_order_with_stock_charge_and_shipment_consistent(
    platform: Platform,
) -> None:
    placed = order(platform, "happy-1", [("E2E-HAPPY", 2, 2_500)])
    platform.place_order(placed)

    status = platform.observer.wait_final("happy-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPLETED, status
    result = finished_saga(platform, "happy-1")
    assert result.outcome == "completed"
    assert result.approval is None
    assert result.compensations == []
    assert status.data["chargeId"] == result.charge_id
    assert status.data["trackingId"] == result.tracking_id
    assert status.data["amountCents"] == 5_000

    records = platform.ledger.order("happy-1")
    assert records.reservation is not None
    # The shipment consumed the reservation: on hand fell, nothing stays reserved.
    assert (records.reservation.status, records.reservation.consumed) == ("committed", True)
    assert records.reservation.reservation_id == result.reservation_id
    assert records.payment is not None
    assert records.payment.status == "charged"
    assert records.payment.charge_id == result.charge_id
    assert (records.payment.amount_cents, records.payment.refunded_cents) == (5_000, 0)
    assert records.shipment is not None
    assert records.shipment.status == "created"
    assert records.shipment.tracking_id == result.tracking_id
    assert stock(platform, "E2E-HAPPY") == StockLevel(
        sku="E2E-HAPPY", available=8, reserved=0, shipped=2
    )
    # The API reads the same stock the inventory keeps.
    items = platform.cli("inventory", "stock", "--sku", "E2E-HAPPY", "-o", "json").json()
    assert items == [{"sku": "E2E-HAPPY", "available": 8, "reserved": 0, "shipped": 2}]
    assert sent_commands(platform, "happy-1") == [
        EventType.INVENTORY_RESERVE,
        EventType.PAYMENT_CHARGE,
        EventType.SHIPPING_CREATE,
        EventType.INVENTORY_COMMIT,
    ]


def test_inventory_rejection_fails_the_order_and_charges_nothing(platform: Platform) -> None:
    platform.place_order(order(platform, "scarce-1", [("E2E-SCARCE", 5, 1_000)]))

    status = platform.observer.wait_final("scarce-1", timeout=WAIT)
    assert status.type == EventType.ORDER_FAILED, status
    result = finished_saga(platform, "scarce-1")
    assert (result.outcome, result.failed_step) == ("rejected", "reserve")
    assert result.compensations == []
    assert "inventory.rejected" in (result.reason or "")
    records = platform.ledger.order("scarce-1")
    assert not records.holds_stock
    assert records.payment is None
    assert records.shipment is None
    assert stock(platform, "E2E-SCARCE") == StockLevel(sku="E2E-SCARCE", available=1, reserved=0)
    assert sent_commands(platform, "scarce-1") == [EventType.INVENTORY_RESERVE]


def test_payment_decline_releases_the_inventory(platform: Platform) -> None:
    platform.place_order(
        order(platform, "decline-1", [("E2E-DECLINE", 3, 1_000)], card=DECLINING_TEST_CARD)
    )

    status = platform.observer.wait_final("decline-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPENSATED, status
    result = finished_saga(platform, "decline-1")
    assert (result.outcome, result.failed_step) == ("compensated", "charge")
    assert result.compensations == ["release"]
    assert status.data["compensations"] == ["release"]
    records = platform.ledger.order("decline-1")
    assert records.reservation is not None
    assert records.reservation.status == "released"
    assert records.net_charge_cents == 0
    assert records.shipment is None
    assert stock(platform, "E2E-DECLINE") == StockLevel(sku="E2E-DECLINE", available=10, reserved=0)


def test_shipping_failure_refunds_the_payment_then_releases_the_inventory(
    platform: Platform,
) -> None:
    placed = order(
        platform, "shipfail-1", [("E2E-SHIPFAIL", 1, 4_200)], country=UNSHIPPABLE_COUNTRY
    )
    platform.place_order(placed)

    status = platform.observer.wait_final("shipfail-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPENSATED, status
    result = finished_saga(platform, "shipfail-1")
    assert (result.outcome, result.failed_step) == ("compensated", "ship")
    # Newest first: the charge is undone before the reservation.
    assert result.compensations == ["refund", "release"]
    assert status.data["compensations"] == ["refund", "release"]
    assert sent_commands(platform, "shipfail-1") == [
        EventType.INVENTORY_RESERVE,
        EventType.PAYMENT_CHARGE,
        EventType.SHIPPING_CREATE,
        EventType.PAYMENT_REFUND,
        EventType.INVENTORY_RELEASE,
    ]
    records = platform.ledger.order("shipfail-1")
    assert records.payment is not None
    assert records.payment.status == "refunded"
    assert records.payment.refunded_cents == records.payment.amount_cents == 4_200
    assert records.reservation is not None
    assert records.reservation.status == "released"
    assert not records.live_shipment
    assert stock(platform, "E2E-SHIPFAIL") == StockLevel(
        sku="E2E-SHIPFAIL", available=10, reserved=0
    )


def test_approval_approved_through_the_cli_completes_the_order(platform: Platform) -> None:
    platform.place_order(order(platform, "approve-1", [("E2E-APPROVE", 1, BIG)]))
    requested = approval_requested(platform, "approve-1")
    assert requested.data["amountCents"] == BIG

    pending = platform.cli("approvals", "list", "-o", "json").json()
    assert "approve-1" in {item["orderId"] for item in pending}, pending
    approver = platform.token("alice", ["approver"])
    approve = platform.cli("approvals", "approve", "approve-1", token=approver)
    assert approve.returncode == 0, approve.describe()

    status = platform.observer.wait_final("approve-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPLETED, status
    result = finished_saga(platform, "approve-1")
    assert (result.outcome, result.approval) == ("completed", "approved")
    approval = platform.run(approval_instance_id("approve-1"))
    assert approval is not None
    assert approval["output"] == {"decision": "approved", "approver": "alice"}
    records = platform.ledger.order("approve-1")
    assert records.payment is not None
    assert (records.payment.status, records.payment.amount_cents) == ("charged", BIG)


def test_approval_rejected_by_an_approvals_message_compensates_the_order(
    platform: Platform,
) -> None:
    platform.place_order(order(platform, "reject-1", [("E2E-REJECT", 1, BIG)]))
    approval_requested(platform, "reject-1")

    platform.decide(
        ApprovalDecided(order_id="reject-1", approved=False, approver="bob", reason="over budget")
    )

    status = platform.observer.wait_final("reject-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPENSATED, status
    result = finished_saga(platform, "reject-1")
    assert (result.outcome, result.failed_step, result.approval) == (
        "compensated",
        "approval",
        "rejected",
    )
    assert "bob" in (result.reason or "")
    assert "over budget" in (result.reason or "")
    assert result.compensations == ["release"]
    records = platform.ledger.order("reject-1")
    assert records.payment is None
    assert not records.holds_stock
    assert stock(platform, "E2E-REJECT") == StockLevel(sku="E2E-REJECT", available=5, reserved=0)


def test_approval_timeout_compensates_the_order(platform: Platform) -> None:
    platform.place_order(order(platform, "expire-1", [("E2E-EXPIRE", 1, BIG)]))
    approval_requested(platform, "expire-1")

    status = platform.observer.wait_final("expire-1", timeout=APPROVAL_TIMEOUT_SECONDS + WAIT)
    assert status.type == EventType.ORDER_COMPENSATED, status
    result = finished_saga(platform, "expire-1")
    assert (result.outcome, result.failed_step, result.approval) == (
        "compensated",
        "approval",
        "timed_out",
    )
    assert result.compensations == ["release"]
    approval = platform.run(approval_instance_id("expire-1"))
    assert approval is not None
    assert approval["output"] == {"decision": "timed_out"}
    records = platform.ledger.order("expire-1")
    assert records.payment is None
    assert not records.holds_stock
    assert stock(platform, "E2E-EXPIRE") == StockLevel(sku="E2E-EXPIRE", available=5, reserved=0)


def test_duplicate_order_placed_runs_one_saga_and_charges_once(platform: Platform) -> None:
    placed = order(platform, "dup-1", [("E2E-DUP", 1, 3_000)])
    platform.place_order(placed)
    platform.place_order(placed)  # while the first may still be starting or running
    first = platform.observer.wait_final("dup-1", timeout=WAIT)
    assert first.type == EventType.ORDER_COMPLETED, first
    platform.place_order(placed)  # after the saga finished: its id could be reused

    saga_id = saga_instance_id("dup-1")
    wait_until(
        lambda: (
            len(
                [
                    r
                    for r in platform.log_records("orchestrator")
                    if r.get("saga_id") == saga_id
                    and str(r.get("msg", "")).startswith("duplicate order.placed")
                ]
            )
            == 2
        ),
        timeout=WAIT,
        what="the orchestrator to acknowledge both duplicates",
    )
    assert [d.type for d in platform.observer.statuses("dup-1")] == [EventType.ORDER_COMPLETED]
    assert sent_commands(platform, "dup-1") == [
        EventType.INVENTORY_RESERVE,
        EventType.PAYMENT_CHARGE,
        EventType.SHIPPING_CREATE,
        EventType.INVENTORY_COMMIT,
    ]
    records = platform.ledger.order("dup-1")
    assert records.payment is not None
    assert (records.payment.status, records.payment.amount_cents) == ("charged", 3_000)
    assert stock(platform, "E2E-DUP") == StockLevel(
        sku="E2E-DUP", available=9, reserved=0, shipped=1
    )


def test_malformed_order_is_dead_lettered_with_its_reason_and_starts_nothing(
    platform: Platform,
) -> None:
    body = order(platform, "malformed-1", [("E2E-MALFORMED", 1, 1_000)]).to_data()
    body["items"] = []
    body["cardNumber"] = "not-a-card"
    platform.publish(Topic.ORDERS, EventType.ORDER_PLACED, json.dumps(body))

    dead = dead_letter(platform, Topic.ORDERS, "malformed-1")
    assert dead.type == EventType.DEAD_LETTER
    assert dead.data["topic"] == Topic.ORDERS
    assert dead.data["eventType"] == EventType.ORDER_PLACED
    assert dead.data["appId"] == "orchestrator"
    assert "items" in dead.data["reason"], dead.data
    assert "cardNumber" in dead.data["reason"], dead.data
    assert json.loads(dead.data["data"]) == body

    missing = platform.cli("workflow", "get", saga_instance_id("malformed-1"))
    assert missing.returncode == 3, missing.describe()  # not found
    records = platform.ledger.order("malformed-1")
    assert (records.reservation, records.payment, records.shipment) == (None, None, None)
    assert stock(platform, "E2E-MALFORMED") == StockLevel(
        sku="E2E-MALFORMED", available=10, reserved=0
    )
    assert platform.observer.statuses("malformed-1") == []


def test_suspended_saga_does_not_go_on_until_resumed_through_the_cli(
    platform: Platform,
) -> None:
    instance_id = start_patient_saga(
        platform, order(platform, "suspend-1", [("E2E-SUSPEND", 1, BIG)])
    )

    suspend = platform.cli("workflow", "suspend", instance_id, "--reason", "e2e: hold")
    assert suspend.returncode == 0, suspend.describe()
    platform.wait_run_status(instance_id, {"SUSPENDED"})
    assert cli_status(platform, instance_id) == "SUSPENDED"

    # The approval (a child run) goes on; the suspended saga must not act on it.
    approver = platform.token("alice", ["approver"])
    approve = platform.cli("approvals", "approve", "suspend-1", token=approver)
    assert approve.returncode == 0, approve.describe()
    platform.wait_run_status(approval_instance_id("suspend-1"), {"COMPLETED"})
    assert cli_status(platform, instance_id) == "SUSPENDED"
    assert platform.ledger.order("suspend-1").payment is None

    resume = platform.cli("workflow", "resume", instance_id, "--reason", "e2e: go")
    assert resume.returncode == 0, resume.describe()
    status = platform.observer.wait_final("suspend-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPLETED, status
    result = finished_saga(platform, "suspend-1")
    assert (result.outcome, result.approval) == ("completed", "approved")
    history = platform.cli("workflow", "history", instance_id, "-o", "json").json()
    reasons = {
        event["kind"]: event["details"].get("reason")
        for event in history
        if event["kind"] in {"ExecutionSuspended", "ExecutionResumed"}
    }
    assert reasons == {"ExecutionSuspended": "e2e: hold", "ExecutionResumed": "e2e: go"}


def test_terminated_saga_stops_with_its_approval_through_the_cli(platform: Platform) -> None:
    instance_id = start_patient_saga(
        platform, order(platform, "terminate-1", [("E2E-TERMINATE", 2, BIG // 2 + 1)])
    )

    terminate = platform.cli(
        "workflow", "terminate", instance_id, "--output", '{"terminatedBy": "e2e"}'
    )
    assert terminate.returncode == 0, terminate.describe()
    run = platform.wait_run_status(instance_id, {"TERMINATED"})
    assert run["output"] == {"terminatedBy": "e2e"}
    platform.wait_run_status(approval_instance_id("terminate-1"), {"TERMINATED"})
    assert cli_status(platform, instance_id) == "TERMINATED"

    records = platform.ledger.order("terminate-1")
    assert records.payment is None
    assert records.shipment is None
    # Terminating is Dapr's hard stop: no compensation runs, so the stock reserved before
    # the approval stays held (see e2e/local/README.md) ...
    assert records.holds_stock
    assert stock(platform, "E2E-TERMINATE") == StockLevel(
        sku="E2E-TERMINATE", available=3, reserved=2
    )
    # ... until an operator sends the release the saga would have sent.
    release = ReleaseInventory(
        saga_id=instance_id, command_id=f"{instance_id}:operator-release", order_id="terminate-1"
    )
    platform.publish(Topic.INVENTORY_COMMANDS, EventType.INVENTORY_RELEASE, release.to_json())
    wait_until(
        lambda: stock(platform, "E2E-TERMINATE").reserved == 0,
        timeout=WAIT,
        what="the operator's release",
    )
    assert stock(platform, "E2E-TERMINATE").available == 5
    assert not platform.ledger.order("terminate-1").holds_stock
    purge = platform.cli("workflow", "purge", instance_id)
    assert purge.returncode == 0, purge.describe()
    assert platform.run(instance_id) is None


def test_a_card_given_to_the_cli_reaches_only_the_vault_and_the_order_completes(
    platform: Platform,
) -> None:
    card = "5555555555554444"
    placed = platform.cli(
        "orders",
        "place",
        "--order-id",
        "card-1",
        "--customer",
        "cust-e2e",
        "--sku",
        "E2E-CARD:1:2500",
        "--card",
        card,
        "--vault-url",
        platform.vault_url,
    )
    assert placed.returncode == 0, placed.describe()

    status = platform.observer.wait_final("card-1", timeout=WAIT)
    assert status.type == EventType.ORDER_COMPLETED, status
    run = platform.run(saga_instance_id("card-1"))
    assert run is not None
    assert run["input"]["order"]["paymentToken"].startswith("tok_")
    history = platform.cli("workflow", "history", saga_instance_id("card-1"), "-o", "json")
    assert history.returncode == 0, history.describe()
    # The card is in no answer about the run, no status event and no process's log.
    for text in (json.dumps(run), history.stdout, json.dumps(status.data)):
        assert card not in text
    assert not [p.name for p in _processes(platform) if card in p.log_path.read_text()]


def test_an_order_carrying_a_card_number_is_dead_lettered_masked_and_starts_nothing(
    platform: Platform,
) -> None:
    """A legacy upstream system's `cardNumber`: refused at the edge, the number masked in
    the dead letter (a dead-letter topic is kept and read)."""
    body = order(platform, "legacy-card-1", [("E2E-MALFORMED", 1, 1_000)]).to_data()
    del body["paymentToken"]
    body["cardNumber"] = GOOD_TEST_CARD
    platform.publish(Topic.ORDERS, EventType.ORDER_PLACED, json.dumps(body))

    dead = dead_letter(platform, Topic.ORDERS, "legacy-card-1")
    assert "cardNumber" in dead.data["reason"], dead.data
    assert "paymentToken" in dead.data["reason"], dead.data
    assert json.loads(dead.data["data"])["cardNumber"] == "****" + GOOD_TEST_CARD[-4:]
    assert GOOD_TEST_CARD not in json.dumps(dead.data)
    assert platform.run(saga_instance_id("legacy-card-1")) is None


def _processes(platform: Platform) -> list[ManagedProcess]:
    return [p for node in platform.nodes.values() for p in (node.app, node.sidecar)]


def test_malformed_approval_decision_is_dead_lettered_with_its_reason(
    platform: Platform,
) -> None:
    body = json.dumps({"orderId": "decision-1", "approved": "maybe"})
    platform.publish(Topic.APPROVALS, EventType.APPROVAL_DECIDED, body)

    dead = dead_letter(platform, Topic.APPROVALS, "decision-1")
    assert dead.data["topic"] == Topic.APPROVALS
    assert dead.data["eventType"] == EventType.APPROVAL_DECIDED
    assert "approved" in dead.data["reason"], dead.data
    assert "approver" in dead.data["reason"], dead.data
    assert json.loads(dead.data["data"]) == json.loads(body)


def test_unanswered_charge_ends_compensation_failed_and_leaves_no_net_charge(
    platform: Platform,
) -> None:
    """The payment app is down: the charge times out, the refund is never acknowledged, and
    the saga ends visibly `compensation_failed`. Once payment is back, the late charge and
    the refund (same saga, same ids) leave nothing charged."""
    hasty = PATIENT.model_copy(
        update={
            "step_timeout_seconds": 3.0,
            "compensation_attempts": 2,
            "compensation_timeout_seconds": 2.0,
        }
    )
    placed = order(platform, "outage-1", [("E2E-OUTAGE", 2, 1_500)])  # tokenized first
    platform.kill("payment", "app")
    try:
        start_saga(platform, placed, hasty)
        status = platform.observer.wait_final("outage-1", timeout=WAIT)
    finally:
        platform.start_part("payment", "app")
    assert status.type == EventType.ORDER_FAILED, status
    assert status.data["outcome"] == "compensation_failed"
    assert status.data["failedStep"] == "charge"
    assert status.data["compensations"] == ["release"]
    assert "compensation not acknowledged: refund" in status.data["reason"]
    run = platform.run(saga_instance_id("outage-1"))
    assert run is not None
    assert run["customStatus"]["failedCompensations"] == ["refund"]
    assert stock(platform, "E2E-OUTAGE") == StockLevel(sku="E2E-OUTAGE", available=10, reserved=0)

    # The commands waited in pub/sub for the restarted app. Charge then refund, or the
    # refund first (it closes the payment and the late charge is declined): either way
    # the payment ends refunded.
    def settled() -> bool:
        payment = platform.ledger.order("outage-1").payment
        return payment is not None and payment.status == "refunded"

    wait_until(settled, timeout=WAIT, what="the payment to settle")
    assert platform.ledger.order("outage-1").net_charge_cents == 0
