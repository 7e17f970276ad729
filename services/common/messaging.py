"""Publishing typed events and handling commands idempotently, through the Dapr SDK.

A command handler gets a validated model and answers (reply type, reply model). Invalid
messages are published to the topic's dead-letter topic with the reason and acknowledged,
so they are neither retried forever nor lost. A reply that cannot be published makes the
handler answer RETRY: the redelivered command finds its stored reply (handlers are
idempotent by `commandId`) and publishes it again. A handler that fails (the state store
is unreachable, a conflict outlasted its retries) answers RETRY too.

Every app subscribes as the topology says (`subscribe`): a command service with one rule
per command type and a default route that dead-letters the event types it does not know
(`command_app`), the orchestrator with one handler per topic. Each delivery is handled
inside a span that continues the CloudEvent's trace, and each publish inside a span whose
context the sidecar writes into the CloudEvent (`services.common.spans`), so a command's
reply travels in the command's trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, Rule, SubscriptionMessage

from foundation.logs import log_context
from services.common.cards import redact_card_numbers
from services.common.metrics import DeadLetterReason, count_dead_letter, declare_dead_letters
from services.common.spans import consuming, publishing, tag_saga
from services.contracts.messages import Contract, DeadLetter, InvalidMessage
from services.contracts.names import PUBSUB, AppId, EventType, Topic, dead_letter_topic
from services.contracts.topology import COMMANDS, SUBSCRIPTIONS

log = logging.getLogger("services.messaging")

C = TypeVar("C", bound=Contract)

TopicHandler = Callable[[SubscriptionMessage], TopicEventResponse]
# A command service's decision on one command (parsed as its `COMMANDS` model): the reply
# type and the reply.
Decide = Callable[[Any], tuple[EventType, Contract]]


def publish(
    client: DaprClient, topic: Topic | str, event_type: EventType | str, body: Contract
) -> None:
    """Publishes `body` as a CloudEvent of type `event_type` (JSON data), in the trace of
    the current span."""
    with publishing(str(topic), str(event_type)):
        client.publish_event(
            PUBSUB,
            str(topic),
            body.to_json(),
            data_content_type="application/json",
            publish_metadata={"cloudevent.type": str(event_type)},
        )


def dead_letter(
    client: DaprClient,
    app_id: str,
    event: SubscriptionMessage,
    reason: str,
    kind: DeadLetterReason = DeadLetterReason.INVALID_MESSAGE,
) -> None:
    """Publishes the dead letter, then counts it (`saga_dead_letters_total`): a message
    whose dead letter could not be published is retried, not lost, so not counted. A card
    number in the message or the reason is masked: a dead letter is kept and read by
    people (services/common/cards.py)."""
    topic = str(event.topic())
    reason = redact_card_numbers(reason)
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
            data=redact_card_numbers(bytes(event.raw_data()).decode("utf-8", errors="replace")),
        ),
    )
    count_dead_letter(app_id, topic, str(event.id()), kind)
    log.warning(
        "message dead-lettered",
        extra={
            "topic": topic,
            "event_id": event.id(),
            "event_type": event.type(),
            "reason": reason,
        },
    )


def subscribe(app: App, app_id: AppId, handlers: Mapping[str, TopicHandler]) -> None:
    """Registers the app's subscriptions from the topology, each route on the handler of
    its name; `handlers` must name exactly the topology's handlers of the app."""
    subscriptions = SUBSCRIPTIONS[app_id]
    wanted = {name for subscription in subscriptions for name in subscription.handlers}
    if set(handlers) != wanted:
        raise ValueError(f"{app_id} handlers {sorted(handlers)} are not {sorted(wanted)}")
    declare_dead_letters(app_id)
    for subscription in subscriptions:
        topic, dead_letters = str(subscription.topic), subscription.dead_letter_topic
        default = _named(subscription.handler, handlers[subscription.handler])
        if not subscription.routes:
            app.subscribe(PUBSUB, topic, dead_letter_topic=dead_letters)(default)
            continue
        # First: the SDK declares a default route only on a topic's first registration,
        # and only when told to skip topic validation.
        app.subscribe(PUBSUB, topic, dead_letter_topic=dead_letters, disable_topic_validation=True)(
            default
        )
        for priority, route in enumerate(subscription.routes, start=1):
            rule = Rule(f'event.type == "{route.event_type}"', priority)
            handler = _named(route.handler, handlers[route.handler])
            app.subscribe(PUBSUB, topic, dead_letter_topic=dead_letters, rule=rule)(handler)


