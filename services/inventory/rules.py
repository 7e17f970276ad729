"""Inventory's rules as pure functions: reserve all lines or none, release exactly what
was reserved, and the saga's reservation lifecycle.

A saga's reservation record goes `open` -> `reserved` -> `released`, or straight from
`open` to `released` when a release overtakes its reserve (the saga timed out and
compensated). `released` is final: a reserve arriving after it is rejected, so a late
redelivery can never hold stock that no one will release. Stock sold to a completed order
stays counted in `reserved`, so `available + reserved` is constant per SKU.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from services.common import outcomes
from services.common.outcomes import reply_to, saga_scoped_id
from services.contracts.messages import (
    Contract,
    Identifier,
    InventoryRejected,
    InventoryReleased,
    InventoryReserved,
    OrderLine,
    ReleaseInventory,
    ReserveInventory,
    StockLevel,
)
from services.contracts.names import EventType

# Without INVENTORY_SEED: ten SKUs, SKU-001 ... SKU-010, 100 units each.
DEFAULT_SEED = {f"SKU-{number:03d}": 100 for number in range(1, 11)}


class Reservation(Contract):
    """A saga's hold on stock (see the module docstring for its lifecycle)."""

    saga_id: Identifier
    status: Literal["open", "reserved", "released"] = "open"
    reservation_id: str | None = None
    items: list[OrderLine] = []


@dataclass(frozen=True)
class Outcome(outcomes.Outcome[Reservation]):
    """Besides the reservation, the stock levels the command changes."""

    stock: tuple[StockLevel, ...] = ()


def quantities(items: Iterable[OrderLine]) -> Counter[str]:
    """Units per SKU: an order may name one SKU on several lines."""
    wanted: Counter[str] = Counter()
    for line in items:
        wanted[line.sku] += line.quantity
    return wanted


def reserve(
    command: ReserveInventory, reservation: Reservation, stock: Mapping[str, StockLevel]
) -> Outcome:
    """Holds every line of the order, or none: `stock` has the current level of each SKU
    the order names (a SKU without stock is missing)."""
    if reservation.status == "reserved":
        return Outcome(EventType.INVENTORY_RESERVED, _reserved_reply(command, reservation))
    if reservation.status == "released":
        return Outcome(
            EventType.INVENTORY_REJECTED,
            reply_to(
                command,
                InventoryRejected,
                reason=f"the reservation of saga '{command.saga_id}' was already released",
            ),
        )
    wanted = quantities(command.items)
    unavailable = sorted(
        sku for sku, units in wanted.items() if sku not in stock or stock[sku].available < units
    )
    if unavailable:
        return Outcome(
            EventType.INVENTORY_REJECTED,
            reply_to(
                command,
                InventoryRejected,
                reason=f"insufficient stock for {', '.join(unavailable)}",
                unavailable=unavailable,
            ),
        )
    held = Reservation(
        saga_id=command.saga_id,
        status="reserved",
        reservation_id=saga_scoped_id("res_", command.saga_id),
        items=command.items,
    )
    levels = tuple(
        StockLevel(
            sku=sku,
            available=stock[sku].available - units,
            reserved=stock[sku].reserved + units,
        )
        for sku, units in wanted.items()
    )
    return Outcome(EventType.INVENTORY_RESERVED, _reserved_reply(command, held), held, levels)


def _reserved_reply(command: ReserveInventory, reservation: Reservation) -> InventoryReserved:
    return reply_to(
        command,
        InventoryReserved,
        reservation_id=reservation.reservation_id,
        items=reservation.items,
    )


def release(
    command: ReleaseInventory, reservation: Reservation, stock: Mapping[str, StockLevel]
) -> Outcome:
    """Returns exactly what the reservation holds to `available`; `stock` has the current
    level of each SKU it holds. Releasing nothing (open or released) still closes it."""
    if reservation.status == "released":
        return Outcome(EventType.INVENTORY_RELEASED, reply_to(command, InventoryReleased))
    closed = reservation.model_copy(update={"status": "released"})
    if reservation.status == "open":
        return Outcome(EventType.INVENTORY_RELEASED, reply_to(command, InventoryReleased), closed)
    levels = tuple(
        StockLevel(
            sku=sku,
            available=stock[sku].available + units,
            reserved=stock[sku].reserved - units,
        )
        for sku, units in quantities(reservation.items).items()
    )
    return Outcome(
        EventType.INVENTORY_RELEASED,
        reply_to(command, InventoryReleased, released=reservation.items),
        closed,
        levels,
    )


def seed_levels(text: str | None) -> dict[str, int]:
    """The stock to create on start: `INVENTORY_SEED` (JSON `{sku: available}`), or
    `DEFAULT_SEED` when it is unset or empty. Raises `ValueError` naming the problem."""
    if not text or not text.strip():
        return dict(DEFAULT_SEED)
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ValueError(f"INVENTORY_SEED is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("INVENTORY_SEED must be a JSON object {sku: available}")
    levels = [StockLevel.parse({"sku": sku, "available": units}) for sku, units in document.items()]
    return {level.sku: level.available for level in levels}
