"""Publishing typed events and handling commands idempotently, through the Dapr SDK.

A command handler gets a validated model and answers (reply type, reply model). Invalid
messages are published to the topic's dead-letter topic with the reason and acknowledged,
so they are neither retried forever nor lost. A reply that cannot be published makes the
handler answer RETRY: the redelivered command finds its stored reply (handlers are
idempotent by `commandId`) and publishes it again. A handler that fails (the state store
is unreachable, a conflict outlasted its retries) answers RETRY too.

Each command service subscribes to its topic with one rule per command type and a default
route that dead-letters the event types it does not know (`default_route`, `command_route`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import Rule, SubscriptionMessage

from services.contracts.models import Contract, DeadLetter, InvalidMessage
from services.contracts.names import PUBSUB, EventType, Topic, dead_letter_topic

log = logging.getLogger("services.messaging")

C = TypeVar("C", bound=Contract)


def publish(
    client: DaprClient, topic: Topic | str, event_type: EventType | str, body: Contract
) -> None:
    """Publishes `body` as a CloudEvent of type `event_type` (JSON data)."""
    client.publish_event(
        PUBSUB,
        str(topic),
        body.to_json(),
        data_content_type="application/json",
        publish_metadata={"cloudevent.type": str(event_type)},
    )


def dead_letter(client: DaprClient, app_id: str, event: SubscriptionMessage, reason: str) -> None:
    topic = str(event.topic())
    publish(
        client,
        dead_letter_topic(topic),
        EventType.DEAD_LETTER,
        DeadLetter(
            topic=topic,
            reason=reason,
            event_type=str(event.type()),
            event_id=str(event.id()),
            app_id=app_id,
            data=bytes(event.raw_data()).decode("utf-8", errors="replace"),
        ),
    )
    log.warning(
        "message dead-lettered",
        extra={
            "topic": topic,
            "event_id": event.id(),
            "event_type": event.type(),
            "reason": reason,
        },
    )


def default_route(topic: Topic) -> dict[str, Any]:
    """`App.subscribe` arguments for a topic's default route. Register it before the rules:
    the SDK declares a default route only on a topic's first registration, and only when
    told to skip topic validation."""
    return {
        "pubsub_name": PUBSUB,
        "topic": str(topic),
        "dead_letter_topic": dead_letter_topic(topic),
        "disable_topic_validation": True,
    }


def command_route(topic: Topic, event_type: EventType, priority: int) -> dict[str, Any]:
    """`App.subscribe` arguments routing `event_type` on `topic` to the decorated handler
    (the SDK names the route after the handler function, so handler names must differ)."""
    return {
        "pubsub_name": PUBSUB,
        "topic": str(topic),
        "dead_letter_topic": dead_letter_topic(topic),
        "rule": Rule(f'event.type == "{event_type}"', priority),
    }


class CommandHandling:
    """Turns subscription callbacks into validated, replied, dead-lettered command handling."""

    def __init__(self, client: DaprClient, app_id: str, reply_topic: Topic = Topic.SAGA_REPLIES):
        self.client = client
        self.app_id = app_id
        self.reply_topic = reply_topic

    def handle(
        self,
        event: SubscriptionMessage,
        model: type[C],
        handler: Callable[[C], tuple[EventType, Contract]],
    ) -> TopicEventResponse:
        try:
            command = model.parse(bytes(event.raw_data()))
        except InvalidMessage as error:
            return self.reject(event, error.reason)
        context = {
            "saga_id": getattr(command, "saga_id", None),
            "command_id": getattr(command, "command_id", None),
            "event_id": event.id(),
        }
        try:
            reply_type, reply = handler(command)
        except Exception:  # whatever failed, the command is retried, then dead-lettered
            log.exception("command not handled; it will be redelivered", extra=context)
            return TopicEventResponse("retry")
        try:
            publish(self.client, self.reply_topic, reply_type, reply)
        except Exception:  # the SDK raises several error types; the command is retried
            log.exception("reply not published; the command will be redelivered", extra=context)
            return TopicEventResponse("retry")
        log.info(
            "command handled",
            extra={**context, "command": event.type(), "reply": str(reply_type)},
        )
        return TopicEventResponse("success")

    def reject_unknown(self, event: SubscriptionMessage) -> TopicEventResponse:
        """For a default route: an event type no rule matched is no command of this topic."""
        return self.reject(event, f"unknown event type '{event.type()}' on '{event.topic()}'")

    def reject(self, event: SubscriptionMessage, reason: str) -> TopicEventResponse:
        """Dead-letters an unprocessable message; RETRY if even that cannot be published."""
        try:
            dead_letter(self.client, self.app_id, event, reason)
        except Exception:
            log.exception("dead letter not published; the message will be redelivered")
            return TopicEventResponse("retry")
        return TopicEventResponse("success")
