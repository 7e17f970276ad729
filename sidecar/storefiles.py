"""Opening a store's SQLite file: refuse what is not ours, create, migrate, stamp.

Every file the sidecar writes records which store wrote it (`PRAGMA application_id`, one
value per kind of store) and the version of that store's schema (`PRAGMA user_version`).
At start a file is read before anything is written to it: a file that is damaged, not a
SQLite database, another program's or another store's, or of a newer schema than this
sidecar knows is refused with `StoreRefused` (the sidecar exits with one line naming the
file and what to do), never rewritten. A file of an older version is migrated in the same
transaction that stamps the new version. Files from before versions were recorded carry
neither pragma: they are recognised by the store's marker table and count as version 0.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from foundation.sqlite import connect, immediate

Migration = Callable[[sqlite3.Connection], None]

# One application id per kind of store ("SG" and two letters), so that a file is never
# taken for another kind's.
KINDS = {
    0x53475746: "workflow store",
    0x53475053: "pub/sub store",
    0x53475354: "state store",
    0x53474E52: "name resolution store",
}
_DAMAGED_REMEDY = (
    "restore it from a backup, or move it away to start this store empty "
    "(docs/runbook.md, 'A SQLite file is refused')"
)
_MOVE_REMEDY = (
    "point the component's connectionString (or --data-dir) at another file, or move "
    "this one away (docs/runbook.md, 'A SQLite file is refused')"
)


@dataclass(frozen=True)
class Schema:
    """What a kind of store keeps in its file.

    `script`: the latest schema as `CREATE ... IF NOT EXISTS` statements. `marker`: a
    table every version of the store has (how a file from before versions is told from a
    foreign one). `migrations[v]` turns version `v` into `v + 1`; the script runs after
    them, so a migration only changes what exists.
    """

    application_id: int
    version: int
    script: str
    marker: str
    migrations: Mapping[int, Migration] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return KINDS[self.application_id]


class StoreRefused(Exception):
    """A store's file that the sidecar will not open; the message says why and what to do."""

    def __init__(self, path: Path, problem: str, remedy: str) -> None:
        super().__init__(f"{path.absolute()}: {problem}; {remedy}")
        self.path = path


def open_store(
    path: Path | None,
    schema: Schema,
    synchronous: str = "NORMAL",
    timeout: float = 5.0,
    max_bytes: int | None = None,
) -> sqlite3.Connection:
    """A connection to the store's file (`None`: in memory) with its schema at the latest
    version; `StoreRefused` for a file it must not touch. `max_bytes` caps the file's size
    (`--sqlite-max-size`): a write beyond it fails as on a full disk."""
    if path is None:
        db = connect(None)
        _create(db, schema)
        return db
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        try:
            db.execute("BEGIN")  # one snapshot: another sidecar may be creating the file
            _refuse_if_unfit(db, path, schema, full_check=True)
        finally:
            db.close()
        db = connect(path, synchronous, timeout)
    except sqlite3.DatabaseError as error:
        if _code(error) in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
            raise StoreRefused(
                path, f"is damaged or not a SQLite database ({error})", _DAMAGED_REMEDY
            ) from None
        raise
    try:
        with immediate(db):
            # Read again under the write lock: another sidecar may have stamped it since.
            _refuse_if_unfit(db, path, schema, full_check=False)
            _create(db, schema)
        if max_bytes is not None:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page_size)}")
    except BaseException:
        db.close()
        raise
    return db


def add_column(db: sqlite3.Connection, table: str, column: str, declaration: str) -> None:
    """`ALTER TABLE ... ADD COLUMN` unless the table lacks or already has the column."""
    columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    if columns and column not in columns:
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


def _refuse_if_unfit(db: sqlite3.Connection, path: Path, schema: Schema, full_check: bool) -> None:
    """Raises `StoreRefused` unless the file is empty or this store's, at a version this
    sidecar reads or migrates. Only reads."""
    if full_check:
        verdict = [row[0] for row in db.execute("PRAGMA quick_check")]
        if verdict != ["ok"]:
            raise StoreRefused(path, f"is damaged (quick_check: {verdict[0]})", _DAMAGED_REMEDY)
    owner = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if owner == 0:
        tables = _tables(db)
        if version == 0 and not tables:
            return  # a new file
        if version == 0 and schema.marker in tables:
            _check_migrations(path, schema, 0)
            return  # written before versions were recorded
        listed = ", ".join(sorted(tables)[:5]) or "none"
        raise StoreRefused(
            path,
            f"is not a {schema.kind} (another program's SQLite file: tables {listed})",
            _MOVE_REMEDY,
        )
    if owner != schema.application_id:
        other = KINDS.get(owner, f"another program's file (application_id {owner:#x})")
        raise StoreRefused(path, f"holds the {other}, not the {schema.kind}", _MOVE_REMEDY)
    if version > schema.version:
        raise StoreRefused(
            path,
            f"was written by a newer sidecar ({schema.kind} schema version {version}; "
            f"this one knows up to {schema.version})",
            "run that newer version, or restore a backup made for this one (docs/runbook.md)",
        )
    _check_migrations(path, schema, version)


def _check_migrations(path: Path, schema: Schema, version: int) -> None:
    missing = [v for v in range(version, schema.version) if v not in schema.migrations]
    if missing:
        raise StoreRefused(
            path,
            f"has {schema.kind} schema version {version}, and this sidecar has no migration "
            f"from version {missing[0]} to {schema.version}",
            "run a sidecar version that migrates it first",
        )


def _create(db: sqlite3.Connection, schema: Schema) -> None:
    """Migrates the file to the latest version, creates what is missing and stamps it."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for step in range(version, schema.version):
        schema.migrations[step](db)
    for statement in _statements(schema.script):
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {schema.application_id}")
    db.execute(f"PRAGMA user_version = {schema.version}")


def _statements(script: str) -> list[str]:
    """The statements of a schema script, to run inside a transaction (`executescript`
    would commit it first)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip().strip(";").strip() and not pending.strip().startswith("--"):
        statements.append(pending.strip())
    return statements


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    return {row[0] for row in rows}


def _code(error: sqlite3.Error) -> int:
    return getattr(error, "sqlite_errorcode", 0) & 0xFF
