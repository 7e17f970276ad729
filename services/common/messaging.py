"""Publishing typed events and handling commands idempotently, through the Dapr SDK.

A command handler gets a validated model and answers (reply type, reply model). Invalid
messages are published to the topic's dead-letter topic with the reason and acknowledged,
so they are neither retried forever nor lost. A reply that cannot be published makes the
handler answer RETRY: the redelivered command finds its stored reply (handlers are
idempotent by `commandId`) and publishes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import SubscriptionMessage

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
        reply_type, reply = handler(command)
        try:
            publish(self.client, self.reply_topic, reply_type, reply)
        except Exception:  # the SDK raises several error types; the command is retried
            log.exception(
                "reply not published; the command will be redelivered",
                extra={"saga_id": getattr(command, "saga_id", None), "event_id": event.id()},
            )
            return TopicEventResponse("retry")
        log.info(
            "command handled",
            extra={
                "saga_id": getattr(command, "saga_id", None),
                "command_id": getattr(command, "command_id", None),
                "command": event.type(),
                "reply": str(reply_type),
            },
        )
        return TopicEventResponse("success")

    def reject(self, event: SubscriptionMessage, reason: str) -> TopicEventResponse:
        """Dead-letters an unprocessable message; RETRY if even that cannot be published."""
        try:
            dead_letter(self.client, self.app_id, event, reason)
        except Exception:
            log.exception("dead letter not published; the message will be redelivered")
            return TopicEventResponse("retry")
        return TopicEventResponse("success")
