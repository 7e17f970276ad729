"""Hands ready work items to connected worker streams, under leases kept in memory.

The sidecar is the only writer of its database, so leases need no persistence: after a
restart nothing is leased and every pending work item is dispatched again. A lease ends
when its work item is completed, its stream disconnects or it expires; housekeeping
expires leases and pings the streams that asked for health pings.

A completion names its lease by the token of its work item when the worker echoes it (the
Python and Go SDKs do). Workers that send none (the JavaScript SDK's, and any SDK written
before tokens) are matched as durabletask-go's backend matches them: to the current lease
of the instance (a turn), or of the instance and task id (an activity).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sidecar.workflow import history as h
from sidecar.workflow.protos import pb
from sidecar.workflow.records import ActivityItem, InboxItem, dropped_with
from sidecar.workflow.settings import EngineSettings
from sidecar.workflow.state import InstanceState

log = logging.getLogger("sidecar.workflow")

_TASK_RESULTS = frozenset({"taskCompleted", "taskFailed"})


@dataclass(eq=False)
class WorkerStream:
    """One worker's `GetWorkItems` stream, and what it holds."""

    stream_id: int
    health_ping: bool
    # A worker with WORKER_CAPABILITY_STATEFUL_HISTORY keeps each instance's committed
    # history between turns; `cached` is how many events of it this worker holds, so the
    # next turn sends only the events after them.
    stateful: bool = False
    cached: dict[str, int] = field(default_factory=dict)
    queue: asyncio.Queue[pb.WorkItem | None] = field(default_factory=asyncio.Queue)
    tokens: set[str] = field(default_factory=set)
    orchestrations: int = 0
    activities: int = 0
    closed: bool = False


@dataclass(eq=False)
class Lease:
    token: str
    stream: WorkerStream
    instance_id: str
    expires_at: float
    inbox_ids: list[int] = field(default_factory=list)
    new_events: list[pb.HistoryEvent] = field(default_factory=list)
    activity: ActivityItem | None = None


