"""The one place the management API talks to the Dapr workflow SDK.

It answers in the API's terms (runs, history events, `ApiError`s) and keeps the calls
blocking: routes are plain `def`, so FastAPI runs them in its threadpool.

Three things the public `DaprWorkflowClient` does not expose are taken from the
durable-task client it wraps (pinned by the `dapr==1.19.*` dependency and by this
package's tests): the raw history events, whose payloads (activity inputs and results,
event data, timer times, child instance ids) make `details` and the Mermaid diagram worth
reading; the `reason` of suspend and resume, which `dapr workflow suspend --reason`
records; and the `force` of purge (`dapr workflow purge --force`). Without that inner
client (a different SDK), the first two fall back to the public calls and a forced purge
answers 501.

Reads of a run are retried when daprd met a save halfway: it reads a run's state straight
from the state store, outside the workflow actor, so under load a read can find the
metadata naming a key the same save has not written yet or already replaced
("... missing from state store (transient store read failure or partial save?)"). daprd
1.18.3 reads again itself; 1.18.2, the newest this project can build, does not. The
embedded sidecar reads in one transaction and never answers that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import dapr.ext.workflow as wf
import grpc
from dapr.ext.workflow._durabletask.internal import protos as task_hub_protos
from google.protobuf import wrappers_pb2

from services.contracts.topology import TERMINAL_RUNTIME_STATUSES
from services.orchestrator.api.errors import ErrorCode, conflict, not_found
from services.orchestrator.api.schemas import (
    HistoryEvent,
    Rerun,
    as_utc,
    history_event_from_proto,
    history_event_from_summary,
    status_name,
)

_LIST_PAGE = 500
# How often a read that met a save halfway is tried (see the module docstring).
_READ_ATTEMPTS = 5
_READ_BACKOFF_SECONDS = 0.05
_TORN_READ = "missing from state store"

T = TypeVar("T")


def read_through_torn_saves(call: Callable[[], T]) -> T:
    """`call()`, again (a few times, shortly after) while daprd answers a torn read."""
    for attempt in range(1, _READ_ATTEMPTS + 1):
        try:
            return call()
        except grpc.RpcError as error:
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            if attempt == _READ_ATTEMPTS or _TORN_READ not in (details or ""):
                raise
        time.sleep(_READ_BACKOFF_SECONDS * attempt)
    raise AssertionError("unreachable")


# The events a rerun can start from (`RerunWorkflowFromEvent`).
_RERUNNABLE = frozenset({"TaskScheduled", "TimerCreated", "ChildWorkflowInstanceCreated"})


class WorkflowGateway:
    def __init__(self, client: wf.DaprWorkflowClient) -> None:
        self.client = client
        # The durable-task client the SDK wraps (name-mangled private attribute).
        self._task_hub: Any = getattr(client, "_DaprWorkflowClient__obj", None)

    # -- runs ----------------------------------------------------------------------------

    def start(
        self, name: str, data: Any, instance_id: str | None, start_at: datetime | None = None
    ) -> str:
        return str(
            self.client.schedule_new_workflow(
                name, input=data, instance_id=instance_id, start_at=start_at
            )
        )

    def find(self, instance_id: str, *, payloads: bool = True) -> Any | None:
        """The run's `WorkflowState`, or None when there is no such run."""
        return read_through_torn_saves(
            lambda: self.client.get_workflow_state(instance_id, fetch_payloads=payloads)
        )

    def get(self, instance_id: str, *, payloads: bool = True) -> Any:
        state = self.find(instance_id, payloads=payloads)
        if state is None:
            raise not_found(
                ErrorCode.WORKFLOW_NOT_FOUND, f"workflow run '{instance_id}' was not found"
            )
        return state

    def page(self, page_size: int, token: str | None) -> tuple[list[str], str | None]:
        page = self.client.list_workflow_instance_ids(
            page_size=page_size, continuation_token=token or None
        )
        return list(page.instance_ids), page.continuation_token

    def all_ids(self) -> Iterator[str]:
        token: str | None = None
        while True:
            ids, token = self.page(_LIST_PAGE, token)
            yield from ids
            if not token:
                return

    def states(self, ids: list[str], *, payloads: bool = True) -> list[Any]:
        """The states of `ids` that still exist (one may be purged between list and get)."""
        found = (self.find(instance_id, payloads=payloads) for instance_id in ids)
        return [state for state in found if state is not None]

    def list_runs(
        self,
        page_size: int,
        token: str | None,
        statuses: frozenset[str] | None,
        name: str | None,
        created_after: datetime | None = None,
    ) -> tuple[list[Any], str | None]:
        """One page of instance ids, as states, filtered by status, workflow name and
        creation time (at or after `created_after`)."""
        ids, next_token = self.page(page_size, token)
        states = [
            state
            for state in self.states(ids)
            if (statuses is None or status_name(state) in statuses)
            and (name is None or state.name == name)
            and (created_after is None or as_utc(state.created_at) >= created_after)
        ]
        return states, next_token

    def history(self, instance_id: str) -> list[HistoryEvent]:
        self.get(instance_id, payloads=False)
        if self._task_hub is not None and hasattr(self._task_hub, "get_instance_history"):
            events = read_through_torn_saves(
                lambda: self._task_hub.get_instance_history(instance_id)
            )
            return [history_event_from_proto(event) for event in events]
        summaries = read_through_torn_saves(lambda: self.client.get_workflow_history(instance_id))
        return [history_event_from_summary(event) for event in summaries]

    # -- commands ------------------------------------------------------------------------

    def _require_not_terminal(self, instance_id: str, verb: str) -> Any:
        state = self.get(instance_id, payloads=False)
        status = status_name(state)
        if status in TERMINAL_RUNTIME_STATUSES:
            raise conflict(
                ErrorCode.WORKFLOW_NOT_RUNNING,
                f"cannot {verb} workflow run '{instance_id}': it is {status}",
            )
        return state

    def raise_event(self, instance_id: str, event_name: str, data: Any) -> None:
        # The runtime silently drops an event for a finished run; say so instead.
        self._require_not_terminal(instance_id, f"raise event '{event_name}' on")
        self.client.raise_workflow_event(instance_id, event_name, data=data)

    def suspend(self, instance_id: str, reason: str | None) -> None:
        self._require_not_terminal(instance_id, "suspend")
        if reason and self._stub is not None:
            request = task_hub_protos.SuspendRequest(
                instanceId=instance_id, reason=wrappers_pb2.StringValue(value=reason)
            )
            self._stub.SuspendInstance(request)
            return
        self.client.pause_workflow(instance_id)

    def resume(self, instance_id: str, reason: str | None) -> None:
        self._require_not_terminal(instance_id, "resume")
        if reason and self._stub is not None:
            request = task_hub_protos.ResumeRequest(
                instanceId=instance_id, reason=wrappers_pb2.StringValue(value=reason)
            )
            self._stub.ResumeInstance(request)
            return
        self.client.resume_workflow(instance_id)

    def terminate(self, instance_id: str, output: Any) -> None:
        self.get(instance_id, payloads=False)
        self.client.terminate_workflow(instance_id, output=output)

    def rerun(self, instance_id: str, request: Rerun) -> str:
        """A new run replaying `instance_id` up to the event, then going on from there."""
        self._require_terminal(instance_id, "rerun")
        event_id = request.event_id
        if event_id is None:
            event_id = self._first_rerunnable_event(instance_id)
        # A body without `input` keeps the event's recorded input; `"input": null` clears it.
        new_input = request.input if "input" in request.model_fields_set else wf.UNSET
        return str(
            self.client.rerun_workflow_from_event(
                instance_id, event_id, new_instance_id=request.new_instance_id, input=new_input
            )
        )

    def _first_rerunnable_event(self, instance_id: str) -> int:
        """The id of the run's first restartable event: `dapr workflow rerun` without
        `--event-id` reruns from the beginning, yet SDKs number their first action 0 or 1."""
        for event in self.history(instance_id):
            if event.kind in _RERUNNABLE:
                return event.event_id
        raise conflict(
            "WORKFLOW_NOT_RERUNNABLE",
            f"workflow run '{instance_id}' scheduled no activity, timer or child workflow "
            "to rerun from",
        )

    def purge(self, instance_id: str, *, force: bool = False) -> None:
        if force:
            self.get(instance_id, payloads=False)
            self._force_purge(instance_id)
            return
        # Checked here as well as by the runtime: daprd's answer for a running instance
        # is not the same code on every version.
        self._require_terminal(instance_id, "purged")
        self.client.purge_workflow(instance_id)

    def purge_where(
        self,
        statuses: frozenset[str],
        created_before: datetime | None,
        *,
        force: bool,
        finished_before: datetime | None = None,
    ) -> list[str]:
        """Purges every run in `statuses` created before `created_before` and last updated
        (for a terminal run: finished) before `finished_before` (any age when None);
        returns their ids.

        Children go with their parent (recursive purge), so an id listed before its
        parent was purged may be gone by the time it is reached: skipped, not an error.
        """
        purged: list[str] = []
        for instance_id in list(self.all_ids()):
            state = self.find(instance_id, payloads=False)
            if state is None or status_name(state) not in statuses:
                continue
            if created_before is not None and as_utc(state.created_at) >= created_before:
                continue
            if finished_before is not None and as_utc(state.last_updated_at) >= finished_before:
                continue
            if force:
                self._force_purge(instance_id)
            else:
                self.client.purge_workflow(instance_id)
            purged.append(instance_id)
        return purged

    def _require_terminal(self, instance_id: str, done: str) -> None:
        status = status_name(self.get(instance_id, payloads=False))
        if status not in TERMINAL_RUNTIME_STATUSES:
            raise conflict(
                ErrorCode.WORKFLOW_NOT_TERMINAL,
                f"workflow run '{instance_id}' is {status}; only a completed, failed or "
                f"terminated run can be {done} (terminate it first)",
            )

    def _force_purge(self, instance_id: str) -> None:
        # The public client has no `force`; `dapr workflow purge --force` sends this request.
        if self._stub is None:
            raise NotImplementedError("force purge needs the durable-task client")
        request = task_hub_protos.PurgeInstancesRequest(
            instanceId=instance_id, recursive=True, force=True
        )
        self._stub.PurgeInstances(request)

    # -- the inner durable-task client ----------------------------------------------------

    @property
    def _stub(self) -> Any | None:
        return getattr(self._task_hub, "_stub", None)
