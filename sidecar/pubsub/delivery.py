"""Delivers one pub/sub component's messages to its targets: the app and its streams.

The loop leases due deliveries of the topics it has targets for, routes each one (rules,
default route) and hands it to a target of its topic, then records the outcome as daprd
does: SUCCESS acknowledges; RETRY, an error or a timeout schedules a redelivery with
backoff when a Resiliency inbound retry policy applies to the component; DROP, no matching
route, an expired message (`ttlInSeconds`), exhausted retries, and a RETRY with no retry
policy (daprd has no built-in inbound retry) send the message to the subscription's
dead-letter topic, or, without one, drop it with a warning naming the reason. A message the
app has no handler for (UNIMPLEMENTED) is dropped, never dead-lettered, as daprd.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from foundation.sqlite import StorageFull
from sidecar.pubsub.broker import Broker, Delivery
from sidecar.pubsub.envelope import expired, routing_view, topic_event_request, unwrap
from sidecar.pubsub.routing import Router
from sidecar.pubsub.targets import DROP, SUCCESS, Target, TargetGone, delivery_metadata
from sidecar.resources.definitions import RetryPolicy, Subscription

log = logging.getLogger("sidecar.pubsub")


@dataclass(frozen=True)
class DeliverySettings:
    """`retry` and `timeout_seconds` from the component's Resiliency inbound policy; None:
    no retry and no call timeout, as daprd without one."""

    retry: RetryPolicy | None = None
    timeout_seconds: float | None = None
    max_concurrency: int = 64
    lease_seconds: float = 90.0
    poll_seconds: float = 0.5


class DeliveryLoop:
    def __init__(
        self,
        broker: Broker,
        app_id: str,
        owner: str,
        settings: DeliverySettings,
        ring: Callable[[list[int]], None],
    ) -> None:
        self.broker = broker
        self.app_id = app_id
        self.owner = owner
        self.settings = settings
        self._ring = ring
        self._targets: dict[str, list[Target]] = {}
        self._routers: dict[int, Router] = {}
        self._turns: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._sleeper: asyncio.Future[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slot_free = asyncio.Event()
        # A full loop claims again once an eighth of its slots are free, not one by one.
        self._refill_at = settings.max_concurrency - max(1, settings.max_concurrency // 8)
        self._acks: list[int] = []
        self._flushes: set[asyncio.Task[None]] = set()
        self.delivered = 0

    def set_targets(self, targets: list[Target]) -> None:
        """Delivers to `targets` from now on (the app's subscriptions and the open
        streams); the targets of one topic take its messages in turn."""
        by_pattern: dict[str, list[Target]] = {}
        routers: dict[int, Router] = {}
        for target in targets:
            by_pattern.setdefault(target.subscription.topic, []).append(target)
            key = id(target.subscription)
            routers[key] = self._routers.get(key) or Router.for_subscription(target.subscription)
        self._targets, self._routers = by_pattern, routers
        self.wake()

    def _target(self, pattern: str) -> Target | None:
        targets = self._targets.get(pattern)
        if not targets:
            return None
        turn = self._turns.get(pattern, 0)
        self._turns[pattern] = turn + 1
        return targets[turn % len(targets)]

    def wake(self) -> None:
        self._wake.set()
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(None)

    async def run(self) -> None:
        broker = self.broker
        await broker.run(partial(broker.release_owner, self.owner))
        try:
            while True:
                self._wake.clear()
                room = self.settings.max_concurrency - len(self._in_flight)
                claimed = await self._claim(room)
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
            await self._flush_acks()

    async def _claim(self, room: int) -> list[Delivery]:
        """Leases up to `room` due deliveries; none when the store cannot write now (a full
        disk, a lock held past the timeout): the next poll tries again."""
        broker = self.broker
        try:
            return await broker.run(
                partial(
                    broker.claim,
                    self.app_id,
                    self.owner,
                    room,
                    self.settings.lease_seconds,
                    self._targets,
                )
            )
        except (sqlite3.Error, StorageFull) as error:
            log.warning(
                "claiming messages failed; trying again at the next poll",
                extra={"app_id": self.app_id, "pubsub": broker.pubsub, "e": str(error)},
            )
            return []

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
        due = await self.broker.run(partial(self.broker.next_due, self.app_id))
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
        target = self._target(delivery.topic_pattern)
        if target is None:  # its last target went away since the claim
            await self.broker.run(partial(self.broker.release, delivery.delivery_id))
            return
        subscription = target.subscription
        router = self._routers[id(subscription)]
        pubsub = self.broker.pubsub
        attributes, payload = unwrap(
            delivery.body, delivery.content_type, pubsub=pubsub, topic=delivery.topic
        )
        context = {
            "app_id": self.app_id,
            "pubsub": pubsub,
            "topic": delivery.topic,
            "message_id": attributes.get("id"),
        }
        if expired(attributes):
            await self._give_up(
                delivery, subscription, "the message expired (ttlInSeconds)", context
            )
            return
        # Without rules the route is the default one: no need to parse the data for CEL.
        path = router.route(routing_view(attributes, payload)) if router.rules else router.default
        if path is None:
            await self._give_up(delivery, subscription, "no routing rule matched", context)
            return
        request = topic_event_request(
            attributes, payload, path, topic=delivery.topic, pubsub=pubsub
        )
        metadata = delivery_metadata(attributes, delivery.metadata, pubsub)
        try:
            outcome = await target.deliver(request, metadata, self.settings.timeout_seconds)
        except TargetGone:
            await self.broker.run(partial(self.broker.release, delivery.delivery_id))
            self.wake()
            return
        if outcome.unhandled:
            await self._drop(delivery, outcome.reason, context)
        elif outcome.status == SUCCESS:
            self._acknowledge_soon(delivery.delivery_id)
            self.delivered += 1
        elif outcome.status == DROP:
            await self._give_up(delivery, subscription, outcome.reason, context)
        else:
            await self._retry(delivery, subscription, outcome.reason, context)

    async def _retry(
        self,
        delivery: Delivery,
        subscription: Subscription,
        reason: str,
        context: dict[str, object],
    ) -> None:
        """Redelivers as the retry policy says; gives up without one, or when it is spent."""
        attempts = delivery.attempts + 1
        retry = self.settings.retry
        if retry is None:
            await self._give_up(
                delivery, subscription, f"{reason}, and no retry policy applies", context
            )
            return
        if retry.gives_up_after(attempts):
            await self._give_up(
                delivery, subscription, f"retries exhausted after {attempts}: {reason}", context
            )
            return
        delay = retry.delay(attempts)
        log.info(
            "message will be redelivered",
            extra={**context, "attempt": attempts, "delay_s": delay, "reason": reason},
        )
        await self.broker.run(partial(self.broker.retry_later, delivery.delivery_id, delay))
        self.wake()  # the loop may be asleep until its next poll: due sooner now

    def _acknowledge_soon(self, delivery_id: int) -> None:
        """Acknowledges at the end of this loop turn, in one transaction with the other
        deliveries answered meanwhile. A crash before that commit redelivers them, which
        at-least-once allows."""
        self._acks.append(delivery_id)
        if len(self._acks) == 1:
            flush = asyncio.get_running_loop().create_task(self._flush_acks())
            self._flushes.add(flush)
            flush.add_done_callback(self._flushes.discard)

    async def _flush_acks(self) -> None:
        acks, self._acks = self._acks, []
        if not acks:
            return
        try:
            await self.broker.run(partial(self.broker.acknowledge, acks))
        except (sqlite3.Error, StorageFull):
            log.exception(
                "acknowledging delivered messages failed: they will be delivered again",
                extra={"app_id": self.app_id, "pubsub": self.broker.pubsub, "count": len(acks)},
            )

    async def _give_up(
        self,
        delivery: Delivery,
        subscription: Subscription,
        reason: str,
        context: dict[str, object],
    ) -> None:
        dead_letter_topic = subscription.dead_letter_topic
        if dead_letter_topic:
            broker = self.broker
            ports = await broker.run(
                partial(
                    broker.dead_letter,
                    delivery.delivery_id,
                    subscription.dead_letter_topic,
                    delivery.message,
                )
            )
            consumed = await broker.run(partial(broker.has_consumers, dead_letter_topic))
            log.warning(
                "message sent to the dead-letter topic"
                if consumed
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
        await self._drop(
            delivery, reason, context, "message dropped: the subscription has no dead-letter topic"
        )

    async def _drop(
        self,
        delivery: Delivery,
        reason: str,
        context: dict[str, object],
        message: str = "message dropped",
    ) -> None:
        await self.broker.run(partial(self.broker.acknowledge, [delivery.delivery_id]))
        log.warning(message, extra={**context, "reason": reason})


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
