"""Builders and readers for durable-task history events and runtime statuses.

Pure helpers shared by the engine and the turn rules, so that every event the sidecar
writes has one constructor, stamped the way durabletask-go stamps it (eventId -1 for
events that do not answer an action).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2, wrappers_pb2

from sidecar.workflow.protos import pb

RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
CONTINUED_AS_NEW = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
FAILED = pb.ORCHESTRATION_STATUS_FAILED
CANCELED = pb.ORCHESTRATION_STATUS_CANCELED
TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
PENDING = pb.ORCHESTRATION_STATUS_PENDING
SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED
STALLED = pb.ORCHESTRATION_STATUS_STALLED

TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED, TERMINATED})

# The SDK schedules an indefinite `wait_for_external_event` as a timer at this instant;
# such a timer is recorded in history but never fires.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def is_terminal(status: int) -> bool:
    return status in TERMINAL_STATUSES


def status_name(status: int) -> str:
    name = pb.OrchestrationStatus.Name(status)  # type: ignore[arg-type]
    return str(name).removeprefix("ORCHESTRATION_STATUS_")


def status_from_name(name: str) -> int:
    """Accepts `RUNNING`, `running` or `ORCHESTRATION_STATUS_RUNNING`."""
    key = name.strip().upper()
    if not key.startswith("ORCHESTRATION_STATUS_"):
        key = "ORCHESTRATION_STATUS_" + key
    return int(pb.OrchestrationStatus.Value(key))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    # Exact integer arithmetic; `Timestamp.FromDatetime` costs several times more and
    # every event of every turn is stamped.
    delta = moment - _EPOCH
    return timestamp_pb2.Timestamp(
        seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000
    )


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def string_value(value: str | None) -> wrappers_pb2.StringValue | None:
    return None if value is None else wrappers_pb2.StringValue(value=value)


def optional_string(holder: object, field: str) -> str | None:
    """Reads a `google.protobuf.StringValue` field, keeping absent distinct from empty."""
    if not holder.HasField(field):  # type: ignore[attr-defined]
        return None
    return str(getattr(holder, field).value)


def new_event(moment: datetime, event_id: int = -1, **event: Any) -> pb.HistoryEvent:
    return pb.HistoryEvent(eventId=event_id, timestamp=timestamp(moment), **event)


def workflow_started(moment: datetime) -> pb.HistoryEvent:
    return new_event(moment, workflowStarted=pb.WorkflowStartedEvent())


def event_raised(moment: datetime, name: str, data: str | None) -> pb.HistoryEvent:
    return new_event(moment, eventRaised=pb.EventRaisedEvent(name=name, input=string_value(data)))


def execution_suspended(moment: datetime, reason: str | None) -> pb.HistoryEvent:
    return new_event(
        moment, executionSuspended=pb.ExecutionSuspendedEvent(input=string_value(reason))
    )


def execution_resumed(moment: datetime, reason: str | None) -> pb.HistoryEvent:
    return new_event(moment, executionResumed=pb.ExecutionResumedEvent(input=string_value(reason)))


def execution_terminated(moment: datetime, output: str | None, recurse: bool) -> pb.HistoryEvent:
    return new_event(
        moment,
        executionTerminated=pb.ExecutionTerminatedEvent(
            input=string_value(output), recurse=recurse
        ),
    )


def timer_fired(moment: datetime, timer_id: int, fire_at: datetime) -> pb.HistoryEvent:
    return new_event(
        moment, timerFired=pb.TimerFiredEvent(fireAt=timestamp(fire_at), timerId=timer_id)
    )


def event_kind(event: pb.HistoryEvent) -> str:
    return str(event.WhichOneof("eventType"))


def running_children(history: Iterable[pb.HistoryEvent]) -> list[tuple[str, str | None]]:
    """Child instances created in this execution that have not reported back yet: their
    ids, and the app each runs in when it is another app."""
    created: dict[int, tuple[str, str | None]] = {}
    for event in history:
        kind = event_kind(event)
        if kind == "childWorkflowInstanceCreated":
            app = event.router.targetAppID if event.HasField("router") else ""
            created[event.eventId] = (event.childWorkflowInstanceCreated.instanceId, app or None)
        elif kind == "childWorkflowInstanceCompleted":
            created.pop(event.childWorkflowInstanceCompleted.taskScheduledId, None)
        elif kind == "childWorkflowInstanceFailed":
            created.pop(event.childWorkflowInstanceFailed.taskScheduledId, None)
    return list(created.values())


def live_status(history: Iterable[pb.HistoryEvent]) -> int:
    """The status an unfinished execution's history gives it (as durabletask-go computes
    it): pending before it started, then suspended or running."""
    status = PENDING
    for event in history:
        kind = event_kind(event)
        if kind == "executionStarted" or (kind == "executionResumed" and status == SUSPENDED):
            status = RUNNING
        elif kind == "executionSuspended" and status == RUNNING:
            status = SUSPENDED
    return status


def all_children(history: Iterable[pb.HistoryEvent]) -> list[str]:
    return [
        event.childWorkflowInstanceCreated.instanceId
        for event in history
        if event_kind(event) == "childWorkflowInstanceCreated"
    ]
