"""What another app's sidecar asks of this one in a cross-app workflow (`crossapp`): run an
activity for one of its workflows, start a child workflow of its own, or take an event (a
result, a termination) for an instance of this app.

Each request is committed before it is acknowledged, so the sender may forget it then.
A request can arrive twice (its sender crashed before it saw the answer): a child whose
execution already exists and a result the instance already holds are acknowledged and
ignored; an activity may run twice, as any activity may.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sidecar.workflow import crossapp
from sidecar.workflow import history as h
from sidecar.workflow.commits import Commits
from sidecar.workflow.protos import backend
from sidecar.workflow.records import ActivityItem, ParentRef
from sidecar.workflow.settings import EngineSettings
from sidecar.workflow.store import Batch
from sidecar.workflow.transitions import ChildStart

log = logging.getLogger("sidecar.workflow")


@dataclass
class Inbound:
    commits: Commits
    settings: EngineSettings

    def deliver(self, message: backend.WorkflowMessage) -> None:
        self.settings.check_size(message)
        kind = h.event_kind(message.event)
        if kind == "taskScheduled":
            self._run_activity(message)
        elif kind == "executionStarted":
            self._start_child(message)
        else:
            self._add_event(message)

    def _run_activity(self, call: backend.WorkflowMessage) -> None:
        caller = call.event.router.sourceAppID
        activity = ActivityItem(
            0,
            call.instance.instanceId,
            call.instance.executionId.value,
            crossapp.activity_request(call),
            reply_app_id=caller,
        )
        self.commits.commit(Batch("cross-app-activity", activity_inserts=[activity]))
        self.commits.state.queue_activities([activity])
        self.commits.dispatcher.pump()

    def _start_child(self, start: backend.WorkflowMessage) -> None:
        execution_id = start.instance.executionId.value
        existing = self.commits.state.find(start.instance.instanceId)
        if existing is not None and existing.execution_id == execution_id:
            return
        started = start.event.executionStarted
        origin = started.parentInstance
        parent = ParentRef(
            origin.workflowInstance.instanceId,
            origin.workflowInstance.executionId.value,
            origin.taskScheduledId,
            origin.name.value,
            origin.appID,
        )
        child = ChildStart(
            instance_id=start.instance.instanceId,
            name=started.name,
            input=h.optional_string(started, "input"),
            parent=parent,
            version=h.optional_string(started, "version"),
            execution_id=execution_id,
            trace=started.parentTraceContext if started.HasField("parentTraceContext") else None,
        )
        batch = Batch("cross-app-child")
        self.commits.add_child(child, self.commits.clock(), batch, {})
        self.commits.commit(batch)
        self.commits.apply_created(batch)
        self.commits.dispatcher.pump()

    def _add_event(self, message: backend.WorkflowMessage) -> None:
        instance_id = message.instance.instanceId
        execution_id = h.optional_string(message.instance, "executionId")
        target = self.commits.state.active.get(instance_id)
        if target is None or execution_id not in (None, target.execution_id):
            log.info(
                "cross-app event for an inactive workflow dropped",
                extra={"instance_id": instance_id, "event": h.event_kind(message.event)},
            )
            return
        task_id = crossapp.result_task_id(message.event)
        queued = [item.event for item in self.commits.state.inbox.get(instance_id, [])]
        if task_id is not None and any(
            crossapp.result_task_id(event) == task_id for event in target.history + queued
        ):
            return
        self.commits.post(instance_id, message.event, "cross-app-event", execution_id)
