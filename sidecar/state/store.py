"""Key/value state with ETags, TTLs and atomic transactions, in SQLite.

Backs both `state.sqlite` (a file, shareable by several sidecars in WAL mode) and
`state.in-memory` (a private in-memory database). Semantics follow daprd's state API:
an ETag given with a write must match the stored one, first-write concurrency without an
ETag only creates, a transaction applies all its operations or none.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sidecar.sqlite import connect, immediate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    key        TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    etag       TEXT NOT NULL,
    expires_at REAL
) WITHOUT ROWID
"""


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
    ) -> None:
        if not table.replace("_", "").isalnum():
            raise ValueError(f"invalid table name '{table}'")
        self._db = connect(path, timeout=30)
        self._db.execute(_SCHEMA.format(table=table))
        self._table = table
        self._clock = clock

    def close(self) -> None:
        self._db.close()

    def get(self, key: str) -> Entry | None:
        row = self._db.execute(
            f"SELECT value, etag, expires_at FROM {self._table} WHERE key = ?", (key,)
        ).fetchone()
        if row is None or (row[2] is not None and row[2] <= self._clock()):
            return None
        return Entry(bytes(row[0]), row[1])

    def get_many(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        return {key: self.get(key) for key in keys}

    def apply(self, writes: list[Write]) -> dict[str, str]:
        """Applies every write or none (raising `EtagMismatch`); returns the new ETags."""
        etags: dict[str, str] = {}
        with immediate(self._db) as db:
            now = self._clock()
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

    def purge_expired(self) -> int:
        cursor = self._db.execute(
            f"DELETE FROM {self._table} WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (self._clock(),),
        )
        return cursor.rowcount
