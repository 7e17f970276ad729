"""The workflow engine: wires its parts together over one store and one clock, and runs
their background loops, so the server and the servicer deal with a single object.

All parts run on one asyncio loop, so no two state changes interleave. `peers` (the other
apps' sidecars, for cross-app workflows) is closed with the engine, once its outbox stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sidecar.workflow.client import Client
from sidecar.workflow.commits import Commits
from sidecar.workflow.dispatch import Dispatcher
from sidecar.workflow.inbound import Inbound
from sidecar.workflow.outbox import Outbox
from sidecar.workflow.peers import Peers
from sidecar.workflow.settings import EngineSettings
from sidecar.workflow.state import InstanceState
from sidecar.workflow.store import WorkflowStore
from sidecar.workflow.timers import Timers
from sidecar.workflow.workers import Workers

__all__ = ["EngineSettings", "WorkflowEngine"]

log = logging.getLogger("sidecar.workflow")


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkflowEngine:
    def __init__(
        self,
        store: WorkflowStore,
        settings: EngineSettings | None = None,
        app_id: str = "",
        clock: Callable[[], datetime] = utcnow,
        peers: Peers | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or EngineSettings()
        self.app_id = app_id
        self.peers = peers
        self._clock = clock
        self.state = InstanceState(store, Timers(clock))
        self.dispatcher = Dispatcher(self.state, self.settings, clock)
        self.outbox = Outbox(store, peers)
        commits = Commits(store, self.state, self.dispatcher, self.outbox, clock, app_id)
        self.client = Client(store, self.state, self.dispatcher, commits, self.settings, clock)
        self.workers = Workers(self.state, self.dispatcher, commits, self.settings)
        self.inbound = Inbound(commits, self.settings)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        instances, inbox, activities = self.store.load_active()
        self.state.load(instances, inbox, activities, self._clock())
        log.info(
            "workflow engine loaded",
            extra={
                "active_instances": len(instances),
                "inbox_events": len(inbox),
                "activities": len(activities),
            },
        )
        self._tasks = [
            asyncio.create_task(
                self.state.timers.run(self.state.add_inbox_item, self.dispatcher.pump),
                name="workflow-timers",
            ),
            asyncio.create_task(self.dispatcher.run_housekeeping(), name="workflow-housekeeping"),
        ]
        self.outbox.start()
        self.dispatcher.pump()

    async def stop(self) -> None:
        await self.outbox.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.dispatcher.close_streams()
        if self.peers is not None:
            await self.peers.close()

    def stats(self) -> dict[str, int]:
        """Counts for the metadata endpoint and tests."""
        return {
            "active_instances": len(self.state.active),
            "connected_workers": len(self.dispatcher.streams),
            "leases": len(self.dispatcher.leases),
            "queued_activities": len(self.state.activity_queue),
            "pending_timers": len(self.state.timers),
            "outbox_messages": len(self.outbox),
        }
