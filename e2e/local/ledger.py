"""What the services hold for each order, read from the shared state store, and the
invariants a finished run must satisfy, whatever crashed on the way.

The records are read through a sidecar with the SDK's `DaprClient`, under the keys
docs/services.md gives (the store has `keyPrefix: none`, so every app sees the same
keys). They are parsed with the services' own record models, so a record that no longer
matches its contract fails loudly here too.

`violations` is pure: given the orders, how each saga ended, the stock and the records,
it lists every broken invariant in words, so a failing test says what is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from dapr.clients import DaprClient

from services.contracts.messages import OrderPlaced, StockLevel
from services.contracts.names import STATESTORE, saga_instance_id, stock_key
from services.inventory.rules import Reservation
from services.payment.rules import Payment
from services.shipping.rules import Shipment

Record = TypeVar("Record", Reservation, Payment, Shipment)


def _parsed(data: bytes | None, model: type[Record]) -> Record | None:
    return None if data is None else model.parse(data)


def reservation_key(saga_id: str) -> str:
    return f"inventory:reservation:{saga_id}"


def charge_key(saga_id: str) -> str:
    return f"payment:charge:{saga_id}"


def shipment_key(saga_id: str) -> str:
    return f"shipping:shipment:{saga_id}"


@dataclass(frozen=True)
class OrderRecords:
    """The services' records of one saga; None where a service has none."""

    reservation: Reservation | None
    payment: Payment | None
    shipment: Shipment | None

    @property
    def net_charge_cents(self) -> int:
        """What the customer is out of pocket: charged minus refunded."""
        payment = self.payment
        if payment is None or payment.status == "open":
            return 0
        return payment.amount_cents - payment.refunded_cents

    @property
    def holds_stock(self) -> bool:
        return self.reservation is not None and self.reservation.status == "reserved"

    @property
    def shipped_stock(self) -> bool:
        """Its reservation was consumed by a shipment."""
        return self.reservation is not None and self.reservation.status == "committed"

    @property
    def live_shipment(self) -> bool:
        return self.shipment is not None and self.shipment.status == "created"


class Ledger:
    """Reads stock levels and per-saga records through one sidecar."""

    def __init__(self, dapr: DaprClient) -> None:
        self.dapr = dapr

    def _read(self, keys: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        if not keys:
            return found
        response = self.dapr.get_bulk_state(STATESTORE, list(keys), parallelism=8)
        for item in response.items:
            assert not item.error, f"{item.key}: {item.error}"
            if item.data:
                data = item.data
                found[item.key] = data.encode() if isinstance(data, str) else bytes(data)
        return found

    def stock(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        """Each SKU's stored level; a SKU with no record is left out."""
        keys = {stock_key(sku): sku for sku in skus}
        stored = self._read(list(keys))
        return {keys[key]: StockLevel.parse(data) for key, data in stored.items()}

    def records(self, order_ids: Iterable[str]) -> dict[str, OrderRecords]:
        """Each order's records (keyed by order id)."""
        sagas = {order_id: saga_instance_id(order_id) for order_id in order_ids}
        keys = [
            key(saga)
            for saga in sagas.values()
            for key in (reservation_key, charge_key, shipment_key)
        ]
        stored = self._read(keys)
        return {
            order_id: OrderRecords(
                _parsed(stored.get(reservation_key(saga)), Reservation),
                _parsed(stored.get(charge_key(saga)), Payment),
                _parsed(stored.get(shipment_key(saga)), Shipment),
            )
            for order_id, saga in sagas.items()
        }

    def order(self, order_id: str) -> OrderRecords:
        return self.records([order_id])[order_id]


def quantities(order: OrderPlaced) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in order.items:
        counts[line.sku] += line.quantity
    return counts


def violations(
    orders: Sequence[OrderPlaced],
    outcomes: Mapping[str, str],
    seed: Mapping[str, int],
    stock: Mapping[str, StockLevel],
    records: Mapping[str, OrderRecords],
) -> list[str]:
    """Every broken invariant, in words; empty when the run is consistent.

    - stock is conserved: per seeded SKU, `available + reserved + shipped` is the seed,
      `shipped` is exactly what the completed orders took, and nothing stays `reserved`
      (every saga ended: a shipment consumed its reservation, a failure released it);
    - a completed order's reservation was consumed by its shipment (committed, fully),
      it was charged once for its amount with nothing refunded, and has a live shipment;
    - any other order holds and shipped no stock, has no net charge and no live shipment.
    """
    problems: list[str] = []
    taken: Counter[str] = Counter()
    for placed in orders:
        order_id = placed.order_id
        outcome = outcomes.get(order_id)
        record = records.get(order_id, OrderRecords(None, None, None))
        if outcome is None:
            problems.append(f"{order_id}: the saga has no outcome")
            continue
        if outcome == "completed":
            taken.update(quantities(placed))
            reservation, payment, shipment = record.reservation, record.payment, record.shipment
            if reservation is None or not (
                reservation.status == "committed" and reservation.consumed
            ):
                problems.append(
                    f"{order_id}: completed without its reservation shipped ({reservation})"
                )
            elif quantities_of(reservation) != quantities(placed):
                problems.append(f"{order_id}: reservation {reservation.items} != the order's items")
            if payment is None or payment.status != "charged":
                problems.append(f"{order_id}: completed without a charge ({payment})")
            elif payment.amount_cents != placed.amount_cents or payment.refunded_cents:
                problems.append(
                    f"{order_id}: charged {payment.amount_cents}, refunded "
                    f"{payment.refunded_cents}, for an order of {placed.amount_cents}"
                )
            if shipment is None or shipment.status != "created" or not shipment.tracking_id:
                problems.append(f"{order_id}: completed without a live shipment ({shipment})")
        else:
            if record.holds_stock or record.shipped_stock:
                problems.append(f"{order_id}: {outcome}, but holds {record.reservation}")
            if record.net_charge_cents:
                problems.append(
                    f"{order_id}: {outcome}, but {record.net_charge_cents} cents stay charged"
                )
            if record.live_shipment:
                problems.append(f"{order_id}: {outcome}, but shipment {record.shipment} is live")
    for sku, initial in sorted(seed.items()):
        level = stock.get(sku)
        if level is None:
            problems.append(f"{sku}: no stock record")
            continue
        if level.available + level.reserved + level.shipped != initial:
            problems.append(
                f"{sku}: available {level.available} + reserved {level.reserved} + shipped "
                f"{level.shipped} != seeded {initial}"
            )
        if level.shipped != taken[sku]:
            problems.append(
                f"{sku}: shipped {level.shipped}, but the completed orders took {taken[sku]}"
            )
        if level.reserved:
            problems.append(f"{sku}: {level.reserved} still reserved, with every saga ended")
    return problems


def quantities_of(reservation: Reservation) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in reservation.items:
        counts[line.sku] += line.quantity
    return counts
