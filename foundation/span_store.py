"""The local span store: every app's spans in one SQLite file, for a run with no collector.

`make run` points every app at `<data dir>/traces.sqlite` (`TRACE_STORE`); each app's
tracer provider writes its finished spans there (`SpanStoreExporter`, in the SDK's batch
processor thread) and the management API reads a saga's traces back (`saga_traces`) for
`sagactl workflow trace` and the console. SQLite rather than a file per app: several
processes write at once (WAL, `foundation.sqlite`), and a saga's spans are found by an
index instead of a scan. Nothing is pruned: the file lives and goes with the run's data.

A saga's traces are those holding a span with its `saga.id` attribute (the saga's steps,
the handlers of its messages); every span of those traces is returned, the API's request
and the services' spans included.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from foundation.sqlite import connect, immediate

SAGA_ID = "saga.id"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    service TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    saga_id TEXT,
    attributes TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_saga ON spans (saga_id) WHERE saga_id IS NOT NULL;
"""


@dataclass(frozen=True)
class StoredSpan:
    """One finished span as the store keeps it (ids in lower-case hex, times in ns)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]


def _open(path: Path) -> sqlite3.Connection:
    db = connect(path, timeout=10.0)
    db.executescript(_SCHEMA)
    return db


def _row(span: ReadableSpan) -> tuple[Any, ...]:
    context = span.get_span_context()
    assert context is not None  # a finished SDK span always has one
    attributes = {key: _plain(value) for key, value in (span.attributes or {}).items()}
    saga_id = attributes.get(SAGA_ID)
    return (
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
        format(span.parent.span_id, "016x") if span.parent is not None else None,
        span.name,
        span.kind.name.lower(),
        str(span.resource.attributes.get(SERVICE_NAME, "")),
        span.start_time or 0,
        span.end_time or 0,
        span.status.status_code.name.lower(),
        str(saga_id) if saga_id is not None else None,
        json.dumps(attributes),
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value


class SpanStoreExporter(SpanExporter):
    """Writes finished spans into the store; one connection, used by the one thread of
    the batch processor that calls `export`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        rows = [_row(span) for span in spans]
        try:
            with self._lock:
                if self._db is None:
                    self._db = _open(self.path)
                with immediate(self._db):
                    self._db.executemany(
                        "INSERT OR REPLACE INTO spans VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
                    )
        except sqlite3.Error:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def saga_traces(path: str | Path, saga_id: str) -> list[StoredSpan]:
    """Every span of every trace that touched `saga_id`, by start time; [] when the store
    does not exist yet."""
    if not Path(path).exists():
        return []
    db = _open(Path(path))
    try:
        rows = db.execute(
            "SELECT trace_id, span_id, parent_span_id, name, kind, service, start_ns, end_ns,"
            " status, attributes FROM spans WHERE trace_id IN"
            " (SELECT DISTINCT trace_id FROM spans WHERE saga_id = ?)"
            " ORDER BY start_ns, span_id",
            (saga_id,),
        ).fetchall()
    finally:
        db.close()
    return [
        StoredSpan(
            trace_id=row[0],
            span_id=row[1],
            parent_span_id=row[2],
            name=row[3],
            kind=row[4],
            service=row[5],
            start_ns=row[6],
            end_ns=row[7],
            status=row[8],
            attributes=json.loads(row[9]),
        )
        for row in rows
    ]
