"""The Mermaid rendering on its own: history events in, diagram text out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.orchestrator.api.mermaid import render_sequence
from services.orchestrator.api.schemas import HistoryEvent

MOMENT = datetime(2025, 1, 1, tzinfo=UTC)


def event(kind: str, event_id: int = -1, name: str | None = None, **details: Any) -> HistoryEvent:
    return HistoryEvent(kind=kind, event_id=event_id, timestamp=MOMENT, name=name, details=details)


def test_each_activity_and_child_is_one_participant_declared_in_order_of_appearance() -> None:
    diagram = render_sequence(
        "order_saga",
        "order-1",
        [
            event("ExecutionStarted", name="order_saga"),
            event("WorkflowStarted"),
            event("TaskScheduled", 0, "reserve"),
            event("TaskScheduled", 1, "reserve"),
            event("TaskCompleted", taskScheduledId=1),
            event("TaskCompleted", taskScheduledId=0),
            event("ChildWorkflowInstanceCreated", 2, "approval", instanceId="approval-1"),
            event("ChildWorkflowInstanceCompleted", taskScheduledId=2),
            event("ExecutionCompleted", workflowStatus="COMPLETED"),
        ],
    )

    assert diagram == (
        "sequenceDiagram\n"
        "    participant client as Client\n"
        "    participant wf as order_saga (order-1)\n"
        "    participant a1 as reserve\n"
        "    participant c2 as approval (approval-1)\n"
        "    client->>wf: start order_saga\n"
        "    wf->>a1: call reserve\n"
        "    wf->>a1: call reserve\n"
        "    a1-->>wf: completed\n"
        "    a1-->>wf: completed\n"
        "    wf->>c2: start child workflow approval\n"
        "    c2-->>wf: completed\n"
        "    wf-->>client: COMPLETED\n"
    )


def test_timers_events_and_operator_actions_are_drawn() -> None:
    diagram = render_sequence(
        "approval",
        "approval-1",
        [
            event("ExecutionStarted", name="approval"),
            event("TimerCreated", 0, fireAt="2025-01-04T00:00:00Z", createTimer={}),
            event("TimerCreated", 1, fireAt="9999-12-31T23:59:59Z", externalEvent={"name": "go"}),
            event("TimerCreated", 2, fireAt="2025-01-05T00:00:00Z", externalEvent={"name": "x"}),
            event(
                "TimerCreated",
                3,
                fireAt="2025-01-06T00:00:00Z",
                activityRetry={"taskExecutionId": "t"},
            ),
            event("ExecutionSuspended", reason="night"),
            event("ExecutionResumed"),
            event("EventRaised", name="approval_decision", input={"approved": True}),
            event("EventSent", name="ping", instanceId="other"),
            event("TimerFired", timerId=0),
            event("ContinueAsNew"),
            event("ExecutionTerminated"),
            event("ExecutionCompleted", workflowStatus="TERMINATED"),
        ],
    )

    assert diagram.splitlines() == [
        "sequenceDiagram",
        "    participant client as Client",
        "    participant wf as approval (approval-1)",
        "    participant e1 as External events",
        "    client->>wf: start approval",
        "    Note over wf: timer set for 2025-01-04T00:00:00Z",
        "    Note over wf: waiting for event go",
        "    Note over wf: waiting for event x until 2025-01-05T00:00:00Z",
        "    Note over wf: retry timer set for 2025-01-06T00:00:00Z",
        "    client->>wf: suspend: night",
        "    client->>wf: resume",
        "    e1->>wf: event approval_decision",
        "    wf->>e1: send ping to other",
        "    Note over wf: timer fired (2025-01-04T00:00:00Z)",
        "    Note over wf: continued as new",
        "    client-xwf: terminate",
        "    wf--xclient: TERMINATED",
    ]


def test_failures_show_their_message_and_text_cannot_break_the_syntax() -> None:
    diagram = render_sequence(
        "saga; evil",
        "id#1",
        [
            event("TaskScheduled", 0, "charge"),
            event("TaskFailed", taskScheduledId=0, failure={"type": "E", "message": "no;\nway"}),
            event(
                "ExecutionCompleted",
                workflowStatus="FAILED",
                failure={"type": "TaskFailedError", "message": "x" * 200},
            ),
        ],
    )

    lines = diagram.splitlines()
    assert "    participant wf as saga#59; evil (id#35;1)" in lines
    assert "    a1--xwf: failed: no#59; way" in lines
    assert lines[-1].startswith("    wf--xclient: FAILED: xxx")
    assert lines[-1].endswith("...")
    assert all(";" not in line.replace("#59;", "").replace("#35;", "") for line in lines)
