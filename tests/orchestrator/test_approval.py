"""Orders over the threshold wait for the `approval` child workflow: a decision published
on `approvals` (through the orchestrator's subscription), or its timeout, decides."""

from __future__ import annotations

from datetime import datetime

from services.contracts.messages import ApprovalDecided, ApprovalRequested
from services.contracts.names import EventType, Topic
from tests.orchestrator.harness import CONFIG, Orchestrator, order

BIG = 250_000  # over CONFIG's threshold of 100_000 cents


def test_approved_order_continues_to_charge_and_ship(orchestrator: Orchestrator) -> None:
    instance_id = orchestrator.start_saga(order("big-1", BIG))

    [requested] = orchestrator.wait_for_status("big-1", EventType.APPROVAL_REQUESTED)
    request = ApprovalRequested.parse(requested.data)
    assert request.saga_id == instance_id
    assert request.approval_id == "approval-big-1"
    assert request.amount_cents == BIG
    assert not request.reminder
    assert orchestrator.custom_status(instance_id)["step"] == "awaiting_approval"
    orchestrator.publish(
        Topic.APPROVALS,
        EventType.APPROVAL_DECIDED,
        ApprovalDecided(order_id="big-1", approved=True, approver="alice"),
    )

    result = orchestrator.saga_result(instance_id)
    assert result.outcome == "completed"
    assert result.approval == "approved"
    assert orchestrator.output("approval-big-1") == {"decision": "approved", "approver": "alice"}


def test_rejected_approval_releases_the_reservation(orchestrator: Orchestrator) -> None:
    instance_id = orchestrator.start_saga(order("big-2", BIG))
    orchestrator.wait_for_status("big-2", EventType.APPROVAL_REQUESTED)

    orchestrator.publish(
        Topic.APPROVALS,
        EventType.APPROVAL_DECIDED,
        ApprovalDecided(order_id="big-2", approved=False, approver="bob", reason="too risky"),
    )

    result = orchestrator.saga_result(instance_id)
    assert result.outcome == "compensated"
    assert result.approval == "rejected"
    assert result.failed_step == "approval"
    assert result.reason == "approval rejected by bob: too risky"
    assert result.compensations == ["release"]
    assert orchestrator.services.commands_for("big-2") == [
        EventType.INVENTORY_RESERVE,
        EventType.INVENTORY_RELEASE,
    ]


def test_approval_times_out_after_one_reminder_and_the_saga_compensates(
    orchestrator: Orchestrator,
) -> None:
    config = CONFIG.model_copy(
        update={"approval_timeout_seconds": 2.0, "approval_reminder_seconds": 0.5}
    )
    instance_id = orchestrator.start_saga(order("big-3", BIG), config)

    result = orchestrator.saga_result(instance_id)

    assert result.outcome == "compensated"
    assert result.approval == "timed_out"
    assert result.reason == "approval timed out"
    assert result.compensations == ["release"]
    assert orchestrator.output("approval-big-3") == {"decision": "timed_out"}
    requests = orchestrator.wait_for_status("big-3", EventType.APPROVAL_REQUESTED, count=2)
    assert [r.data.get("reminder", False) for r in requests] == [False, True]
    # Both announce the same deadline, two seconds after the request (workflow time).
    expiries = {datetime.fromisoformat(r.data["expiresAt"]) for r in requests}
    assert len(expiries) == 1
    assert next(iter(expiries)).tzinfo is not None


def test_order_at_the_threshold_needs_no_approval(orchestrator: Orchestrator) -> None:
    result = orchestrator.saga_result(
        orchestrator.start_saga(order("edge-1", CONFIG.approval_threshold_cents))
    )

    assert result.outcome == "completed"
    assert result.approval is None
    assert orchestrator.workflows.get_workflow_state("approval-edge-1") is None
