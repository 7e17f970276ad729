"""The sidecar's pub/sub: its components, publishing, and delivery to its app.

One `Broker` per pub/sub component. Publishing wraps the data (see `envelope`) and commits
it before the publish RPC answers. One `DeliveryLoop` per component delivers to the
targets of its topics: the app's subscriptions once it answered `ListTopicSubscriptions`
(`subscriptions`), and the streaming subscriptions open at the moment (`streaming`). The
app id's consumer group of a topic is registered while any of them subscribes to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sidecar.errors import invalid_argument, lookup_component
from sidecar.pubsub.broker import Broker, Message
from sidecar.pubsub.delivery import DeliveryLoop, DeliverySettings
from sidecar.pubsub.envelope import CLOUDEVENT_CONTENT_TYPE, EnvelopeError, wrap
from sidecar.pubsub.streaming import Stream
from sidecar.pubsub.subscriptions import (
    app_subscriptions,
    merge_subscriptions,
    valid_rules,
)
from sidecar.pubsub.targets import AppTarget, Target
from sidecar.resources.definitions import Component, Resources, Subscription
from sidecar.resources.loader import parse_duration

__all__ = ["Entry", "PubSubService", "app_subscriptions"]

log = logging.getLogger("sidecar.pubsub")


class _Doorbell(asyncio.DatagramProtocol):
    def __init__(self, on_ring: Any) -> None:
        self._on_ring = on_ring

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._on_ring()


@dataclass(frozen=True)
class Entry:
    """One message as an app publishes it."""

    data: bytes
    content_type: str
    metadata: dict[str, str]


class PubSubService:
    def __init__(
        self,
        resources: Resources,
        app_id: str,
        owner: str,
        data_dir: Path,
        synchronous: str = "NORMAL",
        max_bytes: int | None = None,
    ) -> None:
        self.app_id = app_id
        self.owner = owner
        self.resources = resources
        self.brokers: dict[str, Broker] = {}
        for component in resources.components:
            if component.kind == "pubsub":
                self.brokers[component.name] = Broker(
                    component.name,
                    component.database_path(data_dir, "pubsub"),
                    synchronous,
                    retention_seconds=retention_seconds(component),
                    max_bytes=max_bytes,
                )
        self.loops: dict[str, DeliveryLoop] = {}
        self.app_subscriptions: list[Subscription] = []
        self._app_targets: list[AppTarget] = []
        self.streams: list[Stream] = []
        # Topics streams subscribed to since start: their consumer groups stay registered
        # after the stream closes, so messages wait for its next connection (Redis keeps a
        # consumer group the same way).
        self._stream_topics: set[tuple[str, str]] = set()
        self._app_connected = False
        self._tasks: list[asyncio.Task[None]] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._own_port: int | None = None
        self._bell = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._bell.setblocking(False)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Doorbell(self._wake_all), local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        port = self._own_port = transport.get_extra_info("sockname")[1]
        for broker in self.brokers.values():
            await broker.run(partial(broker.register_doorbell, self.owner, self.app_id, port))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._transport is not None:
            self._transport.close()
        self._bell.close()
        for broker in self.brokers.values():
            broker.close()

    def broker(self, name: str) -> Broker:
        return lookup_component(self.brokers, name, "pubsub", "PUBSUB")

    def target(self, pubsub: str, topic: str) -> Broker:
        """The broker a publish to `pubsub` and `topic` goes to; daprd's errors otherwise."""
        broker = self.broker(pubsub)
        if not topic:
            raise invalid_argument("topic is empty in pubsub " + pubsub, "ERR_TOPIC_NAME_EMPTY")
        return broker

    async def publish(
        self,
        pubsub: str,
        topic: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str],
        traceparent: str = "",
    ) -> None:
        await self.publish_many(pubsub, topic, [Entry(data, content_type, metadata)], traceparent)

    async def publish_many(
        self, pubsub: str, topic: str, entries: list[Entry], traceparent: str = ""
    ) -> None:
        """Stores every entry or none; `traceparent` is the publish call's trace context."""
        broker = self.target(pubsub, topic)
        messages: list[Message] = []
        for entry in entries:
            try:
                body, stored_type = wrap(
                    entry.data,
                    entry.content_type,
                    app_id=self.app_id,
                    pubsub=pubsub,
                    topic=topic,
                    metadata=entry.metadata,
                    traceparent=traceparent,
                )
            except EnvelopeError as error:
                raise invalid_argument(str(error), "ERR_PUBSUB_CLOUD_EVENTS_SER") from None
            messages.append(Message(stored_type, body, dict(entry.metadata)))
        self.ring(await broker.run(partial(broker.publish_many, topic, messages)))

    async def publish_cloudevent(self, pubsub: str, topic: str, event: bytes) -> None:
        """Stores a CloudEvent (JSON) as it is: the transactional outbox's messages."""
        broker = self.target(pubsub, topic)
        message = Message(CLOUDEVENT_CONTENT_TYPE, event)
        self.ring(await broker.run(partial(broker.publish, topic, message)))

    def ring(self, ports: list[int]) -> None:
        """Wakes the delivery loops of the sidecars that have new messages: this one
        directly (not through its own doorbell), the others through theirs."""
        others = set(ports)
        if self._own_port is None or self._own_port in others:
            self._wake_all()
        others.discard(self._own_port)
        for port in others:
            with contextlib.suppress(OSError):
                self._bell.sendto(b"!", ("127.0.0.1", port))

    def _wake_all(self) -> None:
        for loop in self.loops.values():
            loop.wake()

    @property
    def subscriptions(self) -> list[Subscription]:
        """What the sidecar delivers: the app's subscriptions, then the open streams'."""
        return self.app_subscriptions + [stream.subscription for stream in self.streams]

    async def start_delivery(
        self, stub: Any, app_token: str | None, programmatic: list[Subscription]
    ) -> None:
        """Delivers to the app (`stub.OnTopicEvent`) for its subscriptions and the
        declarative ones."""
        subscriptions = merge_subscriptions(self.resources.subscriptions, valid_rules(programmatic))
        for subscription in subscriptions:
            where = {"pubsub": subscription.pubsub, "topic": subscription.topic}
            if subscription.pubsub not in self.brokers:
                log.warning(
                    "subscription names an unknown pubsub; it receives nothing", extra=where
                )
            if subscription.metadata.get("rawPayload", "").lower() == "true":
                log.warning(
                    "rawPayload subscriptions are not supported: the app receives CloudEvents",
                    extra=where,
                )
        token: tuple[tuple[str, str], ...] = (("dapr-api-token", app_token),) if app_token else ()
        self._app_targets = [AppTarget(s, stub, token, _concurrency(s)) for s in subscriptions]
        # The consumer groups are registered before the subscriptions show in the metadata
        # API, so a message published once the app counts as subscribed reaches it; a
        # pubsub the app no longer subscribes to stops collecting messages for it.
        self._app_connected = True
        for name in self.brokers:
            await self._refresh(name)
            own = [s.topic for s in subscriptions if s.pubsub == name]
            if own:
                log.info("delivering messages", extra={"pubsub": name, "topics": own})
        self.app_subscriptions = subscriptions

    async def open_stream(self, stream: Stream) -> None:
        """Starts delivering to a streaming subscription (daprd's errors for an unknown
        pubsub)."""
        pubsub = stream.subscription.pubsub
        self.broker(pubsub)
        self.streams.append(stream)
        self._stream_topics.add((pubsub, stream.subscription.topic))
        await self._refresh(pubsub)

    async def close_stream(self, stream: Stream) -> None:
        if stream in self.streams:
            self.streams.remove(stream)
            await self._refresh(stream.subscription.pubsub)

    async def _refresh(self, pubsub: str) -> None:
        """Registers the app id's topics of `pubsub` and hands its loop the targets."""
        broker = self.brokers.get(pubsub)
        if broker is None:
            return
        topics = {t.subscription.topic for t in self._targets(pubsub)}
        topics |= {topic for name, topic in self._stream_topics if name == pubsub}
        # Until the app told its subscriptions, those it had stay registered. The broker's
        # thread registers in call order, so the last refresh's topics stand.
        await broker.run(
            partial(broker.register_consumers, self.app_id, topics, exactly=self._app_connected)
        )
        targets = self._targets(pubsub)  # as they are now: another refresh may have run
        loop = self.loops.get(pubsub)
        if loop is None:
            if not targets:
                return
            policy = self.resources.inbound_policy(pubsub)
            settings = DeliverySettings(retry=policy.retry, timeout_seconds=policy.timeout_seconds)
            loop = self.loops[pubsub] = DeliveryLoop(
                broker, self.app_id, self.owner, settings, self.ring
            )
            self._tasks.append(asyncio.create_task(loop.run(), name=f"deliver-{pubsub}"))
        loop.set_targets(targets)

    def _targets(self, pubsub: str) -> list[Target]:
        targets: list[Target] = [t for t in self._app_targets if t.subscription.pubsub == pubsub]
        return targets + [s for s in self.streams if s.subscription.pubsub == pubsub]


def _concurrency(subscription: Subscription, default: int = 64) -> int:
    """A subscription's `maxConcurrentHandlers`, else the loop's own limit."""
    value = subscription.metadata.get("maxConcurrentHandlers")
    return int(value) if value and value.isdigit() and int(value) > 0 else default


def retention_seconds(component: Component) -> float:
    """How long a message no app has subscribed to yet is kept (`retentionPeriod`, 1h)."""
    return parse_duration(
        component.metadata.get("retentionPeriod", "1h"),
        component.source,
        "spec.metadata.retentionPeriod",
    )
