"""Pure builders of a WorkflowRun's status: phase, conditions and the status patch.

Nothing here does I/O or reads a clock: the handlers pass `now`, the previous status and what
the orchestrator said, and patch the result into `.status`. Conditions have the
`metav1.Condition` shape; a condition's `lastTransitionTime` moves only when its `status`
changes, so `kubectl wait` and dashboards see real transitions, not every sync.

Conditions:
- `Succeeded`: Unknown while the run is pending, running or suspended; True once it completed;
  False when it failed, was terminated, or could never start (`InvalidSpec`, `UnknownWorkflow`,
  `InstanceConflict`, `InstanceNotFound`).
- `Suspended`: True while the instance is suspended.
- `Synced`: whether the last attempt to reach the orchestrator succeeded; False with
  `OrchestratorUnavailable` (or `OrchestratorUnauthorized`) while it cannot be reached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from workflowrun_operator.client import RunState


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TERMINATED = "Terminated"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.TERMINATED})


class ConditionType(StrEnum):
    SUCCEEDED = "Succeeded"
    SUSPENDED = "Suspended"
    SYNCED = "Synced"


class Reason(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    STALLED = "Stalled"
    SUSPENDED = "Suspended"
    NOT_SUSPENDED = "NotSuspended"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    INVALID_SPEC = "InvalidSpec"
    UNKNOWN_WORKFLOW = "UnknownWorkflow"
    INSTANCE_CONFLICT = "InstanceConflict"
    INSTANCE_NOT_FOUND = "InstanceNotFound"
    SYNCED = "Synced"
    ORCHESTRATOR_UNAVAILABLE = "OrchestratorUnavailable"
    ORCHESTRATOR_UNAUTHORIZED = "OrchestratorUnauthorized"


# The orchestrator's runtime statuses (Dapr's, as `dapr workflow list` prints them).
_PHASES: dict[str, Phase] = {
    "PENDING": Phase.PENDING,
    "RUNNING": Phase.RUNNING,
    "CONTINUED_AS_NEW": Phase.RUNNING,
    "STALLED": Phase.RUNNING,
    "SUSPENDED": Phase.SUSPENDED,
    "COMPLETED": Phase.SUCCEEDED,
    "FAILED": Phase.FAILED,
    "TERMINATED": Phase.TERMINATED,
    "CANCELED": Phase.TERMINATED,
}


def phase_for(runtime_status: str) -> Phase:
    """The phase of a runtime status; one this operator does not know yet counts as Pending."""
    return _PHASES.get(runtime_status.upper(), Phase.PENDING)


def is_terminal(status: Mapping[str, Any]) -> bool:
    return status.get("phase") in TERMINAL_PHASES


def rfc3339(moment: datetime) -> str:
    """A `metav1.Time`: UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Condition:
    """A condition as wanted now; `merge_condition` gives it its time and generation."""

    type: ConditionType
    status: str  # "True" | "False" | "Unknown"
    reason: Reason
    message: str = ""


def merge_condition(
    conditions: Sequence[Mapping[str, Any]],
    wanted: Condition,
    *,
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """`conditions` with `wanted` set, keeping the others and their order."""
    merged: list[dict[str, Any]] = []
    found = False
    for existing in conditions:
        if existing.get("type") != wanted.type:
            merged.append(dict(existing))
            continue
        found = True
        same_status = existing.get("status") == wanted.status
        merged.append(
            _condition(
                wanted, existing.get("lastTransitionTime") if same_status else None, now, generation
            )
        )
    if not found:
        merged.append(_condition(wanted, None, now, generation))
    return merged


def _condition(
    wanted: Condition, transition: str | None, now: datetime, generation: int | None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": str(wanted.type),
        "status": wanted.status,
        "lastTransitionTime": transition or rfc3339(now),
        "reason": str(wanted.reason),
        "message": _bounded(wanted.message),
    }
    if generation is not None:
        condition["observedGeneration"] = generation
    return condition


# metav1.Condition allows 32768 characters; a stack-trace-sized failure message is cut well before.
MAX_MESSAGE_LENGTH = 4096


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 3] + "..."


