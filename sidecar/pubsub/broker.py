"""The durable message store behind `pubsub.sqlite` (and, in memory, `pubsub.in-memory`).

A publish commits the message and one delivery row per consumer group (app id) that
subscribes to the topic, in one transaction, so every app gets its own copy. Sidecars of
the same app id compete for a group's deliveries by leasing rows; a lease that outlives
its sidecar expires and the row is delivered again (at-least-once). Several sidecar
processes share one database file in WAL mode; each registers a UDP "doorbell" port so a
publisher can wake the consumers at once instead of waiting for their next poll.

A message no group has taken yet is kept for the retention period: a group that registers
for its topic within that time receives it. Apps of a Multi-App Run start in any order, so
a command published before its service subscribed is delivered, not lost.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from foundation.sqlite import StoreThread, immediate
from sidecar.pubsub.routing import topic_matches
from sidecar.storefiles import Schema, add_column, open_store

_SCRIPT = """
CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pubsub       TEXT NOT NULL,
    topic        TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL,
    published_at REAL NOT NULL,
    metadata     TEXT -- the publish metadata (JSON), handed to the app on delivery
);
-- Which consumer groups (app ids) receive which topics; a pattern may hold wildcards.
CREATE TABLE IF NOT EXISTS consumers (
    pubsub        TEXT NOT NULL,
    topic_pattern TEXT NOT NULL,
    app_id        TEXT NOT NULL,
    registered_at REAL NOT NULL,
    PRIMARY KEY (pubsub, topic_pattern, app_id)
);
-- One row per (message, consumer group) until the app acknowledges it.
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      INTEGER NOT NULL,
    app_id          TEXT NOT NULL,
    topic_pattern   TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_owner     TEXT,
    lease_until     REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (app_id, next_attempt_at);
