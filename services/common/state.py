"""ETag-guarded records and exactly-once command effects in the Dapr state store.

Every command handler has one shape: read the records it touches with their ETags, decide
(pure rules), then commit the effect AND the reply in one transaction whose effect writes
all present the ETags they read. If another writer got there first, the store refuses the
whole transaction (ABORTED) and the handler reads, decides and commits again, a bounded
number of times with jittered backoff. The reply is stored under the command's id in that
transaction, so a redelivered command finds it and is answered again with no second effect.

Dapr's transaction API (and the SDK's `TransactionalStateOperation`) cannot say "create
only if absent", so a per-saga record is first *opened* on its own with a first-write
save; from then on every write to it carries an ETag, and two racing handlers of one saga
can never both commit.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._request import TransactionalStateOperation
from dapr.clients.grpc._state import Concurrency, StateOptions

from services.common.outcomes import Outcome
from services.contracts.messages import Command, Contract, Reply
from services.contracts.names import STATESTORE, EventType
from services.contracts.topology import REPLIES

log = logging.getLogger("services.state")

M = TypeVar("M", bound=Contract)
T = TypeVar("T")

FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)
# Enough for a few dozen handlers racing on one record; past it the command is retried
# by pub/sub (the handler answers RETRY), which spreads the contenders out further.
ATTEMPTS = 20
BACKOFF_SECONDS = 0.005
MAX_BACKOFF_SECONDS = 0.25


class StateConflict(Exception):
    """Another writer changed a record between our read and our write."""


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A record as read, with the ETag a write must present to replace it."""

    key: str
    value: M
    etag: str

    def replaced_by(self, value: M) -> TransactionalStateOperation:
        return TransactionalStateOperation(self.key, value.to_json(), etag=self.etag)


@dataclass(frozen=True)
class Decision:
    """What a command decided: its reply and the guarded writes that make it so (maybe none)."""

    reply_type: EventType
    reply: Reply
    writes: Sequence[TransactionalStateOperation] = ()


class StoredReply(Contract):
    """The reply a command got, kept at the service's command key for redeliveries."""

    event_type: EventType
    reply: dict[str, Any]

    def decoded(self) -> tuple[EventType, Reply]:
        return self.event_type, REPLIES[self.event_type].parse(self.reply)


def read(client: DaprClient, key: str, model: type[M]) -> Stored[M] | None:
    response = client.get_state(STATESTORE, key)
    if not response.data:
        return None
    return Stored(key, model.parse(response.data), response.etag)


def read_many(client: DaprClient, keys: Iterable[str], model: type[M]) -> dict[str, Stored[M]]:
    """The records that exist among `keys`, by key."""
    response = client.get_bulk_state(STATESTORE, list(keys))
    return {
        item.key: Stored(item.key, model.parse(item.data), item.etag)
        for item in response.items
        if item.data
    }


def create(client: DaprClient, key: str, data: str) -> bool:
    """Writes `data` at `key` unless something is there already (first-write wins)."""
    try:
        client.save_state(STATESTORE, key, data, options=FIRST_WRITE)
    except DaprGrpcError as error:
        if error.code() == grpc.StatusCode.ABORTED:
            return False
        raise
    return True


def open_record(client: DaprClient, key: str, initial: M) -> Stored[M]:
    """The record at `key`, created as `initial` first when there is none."""
    stored = read(client, key, type(initial))
    if stored is None:
        create(client, key, initial.to_json())
        stored = read(client, key, type(initial))
    if stored is None:
        raise StateConflict(f"record '{key}' was deleted while being opened")
    return stored


def commit(client: DaprClient, writes: Sequence[TransactionalStateOperation]) -> None:
    """All `writes` or none; `StateConflict` when an ETag no longer matches."""
    try:
        client.execute_state_transaction(STATESTORE, list(writes))
    except DaprGrpcError as error:
        if error.code() == grpc.StatusCode.ABORTED:
            raise StateConflict(str(error.details())) from None
        raise


def retry_on_conflict(attempt: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Runs `attempt` until it gets through without a `StateConflict` (full-jitter backoff)."""
    for number in range(attempts):
        try:
            return attempt()
        except StateConflict as conflict:
            log.debug(
                "state conflict; reading again",
                extra={"attempt": number + 1, "conflict": str(conflict)},
            )
            time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**number)))
    raise StateConflict(f"still conflicting after {attempts} attempts")


def answer_once(
    client: DaprClient, command_key: str, command: Command, decide: Callable[[], Decision]
) -> tuple[EventType, Reply]:
    """The command's reply: the stored one when it was answered before, else `decide`'s,
    committed together with its writes and the stored reply."""

    def attempt() -> tuple[EventType, Reply]:
        stored = read(client, command_key, StoredReply)
        if stored is not None:
            log.info("command seen before; answering its stored reply")
            return stored.value.decoded()
        decision = decide()
        record = StoredReply(event_type=decision.reply_type, reply=decision.reply.to_data())
        commit(
            client, [*decision.writes, TransactionalStateOperation(command_key, record.to_json())]
        )
        return decision.reply_type, decision.reply

    return retry_on_conflict(attempt)


@dataclass(frozen=True)
class SagaRecords(Generic[M]):
    """Where a service keeps its record per saga (`<service>:<kind>:<sagaId>`, a `model`
    whose only required field is `saga_id`) and its replies (`<service>:command:<commandId>`)."""

    service: str
    kind: str
    model: type[M]

    def record_key(self, saga_id: str) -> str:
        return f"{self.service}:{self.kind}:{saga_id}"

    def command_key(self, command_id: str) -> str:
        return f"{self.service}:command:{command_id}"

    def open(self, client: DaprClient, saga_id: str) -> Stored[M]:
        return open_record(
            client, self.record_key(saga_id), self.model.model_validate({"saga_id": saga_id})
        )

    def answer(
        self, client: DaprClient, command: Command, rule: Callable[[M], Outcome[M]]
    ) -> tuple[EventType, Reply]:
        """`answer_once` for a command whose whole effect is on the saga's record: opens
        it, applies `rule`, and commits the change under the record's ETag."""

        def decide() -> Decision:
            record = self.open(client, command.saga_id)
            outcome = rule(record.value)
            writes = [] if outcome.record is None else [record.replaced_by(outcome.record)]
            return Decision(outcome.reply_type, outcome.reply, writes)

        return answer_once(client, self.command_key(command.command_id), command, decide)
