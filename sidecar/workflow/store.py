"""SQLite persistence for the workflow engine.

Every state change the engine acknowledges is one `Batch`, written in one transaction
before the gRPC answer goes out, so a `kill -9` at any moment loses nothing that was
acknowledged. The database runs in WAL mode; `synchronous` is NORMAL by default (a
commit survives a process crash, and an OS crash may lose the last commits) and FULL on
request (each commit is fsynced). See docs/workflow-engine.md.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from foundation.sqlite import immediate
from sidecar.storefiles import Schema, add_column, open_store
from sidecar.workflow.history import TERMINAL_STATUSES
from sidecar.workflow.protos import backend, pb
from sidecar.workflow.records import ActivityItem, InboxItem, Instance, OutboxItem, ParentRef


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


@dataclass
class Batch:
    """The writes of one engine step, committed atomically. `name` says what it commits."""

    name: str
    instances: list[Instance] = field(default_factory=list)
    history_appends: list[tuple[str, int, list[pb.HistoryEvent]]] = field(default_factory=list)
    history_resets: list[str] = field(default_factory=list)
    inbox_inserts: list[InboxItem] = field(default_factory=list)
    inbox_deletes: list[int] = field(default_factory=list)
    inbox_clears: list[tuple[str, str | None]] = field(default_factory=list)
    activity_inserts: list[ActivityItem] = field(default_factory=list)
    activity_deletes: list[int] = field(default_factory=list)
    activity_clears: list[str] = field(default_factory=list)
    outbox_inserts: list[OutboxItem] = field(default_factory=list)
    outbox_deletes: list[int] = field(default_factory=list)
    purges: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(
            getattr(self, name)
            for name in self.__dataclass_fields__
            if name != "name"  # a batch with only a name writes nothing
        )


@dataclass(frozen=True)
class InstanceQuery:
    """Filters for listing and purging; every field is optional."""

    statuses: tuple[int, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    name: str | None = None


_INSTANCE_COLUMNS = (
    "instance_id, execution_id, name, status, created_at, last_updated_at, started_at, "
    "completed_at, scheduled_start_at, input, output, custom_status, failure, "
    "parent_instance_id, parent_execution_id, parent_task_id, parent_name, parent_app_id"
)


def _from_unversioned(db: sqlite3.Connection) -> None:
    """Version 0 (before versions were recorded) to 1: columns added after the first release."""
    add_column(db, "instances", "parent_app_id", "TEXT")
    add_column(db, "activities", "reply_app_id", "TEXT")


SCHEMA = Schema(
    application_id=0x53475746,
    version=1,
    script=resources.files("sidecar.workflow").joinpath("schema.sql").read_text(),
    marker="instances",
    migrations={0: _from_unversioned},
)
# Cross-app activities belong to another app's instance: clearing or purging one of this
# app's instances leaves them alone.
_OWN_ACTIVITIES = "instance_id = ? AND reply_app_id IS NULL"


class WorkflowStore:
    def __init__(
        self, path: Path, synchronous: str = "NORMAL", max_bytes: int | None = None
    ) -> None:
        self._db = open_store(path, SCHEMA, synchronous, max_bytes=max_bytes)
        self._db.execute("PRAGMA foreign_keys=OFF")

    def close(self) -> None:
        self._db.close()

    # -- reads -------------------------------------------------------------------------

    def load_active(self) -> tuple[list[Instance], list[InboxItem], list[ActivityItem]]:
        """Everything the engine keeps in memory after a restart: non-terminal instances
        with their history, their pending inbox and their unfinished activities (with the
        cross-app activities other apps' workflows asked for)."""
        terminal = ",".join(str(status) for status in sorted(TERMINAL_STATUSES))
        rows = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE status NOT IN ({terminal})"
        ).fetchall()
        instances = [_instance_from_row(row) for row in rows]
        for instance in instances:
            instance.history = self.get_history(instance.instance_id)
        active = {i.instance_id for i in instances}
        inbox = [
            InboxItem(
                item_id=row[0],
                instance_id=row[1],
                execution_id=row[2],
                visible_at=datetime.fromtimestamp(row[3], UTC),
                event=pb.HistoryEvent.FromString(row[4]),
            )
            for row in self._db.execute(
                "SELECT id, instance_id, execution_id, visible_at, event FROM inbox ORDER BY id"
            )
            if row[1] in active
        ]
        activities = [
            ActivityItem(
                item_id=row[0],
                instance_id=row[1],
                execution_id=row[2],
                request=pb.ActivityRequest.FromString(row[3]),
                reply_app_id=row[4],
            )
            for row in self._db.execute(
                "SELECT id, instance_id, execution_id, request, reply_app_id FROM activities "
                "ORDER BY id"
            )
            if row[1] in active or row[4] is not None
        ]
        return instances, inbox, activities

    def load_outbox(self) -> list[OutboxItem]:
        return [
            OutboxItem(row[0], row[1], backend.WorkflowMessage.FromString(row[2]))
            for row in self._db.execute("SELECT id, app_id, message FROM outbox ORDER BY id")
        ]

    def get_instance(self, instance_id: str) -> Instance | None:
        row = self._db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,)
        ).fetchone()
        return None if row is None else _instance_from_row(row)

    def get_history(self, instance_id: str) -> list[pb.HistoryEvent]:
        return [
            pb.HistoryEvent.FromString(row[0])
            for row in self._db.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            )
        ]

    def list_instance_ids(self, page_size: int, after: tuple[float, str] | None) -> list[Any]:
        """Instance ids in creation order, `page_size` at a time, after a (created_at, id) key."""
        if after is None:
            cursor = self._db.execute(
                "SELECT created_at, instance_id FROM instances "
                "ORDER BY created_at, instance_id LIMIT ?",
                (page_size,),
            )
        else:
            cursor = self._db.execute(
                "SELECT created_at, instance_id FROM instances "
                "WHERE (created_at, instance_id) > (?, ?) "
                "ORDER BY created_at, instance_id LIMIT ?",
                (after[0], after[1], page_size),
            )
        return cursor.fetchall()

    def query_instances(self, query: InstanceQuery, limit: int | None = None) -> list[Instance]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.statuses:
            clauses.append(f"status IN ({','.join('?' * len(query.statuses))})")
            params.extend(query.statuses)
        if query.created_from is not None:
            clauses.append("created_at >= ?")
            params.append(_epoch(query.created_from))
        if query.created_to is not None:
            clauses.append("created_at < ?")
            params.append(_epoch(query.created_to))
        if query.name is not None:
            clauses.append("name = ?")
            params.append(query.name)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"SELECT {_INSTANCE_COLUMNS} FROM instances {where} ORDER BY created_at, instance_id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_instance_from_row(row) for row in self._db.execute(sql, params)]

    # -- writes ------------------------------------------------------------------------

    def commit(self, batch: Batch) -> None:
        """Writes the whole batch in one transaction; assigns ids to inserted items."""
        with immediate(self._db) as db:
            for instance_id in batch.purges:
                for table in ("instances", "history", "inbox"):
                    db.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))
                db.execute(f"DELETE FROM activities WHERE {_OWN_ACTIVITIES}", (instance_id,))
            for instance_id in batch.history_resets:
                db.execute("DELETE FROM history WHERE instance_id = ?", (instance_id,))
            if batch.instances:
                db.executemany(
                    f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) "
                    f"VALUES ({','.join('?' * 18)})",
                    [_instance_to_row(i) for i in batch.instances],
                )
            for instance_id, start, events in batch.history_appends:
                db.executemany(
                    "INSERT OR REPLACE INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                    [(instance_id, start + n, e.SerializeToString()) for n, e in enumerate(events)],
                )
            for instance_id, execution_id in batch.inbox_clears:
                if execution_id is None:
                    db.execute("DELETE FROM inbox WHERE instance_id = ?", (instance_id,))
                else:
                    db.execute(
                        "DELETE FROM inbox WHERE instance_id = ? AND execution_id = ?",
                        (instance_id, execution_id),
                    )
            if batch.inbox_deletes:
                db.executemany(
                    "DELETE FROM inbox WHERE id = ?", [(i,) for i in batch.inbox_deletes]
                )
            for item in batch.inbox_inserts:
                cursor = db.execute(
                    "INSERT INTO inbox (instance_id, execution_id, visible_at, event) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        item.instance_id,
                        item.execution_id,
                        item.visible_at.timestamp(),
                        item.event.SerializeToString(),
                    ),
                )
                item.item_id = int(cursor.lastrowid or 0)
            for instance_id in batch.activity_clears:
                db.execute(f"DELETE FROM activities WHERE {_OWN_ACTIVITIES}", (instance_id,))
            if batch.activity_deletes:
                db.executemany(
                    "DELETE FROM activities WHERE id = ?", [(i,) for i in batch.activity_deletes]
                )
            for activity in batch.activity_inserts:
                cursor = db.execute(
                    "INSERT INTO activities (instance_id, execution_id, request, reply_app_id) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        activity.instance_id,
                        activity.execution_id,
                        activity.request.SerializeToString(),
                        activity.reply_app_id,
                    ),
                )
                activity.item_id = int(cursor.lastrowid or 0)
            if batch.outbox_deletes:
                db.executemany(
                    "DELETE FROM outbox WHERE id = ?", [(i,) for i in batch.outbox_deletes]
                )
            for message in batch.outbox_inserts:
                cursor = db.execute(
                    "INSERT INTO outbox (app_id, message) VALUES (?, ?)",
                    (message.app_id, message.message.SerializeToString()),
                )
                message.item_id = int(cursor.lastrowid or 0)


