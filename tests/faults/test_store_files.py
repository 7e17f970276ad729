"""A sidecar meets a SQLite file that is not what it expects: it refuses it, untouched.

A damaged, truncated, foreign, other-store or newer file at start stops the sidecar with
exit code 1 and one line naming the file and what to do; the file keeps every byte. A
file from before schema versions were recorded is migrated and its data kept. These are
the embedded sidecar's own files (daprd keeps its own), so the tests run it alone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sidecar.state.store import StateStore, Write
from sidecar.workflow.store import WorkflowStore
from testkit.ports import free_port
from testkit.sidecar import SidecarProcess

COMPONENTS = Path(__file__).resolve().parents[2] / "components"
APP_ID = "test-app"


def _start(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m sidecar` with the platform's components, until it exits (a refusal)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sidecar",
            "--app-id",
            APP_ID,
            "--dapr-grpc-port",
            str(free_port()),
            "--dapr-http-port",
            str(free_port()),
            "--enable-metrics=false",
            "--resources-path",
            str(COMPONENTS),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"orders exported as text, not a database\n" * 200)


def _truncated(path: Path) -> None:
    store = StateStore(path)
    store.apply([Write(f"key-{n}", b"x" * 500) for n in range(1000)])
    store.close()
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO customers (name) VALUES ('Ada')")
    db.close()


def _another_store(path: Path) -> None:
    WorkflowStore(path).close()  # a workflow store where the state store belongs


def _newer(path: Path) -> None:
    StateStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_not_sqlite, "is damaged or not a SQLite database"),
        (_truncated, "is damaged"),
        (_foreign, "is not a state store (another program's SQLite file: tables customers)"),
        (_another_store, "holds the workflow store, not the state store"),
        (_newer, "was written by a newer sidecar (state store schema version 99"),
    ],
    ids=["not-sqlite", "truncated", "foreign", "another-store", "newer"],
)
def test_an_unfit_state_file_is_refused_at_start_and_left_untouched(
    tmp_path: Path, make: Callable[[Path], None], problem: str
) -> None:
    path = tmp_path / "state.sqlite"  # components/statestore.yaml's file
    make(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    result = _start(tmp_path)

    assert result.returncode == 1, result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("sidecar: ")]
    assert len(refusal) == 1, result.stderr
    assert refusal[0].startswith(f"sidecar: {path.absolute()}: {problem}"), refusal[0]
    assert "docs/runbook.md" in refusal[0]
    assert "Traceback" not in result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (f"{APP_ID}.sqlite", "workflow store"),
        ("pubsub.sqlite", "pub/sub store"),
        ("nameresolution.sqlite", "name resolution store"),
    ],
)
def test_every_store_of_the_sidecar_refuses_a_foreign_file(
    tmp_path: Path, name: str, kind: str
) -> None:
    path = tmp_path / name
    _foreign(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()

    result = _start(tmp_path)

    assert result.returncode == 1, result.stderr
    assert f"sidecar: {path.absolute()}: is not a {kind} (" in result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_an_unversioned_file_is_migrated_and_its_data_kept(tmp_path: Path) -> None:
    """A state file as sidecars wrote it before versions were recorded: no version
    stamp, a key of this app. The sidecar opens it, stamps it and serves the key."""
    path = tmp_path / "state.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
            "etag TEXT NOT NULL, expires_at REAL) WITHOUT ROWID"
        )
        db.execute(
            "INSERT INTO state VALUES (?, ?, ?, NULL)", ("stock:tea", b'{"units": 7}', "etag-1")
        )
    db.close()
    sidecar = SidecarProcess(
        tmp_path,
        app_id=APP_ID,
        extra_args=["--resources-path", str(COMPONENTS), "--enable-metrics=false"],
    ).start()
    try:
        status, body = sidecar.http_get("/v1.0/state/statestore/stock:tea")
        assert (status, json.loads(body)) == (200, {"units": 7})
    finally:
        sidecar.stop()
    db = sqlite3.connect(path)
    stamp = (
        db.execute("PRAGMA application_id").fetchone()[0],
        db.execute("PRAGMA user_version").fetchone()[0],
    )
    db.close()
    assert stamp == (0x53475354, 1)


def test_an_unversioned_workflow_file_gains_the_columns_added_since(tmp_path: Path) -> None:
    """The workflow store's first release had no `parent_app_id` nor `reply_app_id`:
    migrating version 0 adds them, so rows written then are read, not misread."""
    path = tmp_path / "app.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE instances (instance_id TEXT PRIMARY KEY, execution_id TEXT NOT NULL,"
            " name TEXT NOT NULL, status INTEGER NOT NULL, created_at REAL NOT NULL,"
            " last_updated_at REAL NOT NULL, started_at REAL, completed_at REAL,"
            " scheduled_start_at REAL, input TEXT, output TEXT, custom_status TEXT,"
            " failure BLOB, parent_instance_id TEXT, parent_execution_id TEXT,"
            " parent_task_id INTEGER, parent_name TEXT)"
        )
        db.execute(
            "CREATE TABLE activities (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " instance_id TEXT NOT NULL, execution_id TEXT NOT NULL, request BLOB NOT NULL)"
        )
        db.execute(
            "INSERT INTO instances (instance_id, execution_id, name, status, created_at,"
            " last_updated_at, output) VALUES ('order-1', 'e1', 'saga', 1, 1.0, 2.0, '\"ok\"')"
        )
    db.close()
    store = WorkflowStore(path)
    try:
        instance = store.get_instance("order-1")
    finally:
        store.close()
    assert instance is not None
    assert (instance.name, instance.output, instance.parent) == ("saga", '"ok"', None)
