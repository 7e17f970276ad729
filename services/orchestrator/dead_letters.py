"""The dead-letter inbox: every message that reached a dead-letter topic, kept with its
reason, listable, and replayable onto the topic it came from.

The orchestrator (the topology's `DEAD_LETTER_INBOX`) subscribes to every dead-letter
topic of the topology. Two things arrive there: a `DeadLetter` an app published (type
`dead-letter`: the message failed its contract or its event type is unknown, and the app
says why), and a message the runtime itself gave
up on after its retries (daprd and the embedded sidecar forward the original CloudEvent; the
reason is then the retries). Each is appended to a `StateLog` (`deadletter:<number>`, the
number is the dead letter's id) once: a redelivery of the same dead letter is recognised by
its topic and original event id. Replay publishes the original payload, with its original
event type, on its original topic, and records who replayed it and when.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from dapr.clients import DaprClient
from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, SubscriptionMessage
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.contracts.messages import DeadLetter, InvalidMessage
from services.contracts.names import PUBSUB, STATESTORE, EventType
from services.contracts.topology import DEAD_LETTER_TOPICS
from services.orchestrator.state_log import StateLog

log = logging.getLogger("services.orchestrator.dead_letters")

DEAD_LETTER_PREFIX = "deadletter"
RUNTIME_REASON = "the runtime gave up delivering it after its retries (resiliency policy)"
_SUFFIX = "-dead-letter"


class Replay(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    at: datetime
    by: str = Field(description="The subject of the token that replayed it.")


class DeadLetterEntry(BaseModel):
    """One dead letter as the inbox keeps it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: int = Field(default=0, description="The dead letter's number in the inbox.")
    received_at: datetime
    topic: str = Field(description="The topic the message was meant for.")
    dead_letter_topic: str
    source: Literal["app", "runtime"] = Field(
        description="`app`: an app refused it and said why; `runtime`: the sidecar gave up "
        "delivering it after its retries."
    )
    reason: str
    app_id: str | None = Field(default=None, description="The app that refused it.")
    event_type: str
    event_id: str
    data: str = Field(description="The original payload, as it was published.")
    replays: list[Replay] = Field(default_factory=list)


def _original_topic(dead_letter_topic: str) -> str:
    return dead_letter_topic.removesuffix(_SUFFIX)


def entry_from_message(event: SubscriptionMessage, now: datetime) -> DeadLetterEntry:
    """What a delivery on a dead-letter topic says: an app's `DeadLetter`, or the original
    message the runtime forwarded."""
    topic = str(event.topic())
    raw = bytes(event.raw_data()).decode("utf-8", errors="replace")
    if str(event.type()) == EventType.DEAD_LETTER:
        try:
            letter = DeadLetter.parse(raw)
        except InvalidMessage:
            pass
        else:
            return DeadLetterEntry(
                received_at=now,
                topic=letter.topic,
                dead_letter_topic=topic,
                source="app",
                reason=letter.reason,
                app_id=letter.app_id,
                event_type=letter.event_type,
                event_id=letter.event_id,
                data=letter.data,
            )
    return DeadLetterEntry(
        received_at=now,
        topic=_original_topic(topic),
        dead_letter_topic=topic,
        source="runtime",
        reason=RUNTIME_REASON,
        event_type=str(event.type()),
        event_id=str(event.id()),
        data=raw,
    )


class DeadLetterInbox:
    def __init__(self, client: DaprClient) -> None:
        self.client = client
        self.log = StateLog(client, DEAD_LETTER_PREFIX)

    def _seen_key(self, entry: DeadLetterEntry) -> str:
        digest = hashlib.sha256(f"{entry.topic}\n{entry.event_id}".encode()).hexdigest()[:32]
        return f"{DEAD_LETTER_PREFIX}:seen:{digest}"

    def keep(self, entry: DeadLetterEntry) -> int | None:
        """Appends `entry` unless the same dead letter is kept already; its number, or None."""
        seen = self._seen_key(entry)
        if self.client.get_state(STATESTORE, seen).data:
            return None
        number = self.log.append(entry.model_dump_json(by_alias=True, exclude={"id"}))
        self.client.save_state(STATESTORE, seen, str(number))
        return number

    def on_dead_letter(self, event: SubscriptionMessage) -> TopicEventResponse:
        """The subscription handler of every dead-letter topic."""
        entry = entry_from_message(event, datetime.now(UTC))
        try:
            number = self.keep(entry)
        except Exception:  # the sidecar is unreachable, or the store refused: redelivered
            log.exception("dead letter not kept; it will be redelivered")
            return TopicEventResponse("retry")
        log.info(
            "dead letter kept" if number else "dead letter seen before",
            extra={"topic": entry.topic, "event_id": entry.event_id, "id": number},
        )
        return TopicEventResponse("success")

    def get(self, number: int) -> DeadLetterEntry | None:
        stored = self.log.get(number)
        if stored is None:
            return None
        return DeadLetterEntry.model_validate({**json.loads(stored.data), "id": number})

    def newest_first(self, below: int | None, count: int) -> tuple[list[DeadLetterEntry], int]:
        """Up to `count` entries numbered below `below` (default: all), and where the next
        page starts."""
        start = below if below is not None else self.log.last() + 1
        entries = [
            DeadLetterEntry.model_validate({**json.loads(e.data), "id": e.number})
            for e in self.log.newest_first(start, count)
        ]
        return entries, max(1, start - count)

    def replay(self, number: int, by: str) -> DeadLetterEntry | None:
        """Publishes the dead letter's payload on its topic again; the entry with the replay
        recorded, or None when there is no such dead letter."""
        entry = self.get(number)
        if entry is None:
            return None
        self.client.publish_event(
            PUBSUB,
            entry.topic,
            entry.data,
            data_content_type="application/json",
            publish_metadata={"cloudevent.type": entry.event_type},
        )
        replay = Replay(at=datetime.now(UTC), by=by)

        def add_replay(data: bytes | str) -> str:
            stored: dict[str, Any] = json.loads(data)
            stored["replays"] = [*stored.get("replays", []), replay.model_dump(mode="json")]
            return json.dumps(stored)

        self.log.change(number, add_replay)
        return entry.model_copy(update={"replays": [*entry.replays, replay]})


def subscribe_dead_letters(app: App, inbox: DeadLetterInbox) -> None:
    """Registers the inbox on every dead-letter topic of the topology."""

    def on_dead_letter(event: SubscriptionMessage) -> TopicEventResponse:
        return inbox.on_dead_letter(event)

    for topic in sorted(DEAD_LETTER_TOPICS):
        app.subscribe(PUBSUB, topic)(on_dead_letter)
