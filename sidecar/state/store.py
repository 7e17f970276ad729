"""Key/value state with ETags, TTLs and atomic transactions, in SQLite.

Backs both `state.sqlite` (a file, shareable by several sidecars in WAL mode) and
`state.in-memory` (a private in-memory database). Semantics follow daprd's state API:
an ETag given with a write must match the stored one, first-write concurrency without an
ETag only creates, a transaction applies all its operations or none.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.sqlite import StoreThread, connect, immediate
from sidecar.storefiles import Schema, open_store

_SCRIPT = """
CREATE TABLE IF NOT EXISTS {table} (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    etag       TEXT NOT NULL,
    expires_at REAL
) WITHOUT ROWID;
-- The transactional outbox: messages committed with the state they announce, published
-- (and deleted) by the app's sidecar after the commit, or after its restart.
CREATE TABLE IF NOT EXISTS {table}_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id     TEXT NOT NULL,
    pubsub     TEXT NOT NULL,
    topic      TEXT NOT NULL,
    body       BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


def schema(table: str) -> Schema:
    """The state store's schema with its table named `table` (`tableName`); several state
    components may share one file, each with its table."""
    return Schema(
        application_id=0x53475354,
        version=1,
        script=_SCRIPT.format(table=table),
        marker=table,
        migrations={0: lambda db: None},  # version 1 only started recording the version
    )


class EtagMismatch(Exception):
    """A write whose ETag (or first-write condition) does not hold; nothing was written.

    `key` is the stored key, `problem` what did not hold, without the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{problem} for key '{key}'")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Entry:
    value: bytes
    etag: str


@dataclass(frozen=True)
class OutboxMessage:
    """A CloudEvent (JSON) to publish to `topic` of `pubsub` once its transaction commits."""

    app_id: str
    pubsub: str
    topic: str
    body: bytes


@dataclass(frozen=True)
class Write:
    """One upsert (`value` set) or delete (`value` None) of a transaction."""

    key: str
    value: bytes | None
    etag: str | None = None
    first_write: bool = False
    ttl_seconds: float | None = None


class StateStore:
    def __init__(
        self,
        path: Path | None,
        table: str = "state",
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
        max_bytes: int | None = None,
    ) -> None:
        """`busy_timeout`: how long a write waits for another sidecar's lock (`busyTimeout`);
        `max_bytes`: the file's size cap (`--sqlite-max-size`)."""
        if not table.replace("_", "").isalnum():
            raise ValueError(f"invalid table name '{table}'")
        self._db = open_store(path, schema(table), timeout=busy_timeout, max_bytes=max_bytes)
        self._writer = StoreThread(f"state-{table}-writes")
        # Reads have their own connection and thread: in WAL mode they never wait for a
        # writer, so they must not queue behind a write waiting for another process's
        # lock. An in-memory store is private: one connection, one thread.
        self._reads, self._reader = self._db, self._writer
        if path is not None:
            self._reads = connect(path, timeout=busy_timeout)
            self._reader = StoreThread(f"state-{table}-reads")
        self._table = table
        self._clock = clock

    def close(self) -> None:
        self._writer.close()
        self._reader.close()
        if self._reads is not self._db:
            self._reads.close()
        self._db.close()

    # -- from the event loop: each call in the store's threads ---------------------------

    async def read(self, key: str) -> Entry | None:
        return await self._reader.run(lambda: self.get(key))

    async def write(
        self, writes: list[Write], outbox: Sequence[OutboxMessage] = ()
    ) -> dict[str, str]:
        """`apply`, in the writer thread."""
        return await self._writer.run(lambda: self.apply(writes, outbox))

    async def relay(self, app_id: str, publish: Callable[[OutboxMessage], None]) -> int:
        """`relay_outbox`, in the writer thread (`publish` is called there)."""
        return await self._writer.run(lambda: self.relay_outbox(app_id, publish))

    async def drain(self) -> None:
        """Returns once the calls made so far have finished."""
        await self._writer.drain()
        await self._reader.drain()

    # -- the calls themselves ------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        row = self._reads.execute(
            f"SELECT value, etag, expires_at FROM {self._table} WHERE key = ?", (key,)
        ).fetchone()
        if row is None or (row[2] is not None and row[2] <= self._clock()):
            return None
        return Entry(bytes(row[0]), row[1])

    def get_many(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        return {key: self.get(key) for key in keys}

    def apply(self, writes: list[Write], outbox: Sequence[OutboxMessage] = ()) -> dict[str, str]:
        """Applies every write or none (raising `EtagMismatch`), with the `outbox` messages
        in the same transaction; returns the new ETags."""
        etags: dict[str, str] = {}
        with immediate(self._db) as db:
            now = self._clock()
            db.executemany(
                f"INSERT INTO {self._table}_outbox (app_id, pubsub, topic, body, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(m.app_id, m.pubsub, m.topic, m.body, now) for m in outbox],
            )
            for write in writes:
                current = db.execute(
                    f"SELECT etag, expires_at FROM {self._table} WHERE key = ?", (write.key,)
                ).fetchone()
                if current is not None and current[1] is not None and current[1] <= now:
                    current = None
                self._check(write, None if current is None else current[0])
                if write.value is None:
                    db.execute(f"DELETE FROM {self._table} WHERE key = ?", (write.key,))
                    continue
                etag = uuid.uuid4().hex
                expires = None if write.ttl_seconds is None else now + write.ttl_seconds
                db.execute(
                    f"INSERT OR REPLACE INTO {self._table} (key, value, etag, expires_at) "
                    "VALUES (?, ?, ?, ?)",
                    (write.key, write.value, etag, expires),
                )
                etags[write.key] = etag
        return etags

    @staticmethod
    def _check(write: Write, current_etag: str | None) -> None:
        if write.etag:
            if write.etag != current_etag:
                raise EtagMismatch(write.key, "possible etag mismatch")
        elif write.first_write and current_etag is not None and write.value is not None:
            raise EtagMismatch(
                write.key, "first-write concurrency needs the etag of an existing value"
            )

    def relay_outbox(
        self, app_id: str, publish: Callable[[OutboxMessage], None], limit: int = 100
    ) -> int:
        """Publishes `app_id`'s committed outbox messages and deletes them, in one state
        transaction: a failed publish leaves them for the next relay, and a crash between a
        publish and the delete publishes again (at least once). Returns how many went."""
        with immediate(self._db) as db:
            rows = db.execute(
                f"SELECT id, pubsub, topic, body FROM {self._table}_outbox WHERE app_id = ? "
                "ORDER BY id LIMIT ?",
                (app_id, limit),
            ).fetchall()
            for _, pubsub, topic, body in rows:
                publish(OutboxMessage(app_id, pubsub, topic, bytes(body)))
            db.executemany(
                f"DELETE FROM {self._table}_outbox WHERE id = ?", [(row[0],) for row in rows]
            )
        return len(rows)

    def purge_expired(self) -> int:
        cursor = self._db.execute(
            f"DELETE FROM {self._table} WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (self._clock(),),
        )
        return cursor.rowcount
