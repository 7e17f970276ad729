"""The Temporal peer's services keep their effects in SQLite, one file each, as ours do.

Durability as ours: WAL with `synchronous=NORMAL` (a commit is in the log before the reply;
the log reaches the disk at checkpoints). Each command is answered in one `BEGIN IMMEDIATE`
transaction that looks its id up first: a command seen before is answered from its record
(Temporal delivers an activity at least once, as our pub/sub delivers a command), a new one
applies its effect and records its reply in the same commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

from bench.temporal.shape import DECLINED_TOKEN, INVENTORY, PAYMENT, SHIPPING, Command, Reply

COMMANDS_TABLE = "CREATE TABLE IF NOT EXISTS commands (command_id TEXT PRIMARY KEY, reply TEXT)"


class Store:
    """One service's SQLite file; `answer` is the one way its effects change."""

    schema: tuple[str, ...] = ()
    table = ""  # the table whose rows `summary` counts by status

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every transaction is an explicit BEGIN IMMEDIATE ... COMMIT.
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        for statement in (COMMANDS_TABLE, *self.schema):
            self.db.execute(statement)

    def answer(self, command: Command, decide: Callable[[], Reply]) -> Reply:
        """The recorded reply to `command`, or `decide()`'s, recorded with its effects."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute(
                "SELECT reply FROM commands WHERE command_id = ?", (command.command_id,)
            ).fetchone()
            if row is not None:
                reply = Reply(**json.loads(row[0]))
            else:
                reply = decide()
                self.db.execute(
                    "INSERT INTO commands (command_id, reply) VALUES (?, ?)",
                    (command.command_id, json.dumps(asdict(reply))),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return reply

    def summary(self) -> dict[str, int]:
        """How many of the service's records are in each status: what the bench checks."""
        rows = self.db.execute(f"SELECT status, COUNT(*) FROM {self.table} GROUP BY status")
        return {str(status): int(count) for status, count in rows}

    def close(self) -> None:
        self.db.close()

    def _status(self, saga_id: str) -> str | None:
        row = self.db.execute(
            f"SELECT status FROM {self.table} WHERE saga_id = ?", (saga_id,)
        ).fetchone()
        return None if row is None else str(row[0])


class Inventory(Store):
    """Stock per SKU (`available`, `reserved`) and each saga's reservation."""

    schema = (
        "CREATE TABLE IF NOT EXISTS stock "
        "(sku TEXT PRIMARY KEY, available INTEGER NOT NULL, reserved INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS reservations "
        "(saga_id TEXT PRIMARY KEY, status TEXT NOT NULL, items TEXT NOT NULL)",
    )
    table = "reservations"

    def seed(self, levels: Mapping[str, int]) -> None:
        """Creates the stock of each SKU that has none; existing stock keeps its counts."""
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO stock (sku, available, reserved) VALUES (?, ?, 0)",
                levels.items(),
            )

    def reserve(self, command: Command) -> Reply:
        def decide() -> Reply:
            saga_id = command.saga_id
            status = self._status(saga_id)
            if status is not None:  # released (or rejected) before this reserve arrived
                return Reply(False, reason=f"reservation already {status}")
            wanted = _quantities(command)
            short = [sku for sku, units in wanted.items() if self._available(sku) < units]
            if short:
                self._record(saga_id, "rejected", {})
                return Reply(False, reason=f"out of stock: {', '.join(short)}")
            self._move(wanted, available=-1, reserved=+1)
            self._record(saga_id, "reserved", wanted)
            return Reply(True, record_id=f"res-{saga_id}")

        return self.answer(command, decide)

    def release(self, command: Command) -> Reply:
        """Gives a reservation's units back; with none yet, records that a late reserve is
        refused."""

        def decide() -> Reply:
            status = self._status(command.saga_id)
            if status == "reserved":
                self._move(self._items(command.saga_id), available=+1, reserved=-1)
                self._set(command.saga_id, "released")
            elif status is None:
                self._record(command.saga_id, "released", {})
            return Reply(True)

        return self.answer(command, decide)

    def commit(self, command: Command) -> Reply:
        """The order shipped: its reserved units leave the stock."""

        def decide() -> Reply:
            status = self._status(command.saga_id)
            if status != "reserved":
                return Reply(False, reason=f"reservation {status or 'missing'}")
            self._move(self._items(command.saga_id), available=0, reserved=-1)
            self._set(command.saga_id, "committed")
            return Reply(True)

        return self.answer(command, decide)

    def stock(self) -> dict[str, tuple[int, int]]:
        """Each SKU's (available, reserved)."""
        rows = self.db.execute("SELECT sku, available, reserved FROM stock")
        return {str(sku): (int(available), int(reserved)) for sku, available, reserved in rows}

    def _available(self, sku: str) -> int:
        row = self.db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
        return 0 if row is None else int(row[0])

    def _move(self, units: Mapping[str, int], *, available: int, reserved: int) -> None:
        self.db.executemany(
            "UPDATE stock SET available = available + ?, reserved = reserved + ? WHERE sku = ?",
            [(available * n, reserved * n, sku) for sku, n in units.items()],
        )

    def _items(self, saga_id: str) -> dict[str, int]:
        row = self.db.execute(
            "SELECT items FROM reservations WHERE saga_id = ?", (saga_id,)
        ).fetchone()
        items: dict[str, int] = json.loads(row[0])
        return items

    def _record(self, saga_id: str, status: str, items: Mapping[str, int]) -> None:
        self.db.execute(
            "INSERT INTO reservations (saga_id, status, items) VALUES (?, ?, ?)",
            (saga_id, status, json.dumps(dict(items))),
        )

    def _set(self, saga_id: str, status: str) -> None:
        self.db.execute("UPDATE reservations SET status = ? WHERE saga_id = ?", (status, saga_id))


