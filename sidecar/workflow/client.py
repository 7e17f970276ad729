"""The client-facing operations on instances (`DaprWorkflowClient`'s side of the service):
start, query, wait for, signal, purge and rerun.

Each change is committed before it is acknowledged, then mirrored in memory and handed to
dispatch; queries read the mirror for active instances and the store for the others.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import grpc

from sidecar.errors import SidecarError, failed_precondition, invalid_argument, workflow_not_found
from sidecar.workflow import history as h
from sidecar.workflow import rerun
from sidecar.workflow.commits import Commits
from sidecar.workflow.dispatch import Dispatcher
from sidecar.workflow.protos import pb
from sidecar.workflow.records import Instance
from sidecar.workflow.settings import EngineSettings
from sidecar.workflow.state import InstanceState
from sidecar.workflow.store import Batch, InstanceQuery, WorkflowStore

log = logging.getLogger("sidecar.workflow")


@dataclass
class Client:
    store: WorkflowStore
    state: InstanceState
    dispatcher: Dispatcher
    commits: Commits
    settings: EngineSettings
    clock: Callable[[], datetime]

    def start_instance(self, request: pb.CreateInstanceRequest) -> str:
        instance_id = request.instanceId or uuid.uuid4().hex
        if not request.name:
            raise invalid_argument("a workflow name is required to start an instance")
        self.settings.check_size(request)
        existing = self.find(instance_id)
        if existing is not None and not existing.terminal:
            raise SidecarError(
                grpc.StatusCode.ALREADY_EXISTS,
                "WORKFLOW_ALREADY_EXISTS",
                f"a workflow instance with id '{instance_id}' already exists and is "
                f"{h.status_name(existing.status)}; ids can be reused once it is terminal",
            )
        now = self.clock()
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
        trace = request.parentTraceContext if request.HasField("parentTraceContext") else None
        self.commits.create(instance, batch, h.optional_string(request, "version"), trace)
        self.store.commit(batch)
        self.commits.apply_created(batch)
        log.info(
            "workflow started",
            extra={"instance_id": instance_id, "workflow": request.name},
        )
        self.dispatcher.pump()
        return instance_id

    def find(self, instance_id: str) -> Instance | None:
        return self.state.find(instance_id)

    def get_instance(self, instance_id: str) -> Instance:
        instance = self.find(instance_id)
        if instance is None:
            raise workflow_not_found(instance_id)
        return instance

    async def wait_for(self, instance_id: str, condition: Callable[[Instance], bool]) -> Instance:
        instance = self.get_instance(instance_id)
        while not condition(instance):
            await self.state.changed(instance_id, condition)
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
        self._post(instance_id, h.event_raised(self.clock(), name, data), "raise-event")

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        """Returns once a turn has suspended the instance, as daprd's SuspendInstance does, so
        a read right after it sees SUSPENDED (or the instance ended, or it is stalled and
        no turn runs until a worker that can replay it connects)."""
        instance = self._require_active(instance_id, "suspend")
        if instance.status != h.SUSPENDED:
            self._post(instance_id, h.execution_suspended(self.clock(), reason), "suspend-instance")
        await self.wait_for(instance_id, lambda i: _settled(i, h.SUSPENDED))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        """Returns once a turn has resumed the instance, as daprd's ResumeInstance does."""
        self._require_active(instance_id, "resume")
        self._post(instance_id, h.execution_resumed(self.clock(), reason), "resume-instance")
        await self.wait_for(instance_id, lambda i: _settled(i, h.RUNNING))

    def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        instance = self.get_instance(instance_id)
        if instance.terminal:
            return
        if not instance.history and instance_id not in self.dispatcher.locked:
            self._terminate_unstarted(instance, output)
            return
        self._post(
            instance_id,
            h.execution_terminated(self.clock(), output, recursive),
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
        self.commits.purge(ids)
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
            self.commits.purge(unique)
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
        if instance_id in self.state.active:
            return list(instance.history)
        return self.store.get_history(instance_id)

    def rerun_from_event(self, request: pb.RerunWorkflowFromEventRequest) -> str:
        source = self.get_instance(request.sourceInstanceID)
        rerun.check_rerunnable(source)
        events = self.history(source.instance_id)
        cut = rerun.rerun_point(source, events, request.eventID)
        new_id = request.newInstanceID if request.HasField("newInstanceID") else uuid.uuid4().hex
        if self.find(new_id) is not None:
            raise SidecarError(
                grpc.StatusCode.ALREADY_EXISTS,
                "WORKFLOW_ALREADY_EXISTS",
                f"a workflow instance with id '{new_id}' already exists",
            )
        instance, batch = rerun.rerun_batch(source, events, cut, request, new_id, self.clock())
        self.store.commit(batch)
        self.state.active[new_id] = instance
        self.state.queue_activities(batch.activity_inserts)
        self.dispatcher.pump()
        return new_id

    def _require_active(self, instance_id: str, verb: str) -> Instance:
        instance = self.get_instance(instance_id)
        if instance.terminal:
            raise failed_precondition(
                f"cannot {verb} workflow instance '{instance_id}': it is "
                f"{h.status_name(instance.status)}",
                "WORKFLOW_NOT_RUNNING",
            )
        return instance

    def _post(self, instance_id: str, event: pb.HistoryEvent, name: str) -> None:
        self.settings.check_size(event)
        self.commits.post(instance_id, event, name)

    def _terminate_unstarted(self, instance: Instance, output: str | None) -> None:
        """Ends an instance no worker has started as if its first turn had terminated it."""
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
        self.commits.commit_turn(instance, [], [], response, "terminate-instance")

    def _purge_closure(self, instance_id: str) -> list[str]:
        ids = [instance_id]
        for child in h.all_children(self.history(instance_id)):
            if self.find(child) is not None:
                ids.extend(self._purge_closure(child))
        return ids


def _settled(instance: Instance, status: int) -> bool:
    return instance.status in (status, h.STALLED) or instance.terminal


def _encode_token(row: tuple[float, str]) -> str:
    return f"{row[0]!r}|{row[1]}"


def _decode_token(token: str) -> tuple[float, str]:
    created, _, instance_id = token.partition("|")
    try:
        return float(created), instance_id
    except ValueError:
        raise invalid_argument(f"invalid continuation token '{token}'") from None
