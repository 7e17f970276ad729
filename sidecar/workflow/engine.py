"""The workflow engine: scheduling, leasing and dispatch of work items to connected workers.

The sidecar process is the only writer of its database, so locks and leases live in
memory: after a restart nothing is locked and every pending work item is dispatched again.
Each state change is committed through `WorkflowStore.commit` before it is acknowledged
or acted on, then mirrored in memory. All methods run on one asyncio loop, so no two
changes interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import grpc

from sidecar.errors import SidecarError, failed_precondition, invalid_argument, workflow_not_found
from sidecar.workflow import history as h
from sidecar.workflow.model import ActivityItem, InboxItem, Instance
from sidecar.workflow.protos import pb
from sidecar.workflow.store import Batch, InstanceQuery, WorkflowStore
from sidecar.workflow.transitions import (
    ChildStart,
    Message,
    TurnOutcome,
    apply_turn,
    execution_started,
)

log = logging.getLogger("sidecar.workflow")


@dataclass
class EngineSettings:
    lease_seconds: float = 300.0
    # An instance whose new events are only results of a fan-out that is still running
    # waits for more results, so that a `when_all` over many activities replays its growing
    # history a few times instead of once per result: `fan_in_seconds_per_task` for each
    # activity still outstanding, at most `fan_in_window_seconds`.
    fan_in_window_seconds: float = 0.1
    fan_in_seconds_per_task: float = 0.001
    health_ping_seconds: float = 10.0
    max_in_flight_per_stream: int = 256
    max_payload_bytes: int = 4 * 1024 * 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class WorkflowEngine:
    def __init__(
        self,
        store: WorkflowStore,
        settings: EngineSettings | None = None,
        app_id: str = "",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.settings = settings or EngineSettings()
        self.app_id = app_id
        self._clock = clock
        self._active: dict[str, Instance] = {}
        self._inbox: dict[str, list[InboxItem]] = {}
        self._timers: list[tuple[float, int, InboxItem]] = []
        self._pending_timers: dict[int, InboxItem] = {}
        self._ready: deque[str] = deque()
        self._ready_set: set[str] = set()
        self._locked: dict[str, Lease] = {}
        self._activity_queue: deque[ActivityItem] = deque()
        self._outstanding: dict[str, dict[int, ActivityItem]] = {}
        self._held: set[str] = set()
        self._leases: dict[str, Lease] = {}
        self._streams: list[WorkerStream] = []
        self._stream_ids = itertools.count(1)
        # Tokens of a previous sidecar process can never match: each process has its own id.
        self._boot_id = uuid.uuid4().hex[:12]
        self._token_numbers = itertools.count(1)
        self._waiters: dict[str, list[tuple[Callable[[Instance], bool], asyncio.Future[None]]]] = {}
        self._timer_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        instances, inbox, activities = self.store.load_active()
        for instance in instances:
            self._active[instance.instance_id] = instance
        now = self._clock()
        for item in inbox:
            self._add_inbox_item(item, now)
        self._queue_activities(activities)
        log.info(
            "workflow engine loaded",
            extra={
                "active_instances": len(instances),
                "inbox_events": len(inbox),
                "activities": len(activities),
            },
        )
        self._tasks = [
            asyncio.create_task(self._run_timers(), name="workflow-timers"),
            asyncio.create_task(self._run_housekeeping(), name="workflow-housekeeping"),
        ]
        self._pump()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for stream in list(self._streams):
            stream.queue.put_nowait(None)

    # -- client API --------------------------------------------------------------------

    def start_instance(self, request: pb.CreateInstanceRequest) -> str:
        instance_id = request.instanceId or uuid.uuid4().hex
        if not request.name:
            raise invalid_argument("a workflow name is required to start an instance")
        self._check_size(request)
        existing = self.find(instance_id)
        if existing is not None and not existing.terminal:
            raise SidecarError(
                grpc.StatusCode.ALREADY_EXISTS,
                "WORKFLOW_ALREADY_EXISTS",
                f"a workflow instance with id '{instance_id}' already exists and is "
                f"{h.status_name(existing.status)}; ids can be reused once it is terminal",
            )
        now = self._clock()
        scheduled = (
            h.to_datetime(request.scheduledStartTimestamp)
            if request.HasField("scheduledStartTimestamp")
            else None
        )
        instance = Instance(
            instance_id=instance_id,
            execution_id=h.optional_string(request, "executionId") or uuid.uuid4().hex,
            name=request.name,
            created_at=now,
            last_updated_at=now,
            input=h.optional_string(request, "input"),
            scheduled_start_at=scheduled,
        )
        batch = Batch("start-instance")
        if existing is not None:
            batch.purges.append(instance_id)
        self._create(instance, batch, h.optional_string(request, "version"))
        self.store.commit(batch)
        self._apply_created(batch)
        log.info(
            "workflow started",
            extra={"instance_id": instance_id, "workflow": request.name},
        )
        self._pump()
        return instance_id

    def get_instance(self, instance_id: str) -> Instance:
        instance = self.find(instance_id)
        if instance is None:
            raise workflow_not_found(instance_id)
        return instance

    async def wait_for(self, instance_id: str, condition: Callable[[Instance], bool]) -> Instance:
        instance = self.get_instance(instance_id)
        while not condition(instance):
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
            instance = self.get_instance(instance_id)
        return instance

    def raise_event(self, instance_id: str, name: str, data: str | None) -> None:
        instance = self.get_instance(instance_id)
        if instance.terminal:
            log.info(
                "event for a finished workflow dropped",
                extra={"instance_id": instance_id, "event": name},
            )
            return
        self._post(instance_id, h.event_raised(self._clock(), name, data), "raise-event")

    def suspend(self, instance_id: str, reason: str | None) -> None:
        instance = self._require_active(instance_id, "suspend")
        if instance.status == h.SUSPENDED:
            return
        self._post(instance_id, h.execution_suspended(self._clock(), reason), "suspend-instance")

    def resume(self, instance_id: str, reason: str | None) -> None:
        self._require_active(instance_id, "resume")
        self._post(instance_id, h.execution_resumed(self._clock(), reason), "resume-instance")

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        instance = self.get_instance(instance_id)
        if instance.terminal:
            return
        if not instance.history and instance_id not in self._locked:
            self._terminate_unstarted(instance, output)
            return
        self._post(
            instance_id,
            h.execution_terminated(self._clock(), output, recursive),
            "terminate-instance",
        )

    def purge(self, instance_id: str, recursive: bool, force: bool) -> int:
        instance = self.get_instance(instance_id)
        if not instance.terminal and not force:
            raise failed_precondition(
                f"workflow instance '{instance_id}' is {h.status_name(instance.status)}; "
                "only a completed, failed or terminated instance can be purged",
                "WORKFLOW_NOT_TERMINAL",
            )
        ids = self._purge_closure(instance_id) if recursive else [instance_id]
        batch = Batch("purge-instances", purges=ids)
        self.store.commit(batch)
        for purged in ids:
            self._forget(purged)
        log.info("workflow purged", extra={"instance_id": instance_id, "purged": len(ids)})
        return len(ids)

    def purge_where(self, query: InstanceQuery, recursive: bool) -> int:
        # Only terminal instances are ever purged; a filter naming no terminal status
        # matches nothing rather than falling back to every terminal status.
        statuses = (
            tuple(s for s in query.statuses if h.is_terminal(s))
            if query.statuses
            else tuple(h.TERMINAL_STATUSES)
        )
        if not statuses:
            return 0
        matches = self.store.query_instances(
            InstanceQuery(statuses, query.created_from, query.created_to, query.name)
        )
        ids: list[str] = []
        for match in matches:
            ids.extend(self._purge_closure(match.instance_id) if recursive else [match.instance_id])
        unique = list(dict.fromkeys(ids))
        if unique:
            self.store.commit(Batch("purge-instances", purges=unique))
            for purged in unique:
                self._forget(purged)
        return len(unique)

    def list_instance_ids(
        self, page_size: int | None, continuation_token: str | None
    ) -> tuple[list[str], str | None]:
        size = page_size or 1000
        after = _decode_token(continuation_token) if continuation_token else None
        rows = self.store.list_instance_ids(size + 1, after)
        more = len(rows) > size
        rows = rows[:size]
        token = _encode_token(rows[-1]) if more and rows else None
        return [row[1] for row in rows], token

    def history(self, instance_id: str) -> list[pb.HistoryEvent]:
        instance = self.get_instance(instance_id)
        if instance_id in self._active:
            return list(instance.history)
        return self.store.get_history(instance_id)

    def rerun_from_event(self, request: pb.RerunWorkflowFromEventRequest) -> str:
        source = self.get_instance(request.sourceInstanceID)
        if not source.terminal or source.parent is not None:
            raise invalid_argument(
                f"workflow instance '{source.instance_id}' cannot be rerun: only a finished "
                "top-level instance can (it is "
                f"{'a child workflow' if source.parent else h.status_name(source.status)})",
                "WORKFLOW_NOT_RERUNNABLE",
            )
        events = self.history(source.instance_id)
        cut = next(
            (
                n
                for n, e in enumerate(events)
                if e.eventId == request.eventID and h.event_kind(e) == "taskScheduled"
            ),
            None,
        )
        if cut is None:
            raise SidecarError(
                grpc.StatusCode.NOT_FOUND,
                "WORKFLOW_EVENT_NOT_FOUND",
                f"workflow instance '{source.instance_id}' has no activity scheduled with "
                f"event id {request.eventID}; a rerun starts from a scheduled activity",
            )
        new_id = request.newInstanceID if request.HasField("newInstanceID") else uuid.uuid4().hex
        if self.find(new_id) is not None:
            raise SidecarError(
                grpc.StatusCode.ALREADY_EXISTS,
                "WORKFLOW_ALREADY_EXISTS",
                f"a workflow instance with id '{new_id}' already exists",
            )
        now = self._clock()
        instance = Instance(
            instance_id=new_id,
            execution_id=uuid.uuid4().hex,
            name=source.name,
            created_at=now,
            last_updated_at=now,
            status=h.RUNNING,
            started_at=now,
            input=source.input,
        )
        replayed = _rerun_history(events[:cut], instance, now)
        rescheduled = events[cut]
        instance.history = replayed
        batch = Batch("rerun-workflow")
        batch.instances.append(instance)
        batch.history_appends.append((new_id, 0, replayed))
        # The activity is scheduled again; re-running its turn would let the workflow
        # continue from exactly the point chosen. A new input is the activity's, not the
        # workflow's (daprd: "the input to the rerun activity").
        task = rescheduled.taskScheduled
        activity_input = (
            h.string_value(h.optional_string(request, "input"))
            if request.overwriteInput
            else (task.input if task.HasField("input") else None)
        )
        batch.activity_inserts.append(
            ActivityItem(
                0,
                new_id,
                instance.execution_id,
                pb.ActivityRequest(
                    name=task.name,
                    input=activity_input,
                    workflowInstance=pb.WorkflowInstance(
                        instanceId=new_id, executionId=h.string_value(instance.execution_id)
                    ),
                    taskId=rescheduled.eventId,
                    taskExecutionId=uuid.uuid4().hex,
                ),
            )
        )
        replayed.append(
            h.new_event(
                now,
                rescheduled.eventId,
                taskScheduled=pb.TaskScheduledEvent(
                    name=task.name,
                    input=activity_input,
                    taskExecutionId=batch.activity_inserts[0].request.taskExecutionId,
                ),
            )
        )
        self.store.commit(batch)
        self._active[new_id] = instance
        self._queue_activities(batch.activity_inserts)
        self._pump()
        return new_id

    # -- worker API --------------------------------------------------------------------

    async def work_items(
        self, capabilities: list[int], is_active: Callable[[], bool]
    ) -> AsyncIterator[pb.WorkItem]:
        stream = WorkerStream(
            stream_id=next(self._stream_ids),
            health_ping=pb.WORKER_CAPABILITY_HEALTH_PING in capabilities,
            stateful=pb.WORKER_CAPABILITY_STATEFUL_HISTORY in capabilities,
        )
        self._streams.append(stream)
        log.info("worker connected", extra={"stream": stream.stream_id})
        self._pump()
        try:
            while is_active():
                item = await stream.queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._close_stream(stream)

    def complete_orchestration(self, response: pb.WorkflowResponse) -> None:
        self._check_size(response)
        lease = self._take_lease(response.completionToken, response.instanceId)
        if lease is None or lease.activity is not None:
            return
        instance = self._active.get(lease.instance_id)
        if instance is None:
            return
        if any(action.HasField("completeWorkflow") for action in response.actions):
            # The worker drops its cached history of an execution that ends.
            lease.stream.cached.pop(lease.instance_id, None)
        now = self._clock()
        outcome = apply_turn(instance, lease.new_events, response, now, _new_id)
        batch = self._turn_batch(instance, lease, outcome)
        self.store.commit(batch)
        self._apply_turn(instance, lease, outcome, batch)

    def complete_activity(self, response: pb.ActivityResponse) -> None:
        self._check_size(response)
        lease = self._take_lease(response.completionToken, response.instanceId)
        if lease is None or lease.activity is None:
            return
        activity = lease.activity
        self._outstanding.get(activity.instance_id, {}).pop(activity.item_id, None)
        now = self._clock()
        request = activity.request
        if response.HasField("failureDetails"):
            event = h.new_event(
                now,
                taskFailed=pb.TaskFailedEvent(
                    taskScheduledId=request.taskId,
                    failureDetails=response.failureDetails,
                    taskExecutionId=request.taskExecutionId,
                ),
            )
        else:
            event = h.new_event(
                now,
                taskCompleted=pb.TaskCompletedEvent(
                    taskScheduledId=request.taskId,
                    result=response.result if response.HasField("result") else None,
                    taskExecutionId=request.taskExecutionId,
                ),
            )
        batch = Batch("complete-activity", activity_deletes=[activity.item_id])
        instance = self._active.get(activity.instance_id)
        if instance is not None and instance.execution_id == activity.execution_id:
            batch.inbox_inserts.append(
                InboxItem(0, activity.instance_id, event, now, activity.execution_id)
            )
        self.store.commit(batch)
        for item in batch.inbox_inserts:
            self._add_inbox_item(item, now)
        self._pump()

    # -- internals: state changes ------------------------------------------------------

    def find(self, instance_id: str) -> Instance | None:
        return self._active.get(instance_id) or self.store.get_instance(instance_id)

    def _require_active(self, instance_id: str, verb: str) -> Instance:
        instance = self.get_instance(instance_id)
        if instance.terminal:
            raise failed_precondition(
                f"cannot {verb} workflow instance '{instance_id}': it is "
                f"{h.status_name(instance.status)}",
                "WORKFLOW_NOT_RUNNING",
            )
        return instance

    def _check_size(self, message: object) -> None:
        size = message.ByteSize()  # type: ignore[attr-defined]
        if size > self.settings.max_payload_bytes:
            raise SidecarError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "PAYLOAD_TOO_LARGE",
                f"message of {size} bytes exceeds the sidecar's limit of "
                f"{self.settings.max_payload_bytes} bytes (--max-body-size)",
            )

    def _post(self, instance_id: str, event: pb.HistoryEvent, name: str) -> None:
        self._check_size(event)
        now = self._clock()
        item = InboxItem(0, instance_id, event, now)
        self.store.commit(Batch(name, inbox_inserts=[item]))
        self._add_inbox_item(item, now)
        self._pump()

    def _create(self, instance: Instance, batch: Batch, version: str | None = None) -> None:
        start = execution_started(
            self._clock(),
            instance.instance_id,
            instance.execution_id,
            instance.name,
            instance.input,
            instance.parent,
            instance.scheduled_start_at,
            version,
        )
        visible = instance.scheduled_start_at or instance.created_at
        batch.instances.append(instance)
        batch.inbox_inserts.append(
            InboxItem(0, instance.instance_id, start, visible, instance.execution_id)
        )

    def _apply_created(self, batch: Batch) -> None:
        now = self._clock()
        for instance in batch.instances:
            if instance.instance_id not in self._active:
                self._forget(instance.instance_id)
                self._active[instance.instance_id] = instance
        for item in batch.inbox_inserts:
            self._add_inbox_item(item, now)

    def _terminate_unstarted(self, instance: Instance, output: str | None) -> None:
        response = pb.WorkflowResponse(
            instanceId=instance.instance_id,
            actions=[
                pb.WorkflowAction(
                    id=-1,
                    completeWorkflow=pb.CompleteWorkflowAction(
                        workflowStatus=h.TERMINATED, result=h.string_value(output)
                    ),
                )
            ],
        )
        outcome = apply_turn(instance, [], response, self._clock(), _new_id)
        lease = Lease("", WorkerStream(0, False), instance.instance_id, 0.0)
        batch = self._turn_batch(instance, lease, outcome)
        batch.name = "terminate-instance"
        self.store.commit(batch)
        self._apply_turn(instance, lease, outcome, batch)

    def _turn_batch(self, before: Instance, lease: Lease, outcome: TurnOutcome) -> Batch:
        after = outcome.instance
        iid = after.instance_id
        now = after.last_updated_at
        batch = Batch("complete-orchestrator-task", instances=[after])
        batch.inbox_deletes.extend(lease.inbox_ids)
        if outcome.history_reset:
            batch.history_resets.append(iid)
            batch.inbox_clears.append((iid, before.execution_id))
            batch.activity_clears.append(iid)
            batch.inbox_inserts.extend(
                InboxItem(0, iid, event, now, after.execution_id if n == 0 else None)
                for n, event in enumerate(outcome.next_inbox)
            )
            # The new execution sees the carried-over events first, as in durabletask-go;
            # events raised while this turn ran are moved behind them.
            consumed = set(lease.inbox_ids)
            for item in self._inbox.get(iid, []):
                if item.item_id not in consumed and item.execution_id is None:
                    batch.inbox_deletes.append(item.item_id)
                    batch.inbox_inserts.append(InboxItem(0, iid, item.event, item.visible_at))
        elif outcome.appended:
            batch.history_appends.append((iid, len(before.history), outcome.appended))
        if after.terminal:
            batch.inbox_clears.append((iid, None))
            batch.activity_clears.append(iid)
        batch.activity_inserts.extend(
            ActivityItem(0, iid, after.execution_id, request) for request in outcome.activities
        )
        batch.inbox_inserts.extend(
            InboxItem(0, iid, event, fire_at, after.execution_id)
            for fire_at, event in outcome.timers
        )
        created: dict[str, Instance] = {}
        for child in outcome.children:
            self._add_child(child, now, batch, created)
        for message in outcome.messages:
            self._add_message(message, now, batch, created)
        return batch

    def _add_child(
        self, child: ChildStart, now: datetime, batch: Batch, created: dict[str, Instance]
    ) -> None:
        existing = created.get(child.instance_id) or self.find(child.instance_id)
        if existing is not None and not existing.terminal:
            if child.parent is not None:
                failure = pb.TaskFailureDetails(
                    errorType="WorkflowAlreadyExists",
                    errorMessage=f"a workflow instance with id '{child.instance_id}' "
                    "already exists and is running",
                    isNonRetriable=True,
                )
                event = h.new_event(
                    now,
                    childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                        taskScheduledId=child.parent.task_id, failureDetails=failure
                    ),
                )
                batch.inbox_inserts.append(
                    InboxItem(0, child.parent.instance_id, event, now, child.parent.execution_id)
                )
            return
        if existing is not None:
            batch.purges.append(child.instance_id)
        instance = Instance(
            instance_id=child.instance_id,
            execution_id=uuid.uuid4().hex,
            name=child.name,
            created_at=now,
            last_updated_at=now,
            input=child.input,
            parent=child.parent,
        )
        created[child.instance_id] = instance
        self._create(instance, batch, child.version)

    def _add_message(
        self, message: Message, now: datetime, batch: Batch, created: dict[str, Instance]
    ) -> None:
        target = created.get(message.instance_id) or self._active.get(message.instance_id)
        if target is None or (
            message.execution_id is not None and message.execution_id != target.execution_id
        ):
            log.info(
                "message for an inactive workflow dropped",
                extra={"instance_id": message.instance_id, "event": h.event_kind(message.event)},
            )
            return
        batch.inbox_inserts.append(
            InboxItem(0, message.instance_id, message.event, now, message.execution_id)
        )

    def _apply_turn(
        self, before: Instance, lease: Lease, outcome: TurnOutcome, batch: Batch
    ) -> None:
        after = outcome.instance
        iid = after.instance_id
        now = self._clock()
        self._locked.pop(iid, None)
        consumed = set(lease.inbox_ids) | set(batch.inbox_deletes)
        self._inbox[iid] = [i for i in self._inbox.get(iid, []) if i.item_id not in consumed]
        for purged in batch.purges:
            self._forget(purged)
        if outcome.history_reset:
            self._drop_pending(iid, before.execution_id)
        if after.terminal:
            self._drop_pending(iid, None)
            self._active.pop(iid, None)
            self._inbox.pop(iid, None)
            log.info(
                "workflow finished",
                extra={"instance_id": iid, "status": h.status_name(after.status)},
            )
        else:
            self._active[iid] = after
        for instance in batch.instances[1:]:
            self._active[instance.instance_id] = instance
        for item in batch.inbox_inserts:
            self._add_inbox_item(item, now)
        self._queue_activities(batch.activity_inserts)
        self._notify(after)
        if self._inbox.get(iid):
            self._mark_ready(iid)
        self._pump()

    def _drop_pending(self, instance_id: str, execution_id: str | None) -> None:
        """Forgets queued timers, inbox events and activities of an execution that ended."""

        def stale(item_execution: str | None) -> bool:
            return execution_id is None or item_execution == execution_id

        self._inbox[instance_id] = [
            i for i in self._inbox.get(instance_id, []) if not stale(i.execution_id)
        ]
        for item_id, item in list(self._pending_timers.items()):
            if item.instance_id == instance_id and stale(item.execution_id):
                del self._pending_timers[item_id]
        outstanding = self._outstanding.get(instance_id)
        if not outstanding:
            return
        for item_id, activity in list(outstanding.items()):
            if stale(activity.execution_id):
                del outstanding[item_id]
        if not outstanding:
            del self._outstanding[instance_id]
        self._activity_queue = deque(
            a
            for a in self._activity_queue
            if not (a.instance_id == instance_id and stale(a.execution_id))
        )
        for token, lease in list(self._leases.items()):
            if (
                lease.activity is not None
                and lease.instance_id == instance_id
                and stale(lease.activity.execution_id)
            ):
                self._release(token)

    def _queue_activities(self, activities: list[ActivityItem]) -> None:
        for activity in activities:
            self._outstanding.setdefault(activity.instance_id, {})[activity.item_id] = activity
        self._activity_queue.extend(activities)

    def _holds_for_fan_in(self, iid: str, items: list[InboxItem]) -> bool:
        """True while an instance's new events are only results of a still-running fan-out
        younger than the fan-in window; it is looked at again when the window ends."""
        outstanding = len(self._outstanding.get(iid, ()))
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
        self._mark_ready(iid)
        self._pump()

    def _forget(self, instance_id: str) -> None:
        self._active.pop(instance_id, None)
        self._inbox.pop(instance_id, None)
        self._drop_pending(instance_id, None)
        lease = self._locked.pop(instance_id, None)
        if lease is not None:
            self._leases.pop(lease.token, None)

    def _purge_closure(self, instance_id: str) -> list[str]:
        ids = [instance_id]
        for child in h.all_children(self.history(instance_id)):
            if self.find(child) is not None:
                ids.extend(self._purge_closure(child))
        return ids

    def _notify(self, instance: Instance) -> None:
        for condition, future in list(self._waiters.get(instance.instance_id, [])):
            if not future.done() and condition(instance):
                future.set_result(None)

    # -- internals: queues and dispatch ------------------------------------------------

    def _add_inbox_item(self, item: InboxItem, now: datetime) -> None:
        if item.instance_id not in self._active:
            return
        if item.visible_at > now:
            self._pending_timers[item.item_id] = item
            heapq.heappush(self._timers, (item.visible_at.timestamp(), item.item_id, item))
            self._timer_changed.set()
            return
        self._inbox.setdefault(item.instance_id, []).append(item)
        self._mark_ready(item.instance_id)

    def _mark_ready(self, instance_id: str) -> None:
        if instance_id not in self._ready_set:
            self._ready_set.add(instance_id)
            self._ready.append(instance_id)

    def _pick_stream(self, kind: str) -> WorkerStream | None:
        best: WorkerStream | None = None
        for stream in self._streams:
            load = stream.orchestrations if kind == "orchestration" else stream.activities
            if stream.closed or load >= self.settings.max_in_flight_per_stream:
                continue
            if best is None or load < (
                best.orchestrations if kind == "orchestration" else best.activities
            ):
                best = stream
        return best

    def _pump(self) -> None:
        """Hands every dispatchable work item to a connected worker with room for it."""
        while self._ready:
            stream = self._pick_stream("orchestration")
            if stream is None:
                break
            iid = self._ready.popleft()
            self._ready_set.discard(iid)
            if iid in self._locked:
                continue
            self._dispatch_orchestration(iid, stream)
        while self._activity_queue:
            stream = self._pick_stream("activity")
            if stream is None:
                break
            activity = self._activity_queue.popleft()
            self._dispatch_activity(activity, stream)

    def _dispatch_orchestration(self, iid: str, stream: WorkerStream) -> None:
        instance = self._active.get(iid)
        items = self._inbox.get(iid, [])
        if instance is None or not items:
            return
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
        self._locked[iid] = lease
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
        stream.activities += 1
        stream.queue.put_nowait(
            pb.WorkItem(activityRequest=activity.request, completionToken=lease.token)
        )

    def _lease(self, stream: WorkerStream, instance_id: str) -> Lease:
        token = f"{self._boot_id}-{next(self._token_numbers):x}"
        lease = Lease(token, stream, instance_id, time.monotonic() + self.settings.lease_seconds)
        self._leases[token] = lease
        stream.tokens.add(token)
        return lease

    def _take_lease(self, token: str, instance_id: str) -> Lease | None:
        lease = self._leases.pop(token, None)
        if lease is None:
            log.info(
                "stale or duplicate completion ignored",
                extra={"instance_id": instance_id},
            )
            return None
        self._unhold(lease)
        return lease

    def _unhold(self, lease: Lease) -> None:
        stream = lease.stream
        stream.tokens.discard(lease.token)
        if lease.activity is not None:
            stream.activities -= 1
        else:
            stream.orchestrations -= 1

    def _release(self, token: str) -> None:
        """Takes a work item back from its worker so that it is dispatched again."""
        lease = self._leases.pop(token, None)
        if lease is None:
            return
        self._unhold(lease)
        if lease.activity is not None:
            instance = self._active.get(lease.instance_id)
            if instance is not None and instance.execution_id == lease.activity.execution_id:
                self._activity_queue.appendleft(lease.activity)
        elif self._locked.get(lease.instance_id) is lease:
            del self._locked[lease.instance_id]
            self._mark_ready(lease.instance_id)

    def _close_stream(self, stream: WorkerStream) -> None:
        stream.closed = True
        if stream in self._streams:
            self._streams.remove(stream)
        for token in list(stream.tokens):
            self._release(token)
        log.info("worker disconnected", extra={"stream": stream.stream_id})
        self._pump()

    async def _run_timers(self) -> None:
        while True:
            self._timer_changed.clear()
            while self._timers and self._timers[0][2].item_id not in self._pending_timers:
                heapq.heappop(self._timers)
            delay = self._timers[0][0] - time.time() if self._timers else 3600.0
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._timer_changed.wait(), timeout=min(delay, 3600))
                continue
            now = self._clock()
            while self._timers and self._timers[0][0] <= now.timestamp():
                _, item_id, item = heapq.heappop(self._timers)
                if self._pending_timers.pop(item_id, None) is not None:
                    self._add_inbox_item(item, now)
            self._pump()

    async def _run_housekeeping(self) -> None:
        """Expires leases of workers that went quiet, and pings streams that asked for it."""
        interval = min(1.0, self.settings.lease_seconds / 4)
        last_ping = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            expired = [t for t, lease in self._leases.items() if lease.expires_at <= now]
            for token in expired:
                lease = self._leases[token]
                log.warning(
                    "work item lease expired; dispatching it again",
                    extra={"instance_id": lease.instance_id},
                )
                self._release(token)
            if now - last_ping >= self.settings.health_ping_seconds:
                last_ping = now
                for stream in self._streams:
                    if stream.health_ping:
                        stream.queue.put_nowait(pb.WorkItem(healthPing=pb.HealthPing()))
            if expired:
                self._pump()

    # -- introspection (tests, metadata) -----------------------------------------------

    def stats(self) -> dict[str, int]:
        return {
            "active_instances": len(self._active),
            "connected_workers": len(self._streams),
            "leases": len(self._leases),
            "queued_activities": len(self._activity_queue),
            "pending_timers": len(self._pending_timers),
        }


_TASK_RESULTS = frozenset({"taskCompleted", "taskFailed"})


def _new_id() -> str:
    return uuid.uuid4().hex


def _rerun_history(
    events: list[pb.HistoryEvent], instance: Instance, now: datetime
) -> list[pb.HistoryEvent]:
    """The prefix of a source history, rebound to the new instance id and input."""
    replayed: list[pb.HistoryEvent] = []
    for event in events:
        copy = pb.HistoryEvent()
        copy.CopyFrom(event)
        if h.event_kind(copy) == "executionStarted":
            started = copy.executionStarted
            started.workflowInstance.instanceId = instance.instance_id
            started.workflowInstance.executionId.value = instance.execution_id
            if instance.input is None:
                started.ClearField("input")
            else:
                started.input.value = instance.input
        replayed.append(copy)
    return replayed


def _encode_token(row: tuple[float, str]) -> str:
    return f"{row[0]!r}|{row[1]}"


def _decode_token(token: str) -> tuple[float, str]:
    created, _, instance_id = token.partition("|")
    try:
        return float(created), instance_id
    except ValueError:
        raise invalid_argument(f"invalid continuation token '{token}'") from None
