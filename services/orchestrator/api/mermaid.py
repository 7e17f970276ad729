"""A run's history as a Mermaid `sequenceDiagram`: the workflow talking to its activities,
child workflows, timers and external events, from start to completion.

Pure: history events in, diagram text out. Paste the output into any Mermaid renderer
(GitHub Markdown renders a ```mermaid block).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.orchestrator.api.schemas import HistoryEvent

_MAX_TEXT = 80
# Characters that end a statement or start an entity in Mermaid's sequence syntax.
_ESCAPES = {";": "#59;", "#": "#35;", "\n": " ", "\r": " "}


def _text(value: Any) -> str:
    text = "".join(_ESCAPES.get(char, char) for char in str(value))
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _failure(details: dict[str, Any], word: str = "failed") -> str:
    failure = details.get("failure") or {}
    message = failure.get("message") or failure.get("type") or ""
    return f"{word}: {_text(message)}" if message else word


def _timer_set(details: dict[str, Any], fire_at: str) -> str:
    """What a new timer is for: its origin says (a plain timer, an event wait, a retry)."""
    waiting_for = (details.get("externalEvent") or {}).get("name")
    if waiting_for is not None:
        # An indefinite wait schedules its timer at a far-future sentinel (year 9999).
        until = "" if not fire_at or fire_at.startswith("9999") else f" until {_text(fire_at)}"
        return f"waiting for event {_text(waiting_for)}{until}"
    kind = "retry timer" if {"activityRetry", "childWorkflowRetry"} & set(details) else "timer"
    return f"{kind} set{' for ' + _text(fire_at) if fire_at else ''}"


class _Diagram:
    def __init__(self, workflow_label: str) -> None:
        self.participants: list[tuple[str, str]] = [
            ("client", "Client"),
            ("wf", workflow_label),
        ]
        self.lines: list[str] = []
        self._by_key: dict[str, str] = {}

    def participant(self, key: str, label: str, prefix: str) -> str:
        alias = self._by_key.get(key)
        if alias is None:
            alias = f"{prefix}{len(self._by_key) + 1}"
            self._by_key[key] = alias
            self.participants.append((alias, label))
        return alias

    def add(self, line: str) -> None:
        self.lines.append(f"    {line}")

    def text(self) -> str:
        header = ["sequenceDiagram"]
        header += [
            f"    participant {alias} as {_text(label)}" for alias, label in self.participants
        ]
        return "\n".join(header + self.lines) + "\n"


def render_sequence(name: str, instance_id: str, events: Sequence[HistoryEvent]) -> str:
    diagram = _Diagram(f"{name} ({instance_id})")
    scheduled: dict[int, str] = {}  # event id of a scheduling event -> participant
    timers: dict[int, str] = {}  # event id of a timer -> when it fires

    for event in events:
        details = event.details
        label = _text(event.name or "")
        match event.kind:
            case "ExecutionStarted":
                diagram.add(f"client->>wf: start {label}".rstrip())
            case "TaskScheduled":
                alias = diagram.participant(f"activity:{event.name}", f"{event.name}", "a")
                scheduled[event.event_id] = alias
                diagram.add(f"wf->>{alias}: call {label}")
            case "TaskCompleted" | "ChildWorkflowInstanceCompleted":
                alias = scheduled.get(details.get("taskScheduledId", -1), "wf")
                diagram.add(f"{alias}-->>wf: completed")
            case "TaskFailed" | "ChildWorkflowInstanceFailed":
                alias = scheduled.get(details.get("taskScheduledId", -1), "wf")
                diagram.add(f"{alias}--xwf: {_failure(details)}")
            case "ChildWorkflowInstanceCreated":
                child_id = details.get("instanceId", f"child-{event.event_id}")
                alias = diagram.participant(f"child:{child_id}", f"{event.name} ({child_id})", "c")
                scheduled[event.event_id] = alias
                diagram.add(f"wf->>{alias}: start child workflow {label}")
            case "TimerCreated":
                fire_at = details.get("fireAt", "")
                timers[event.event_id] = fire_at
                diagram.add(f"Note over wf: {_timer_set(details, fire_at)}")
            case "TimerFired":
                fire_at = details.get("fireAt") or timers.get(details.get("timerId", -1), "")
                diagram.add(
                    f"Note over wf: timer fired{' (' + _text(fire_at) + ')' if fire_at else ''}"
                )
            case "EventRaised":
                alias = diagram.participant("events", "External events", "e")
                diagram.add(f"{alias}->>wf: event {label}")
            case "EventSent":
                alias = diagram.participant("events", "External events", "e")
                target = _text(details.get("instanceId", ""))
                diagram.add(f"wf->>{alias}: send {label} to {target}")
            case "ExecutionSuspended" | "ExecutionResumed":
                verb = "suspend" if event.kind == "ExecutionSuspended" else "resume"
                reason = details.get("reason")
                diagram.add(f"client->>wf: {verb}{': ' + _text(reason) if reason else ''}")
            case "ExecutionTerminated":
                diagram.add("client-xwf: terminate")
            case "ContinueAsNew":
                diagram.add("Note over wf: continued as new")
            case "ExecutionStalled":
                diagram.add(
                    f"Note over wf: stalled {_text(details.get('description', ''))}".rstrip()
                )
            case "ExecutionCompleted":
                status = str(details.get("workflowStatus") or "COMPLETED")
                if status == "COMPLETED":
                    diagram.add("wf-->>client: COMPLETED")
                elif status == "FAILED":
                    diagram.add(f"wf--xclient: {_failure(details, 'FAILED')}")
                else:
                    diagram.add(f"wf--xclient: {_text(status)}")
            case _:
                # WorkflowStarted / WorkflowCompleted mark turns, not interactions.
                continue
    return diagram.text()
