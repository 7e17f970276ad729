"""The saga's shape on Temporal, in plain dataclasses both virtualenvs can import.

What our saga does (`services/orchestrator/workflows/saga.py`), without its approvals and
cancellation: reserve -> charge -> ship, each a command to one service answered by a reply
that says success or a business refusal (a short SKU, a declined card); past the shipment,
the commit of the reservation. On a failure before the shipment, what may have happened is
compensated newest first, and a step that ended without an answer (an activity that kept
failing) counts as one that may have happened. Every command carries a deterministic id
(`command_id`), so a service that sees one twice answers from its record, as ours do.

Temporal's default data converter turns these dataclasses into JSON payloads and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAGA_WORKFLOW = "OrderSaga"
ORDERS_QUEUE = "bench-orders"  # the orchestrator's workflow worker
INVENTORY, PAYMENT, SHIPPING = "inventory", "payment", "shipping"
SERVICES = (INVENTORY, PAYMENT, SHIPPING)
QUEUES = {service: f"bench-{service}" for service in SERVICES}
# A payment token the payment service declines: the refusal path of `check` in the driver.
DECLINED_TOKEN = "tok-declined"


@dataclass(frozen=True)
class Item:
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    items: list[Item]
    currency: str
    payment_token: str
    shipping_address: str

    @property
    def amount_cents(self) -> int:
        return sum(item.quantity * item.unit_price_cents for item in self.items)


@dataclass(frozen=True)
class Command:
    """One command of one saga; the service takes the fields it needs from `order`."""

    command_id: str
    saga_id: str
    order: Order


@dataclass(frozen=True)
class Reply:
    """`ok` with the id of what the service recorded, or a business refusal's `reason`."""

    ok: bool
    record_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Step:
    """A step's activity on its service's queue, and the activity that undoes it."""

    name: str
    service: str
    activity: str
    compensation: str
    records: str  # the SagaResult field the success reply's id goes to


STEPS = (
    Step("reserve", INVENTORY, "reserve_inventory", "release_inventory", "reservation_id"),
    Step("charge", PAYMENT, "charge_payment", "refund_payment", "charge_id"),
    Step("ship", SHIPPING, "create_shipment", "cancel_shipment", "tracking_id"),
)
# Past the pivot (the shipment): sent until acknowledged, never compensated.
COMPLETION = Step("commit", INVENTORY, "commit_inventory", "", "")


@dataclass
class SagaResult:
    order_id: str
    outcome: str  # completed, rejected, compensated, compensation_failed
    reason: str | None = None
    failed_step: str | None = None
    reservation_id: str | None = None
    charge_id: str | None = None
    tracking_id: str | None = None
    compensations: list[str] = field(default_factory=list)


def command_id(saga_id: str, action: str) -> str:
    """The same id on every replay and every retry of the activity that sends it."""
    return f"{saga_id}:{action}"


def bench_order(order_id: str, index: int, token: str = "tok-good") -> Order:
    """The order `bench/e2e.py` places: three SKUs, under the approval threshold."""
    return Order(
        order_id=order_id,
        customer_id="bench-customer",
        items=[
            Item("BENCH-A", 1 + index % 3, 1_250),
            Item("BENCH-B", 1, 999),
            Item("BENCH-C", 2, 500),
        ],
        currency="USD",
        payment_token=token,
        shipping_address="1 Test Street, Springfield 12345, US",
    )
