"""Inbox items that become visible later (durable timers, delayed starts), and the loop
that delivers each one when its time comes, so nothing else has to watch the clock."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Callable
from datetime import datetime

from sidecar.workflow.records import InboxItem, dropped_with


class Timers:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, InboxItem]] = []
        # Cancelling only forgets an item here; the loop skips heap entries missing from it.
        self._pending: dict[int, InboxItem] = {}
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def schedule(self, item: InboxItem) -> None:
        self._pending[item.item_id] = item
        heapq.heappush(self._heap, (item.visible_at.timestamp(), item.item_id, item))
        self._changed.set()

    def cancel(self, instance_id: str, ended: str | None) -> None:
        """Forgets the timers of an execution that ended (of every one when `ended` is None)."""
        for item_id, item in list(self._pending.items()):
            if item.instance_id == instance_id and dropped_with(item.execution_id, ended):
                del self._pending[item_id]

    async def run(
        self, deliver: Callable[[InboxItem, datetime], None], then: Callable[[], None]
    ) -> None:
        """Hands each item to `deliver` once it is due, and calls `then` after each round."""
        while True:
            self._changed.clear()
            while self._heap and self._heap[0][2].item_id not in self._pending:
                heapq.heappop(self._heap)
            delay = self._heap[0][0] - time.time() if self._heap else 3600.0
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=min(delay, 3600))
                continue
            now = self._clock()
            while self._heap and self._heap[0][0] <= now.timestamp():
                _, item_id, item = heapq.heappop(self._heap)
                if self._pending.pop(item_id, None) is not None:
                    deliver(item, now)
            then()
