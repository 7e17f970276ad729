"""Delivers the messages of cross-app workflows to the other apps' sidecars.

A message is written to the `outbox` table in the transaction that caused it (a turn that
calls another app, an activity or child that reports back), so it survives a crash of
either sidecar; a loop per target app hands its messages over in order and deletes each
one once the other sidecar has committed it. A sidecar that is down or not yet registered
is tried again with a growing pause, as daprd retries calls to a workflow or activity
actor of another app. Delivery is at least once; the receiving side applies a repeated
result once (`inbound`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import grpc

from sidecar.workflow.peers import Peers, PeerUnavailable
from sidecar.workflow.records import OutboxItem
from sidecar.workflow.store import Batch, WorkflowStore

log = logging.getLogger("sidecar.workflow")

_FIRST_PAUSE, _LONGEST_PAUSE = 0.05, 2.0


class Outbox:
    def __init__(self, store: WorkflowStore, peers: Peers | None) -> None:
        self._store = store
        self._peers = peers
        self._queues: dict[str, deque[OutboxItem]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False

    def start(self) -> None:
        self._running = True
        self.send(self._store.load_outbox())

    async def stop(self) -> None:
        self._running = False
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def send(self, items: list[OutboxItem]) -> None:
        """Queues committed messages for delivery."""
        for item in items:
            self._queues.setdefault(item.app_id, deque()).append(item)
            if self._running and item.app_id not in self._tasks:
                self._tasks[item.app_id] = asyncio.create_task(
                    self._drain(item.app_id), name=f"workflow-outbox-{item.app_id}"
                )

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    async def _drain(self, app_id: str) -> None:
        queue = self._queues[app_id]
        pause = _FIRST_PAUSE
        try:
            while queue:
                item = queue[0]
                try:
                    await self._deliver(item)
                except PeerUnavailable as error:
                    # Said once per outage, not at every attempt.
                    (log.warning if pause == _FIRST_PAUSE else log.debug)(
                        "cross-app message not delivered yet; trying again",
                        extra={"target_app_id": app_id, "reason": str(error)},
                    )
                    await asyncio.sleep(pause)  # a back-off before the next attempt
                    pause = min(pause * 2, _LONGEST_PAUSE)
                    continue
                pause = _FIRST_PAUSE
                self._store.commit(Batch("outbox-delivered", outbox_deletes=[item.item_id]))
                queue.popleft()
        finally:
            del self._tasks[app_id]

    async def _deliver(self, item: OutboxItem) -> None:
        if self._peers is None:
            raise PeerUnavailable("this sidecar has no name resolution")
        try:
            await self._peers.deliver(item.app_id, item.message)
        except grpc.aio.AioRpcError as error:
            # The other sidecar refused the message itself: trying again cannot help.
            log.error(
                "cross-app message refused; dropped",
                extra={"target_app_id": item.app_id, "code": error.code().name},
            )