def _named(name: str, handler: TopicHandler) -> TopicHandler:
    """`handler` under `name`, inside the delivery's span: the SDK names a rule's path
    after the handler function, and passes a `SubscriptionMessage` only to a handler
    annotated to take one."""

    def route(event: SubscriptionMessage) -> TopicEventResponse:
        with consuming(event):
            return handler(event)

    route.__name__ = route.__qualname__ = name
    return route


def command_app(client: DaprClient, app_id: AppId, decide: Mapping[EventType, Decide]) -> App:
    """A command service's callback server, routed as its topology says: each command is
    parsed as its `COMMANDS` model and decided by `decide[type]`; any other event type is
    dead-lettered."""
    routed = {r.event_type for s in SUBSCRIPTIONS[app_id] for r in s.routes}
    if set(decide) != routed:
        raise ValueError(f"{app_id} decides {sorted(decide)}, its routes are {sorted(routed)}")
    handling = CommandHandling(client, app_id)
    handlers: dict[str, TopicHandler] = {}
    for subscription in SUBSCRIPTIONS[app_id]:
        handlers[subscription.handler] = handling.reject_unknown
        for route in subscription.routes:
            handlers[route.handler] = handling.command_handler(
                route.event_type, decide[route.event_type]
            )
    app = App()
    subscribe(app, app_id, handlers)
    return app


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
        saga_id = getattr(command, "saga_id", None)
        tag_saga(saga_id, getattr(command, "order_id", None))
        with log_context(
            saga_id=saga_id,
            instance_id=saga_id,
            command_id=getattr(command, "command_id", None),
            event_id=event.id(),
        ):
            return self._answer(event, command, handler)

    def _answer(
        self,
        event: SubscriptionMessage,
        command: C,
        handler: Callable[[C], tuple[EventType, Contract]],
    ) -> TopicEventResponse:
        try:
            reply_type, reply = handler(command)
        except Exception:  # whatever failed, the command is retried, then dead-lettered
            log.exception("command not handled; it will be redelivered")
            return TopicEventResponse("retry")
        try:
            publish(self.client, self.reply_topic, reply_type, reply)
        except Exception:  # the SDK raises several error types; the command is retried
            log.exception("reply not published; the command will be redelivered")
            return TopicEventResponse("retry")
        log.info("command handled", extra={"command": event.type(), "reply": str(reply_type)})
        return TopicEventResponse("success")

    def command_handler(self, event_type: EventType, decide: Decide) -> TopicHandler:
        """The handler of one command type: parsed as its `COMMANDS` model, then decided."""
        model = COMMANDS[event_type]
        return lambda event: self.handle(event, model, decide)

    def reject_unknown(self, event: SubscriptionMessage) -> TopicEventResponse:
        """For a default route: an event type no rule matched is no command of this topic."""
        return self.reject(
            event,
            f"unknown event type '{event.type()}' on '{event.topic()}'",
            DeadLetterReason.UNKNOWN_EVENT_TYPE,
        )

    def reject(
        self,
        event: SubscriptionMessage,
        reason: str,
        kind: DeadLetterReason = DeadLetterReason.INVALID_MESSAGE,
    ) -> TopicEventResponse:
        """Dead-letters an unprocessable message; RETRY if even that cannot be published."""
        try:
            dead_letter(self.client, self.app_id, event, reason, kind)
        except Exception:
            log.exception("dead letter not published; the message will be redelivered")
            return TopicEventResponse("retry")
        return TopicEventResponse("success")
