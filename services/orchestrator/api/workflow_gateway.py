"""The one place the management API talks to the Dapr workflow SDK.

It answers in the API's terms (runs, history events, `ApiError`s) and keeps the calls
blocking: routes are plain `def`, so FastAPI runs them in its threadpool.

Two things the public `DaprWorkflowClient` does not expose are taken from the durable-task
client it wraps (pinned by the `dapr==1.19.*` dependency and by this package's tests):
the raw history events, whose payloads (activity inputs and results, event data, timer
times, child instance ids) make `details` and the Mermaid diagram worth reading, and the
`reason` of suspend and resume, which `dapr workflow suspend --reason` records. Without
that inner client (a different SDK), both fall back to the public calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dapr.ext.workflow as wf
from dapr.ext.workflow._durabletask.internal import protos as task_hub_protos
from google.protobuf import wrappers_pb2

from services.orchestrator.api.errors import ErrorCode, conflict, not_found
from services.orchestrator.api.schemas import (
    TERMINAL_STATUSES,
    HistoryEvent,
    as_utc,
    history_event_from_proto,
    history_event_from_summary,
    status_name,
)

_LIST_PAGE = 500


class WorkflowGateway:
    def __init__(self, client: wf.DaprWorkflowClient) -> None:
        self.client = client
        # The durable-task client the SDK wraps (name-mangled private attribute).
        self._task_hub: Any = getattr(client, "_DaprWorkflowClient__obj", None)

    # -- runs ----------------------------------------------------------------------------

    def start(self, name: str, data: Any, instance_id: str | None) -> str:
        return str(self.client.schedule_new_workflow(name, input=data, instance_id=instance_id))

    def find(self, instance_id: str, *, payloads: bool = True) -> Any | None:
        """The run's `WorkflowState`, or None when there is no such run."""
        return self.client.get_workflow_state(instance_id, fetch_payloads=payloads)

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
    ) -> tuple[list[Any], str | None]:
        """One page of instance ids, as states, filtered by status and workflow name."""
        ids, next_token = self.page(page_size, token)
        states = [
            state
            for state in self.states(ids)
            if (statuses is None or status_name(state) in statuses)
            and (name is None or state.name == name)
        ]
        return states, next_token

    def history(self, instance_id: str) -> list[HistoryEvent]:
        self.get(instance_id, payloads=False)
        if self._task_hub is not None and hasattr(self._task_hub, "get_instance_history"):
            return [
                history_event_from_proto(event)
                for event in self._task_hub.get_instance_history(instance_id)
            ]
        return [
            history_event_from_summary(event)
            for event in self.client.get_workflow_history(instance_id)
        ]

    # -- commands ------------------------------------------------------------------------

    def _require_not_terminal(self, instance_id: str, verb: str) -> Any:
        state = self.get(instance_id, payloads=False)
        status = status_name(state)
        if status in TERMINAL_STATUSES:
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

    def purge(self, instance_id: str) -> None:
        # Checked here as well as by the runtime: daprd's answer for a running instance
        # is not the same code on every version.
        state = self.get(instance_id, payloads=False)
        status = status_name(state)
        if status not in TERMINAL_STATUSES:
            raise conflict(
                ErrorCode.WORKFLOW_NOT_TERMINAL,
                f"workflow run '{instance_id}' is {status}; only a completed, failed or "
                "terminated run can be purged (terminate it first)",
            )
        self.client.purge_workflow(instance_id)

    def purge_terminal_created_before(self, cutoff: datetime) -> list[str]:
        """Purges every terminal run created before `cutoff`; returns their ids.

        Children go with their parent (recursive purge), so an id listed before its
        parent was purged may be gone by the time it is reached: skipped, not an error.
        """
        purged: list[str] = []
        for instance_id in list(self.all_ids()):
            state = self.find(instance_id, payloads=False)
            if state is None or status_name(state) not in TERMINAL_STATUSES:
                continue
            if as_utc(state.created_at) >= cutoff:
                continue
            self.client.purge_workflow(instance_id)
            purged.append(instance_id)
        return purged

    # -- the inner durable-task client ----------------------------------------------------

    @property
    def _stub(self) -> Any | None:
        return getattr(self._task_hub, "_stub", None)
