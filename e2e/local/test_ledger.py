"""The load test's invariants (`e2e.local.ledger.violations`) on hand-made books: each
broken rule is reported, a consistent run reports nothing. No platform needed."""

from __future__ import annotations

from dataclasses import replace

from e2e.local.ledger import OrderRecords, violations
from e2e.local.orders import order
from services.contracts.messages import OrderLine, StockLevel
from services.inventory.rules import Reservation
from services.payment.rules import Payment
from services.shipping.rules import Shipment

PLACED = order("o-1", [("SKU-A", 2, 1_000)], token="tok_ledgerLedgerLedger")
ITEMS = [OrderLine(sku="SKU-A", quantity=2, unit_price_cents=1_000)]
SEED = {"SKU-A": 10}


def completed_records() -> OrderRecords:
    return OrderRecords(
        Reservation(
            saga_id="order-o-1",
            status="committed",
            reservation_id="r",
            items=ITEMS,
            committer="a",
            consumed=True,
        ),
        Payment(saga_id="order-o-1", status="charged", charge_id="c", amount_cents=2_000),
        Shipment(saga_id="order-o-1", status="created", tracking_id="T", country="US"),
    )


def test_consistent_books_have_no_violations() -> None:
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=8, reserved=0, shipped=2)}
    records = {"o-1": completed_records()}
    assert violations([PLACED], {"o-1": "completed"}, SEED, stock, records) == []


def test_failed_order_holding_stock_charge_or_shipment_is_reported() -> None:
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=8, reserved=0, shipped=2)}
    records = {"o-1": completed_records()}
    problems = violations([PLACED], {"o-1": "compensated"}, SEED, stock, records)
    assert len(problems) == 4, problems  # reservation, charge, shipment, stock taken
    assert any("2000 cents stay charged" in p for p in problems)


def test_refunded_charge_of_a_failed_order_is_no_net_charge() -> None:
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=10, reserved=0)}
    payment = Payment(
        saga_id="order-o-1", status="refunded", amount_cents=2_000, refunded_cents=2_000
    )
    records = {"o-1": OrderRecords(None, payment, None)}
    assert violations([PLACED], {"o-1": "compensated"}, SEED, stock, records) == []


def test_lost_or_oversold_stock_is_reported() -> None:
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=9, reserved=0, shipped=2)}
    problems = violations([PLACED], {"o-1": "completed"}, SEED, stock, {"o-1": completed_records()})
    assert problems == ["SKU-A: available 9 + reserved 0 + shipped 2 != seeded 10"]


def test_a_shipped_order_whose_reservation_was_not_consumed_is_reported() -> None:
    held = Reservation(saga_id="order-o-1", status="reserved", reservation_id="r", items=ITEMS)
    records = {"o-1": replace(completed_records(), reservation=held)}
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=8, reserved=2)}
    problems = violations([PLACED], {"o-1": "completed"}, SEED, stock, records)
    assert problems == [
        f"o-1: completed without its reservation shipped ({held})",
        "SKU-A: shipped 0, but the completed orders took 2",
        "SKU-A: 2 still reserved, with every saga ended",
    ]


def test_order_without_an_outcome_is_reported() -> None:
    stock = {"SKU-A": StockLevel(sku="SKU-A", available=10, reserved=0)}
    assert violations([PLACED], {}, SEED, stock, {}) == ["o-1: the saga has no outcome"]
