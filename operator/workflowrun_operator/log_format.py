"""The platform's JSON lines for the operator's log, kopf's own lines included.

`kopf run --log-format=json` writes kopf's field names (`message`, `timestamp`, `severity`);
every other process of the platform writes `foundation.logs`' (`msg`, `time`, `level`). The
operator keeps kopf's resource reference, as `object`, on the lines about one resource.
"""

from __future__ import annotations

import logging
from typing import Any

from foundation.logs import JsonLineFormatter, context_filter, formatter

_KOPF_EXTRAS = ("k8s_ref", "k8s_skip", "settings")


class KopfLineFormatter(JsonLineFormatter):
    def add_fields(
        self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_record, record, message_dict)
        ref = getattr(record, "k8s_ref", None)
        if ref:
            log_record["object"] = ref
        for extra in _KOPF_EXTRAS:
            log_record.pop(extra, None)


def adopt_platform_format(app_id: str) -> None:
    """Puts the platform's formatter on the handlers kopf installed on the root logger."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(app_id, KopfLineFormatter))
        handler.addFilter(context_filter())
