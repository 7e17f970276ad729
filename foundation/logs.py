"""One log format for every process of the platform: JSON lines on stderr.

Every line has `time`, `level` (lower case, as daprd writes it), `logger`, `msg` and the
process's `app_id`; a line that concerns a saga or a workflow instance also has `saga_id`
and `instance_id`. Those come from the context (`log_context`), so code that handles one
saga sets them once instead of passing them on every call; `extra={...}` still adds fields
to one line (and wins over the context). A line written inside an OpenTelemetry span has
its `trace_id` and `span_id` (hex, as trace backends show them), so a trace leads to its
lines and back.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

FIELDS = {"asctime": "time", "levelname": "level", "name": "logger", "message": "msg"}

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Adds `fields` (None values left out) to every line logged inside the block, in this
    thread or asyncio task and in the tasks it starts."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields `log_context` adds now (for handing over to another thread)."""
    return _context.get()


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        span = trace.get_current_span().get_span_context()
        if span.is_valid and not hasattr(record, "trace_id"):
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True


class JsonLineFormatter(JsonFormatter):
    """The platform's line: `FIELDS` renamed, the level in lower case, every `extra` kept."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """RFC 3339 in UTC with milliseconds, as daprd writes `time`."""
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        log_record["level"] = str(log_record.get("level", "")).lower()
        return log_record


def formatter(
    app_id: str | None = None, cls: type[JsonLineFormatter] = JsonLineFormatter
) -> JsonLineFormatter:
    """The platform's JSON line formatter (or a subclass's, for a framework's own extras)."""
    return cls(
        " ".join(f"%({name})s" for name in FIELDS),
        rename_fields=FIELDS,
        static_fields={"app_id": app_id} if app_id else {},
    )


def context_filter() -> logging.Filter:
    """The filter that adds the `log_context` fields, for handlers other than stderr's."""
    return _ContextFilter()


def configure(app_id: str | None = None, level: str | None = None) -> None:
    """JSON lines on stderr for the whole process; `level` defaults to `LOG_LEVEL` (info)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(app_id))
    handler.addFilter(context_filter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL") or "info").upper())
    for noisy in ("grpc", "asyncio", "aiohttp.access", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
