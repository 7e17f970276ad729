"""The sidecar's pub/sub: its components, publishing, and delivery to its app.

One `Broker` per pub/sub component. Publishing wraps the data (see `envelope`) and commits
it before the publish RPC answers. Delivery starts once the app answered
`ListTopicSubscriptions`: its programmatic subscriptions are merged with the declarative
`Subscription` resources scoped to it (as in daprd, the app's own subscription wins for the
same pubsub and topic, and the declarative one is skipped with a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path
from typing import Any

from dapr.proto.runtime.v1 import appcallback_pb2

from sidecar.errors import invalid_argument, lookup_component
from sidecar.pubsub.broker import Broker
from sidecar.pubsub.delivery import DEFAULT_RETRY, DeliveryLoop, DeliverySettings, TopicEventCaller
from sidecar.pubsub.envelope import EnvelopeError, wrap
from sidecar.pubsub.routing import Router, RuleError
from sidecar.resources.definitions import Component, Resources, Rule, Subscription
from sidecar.resources.loader import parse_duration

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


def _valid_rules(subscriptions: list[Subscription]) -> list[Subscription]:
    """The app's subscriptions whose routing rules compile; the others are left out with an
    error naming the expression (the declarative ones were checked at start-up)."""
    valid = []
    for subscription in subscriptions:
        try:
            Router.for_subscription(subscription)
        except RuleError as error:
            log.error(
                "subscription refused: it receives nothing",
                extra={"pubsub": subscription.pubsub, "topic": subscription.topic, "e": str(error)},
            )
            continue
        valid.append(subscription)
    return valid


def merge_subscriptions(
    declarative: list[Subscription], programmatic: list[Subscription]
) -> list[Subscription]:
    """The app's subscriptions, then the declarative ones for other topics (daprd's order)."""
    merged = list(programmatic)
    taken = {(s.pubsub, s.topic) for s in programmatic}
    for subscription in declarative:
        if (subscription.pubsub, subscription.topic) in taken:
            log.warning(
                "two identical subscriptions found (sources: declarative, app endpoint); "
                "the app's is used",
                extra={
                    "pubsub": subscription.pubsub,
                    "topic": subscription.topic,
                    "resource": subscription.source,
                },
            )
            continue
        taken.add((subscription.pubsub, subscription.topic))
        merged.append(subscription)
    return merged


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
                    component.name,
                    component.database_path(data_dir, "pubsub"),
                    synchronous,
                    retention_seconds=retention_seconds(component),
                )
        self.loops: dict[str, DeliveryLoop] = {}
        self.subscriptions: list[Subscription] = []
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
        return lookup_component(self.brokers, name, "pubsub", "PUBSUB")

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

    def start_delivery(
        self, stub: Any, app_token: str | None, programmatic: list[Subscription]
    ) -> None:
        subscriptions = merge_subscriptions(
            self.resources.subscriptions, _valid_rules(programmatic)
        )
        for subscription in subscriptions:
            if subscription.pubsub not in self.brokers:
                log.warning(
                    "subscription names an unknown pubsub; it receives nothing",
                    extra={"pubsub": subscription.pubsub, "topic": subscription.topic},
                )
        metadata: tuple[tuple[str, str], ...] = (
            (("dapr-api-token", app_token),) if app_token else ()
        )
        caller = TopicEventCaller(stub, metadata)
        # The consumer groups are registered before the subscriptions show in the metadata
        # API, so a message published once the app counts as subscribed reaches it; a
        # pubsub the app no longer subscribes to stops collecting messages for it.
        for name, broker in self.brokers.items():
            broker.register_consumers(
                self.app_id, [s.topic for s in subscriptions if s.pubsub == name]
            )
        self.subscriptions = subscriptions
        for name, broker in self.brokers.items():
            own = [s for s in subscriptions if s.pubsub == name]
            if not own:
                continue
            settings = DeliverySettings(
                retry=self.resources.inbound_retry(name) or DEFAULT_RETRY,
                timeout_seconds=self.resources.inbound_timeout(name) or 60.0,
            )
            loop = DeliveryLoop(broker, self.app_id, self.owner, own, caller, settings, self.ring)
            self.loops[name] = loop
            self._tasks.append(asyncio.create_task(loop.run(), name=f"deliver-{name}"))
            log.info(
                "delivering messages", extra={"pubsub": name, "topics": [s.topic for s in own]}
            )


def retention_seconds(component: Component) -> float:
    """How long a message no app has subscribed to yet is kept (`retentionPeriod`, 1h)."""
    return parse_duration(
        component.metadata.get("retentionPeriod", "1h"),
        component.source,
        "spec.metadata.retentionPeriod",
    )
