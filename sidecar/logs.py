"""Structured logging: one JSON object per line (python-json-logger), ids as fields.

Call sites pass ids through `extra` (`log.info("...", extra={"instance_id": iid})`) so a
log pipeline can follow one workflow instance across processes.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

FIELDS = {"asctime": "time", "levelname": "level", "name": "logger", "message": "msg"}


class _Formatter(JsonFormatter):
    """Lower-case levels, as daprd writes them."""

    def process_log_record(self, log_record: dict[str, object]) -> dict[str, object]:
        log_record["level"] = str(log_record.get("level", "")).lower()
        return log_record


def configure(level: str, app_id: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _Formatter(
            " ".join(f"%({name})s" for name in FIELDS),
            rename_fields=FIELDS,
            static_fields={"app_id": app_id} if app_id else {},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("grpc", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
