"""The history rules: how one orchestration turn changes an instance.

A turn is the batch of new events handed to the worker plus the actions the worker sent
back. `apply_turn` turns them into the history to append and the effects to commit
(activities, timers, messages to other instances, child instances). It is pure: no clock,
no ids, no I/O; the engine passes `now` and a source of execution ids in.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sidecar.workflow import crossapp, versioning
from sidecar.workflow import history as h
from sidecar.workflow.protos import backend, pb
from sidecar.workflow.records import Instance, ParentRef


@dataclass(frozen=True)
class Message:
    """An event for another instance's inbox; bound to `execution_id` when given; for an
    instance of another app when `app_id` is given."""

    instance_id: str
    event: pb.HistoryEvent
    execution_id: str | None = None
    app_id: str | None = None


@dataclass(frozen=True)
class ChildStart:
    """A workflow instance this turn creates (a child, or a detached instance); a child
    another app's workflow asked for comes with the execution id that app gave it."""

    instance_id: str
    name: str
    input: str | None
    parent: ParentRef | None
    version: str | None = None
    execution_id: str | None = None
    trace: pb.TraceContext | None = None


@dataclass
class TurnOutcome:
    instance: Instance
    appended: list[pb.HistoryEvent]
    history_reset: bool = False
    activities: list[pb.ActivityRequest] = field(default_factory=list)
    timers: list[tuple[datetime, pb.HistoryEvent]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    children: list[ChildStart] = field(default_factory=list)
    next_inbox: list[pb.HistoryEvent] = field(default_factory=list)
    # Work for other apps: (app id, message) for their sidecars.
    remote: list[tuple[str, backend.WorkflowMessage]] = field(default_factory=list)
    # A stalled turn changes nothing but its record of the stall: its events stay queued.
    stalled: bool = False

    @property
    def completed(self) -> bool:
        return self.instance.terminal


def execution_started(
    moment: datetime,
    instance_id: str,
    execution_id: str,
    name: str,
    input: str | None,
    parent: ParentRef | None,
    scheduled_start: datetime | None = None,
    version: str | None = None,
    trace: pb.TraceContext | None = None,
) -> pb.HistoryEvent:
    """The first event of an instance; `trace` is the trace context it runs in (daprd
    carries the starting call's, and a child inherits its parent's)."""
    started = pb.ExecutionStartedEvent(
        name=name,
        input=h.string_value(input),
        version=h.string_value(version),
        workflowInstance=pb.WorkflowInstance(
            instanceId=instance_id, executionId=h.string_value(execution_id)
        ),
    )
    if parent is not None:
        started.parentInstance.CopyFrom(
            pb.ParentInstanceInfo(
                taskScheduledId=parent.task_id,
                name=h.string_value(parent.name),
                workflowInstance=pb.WorkflowInstance(
                    instanceId=parent.instance_id,
                    executionId=h.string_value(parent.execution_id),
                ),
                appID=parent.app_id,
            )
        )
    if scheduled_start is not None:
        started.scheduledStartTimestamp.CopyFrom(h.timestamp(scheduled_start))
    if trace is not None:
        started.parentTraceContext.CopyFrom(trace)
    return h.new_event(moment, executionStarted=started)


def apply_new_events(instance: Instance, events: list[pb.HistoryEvent], now: datetime) -> None:
    """Status changes carried by the events themselves, before the worker's actions."""
    for event in events:
        kind = h.event_kind(event)
        if kind == "executionStarted" and instance.status == h.PENDING:
            instance.status = h.RUNNING
            instance.started_at = now
        elif kind == "executionSuspended" and instance.status == h.RUNNING:
            instance.status = h.SUSPENDED
        elif kind == "executionResumed" and instance.status == h.SUSPENDED:
            instance.status = h.RUNNING


def apply_turn(
    instance: Instance,
    new_events: list[pb.HistoryEvent],
    response: pb.WorkflowResponse,
    now: datetime,
    new_execution_id: Callable[[], str],
    app_id: str = "",
) -> TurnOutcome:
    """Applies a worker's response to the instance, returning a changed copy and the effects.

    `app_id` is this sidecar's app: actions routed to another app become `remote` messages.
    """
    updated = copy.copy(instance)
    updated.history = list(instance.history)
    updated.custom_status = h.optional_string(response, "customStatus")
    updated.last_updated_at = now
    new_events = versioning.stamped(new_events, response)
    stall = versioning.stall_of(instance.history, new_events, response)
    if stall is not None:
        updated.status = h.STALLED
        appended = versioning.stall_events(instance.history, stall, now)
        updated.history.extend(appended)
        return TurnOutcome(instance=updated, appended=appended, stalled=True)
    versioning.compact(instance.history, new_events)
    if updated.status == h.STALLED:
        updated.status = h.live_status(updated.history)
    outcome = TurnOutcome(instance=updated, appended=list(new_events))
    apply_new_events(updated, new_events, now)

    completion = next(
        (a.completeWorkflow for a in response.actions if a.HasField("completeWorkflow")), None
    )
    turn = _Turn(updated, now, outcome, app_id, new_execution_id, completion is not None)
    for action in response.actions:
        _apply_action(turn, action)
    if completion is not None:
        _complete(updated, completion, now, new_execution_id, outcome)
    if not outcome.history_reset:
        updated.history.extend(outcome.appended)
    return outcome


@dataclass(frozen=True)
class _Turn:
    """What the actions of one turn change, and what they need to know."""

    instance: Instance
    now: datetime
    outcome: TurnOutcome
    app_id: str
    new_execution_id: Callable[[], str]
    completing: bool


def _apply_action(turn: _Turn, action: pb.WorkflowAction) -> None:
    now, outcome, completing = turn.now, turn.outcome, turn.completing
    kind = action.WhichOneof("workflowActionType")
    if kind in ("scheduleTask", "createChildWorkflow"):
        _call(turn, action)
    elif kind == "createTimer":
        timer = action.createTimer
        created = pb.TimerCreatedEvent(fireAt=timer.fireAt)
        if timer.HasField("name"):
            created.name = timer.name
        origin = timer.WhichOneof("origin")
        if origin is not None:
            getattr(created, origin).CopyFrom(getattr(timer, origin))
        outcome.appended.append(h.new_event(now, action.id, timerCreated=created))
        fire_at = h.to_datetime(timer.fireAt)
        if fire_at < h.NEVER and not completing:
            outcome.timers.append((fire_at, h.timer_fired(fire_at, action.id, fire_at)))
    elif kind == "createDetachedWorkflow":
        detached = action.createDetachedWorkflow
        outcome.appended.append(
            h.new_event(
                now,
                action.id,
                detachedWorkflowInstanceCreated=pb.DetachedWorkflowInstanceCreatedEvent(
                    instanceId=detached.instanceId
                ),
            )
        )
        outcome.children.append(
            ChildStart(
                instance_id=detached.instanceId,
                name=detached.name,
                input=h.optional_string(detached, "input"),
                version=h.optional_string(detached, "version"),
                parent=None,
            )
        )
    elif kind == "sendEvent":
        send = action.sendEvent
        data = h.optional_string(send, "data")
        outcome.appended.append(
            h.new_event(
                now,
                action.id,
                eventSent=pb.EventSentEvent(
                    instanceId=send.instance.instanceId, name=send.name, input=h.string_value(data)
                ),
            )
        )
        outcome.messages.append(
            Message(send.instance.instanceId, h.event_raised(now, send.name, data))
        )
    elif kind == "terminateWorkflow":
        terminate = action.terminateWorkflow
        outcome.messages.append(
            Message(
                terminate.instanceId,
                h.execution_terminated(
                    now, h.optional_string(terminate, "reason"), terminate.recurse
                ),
            )
        )


def _call(turn: _Turn, action: pb.WorkflowAction) -> None:
    """An activity or a child workflow: recorded, then run here or in the app it names."""
    now, instance = turn.now, turn.instance
    call = action.scheduleTask if action.HasField("scheduleTask") else action.createChildWorkflow
    fields: dict[str, Any] = {
        "name": call.name,
        "version": call.version if call.HasField("version") else None,
        "input": call.input if call.HasField("input") else None,
    }
    trace = _trace(turn)
    if trace is not None:
        fields["parentTraceContext"] = trace
    if action.HasField("scheduleTask"):
        scheduled = pb.TaskScheduledEvent(
            taskExecutionId=action.scheduleTask.taskExecutionId, **fields
        )
        event = h.new_event(now, action.id, taskScheduled=scheduled)
    else:
        child_id = action.createChildWorkflow.instanceId
        created = pb.ChildWorkflowInstanceCreatedEvent(instanceId=child_id, **fields)
        event = h.new_event(now, action.id, childWorkflowInstanceCreated=created)
    target = crossapp.route(action, event, turn.app_id)
    turn.outcome.appended.append(event)
    if turn.completing:
        return
    if action.HasField("createChildWorkflow"):
        _start_child(turn, action, target)
        return
    message = crossapp.message(instance.instance_id, instance.execution_id, event)
    if target is None:
        turn.outcome.activities.append(crossapp.activity_request(message))
    else:
        turn.outcome.remote.append((target, message))


def _trace(turn: _Turn) -> pb.TraceContext | None:
    """The instance's trace context (its executionStarted's), which its calls carry on."""
    for event in (*turn.instance.history, *turn.outcome.appended):
        if event.HasField("executionStarted"):
            started = event.executionStarted
            return started.parentTraceContext if started.HasField("parentTraceContext") else None
    return None


def _start_child(turn: _Turn, action: pb.WorkflowAction, target: str | None) -> None:
    child, instance = action.createChildWorkflow, turn.instance
    parent = ParentRef(
        instance.instance_id,
        instance.execution_id,
        action.id,
        instance.name,
        None if target is None else turn.app_id,
    )
    data, version = h.optional_string(child, "input"), h.optional_string(child, "version")
    trace = _trace(turn)
    if target is None:
        start = ChildStart(child.instanceId, child.name, data, parent, version, trace=trace)
        turn.outcome.children.append(start)
        return
    execution_id = turn.new_execution_id()
    started = execution_started(
        turn.now, child.instanceId, execution_id, child.name, data, parent, None, version, trace
    )
    message = crossapp.message(child.instanceId, execution_id, started)
    turn.outcome.remote.append((target, message))


def _complete(
    instance: Instance,
    completion: pb.CompleteWorkflowAction,
    now: datetime,
    new_execution_id: Callable[[], str],
    outcome: TurnOutcome,
) -> None:
    result = h.optional_string(completion, "result")
    if completion.workflowStatus == h.CONTINUED_AS_NEW:
        next_execution_id = new_execution_id()
        instance.execution_id = next_execution_id
        instance.input = result
        instance.output = None
        instance.failure = None
        instance.history = []
        outcome.history_reset = True
        outcome.appended = []
        outcome.activities.clear()
        outcome.timers.clear()
        outcome.next_inbox = [
            execution_started(
                now,
                instance.instance_id,
                next_execution_id,
                instance.name,
                result,
                instance.parent,
                version=h.optional_string(completion, "newVersion"),
            ),
            *completion.carryoverEvents,
        ]
        return

    status = completion.workflowStatus
    instance.status = status
    instance.output = result
    instance.completed_at = now
    failure = completion.failureDetails if completion.HasField("failureDetails") else None
    instance.failure = failure
    completed = pb.ExecutionCompletedEvent(workflowStatus=status, result=h.string_value(result))
    if failure is not None:
        completed.failureDetails.CopyFrom(failure)
    outcome.appended.append(h.new_event(now, executionCompleted=completed))

    if status == h.TERMINATED and _termination_recurses(instance.history + outcome.appended):
        for child_id, app in h.running_children(instance.history + outcome.appended):
            outcome.messages.append(
                Message(child_id, h.execution_terminated(now, result, recurse=True), app_id=app)
            )
    if instance.parent is not None:
        outcome.messages.append(_report_to_parent(instance, status, result, failure, now))


def _termination_recurses(events: list[pb.HistoryEvent]) -> bool:
    return any(
        h.event_kind(e) == "executionTerminated" and e.executionTerminated.recurse for e in events
    )


def _report_to_parent(
    instance: Instance,
    status: int,
    result: str | None,
    failure: pb.TaskFailureDetails | None,
    now: datetime,
) -> Message:
    parent = instance.parent
    assert parent is not None
    if status == h.COMPLETED:
        event = h.new_event(
            now,
            childWorkflowInstanceCompleted=pb.ChildWorkflowInstanceCompletedEvent(
                taskScheduledId=parent.task_id, result=h.string_value(result)
            ),
        )
    else:
        details = failure or pb.TaskFailureDetails(
            errorType="WorkflowTerminated" if status == h.TERMINATED else "WorkflowFailed",
            errorMessage=f"child workflow '{instance.instance_id}' ended as "
            f"{h.status_name(status)}",
        )
        event = h.new_event(
            now,
            childWorkflowInstanceFailed=pb.ChildWorkflowInstanceFailedEvent(
                taskScheduledId=parent.task_id, failureDetails=details
            ),
        )
    return Message(parent.instance_id, event, parent.execution_id, parent.app_id)
