"""Commits of state changes: a turn's outcome or an activity's result becomes one `Batch`,
the store commits it, then memory (the mirror and the leases) follows, in that order.

Acknowledging a change only after its transaction committed is what makes every
acknowledged change survive a crash; mirroring it only after the commit keeps memory from
running ahead of the database.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sidecar.workflow import crossapp
from sidecar.workflow import history as h
from sidecar.workflow.dispatch import Dispatcher
from sidecar.workflow.outbox import Outbox
from sidecar.workflow.protos import pb
from sidecar.workflow.records import ActivityItem, InboxItem, Instance, OutboxItem
from sidecar.workflow.state import InstanceState
from sidecar.workflow.store import Batch, WorkflowStore
from sidecar.workflow.transitions import (
    ChildStart,
    Message,
    TurnOutcome,
    apply_turn,
    execution_started,
)

log = logging.getLogger("sidecar.workflow")


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Commits:
    store: WorkflowStore
    state: InstanceState
    dispatcher: Dispatcher
    outbox: Outbox
    clock: Callable[[], datetime]
    app_id: str = ""

    def commit_turn(
        self,
        before: Instance,
        new_events: list[pb.HistoryEvent],
        inbox_ids: list[int],
        response: pb.WorkflowResponse,
        name: str,
    ) -> None:
        """Applies a turn (the inbox items it consumed, the worker's answer) and commits it.

        A stalled turn consumes nothing: its events wait for a worker that can replay."""
        outcome = apply_turn(before, new_events, response, self.clock(), _new_id, self.app_id)
        consumed = [] if outcome.stalled else inbox_ids
        batch = self._turn_batch(before, consumed, outcome, name)
        self.commit(batch)
        self._apply_turn(before, consumed, outcome, batch)

    def commit_activity_result(self, activity: ActivityItem, response: pb.ActivityResponse) -> None:
        """Hands an activity's result to its instance, unless the execution that scheduled it
        has ended. A failed commit (a full disk) leaves the activity outstanding: its lease
        dispatches it again."""
        now = self.clock()
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
        instance = self.state.active.get(activity.instance_id)
        if activity.reply_app_id is not None:
            message = crossapp.message(activity.instance_id, activity.execution_id, event)
            batch.outbox_inserts.append(OutboxItem(0, activity.reply_app_id, message))
        elif instance is not None and instance.execution_id == activity.execution_id:
            batch.inbox_inserts.append(
                InboxItem(0, activity.instance_id, event, now, activity.execution_id)
            )
        self.commit(batch)
        self.state.outstanding.get(activity.instance_id, {}).pop(activity.item_id, None)
        for item in batch.inbox_inserts:
            self.state.add_inbox_item(item, now)
        self.dispatcher.pump()

    def create(
        self,
        instance: Instance,
        batch: Batch,
        version: str | None = None,
        trace: pb.TraceContext | None = None,
    ) -> None:
        """Adds a new instance, and the executionStarted event of its first turn, to a batch."""
        start = execution_started(
            self.clock(),
            instance.instance_id,
            instance.execution_id,
            instance.name,
            instance.input,
            instance.parent,
            instance.scheduled_start_at,
            version,
            trace,
        )
        visible = instance.scheduled_start_at or instance.created_at
        batch.instances.append(instance)
        batch.inbox_inserts.append(
            InboxItem(0, instance.instance_id, start, visible, instance.execution_id)
        )

    def apply_created(self, batch: Batch) -> None:
        now = self.clock()
        for instance in batch.instances:
            if instance.instance_id not in self.state.active:
                self.forget(instance.instance_id)
                self.state.active[instance.instance_id] = instance
        for item in batch.inbox_inserts:
            self.state.add_inbox_item(item, now)

    def post(
        self,
        instance_id: str,
        event: pb.HistoryEvent,
        name: str,
        execution_id: str | None = None,
    ) -> None:
        """Commits one event for an instance's inbox (bound to `execution_id` when given)."""
        now = self.clock()
        item = InboxItem(0, instance_id, event, now, execution_id)
        self.commit(Batch(name, inbox_inserts=[item]))
        self.state.add_inbox_item(item, now)
        self.dispatcher.pump()

    def commit(self, batch: Batch) -> None:
        """Commits a batch, then hands the messages it wrote for other apps to the outbox."""
        self.store.commit(batch)
        self.outbox.send(batch.outbox_inserts)

    def purge(self, ids: list[str]) -> None:
        self.commit(Batch("purge-instances", purges=ids))
        for purged in ids:
            self.forget(purged)

    def forget(self, instance_id: str) -> None:
        self.state.active.pop(instance_id, None)
        self.state.inbox.pop(instance_id, None)
        self._drop_pending(instance_id, None)
        self.dispatcher.drop_lock(instance_id)

    def _drop_pending(self, instance_id: str, ended: str | None) -> None:
        if self.state.drop_pending(instance_id, ended):
            self.dispatcher.revoke_activities(instance_id, ended)

    def _turn_batch(
        self, before: Instance, inbox_ids: list[int], outcome: TurnOutcome, name: str
    ) -> Batch:
        after = outcome.instance
        iid = after.instance_id
        now = after.last_updated_at
        batch = Batch(name, instances=[after])
        batch.inbox_deletes.extend(inbox_ids)
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
            consumed = set(inbox_ids)
            for item in self.state.inbox.get(iid, []):
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
        batch.outbox_inserts.extend(OutboxItem(0, app, m) for app, m in outcome.remote)
        created: dict[str, Instance] = {}
        for child in outcome.children:
            self.add_child(child, now, batch, created)
        for message in outcome.messages:
            self._add_message(message, now, batch, created)
        return batch

    def add_child(
        self, child: ChildStart, now: datetime, batch: Batch, created: dict[str, Instance]
    ) -> None:
        """Adds a child (or detached) instance to a batch; a child whose id is taken by a
        running instance fails its parent's task instead."""
        existing = created.get(child.instance_id) or self.state.find(child.instance_id)
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
                parent = child.parent
                report = Message(parent.instance_id, event, parent.execution_id, parent.app_id)
                self._add_message(report, now, batch, created)
            return
        if existing is not None:
            batch.purges.append(child.instance_id)
        instance = Instance(
            instance_id=child.instance_id,
            execution_id=child.execution_id or uuid.uuid4().hex,
            name=child.name,
            created_at=now,
            last_updated_at=now,
            input=child.input,
            parent=child.parent,
        )
        created[child.instance_id] = instance
        self.create(instance, batch, child.version, child.trace)

    def _add_message(
        self, message: Message, now: datetime, batch: Batch, created: dict[str, Instance]
    ) -> None:
        if message.app_id not in (None, self.app_id):
            remote = crossapp.message(message.instance_id, message.execution_id, message.event)
            batch.outbox_inserts.append(OutboxItem(0, message.app_id, remote))
            return
        target = created.get(message.instance_id) or self.state.active.get(message.instance_id)
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
        self, before: Instance, inbox_ids: list[int], outcome: TurnOutcome, batch: Batch
    ) -> None:
        after = outcome.instance
        iid = after.instance_id
        now = self.clock()
        self.dispatcher.locked.pop(iid, None)
        consumed = set(inbox_ids) | set(batch.inbox_deletes)
        self.state.inbox[iid] = [
            i for i in self.state.inbox.get(iid, []) if i.item_id not in consumed
        ]
        for purged in batch.purges:
            self.forget(purged)
        if outcome.history_reset:
            self._drop_pending(iid, before.execution_id)
        if after.terminal:
            self._drop_pending(iid, None)
            self.state.active.pop(iid, None)
            self.state.inbox.pop(iid, None)
            log.info(
                "workflow finished",
                extra={"instance_id": iid, "status": h.status_name(after.status)},
            )
        else:
            self.state.active[iid] = after
        for instance in batch.instances[1:]:
            self.state.active[instance.instance_id] = instance
        for item in batch.inbox_inserts:
            self.state.add_inbox_item(item, now)
        self.state.queue_activities(batch.activity_inserts)
        self.state.notify(after)
        if self.state.inbox.get(iid):
            self.state.mark_ready(iid)
        self.dispatcher.pump()
