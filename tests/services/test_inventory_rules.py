"""Inventory's rules without Dapr: all-or-nothing reservations, exact releases, commits
that ship what was reserved, the reservation lifecycle, each SKU's stock changed once per
saga, and the seed."""

from __future__ import annotations

import pytest

from services.contracts.messages import (
    InventoryCommitted,
    InventoryRejected,
    InventoryReleased,
    InventoryReserved,
)
from services.contracts.messages import StockLevel as Level
from services.contracts.names import EventType
from services.inventory import rules
from services.inventory.rules import Pending, Reservation, StockRecord
from tests.services.commands import commit, release, reserve

OPEN = Reservation(saga_id="s1")
STOCK = StockRecord(sku="A", available=5, reserved=1)


def test_reserve_holds_every_line_when_nothing_is_unavailable() -> None:
    outcome = rules.reserve(reserve("s1", ("A", 2), ("B", 2)), OPEN, "t1")

    assert outcome.reply_type == EventType.INVENTORY_RESERVED
    assert isinstance(outcome.reply, InventoryReserved)
    assert outcome.reply.command_id == "s1-reserve"
    assert outcome.record is not None
    assert outcome.record.status == "reserved"
    assert outcome.record.reservation_id == outcome.reply.reservation_id
    assert outcome.record.items == outcome.reply.items
    assert outcome.record.holder == "t1"


def test_lines_of_one_sku_are_added_up() -> None:
    assert rules.quantities(reserve("s1", ("A", 3), ("B", 1), ("A", 3)).items) == {"A": 6, "B": 1}


def test_unavailable_stock_rejects_the_whole_order_and_holds_nothing() -> None:
    outcome = rules.reserve(
        reserve("s1", ("A", 1), ("B", 3), ("GHOST", 1)), OPEN, "t1", ["GHOST", "B"]
    )

    assert outcome.reply_type == EventType.INVENTORY_REJECTED
    assert isinstance(outcome.reply, InventoryRejected)
    assert outcome.reply.unavailable == ["B", "GHOST"]
    assert outcome.record is None


def test_a_saga_already_holding_stock_gets_the_same_reservation_again() -> None:
    first = rules.reserve(reserve("s1", ("A", 2)), OPEN, "t1")
    assert first.record is not None

    again = rules.reserve(reserve("s1", ("A", 2), command="other"), first.record, "t2", ["A"])

    assert again.reply_type == EventType.INVENTORY_RESERVED
    assert isinstance(again.reply, InventoryReserved)
    assert isinstance(first.reply, InventoryReserved)
    assert again.reply.reservation_id == first.reply.reservation_id
    assert again.record is None


def test_release_names_what_was_reserved_and_closes_the_reservation() -> None:
    reserved = rules.reserve(reserve("s1", ("A", 2), ("B", 1), ("A", 1)), OPEN, "t1")
    assert reserved.record is not None

    released = rules.release(release("s1"), reserved.record, "r1")

    assert released.reply_type == EventType.INVENTORY_RELEASED
    assert isinstance(released.reply, InventoryReleased)
    assert released.reply.released == reserved.record.items
    assert released.record is not None
    assert (released.record.status, released.record.releaser) == ("released", "r1")
    assert not released.record.returned

    second = rules.release(release("s1", command="again"), released.record, "r2")

    assert isinstance(second.reply, InventoryReleased)
    assert second.reply.released == []
    assert second.record is None


def test_release_without_reservation_is_a_no_op_that_fences_a_late_reserve() -> None:
    released = rules.release(release("s1"), OPEN, "r1")

    assert isinstance(released.reply, InventoryReleased)
    assert released.reply.released == []
    assert released.record == Reservation(saga_id="s1", status="released")

    late = rules.reserve(reserve("s1", ("A", 1)), released.record, "t1")

    assert late.reply_type == EventType.INVENTORY_REJECTED
    assert late.record is None


def test_a_take_moves_units_to_reserved_once_per_attempt() -> None:
    taken = rules.take(STOCK, "s1", "t1", 2)

    assert taken == StockRecord(
        sku="A", available=3, reserved=3, pending={"s1/t1": Pending(change="take", units=2)}
    )
    assert rules.take(taken, "s1", "t1", 2) == taken  # the same attempt, after a conflict
    assert rules.take(taken, "s2", "t9", 4) is None  # too few left
    both = rules.take(taken, "s1", "t2", 3)  # a duplicate delivery takes on its own
    assert both is not None
    assert (both.available, both.reserved) == (0, 6)


