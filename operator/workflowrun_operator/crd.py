"""The WorkflowRun resource as the operator sees it: its coordinates and a typed view of its spec.

The schema itself lives in `operator/crd/workflowruns.yaml` (the API server validates against
it). The API server also applies the schema's defaults (`suspend: false`,
`purgeOnDelete: true`); the view applies them again so that a resource served without them
(an older object, a test server) means the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GROUP = "saga.dapr.io"
VERSION = "v1alpha1"
PLURAL = "workflowruns"
KIND = "WorkflowRun"


@dataclass(frozen=True)
class RunEvent:
    """One entry of `spec.events`: an external event to raise into the instance once."""

    id: str
    name: str
    data: Any = None


@dataclass(frozen=True)
class WorkflowRunSpec:
    workflow_name: str
    input: Any
    instance_id: str | None
    suspend: bool
    terminate_reason: str | None
    events: tuple[RunEvent, ...]
    ttl_seconds_after_finished: int | None
    purge_on_delete: bool

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> WorkflowRunSpec:
        terminate = spec.get("terminate")
        ttl = spec.get("ttlSecondsAfterFinished")
        return cls(
            workflow_name=str(spec.get("workflowName") or ""),
            input=spec.get("input"),
            instance_id=spec.get("instanceId") or None,
            suspend=bool(spec.get("suspend", False)),
            terminate_reason=str(terminate.get("reason") or "terminated")
            if isinstance(terminate, Mapping)
            else None,
            events=tuple(
                RunEvent(id=str(event["id"]), name=str(event["name"]), data=event.get("data"))
                for event in spec.get("events") or ()
                if isinstance(event, Mapping) and "id" in event and "name" in event
            ),
            ttl_seconds_after_finished=int(ttl) if ttl is not None else None,
            purge_on_delete=bool(spec.get("purgeOnDelete", True)),
        )


def pending_events(events: Iterable[RunEvent], processed: Iterable[str]) -> list[RunEvent]:
    """The events not raised yet, in spec order; an id repeated in the spec counts once."""
    seen = set(processed)
    pending: list[RunEvent] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            pending.append(event)
    return pending
