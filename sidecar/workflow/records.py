"""The engine's records: one workflow instance, and the work items it spawns.

Plain dataclasses, persisted by `store` and advanced by `transitions`; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sidecar.workflow.history import PENDING, is_terminal, string_value, timestamp
from sidecar.workflow.protos import backend, pb


@dataclass(frozen=True)
class ParentRef:
    """Where a child workflow reports its outcome; `app_id` names the parent's app when it
    runs in another app (a cross-app child), None when it runs in this one."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    app_id: str | None = None


@dataclass
class Instance:
    """The metadata row of one workflow instance plus, while it is active, its history."""

    instance_id: str
    execution_id: str
    name: str
    created_at: datetime
    last_updated_at: datetime
    status: int = PENDING
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure: pb.TaskFailureDetails | None = None
    parent: ParentRef | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    scheduled_start_at: datetime | None = None
    history: list[pb.HistoryEvent] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def to_state(self, with_payloads: bool) -> pb.WorkflowState:
        """The `WorkflowState` the SDK's `get_workflow_state` reads."""
        state = pb.WorkflowState(
            instanceId=self.instance_id,
            name=self.name,
            workflowStatus=self.status,  # type: ignore[arg-type]
            createdTimestamp=timestamp(self.created_at),
            lastUpdatedTimestamp=timestamp(self.last_updated_at),
            executionId=string_value(self.execution_id),
        )
        if self.scheduled_start_at is not None:
            state.scheduledStartTimestamp.CopyFrom(timestamp(self.scheduled_start_at))
        if self.completed_at is not None:
            state.completedTimestamp.CopyFrom(timestamp(self.completed_at))
        if self.started_at is not None:
            state.startedAt.CopyFrom(timestamp(self.started_at))
        if self.parent is not None:
            state.parentInstanceId.value = self.parent.instance_id
        if self.failure is not None:
            state.failureDetails.CopyFrom(self.failure)
        if with_payloads:
            for name in ("input", "output", "custom_status"):
                value = getattr(self, name)
                if value is not None:
                    target = "customStatus" if name == "custom_status" else name
                    getattr(state, target).value = value
        return state


@dataclass
class ActivityItem:
    """An activity waiting for, or running on, a worker.

    `reply_app_id` names the app whose workflow scheduled it (a cross-app activity: the
    instance is that app's, and the result goes back to its sidecar); None for this app's.
    """

    item_id: int
    instance_id: str
    execution_id: str
    request: pb.ActivityRequest
    reply_app_id: str | None = None


@dataclass
class OutboxItem:
    """A message for another app's sidecar, kept until that sidecar has taken it."""

    item_id: int
    app_id: str
    message: backend.WorkflowMessage


@dataclass
class InboxItem:
    """A history event waiting to be handed to its orchestration, visible from `visible_at`.

    `execution_id` binds timers and task results to the execution that asked for them, so a
    `continue_as_new` drops them; raised events carry None and survive into the next execution.
    """

    item_id: int
    instance_id: str
    event: pb.HistoryEvent
    visible_at: datetime
    execution_id: str | None = None


def dropped_with(item_execution: str | None, ended: str | None) -> bool:
    """Whether an item bound to `item_execution` goes when execution `ended` ends.

    `ended` None stands for the whole instance ending: then every item goes.
    """
    return ended is None or item_execution == ended
