"""ETag-guarded records and exactly-once command effects in the Dapr state store.

Every conditional write touches ONE key. That is all every state store guarantees: Dapr's
Redis store runs a transaction's writes one by one, so when one ETag no longer matches the
others are applied all the same (no rollback) and the call fails with INTERNAL, not
ABORTED (docs/sidecar-runtime.md, "Known differences"). A multi-key transaction guarded by
ETags would therefore half-apply under contention on Redis, the chart's store.

Every command handler has one shape: read the saga's record with its ETag, decide (pure
rules), then write the record as the command leaves it together with the command's reply
(`SagaRecord.replies`) under that ETag. If another writer got there first, the store
refuses the write (ABORTED) and the handler reads, decides and writes again, a bounded
number of times with jittered backoff. A redelivered command finds its reply in the record
and is answered again with no second effect. An effect on a record several sagas share (the
inventory's stock) is one guarded write per shared record, idempotent per saga
(services/inventory/store.py), and `settle` finishes it once the saga's record says how
the command ended.

A per-saga record is first *opened* with a first-write save ("create only if absent");
from then on every write to it carries an ETag, and two racing handlers of one saga can
never both write.

Within one process, `update`s of one key take turns (a lock per key, striped): handlers of
many sagas changing one hot record (a SKU's stock) would otherwise mostly lose their races
to each other, and each lost race costs a read, a refused write and a backoff. The ETag
still decides between processes (replicas) and after a crash; the lock only spares the
calls that were bound to fail.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

import grpc
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._state import Concurrency, StateOptions

from services.common.outcomes import Outcome, SagaRecord
from services.contracts.messages import Command, Contract, Reply
from services.contracts.names import STATESTORE, EventType

log = logging.getLogger("services.state")

M = TypeVar("M", bound=Contract)
S = TypeVar("S", bound=SagaRecord)
T = TypeVar("T")

FIRST_WRITE = StateOptions(concurrency=Concurrency.first_write)
# Enough for a few dozen handlers racing on one record; past it the command is retried
# by pub/sub (the handler answers RETRY), which spreads the contenders out further.
ATTEMPTS = 20
BACKOFF_SECONDS = 0.005
MAX_BACKOFF_SECONDS = 0.25


# Locks that `update`s of one key take turns on, a key's lock picked by its hash: a few
# more than the handler threads of an app, so unrelated keys seldom share one.
_TURNS = tuple(threading.Lock() for _ in range(64))


@contextmanager
def _turns(keys: Iterable[str]) -> Iterator[None]:
    """Holds the locks of `keys`, each once, always taken in the same order: two callers
    holding some of the same locks never wait for each other in a circle."""
    stripes = sorted({zlib.crc32(key.encode()) % len(_TURNS) for key in keys})
    with ExitStack() as held:
        for stripe in stripes:
            held.enter_context(_TURNS[stripe])
        yield


class StateConflict(Exception):
    """Another writer changed a record between our read and our write."""


@dataclass(frozen=True)
class Stored(Generic[M]):
    """A record as read, with the ETag a write must present to replace it."""

    key: str
    value: M
    etag: str

    def replace(self, client: DaprClient, value: M) -> None:
        """Writes `value` here unless the record changed since it was read
        (`StateConflict`)."""
        write(client, self.key, value.to_json(), self.etag)


def write(client: DaprClient, key: str, data: str, etag: str) -> None:
    """Writes `data` at `key` if its ETag is still `etag`, else `StateConflict`."""
    try:
        client.save_state(STATESTORE, key, data, etag=etag)
    except DaprGrpcError as error:
        if error.code() == grpc.StatusCode.ABORTED:
            raise StateConflict(str(error.details())) from None
        raise


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
        # Dapr's Redis store refuses a first write to an existing key with INTERNAL: the
        # key being there now is what counts.
        if client.get_state(STATESTORE, key).data:
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


Change = Callable[[M], M | None]


def update(client: DaprClient, key: str, model: type[M], change: Change[M]) -> bool:
    """Applies `change` to the record at `key` in one guarded write, reading again after a
    conflict. False when there is no record or `change` refuses it (None); no write when
    `change` leaves it as it is."""
    with _turns([key]):
        return retry_on_conflict(partial(_update_once, client, key, model, change))


def update_many(
    client: DaprClient, changes: Mapping[str, Change[M]], model: type[M]
) -> dict[str, bool]:
    """`update` of each key of `changes` with its change, the records read in one bulk call
    and each written on its own under its ETag; a key whose write is refused is read and
    written again alone. By key: what `update` would have answered."""
    keys = sorted(changes)
    with _turns(keys):
        stored = read_many(client, keys, model)
        done: dict[str, bool] = {}
        for key in keys:
            try:
                done[key] = _apply(client, stored.get(key), changes[key])
            except StateConflict:
                done[key] = retry_on_conflict(
                    partial(_update_once, client, key, model, changes[key])
                )
        return done


def _update_once(client: DaprClient, key: str, model: type[M], change: Change[M]) -> bool:
    return _apply(client, read(client, key, model), change)


def _apply(client: DaprClient, stored: Stored[M] | None, change: Change[M]) -> bool:
    """`change` written over `stored` under its ETag (`StateConflict` when refused)."""
    if stored is None:
        return False
    changed = change(stored.value)
    if changed is None:
        return False
    if changed != stored.value:
        stored.replace(client, changed)
    return True


def _no_settling(record: SagaRecord) -> None:
    """Nothing outside the saga's record to finish."""


@dataclass(frozen=True)
class SagaRecords(Generic[S]):
    """Where a service keeps its record per saga (`<service>:<kind>:<sagaId>`, a `model`
    whose only required field is `saga_id`), each with the replies its commands got."""

    service: str
    kind: str
    model: type[S]

    def record_key(self, saga_id: str) -> str:
        return f"{self.service}:{self.kind}:{saga_id}"

    def open(self, client: DaprClient, saga_id: str) -> Stored[S]:
        return open_record(
            client, self.record_key(saga_id), self.model.model_validate({"saga_id": saga_id})
        )

    def answer(
        self,
        client: DaprClient,
        command: Command,
        decide: Callable[[S], Outcome[S]],
        settle: Callable[[S], None] = _no_settling,
    ) -> tuple[EventType, Reply]:
        """The command's reply: the one in the saga's record when the command reached it
        before, else `decide`'s, written into the record with the record's new state in
        one guarded write. `settle` then finishes, idempotently, what the command changed
        outside the record (it also runs for a redelivery, which may find it unfinished)."""

        def attempt() -> tuple[EventType, Reply]:
            stored = self.open(client, command.saga_id)
            known = stored.value.answered(command.command_id)
            if known is not None:
                log.info("command seen before; answering its stored reply")
                settle(stored.value)
                return known
            outcome = decide(stored.value)
            record = (outcome.record or stored.value).with_reply(
                command.command_id, outcome.reply_type, outcome.reply
            )
            stored.replace(client, record)
            settle(record)
            return outcome.reply_type, outcome.reply

        return retry_on_conflict(attempt)