class Payment(Store):
    """Each saga's charge; the token `DECLINED_TOKEN` is always declined."""

    schema = (
        "CREATE TABLE IF NOT EXISTS charges (saga_id TEXT PRIMARY KEY, charge_id TEXT, "
        "amount_cents INTEGER NOT NULL, status TEXT NOT NULL)",
    )
    table = "charges"

    def charge(self, command: Command) -> Reply:
        def decide() -> Reply:
            status = self._status(command.saga_id)
            if status is not None:
                return Reply(False, reason=f"charge already {status}")
            if command.order.payment_token == DECLINED_TOKEN:
                return Reply(False, reason="card declined")
            charge_id = f"ch-{command.saga_id}"
            self.db.execute(
                "INSERT INTO charges (saga_id, charge_id, amount_cents, status) "
                "VALUES (?, ?, ?, 'captured')",
                (command.saga_id, charge_id, command.order.amount_cents),
            )
            return Reply(True, record_id=charge_id)

        return self.answer(command, decide)

    def refund(self, command: Command) -> Reply:
        def decide() -> Reply:
            if self._status(command.saga_id) is None:
                self.db.execute(
                    "INSERT INTO charges (saga_id, amount_cents, status) VALUES (?, 0, 'refunded')",
                    (command.saga_id,),
                )
            else:
                self.db.execute(
                    "UPDATE charges SET status = 'refunded' WHERE saga_id = ?", (command.saga_id,)
                )
            return Reply(True)

        return self.answer(command, decide)


class Shipping(Store):
    """Each saga's shipment."""

    schema = (
        "CREATE TABLE IF NOT EXISTS shipments (saga_id TEXT PRIMARY KEY, tracking_id TEXT, "
        "address TEXT NOT NULL, status TEXT NOT NULL)",
    )
    table = "shipments"

    def ship(self, command: Command) -> Reply:
        def decide() -> Reply:
            status = self._status(command.saga_id)
            if status is not None:
                return Reply(False, reason=f"shipment already {status}")
            tracking_id = f"trk-{command.saga_id}"
            self.db.execute(
                "INSERT INTO shipments (saga_id, tracking_id, address, status) "
                "VALUES (?, ?, ?, 'shipped')",
                (command.saga_id, tracking_id, command.order.shipping_address),
            )
            return Reply(True, record_id=tracking_id)

        return self.answer(command, decide)

    def cancel(self, command: Command) -> Reply:
        def decide() -> Reply:
            if self._status(command.saga_id) is None:
                self.db.execute(
                    "INSERT INTO shipments (saga_id, address, status) VALUES (?, '', 'cancelled')",
                    (command.saga_id,),
                )
            else:
                self.db.execute(
                    "UPDATE shipments SET status = 'cancelled' WHERE saga_id = ?",
                    (command.saga_id,),
                )
            return Reply(True)

        return self.answer(command, decide)


STORES: Mapping[str, type[Store]] = {
    INVENTORY: Inventory,
    PAYMENT: Payment,
    SHIPPING: Shipping,
}


def _quantities(command: Command) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for item in command.order.items:
        wanted[item.sku] = wanted.get(item.sku, 0) + item.quantity
    return wanted
