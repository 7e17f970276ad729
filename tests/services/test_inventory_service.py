"""The inventory service as a real Dapr app: commands in, replies on `saga-replies`,
stock in the state store, idempotent by command id, never overselling under contention."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.contracts.names import SKU_CATALOGUE_KEY, AppId, EventType, stock_key
from services.inventory.store import RESERVATIONS
from testkit.polling import wait_until
from tests.services.commands import commit, release, reserve
from tests.services.harness import (
    RunningService,
    assert_invalid_command_dead_lettered,
    assert_unknown_type_dead_lettered,
    running_service,
)

RESERVE, RELEASE = EventType.INVENTORY_RESERVE, EventType.INVENTORY_RELEASE
COMMIT = EventType.INVENTORY_COMMIT
SEED = {"WIDGET": 50, "GADGET": 3, "CONTESTED": 5, "IDEMPOTENT": 10, "SOLO": 10, "SHIPPED": 8}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    root: Path = tmp_path_factory.mktemp("inventory")
    env = {"INVENTORY_SEED": json.dumps(SEED)}
    with running_service(root, AppId.INVENTORY, env) as running:
        yield running


def level(inventory: RunningService, sku: str) -> tuple[int, int]:
    stock = inventory.state(stock_key(sku))
    return stock["available"], stock["reserved"]


def test_start_seeds_the_stock_and_the_catalogue(inventory: RunningService) -> None:
    assert inventory.state(SKU_CATALOGUE_KEY) == sorted(SEED)
    assert inventory.state(stock_key("GADGET")) == {
        "sku": "GADGET",
        "available": 3,
        "reserved": 0,
        "shipped": 0,
    }


def test_reserve_then_release_restores_the_stock(inventory: RunningService) -> None:
    reserved_type, reserved = inventory.reply(
        RESERVE, reserve("happy", ("WIDGET", 4), ("GADGET", 1))
    )

    assert reserved_type == EventType.INVENTORY_RESERVED
    assert reserved["sagaId"] == "happy"
    assert reserved["reservationId"]
    assert (level(inventory, "WIDGET"), level(inventory, "GADGET")) == ((46, 4), (2, 1))
    assert inventory.state(RESERVATIONS.record_key("happy"))["status"] == "reserved"

    released_type, released = inventory.reply(RELEASE, release("happy"))

    assert released_type == EventType.INVENTORY_RELEASED
    assert [(line["sku"], line["quantity"]) for line in released["released"]] == [
        ("WIDGET", 4),
        ("GADGET", 1),
    ]
    assert (level(inventory, "WIDGET"), level(inventory, "GADGET")) == ((50, 0), (3, 0))


def test_a_commit_ships_the_reservation_once(inventory: RunningService) -> None:
    inventory.reply(RESERVE, reserve("shipped", ("SHIPPED", 3)))
    assert level(inventory, "SHIPPED") == (5, 3)

    event_type, reply = inventory.reply(COMMIT, commit("shipped"))
    again = inventory.reply(COMMIT, commit("shipped", command="shipped-commit-again"))
    released = inventory.reply(RELEASE, release("shipped"))

    assert event_type == EventType.INVENTORY_COMMITTED
    assert [(line["sku"], line["quantity"]) for line in reply["committed"]] == [("SHIPPED", 3)]
    assert (again[1]["committed"], released[1]["released"]) == ([], [])
    # On hand fell by what shipped; nothing stays reserved, nothing went back.
    stock = inventory.state(stock_key("SHIPPED"))
    assert (stock["available"], stock["reserved"], stock["shipped"]) == (5, 0, 3)
    assert "pending" not in stock
    record = inventory.state(RESERVATIONS.record_key("shipped"))
    assert (record["status"], record["consumed"]) == ("committed", True)


def test_insufficient_stock_is_rejected_and_nothing_is_held(inventory: RunningService) -> None:
    event_type, reply = inventory.reply(RESERVE, reserve("short", ("WIDGET", 1), ("GADGET", 4)))

    assert event_type == EventType.INVENTORY_REJECTED
    assert reply["unavailable"] == ["GADGET"]
    assert level(inventory, "WIDGET") == (50, 0)


def test_releasing_an_unknown_reservation_is_a_no_op(inventory: RunningService) -> None:
    event_type, reply = inventory.reply(RELEASE, release("never-reserved"))

    assert event_type == EventType.INVENTORY_RELEASED
    assert reply["released"] == []


def test_the_same_command_twice_gets_the_same_reply_and_one_effect(
    inventory: RunningService,
) -> None:
    command = reserve("twice", ("IDEMPOTENT", 3))
    inventory.send(RESERVE, command)
    inventory.send(RESERVE, command)

    first, second = inventory.wait_replies(command.command_id, count=2)

    assert first == second
    assert level(inventory, "IDEMPOTENT") == (7, 3)

    # a redelivery after other changes still answers what it answered then
    inventory.reply(RELEASE, release("twice"))
    inventory.send(RESERVE, command)
    assert inventory.wait_replies(command.command_id, count=3)[2] == first
    assert level(inventory, "IDEMPOTENT") == (10, 0)


def test_command_logs_name_the_saga_and_the_command(inventory: RunningService) -> None:
    inventory.reply(RESERVE, reserve("logged", ("SOLO", 1)))

    handled = wait_until(
        lambda: [
            line
            for line in inventory.service.log_lines()
            if line.get("msg") == "command handled" and line.get("saga_id") == "logged"
        ],
        what="the log line of the handled command",
    )

    assert handled[0]["command_id"] == "logged-reserve"
    assert handled[0]["app_id"] == "inventory"


def test_concurrent_reservations_never_oversell(inventory: RunningService) -> None:
    sagas = [f"race-{number}" for number in range(20)]
    with ThreadPoolExecutor(max_workers=len(sagas)) as publishers:
        list(
            publishers.map(
                lambda saga: inventory.send(RESERVE, reserve(saga, ("CONTESTED", 1))), sagas
            )
        )

    outcomes = Counter(inventory.wait_replies(f"{saga}-reserve")[0][0] for saga in sagas)

    assert outcomes == {EventType.INVENTORY_RESERVED: 5, EventType.INVENTORY_REJECTED: 15}
    assert level(inventory, "CONTESTED") == (0, 5)

    with ThreadPoolExecutor(max_workers=len(sagas)) as publishers:
        list(publishers.map(lambda saga: inventory.send(RELEASE, release(saga)), sagas))
    for saga in sagas:
        inventory.wait_replies(f"{saga}-release")

    assert level(inventory, "CONTESTED") == (5, 0)


def test_an_invalid_command_is_dead_lettered_with_the_reason(inventory: RunningService) -> None:
    assert_invalid_command_dead_lettered(inventory, RESERVE)


def test_an_unknown_event_type_is_dead_lettered(inventory: RunningService) -> None:
    assert_unknown_type_dead_lettered(inventory)
