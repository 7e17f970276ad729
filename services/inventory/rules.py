"""Inventory's rules as pure functions: reserve all lines or none, release exactly what
was reserved, commit it when it ships, and the saga's reservation lifecycle.

A saga's reservation record goes `open` -> `reserved` -> `released` (compensated) or
`committed` (shipped), or straight from `open` to `released` when a release overtakes its
reserve (the saga timed out and compensated). `released` is final: a reserve arriving
after it is rejected, so a late redelivery can never hold stock that no one will release.
`committed` is final too: the units left with the shipment, from `reserved` to `shipped`,
so per SKU `available + reserved + shipped` is constant, and on hand
(`available + reserved`) falls by what shipped.

A SKU's stock is shared by every saga, and a write can only be guarded on one key, so an
order's stock moves one SKU at a time, each change marked with the saga and the attempt
that made it (`take`, `give_back`, `ship`) until the saga's reservation, the one record that
decides, settles it (`settle`): kept, or undone. services/inventory/store.py runs the
steps.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from services.common.outcomes import Outcome, SagaRecord, reply_to, saga_scoped_id
from services.contracts.messages import (
    CommitInventory,
    Contract,
    InventoryCommitted,
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


# How a held unit leaves `reserved`: back to `available` (a release), or out of the stock
# with its shipment (a commit).
Exit = Literal["return", "ship"]


class Reservation(SagaRecord):
    """A saga's hold on stock (see the module docstring for its lifecycle). `holder`: the
    reserve attempt whose takes the reservation keeps; `releaser`: the release attempt that
    gives them back, `returned` once it has; `committer`: the commit attempt that ships
    them, `consumed` once it has."""

    status: Literal["open", "reserved", "released", "committed"] = "open"
    reservation_id: str | None = None
    items: list[OrderLine] = []
    holder: str | None = None
    releaser: str | None = None
    returned: bool = False
    committer: str | None = None
    consumed: bool = False

    def leaving(self) -> tuple[str, Exit] | None:
        """The attempt still moving the held units out of `reserved`, and where to."""
        if self.releaser is not None and not self.returned:
            return self.releaser, "return"
        if self.committer is not None and not self.consumed:
            return self.committer, "ship"
        return None


class Pending(Contract):
    """One attempt's change to a SKU's stock, landed, until the reservation settles it."""

    change: Literal["take", Exit]
    units: Annotated[int, Field(gt=0)]


class StockRecord(StockLevel):
    """A SKU's stock as the inventory keeps it under its stock key: the level every app
    reads (`StockLevel`, which ignores the rest) and `pending`, the changes to it that
    landed while the reservation of their saga does not settle them yet, by
    `<sagaId>/<attempt>`. Left out when there is none."""

    model_config = ConfigDict(extra="forbid")

    pending: dict[str, Pending] | None = None


def quantities(items: Iterable[OrderLine]) -> Counter[str]:
    """Units per SKU: an order may name one SKU on several lines."""
    wanted: Counter[str] = Counter()
    for line in items:
        wanted[line.sku] += line.quantity
    return wanted


def reserve(
    command: ReserveInventory,
    reservation: Reservation,
    attempt: str,
    unavailable: Iterable[str] = (),
) -> Outcome[Reservation]:
    """The reply to a reserve and the reservation as it leaves it. `attempt` took the
    order's stock but for `unavailable` (SKUs with no stock, or too little): the order is
    held whole, by that attempt, or not at all."""
    if reservation.status in ("reserved", "committed"):
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
    short = sorted(unavailable)
    if short:
        return Outcome(
            EventType.INVENTORY_REJECTED,
            reply_to(
                command,
                InventoryRejected,
                reason=f"insufficient stock for {', '.join(short)}",
                unavailable=short,
            ),
        )
    held = reservation.model_copy(
        update={
            "status": "reserved",
            "reservation_id": saga_scoped_id("res_", command.saga_id),
            "items": command.items,
            "holder": attempt,
        }
    )
    return Outcome(EventType.INVENTORY_RESERVED, _reserved_reply(command, held), held)


def _reserved_reply(command: ReserveInventory, reservation: Reservation) -> InventoryReserved:
    return reply_to(
        command,
        InventoryReserved,
        reservation_id=reservation.reservation_id,
        items=reservation.items,
    )


def release(
    command: ReleaseInventory, reservation: Reservation, attempt: str
) -> Outcome[Reservation]:
    """Closes the reservation; the reply names what it held, which `attempt` then gives
    back (`give_back`, SKU by SKU). Releasing nothing (open or released) still closes it;
    a committed reservation has nothing left to release (its units shipped)."""
    if reservation.status in ("released", "committed"):
        return Outcome(EventType.INVENTORY_RELEASED, reply_to(command, InventoryReleased))
    if reservation.status == "open":
        closed = reservation.model_copy(update={"status": "released"})
        return Outcome(EventType.INVENTORY_RELEASED, reply_to(command, InventoryReleased), closed)
    closed = reservation.model_copy(update={"status": "released", "releaser": attempt})
    return Outcome(
        EventType.INVENTORY_RELEASED,
        reply_to(command, InventoryReleased, released=reservation.items),
        closed,
    )


def commit(
    command: CommitInventory, reservation: Reservation, attempt: str
) -> Outcome[Reservation]:
    """Consumes the reservation once its order shipped; the reply names what it held,
    which `attempt` then ships out of `reserved` (`ship`, SKU by SKU). A reservation that
    holds nothing (open, released, committed before) is left as it is and the reply names
    nothing: a commit is never refused, the saga only waits for its acknowledgement."""
    if reservation.status != "reserved":
        return Outcome(EventType.INVENTORY_COMMITTED, reply_to(command, InventoryCommitted))
    consumed = reservation.model_copy(update={"status": "committed", "committer": attempt})
    return Outcome(
        EventType.INVENTORY_COMMITTED,
        reply_to(command, InventoryCommitted, committed=reservation.items),
        consumed,
    )


# --- one SKU's stock, changed by one attempt of one saga ------------------------------


def take(stock: StockRecord, saga_id: str, attempt: str, units: int) -> StockRecord | None:
    """`units` from available to reserved, marked as the attempt's take (once); None when
    fewer are available."""
    key = f"{saga_id}/{attempt}"
    if key in (stock.pending or {}):
        return stock
    if stock.available < units:
        return None
    return _moved(stock, {key: Pending(change="take", units=units)}, taken=units)


def give_back(stock: StockRecord, saga_id: str, attempt: str, units: int) -> StockRecord:
    """`units` from reserved back to available, marked as the release attempt's (once)."""
    return _leave(stock, f"{saga_id}/{attempt}", "return", units)


