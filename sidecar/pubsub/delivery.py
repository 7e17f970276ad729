"""Delivers one pub/sub component's messages to the app through `AppCallback.OnTopicEvent`.

The loop leases due deliveries from the broker, routes each one (rules, default route),
calls the app, and records the outcome: SUCCESS acknowledges; RETRY, an error or a timeout
schedules a redelivery with backoff (the Resiliency inbound retry policy of the component,
or `DEFAULT_RETRY`); DROP, no matching route, or exhausted retries send the message to the
subscription's dead-letter topic, or, without one, drop it with a warning naming the reason.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from dapr.proto.runtime.v1 import appcallback_pb2

from sidecar.pubsub.broker import Broker, Delivery
from sidecar.pubsub.envelope import routing_view, topic_event_request, unwrap
from sidecar.pubsub.routing import Router
from sidecar.resources.definitions import RetryPolicy, Subscription

log = logging.getLogger("sidecar.pubsub")

DEFAULT_RETRY = RetryPolicy(
    policy="exponential", duration_seconds=0.25, max_interval_seconds=10.0, max_retries=8
)
SUCCESS = appcallback_pb2.TopicEventResponse.SUCCESS
RETRY = appcallback_pb2.TopicEventResponse.RETRY
DROP = appcallback_pb2.TopicEventResponse.DROP


@dataclass(frozen=True)
class DeliverySettings:
    retry: RetryPolicy = DEFAULT_RETRY
    timeout_seconds: float = 60.0
    max_concurrency: int = 64
    lease_seconds: float = 90.0
    poll_seconds: float = 0.5


class TopicEventCaller:
    """What the loop needs of the app: one `OnTopicEvent` call."""

    def __init__(self, stub: object, metadata: tuple[tuple[str, str], ...]) -> None:
        self._stub = stub
        self._metadata = metadata

    async def __call__(
        self, request: appcallback_pb2.TopicEventRequest, deadline_seconds: float
    ) -> appcallback_pb2.TopicEventResponse:
        response: appcallback_pb2.TopicEventResponse = await self._stub.OnTopicEvent(  # type: ignore[attr-defined]
            request, timeout=deadline_seconds, metadata=self._metadata
        )
        return response


class DeliveryLoop:
    def __init__(
        self,
        broker: Broker,
        app_id: str,
        owner: str,
        subscriptions: list[Subscription],
        call_app: TopicEventCaller,
        settings: DeliverySettings,
        ring: Callable[[list[int]], None],
    ) -> None:
        self.broker = broker
        self.app_id = app_id
        self.owner = owner
        self.settings = settings
        self._call_app = call_app
        self._ring = ring
        self._subscriptions = {s.topic: s for s in subscriptions}
        self._routers = {s.topic: Router.for_subscription(s) for s in subscriptions}
        self._limits = {
            s.topic: asyncio.Semaphore(_concurrency(s, settings)) for s in subscriptions
        }
        self._wake = asyncio.Event()
        self._sleeper: asyncio.Future[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        # A full loop claims again once an eighth of its slots are free, not one by one.
        self._refill_at = settings.max_concurrency - max(1, settings.max_concurrency // 8)
        self._acks: list[int] = []
        self.delivered = 0

    def wake(self) -> None:
        self._wake.set()
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(None)

    async def run(self) -> None:
        self.broker.register_consumers(self.app_id, self._subscriptions)
        self.broker.release_owner(self.owner)
        try:
            while True:
                self._wake.clear()
                room = self.settings.max_concurrency - len(self._in_flight)
                claimed = self.broker.claim(
                    self.app_id, self.owner, room, self.settings.lease_seconds
                )
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._in_flight.add(task)
                    task.add_done_callback(self._finished)
                if len(claimed) == room:
                    self._slot_free.clear()
                    await self._slot_free.wait()
                    continue
                await self._sleep_until_due()
        finally:
            for task in list(self._in_flight):
                task.cancel()
            self._flush_acks()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if len(self._in_flight) <= self._refill_at:
            self._slot_free.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _sleep_until_due(self) -> None:
        """Waits for a doorbell, a local publish, or the next retry falling due.

        A plain future and one timer rather than `wait_for` on the event, which costs a
        task and several loop turns per wake-up: this runs after most deliveries.
        """
        if self._wake.is_set():
            return
        due = self.broker.next_due(self.app_id)
        timeout = self.settings.poll_seconds
        if due is not None:
            timeout = min(timeout, max(0.0, due - time.time()))
        loop = asyncio.get_running_loop()
        self._sleeper = sleeper = loop.create_future()
        timer = loop.call_later(timeout, _resolve, sleeper)
        try:
            await sleeper
        finally:
            timer.cancel()
            self._sleeper = None

    async def _deliver(self, delivery: Delivery) -> None:
        subscription = self._subscriptions.get(delivery.topic_pattern)
        if subscription is None:
            self.broker.retry_later(delivery.delivery_id, self.settings.lease_seconds)
            return
        attributes, payload = unwrap(
            delivery.body, delivery.content_type, pubsub=self.broker.pubsub, topic=delivery.topic
        )
        context = {
            "app_id": self.app_id,
            "pubsub": self.broker.pubsub,
            "topic": delivery.topic,
            "message_id": attributes.get("id"),
        }
        router = self._routers[delivery.topic_pattern]
        # Without rules the route is the default one: no need to parse the data for CEL.
        path = router.route(routing_view(attributes, payload)) if router.rules else router.default
        if path is None:
            self._give_up(delivery, subscription, "no routing rule matched", context)
            return
        request = topic_event_request(
            attributes, payload, path, topic=delivery.topic, pubsub=self.broker.pubsub
        )
        async with self._limits[delivery.topic_pattern]:
            try:
                response = await self._call_app(request, self.settings.timeout_seconds)
                status = response.status
                reason = "the app answered RETRY"
            except grpc.aio.AioRpcError as error:
                status = RETRY
                reason = f"the app call failed: {error.code().name} {error.details()}"
        if status == SUCCESS:
            self._acknowledge_soon(delivery.delivery_id)
            self.delivered += 1
        elif status == DROP:
            self._give_up(delivery, subscription, "the app answered DROP", context)
        else:
            attempts = delivery.attempts + 1
            if self.settings.retry.gives_up_after(attempts):
                self._give_up(
                    delivery, subscription, f"retries exhausted after {attempts}: {reason}", context
                )
                return
            delay = self.settings.retry.delay(attempts)
            log.info(
                "message will be redelivered",
                extra={**context, "attempt": attempts, "delay_s": delay, "reason": reason},
            )
            self.broker.retry_later(delivery.delivery_id, delay)
            self.wake()  # the loop may be asleep until its next poll: due sooner now

    def _acknowledge_soon(self, delivery_id: int) -> None:
        """Acknowledges at the end of this loop turn, in one transaction with the other
        deliveries answered meanwhile. A crash before that commit redelivers them, which
        at-least-once allows."""
        self._acks.append(delivery_id)
        if len(self._acks) == 1:
            asyncio.get_running_loop().call_soon(self._flush_acks)

    def _flush_acks(self) -> None:
        acks, self._acks = self._acks, []
        if not acks:
            return
        try:
            self.broker.acknowledge(acks)
        except sqlite3.Error:
            log.exception(
                "acknowledging delivered messages failed: they will be delivered again",
                extra={"app_id": self.app_id, "pubsub": self.broker.pubsub, "count": len(acks)},
            )

    def _give_up(
        self,
        delivery: Delivery,
        subscription: Subscription,
        reason: str,
        context: dict[str, object],
    ) -> None:
        dead_letter_topic = subscription.dead_letter_topic
        if dead_letter_topic:
            ports = self.broker.dead_letter(
                delivery.delivery_id,
                subscription.dead_letter_topic,
                delivery.content_type,
                delivery.body,
            )
            log.warning(
                "message sent to the dead-letter topic"
                if self.broker.has_consumers(dead_letter_topic)
                else "message sent to the dead-letter topic, which no app subscribes to yet: "
                "it is kept for the retention period",
                extra={
                    **context,
                    "dead_letter_topic": subscription.dead_letter_topic,
                    "reason": reason,
                },
            )
            self._ring(ports)
            return
        self.broker.acknowledge([delivery.delivery_id])
        log.warning(
            "message dropped: the subscription has no dead-letter topic",
            extra={**context, "reason": reason},
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _concurrency(subscription: Subscription, settings: DeliverySettings) -> int:
    value = subscription.metadata.get("maxConcurrentHandlers")
    return int(value) if value and value.isdigit() and int(value) > 0 else settings.max_concurrency
