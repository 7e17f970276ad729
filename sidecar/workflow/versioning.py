"""Workflow versioning (Dapr 1.17): the version and patches a worker ran a turn with are kept
in that turn's `workflowStarted` event, so a replay takes the same path; a worker whose code
cannot replay the history stalls the instance instead of running it.

The rules are daprd's (dapr/dapr pkg/actors/targets/workflow/orchestrator/versioning.go and
durabletask-go backend/orchestration.go): the worker's `WorkflowResponse.version` is stamped
on the turn's `workflowStarted` event; the patches recorded in the history must be a prefix
of the patches the worker reports, else the instance stalls with PATCH_MISMATCH; a worker
without the version the history names answers `workflowVersionNotAvailable`, and the
instance stalls with VERSION_NOT_AVAILABLE. A stalled turn records only an
`executionStalled` event; the events it was handed stay in the inbox for a later worker.
Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sidecar.workflow import history as h
from sidecar.workflow.protos import pb


@dataclass(frozen=True)
class Stall:
    reason: int
    description: str


def stamped(
    new_events: list[pb.HistoryEvent], response: pb.WorkflowResponse
) -> list[pb.HistoryEvent]:
    """The turn's events with the worker's version and patches recorded in (a copy of) its
    `workflowStarted` event."""
    version = response.version
    if not (response.HasField("version") and (version.patches or version.HasField("name"))):
        return new_events
    events = list(new_events)
    for n, event in enumerate(events):
        if h.event_kind(event) == "workflowStarted":
            events[n] = copy = pb.HistoryEvent()
            copy.CopyFrom(event)
            copy.workflowStarted.version.CopyFrom(version)
            break
    return events


def stall_of(
    history: list[pb.HistoryEvent],
    new_events: list[pb.HistoryEvent],
    response: pb.WorkflowResponse,
) -> Stall | None:
    """Why this turn cannot be applied, or None when it can."""
    if any(a.HasField("workflowVersionNotAvailable") for a in response.actions):
        started = next((e for e in history if h.event_kind(e) == "workflowStarted"), None)
        name = started.workflowStarted.version.name if started is not None else ""
        return Stall(pb.VERSION_NOT_AVAILABLE, f"Version not available: {name}")
    recorded = _patches(history)
    current = _latest_patches(new_events)
    if recorded and current[: len(recorded)] != recorded:
        return Stall(
            pb.PATCH_MISMATCH,
            f"Patch mismatch. History patches: [{', '.join(recorded)}], "
            f"current patches: [{', '.join(current)}]. ",
        )
    return None


def stall_events(
    history: list[pb.HistoryEvent], stall: Stall, now: datetime
) -> list[pb.HistoryEvent]:
    """What a stalled turn appends: an `executionStalled` event, unless the history already
    ends with the same stall."""
    last = history[-1] if history else None
    if (
        last is not None
        and h.event_kind(last) == "executionStalled"
        and last.executionStalled.description == stall.description
    ):
        return []
    stalled = pb.ExecutionStalledEvent(
        reason=stall.reason,  # type: ignore[arg-type]
        description=stall.description,
    )
    return [h.new_event(now, executionStalled=stalled)]


def compact(history: list[pb.HistoryEvent], new_events: list[pb.HistoryEvent]) -> None:
    """Keeps in the turn's `workflowStarted` event only the patches the history does not
    record yet, as daprd stores them (it drops the version name when patches remain)."""
    for event in new_events:
        if h.event_kind(event) != "workflowStarted":
            continue
        version = event.workflowStarted.version
        if event.workflowStarted.HasField("version") and version.patches:
            known = Counter(_patches(history))
            fresh = []
            for patch in version.patches:
                if known[patch] > 0:
                    known[patch] -= 1
                else:
                    fresh.append(patch)
            event.workflowStarted.ClearField("version")
            if fresh:
                event.workflowStarted.version.patches.extend(fresh)
        return


def _patches(events: Iterable[pb.HistoryEvent]) -> list[str]:
    return [
        patch
        for event in events
        if h.event_kind(event) == "workflowStarted"
        for patch in event.workflowStarted.version.patches
    ]


def _latest_patches(events: list[pb.HistoryEvent]) -> list[str]:
    for event in reversed(events):
        if h.event_kind(event) == "workflowStarted" and event.workflowStarted.HasField("version"):
            return list(event.workflowStarted.version.patches)
    return []