def _instance_to_row(instance: Instance) -> tuple[Any, ...]:
    parent = instance.parent
    return (
        instance.instance_id,
        instance.execution_id,
        instance.name,
        instance.status,
        _epoch(instance.created_at),
        _epoch(instance.last_updated_at),
        _epoch(instance.started_at),
        _epoch(instance.completed_at),
        _epoch(instance.scheduled_start_at),
        instance.input,
        instance.output,
        instance.custom_status,
        None if instance.failure is None else instance.failure.SerializeToString(),
        None if parent is None else parent.instance_id,
        None if parent is None else parent.execution_id,
        None if parent is None else parent.task_id,
        None if parent is None else parent.name,
        None if parent is None else parent.app_id,
    )


def _instance_from_row(row: Iterable[Any]) -> Instance:
    (
        instance_id,
        execution_id,
        name,
        status,
        created_at,
        last_updated_at,
        started_at,
        completed_at,
        scheduled_start_at,
        input_,
        output,
        custom_status,
        failure,
        parent_instance_id,
        parent_execution_id,
        parent_task_id,
        parent_name,
        parent_app_id,
    ) = row
    return Instance(
        instance_id=instance_id,
        execution_id=execution_id,
        name=name,
        status=status,
        created_at=datetime.fromtimestamp(created_at, UTC),
        last_updated_at=datetime.fromtimestamp(last_updated_at, UTC),
        started_at=_moment(started_at),
        completed_at=_moment(completed_at),
        scheduled_start_at=_moment(scheduled_start_at),
        input=input_,
        output=output,
        custom_status=custom_status,
        failure=None if failure is None else pb.TaskFailureDetails.FromString(failure),
        parent=None
        if parent_instance_id is None
        else ParentRef(
            parent_instance_id, parent_execution_id, parent_task_id, parent_name, parent_app_id
        ),
    )
