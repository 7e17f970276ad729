"""What the services' rules decide, as plain data: a reply that echoes its command, and
the saga's record as the command leaves it. Free of Dapr, so rules are tested as plain
functions; `services.common.state` turns an outcome into guarded writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from services.contracts.messages import Command, Contract, Reply
from services.contracts.names import EventType

M = TypeVar("M", bound=Contract)
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
