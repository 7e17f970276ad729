"""Starts a test app as its own process (`python -m tests.fidelity.apps.<name>`), with what
the Dapr CLI gives an app (`APP_ID`, `APP_PORT`) and the file it records into."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from testkit.apps import clean_environ
from testkit.ports import port_open
from testkit.process import ManagedProcess

HOST = "127.0.0.1"


def app(
    name: str, app_id: str, port: int, records: Path, env: Mapping[str, str] | None = None
) -> ManagedProcess:
    """The app `name` of `tests.fidelity.apps`, started; ready once it listens on `port`."""
    return ManagedProcess(
        f"{name} '{app_id}'",
        [sys.executable, "-m", f"tests.fidelity.apps.{name}"],
        records.parent / f"{app_id}-{name}.log",
        env={
            **clean_environ(),
            "PYTHONUNBUFFERED": "1",
            "APP_ID": app_id,
            "APP_PORT": str(port),
            "RECORDS": str(records),
            **(env or {}),
        },
        ready=lambda: port_open(HOST, port),
    ).start()
