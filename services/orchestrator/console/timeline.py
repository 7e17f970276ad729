"""A run's history as the timeline a person reads: commands sent, replies received, timers,
child workflows, events and the end, with every compensation marked and numbered in the
order it ran, so the reverse order of a saga's undo is plain to see.

Pure: history events in, entries out. What is a step and what undoes it comes from the
topology (`SAGA_STEPS`), never re-typed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.contracts.topology import SAGA_STEPS
from services.orchestrator.activities import ActivityName
from services.orchestrator.api.schemas import HistoryEvent

# A compensation's command or acknowledgement -> (its name, the step it undoes).
_UNDOES: dict[str, tuple[str, str]] = {}
for _step in SAGA_STEPS:
    for _type in (_step.compensation.command, _step.compensation.ack):
        _UNDOES[str(_type)] = (str(_step.compensation.name), str(_step.name))
# A step's command or reply -> the step.
_STEP_OF: dict[str, str] = {
    str(event_type): str(step.name)
    for step in SAGA_STEPS
    for event_type in (step.command, step.success, step.failure)
}
_FAILURES = frozenset(str(step.failure) for step in SAGA_STEPS)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # command, reply, timer, child workflow, event, status, run
    title: str
    detail: str | None = None
    step: str | None = None  # the saga step a command or reply belongs to
    compensation: int | None = None  # 1, 2, 3...: the order the compensations ran in
    undoes: str | None = None  # the step a compensation undoes
    failed: bool = False


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEntry]
    steps: list[str]  # the saga steps whose commands went out, in order
    compensations: list[tuple[str, str]]  # (compensation, step it undoes), in the order sent


def _type_of(payload: Any) -> str | None:
    if isinstance(payload, dict) and isinstance(payload.get("type"), str):
        return str(payload["type"])
    return None


def _failure_text(details: dict[str, Any]) -> str | None:
    failure = details.get("failure") or {}
    return str(failure.get("message") or failure.get("type") or "") or None


class _Builder:
    def __init__(self) -> None:
        self.entries: list[TimelineEntry] = []
        self.steps: list[str] = []
        self.compensations: list[tuple[str, str]] = []
        self.activities: dict[int, str] = {}

    def compensation_number(self, name: str, step: str) -> int:
        """The compensation's place in the undo order; a resend keeps its first number."""
        if (name, step) not in self.compensations:
            self.compensations.append((name, step))
        return self.compensations.index((name, step)) + 1

    def command(self, event: HistoryEvent) -> None:
        payload = event.details.get("input")
        event_type = _type_of(payload)
        self.activities[event.event_id] = event.name or ""
        if event.name == ActivityName.SEND_COMMAND and event_type in _UNDOES:
            name, step = _UNDOES[event_type]
            number = self.compensation_number(name, step)
            self.add(event, "command", f"compensation {number}: {event_type}", None, step, number)
        elif event.name == ActivityName.SEND_COMMAND and event_type:
            step_of = _STEP_OF.get(event_type)
            if step_of and step_of not in self.steps:
                self.steps.append(step_of)
            self.add(event, "command", f"command: {event_type}", None, step_of)
        elif event.name == ActivityName.PUBLISH_ORDER_STATUS and event_type:
            self.add(event, "status", f"announced: {event_type}")
        else:
            self.add(event, "command", f"activity: {event.name}")

    def reply(self, event: HistoryEvent) -> None:
        payload = event.details.get("input")
        event_type = _type_of(payload)
        if event_type in _UNDOES:
            name, step = _UNDOES[event_type]
            number = self.compensation_number(name, step)
            title = f"compensation {number} acknowledged: {event_type}"
            self.add(event, "reply", title, event.name, step, number)
        elif event_type:
            reply = payload.get("reply") if isinstance(payload, dict) else None
            reason = reply.get("reason") if isinstance(reply, dict) else None
            self.add(
                event,
                "reply",
                f"reply: {event_type}",
                str(reason) if reason else event.name,
                _STEP_OF.get(event_type),
                failed=event_type in _FAILURES,
            )
        else:
            self.add(event, "event", f"event: {event.name}")

    def add(
        self,
        event: HistoryEvent,
        kind: str,
        title: str,
        detail: str | None = None,
        step: str | None = None,
        compensation: int | None = None,
        failed: bool = False,
    ) -> None:
        self.entries.append(
            TimelineEntry(
                event.timestamp,
                kind,
                title,
                detail,
                step,
                compensation,
                step if compensation else None,
                failed,
            )
        )


def build_timeline(events: Sequence[HistoryEvent]) -> Timeline:
    builder = _Builder()
    for event in events:
        details = event.details
        match event.kind:
            case "ExecutionStarted":
                builder.add(event, "run", f"started: {event.name}")
            case "TaskScheduled":
                builder.command(event)
            case "TaskFailed":
                name = builder.activities.get(details.get("taskScheduledId", -1), "activity")
                builder.add(event, "command", f"{name} failed", _failure_text(details), failed=True)
            case "EventRaised":
                builder.reply(event)
            case "TimerCreated":
                waiting = (details.get("externalEvent") or {}).get("name")
                title = f"waiting for {waiting}" if waiting else "timer set"
                fire_at = str(details.get("fireAt") or "")
                when = None if not fire_at or fire_at.startswith("9999") else f"fires at {fire_at}"
                builder.add(event, "timer", title, when)
            case "TimerFired":
                builder.add(event, "timer", "timer fired", str(details.get("fireAt") or "") or None)
            case "ChildWorkflowInstanceCreated":
                child = str(details.get("instanceId") or "")
                builder.add(event, "child workflow", f"child workflow: {event.name}", child)
            case "ChildWorkflowInstanceCompleted" | "ChildWorkflowInstanceFailed":
                failed = event.kind.endswith("Failed")
                word = "failed" if failed else "completed"
                builder.add(event, "child workflow", f"child workflow {word}", None, failed=failed)
            case "ExecutionSuspended" | "ExecutionResumed":
                verb = "suspended" if event.kind == "ExecutionSuspended" else "resumed"
                builder.add(event, "run", verb, details.get("reason"))
            case "ExecutionTerminated":
                builder.add(event, "run", "terminated", None, failed=True)
            case "ExecutionCompleted":
                status = str(details.get("workflowStatus") or "COMPLETED")
                builder.add(
                    event,
                    "run",
                    f"ended: {status}",
                    _failure_text(details),
                    failed=status != "COMPLETED",
                )
            case _:
                continue
    return Timeline(builder.entries, builder.steps, builder.compensations)


def reverse_order_text(timeline: Timeline) -> str | None:
    """The steps in the order they ran, then their compensations in the order those ran
    (the reverse); None when nothing was compensated."""
    if not timeline.compensations:
        return None
    undone = " → ".join(f"{name} (undoes {step})" for name, step in timeline.compensations)
    return f"steps {' → '.join(timeline.steps)}; compensated in reverse: {undone}"
