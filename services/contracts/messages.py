"""The CloudEvent payloads: orders, commands, replies, approvals and status events, as
typed, validated models.

JSON on the wire uses camelCase (`orderId`, `sagaId`, `commandId`); Python uses snake_case.
Money is in integer cents. Every command and reply carries `sagaId` (the workflow
instance id) and `commandId` (one per step attempt family), which make handlers idempotent
and let replies find their saga. Which event type carries which model is the topology's
(`services.contracts.topology`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from services.contracts.names import (
    CompensationName,
    CompletionName,
    EventType,
    StepName,
    approval_instance_id,
    command_id,
    saga_instance_id,
)

IDENTIFIER_MAX_LENGTH = 128
IDENTIFIER_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{IDENTIFIER_MAX_LENGTH - 1}}}$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
Cents = Annotated[int, Field(ge=0, le=100_000_000_00)]

# Every id the platform derives from an order id (instance ids, command ids) must be an
# `Identifier`; the longest, `order-<orderId>:cancel_shipment`, bounds the order id.
MAX_ORDER_ID_LENGTH = IDENTIFIER_MAX_LENGTH - max(
    len(approval_instance_id("")),
    *(
        len(command_id(saga_instance_id(""), a))
        for a in (*StepName, *CompensationName, *CompletionName)
    ),
)


def _fits_derived_ids(order_id: str) -> str:
    if len(order_id) > MAX_ORDER_ID_LENGTH:
        raise PydanticCustomError(
            "order_id_too_long",
            "longer than {max_length} characters: the saga ids built from it would exceed "
            "{identifier_max_length}",
            {"max_length": MAX_ORDER_ID_LENGTH, "identifier_max_length": IDENTIFIER_MAX_LENGTH},
        )
    return order_id


# A card as the payment service's vault hands it out (`POST /v1/tokens`): the only form in
# which a card travels outside the payment service. It stands for the card, says nothing of
# its number, and only the payment service can resolve it.
PAYMENT_TOKEN_PATTERN = r"^tok_[A-Za-z0-9]{16,64}$"
PaymentToken = Annotated[str, Field(pattern=PAYMENT_TOKEN_PATTERN)]

# An order id short enough for every id derived from it. The bound is checked after the
# pattern so that a long id is refused for its length, with the reason.
OrderId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
        json_schema_extra={"maxLength": MAX_ORDER_ID_LENGTH},
    ),
    AfterValidator(_fits_derived_ids),
]


class InvalidMessage(ValueError):
    """A message that does not match its contract; `reason` says why, for the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Contract(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready dict, as workflow inputs and outputs carry it."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data

    @classmethod
    def parse(cls, data: bytes | str | dict[str, Any]) -> Self:
        """Validates `data`, raising `InvalidMessage` with a readable reason."""
        try:
            if isinstance(data, dict):
                return cls.model_validate(data)
            return cls.model_validate_json(data)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors()
            )
            raise InvalidMessage(f"invalid {cls.__name__}: {problems}") from None


class Address(Contract):
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    city: Annotated[str, Field(min_length=1, max_length=100)]
    postal_code: Annotated[str, Field(min_length=1, max_length=20)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class OrderLine(Contract):
    sku: Sku
    quantity: Annotated[int, Field(ge=1, le=1000)]
    unit_price_cents: Cents


class OrderPlaced(Contract):
    """What an upstream system publishes on `orders` (type `order.placed`). It pays with a
    token of the payment service's vault, never a card: no card number enters a topic, a
    saga or a log (docs/architecture.md, "Card data")."""

    order_id: OrderId
    customer_id: Identifier
    items: Annotated[list[OrderLine], Field(min_length=1, max_length=100)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    payment_token: PaymentToken
    shipping_address: Address

    @property
    def amount_cents(self) -> int:
        return sum(line.quantity * line.unit_price_cents for line in self.items)


class Command(Contract):
    saga_id: Identifier
    command_id: Identifier
    order_id: Identifier


class ReserveInventory(Command):
    items: Annotated[list[OrderLine], Field(min_length=1)]


class ReleaseInventory(Command):
    """Restores exactly what the saga reserved; a no-op when nothing is reserved."""


class ChargePayment(Command):
    customer_id: Identifier
    amount_cents: Annotated[int, Field(gt=0, le=100_000_000_00)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    payment_token: PaymentToken


class CommitInventory(Command):
    """Consumes the saga's reservation once its order shipped: the units leave `reserved`
    with the shipment (`shipped`); a no-op when nothing is reserved."""


class RefundPayment(Command):
    """Refunds what is left of the saga's charge; a no-op when there is none."""


class CreateShipment(Command):
    address: Address
    items: Annotated[list[OrderLine], Field(min_length=1)]


class CancelShipment(Command):
    """Cancels the saga's shipment; a no-op when there is none."""


class Reply(Command):
    """Every reply echoes the saga, command and order ids of the command it answers."""


class InventoryReserved(Reply):
    reservation_id: str
    items: list[OrderLine]


class InventoryRejected(Reply):
    reason: str
    unavailable: list[str] = []


class InventoryReleased(Reply):
    released: list[OrderLine] = []


class InventoryCommitted(Reply):
    committed: list[OrderLine] = []


class PaymentCharged(Reply):
    charge_id: str
    amount_cents: int


class PaymentDeclined(Reply):
    reason: str


class PaymentRefunded(Reply):
    charge_id: str | None = None
    refunded_cents: int = 0


class ShipmentCreated(Reply):
    tracking_id: str


class ShipmentFailed(Reply):
    reason: str


class ShipmentCancelled(Reply):
    tracking_id: str | None = None


class ApprovalRequested(Contract):
    order_id: OrderId
    saga_id: Identifier
    approval_id: Identifier
    customer_id: Identifier
    amount_cents: int
    currency: str
    expires_at: datetime
    reminder: bool = False


class ApprovalDecided(Contract):
    """What a person (or an upstream system) publishes on `approvals`."""

    order_id: Identifier
    approved: bool
    approver: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Annotated[str, Field(max_length=1000)] | None = None


Outcome = Literal["completed", "rejected", "compensated", "compensation_failed", "cancelled"]


class OrderStatus(Contract):
    """Published on `order-status` when a saga ends (order.completed / failed / compensated /
    cancelled)."""

    order_id: OrderId
    saga_id: Identifier
    outcome: Outcome
    reason: str | None = None
    failed_step: str | None = None
    tracking_id: str | None = None
    charge_id: str | None = None
    amount_cents: int | None = None
    compensations: list[str] = []


class DeadLetter(Contract):
    """A message an app could not process, published on the topic's dead-letter topic."""

    topic: str
    reason: str
    event_type: str
    event_id: str
    app_id: str
    data: str


def reply_event(event_type: EventType | str, reply: Reply) -> dict[str, Any]:
    """The external event a saga receives for a reply: its type and body."""
    return {"type": str(event_type), "reply": reply.to_data()}


class StockLevel(Contract):
    """One SKU's stock, as the inventory service keeps it (read-only for other apps):
    `available` to new orders, `reserved` for sagas in flight, `shipped` gone with their
    shipments. On hand is `available + reserved`; `available + reserved + shipped` never
    changes. The inventory keeps its own bookkeeping in the same record (`StockRecord`);
    the level leaves it out."""

    model_config = ConfigDict(extra="ignore")

    sku: Sku
    available: Annotated[int, Field(ge=0)]
    reserved: Annotated[int, Field(ge=0)] = 0
    shipped: Annotated[int, Field(ge=0)] = 0
