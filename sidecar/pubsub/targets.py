"""Where a message is delivered: the app's callback, or one of its streaming subscriptions.

A subscription's messages go to one target: the app's `OnTopicEvent` (programmatic and
declarative subscriptions) or a `SubscribeTopicEventsAlpha1` stream. Targets of the same
topic share the app id's consumer group, so they compete for its messages, as daprd's
subscriptions of one app on a Redis stream do. Each answers with an `Outcome`; a target
that goes away mid-delivery raises `TargetGone`, and the message is handed to another.

On delivery to the app, daprd sends as gRPC metadata the message's trace context
(`traceparent`, all zeros when it has none) and the metadata it was published with, plus
`pubsubname`, every key lower-cased.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from dapr.proto.runtime.v1 import appcallback_pb2

from sidecar import tracecontext
from sidecar.resources.definitions import Subscription

SUCCESS = appcallback_pb2.TopicEventResponse.SUCCESS
RETRY = appcallback_pb2.TopicEventResponse.RETRY
DROP = appcallback_pb2.TopicEventResponse.DROP

Metadata = tuple[tuple[str, str], ...]
# What daprd leaves out of the metadata it hands on (the CloudEvent carries the data).
_NOT_PASSED = frozenset({"content-type", "content-length"})
_KEY = re.compile(r"[0-9a-z_.-]+")
_NO_TRACE = "00-00000000000000000000000000000000-0000000000000000-00"


@dataclass(frozen=True)
class Outcome:
    """How a target answered: SUCCESS, RETRY or DROP, why, and whether the message is
    dropped without a dead letter (an app with no handler: daprd's UNIMPLEMENTED)."""

    status: int
    reason: str = ""
    unhandled: bool = False


class TargetGone(Exception):
    """The target went away before it answered: the message goes to another one."""


class Target(Protocol):
    subscription: Subscription

    async def deliver(
        self,
        request: appcallback_pb2.TopicEventRequest,
        metadata: Metadata,
        deadline_seconds: float | None,
    ) -> Outcome: ...


class AppTarget:
    """The app's `OnTopicEvent`, at most `maxConcurrentHandlers` calls at once."""

    def __init__(
        self, subscription: Subscription, stub: Any, token: Metadata, concurrency: int
    ) -> None:
        self.subscription = subscription
        self._stub = stub
        self._token = token
        self._limit = asyncio.Semaphore(concurrency)

    async def deliver(
        self,
        request: appcallback_pb2.TopicEventRequest,
        metadata: Metadata,
        deadline_seconds: float | None,
    ) -> Outcome:
        async with self._limit:
            try:
                response = await self._stub.OnTopicEvent(
                    request, timeout=deadline_seconds, metadata=self._token + metadata
                )
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    return Outcome(DROP, "the app has no handler for it (UNIMPLEMENTED)", True)
                return Outcome(RETRY, f"the app call failed: {error.code().name} {error.details()}")
        if response.status == SUCCESS:
            return Outcome(SUCCESS)
        if response.status == DROP:
            return Outcome(DROP, "the app answered DROP")
        return Outcome(RETRY, "the app answered RETRY")


def delivery_metadata(
    attributes: Mapping[str, Any], published: Mapping[str, str], pubsub: str
) -> Metadata:
    """The gRPC metadata daprd sends with a message (see the module docstring); keys and
    values gRPC cannot carry are left out."""
    # daprd reads `traceid` only when the event has no `traceparent` at all.
    trace = attributes.get("traceparent", attributes.get("traceid"))
    traceparent = tracecontext.parse_traceparent(trace) if isinstance(trace, str) else ""
    pairs = [(tracecontext.TRACEPARENT, traceparent or _NO_TRACE)]
    for key, value in {**published, "pubsubname": pubsub}.items():
        key = key.lower()
        if key in _NOT_PASSED or not _KEY.fullmatch(key) or key.startswith("grpc-"):
            continue
        if key.endswith("-bin") or not value.isascii() or not value.isprintable():
            continue
        pairs.append((key, value))
    return tuple(pairs)
