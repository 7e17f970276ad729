"""The timeline a run's page shows, from history events as the API answers them: the
steps in the order they ran, then each compensation numbered in the order it ran (the
reverse), naming the step it undoes; a resend keeps its number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.orchestrator.api.schemas import HistoryEvent
from services.orchestrator.console.timeline import build_timeline, reverse_order_text

START = datetime(2026, 1, 1, tzinfo=UTC)


def _events(*specs: tuple[str, str | None, dict[str, Any]]) -> list[HistoryEvent]:
    return [
        HistoryEvent(
            kind=kind,
            event_id=number,
            timestamp=START + timedelta(seconds=number),
            name=name,
            details=details,
        )
        for number, (kind, name, details) in enumerate(specs)
    ]


def _command(event_type: str) -> tuple[str, str, dict[str, Any]]:
    return ("TaskScheduled", "send_command", {"input": {"type": event_type, "command": {}}})


def _reply(event_type: str, reason: str | None = None) -> tuple[str, str, dict[str, Any]]:
    reply = {"reason": reason} if reason else {}
    return ("EventRaised", f"order-1:{event_type}", {"input": {"type": event_type, "reply": reply}})


SHIPMENT_FAILED = _events(
    ("ExecutionStarted", "order_saga", {}),
    _command("inventory.reserve"),
    _reply("inventory.reserved"),
    _command("payment.charge"),
    _reply("payment.charged"),
    _command("shipping.create"),
    _reply("shipping.failed", "destination country BR is not served"),
    _command("payment.refund"),
    ("TimerFired", None, {"fireAt": "2026-01-01T00:01:00Z"}),
    _command("payment.refund"),  # resent after its timeout
    _reply("payment.refunded"),
    _command("inventory.release"),
    _reply("inventory.released"),
    ("TaskScheduled", "publish_order_status", {"input": {"type": "order.compensated"}}),
    ("ExecutionCompleted", None, {"workflowStatus": "COMPLETED"}),
)


def test_compensations_are_numbered_in_the_reverse_order_of_their_steps() -> None:
    timeline = build_timeline(SHIPMENT_FAILED)

    assert timeline.steps == ["reserve", "charge", "ship"]
    assert timeline.compensations == [("refund", "charge"), ("release", "reserve")]
    marked = [(e.title, e.compensation, e.undoes) for e in timeline.entries if e.compensation]
    assert marked == [
        ("compensation 1: payment.refund", 1, "charge"),
        ("compensation 1: payment.refund", 1, "charge"),
        ("compensation 1 acknowledged: payment.refunded", 1, "charge"),
        ("compensation 2: inventory.release", 2, "reserve"),
        ("compensation 2 acknowledged: inventory.released", 2, "reserve"),
    ]
    assert reverse_order_text(timeline) == (
        "steps reserve → charge → ship; compensated in reverse: "
        "refund (undoes charge) → release (undoes reserve)"
    )


def test_a_failed_reply_is_marked_with_its_reason_and_steps_are_not_compensations() -> None:
    entries = build_timeline(SHIPMENT_FAILED).entries

    [failed] = [e for e in entries if e.failed]
    assert failed.title == "reply: shipping.failed"
    assert failed.detail == "destination country BR is not served"
    assert failed.step == "ship"
    assert [e.title for e in entries if e.kind == "status"] == ["announced: order.compensated"]
    assert all(e.compensation is None for e in entries if e.step and "compensation" not in e.title)


def test_a_run_without_compensations_has_no_reverse_order() -> None:
    completed = _events(
        ("ExecutionStarted", "order_saga", {}),
        _command("inventory.reserve"),
        _reply("inventory.reserved"),
        ("ExecutionCompleted", None, {"workflowStatus": "COMPLETED"}),
    )
    timeline = build_timeline(completed)

    assert timeline.compensations == []
    assert reverse_order_text(timeline) is None
    assert [e.title for e in timeline.entries] == [
        "started: order_saga",
        "command: inventory.reserve",
        "reply: inventory.reserved",
        "ended: COMPLETED",
    ]
