"""The transactional outbox of a state store, as daprd's (pkg/runtime/pubsub/outbox.go).

With `outboxPublishPubsub` and `outboxPublishTopic` on a state store, every upsert of a
transaction also publishes a CloudEvent to that topic: its data is the value written, or,
when the transaction has an upsert of the same key with `outbox.projection: "true"`
metadata, that projection's value, which is then not stored. The event is daprd's: id
`outbox-<uuid>`, the app id as source, `com.dapr.event.sent`, the `contentType` metadata as
data content type, the call's trace context as `traceid` (`traceparent` empty), and every
metadata item of the upsert as an attribute.

daprd publishes to an internal topic before the transaction and forwards the message once
it sees the state committed; here the message is a row of the state database written in
the transaction itself, and `OutboxRelay` publishes it after the commit (or after a crash,
at the next start), then deletes it: a transaction that fails publishes nothing, one that
commits always publishes, at least once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from foundation.sqlite import StorageFull
from sidecar.errors import SidecarError
from sidecar.pubsub.envelope import EVENT_TYPE, rfc3339
from sidecar.state.store import OutboxMessage, StateStore, Write

log = logging.getLogger("sidecar.state")

PROJECTION = "outbox.projection"
CONTENT_TYPE = "contentType"
_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class OutboxSettings:
    """Where a state store's transactions publish (`outboxPublishPubsub`/`Topic`)."""

    pubsub: str
    topic: str


@dataclass(frozen=True)
class Operation:
    """One operation of a transaction: its write, and the metadata it came with."""

    write: Write
    metadata: Mapping[str, str]

    @property
    def projection(self) -> bool:
        return self.write.value is not None and _truthy(self.metadata.get(PROJECTION, ""))


def plan(
    operations: Sequence[Operation],
    settings: OutboxSettings,
    app_id: str,
    traceparent: str,
) -> tuple[list[Write], list[OutboxMessage]]:
    """The writes a transaction stores (projections left out) and the messages it
    publishes, one per upsert."""
    projections = {op.write.key: op for op in operations if op.projection}
    writes, messages = [], []
    for op in operations:
        if op.projection:
            continue
        writes.append(op.write)
        if op.write.value is None:
            continue
        shown = projections.get(op.write.key, op)
        assert shown.write.value is not None
        event = cloud_event(
            app_id, shown.write.value, shown.metadata.get(CONTENT_TYPE, ""), traceparent
        )
        event.update({k: v for k, v in op.metadata.items() if k not in {"data", "id"}})
        event["topic"], event["pubsubname"] = settings.topic, settings.pubsub
        body = json.dumps(event).encode()
        messages.append(OutboxMessage(app_id, settings.pubsub, settings.topic, body))
    return writes, messages


def cloud_event(app_id: str, data: bytes, content_type: str, traceparent: str) -> dict[str, object]:
    """contrib's `NewCloudEventsEnvelope` for an outbox message: data as JSON for
    `application/json`, base64 for `application/octet-stream`, else as a string."""
    content_type = content_type or "text/plain"
    event: dict[str, object] = {
        "id": f"outbox-{uuid.uuid4()}",
        "specversion": "1.0",
        "datacontenttype": content_type,
        "source": app_id or "Dapr",
        "type": EVENT_TYPE,
        "traceid": traceparent,
        "traceparent": "",
        "tracestate": "",
        "time": rfc3339(datetime.now(UTC)),
    }
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            event["data"] = json.loads(data)
        except ValueError:
            event["data"] = data.decode("utf-8", errors="replace")
    elif media == "application/octet-stream":
        event["data_base64"] = base64.b64encode(data).decode("ascii")
    else:
        event["data"] = data.decode("utf-8", errors="replace")
    return event


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "t", "yes", "y", "on"}


class OutboxRelay:
    """Publishes the committed outbox messages of this app's state stores: at start (what a
    crash left), when woken after a transaction, and every few seconds."""

    def __init__(
        self,
        app_id: str,
        stores: Sequence[StateStore],
        publish: Callable[[OutboxMessage], Awaitable[None]],
    ) -> None:
        self.app_id = app_id
        self._stores = stores
        self._publish = publish
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._stores:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for store in self._stores:  # a relay the cancel left running publishes on the loop
            await store.drain()

    async def _run(self) -> None:
        publish = _from_thread(self._publish, asyncio.get_running_loop())
        while True:
            self._wake.clear()
            for store in self._stores:
                await self._relay(store, publish)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)

    async def _relay(self, store: StateStore, publish: Callable[[OutboxMessage], None]) -> None:
        try:
            while await store.relay(self.app_id, publish) > 0:
                pass
        except (sqlite3.Error, SidecarError, StorageFull) as error:
            log.warning(
                "outbox messages not published yet: they are tried again",
                extra={"app_id": self.app_id, "e": str(error)},
            )


def _from_thread(
    publish: Callable[[OutboxMessage], Awaitable[None]], loop: asyncio.AbstractEventLoop
) -> Callable[[OutboxMessage], None]:
    """`publish` for the state store's writer thread: it runs on the loop (the pub/sub
    service lives there), the thread waiting for its outcome inside the state transaction."""

    async def on_loop(message: OutboxMessage) -> None:
        await publish(message)

    def call(message: OutboxMessage) -> None:
        asyncio.run_coroutine_threadsafe(on_loop(message), loop).result()

    return call
