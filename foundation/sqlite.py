"""The SQLite conventions of the platform's files: the sidecar's stores (workflows,
pub/sub, state, names) and the apps' local span store (`foundation/span_store.py`).

Several sidecars (and their restarts) open the same file at the same moment, fresh or
not: every step of opening one must wait for the others rather than fail. SQLite's busy
timeout covers most of it, but not the switch of a fresh file to WAL: that statement
reads the file header, then upgrades to a write, and SQLite refuses such an upgrade at
once with SQLITE_BUSY when another connection writes (waiting could deadlock). The
switch is therefore retried until the timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_RETRY_FIRST, _RETRY_MAX = 0.001, 0.05


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
    # `timeout` is SQLite's busy timeout, in force before the first statement below.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        _switch_to_wal(db, timeout)
        db.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        db.close()
        raise
    return db


def _switch_to_wal(db: sqlite3.Connection, timeout: float) -> None:
    """`PRAGMA journal_mode=WAL`, again while SQLite answers SQLITE_BUSY without having
    waited (above), for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = _RETRY_FIRST
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise
        time.sleep(min(delay, left))  # a back-off between attempts, nothing to wait for
        delay = min(delay * 2, _RETRY_MAX)


class StorageFull(Exception):
    """A write found its file's disk full (or the file at `--sqlite-max-size`); nothing of
    it was written, and what was committed before is intact."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"the disk holding {path or 'an in-memory store'} is full (or the file reached "
            "--sqlite-max-size): nothing of this request was written; free space, then retry"
        )
        self.path = path


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock up front (no upgrade deadlock between
    processes), committed when the block ends and rolled back when it raises; a full
    disk raises `StorageFull`."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException as error:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk does)
            db.execute("ROLLBACK")
        if isinstance(error, sqlite3.OperationalError) and _is_full(error):
            raise StorageFull(_file_of(db)) from error
        raise


def _is_full(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL


def _file_of(db: sqlite3.Connection) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2])


class StoreThread:
    """The one thread that uses a connection, for calls from the event loop.

    A write can wait up to its busy timeout for a lock another process holds (another
    sidecar, a backup, an operator's `sqlite3`); waiting here keeps the loop, and every
    gRPC and HTTP call the sidecar serves, running meanwhile.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def drain(self) -> None:
        """Returns once every call submitted so far has finished."""
        await self.run(lambda: None)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
