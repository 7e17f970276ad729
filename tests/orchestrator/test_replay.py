"""Determinism: a saga interrupted by a crash of its sidecar and a new worker process
replays its history from the start and ends exactly as an uninterrupted one."""

from __future__ import annotations

from dapr.ext.workflow import WorkflowHistoryEventType

from services.contracts.messages import ApprovalDecided
from services.contracts.names import EventType, Topic
from services.orchestrator.workflow_io import SagaResult
from testkit.polling import wait_until
from testkit.sidecar import wait_connected
from tests.orchestrator.harness import Orchestrator, order

BIG = 250_000


def _approve(orchestrator: Orchestrator, order_id: str) -> None:
    orchestrator.publish(
        Topic.APPROVALS,
        EventType.APPROVAL_DECIDED,
        ApprovalDecided(order_id=order_id, approved=True, approver="alice"),
    )


def _wait_request_recorded(orchestrator: Orchestrator, approval_id: str) -> None:
    """Until the engine has recorded that the request's activity completed.

    Activities are at-least-once: one whose result the sidecar had not stored when it
    was killed runs again, so crashing earlier would rightly publish the request twice.
    """

    def recorded() -> bool:
        history = orchestrator.workflows.get_workflow_history(approval_id)
        return any(e.event_type == WorkflowHistoryEventType.TASK_COMPLETED for e in history)

    wait_until(recorded, timeout=30.0, what=f"{approval_id} to record its request")


def _without_ids(result: SagaResult, order_id: str) -> dict[str, object]:
    return {
        key: value.replace(order_id, "<order>") if isinstance(value, str) else value
        for key, value in result.to_data().items()
    }


def test_saga_replayed_after_sidecar_crash_and_new_worker_ends_the_same_way(
    orchestrator: Orchestrator,
) -> None:
    # Reference run, uninterrupted.
    orchestrator.start_saga(order("steady-1", BIG))
    orchestrator.wait_for_status("steady-1", EventType.APPROVAL_REQUESTED)
    _approve(orchestrator, "steady-1")
    reference = orchestrator.saga_result("order-steady-1")

    # Same scenario, crashed while waiting for the approval: the sidecar gets kill -9,
    # the worker is replaced, so the new one rebuilds the saga from history alone.
    instance_id = orchestrator.start_saga(order("crash-1", BIG))
    (requested,) = orchestrator.wait_for_status("crash-1", EventType.APPROVAL_REQUESTED)
    _wait_request_recorded(orchestrator, requested.data["approvalId"])
    assert orchestrator.sidecar is not None
    orchestrator.sidecar.kill()
    orchestrator.stop_runtime()
    orchestrator.sidecar.start()
    orchestrator.start_runtime()
    wait_connected(orchestrator.sidecar)
    _approve(orchestrator, "crash-1")
    result = orchestrator.saga_result(instance_id)

    assert result.outcome == "completed"
    assert _without_ids(result, "crash-1") == _without_ids(reference, "steady-1")
    # Replay sent nothing twice: the same commands, in the same order.
    assert orchestrator.services.commands_for("crash-1") == orchestrator.services.commands_for(
        "steady-1"
    )
    assert len(orchestrator.wait_for_status("crash-1", EventType.APPROVAL_REQUESTED)) == 1