class Dispatcher:
    def __init__(
        self, state: InstanceState, settings: EngineSettings, clock: Callable[[], datetime]
    ) -> None:
        self.state = state
        self.settings = settings
        self._clock = clock
        self.streams: list[WorkerStream] = []
        self.leases: dict[str, Lease] = {}
        # The orchestration lease of each instance: one turn at a time per instance.
        self.locked: dict[str, Lease] = {}
        # The lease of each activity in flight, by instance id and task id.
        self._activities: dict[tuple[str, int], Lease] = {}
        self._held: set[str] = set()
        # Stalled instances a newly connected worker may try again.
        self._unstalled: set[str] = set()
        self._stream_ids = itertools.count(1)
        # Tokens of a previous sidecar process can never match: each process has its own id.
        self._boot_id = uuid.uuid4().hex[:12]
        self._token_numbers = itertools.count(1)

    def connect(self, capabilities: list[int]) -> WorkerStream:
        stream = WorkerStream(
            stream_id=next(self._stream_ids),
            health_ping=pb.WORKER_CAPABILITY_HEALTH_PING in capabilities,
            stateful=pb.WORKER_CAPABILITY_STATEFUL_HISTORY in capabilities,
        )
        self.streams.append(stream)
        log.info("worker connected", extra={"stream": stream.stream_id})
        # A stalled instance waits for a worker with other code, as daprd's holds until
        # its workflow actor is activated again (a worker reconnects).
        for iid, instance in self.state.active.items():
            if instance.status == h.STALLED:
                self._unstalled.add(iid)
                self.state.mark_ready(iid)
        self.pump()
        return stream

    def disconnect(self, stream: WorkerStream) -> None:
        stream.closed = True
        if stream in self.streams:
            self.streams.remove(stream)
        for token in list(stream.tokens):
            self.release(token)
        log.info("worker disconnected", extra={"stream": stream.stream_id})
        self.pump()

    def close_streams(self) -> None:
        for stream in list(self.streams):
            stream.queue.put_nowait(None)

    def pump(self) -> None:
        """Hands every dispatchable work item to a connected worker with room for it."""
        state = self.state
        while state.ready:
            stream = self._pick_stream("orchestration")
            if stream is None:
                break
            iid = state.next_ready()
            if iid in self.locked:
                continue
            self._dispatch_orchestration(iid, stream)
        while state.activity_queue:
            stream = self._pick_stream("activity")
            if stream is None:
                break
            activity = state.activity_queue.popleft()
            self._dispatch_activity(activity, stream)

    def _pick_stream(self, kind: str) -> WorkerStream | None:
        best: WorkerStream | None = None
        for stream in self.streams:
            load = stream.orchestrations if kind == "orchestration" else stream.activities
            if stream.closed or load >= self.settings.max_in_flight_per_stream:
                continue
            if best is None or load < (
                best.orchestrations if kind == "orchestration" else best.activities
            ):
                best = stream
        return best

    def _dispatch_orchestration(self, iid: str, stream: WorkerStream) -> None:
        instance = self.state.active.get(iid)
        items = self.state.inbox.get(iid, [])
        if instance is None or not items:
            return
        if instance.status == h.STALLED:
            if iid not in self._unstalled:
                return
            self._unstalled.discard(iid)
        if not instance.history:
            # A workflow's first turn starts with its executionStarted event; events raised
            # before a delayed start wait for it.
            starts = [i for i in items if h.event_kind(i.event) == "executionStarted"]
            if not starts:
                return
            items = starts[:1] + [i for i in items if i is not starts[0]]
        elif self._holds_for_fan_in(iid, items):
            return
        now = self._clock()
        new_events = [h.workflow_started(now), *(i.event for i in items)]
        lease = self._lease(stream, iid)
        lease.inbox_ids = [i.item_id for i in items]
        lease.new_events = new_events
        self.locked[iid] = lease
        stream.orchestrations += 1
        history = instance.history
        request = pb.WorkflowRequest(
            instanceId=iid, executionId=h.string_value(instance.execution_id), newEvents=new_events
        )
        cached = stream.cached.get(iid)
        if stream.stateful and cached is not None and cached <= len(history):
            request.cachedHistory.eventCount = cached
            request.pastEvents.extend(history[cached:])
        else:
            request.pastEvents.extend(history)
        if stream.stateful:
            stream.cached[iid] = len(history)
        log.debug(
            "orchestration work item dispatched",
            extra={
                "instance_id": iid,
                "new_events": len(new_events),
                "past_events": len(request.pastEvents),
                "stream": stream.stream_id,
            },
        )
        stream.queue.put_nowait(pb.WorkItem(workflowRequest=request, completionToken=lease.token))

    def _dispatch_activity(self, activity: ActivityItem, stream: WorkerStream) -> None:
        lease = self._lease(stream, activity.instance_id)
        lease.activity = activity
        self._activities[_activity_key(activity)] = lease
        stream.activities += 1
        stream.queue.put_nowait(
            pb.WorkItem(activityRequest=activity.request, completionToken=lease.token)
        )

    def _holds_for_fan_in(self, iid: str, items: list[InboxItem]) -> bool:
        """True while an instance's new events are only results of a still-running fan-out
        younger than the fan-in window; it is looked at again when the window ends."""
        outstanding = len(self.state.outstanding.get(iid, ()))
        window = min(
            self.settings.fan_in_window_seconds, outstanding * self.settings.fan_in_seconds_per_task
        )
        if window <= 0:
            return False
        if iid in self._held:
            return True
        if any(h.event_kind(i.event) not in _TASK_RESULTS for i in items):
            return False
        waited = (self._clock() - items[0].visible_at).total_seconds()
        if waited >= window:
            return False
        self._held.add(iid)
        asyncio.get_running_loop().call_later(window - waited, self._release_hold, iid)
        return True

    def _release_hold(self, iid: str) -> None:
        self._held.discard(iid)
        self.state.mark_ready(iid)
        self.pump()

    def _lease(self, stream: WorkerStream, instance_id: str) -> Lease:
        token = f"{self._boot_id}-{next(self._token_numbers):x}"
        lease = Lease(token, stream, instance_id, time.monotonic() + self.settings.lease_seconds)
        self.leases[token] = lease
        stream.tokens.add(token)
        return lease

    def take_turn(self, token: str, instance_id: str) -> Lease | None:
        """The orchestration lease a completion answers, or None for a stale or duplicate one."""
        lease = self.leases.get(token) if token else self.locked.get(instance_id)
        return self._take(
            lease if lease is not None and lease.activity is None else None, instance_id
        )

    def take_activity(self, token: str, instance_id: str, task_id: int) -> Lease | None:
        """The activity lease a completion answers, or None for a stale or duplicate one."""
        lease = self.leases.get(token) if token else self._activities.get((instance_id, task_id))
        return self._take(
            lease if lease is not None and lease.activity is not None else None, instance_id
        )

    def _take(self, lease: Lease | None, instance_id: str) -> Lease | None:
        if lease is None or self.leases.get(lease.token) is not lease:
            log.info("stale or duplicate completion ignored", extra={"instance_id": instance_id})
            return None
        self._forget(lease)
        return lease

    def _forget(self, lease: Lease) -> None:
        """Ends a lease: the work item no longer counts against its stream."""
        del self.leases[lease.token]
        stream = lease.stream
        stream.tokens.discard(lease.token)
        if lease.activity is not None:
            stream.activities -= 1
            key = _activity_key(lease.activity)
            if self._activities.get(key) is lease:
                del self._activities[key]
        else:
            stream.orchestrations -= 1

    def release(self, token: str) -> None:
        """Takes a work item back from its worker so that it is dispatched again."""
        lease = self.leases.get(token)
        if lease is None:
            return
        self._forget(lease)
        if lease.activity is not None:
            activity = lease.activity
            instance = self.state.active.get(lease.instance_id)
            if activity.reply_app_id is not None or (
                instance is not None and instance.execution_id == activity.execution_id
            ):
                self.state.activity_queue.appendleft(activity)
        elif self.locked.get(lease.instance_id) is lease:
            del self.locked[lease.instance_id]
            self.state.mark_ready(lease.instance_id)

    def revoke_activities(self, instance_id: str, ended: str | None) -> None:
        """Revokes the activity leases of an execution that ended: each runs to its end on
        its worker, which is not handed it again, and its result is ignored."""
        for token, lease in list(self.leases.items()):
            if (
                lease.activity is not None
                and lease.activity.reply_app_id is None
                and lease.instance_id == instance_id
                and dropped_with(lease.activity.execution_id, ended)
            ):
                self._revoke(token)

    def drop_lock(self, instance_id: str) -> None:
        """Revokes an instance's orchestration lease, so its completion is ignored."""
        lease = self.locked.pop(instance_id, None)
        if lease is not None:
            self._revoke(lease.token)

    def _revoke(self, token: str) -> None:
        lease = self.leases.get(token)
        if lease is not None:
            self._forget(lease)

    async def run_housekeeping(self) -> None:
        """Expires leases of workers that went quiet, and pings streams that asked for it."""
        interval = min(1.0, self.settings.lease_seconds / 4)
        last_ping = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            expired = [t for t, lease in self.leases.items() if lease.expires_at <= now]
            for token in expired:
                lease = self.leases[token]
                log.warning(
                    "work item lease expired; dispatching it again",
                    extra={"instance_id": lease.instance_id},
                )
                self.release(token)
            if now - last_ping >= self.settings.health_ping_seconds:
                last_ping = now
                for stream in self.streams:
                    if stream.health_ping:
                        stream.queue.put_nowait(pb.WorkItem(healthPing=pb.HealthPing()))
            if expired:
                self.pump()


def _activity_key(activity: ActivityItem) -> tuple[str, int]:
    return activity.instance_id, activity.request.taskId