def merge_conditions(
    conditions: Sequence[Mapping[str, Any]],
    wanted: Sequence[Condition],
    *,
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = [dict(condition) for condition in conditions]
    for condition in wanted:
        merged = merge_condition(merged, condition, now=now, generation=generation)
    return merged


def succeeded_condition(run: RunState) -> Condition:
    phase = phase_for(run.runtime_status)
    unknown = ConditionType.SUCCEEDED, "Unknown"
    if phase is Phase.SUCCEEDED:
        return Condition(
            ConditionType.SUCCEEDED, "True", Reason.COMPLETED, "the workflow completed"
        )
    if phase is Phase.FAILED:
        message = run.failure.message if run.failure else "the workflow failed"
        if run.failure and run.failure.type:
            message = f"{run.failure.type}: {message}"
        return Condition(ConditionType.SUCCEEDED, "False", Reason.FAILED, message)
    if phase is Phase.TERMINATED:
        return Condition(
            ConditionType.SUCCEEDED, "False", Reason.TERMINATED, "the run was terminated"
        )
    if phase is Phase.SUSPENDED:
        return Condition(*unknown, Reason.SUSPENDED, "the run is suspended")
    if run.runtime_status == "STALLED":
        return Condition(*unknown, Reason.STALLED, "the run is stalled in the orchestrator")
    if phase is Phase.RUNNING:
        return Condition(*unknown, Reason.RUNNING, f"workflow {run.name} is running")
    return Condition(*unknown, Reason.PENDING, f"workflow {run.name} is pending")


def suspended_condition(run: RunState) -> Condition:
    if phase_for(run.runtime_status) is Phase.SUSPENDED:
        return Condition(ConditionType.SUSPENDED, "True", Reason.SUSPENDED, "the run is suspended")
    return Condition(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED, "")


def synced_condition() -> Condition:
    return Condition(
        ConditionType.SYNCED, "True", Reason.SYNCED, "the orchestrator answered the last sync"
    )


def unsynced_condition(message: str, *, unauthorized: bool = False) -> Condition:
    reason = Reason.ORCHESTRATOR_UNAUTHORIZED if unauthorized else Reason.ORCHESTRATOR_UNAVAILABLE
    return Condition(ConditionType.SYNCED, "False", reason, message)


def status_for_run(
    run: RunState,
    *,
    previous: Mapping[str, Any],
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The status patch that mirrors `run`, as the orchestrator described it just now."""
    phase = phase_for(run.runtime_status)
    finished_at = previous.get("finishedAt")
    if phase in TERMINAL_PHASES and not finished_at:
        finished_at = run.last_updated_at or rfc3339(now)
    return {
        "phase": str(phase),
        "runtimeStatus": run.runtime_status,
        "instanceId": run.instance_id,
        # None removes a key in a merge patch: a run that has no output or failure shows none.
        "output": run.output,
        "failure": {"type": run.failure.type, "message": run.failure.message}
        if run.failure
        else None,
        "createdAt": run.created_at,
        "lastUpdatedAt": run.last_updated_at,
        "startedAt": previous.get("startedAt") or rfc3339(now),
        "finishedAt": finished_at if phase in TERMINAL_PHASES else None,
        "observedGeneration": generation,
        "conditions": merge_conditions(
            previous.get("conditions") or (),
            [succeeded_condition(run), suspended_condition(run), synced_condition()],
            now=now,
            generation=generation,
        ),
    }


def status_for_rejected(
    instance_id: str,
    reason: Reason,
    message: str,
    *,
    previous: Mapping[str, Any],
    generation: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The run can never start (or its instance is gone): Failed, and never polled again."""
    return {
        "phase": str(Phase.FAILED),
        "instanceId": instance_id,
        "failure": {"type": str(reason), "message": message},
        "finishedAt": previous.get("finishedAt") or rfc3339(now),
        "observedGeneration": generation,
        "conditions": merge_conditions(
            previous.get("conditions") or (),
            [
                Condition(ConditionType.SUCCEEDED, "False", reason, message),
                Condition(ConditionType.SUSPENDED, "False", Reason.NOT_SUSPENDED, ""),
                synced_condition(),
            ],
            now=now,
            generation=generation,
        ),
    }


def status_for_unavailable(
    message: str,
    *,
    previous: Mapping[str, Any],
    generation: int | None,
    now: datetime,
    unauthorized: bool = False,
) -> dict[str, Any]:
    """The orchestrator could not be reached: only `Synced` changes (and a first phase)."""
    wanted = [unsynced_condition(message, unauthorized=unauthorized)]
    patch: dict[str, Any] = {}
    if not previous.get("phase"):
        patch["phase"] = str(Phase.PENDING)
        wanted.insert(
            0,
            Condition(
                ConditionType.SUCCEEDED, "Unknown", Reason.PENDING, "waiting for the orchestrator"
            ),
        )
    patch["conditions"] = merge_conditions(
        previous.get("conditions") or (), wanted, now=now, generation=generation
    )
    return patch


def condition_of(
    status: Mapping[str, Any], condition_type: ConditionType
) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or ():
        if condition.get("type") == condition_type:
            return condition  # type: ignore[no-any-return]
    return None


def seconds_until_expiry(
    status: Mapping[str, Any], ttl_seconds: int | None, *, now: datetime
) -> float | None:
    """How long until a finished run's TTL runs out (<= 0: due); None when it never expires."""
    if ttl_seconds is None or not is_terminal(status):
        return None
    finished = parse_time(status.get("finishedAt"))
    if finished is None:
        return None
    return (finished - now).total_seconds() + ttl_seconds
