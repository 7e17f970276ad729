"""Inventory's records in the state store, and the commands that change them.

Keys (the store has `keyPrefix: none`, so the names are the service's own):
- `inventory:stock:<sku>`: the SKU's `StockRecord` (a `StockLevel` plus the marks of the
  sagas changing it right now, `stock_key`); the orchestrator reads the level.
- `inventory:skus`: JSON array of the SKUs that have stock (`SKU_CATALOGUE_KEY`).
- `inventory:reservation:<sagaId>`: the saga's `Reservation`, with the reply each of its
  commands got.

Every write is guarded by the ETag of the one record it replaces (services/common/state.py
says why), so stock moves SKU by SKU and the reservation is the one record that decides:

- A reserve takes each SKU's units, each take marked with the saga and this attempt (one
  handling of the command), then writes its decision and reply into the reservation:
  reserved, held by this attempt, or rejected when a SKU was short. Then it settles: the
  holder's takes are kept, every other take of the saga is undone (a SKU of a rejected
  order, a duplicate delivery that lost the race, an attempt that crashed halfway).
- A release first writes its decision into the reservation (released, by this attempt),
  then gives each SKU's units back, marked, records that they are back (`returned`), and
  drops the marks.
- A commit (the order shipped) does the same, but its units leave the stock: from
  `reserved` to `shipped` (committed, by this attempt; `consumed` once every SKU's are out).

Whoever handles the saga's command next (a redelivery) settles again, so a crash between
the steps only delays them. Two reserves of one SKU can never both take the same units:
the loser's write is refused, it reads again and decides on the new level.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import partial

from dapr.clients import DaprClient

from services.common.outcomes import Outcome
from services.common.state import (
    SagaRecords,
    StateConflict,
    create,
    retry_on_conflict,
    update,
    update_many,
    write,
)
from services.contracts.messages import (
    CommitInventory,
    ReleaseInventory,
    Reply,
    ReserveInventory,
    StockLevel,
)
from services.contracts.names import SKU_CATALOGUE_KEY, STATESTORE, EventType, stock_key
from services.inventory import rules
from services.inventory.rules import Reservation, StockRecord

log = logging.getLogger("services.inventory")

RESERVATIONS = SagaRecords("inventory", "reservation", Reservation)


def reserve(client: DaprClient, command: ReserveInventory) -> tuple[EventType, Reply]:
    saga_id, attempt = command.saga_id, _attempt()
    wanted = rules.quantities(command.items)

    def decide(reservation: Reservation) -> Outcome[Reservation]:
        if reservation.status != "open":
            return rules.reserve(command, reservation, attempt)
        taken = _change_each(
            client,
            {
                sku: partial(rules.take, saga_id=saga_id, attempt=attempt, units=units)
                for sku, units in wanted.items()
            },
        )
        unavailable = [sku for sku, done in sorted(taken.items()) if not done]
        return rules.reserve(command, reservation, attempt, unavailable)

    return RESERVATIONS.answer(
        client, command, decide, lambda reservation: _settle(client, reservation, wanted)
    )


def release(client: DaprClient, command: ReleaseInventory) -> tuple[EventType, Reply]:
    return _empty(client, command, partial(rules.release, command))


def commit(client: DaprClient, command: CommitInventory) -> tuple[EventType, Reply]:
    return _empty(client, command, partial(rules.commit, command))


def _empty(
    client: DaprClient,
    command: ReleaseInventory | CommitInventory,
    rule: Callable[[Reservation, str], Outcome[Reservation]],
) -> tuple[EventType, Reply]:
    """A command that empties the reservation: `rule` decides (with this attempt's name),
    then the held units leave `reserved`, SKU by SKU (`_settle`)."""
    return RESERVATIONS.answer(
        client,
        command,
        lambda reservation: rule(reservation, _attempt()),
        lambda reservation: _settle(client, reservation, rules.quantities(reservation.items)),
    )


def _attempt() -> str:
    """Names one handling of a command: its stock changes are told apart from those of a
    duplicate delivery handled at the same time."""
    return uuid.uuid4().hex[:12]


def _settle(client: DaprClient, reservation: Reservation, skus: Mapping[str, int]) -> None:
    """Makes each SKU's stock what the saga's reservation decided: the units of a released
    reservation go back to available, those of a committed one out with the shipment
    (once: `returned`, `consumed`), then every pending change of the saga is kept or
    undone (`rules.settle`)."""
    leaving = reservation.leaving()
    if leaving is not None:
        attempt, exit = leaving
        move = rules.give_back if exit == "return" else rules.ship
        _change_each(
            client,
            {
                sku: partial(move, saga_id=reservation.saga_id, attempt=attempt, units=units)
                for sku, units in skus.items()
            },
        )
        reservation = _emptied(client, reservation, "returned" if exit == "return" else "consumed")
    _change_each(client, dict.fromkeys(skus, partial(rules.settle, reservation=reservation)))


def _emptied(client: DaprClient, reservation: Reservation, flag: str) -> Reservation:
    """The reservation, recorded as having every unit out of `reserved` (`flag`)."""
    key = RESERVATIONS.record_key(reservation.saga_id)
    update(client, key, Reservation, lambda stored: stored.model_copy(update={flag: True}))
    return reservation.model_copy(update={flag: True})


def _change_each(
    client: DaprClient, changes: Mapping[str, Callable[[StockRecord], StockRecord | None]]
) -> dict[str, bool]:
    """Each SKU's change applied to its stock in a guarded write of its own (the stock
    records read in one call); by SKU, False when it has no stock or its change refuses
    (too few units)."""
    done = update_many(
        client, {stock_key(sku): change for sku, change in changes.items()}, StockRecord
    )
    return {sku: done[stock_key(sku)] for sku in changes}


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
        write(client, SKU_CATALOGUE_KEY, json.dumps(catalogue), response.etag)
    elif not create(client, SKU_CATALOGUE_KEY, json.dumps(catalogue)):
        raise StateConflict("the SKU catalogue was created meanwhile")
