"""Rerunning a finished workflow from one of its activities: which runs qualify, and the
new instance's history rewritten from the source's.

No I/O: the client looks the source up and commits the result.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import grpc

from sidecar.errors import SidecarError, invalid_argument
from sidecar.workflow import history as h
from sidecar.workflow.protos import pb
from sidecar.workflow.records import ActivityItem, Instance
from sidecar.workflow.store import Batch


def check_rerunnable(source: Instance) -> None:
    if not source.terminal or source.parent is not None:
        raise invalid_argument(
            f"workflow instance '{source.instance_id}' cannot be rerun: only a finished "
            "top-level instance can (it is "
            f"{'a child workflow' if source.parent else h.status_name(source.status)})",
            "WORKFLOW_NOT_RERUNNABLE",
        )


def rerun_point(source: Instance, events: list[pb.HistoryEvent], event_id: int) -> int:
    """The position in `events` of the activity to run again, scheduled as `event_id`."""
    cut = next(
        (
            n
            for n, e in enumerate(events)
            if e.eventId == event_id and h.event_kind(e) == "taskScheduled"
        ),
        None,
    )
    if cut is None:
        raise SidecarError(
            grpc.StatusCode.NOT_FOUND,
            "WORKFLOW_EVENT_NOT_FOUND",
            f"workflow instance '{source.instance_id}' has no activity scheduled with "
            f"event id {event_id}; a rerun starts from a scheduled activity",
        )
    return cut


def rerun_batch(
    source: Instance,
    events: list[pb.HistoryEvent],
    cut: int,
    request: pb.RerunWorkflowFromEventRequest,
    new_id: str,
    now: datetime,
) -> tuple[Instance, Batch]:
    """The new instance, running, and the batch that creates it with the activity at `cut`
    scheduled again."""
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
    replayed = _rerun_history(events[:cut], instance)
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
    return instance, batch


def _rerun_history(events: list[pb.HistoryEvent], instance: Instance) -> list[pb.HistoryEvent]:
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
