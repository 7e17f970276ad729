"""JSON log lines for the services, with the app id on every line and the saga id
(`saga_id`) and instance id (`instance_id`) passed in `extra` where a line concerns one."""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter


def configure_logging(app_id: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "message": "msg"},
            static_fields={"app_id": app_id},
        )
    )
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler])
    logging.getLogger("grpc").setLevel(logging.WARNING)
