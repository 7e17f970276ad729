"""A real Prometheus scrapes a running platform (the testing kit's `Platform`: every app
and sidecar a process) while a mixed batch of orders goes through the management API; its
PromQL answers give the right sagas by outcome, steps, compensations, approvals and dead
letters, and a redelivered order and a redelivered reply count nothing twice.

One platform and one Prometheus for the module (a platform costs ~15 s of CPU to start).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from services.contracts.messages import Address, OrderLine, OrderPlaced, PaymentCharged
from services.contracts.names import (
    AppId,
    CompensationName,
    CompletionName,
    EventType,
    StepName,
    Topic,
    command_id,
    saga_instance_id,
)
from services.contracts.topology import DECLINING_TEST_CARD, GOOD_TEST_CARD, subscription
from testkit.platform import Platform, PlatformSettings
from testkit.polling import wait_until
from tests.observability.prometheus import PrometheusServer

STOCKED = "SKU-OBS-1"
ORDERS_DEAD_LETTERS = subscription(AppId.ORCHESTRATOR, Topic.ORDERS).dead_letter_topic
THRESHOLD_CENTS = 100_000


# Orders paying with the declining test card; the others pay with the good one. Each card
# is tokenized by the platform's card vault when its order is placed (`_place`).
DECLINED = {"obs-declined"}


def _order(order_id: str, *, quantity: int = 1, price: int = 2_500) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        customer_id="cust-metrics",
        items=[OrderLine(sku=STOCKED, quantity=quantity, unit_price_cents=price)],
        payment_token="tok_notYetTokenizedNotYet",
        shipping_address=Address(
            line1="1 Main St", city="Springfield", postal_code="1", country="US"
        ),
    )


# The batch and the outcome each order must reach (docs/services.md says why).
ORDERS = {
    "obs-completed-1": (_order("obs-completed-1"), "completed"),
    "obs-completed-2": (_order("obs-completed-2", quantity=2), "completed"),
    "obs-approved": (_order("obs-approved", price=THRESHOLD_CENTS + 50_000), "completed"),
    "obs-declined": (_order("obs-declined"), "compensated"),
    "obs-no-stock": (_order("obs-no-stock", quantity=900), "rejected"),
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = PlatformSettings(
        approval_threshold_cents=THRESHOLD_CENTS,
        inventory_seed={STOCKED: 100},
        log_level="info",
    )
    started = Platform(tmp_path_factory.mktemp("metrics-platform"), settings).start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, platform: Platform
) -> Iterator[PrometheusServer]:
    server = PrometheusServer(
        tmp_path_factory.mktemp("prometheus"), [f"127.0.0.1:{platform.api_port}"]
    ).start()
    try:
        server.wait_targets_up()
        yield server
    finally:
        server.stop()


def _place(platform: Platform, order: OrderPlaced) -> None:
    card = DECLINING_TEST_CARD if order.order_id in DECLINED else GOOD_TEST_CARD
    paying = order.model_copy(update={"payment_token": platform.token_for(card)})
    response = platform.api.post(
        "/v1/orders", content=paying.to_json(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 202, response.text


def _scraped_after(prometheus: PrometheusServer, moment: float) -> None:
    """Until Prometheus holds a scrape of the API taken after `moment`."""

    def fresh() -> bool:
        [sample] = prometheus.query("timestamp(saga_started_total)")
        return float(sample["value"][1]) > moment

    wait_until(fresh, timeout=30, interval=0.2, what="a scrape after the last event")


def _logged(platform: Platform, message: str, saga_id: str) -> bool:
    return any(
        record.get("msg") == message and record.get("saga_id") == saga_id
        for record in platform.log_records("orchestrator")
    )


def test_prometheus_counts_a_mixed_batch_by_outcome(
    platform: Platform, prometheus: PrometheusServer
) -> None:
    begun = time.monotonic()
    for order, _ in ORDERS.values():
        _place(platform, order)
    # An order that fails its contract: dead-lettered by the orchestrator.
    platform.publish(Topic.ORDERS, EventType.ORDER_PLACED, '{"orderId": "obs-broken"}')

    # The approval shows in the run gauges as Prometheus scraped them, then is approved.
    wait_until(
        lambda: prometheus.values_by("saga_approvals_pending", "") == {"": 1.0},
        timeout=60,
        interval=0.2,
        what="one pending approval in Prometheus",
    )
    [deadline] = prometheus.query("saga_approval_next_deadline_timestamp_seconds")
    assert float(deadline["value"][1]) > time.time()
    approved = platform.api.post("/v1/approvals/obs-approved/approve", json={"reason": "checked"})
    assert approved.status_code == 202, approved.text

    for order_id, (_, outcome) in ORDERS.items():
        final = platform.observer.wait_final(order_id, timeout=90)
        assert final.data["outcome"] == outcome, (order_id, final.data)
    platform.observer.wait_for(
        lambda d: d.topic == ORDERS_DEAD_LETTERS, what="the broken order's dead letter"
    )

    # Duplicates: a redelivered order and a redelivered reply of a finished saga.
    completed, _ = ORDERS["obs-completed-1"]
    saga_id = saga_instance_id(completed.order_id)
    platform.place_order(completed)
    duplicate_reply = PaymentCharged(
        saga_id=saga_id,
        command_id=command_id(saga_id, StepName.CHARGE),
        order_id=completed.order_id,
        charge_id="ch-duplicate",
        amount_cents=completed.amount_cents,
    )
    platform.publish(Topic.SAGA_REPLIES, EventType.PAYMENT_CHARGED, duplicate_reply.to_json())
    wait_until(
        lambda: (
            _logged(platform, "duplicate order.placed: the saga exists, nothing started", saga_id)
            and _logged(platform, "reply for a finished workflow acknowledged", saga_id)
        ),
        timeout=30,
        interval=0.2,
        what="both duplicates handled",
    )
    _scraped_after(prometheus, time.time())

    finished = prometheus.values_by("sum by (outcome) (saga_finished_total)", "outcome")
    assert finished == {
        "completed": 3.0,
        "compensated": 1.0,
        "rejected": 1.0,
        "compensation_failed": 0.0,
        "cancelled": 0.0,
    }
    assert prometheus.values_by("sum(saga_started_total)", "") == {"": 5.0}
    steps = {
        (item["metric"]["step"], item["metric"]["result"]): float(item["value"][1])
        for item in prometheus.query("sum by (step, result) (saga_step_duration_seconds_count)")
    }
    assert steps == {
        (StepName.RESERVE, "success"): 4.0,
        (StepName.RESERVE, "failure"): 1.0,
        (StepName.CHARGE, "success"): 3.0,
        (StepName.CHARGE, "failure"): 1.0,
        (StepName.SHIP, "success"): 3.0,
        (CompletionName.COMMIT, "success"): 3.0,  # the shipments consumed their reservations
    }
    assert prometheus.values_by(
        'saga_compensations_total{result="acknowledged"} > 0', "compensation"
    ) == {CompensationName.RELEASE: 1.0}
    assert prometheus.values_by("saga_approvals_requested_total", "") == {"": 1.0}
    assert prometheus.values_by(
        "sum by (decision) (saga_approval_decision_seconds_count)", "decision"
    ) == {"approved": 1.0}
    dead = prometheus.query('saga_dead_letters_total{app_id="orchestrator"} > 0')
    assert [(d["metric"]["topic"], d["metric"]["reason"], d["value"][1]) for d in dead] == [
        (Topic.ORDERS, "invalid_message", "1")
    ]
    # The run gauges are sampled at most every few seconds: they settle at nothing running.
    wait_until(
        lambda: (
            prometheus.values_by("saga_approvals_pending", "") == {"": 0.0}
            and set(prometheus.values_by("saga_running", "step").values()) == {0.0}
        ),
        timeout=30,
        interval=0.2,
        what="no saga running and no approval pending in Prometheus",
    )
    print(f"batch placed, finished and scraped in {time.monotonic() - begun:.1f}s")
