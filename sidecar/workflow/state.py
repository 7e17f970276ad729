"""The in-memory mirror of the active instances and of the work waiting for a worker.

The sidecar is the only writer of its database, so what the store holds for active
instances can live in memory too: dispatch never reads the database, and every change
reaches this mirror only after `WorkflowStore.commit` made it durable. Leases are not
here: they belong to the worker side (`dispatch`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from datetime import datetime

from sidecar.workflow.records import ActivityItem, InboxItem, Instance, dropped_with
from sidecar.workflow.store import WorkflowStore
from sidecar.workflow.timers import Timers


class InstanceState:
    def __init__(self, store: WorkflowStore, timers: Timers) -> None:
        self.store = store
        self.timers = timers
        self.active: dict[str, Instance] = {}
        self.inbox: dict[str, list[InboxItem]] = {}
        # Activities scheduled and not yet completed, queued or running, per instance.
        self.outstanding: dict[str, dict[int, ActivityItem]] = {}
        # Instances with visible inbox events, in the order they became ready.
        self.ready: deque[str] = deque()
        self._ready_set: set[str] = set()
        self.activity_queue: deque[ActivityItem] = deque()
        self._waiters: dict[str, list[tuple[Callable[[Instance], bool], asyncio.Future[None]]]] = {}

    def load(
        self,
        instances: list[Instance],
        inbox: list[InboxItem],
        activities: list[ActivityItem],
        now: datetime,
    ) -> None:
        for instance in instances:
            self.active[instance.instance_id] = instance
        for item in inbox:
            self.add_inbox_item(item, now)
        self.queue_activities(activities)

    def find(self, instance_id: str) -> Instance | None:
        return self.active.get(instance_id) or self.store.get_instance(instance_id)

    def add_inbox_item(self, item: InboxItem, now: datetime) -> None:
        if item.instance_id not in self.active:
            return
        if item.visible_at > now:
            self.timers.schedule(item)
            return
        self.inbox.setdefault(item.instance_id, []).append(item)
        self.mark_ready(item.instance_id)

    def mark_ready(self, instance_id: str) -> None:
        if instance_id not in self._ready_set:
            self._ready_set.add(instance_id)
            self.ready.append(instance_id)

    def next_ready(self) -> str:
        instance_id = self.ready.popleft()
        self._ready_set.discard(instance_id)
        return instance_id

    def queue_activities(self, activities: list[ActivityItem]) -> None:
        for activity in activities:
            if activity.reply_app_id is None:
                self.outstanding.setdefault(activity.instance_id, {})[activity.item_id] = activity
        self.activity_queue.extend(activities)

    def drop_pending(self, instance_id: str, ended: str | None) -> bool:
        """Forgets queued timers, inbox events and activities of an execution that ended.

        True when the instance had outstanding activities: their leases must go too.
        """
        if instance_id in self.inbox:
            self.inbox[instance_id] = [
                i for i in self.inbox[instance_id] if not dropped_with(i.execution_id, ended)
            ]
        self.timers.cancel(instance_id, ended)
        outstanding = self.outstanding.get(instance_id)
        if not outstanding:
            return False
        for item_id, activity in list(outstanding.items()):
            if dropped_with(activity.execution_id, ended):
                del outstanding[item_id]
        if not outstanding:
            del self.outstanding[instance_id]
        self.activity_queue = deque(
            a
            for a in self.activity_queue
            if not (
                a.instance_id == instance_id
                and a.reply_app_id is None
                and dropped_with(a.execution_id, ended)
            )
        )
        return True

    async def changed(self, instance_id: str, condition: Callable[[Instance], bool]) -> None:
        """Returns once a committed change of the instance satisfies `condition`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(instance_id, []).append((condition, future))
        try:
            await future
        finally:
            waiters = self._waiters.get(instance_id, [])
            with contextlib.suppress(ValueError):
                waiters.remove((condition, future))
            if not waiters:
                self._waiters.pop(instance_id, None)

    def notify(self, instance: Instance) -> None:
        for condition, future in list(self._waiters.get(instance.instance_id, [])):
            if not future.done() and condition(instance):
                future.set_result(None)
