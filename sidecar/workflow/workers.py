"""The worker-facing operations: a worker's `GetWorkItems` stream, and its answers to the
work items it received.

An answer counts only against a live lease, so a duplicate, or a late answer to a work item
already handed to another worker, is acknowledged and ignored (see `dispatch` for how an
answer names its lease).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sidecar.workflow.commits import Commits
from sidecar.workflow.dispatch import Dispatcher
from sidecar.workflow.protos import pb
from sidecar.workflow.settings import EngineSettings
from sidecar.workflow.state import InstanceState


@dataclass
class Workers:
    state: InstanceState
    dispatcher: Dispatcher
    commits: Commits
    settings: EngineSettings

    async def work_items(
        self, capabilities: list[int], is_active: Callable[[], bool]
    ) -> AsyncIterator[pb.WorkItem]:
        stream = self.dispatcher.connect(capabilities)
        try:
            while is_active():
                item = await stream.queue.get()
                if item is None:
                    return
                yield item
        finally:
            self.dispatcher.disconnect(stream)

    def complete_orchestration(self, response: pb.WorkflowResponse) -> None:
        self.settings.check_size(response)
        lease = self.dispatcher.take_turn(response.completionToken, response.instanceId)
        if lease is None:
            return
        instance = self.state.active.get(lease.instance_id)
        if instance is None:
            return
        if any(action.HasField("completeWorkflow") for action in response.actions):
            # The worker drops its cached history of an execution that ends.
            lease.stream.cached.pop(lease.instance_id, None)
        self.commits.commit_turn(
            instance, lease.new_events, lease.inbox_ids, response, "complete-orchestrator-task"
        )

    def complete_activity(self, response: pb.ActivityResponse) -> None:
        self.settings.check_size(response)
        lease = self.dispatcher.take_activity(
            response.completionToken, response.instanceId, response.taskId
        )
        if lease is None or lease.activity is None:
            return
        self.commits.commit_activity_result(lease.activity, response)
