"""Streaming subscriptions (`SubscribeTopicEventsAlpha1`) through the Python SDK's
`DaprClient.subscribe_with_handler`, with no app port: daprd answers the initial request,
sends each message as an event message and treats the client's SUCCESS, RETRY or DROP as an
app's answer; streams of one app on one topic share its consumer group; a closed stream
receives nothing more, and what is published meanwhile waits for the next one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.common.pubsub.subscription import SubscriptionMessage

from services.contracts.names import PUBSUB
from testkit.polling import wait_until
from tests.fidelity.runtimes import WAIT, AppRuntime, Resources, Sdk, StartApp, metadata_of


class Handler:
    """Records the messages of a stream and answers as `answer` says."""

    def __init__(self, answer: Callable[[Any], str] = lambda data: "success") -> None:
        self.messages: list[SubscriptionMessage] = []
        self._answer = answer
        self._lock = threading.Lock()

    def __call__(self, message: SubscriptionMessage) -> TopicEventResponse:
        with self._lock:
            self.messages.append(message)
        return TopicEventResponse(self._answer(message.data()))

    def data(self) -> list[Any]:
        with self._lock:
            return [message.data() for message in self.messages]

    def wait(self, count: int) -> list[Any]:
        return wait_until(
            lambda: data if len(data := self.data()) >= count else None,
            WAIT,
            what=f"{count} message(s) on the stream",
        )


@pytest.fixture
def reader(start_app: StartApp) -> AppRuntime:
    """An app without an app port: streams are its only subscriptions. No Resiliency, so
    an answer other than SUCCESS gives the message up at once."""
    return start_app("stream-reader", resources=Resources(resiliency=False))


@pytest.fixture
def subscribe(reader: AppRuntime, sdk: Sdk) -> Iterator[Callable[..., Callable[[], None]]]:
    """`subscribe(topic, handler, dead_letter_topic=...)`: a stream of the reader, closed
    after the test; returns its close function."""
    client = sdk.dapr(reader)
    closers: list[Callable[[], None]] = []

    def open_stream(topic: str, handler: Handler, dead_letter_topic: str | None = None) -> Any:
        close = client.subscribe_with_handler(
            PUBSUB, topic, handler, dead_letter_topic=dead_letter_topic
        )
        closers.append(close)
        return close

    yield open_stream
    for close in closers:
        close()


def publish(client: DaprClient, topic: str, *numbers: int) -> None:
    for n in numbers:
        client.publish_event(
            PUBSUB, topic, json.dumps({"n": n}), data_content_type="application/json"
        )


def streams_of(app: AppRuntime, topic: str) -> int:
    subscriptions = metadata_of(app).get("subscriptions", [])
    return sum(1 for s in subscriptions if s["topic"] == topic and s.get("type") == "STREAMING")


def test_a_stream_receives_what_is_published_and_shows_in_the_metadata(
    reader: AppRuntime, subscribe: Callable[..., Any], sdk: Sdk
) -> None:
    handler = Handler()
    subscribe("orders", handler)
    wait_until(lambda: streams_of(reader, "orders") == 1, WAIT, what="the stream in the metadata")

    publish(sdk.dapr(reader), "orders", 1, 2, 3)

    assert sorted(d["n"] for d in handler.wait(3)) == [1, 2, 3]
    first = handler.messages[0]
    assert (first.topic(), first.pubsub_name(), first.source()) == (
        "orders",
        PUBSUB,
        "stream-reader",
    )
    assert first.type() == "com.dapr.event.sent"
    assert first.extensions()["topic"] == "orders"
    assert len({m.id() for m in handler.messages}) == 3


def test_retry_and_drop_answers_send_the_message_to_the_streams_dead_letter_topic(
    reader: AppRuntime, subscribe: Callable[..., Any], sdk: Sdk
) -> None:
    answers = {1: "retry", 2: "drop", 3: "success"}
    jobs = Handler(lambda data: answers[data["n"]])
    dead = Handler()
    subscribe("jobs", jobs, dead_letter_topic="jobs-dead")
    subscribe("jobs-dead", dead)
    wait_until(lambda: streams_of(reader, "jobs-dead") == 1, WAIT, what="both streams")

    publish(sdk.dapr(reader), "jobs", 1, 2, 3)

    assert sorted(d["n"] for d in dead.wait(2)) == [1, 2]
    assert sorted(d["n"] for d in jobs.wait(3)) == [1, 2, 3]
    assert {m.topic() for m in dead.messages} == {"jobs-dead"}


def test_streams_of_one_app_on_one_topic_share_its_messages(
    reader: AppRuntime, subscribe: Callable[..., Any], sdk: Sdk
) -> None:
    first, second = Handler(), Handler()
    subscribe("shared", first)
    subscribe("shared", second)
    wait_until(lambda: streams_of(reader, "shared") == 2, WAIT, what="two streams")

    publish(sdk.dapr(reader), "shared", *range(10))

    wait_until(lambda: len(first.data()) + len(second.data()) >= 10, WAIT, what="10 messages")
    received = [d["n"] for d in first.data() + second.data()]
    assert sorted(received) == list(range(10))  # each message once, to one stream


def test_what_is_published_before_a_stream_subscribes_waits_for_it(
    reader: AppRuntime, subscribe: Callable[..., Any], sdk: Sdk
) -> None:
    publish(sdk.dapr(reader), "backlog", 1, 2)
    handler = Handler()

    subscribe("backlog", handler)

    assert sorted(d["n"] for d in handler.wait(2)) == [1, 2]


@pytest.mark.differs_on_daprd(
    "pubsub.redis: the closing stream's consumer still reads the next message, which then "
    "waits for the component's processingTimeout (60 s) before the new stream gets it"
)
def test_a_closed_stream_gets_nothing_more(
    reader: AppRuntime, subscribe: Callable[..., Any], sdk: Sdk
) -> None:
    client = sdk.dapr(reader)
    before, after = Handler(), Handler()
    close = subscribe("events", before)
    wait_until(lambda: streams_of(reader, "events") == 1, WAIT, what="the stream")
    publish(client, "events", 1)
    before.wait(1)
    close()
    wait_until(lambda: streams_of(reader, "events") == 0, WAIT, what="the stream to close")

    subscribe("events", after)
    wait_until(lambda: streams_of(reader, "events") == 1, WAIT, what="the new stream")
    publish(client, "events", 2)

    # The new stream may get message 1 again (its answer can be lost as the stream closes:
    # at least once); message 2 goes to it, never to the closed one.
    wait_until(lambda: 2 in [d["n"] for d in after.data()], WAIT, what="message 2")
    assert [d["n"] for d in before.data()] == [1]


def test_a_stream_on_an_unknown_pubsub_is_refused(reader: AppRuntime, sdk: Sdk) -> None:
    with pytest.raises(Exception, match="is not found"):
        sdk.dapr(reader).subscribe("no-such-pubsub", "orders")
