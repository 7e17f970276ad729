"""An append-only, numbered log in the Dapr state store: the audit trail and the dead-letter
inbox are each one.

The state API has no listing or query on every store, so entries live under numbered keys
(`<prefix>:000000000042`) and a reader walks the numbers. Appending claims the next free
number with a first-write save ("create only if absent"), one key per write, which every
Dapr state store guarantees (a multi-key ETag transaction would half-apply on Redis:
services/common/state.py). Two writers racing for a number: one wins, the other takes the
next. `<prefix>:tail` remembers the last number as a hint only (written unguarded, it can lag
or step back); readers probe past it to the real end, so nothing appended is ever hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dapr.clients import DaprClient

from services.common.state import create, retry_on_conflict, write
from services.contracts.names import STATESTORE

_PROBE = 32  # keys read at once while looking for the end past the hint


@dataclass(frozen=True)
class Entry:
    number: int
    data: bytes | str
    etag: str


class StateLog:
    def __init__(self, client: DaprClient, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, number: int) -> str:
        return f"{self.prefix}:{number:012d}"

    @property
    def _tail_key(self) -> str:
        return f"{self.prefix}:tail"

    def _hint(self) -> int:
        raw = self.client.get_state(STATESTORE, self._tail_key).data
        try:
            return max(0, int(raw)) if raw else 0
        except ValueError:
            return 0

    def last(self) -> int:
        """The number of the newest entry (0: none)."""
        number = self._hint()
        while True:
            keys = [self.key(n) for n in range(number + 1, number + 1 + _PROBE)]
            found = {i.key for i in self.client.get_bulk_state(STATESTORE, keys).items if i.data}
            taken = [n for n in range(number + 1, number + 1 + _PROBE) if self.key(n) in found]
            if not taken:
                return number
            number = max(taken)

    def append(self, data: str) -> int:
        """Stores `data` as the next entry; its number."""
        number = self.last() + 1
        while not create(self.client, self.key(number), data):
            number += 1
        self.client.save_state(STATESTORE, self._tail_key, str(number))
        return number

    def get(self, number: int) -> Entry | None:
        if number < 1:
            return None
        item = self.client.get_state(STATESTORE, self.key(number))
        return Entry(number, item.data, item.etag) if item.data else None

    def newest_first(self, below: int, count: int) -> list[Entry]:
        """Up to `count` entries numbered below `below`, newest first (gaps skipped)."""
        numbers = list(range(below - 1, max(0, below - 1 - count), -1))
        if not numbers:
            return []
        items = self.client.get_bulk_state(STATESTORE, [self.key(n) for n in numbers]).items
        by_key = {item.key: item for item in items if item.data}
        return [
            Entry(n, by_key[self.key(n)].data, by_key[self.key(n)].etag)
            for n in numbers
            if self.key(n) in by_key
        ]

    def change(self, number: int, edit: Callable[[bytes | str], str | None]) -> bool:
        """Rewrites entry `number` as `edit` returns it (None: leave it), guarded by its ETag
        and read again after a conflict; False when there is no such entry."""

        def attempt() -> bool:
            entry = self.get(number)
            if entry is None:
                return False
            edited = edit(entry.data)
            if edited is not None:
                write(self.client, self.key(number), edited, entry.etag)
            return True

        return retry_on_conflict(attempt)