-- Finds whether a message is still owed to a group when a delivery is acknowledged.
CREATE INDEX IF NOT EXISTS deliveries_message ON deliveries (message_id);
CREATE INDEX IF NOT EXISTS messages_published ON messages (pubsub, published_at);
CREATE TABLE IF NOT EXISTS doorbells (
    owner   TEXT PRIMARY KEY,
    app_id  TEXT NOT NULL,
    port    INTEGER NOT NULL
);
"""
T = TypeVar("T")
SCHEMA = Schema(
    application_id=0x53475053,
    version=1,
    script=_SCRIPT,
    marker="messages",
    # Version 0 (before versions were recorded) to 1: publish metadata was added.
    migrations={0: lambda db: add_column(db, "messages", "metadata", "TEXT")},
)


@dataclass(frozen=True)
class Message:
    """One message to store: its content type, body and publish metadata."""

    content_type: str
    body: bytes
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    message_id: int
    topic: str
    topic_pattern: str
    content_type: str
    body: bytes
    attempts: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def message(self) -> Message:
        return Message(self.content_type, self.body, self.metadata)


class Broker:
    def __init__(
        self,
        pubsub: str,
        path: Path | None,
        synchronous: str = "NORMAL",
        clock: Callable[[], float] = time.time,
        retention_seconds: float = 3600.0,
        max_bytes: int | None = None,
    ) -> None:
        self.pubsub = pubsub
        self._db = open_store(path, SCHEMA, synchronous, timeout=30, max_bytes=max_bytes)
        self._thread = StoreThread(f"pubsub-{pubsub}")
        self._clock = clock
        self.retention_seconds = retention_seconds
        self._next_cleanup = 0.0

    async def run(self, call: Callable[[], T]) -> T:
        """`call` (of this broker's methods) in the broker's thread, the only one that uses
        its connection from the event loop: a write waiting for another sidecar's lock
        (up to 30 s) waits there, and the loop serves meanwhile."""
        return await self._thread.run(call)

    def close(self) -> None:
        self._thread.close()
        self._db.close()

    def register_consumers(
        self, app_id: str, topic_patterns: Iterable[str], exactly: bool = True
    ) -> None:
        """Makes `app_id`'s set of subscribed topics exactly `topic_patterns` (with
        `exactly=False`, adds them to it)."""
        patterns = sorted(set(topic_patterns))
        with immediate(self._db) as db:
            if exactly:
                db.execute(
                    "DELETE FROM consumers WHERE pubsub = ? AND app_id = ? "
                    f"AND topic_pattern NOT IN ({','.join('?' * len(patterns))})",
                    (self.pubsub, app_id, *patterns),
                )
            known = {
                row[0]
                for row in db.execute(
                    "SELECT topic_pattern FROM consumers WHERE pubsub = ? AND app_id = ?",
                    (self.pubsub, app_id),
                )
            }
            now = self._clock()
            db.executemany(
                "INSERT OR IGNORE INTO consumers (pubsub, topic_pattern, app_id, registered_at) "
                "VALUES (?, ?, ?, ?)",
                [(self.pubsub, pattern, app_id, now) for pattern in patterns],
            )
            for pattern in patterns:
                if pattern not in known:
                    self._deliver_retained(db, app_id, pattern, now)

    def _deliver_retained(
        self, db: sqlite3.Connection, app_id: str, pattern: str, now: float
    ) -> None:
        """Gives a newly registered group the retained messages of its topics."""
        retained = [
            message_id
            for message_id, topic in db.execute(
                "SELECT id, topic FROM messages WHERE pubsub = ? AND published_at >= ? "
                "AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = messages.id "
                "AND d.app_id = ?) ORDER BY id",
                (self.pubsub, now - self.retention_seconds, app_id),
            )
            if topic_matches(pattern, topic)
        ]
        db.executemany(
            "INSERT INTO deliveries (message_id, app_id, topic_pattern, next_attempt_at) "
            "VALUES (?, ?, ?, ?)",
            [(message_id, app_id, pattern, now) for message_id in retained],
        )

    def register_doorbell(self, owner: str, app_id: str, port: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO doorbells (owner, app_id, port) VALUES (?, ?, ?)",
            (owner, app_id, port),
        )

    def publish(self, topic: str, message: Message) -> list[int]:
        """Commits one message; returns the doorbell ports of the groups that receive it."""
        return self.publish_many(topic, [message])

    def publish_many(self, topic: str, messages: list[Message]) -> list[int]:
        with immediate(self._db) as db:
            apps = self._insert_messages(db, topic, messages)
            ports = self._doorbells(db, apps)
        return ports

    def _groups(self, db: sqlite3.Connection, topic: str) -> list[tuple[str, str]]:
        """The (app id, topic pattern) consumer groups that receive `topic`."""
        return [
            (app_id, pattern)
            for app_id, pattern in db.execute(
                "SELECT app_id, topic_pattern FROM consumers WHERE pubsub = ?", (self.pubsub,)
            )
            if topic_matches(pattern, topic)
        ]

    def has_consumers(self, topic: str) -> bool:
        return bool(self._groups(self._db, topic))

    def _insert_messages(
        self, db: sqlite3.Connection, topic: str, messages: list[Message]
    ) -> set[str]:
        """Stores the messages with a delivery row for every group subscribed to `topic`;
        one with no group yet is retained (see the module docstring)."""
        now = self._clock()
        groups = self._groups(db, topic)
        if now >= self._next_cleanup:
            self._next_cleanup = now + min(60.0, self.retention_seconds)
            db.execute(
                "DELETE FROM messages WHERE pubsub = ? AND published_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries d WHERE d.message_id = messages.id)",
                (self.pubsub, now - self.retention_seconds),
            )
        for message in messages:
            cursor = db.execute(
                "INSERT INTO messages (pubsub, topic, content_type, body, published_at, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self.pubsub,
                    topic,
                    message.content_type,
                    message.body,
                    now,
                    json.dumps(message.metadata) if message.metadata else None,
                ),
            )
            db.executemany(
                "INSERT INTO deliveries (message_id, app_id, topic_pattern, next_attempt_at) "
                "VALUES (?, ?, ?, ?)",
                [(cursor.lastrowid, app_id, pattern, now) for app_id, pattern in groups],
            )
        return {app_id for app_id, _ in groups}

    @staticmethod
    def _doorbells(db: sqlite3.Connection, apps: set[str]) -> list[int]:
        return [
            port
            for app_id, port in db.execute("SELECT app_id, port FROM doorbells")
            if app_id in apps
        ]

    def claim(
        self,
        app_id: str,
        owner: str,
        limit: int,
        lease_seconds: float,
        patterns: Iterable[str] | None = None,
    ) -> list[Delivery]:
        """Leases up to `limit` due deliveries of `app_id` to `owner`, earliest due first
        (publish order for first attempts), walking the `deliveries_due` index so that a
        claim does not sort the whole backlog; only those of `patterns` when given (the
        topics the caller has somewhere to deliver to)."""
        wanted = None if patterns is None else sorted(patterns)
        if limit <= 0 or wanted == []:
            return []
        only = "" if wanted is None else f"AND topic_pattern IN ({','.join('?' * len(wanted))}) "
        now = self._clock()
        with immediate(self._db) as db:
            rows = db.execute(
                "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id IN ("
                "  SELECT id FROM deliveries WHERE app_id = ? AND next_attempt_at <= ? "
                f"  AND (lease_until IS NULL OR lease_until < ?) {only}"
                "  ORDER BY next_attempt_at, id LIMIT ?"
                ") RETURNING id, message_id, topic_pattern, attempts",
                (owner, now + lease_seconds, app_id, now, now, *(wanted or ()), limit),
            ).fetchall()
            deliveries = []
            for delivery_id, message_id, pattern, attempts in sorted(rows):
                message = db.execute(
                    "SELECT topic, content_type, body, metadata FROM messages WHERE id = ?",
                    (message_id,),
                ).fetchone()
                if message is None:
                    db.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,))
                    continue
                deliveries.append(
                    Delivery(
                        delivery_id,
                        message_id,
                        message[0],
                        pattern,
                        message[1],
                        bytes(message[2]),
                        attempts,
                        json.loads(message[3]) if message[3] else {},
                    )
                )
        return deliveries

    def next_due(self, app_id: str) -> float | None:
        """When the earliest delivery of `app_id` scheduled for later (a retry) falls due.

        Read from the `deliveries_due` index, so it costs the same whatever the backlog.
        Deliveries already due are leased (in flight, here or in another sidecar of the
        app): a lease that expires is found by the delivery loop's periodic poll.
        """
        row = self._db.execute(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE app_id = ? AND next_attempt_at > ?",
            (app_id, self._clock()),
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def acknowledge(self, delivery_ids: list[int]) -> None:
        """Deletes delivered rows (and their messages once no group still needs them)."""
        if not delivery_ids:
            return
        with immediate(self._db) as db:
            self._delete_deliveries(db, delivery_ids)

    def retry_later(self, delivery_id: int, delay: float) -> None:
        self._db.execute(
            "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
            "lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (self._clock() + delay, delivery_id),
        )

    def dead_letter(self, delivery_id: int, dead_letter_topic: str, message: Message) -> list[int]:
        """Moves a delivery to the dead-letter topic in one transaction; returns doorbells."""
        with immediate(self._db) as db:
            self._delete_deliveries(db, [delivery_id])
            apps = self._insert_messages(db, dead_letter_topic, [message])
            ports = self._doorbells(db, apps)
        return ports

    def release(self, delivery_id: int) -> None:
        """Gives a leased delivery back, due at once and its attempt not counted (its
        target went away before it answered)."""
        self._db.execute(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ?",
            (delivery_id,),
        )

    def release_owner(self, owner: str) -> None:
        """Frees the leases a previous incarnation of this sidecar held."""
        self._db.execute(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?",
            (owner,),
        )

    def pending(self, app_id: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE app_id = ?", (app_id,)
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _delete_deliveries(db: sqlite3.Connection, delivery_ids: list[int]) -> None:
        marks = ",".join("?" * len(delivery_ids))
        message_ids = [
            row[0]
            for row in db.execute(
                f"SELECT DISTINCT message_id FROM deliveries WHERE id IN ({marks})", delivery_ids
            )
        ]
        db.execute(f"DELETE FROM deliveries WHERE id IN ({marks})", delivery_ids)
        for message_id in message_ids:
            db.execute(
                "DELETE FROM messages WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM deliveries WHERE message_id = ?)",
                (message_id, message_id),
            )