def ship(stock: StockRecord, saga_id: str, attempt: str, units: int) -> StockRecord:
    """`units` from reserved out with their shipment, marked as the commit attempt's
    (once): on hand falls by them."""
    return _leave(stock, f"{saga_id}/{attempt}", "ship", units)


def _leave(stock: StockRecord, key: str, exit: Exit, units: int) -> StockRecord:
    if key in (stock.pending or {}):
        return stock
    mark = {key: Pending(change=exit, units=units)}
    if exit == "ship":
        return _moved(stock, mark, shipped=units)
    return _moved(stock, mark, taken=-units)


def settle(stock: StockRecord, reservation: Reservation) -> StockRecord:
    """Resolves the saga's pending changes as its reservation decided: the holder's take
    is kept, any other take is undone (a duplicate attempt, or a reserve the saga
    rejected or released); the releaser's return (the committer's shipment) stays marked
    until the reservation says every SKU's units left `reserved`."""
    settled = stock
    prefix = f"{reservation.saga_id}/"
    for key, pending in (stock.pending or {}).items():
        if not key.startswith(prefix):
            continue
        attempt = key.removeprefix(prefix)
        if pending.change == "take":
            kept = reservation.status != "open" and attempt == reservation.holder
            settled = _moved(settled, {key: None}, taken=0 if kept else -pending.units)
        elif (attempt, pending.change) != reservation.leaving():
            settled = _moved(settled, {key: None})
    return settled


def _moved(
    stock: StockRecord, marks: Mapping[str, Pending | None], *, taken: int = 0, shipped: int = 0
) -> StockRecord:
    """`taken` units moved from available to reserved (negative: back), `shipped` from
    reserved out with their shipments, with `marks` set (None: dropped)."""
    pending = dict(stock.pending or {})
    for key, mark in marks.items():
        if mark is None:
            pending.pop(key, None)
        else:
            pending[key] = mark
    return stock.model_copy(
        update={
            "available": stock.available - taken,
            "reserved": stock.reserved + taken - shipped,
            "shipped": stock.shipped + shipped,
            "pending": pending or None,
        }
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
