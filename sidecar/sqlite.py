"""The SQLite conventions of the sidecar's three stores (workflows, pub/sub, state)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(
    path: Path | None, synchronous: str = "NORMAL", timeout: float = 5.0
) -> sqlite3.Connection:
    """A connection in autocommit mode, so transactions are explicit (`immediate`); a file
    database in WAL mode, so readers never block the writer; `None` is in memory.

    `timeout` is how long a write waits for another process holding the file's lock.
    """
    if path is None:
        return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front (no upgrade deadlock between
    processes), committed when the block ends and rolled back when it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
