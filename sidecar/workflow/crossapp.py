"""Cross-app workflows (Dapr 1.16): which actions run in another app, and the messages that
carry work and results between the sidecars of two apps.

A workflow action whose `router.targetAppID` names another app runs there, as in daprd
(durabletask-go backend/runtimestate/applier.go stamps `sourceAppID` on every action and
keeps the router on the history event): an activity is run by the other app's workers and
its result comes back; a child workflow is an instance of the other app that reports to
its parent when it ends. Each hop is one durabletask backend `WorkflowMessage` (an
instance and a history event), written to the sender's outbox in the transaction that
caused it. Pure: no I/O.
"""

from __future__ import annotations

from sidecar.workflow import history as h
from sidecar.workflow.protos import backend, pb


def route(action: pb.WorkflowAction, event: pb.HistoryEvent, app_id: str) -> str | None:
    """The other app an action runs in (None: this one); the event recording the action then
    keeps the router daprd keeps on it, from this app to that one."""
    target = action.router.targetAppID if action.HasField("router") else ""
    if not target or target == app_id:
        return None
    event.router.CopyFrom(pb.TaskRouter(sourceAppID=app_id, targetAppID=target))
    return target


def message(
    instance_id: str, execution_id: str | None, event: pb.HistoryEvent
) -> backend.WorkflowMessage:
    """`event` for instance `instance_id` (of the execution `execution_id`, when bound)."""
    return backend.WorkflowMessage(
        instance=pb.WorkflowInstance(
            instanceId=instance_id, executionId=h.string_value(execution_id)
        ),
        event=event,
    )


def activity_request(call: backend.WorkflowMessage) -> pb.ActivityRequest:
    """The work item of a `taskScheduled` message: the caller's instance and task id."""
    task = call.event.taskScheduled
    return pb.ActivityRequest(
        name=task.name,
        version=task.version if task.HasField("version") else None,
        input=task.input if task.HasField("input") else None,
        workflowInstance=call.instance,
        taskId=call.event.eventId,
        taskExecutionId=task.taskExecutionId,
        parentTraceContext=task.parentTraceContext if task.HasField("parentTraceContext") else None,
    )


def result_task_id(event: pb.HistoryEvent) -> int | None:
    """The task a result event answers, None for any other event: a message delivered twice
    (its sender crashed before it saw the answer) is applied once."""
    kind = h.event_kind(event)
    return getattr(event, kind).taskScheduledId if kind in _RESULTS else None


_RESULTS = frozenset(
    {"taskCompleted", "taskFailed", "childWorkflowInstanceCompleted", "childWorkflowInstanceFailed"}
)
