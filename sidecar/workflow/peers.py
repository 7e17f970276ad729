"""Finding and calling the sidecars of other apps, for cross-app workflows.

Name resolution is a SQLite file that every sidecar sharing the data folder (all sidecars
of a Multi-App Run do) writes its app id and internal gRPC address into when it starts,
as daprd's `nameresolution.sqlite` component does: `<data-dir>/nameresolution.sqlite`,
table `apps`. The last sidecar to start with an app id is the one found for it. Sidecars
talk to each other on their internal gRPC port (`--dapr-internal-grpc-port`), which serves
the workflow API for operations routed to their app and `Deliver` for the messages of
cross-app workflows (`crossapp`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2

from foundation.sqlite import immediate
from sidecar.storefiles import Schema, open_store
from sidecar.workflow.protos import backend

log = logging.getLogger("sidecar.workflow")

DELIVER = "/sidecar.workflow.v1.Peers/Deliver"
SCHEMA = Schema(
    application_id=0x53474E52,
    version=1,
    script="""
CREATE TABLE IF NOT EXISTS apps (
    app_id     TEXT PRIMARY KEY,
    address    TEXT NOT NULL,
    updated_at REAL NOT NULL
);
""",
    marker="apps",
    migrations={0: lambda db: None},  # version 1 only started recording the version
)


class PeerUnavailable(Exception):
    """The app has no sidecar registered, or its sidecar does not answer: try again later."""


class Peers:
    def __init__(self, data_dir: Path, app_id: str, max_bytes: int | None = None) -> None:
        self.app_id = app_id
        self._db = open_store(data_dir / "nameresolution.sqlite", SCHEMA, max_bytes=max_bytes)
        self._address = ""
        self._channels: dict[str, grpc.aio.Channel] = {}

    def register(self, address: str) -> None:
        """Makes this sidecar the one other sidecars find for its app id."""
        self._address = address
        with immediate(self._db) as db:
            db.execute(
                "INSERT OR REPLACE INTO apps (app_id, address, updated_at) VALUES (?, ?, ?)",
                (self.app_id, address, time.time()),
            )
        log.info("registered for cross-app calls", extra={"address": address})

    def resolve(self, app_id: str) -> str:
        row = self._db.execute("SELECT address FROM apps WHERE app_id = ?", (app_id,)).fetchone()
        if row is None:
            raise PeerUnavailable(f"no sidecar of app '{app_id}' is registered (yet)")
        return str(row[0])

    def channel(self, app_id: str) -> grpc.aio.Channel:
        """A channel to the internal gRPC port of the sidecar of `app_id`."""
        address = self.resolve(app_id)
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        return channel

    async def deliver(self, app_id: str, message: backend.WorkflowMessage) -> None:
        """Hands a message to the sidecar of `app_id`; returns once it is committed there."""
        call: Any = self.channel(app_id).unary_unary(
            DELIVER,
            request_serializer=backend.WorkflowMessage.SerializeToString,
            response_deserializer=empty_pb2.Empty.FromString,
        )
        try:
            await call(message, timeout=30)
        except grpc.aio.AioRpcError as error:
            if error.code() in _RETRIED:
                raise PeerUnavailable(f"app '{app_id}': {error.details()}") from error
            raise

    def unregister(self) -> None:
        """Forgets this sidecar's registration, unless a newer sidecar of the app took it."""
        with immediate(self._db) as db:
            db.execute(
                "DELETE FROM apps WHERE app_id = ? AND address = ?", (self.app_id, self._address)
            )

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._db.close()


_RETRIED = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)
