"""Sidecars opening the same SQLite files at the same moment all come up.

Reported: `make run` on a fresh data folder sometimes failed at start, one of the four
sidecars dying on `PRAGMA journal_mode=WAL` with "database is locked" while the others
opened the shared `state.sqlite`. Switching a fresh file to WAL reads its header and
then writes it; SQLite refuses that upgrade at once, busy timeout or not, while another
connection writes (foundation/sqlite.py).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from foundation.sqlite import connect
from sidecar.pubsub.broker import Broker
from sidecar.state.store import StateStore
from testkit.ports import free_port
from testkit.sidecar import SidecarProcess

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
SHM = Path("/dev/shm")


def test_switching_to_wal_waits_for_a_writer_rather_than_failing(tmp_path: Path) -> None:
    """The moment of the race, held still: another connection writes the fresh file
    (another sidecar switching it to WAL). Opening must wait for it, up to the timeout,
    like any other write does; it used to fail at once."""
    path = tmp_path / "fresh.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            connect(path, timeout=0.5)
        assert time.monotonic() - started >= 0.5
    finally:
        writer.execute("COMMIT")
        writer.close()
    connect(path, timeout=0.5).close()  # and once the writer is done, it opens


@pytest.fixture
def fast_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory (tmpfs) where there is one: a thousand fresh files in seconds,
    not fsyncs to disk; SQLite's locking is the same."""
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=SHM, prefix="startup-races-") as folder:
        yield Path(folder)


def test_many_connections_open_a_fresh_database_at_the_same_instant(fast_folder: Path) -> None:
    """Six threads (SQLite runs without the GIL) open each of many fresh files at the
    same instant, as the sidecars of a run do: half the files as the state store, half as
    the pub/sub broker (a file holds one kind of store). The race hits about one file in a
    hundred, hence a thousand files."""
    threads, rounds = 6, 1000
    paths = [fast_folder / f"round-{n}.sqlite" for n in range(rounds)]
    start, end = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    failures: list[str] = []

    def opener() -> None:
        for number, path in enumerate(paths):
            start.wait(timeout=30)
            try:
                (StateStore(path) if number % 2 == 0 else Broker("pubsub", path)).close()
            except sqlite3.Error as error:
                failures.append(f"{path.name}: {error}")
            end.wait(timeout=30)

    workers = [threading.Thread(target=opener) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for _ in paths:  # one file at a time, every thread at once
        start.wait(timeout=30)
        end.wait(timeout=30)
    for worker in workers:
        worker.join(timeout=30)
    assert failures == []


def test_many_sidecars_start_together_on_a_fresh_and_an_existing_folder(tmp_path: Path) -> None:
    """Six sidecars with the shared pub/sub and state components, started together;
    three fresh data folders, then the last one again (files and WAL there already).
    Whole start-ups rarely meet in the race's window (the thread test above is what
    catches it); this proves that a start-up as `make run` does it comes up."""
    folders = [tmp_path / f"data-{n}" for n in range(3)]
    for data_dir in [*folders, folders[-1]]:
        sidecars = [
            SidecarProcess(
                data_dir, app_id=f"app-{n}", extra_args=["--resources-path", str(COMPONENTS)]
            )
            for n in range(6)
        ]
        try:
            with ThreadPoolExecutor(len(sidecars)) as pool:
                outcomes = list(pool.map(_start, sidecars))
        finally:
            _stop_all(sidecars)
        assert [o for o in outcomes if o] == [], f"in {data_dir.name}"
    assert {p.name for p in folders[-1].iterdir()} >= {"state.sqlite", "pubsub.sqlite"}


def _start(sidecar: SidecarProcess) -> str:
    """Empty once the sidecar answers, else why not (its log ends the message).

    A port taken meanwhile by another process of the machine (other test runs pick from
    the same ranges) is not what this test is about: new ports, and again."""
    for _ in range(3):
        try:
            sidecar.start()
        except (RuntimeError, TimeoutError) as error:
            if "bind" not in str(error):
                return f"{sidecar.app_id}: {error}"
            sidecar.grpc_port, sidecar.http_port = free_port(), free_port()
        else:
            return ""
    return f"{sidecar.app_id}: no free ports"


def _stop_all(sidecars: list[SidecarProcess]) -> None:
    """SIGTERM to all at once, then wait for each (one by one would add up)."""
    with ThreadPoolExecutor(len(sidecars)) as pool:
        list(pool.map(lambda sidecar: sidecar.stop(), sidecars))
