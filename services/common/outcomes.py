"""What the services' rules decide, as plain data: a reply that echoes its command, and
the saga's record as the command leaves it. Free of Dapr, so rules are tested as plain
functions; `services.common.state` turns an outcome into a guarded write.

A saga's record (`SagaRecord`) also keeps the reply each command got: the record and the
reply are one value under one key, so one ETag-guarded write stores both or neither on
every state store, Redis included (see `services.common.state`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

from services.contracts.messages import Command, Contract, Identifier, Reply
from services.contracts.names import EventType
from services.contracts.topology import REPLIES


class StoredReply(Contract):
    """The reply a command got, kept in the saga's record for its redeliveries."""

    event_type: EventType
    reply: dict[str, Any]

    def decoded(self) -> tuple[EventType, Reply]:
        return self.event_type, REPLIES[self.event_type].parse(self.reply)


class SagaRecord(Contract):
    """What one service keeps per saga: its own fields (subclasses) and, by command id, the
    reply of each command that reached it, so a redelivered command is answered again with
    no second effect."""

    saga_id: Identifier
    replies: dict[str, StoredReply] = {}

    def answered(self, command_id: str) -> tuple[EventType, Reply] | None:
        stored = self.replies.get(command_id)
        return None if stored is None else stored.decoded()

    def with_reply(self, command_id: str, reply_type: EventType, reply: Reply) -> Self:
        stored = StoredReply(event_type=reply_type, reply=reply.to_data())
        return self.model_copy(update={"replies": {**self.replies, command_id: stored}})


M = TypeVar("M", bound=SagaRecord)
R = TypeVar("R", bound=Reply)


@dataclass(frozen=True)
class Outcome(Generic[M]):
    """A command's reply, and the saga's record as it leaves it (None: unchanged)."""

    reply_type: EventType
    reply: Reply
    record: M | None = None


def reply_to(command: Command, model: type[R], **fields: Any) -> R:
    """A `model` reply carrying the saga, command and order ids of `command`."""
    return model(
        saga_id=command.saga_id, command_id=command.command_id, order_id=command.order_id, **fields
    )


def saga_scoped_id(prefix: str, saga_id: str) -> str:
    """An id derived from the saga: one saga has at most one reservation, charge or shipment,
    so every handler of it (a redelivery, a racing duplicate) names it the same way."""
    return f"{prefix}{hashlib.sha256(saga_id.encode()).hexdigest()[:20]}"
