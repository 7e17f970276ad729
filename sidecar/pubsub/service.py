"""The sidecar's pub/sub: its components, publishing, and delivery to its app.

One `Broker` per pub/sub component. Publishing wraps the data (see `envelope`) and commits
it before the publish RPC answers. Delivery starts once the app answered
`ListTopicSubscriptions`: its programmatic subscriptions are merged with the declarative
`Subscription` resources scoped to it (a declarative one wins for the same topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

import grpc
from dapr.proto.runtime.v1 import appcallback_pb2

from sidecar.errors import SidecarError, invalid_argument
from sidecar.pubsub.broker import Broker
from sidecar.pubsub.delivery import DEFAULT_RETRY, DeliveryLoop, DeliverySettings, TopicEventCaller
from sidecar.pubsub.envelope import EnvelopeError, wrap
from sidecar.resources.model import Resources, Rule, Subscription

log = logging.getLogger("sidecar.pubsub")


class _Doorbell(asyncio.DatagramProtocol):
    def __init__(self, on_ring: Any) -> None:
        self._on_ring = on_ring

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._on_ring()


def app_subscriptions(
    response: appcallback_pb2.ListTopicSubscriptionsResponse,
) -> list[Subscription]:
    return [
        Subscription(
            name=f"{s.pubsub_name}-{s.topic}",
            pubsub=s.pubsub_name,
            topic=s.topic,
            rules=tuple(Rule(r.match, r.path) for r in s.routes.rules),
            default_route=s.routes.default,
            dead_letter_topic=s.dead_letter_topic,
            metadata=dict(s.metadata),
            source="app (ListTopicSubscriptions)",
        )
        for s in response.subscriptions
    ]


def merge_subscriptions(
    declarative: list[Subscription], programmatic: list[Subscription]
) -> list[Subscription]:
    declared = {(s.pubsub, s.topic) for s in declarative}
    return declarative + [s for s in programmatic if (s.pubsub, s.topic) not in declared]


class PubSubService:
    def __init__(
        self,
        resources: Resources,
        app_id: str,
        owner: str,
        data_dir: Path,
        synchronous: str = "NORMAL",
    ) -> None:
        self.app_id = app_id
        self.owner = owner
        self.resources = resources
        self.brokers: dict[str, Broker] = {}
        for component in resources.components:
            if component.kind == "pubsub":
                self.brokers[component.name] = Broker(
                    component.name, component.database_path(data_dir, "pubsub"), synchronous
                )
        self.loops: dict[str, DeliveryLoop] = {}
        self.subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._bell = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._bell.setblocking(False)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Doorbell(self._wake_all), local_addr=("127.0.0.1", 0)
        )
        self._transport = transport
        port = transport.get_extra_info("sockname")[1]
        for broker in self.brokers.values():
            broker.register_doorbell(self.owner, self.app_id, port)

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
        if not self.brokers:
            raise SidecarError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "ERR_PUBSUB_NOT_CONFIGURED",
                "no pubsub is configured: add a pubsub component to the resources path",
            )
        broker = self.brokers.get(name)
        if broker is None:
            raise invalid_argument(
                f"pubsub {name} is not found (configured: {', '.join(sorted(self.brokers))})",
                "ERR_PUBSUB_NOT_FOUND",
            )
        return broker

    def publish(
        self, pubsub: str, topic: str, data: bytes, content_type: str, metadata: dict[str, str]
    ) -> None:
        self.publish_many(pubsub, topic, [(data, content_type, metadata)])

    def publish_many(
        self,
        pubsub: str,
        topic: str,
        entries: list[tuple[bytes, str, dict[str, str]]],
    ) -> None:
        broker = self.broker(pubsub)
        if not topic:
            raise invalid_argument("topic is empty in pubsub " + pubsub, "ERR_TOPIC_NAME_EMPTY")
        messages: list[tuple[str, bytes]] = []
        for data, content_type, metadata in entries:
            try:
                body, stored_type = wrap(
                    data,
                    content_type,
                    app_id=self.app_id,
                    pubsub=pubsub,
                    topic=topic,
                    metadata=metadata,
                )
            except EnvelopeError as error:
                raise invalid_argument(str(error), "ERR_PUBSUB_CLOUD_EVENTS_SER") from None
            messages.append((stored_type, body))
        self.ring(broker.publish_many(topic, messages))

    def ring(self, ports: list[int]) -> None:
        """Wakes the delivery loops of this and other sidecars that have new messages."""
        self._wake_all()
        for port in set(ports):
            with contextlib.suppress(OSError):
                self._bell.sendto(b"!", ("127.0.0.1", port))

    def _wake_all(self) -> None:
        for loop in self.loops.values():
            loop.wake()

    def start_delivery(
        self, stub: Any, app_token: str | None, programmatic: list[Subscription]
    ) -> None:
        self.subscriptions = merge_subscriptions(self.resources.subscriptions, programmatic)
        for subscription in self.subscriptions:
            if subscription.pubsub not in self.brokers:
                log.warning(
                    "subscription names an unknown pubsub; it receives nothing",
                    extra={"pubsub": subscription.pubsub, "topic": subscription.topic},
                )
        metadata: tuple[tuple[str, str], ...] = (
            (("dapr-api-token", app_token),) if app_token else ()
        )
        caller = TopicEventCaller(stub, metadata)
        for name, broker in self.brokers.items():
            subscriptions = [s for s in self.subscriptions if s.pubsub == name]
            if not subscriptions:
                continue
            settings = DeliverySettings(
                retry=self.resources.inbound_retry(name) or DEFAULT_RETRY,
                timeout_seconds=self.resources.inbound_timeout(name) or 60.0,
            )
            loop = DeliveryLoop(
                broker, self.app_id, self.owner, subscriptions, caller, settings, self.ring
            )
            self.loops[name] = loop
            self._tasks.append(asyncio.create_task(loop.run(), name=f"deliver-{name}"))
            log.info(
                "delivering messages",
                extra={"pubsub": name, "topics": [s.topic for s in subscriptions]},
            )
