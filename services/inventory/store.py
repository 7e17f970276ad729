"""Inventory's records in the state store, and the commands that change them.

Keys (the store has `keyPrefix: none`, so the names are the service's own):
- `inventory:stock:<sku>`: the SKU's `StockLevel` (`stock_key`); the orchestrator reads it.
- `inventory:skus`: JSON array of the SKUs that have stock (`SKU_CATALOGUE_KEY`).
- `inventory:reservation:<sagaId>`: the saga's `Reservation`.
- `inventory:command:<commandId>`: the reply the command got (`StoredReply`).

A reserve commits every stock level it changes, the reservation and the reply in one
transaction guarded by the ETags it read, so concurrent reservations of one SKU can never
both take the same units: the loser reads again and decides on the new levels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping

from dapr.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation

from services.common.state import (
    Decision,
    SagaRecords,
    StateConflict,
    Stored,
    answer_once,
    commit,
    create,
    read_many,
    retry_on_conflict,
)
from services.contracts.messages import ReleaseInventory, Reply, ReserveInventory, StockLevel
from services.contracts.names import SKU_CATALOGUE_KEY, STATESTORE, EventType, stock_key
from services.inventory import rules
from services.inventory.rules import Outcome, Reservation

log = logging.getLogger("services.inventory")

RESERVATIONS = SagaRecords("inventory", "reservation", Reservation)


def reserve(client: DaprClient, command: ReserveInventory) -> tuple[EventType, Reply]:
    def decide() -> Decision:
        reservation = RESERVATIONS.open(client, command.saga_id)
        stock = _read_stock(client, rules.quantities(command.items))
        outcome = rules.reserve(command, reservation.value, _levels(stock))
        return _decision(outcome, reservation, stock)

    return answer_once(client, RESERVATIONS.command_key(command.command_id), command, decide)


def release(client: DaprClient, command: ReleaseInventory) -> tuple[EventType, Reply]:
    def decide() -> Decision:
        reservation = RESERVATIONS.open(client, command.saga_id)
        stock = _read_stock(client, rules.quantities(reservation.value.items))
        outcome = rules.release(command, reservation.value, _levels(stock))
        return _decision(outcome, reservation, stock)

    return answer_once(client, RESERVATIONS.command_key(command.command_id), command, decide)


def _read_stock(client: DaprClient, skus: Iterable[str]) -> dict[str, Stored[StockLevel]]:
    """The stored level of each of `skus` that has stock, by SKU."""
    stored = read_many(client, [stock_key(sku) for sku in skus], StockLevel)
    return {record.value.sku: record for record in stored.values()}


def _levels(stock: Mapping[str, Stored[StockLevel]]) -> dict[str, StockLevel]:
    return {sku: record.value for sku, record in stock.items()}


def _decision(
    outcome: Outcome, reservation: Stored[Reservation], stock: Mapping[str, Stored[StockLevel]]
) -> Decision:
    writes = [stock[level.sku].replaced_by(level) for level in outcome.stock]
    if outcome.record is not None:
        writes.append(reservation.replaced_by(outcome.record))
    return Decision(outcome.reply_type, outcome.reply, writes)


def seed(client: DaprClient, levels: Mapping[str, int]) -> None:
    """Creates the stock of each SKU that has none and lists every SKU in the catalogue.
    Existing stock is left as it is, so a restart keeps its counts."""
    new = [
        sku
        for sku, available in levels.items()
        if create(client, stock_key(sku), StockLevel(sku=sku, available=available).to_json())
    ]
    retry_on_conflict(lambda: _list_skus(client, levels))
    log.info("stock seeded", extra={"new_skus": new, "kept_skus": len(levels) - len(new)})


def _list_skus(client: DaprClient, skus: Iterable[str]) -> None:
    response = client.get_state(STATESTORE, SKU_CATALOGUE_KEY)
    listed: list[str] = json.loads(response.data) if response.data else []
    catalogue = sorted({*listed, *skus})
    if catalogue == listed:
        return
    if response.data:
        commit(
            client,
            [TransactionalStateOperation(SKU_CATALOGUE_KEY, json.dumps(catalogue), response.etag)],
        )
    elif not create(client, SKU_CATALOGUE_KEY, json.dumps(catalogue)):
        raise StateConflict("the SKU catalogue was created meanwhile")
