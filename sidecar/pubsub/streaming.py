"""Streaming subscriptions: `SubscribeTopicEventsAlpha1`, as daprd serves it.

The client's first message is the initial request (pubsub, topic, metadata, dead-letter
topic); daprd then subscribes, answers with an initial response and sends each message as
an event message, waiting for the client's `event_processed` with the message id and a
status: SUCCESS, RETRY or DROP, handled as the app's answer to `OnTopicEvent` (retry policy,
dead-letter topic). Every stream is a subscription of its own with the default route `/`;
streams of one app on one topic share its consumer group, so they compete for messages.
When the client ends the stream, its subscription ends; a message it had not answered goes
to another subscriber of the topic, or waits for the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import grpc
from dapr.proto.runtime.v1 import appcallback_pb2, pubsub_pb2

from sidecar.errors import SidecarError, abort
from sidecar.pubsub.targets import DROP, RETRY, SUCCESS, Metadata, Outcome, TargetGone
from sidecar.resources.definitions import Subscription

log = logging.getLogger("sidecar.pubsub")

Request = pubsub_pb2.SubscribeTopicEventsRequestAlpha1
Response = pubsub_pb2.SubscribeTopicEventsResponseAlpha1
_STATUS_NAMES = {SUCCESS: "SUCCESS", RETRY: "RETRY", DROP: "DROP"}


class Streams(Protocol):
    """What a stream needs of the pub/sub service."""

    async def open_stream(self, stream: Stream) -> None: ...

    async def close_stream(self, stream: Stream) -> None: ...


class Stream:
    """One open `SubscribeTopicEventsAlpha1` call, a delivery target."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription
        self.outgoing: asyncio.Queue[Response | None] = asyncio.Queue()
        self._waiting: dict[str, asyncio.Future[int]] = {}
        self.closed = False

    async def deliver(
        self,
        request: appcallback_pb2.TopicEventRequest,
        metadata: Metadata,
        deadline_seconds: float | None,
    ) -> Outcome:
        """Sends the message and waits for the client's answer (daprd sends no per-message
        metadata on a stream)."""
        if self.closed:
            raise TargetGone("the stream is closed")
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = answer
        try:
            await self.outgoing.put(Response(event_message=request))
            status = await asyncio.wait_for(answer, deadline_seconds)
        except TimeoutError:
            return Outcome(RETRY, "the stream's client did not answer in time")
        finally:
            self._waiting.pop(request.id, None)
        if status == SUCCESS:
            return Outcome(SUCCESS)
        if status == DROP:
            return Outcome(DROP, "the stream's client answered DROP")
        return Outcome(RETRY, f"the stream's client answered {_STATUS_NAMES.get(status, status)}")

    def processed(self, processed: pubsub_pb2.SubscribeTopicEventsRequestProcessedAlpha1) -> None:
        answer = self._waiting.get(processed.id)
        if answer is None or answer.done():
            log.error(
                "no message of the stream is waiting for this answer",
                extra={"topic": self.subscription.topic, "message_id": processed.id},
            )
            return
        answer.set_result(processed.status.status)

    def close(self) -> None:
        """Ends the stream: messages it was delivering go to another target."""
        self.closed = True
        for answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(TargetGone("the stream was closed"))
        self.outgoing.put_nowait(None)


async def serve(
    streams: Streams, requests: AsyncIterator[Request], context: Any
) -> AsyncIterator[Response]:
    """The `SubscribeTopicEventsAlpha1` handler: one subscription while the call lasts."""
    first = await anext(requests, None)
    if first is None:
        return
    initial = first.initial_request if first.HasField("initial_request") else None
    for problem, failed in (
        ("initial request is required", initial is None),
        ("pubsubName is required", initial is not None and not initial.pubsub_name),
        ("topic is required", initial is not None and not initial.topic),
    ):
        if failed:
            await context.abort(grpc.StatusCode.UNKNOWN, problem)
    assert initial is not None
    stream = Stream(
        Subscription(
            name=f"___{initial.pubsub_name}||{initial.topic}",
            pubsub=initial.pubsub_name,
            topic=initial.topic,
            default_route="/",
            dead_letter_topic=initial.dead_letter_topic,
            metadata=dict(initial.metadata),
            source="stream (SubscribeTopicEventsAlpha1)",
        )
    )
    try:
        await streams.open_stream(stream)
    except SidecarError as error:
        await abort(context, error)
    reader = asyncio.create_task(_read(stream, requests), name="stream-reader")
    log.info(
        "streaming subscription opened",
        extra={"pubsub": initial.pubsub_name, "topic": initial.topic},
    )
    try:
        yield Response(initial_response=pubsub_pb2.SubscribeTopicEventsResponseInitialAlpha1())
        while (response := await stream.outgoing.get()) is not None:
            yield response
    finally:
        await streams.close_stream(stream)
        stream.close()
        failure = await _stopped(reader)
        log.info(
            "streaming subscription closed",
            extra={"pubsub": initial.pubsub_name, "topic": initial.topic, "e": failure},
        )
    if failure:
        await context.abort(grpc.StatusCode.UNKNOWN, failure)


async def _stopped(reader: asyncio.Task[None]) -> str:
    """Stops the reader; what it failed with, or "" (the client ended the stream)."""
    reader.cancel()
    try:
        await reader
    except asyncio.CancelledError:
        return ""
    except ValueError as error:  # the client broke the protocol
        return str(error)
    except Exception:  # the call itself failed: nobody is left to tell
        log.debug("streaming subscription's call failed", exc_info=True)
    return ""


async def _read(stream: Stream, requests: AsyncIterator[Request]) -> None:
    """The client's answers, until it ends the stream (which closes it)."""
    try:
        async for request in requests:
            if not request.HasField("event_processed"):
                raise ValueError("duplicate initial request received")
            stream.processed(request.event_processed)
    finally:
        stream.close()