def test_settling_a_reservation_keeps_the_holders_take_and_undoes_the_others() -> None:
    first = rules.take(STOCK, "s1", "t1", 2)
    assert first is not None
    duplicate = rules.take(first, "s1", "t2", 2)
    assert duplicate is not None
    reserved = Reservation(saga_id="s1", status="reserved", holder="t2")

    assert rules.settle(duplicate, reserved) == StockRecord(sku="A", available=3, reserved=3)
    rejected = Reservation(saga_id="s1")  # open: the reserve was rejected
    assert rules.settle(duplicate, rejected) == STOCK
    other_saga = Reservation(saga_id="s2", status="reserved", holder="t1")
    assert rules.settle(duplicate, other_saga) == duplicate


def test_a_release_gives_back_once_and_its_mark_goes_when_all_units_are_back() -> None:
    held = StockRecord(sku="A", available=3, reserved=3)
    released = Reservation(saga_id="s1", status="released", holder="t1", releaser="r1")

    back = rules.give_back(held, "s1", "r1", 2)

    assert back == StockRecord(
        sku="A", available=5, reserved=1, pending={"s1/r1": Pending(change="return", units=2)}
    )
    assert rules.give_back(back, "s1", "r1", 2) == back
    assert rules.settle(back, released) == back  # not every SKU got its units back yet
    assert rules.settle(back, released.model_copy(update={"returned": True})) == STOCK


def test_commit_consumes_what_was_reserved_once() -> None:
    reserved = rules.reserve(reserve("s1", ("A", 2), ("B", 1)), OPEN, "t1")
    assert reserved.record is not None

    committed = rules.commit(commit("s1"), reserved.record, "c1")

    assert committed.reply_type == EventType.INVENTORY_COMMITTED
    assert isinstance(committed.reply, InventoryCommitted)
    assert committed.reply.committed == reserved.record.items
    assert committed.record is not None
    assert (committed.record.status, committed.record.committer) == ("committed", "c1")
    assert committed.record.leaving() == ("c1", "ship")
    # Once shipped: nothing to commit or release again, and a late reserve gets the same
    # reservation back without holding anything new.
    again = rules.commit(commit("s1", command="again"), committed.record, "c2")
    release_after = rules.release(release("s1"), committed.record, "r1")
    late = rules.reserve(reserve("s1", ("A", 2), ("B", 1), command="late"), committed.record, "t2")
    assert isinstance(again.reply, InventoryCommitted)
    assert isinstance(release_after.reply, InventoryReleased)
    assert (again.reply.committed, again.record) == ([], None)
    assert (release_after.reply.released, release_after.record) == ([], None)
    assert (late.reply_type, late.record) == (EventType.INVENTORY_RESERVED, None)


def test_commit_of_a_reservation_that_holds_nothing_changes_nothing() -> None:
    for reservation in (OPEN, Reservation(saga_id="s1", status="released")):
        outcome = rules.commit(commit("s1"), reservation, "c1")

        assert outcome.reply_type == EventType.INVENTORY_COMMITTED
        assert isinstance(outcome.reply, InventoryCommitted)
        assert (outcome.reply.committed, outcome.record) == ([], None)


def test_a_commit_ships_once_and_its_mark_goes_when_all_units_are_out() -> None:
    held = StockRecord(sku="A", available=3, reserved=3)
    committed = Reservation(saga_id="s1", status="committed", holder="t1", committer="c1")

    out = rules.ship(held, "s1", "c1", 2)

    assert out == StockRecord(
        sku="A",
        available=3,
        reserved=1,
        shipped=2,
        pending={"s1/c1": Pending(change="ship", units=2)},
    )
    assert rules.ship(out, "s1", "c1", 2) == out
    assert rules.settle(out, committed) == out  # not every SKU shipped its units yet
    shipped = rules.settle(out, committed.model_copy(update={"consumed": True}))
    assert shipped == StockRecord(sku="A", available=3, reserved=1, shipped=2)
    assert shipped.available + shipped.reserved + shipped.shipped == 6  # conserved


def test_a_stock_record_reads_as_the_level_without_its_marks() -> None:
    taken = rules.take(STOCK, "s1", "t1", 2)
    assert taken is not None

    assert Level.parse(taken.to_json()) == Level(sku="A", available=3, reserved=3)
    assert "pending" not in STOCK.to_json()


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
