"""Inventory's rules without Dapr: all-or-nothing reservations, exact releases, the
reservation lifecycle and the seed."""

from __future__ import annotations

import pytest

from services.contracts.messages import InventoryRejected, InventoryReleased, InventoryReserved
from services.contracts.messages import StockLevel as Level
from services.contracts.names import EventType
from services.inventory import rules
from services.inventory.rules import Reservation
from tests.services.commands import release, reserve

STOCK = {"A": Level(sku="A", available=5), "B": Level(sku="B", available=2, reserved=3)}
OPEN = Reservation(saga_id="s1")


def test_reserve_takes_every_line_from_available_into_reserved() -> None:
    outcome = rules.reserve(reserve("s1", ("A", 2), ("B", 2)), OPEN, STOCK)

    assert outcome.reply_type == EventType.INVENTORY_RESERVED
    assert isinstance(outcome.reply, InventoryReserved)
    assert outcome.reply.command_id == "s1-reserve"
    assert set(outcome.stock) == {
        Level(sku="A", available=3, reserved=2),
        Level(sku="B", available=0, reserved=5),
    }
    assert outcome.record is not None
    assert outcome.record.status == "reserved"
    assert outcome.record.reservation_id == outcome.reply.reservation_id


def test_lines_of_one_sku_are_added_up_before_checking_stock() -> None:
    outcome = rules.reserve(reserve("s1", ("A", 3), ("A", 3)), OPEN, STOCK)

    assert outcome.reply_type == EventType.INVENTORY_REJECTED
    assert isinstance(outcome.reply, InventoryRejected)
    assert outcome.reply.unavailable == ["A"]


def test_insufficient_stock_rejects_the_whole_order_and_changes_nothing() -> None:
    outcome = rules.reserve(reserve("s1", ("A", 1), ("B", 3), ("GHOST", 1)), OPEN, STOCK)

    assert outcome.reply_type == EventType.INVENTORY_REJECTED
    assert isinstance(outcome.reply, InventoryRejected)
    assert outcome.reply.unavailable == ["B", "GHOST"]
    assert outcome.stock == ()
    assert outcome.record is None


def test_reserving_exactly_what_is_available_leaves_zero() -> None:
    outcome = rules.reserve(reserve("s1", ("A", 5)), OPEN, STOCK)

    assert outcome.stock == (Level(sku="A", available=0, reserved=5),)


def test_a_saga_already_holding_stock_gets_the_same_reservation_again() -> None:
    first = rules.reserve(reserve("s1", ("A", 2)), OPEN, STOCK)
    assert first.record is not None

    again = rules.reserve(reserve("s1", ("A", 2), command="other"), first.record, STOCK)

    assert again.reply_type == EventType.INVENTORY_RESERVED
    assert isinstance(again.reply, InventoryReserved)
    assert isinstance(first.reply, InventoryReserved)
    assert again.reply.reservation_id == first.reply.reservation_id
    assert (again.stock, again.record) == ((), None)


def test_release_restores_exactly_what_was_reserved() -> None:
    reserved = rules.reserve(reserve("s1", ("A", 2), ("B", 1), ("A", 1)), OPEN, STOCK)
    assert reserved.record is not None
    after_reserve = {level.sku: level for level in reserved.stock}

    released = rules.release(release("s1"), reserved.record, after_reserve)

    assert released.reply_type == EventType.INVENTORY_RELEASED
    assert isinstance(released.reply, InventoryReleased)
    assert released.reply.released == reserved.record.items
    assert {level.sku: level for level in released.stock} == STOCK
    assert released.record is not None
    assert released.record.status == "released"


def test_releasing_twice_releases_nothing_the_second_time() -> None:
    reserved = rules.reserve(reserve("s1", ("A", 2)), OPEN, STOCK)
    assert reserved.record is not None
    first = rules.release(release("s1"), reserved.record, {"A": reserved.stock[0]})
    assert first.record is not None

    second = rules.release(release("s1", command="again"), first.record, STOCK)

    assert isinstance(second.reply, InventoryReleased)
    assert second.reply.released == []
    assert (second.stock, second.record) == ((), None)


def test_release_without_reservation_is_a_no_op_that_fences_a_late_reserve() -> None:
    released = rules.release(release("s1"), OPEN, STOCK)

    assert isinstance(released.reply, InventoryReleased)
    assert released.reply.released == []
    assert released.stock == ()
    assert released.record == Reservation(saga_id="s1", status="released")

    late = rules.reserve(reserve("s1", ("A", 1)), released.record, STOCK)

    assert late.reply_type == EventType.INVENTORY_REJECTED
    assert (late.stock, late.record) == ((), None)


def test_seed_defaults_to_ten_skus_of_one_hundred() -> None:
    assert rules.seed_levels(None) == rules.seed_levels("") == rules.DEFAULT_SEED
    assert len(rules.DEFAULT_SEED) == 10
    assert set(rules.DEFAULT_SEED.values()) == {100}


def test_seed_reads_a_json_object_of_available_units() -> None:
    assert rules.seed_levels('{"WIDGET": 5, "GADGET-2": 0}') == {"WIDGET": 5, "GADGET-2": 0}


@pytest.mark.parametrize("text", ["[1]", "{", '{"bad sku": 1}', '{"A": -1}'])
def test_a_malformed_seed_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"INVENTORY_SEED|StockLevel"):
        rules.seed_levels(text)
